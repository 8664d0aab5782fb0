"""Service endpoints that break for their own reasons (issue 22): one table row per rule edge.

A stale pin is not interception: a pinned endpoint whose chain misses its pin but validates for
the name (through a public root, or one from --ca-file) is `inconclusive` with tls.pin_stale,
with or without a control that sees the same certificate; a chain valid only through a root
installed here, or from no trusted root, or naming a known interception authority, stays
tls.mitm. The SNI split: a handshake reset, closed or silenced after the ClientHello is SNI
filtering (blocked without a control) only when a neutral name was answered at the same address
and the real name failed again; a neutral name failing too leaves it to the control (docs/methodology.md).
"""

from __future__ import annotations

import pytest

from kzprobe.analysis.fingerprint_file import bundled_fingerprints
from kzprobe.report import vocabulary as v
from support.service_records import TELEGRAM_DCS, analyse, endpoint, service

PUBLIC_ISSUER = "CN=R11,O=Let's Encrypt,C=US"  # a public CA the service moved to
SIGNAL_ISSUER = "CN=Signal Messenger"  # the CA kzprobe pins
OTHER_KEY = "ef" * 32
NEW_ROOT = "CN=Signal Messenger 2,O=Signal Messenger\\, LLC"  # a new private root the pin does not know yet


def signal(chat: dict | None = None) -> dict:
    """Signal's four hosts pinned to its CA, all working but chat, built from `chat` (endpoint() keywords)."""
    records = [endpoint("chat.signal.org", 443, "chat", ca="signal", **(chat or {"tls": "ok"}))]
    records += [endpoint(host, 443, role, ca="signal", tls="ok")
                for role, host in (("contacts", "cdsi.signal.org"), ("storage", "storage.signal.org"))]
    return service("Signal", records)


def pin_failed(public: str | None, issuer: str = PUBLIC_ISSUER) -> dict:
    """chat.signal.org's chain missed the pin; `public`: its public_verification (see endpoint())."""
    return {"tls": v.SSL_UNKNOWN_AUTHORITY, "issuer": issuer, "public": public}


def with_key(result: dict, key: str) -> dict:
    """The same result with chat's leaf key replaced: another certificate from the same issuer."""
    for handshake in result["observations"]["endpoints"][0]["tls_handshakes"]:
        for cert in handshake["peer_chain"][:1]:
            cert["spki_sha256"] = key
    return result


STALE_PIN = "no longer matches kzprobe's pinned CA"

PIN_ROWS = [
    # id, result, control, fingerprints, verdict, blocking, evidence (all present), chat's outcome, words
    ("public-root-no-control", signal(pin_failed("public")), None, None,
     v.INCONCLUSIVE, None, ["tls.pin_stale"], "tls.pin_stale",
     [STALE_PIN, "valid for the name through a public root", "update the target list"]),
    ("public-root-control-same-certificate", signal(pin_failed("public")), signal(pin_failed("public")), None,
     v.INCONCLUSIVE, None, ["tls.pin_stale"], "tls.pin_stale",
     [STALE_PIN, "the control scan got the same certificate"]),
    ("public-root-control-from-before-the-check-same-certificate", signal(pin_failed("public")),
     signal(pin_failed(None)), None,  # an older control report: its pin failed, nothing recorded beyond
     v.INCONCLUSIVE, None, ["tls.pin_stale"], "tls.pin_stale", ["the control scan got the same certificate"]),
    ("public-root-control-passed-the-pin", signal(pin_failed("public")), signal(), None,
     v.INCONCLUSIVE, None, ["tls.pin_stale"], "tls.pin_stale",
     [STALE_PIN, f"the control scan got another certificate (issuer {SIGNAL_ISSUER})"]),
    ("ca-file-root-no-control", signal(pin_failed("ca_file")), None, None,
     v.INCONCLUSIVE, None, ["tls.pin_stale"], "tls.pin_stale", ["through a root given with --ca-file"]),
    ("ca-file-root-control-same-certificate", signal(pin_failed("ca_file")), signal(pin_failed("ca_file")), None,
     v.INCONCLUSIVE, None, ["tls.pin_stale"], "tls.pin_stale", ["the control scan got the same certificate"]),
    ("ca-file-root-control-got-another-key", signal(pin_failed("ca_file")),
     with_key(signal(pin_failed("ca_file")), OTHER_KEY), None,
     v.BLOCKED, "tls", ["tls.mitm"], "tls.mitm", ["while the control scan got another certificate"]),
    ("ca-file-root-control-passed-the-pin", signal(pin_failed("ca_file")), signal(), None,
     v.BLOCKED, "tls", ["tls.mitm"], "tls.mitm", [f"another certificate (issuer {SIGNAL_ISSUER})"]),
    ("root-installed-here-is-interception", signal(pin_failed("system_only", "CN=Gateway CA")), None, None,
     v.BLOCKED, "tls", ["tls.mitm"], "tls.mitm",
     ["presented an intercepting certificate chain", "CN=Gateway CA",
      "valid only through a root installed on this machine"]),
    # A chain valid nowhere, its authority unknown, no control: an interceptor whose root is unknown
    # here and a service moved to a root of its own (Signal's, October 2022) look the same.
    ("no-trusted-root-without-control-is-unclear", signal(pin_failed("none", "CN=Gateway CA")), None, None,
     v.INCONCLUSIVE, None, ["tls.invalid_cert", "control.missing"], "tls.invalid_cert",
     ["CN=Gateway CA", "misses the pinned CA and validates through no root here"]),
    ("not-checked-without-control-is-unclear", signal(pin_failed(None, "CN=Gateway CA")), None, None,
     v.INCONCLUSIVE, None, ["tls.invalid_cert", "control.missing"], "tls.invalid_cert", []),
    ("new-private-root-without-control-is-unclear", signal(pin_failed("none", NEW_ROOT)), None, None,
     v.INCONCLUSIVE, None, ["tls.invalid_cert", "control.missing"], "tls.invalid_cert", ["no control scan"]),
    ("new-private-root-stale-control-that-passed-the-pin", signal(pin_failed("none", NEW_ROOT)), signal(), "stale",
     v.INCONCLUSIVE, None, ["tls.invalid_cert"], "tls.invalid_cert", []),
    # A pin that misses a chain valid for no one here: the control's certificate decides.
    ("new-private-root-control-same-certificate", signal(pin_failed("none", NEW_ROOT)),
     signal(pin_failed("none", NEW_ROOT)), None, v.INCONCLUSIVE, None, ["tls.pin_stale"], "tls.pin_stale",
     ["the control scan got the same certificate", "since the control scan got the same certificate"]),
    ("new-private-root-control-same-issuer-other-key", signal(pin_failed("none", NEW_ROOT)),
     with_key(signal(pin_failed("none", NEW_ROOT)), OTHER_KEY), None,
     v.DOWN, None, ["tls.invalid_cert"], "tls.invalid_cert", ["misses the pinned CA", "from the control scan too"]),
    ("unknown-root-control-got-another-issuer-missing-the-pin-too", signal(pin_failed("none", "CN=Gateway CA")),
     signal(pin_failed("none", NEW_ROOT)), None, v.BLOCKED, "tls", ["tls.mitm"], "tls.mitm",
     [f"while the control scan got another certificate (issuer {NEW_ROOT}), which missed the pin too"]),
    ("unknown-root-control-passed-the-pin", signal(pin_failed("none", "CN=Gateway CA")), signal(), None,
     v.BLOCKED, "tls", ["tls.mitm"], "tls.mitm", ["while the control scan reached it"]),
    ("known-interception-authority-even-if-it-validates", signal(pin_failed("public", "CN=Qaznet Trust Network,C=KZ")),
     None, bundled_fingerprints(), v.BLOCKED, "tls", ["tls.mitm"], "tls.mitm", ["Qaznet Trust Network"]),
    ("stale-pin-beside-a-blocked-host-is-still-blocked",
     service("Signal", [*signal(pin_failed("public"))["observations"]["endpoints"],
                        endpoint("sfu.voip.signal.org", 443, "calling", ca="signal", tls=v.CONNECTION_RESET,
                                 split="sni")]), None, None,
     v.BLOCKED, "tls", ["tls.reset", "tls.sni_filter"], "tls.pin_stale", ["partly blocked at tls"]),
]


@pytest.mark.parametrize("row", PIN_ROWS, ids=[row[0] for row in PIN_ROWS])
def test_a_stale_pin_is_not_interception(row):
    _, result, control, fingerprints, verdict, blocking, evidence, outcome, words = row
    stale = fingerprints == "stale"
    got = analyse(result, control, fingerprints=None if stale else fingerprints, stale=stale)
    assert (got["verdict"], got["blocking"]) == (verdict, blocking), got["explanation"]
    assert set(evidence) <= set(got["evidence"]) and set(got["evidence"]) <= set(v.EVIDENCE_CODES), got["evidence"]
    chat = got["endpoints"][0]
    assert chat["outcome"] == outcome, chat
    for phrase in words:
        assert phrase in got["explanation"], got["explanation"]
    if verdict == v.INCONCLUSIVE and outcome == "tls.pin_stale":
        assert got["evidence"][0] == "tls.pin_stale" and not any(c.startswith("control.") for c in got["evidence"])


@pytest.mark.parametrize("here, control, verdict", [
    # A stale control may excuse (the same certificate there)...
    (pin_failed("none", NEW_ROOT), pin_failed("none", NEW_ROOT), v.INCONCLUSIVE),
    # ...never accuse: another certificate there, long ago, is no proof of a replaced chain now.
    (pin_failed("ca_file"), {"tls": "ok"}, v.INCONCLUSIVE),
])
def test_a_stale_control_excuses_a_missed_pin_but_never_accuses(here, control, verdict):
    got = analyse(signal(here), signal(control), stale=True)
    assert got["verdict"] == verdict, got["explanation"]
    assert got["endpoints"][0]["outcome"] == "tls.pin_stale"


def registration(tls: str, split: str | None) -> dict:
    """WhatsApp with its chat endpoints (TCP) working and its registration host's TLS as given."""
    chat = [endpoint(f"e{i}.whatsapp.net", 443, "chat") for i in range(1, 4)]
    return service("WhatsApp", [*chat, endpoint("v.whatsapp.net", 443, "registration", tls=tls, split=split)])


SPLIT_ROWS = [
    # id, result, control, interference elsewhere, verdict, blocking, evidence (all present), words
    ("neutral-answered-real-name-reset-again", registration(v.CONNECTION_RESET, "sni"), None, False,
     v.BLOCKED, "tls", ["tls.reset", "tls.sni_filter"],
     ["partly blocked at tls",
      "a neutral server name was answered at the same address and the real name failed again"]),
    ("neutral-answered-real-name-closed-again", registration(v.EOF_ERROR, "sni"), None, False,
     v.BLOCKED, "tls", ["tls.eof", "tls.sni_filter"], ["closed after the ClientHello"]),
    ("neutral-answered-real-name-silenced-again", registration(v.GENERIC_TIMEOUT, "sni"), None, False,
     v.BLOCKED, "tls", ["tls.timeout", "tls.sni_filter"], ["got no answer to the ClientHello"]),
    ("neutral-name-reset-too-no-control", registration(v.CONNECTION_RESET, "neutral_failed"), None, False,
     v.INCONCLUSIVE, None, ["tls.reset", "control.missing"],
     ["a neutral server name failed at the same address too", "no control scan measured it"]),
    ("neutral-connection-failed-no-control", registration(v.CONNECTION_RESET, "neutral_no_connect"), None, False,
     v.INCONCLUSIVE, None, ["tls.reset", "control.missing"], ["a neutral server name failed at the same address too"]),
    ("neutral-name-reset-too-control-completed-it", registration(v.CONNECTION_RESET, "neutral_failed"),
     registration("ok", None), False,
     v.BLOCKED, "tls", ["tls.reset"], ["while the control scan reached it"]),
    ("neutral-name-reset-too-control-failed-too", registration(v.CONNECTION_RESET, "neutral_failed"),
     registration(v.CONNECTION_RESET, "neutral_failed"), False,
     v.REACHABLE, None, [], ["failed from the control scan too (tls.reset)"]),
    ("neutral-answered-second-try-not-made", registration(v.CONNECTION_RESET, "unconfirmed"), None, False,
     v.INCONCLUSIVE, None, ["tls.reset", "control.missing"], ["the real name not tried again"]),
    ("one-flaky-handshake-then-the-real-name-validates", registration(v.CONNECTION_RESET, "flaky"), None, False,
     v.REACHABLE, None, [], ["4/4 endpoints answered"]),
    ("no-split-recorded", registration(v.CONNECTION_RESET, None), None, False,
     v.INCONCLUSIVE, None, ["tls.reset", "control.missing"], []),
    ("sni-filter-needs-no-live-control", registration(v.CONNECTION_RESET, "sni"), "stale", False,
     v.BLOCKED, "tls", ["tls.sni_filter"], []),
    # The every-endpoint floor: a part whose every server resets every ClientHello, in a scan that
    # shows the censor elsewhere, is blocked (a censor cutting the addresses); alone it is unclear.
    ("every-data-centre-reset-for-any-name-with-blocking-elsewhere",
     service("Telegram", [endpoint(ip, 443, "datacenter", tls=v.CONNECTION_RESET, split="neutral_failed")
                          for ip in TELEGRAM_DCS]), None, True,
     v.BLOCKED, "tls", ["tls.reset"], ["all 6 of its servers at once"]),
    ("every-data-centre-reset-for-any-name-nothing-else-wrong",
     service("Telegram", [endpoint(ip, 443, "datacenter", tls=v.CONNECTION_RESET, split="neutral_failed")
                          for ip in TELEGRAM_DCS]), None, False,
     v.INCONCLUSIVE, None, ["tls.reset", "control.missing"], []),
    ("every-data-centre-closed-for-any-name-is-no-censor-shape",
     service("Telegram", [endpoint(ip, 443, "datacenter", tls=v.EOF_ERROR, split="neutral_failed")
                          for ip in TELEGRAM_DCS]), None, True,
     v.INCONCLUSIVE, None, ["tls.eof", "control.missing"], []),
]


@pytest.mark.parametrize("row", SPLIT_ROWS, ids=[row[0] for row in SPLIT_ROWS])
def test_the_sni_split_for_service_endpoints(row):
    _, result, control, interference, verdict, blocking, evidence, words = row
    stale = control == "stale"
    control = registration("ok", None) if stale else control
    got = analyse(result, control, interference=interference, stale=stale)
    assert (got["verdict"], got["blocking"]) == (verdict, blocking), got["explanation"]
    assert set(evidence) <= set(got["evidence"]), got["evidence"]
    for phrase in words:
        assert phrase in got["explanation"], got["explanation"]


def test_a_tor_or_port_reset_stays_a_signature_without_a_split():
    # The split is not made for an OR port (its name is random): its reset is judged as before.
    relay = endpoint("128.31.0.39", 9101, "relay", tls=v.CONNECTION_RESET)
    relay["kind"] = "tor_or"
    got = analyse(service("Tor", [relay]))
    assert (got["verdict"], got["blocking"], got["endpoints"][0]["reason"]) == (v.BLOCKED, "tls", "signature")


def test_the_split_s_own_attempts_are_not_the_endpoint_s():
    # A neutral handshake that completed is no working handshake of the endpoint, and the split's
    # connections do not count as its TCP attempts.
    got = analyse(registration(v.CONNECTION_RESET, "neutral_failed"))
    entry = next(e for e in got["endpoints"] if e["role"] == "registration")
    assert (entry["outcome"], entry["status"]) == ("tls.reset", "unknown")
    answered = analyse(registration(v.CONNECTION_RESET, "unconfirmed"))
    entry = next(e for e in answered["endpoints"] if e["role"] == "registration")
    assert (entry["outcome"], entry["status"]) == ("tls.reset", "unknown")
