"""Service verdicts from endpoint observations: one row per rule of docs/messengers.md.

Fixtures are endpoint records as probes/service_endpoints.py writes them, built by
support/service_records.py (`endpoint(...)`: a host, a port, a role, and what happened at DNS,
TCP and TLS). Addresses are public-looking (a bogon answer is itself a signature of blocking).
"""

from __future__ import annotations

import copy
import json

import pytest

from kzprobe.analysis.fingerprint_file import bundled_fingerprints
from kzprobe.analysis.services import analyse_service
from kzprobe.report import vocabulary as v
from support.service_records import (
    BLOCKED_WEB,
    REACHABLE_WEB,
    TELEGRAM_DCS,
    analyse,
    endpoint,
    service,
    signal,
    telegram,
    whatsapp,
)

ROWS = [
    # id, result, control result, connectivity, front end, verdict, blocking, evidence (all present), parts, words
    ("telegram-some-dcs-dropped-no-control", telegram(dropped=TELEGRAM_DCS[:2]), None, v.ONLINE, REACHABLE_WEB,
     "reachable", None, [], {"datacenter": "ok", "web": "ok"},
     ["Telegram works: 8/12 endpoints and the web front end", "4 endpoints failed with no sign of blocking"]),
    ("telegram-some-dcs-dropped-control-reaches-them", telegram(dropped=TELEGRAM_DCS[:2]), telegram(), v.ONLINE,
     REACHABLE_WEB, "blocked", "tcp", ["tcp.timeout"], {"datacenter": "partly_blocked", "web": "ok"},
     ["partly blocked at tcp",
      "4/12 data-centre endpoints timed out at TCP connect while the control scan reached them"]),
    ("telegram-dcs-dropped-here-and-in-control", telegram(dropped=TELEGRAM_DCS), telegram(dropped=TELEGRAM_DCS),
     v.ONLINE, None, "down", None, ["tcp.timeout"], {"datacenter": "down"},
     ["Telegram down", "12/12 data-centre endpoints timed out at TCP connect, from the control scan too"]),
    ("telegram-web-client-blocked-dcs-work", telegram(), None, v.ONLINE, BLOCKED_WEB,
     "blocked", "dns", ["dns.nxdomain"], {"datacenter": "ok", "web": "blocked"},
     ["partly blocked at dns", "the web front end is blocked (dns.nxdomain)", "data-centre works"]),
    ("whatsapp-chat-reset-by-sni-registration-works", whatsapp(chat_tls=v.CONNECTION_RESET, chat_split="sni"), None,
     v.ONLINE, REACHABLE_WEB, "blocked", "tls", ["tls.reset", "tls.sni_filter"],
     {"chat": "partly_blocked", "registration": "ok", "web": "ok"},
     ["partly blocked at tls", "16/32 chat endpoints were reset after the ClientHello", "registration and web work",
      "a neutral server name was answered at the same address and the real name failed again"]),
    ("whatsapp-chat-nxdomain-while-registration-resolves", whatsapp(chat_dns=v.DNS_NXDOMAIN), None, v.ONLINE, None,
     "blocked", "dns", ["dns.nxdomain"], {"chat": "blocked", "registration": "ok"},
     ["32/32 chat endpoints got NXDOMAIN for their name"]),
    ("whatsapp-registration-timeout-no-control", whatsapp(registration=v.GENERIC_TIMEOUT, registration_split="sni"),
     None, v.ONLINE, None, "blocked", "tls", ["tls.timeout", "tls.sni_filter"],
     {"chat": "ok", "registration": "blocked"},
     ["WhatsApp partly blocked at tls", "1/1 registration endpoint got no answer to the ClientHello", "chat works"]),
    ("self-signed-chat-certificates-are-not-mass-blocking",
     whatsapp(chat_tls=v.SSL_UNKNOWN_AUTHORITY, chat_tcp="ok"), None, v.ONLINE, None,
     "reachable", None, [], {"chat": "ok"}, ["16 endpoints failed with no sign of blocking"]),
    ("self-signed-everywhere-no-working-endpoint",
     service("Private", [endpoint(f"s{i}.example.net", 443, "chat", tls=v.SSL_UNKNOWN_AUTHORITY, issuer="CN=Private CA")
                         for i in range(4)]), None, v.ONLINE, None,
     "inconclusive", None, ["tls.invalid_cert", "control.missing"], {"chat": "inconclusive"}, []),
    ("signal-fully-working", signal(), None, v.ONLINE, None,
     "reachable", None, [], {"chat": "ok", "contacts": "ok", "storage": "ok", "calling": "ok"},
     ["Signal works: 4/4 endpoints answered"]),
    ("signal-one-host-times-out-no-control", signal(storage=("tcp", v.GENERIC_TIMEOUT)), None, v.ONLINE, None,
     "inconclusive", None, ["tcp.timeout", "control.missing"], {"storage": "inconclusive", "chat": "ok"},
     ["1/1 storage endpoint timed out at TCP connect", "no control scan measured it"]),
    ("signal-one-host-times-out-control-works", signal(storage=("tcp", v.GENERIC_TIMEOUT)), signal(), v.ONLINE, None,
     "blocked", "tcp", ["tcp.timeout"], {"storage": "blocked", "chat": "ok"},
     ["Signal partly blocked at tcp", "timed out at TCP connect while the control scan reached it"]),
    ("signal-one-host-fails-in-control-too", signal(storage=("tcp", v.CONNECTION_REFUSED)),
     signal(storage=("tcp", v.CONNECTION_REFUSED)), v.ONLINE, None,
     "reachable", None, [], {"storage": "down", "chat": "ok"},
     ["Signal works: 3/4", "1 endpoint failed from the control scan too (tcp.refused): storage.signal.org:443"]),
    ("signal-chat-fails-in-control-too", signal(chat=("tcp", v.CONNECTION_REFUSED)),
     signal(chat=("tcp", v.CONNECTION_REFUSED)), v.ONLINE, None,
     "down", None, ["tcp.refused"], {"chat": "down", "storage": "ok"},
     ["Signal down", "1/1 chat endpoint refused the TCP connection, from the control scan too"]),
    # The same certificate outside the pin from the control scan: Signal changed its authority (a
    # stale pin, as in October 2022), neither interception nor an outage.
    ("signal-certificate-changed-everywhere", signal(chat=("tls", v.SSL_UNKNOWN_AUTHORITY)),
     signal(chat=("tls", v.SSL_UNKNOWN_AUTHORITY)), v.ONLINE, None, "inconclusive", None, ["tls.pin_stale"],
     {"chat": "inconclusive"}, ["the control scan got the same certificate", "update the target list"]),
    ("offline-scan", telegram(dropped=TELEGRAM_DCS), None, v.OFFLINE, None,
     "inconclusive", None, ["connectivity.offline"], {"datacenter": "blocked"}, ["offline"]),
    ("international-cut", whatsapp(chat_tcp=v.GENERIC_TIMEOUT, registration=v.GENERIC_TIMEOUT), None,
     v.INTERNATIONAL_CUT, None, "blocked", "network", ["connectivity.international_cut", "tcp.timeout"], {},
     ["international link"]),
    ("international-cut-but-service-works", signal(), None, v.INTERNATIONAL_CUT, None,
     "reachable", None, [], {"chat": "ok"}, []),
    # The cut blames only what it cuts (issue 22, item 9), for services as for sites: one data centre
    # failing while the others answer is no service cut off; an answer from the far end (refusals, a
    # name reset while a neutral name passes) keeps the judgement it has online.
    ("international-cut-one-dc-refused-while-the-others-answer",
     service("Telegram", [endpoint(ip, 443, "datacenter", tcp=v.CONNECTION_REFUSED if ip == TELEGRAM_DCS[0] else "ok")
                          for ip in TELEGRAM_DCS]), None, v.INTERNATIONAL_CUT, None,
     "reachable", None, [], {}, ["Telegram works: 5/6 endpoints answered"]),
    ("international-cut-one-dc-silent-while-the-others-answer", telegram(dropped=TELEGRAM_DCS[:1]), None,
     v.INTERNATIONAL_CUT, None, "reachable", None, [], {}, ["Telegram works"]),
    ("international-cut-every-chat-server-refusing", whatsapp(chat_tcp=v.CONNECTION_REFUSED), None,
     v.INTERNATIONAL_CUT, None, "inconclusive", None, ["tcp.refused", "control.missing"], {},
     ["cannot be told from an outage"]),
    ("international-cut-every-chat-server-refusing-in-the-control-too", whatsapp(chat_tcp=v.CONNECTION_REFUSED),
     whatsapp(chat_tcp=v.CONNECTION_REFUSED), v.INTERNATIONAL_CUT, None, "down", None, ["tcp.refused"], {},
     ["WhatsApp down"]),
    ("international-cut-chat-names-reset-while-a-neutral-name-passes",
     whatsapp(chat_tls=v.CONNECTION_RESET, chat_split="sni"), None, v.INTERNATIONAL_CUT, None,
     "blocked", "tls", ["tls.reset", "tls.sni_filter"], {}, ["WhatsApp partly blocked at tls"]),
    ("international-cut-chat-silent-on-443-while-5222-answers",
     whatsapp(chat_tls=v.GENERIC_TIMEOUT, chat_split="neutral_no_connect"), None, v.INTERNATIONAL_CUT, None,
     "reachable", None, [], {}, ["failed with no sign of blocking while the rest of their part works"]),
    ("international-cut-every-chat-server-silent-after-the-client-hello",
     service("Chat", [endpoint(f"c{i}.chat.example", 443, "chat", tls=v.GENERIC_TIMEOUT, split="neutral_no_connect")
                      for i in range(3)]), None, v.INTERNATIONAL_CUT, None,
     "blocked", "network", ["connectivity.international_cut", "tls.timeout"], {},
     ["Chat cut off with the international link"]),
    ("international-cut-every-chat-server-reset-is-no-cut",
     service("Chat", [endpoint(f"c{i}.chat.example", 443, "chat", tls=v.CONNECTION_RESET, split="neutral_failed")
                      for i in range(3)]), None, v.INTERNATIONAL_CUT, None,
     "inconclusive", None, ["tls.reset", "control.missing"], {}, ["Chat unclear"]),
]


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_service_rules(row):
    _, result, control, connectivity, front_end, verdict, blocking, evidence, parts, words = row
    got = analyse(result, control, connectivity, front_end)
    assert got["verdict"] == verdict, got["explanation"]
    assert got["blocking"] == blocking
    assert set(evidence) <= set(got["evidence"]), got["evidence"]
    assert all(code in v.EVIDENCE_CODES for code in got["evidence"])
    for role, status in parts.items():
        if connectivity == v.ONLINE:
            assert got["parts"][role] == status, got["parts"]
    for phrase in words:
        assert phrase in got["explanation"], got["explanation"]
    assert got["explanation"].endswith(".") and "\n" not in got["explanation"]
    json.dumps(got)  # JSON-ready


# Mass failure (the floor, without a control): only failures with a censor's shape, and only
# where the scan shows interference elsewhere. Outages (refusals, DNS failing for the control
# resolver too) are `down` with a control that fails too, `inconclusive` without one.
MASS_ROWS = [
    # id, result, control, interference elsewhere, stale control, verdict, blocking, evidence, parts, words
    ("telegram-all-dcs-silent-with-blocking-elsewhere", telegram(dropped=TELEGRAM_DCS), None, True, False,
     "blocked", "tcp", ["tcp.timeout"], {"datacenter": "blocked"},
     ["Telegram blocked at tcp", "12/12 data-centre endpoints timed out at TCP connect", "all 6 of its servers"]),
    ("telegram-all-dcs-silent-nothing-else-wrong", telegram(dropped=TELEGRAM_DCS), None, False, False,
     "inconclusive", None, ["tcp.timeout", "control.missing"], {"datacenter": "inconclusive"},
     ["Telegram unclear", "no control scan measured them"]),
    ("whatsapp-all-chat-silent-with-blocking-elsewhere", whatsapp(chat_tcp=v.GENERIC_TIMEOUT), None, True, False,
     "blocked", "tcp", ["tcp.timeout"], {"chat": "blocked", "registration": "ok"},
     ["WhatsApp blocked at tcp", "32/32 chat endpoints timed out at TCP connect", "all 16 of its servers"]),
    ("whatsapp-chat-refused-everywhere-is-no-censor-shape", whatsapp(chat_tcp=v.CONNECTION_REFUSED), None, True, False,
     "inconclusive", None, ["tcp.refused", "control.missing"], {"chat": "inconclusive", "registration": "ok"},
     ["32/32 chat endpoints refused the TCP connection", "cannot be told from an outage"]),
    ("whatsapp-chat-refused-here-and-in-the-control", whatsapp(chat_tcp=v.CONNECTION_REFUSED),
     whatsapp(chat_tcp=v.CONNECTION_REFUSED), True, False,
     "down", None, ["tcp.refused"], {"chat": "down"}, ["WhatsApp down", "from the control scan too"]),
    ("whatsapp-chat-refused-while-the-control-reached-them", whatsapp(chat_tcp=v.CONNECTION_REFUSED), whatsapp(),
     False, False, "blocked", "tcp", ["tcp.refused"], {"chat": "blocked"}, ["while the control scan reached them"]),
    ("whatsapp-chat-refused-stale-control-reached-them", whatsapp(chat_tcp=v.CONNECTION_REFUSED), whatsapp(),
     True, True, "inconclusive", None, ["tcp.refused", "control.stale"], {"chat": "inconclusive"},
     ["too long before this scan"]),
    ("whatsapp-chat-silent-stale-control-floor-still-applies", whatsapp(chat_tcp=v.GENERIC_TIMEOUT), whatsapp(),
     True, True, "blocked", "tcp", ["tcp.timeout"], {"chat": "blocked"}, ["all 16 of its servers"]),
    ("whatsapp-chat-servfail-for-the-control-resolver-too",
     whatsapp(chat_dns=v.DNS_SERVFAIL, chat_control_dns=v.DNS_SERVFAIL), None, True, False,
     "down", None, ["dns.servfail"], {"chat": "down"}, ["through the control resolver too"]),
    ("whatsapp-chat-servfail-no-control-resolver", whatsapp(chat_dns=v.DNS_SERVFAIL), None, True, False,
     "inconclusive", None, ["dns.servfail", "control.missing"], {"chat": "inconclusive"}, []),
    ("telegram-silence-mixed-with-refusals-is-no-censor-shape",
     service("Telegram", [endpoint(ip, 443, "datacenter", tcp=v.GENERIC_TIMEOUT if i % 2 else v.CONNECTION_REFUSED)
                          for i, ip in enumerate(TELEGRAM_DCS)]), None, True, False,
     "inconclusive", None, ["control.missing"], {"datacenter": "inconclusive"}, []),
    ("telegram-unreachable-everywhere-is-no-censor-shape",
     service("Telegram", [endpoint(ip, 443, "datacenter", tcp=v.HOST_UNREACHABLE) for ip in TELEGRAM_DCS]),
     None, True, False, "inconclusive", None, ["control.missing"], {"datacenter": "inconclusive"}, []),
]


@pytest.mark.parametrize("row", MASS_ROWS, ids=[row[0] for row in MASS_ROWS])
def test_mass_failure_and_outages(row):
    _, result, control, interference, stale, verdict, blocking, evidence, parts, words = row
    got = analyse(result, control, interference=interference, stale=stale)
    assert (got["verdict"], got["blocking"]) == (verdict, blocking), got["explanation"]
    assert set(evidence) <= set(got["evidence"]), got["evidence"]
    for role, status in parts.items():
        assert got["parts"][role] == status, got["parts"]
    for phrase in words:
        assert phrase in got["explanation"], got["explanation"]


def test_control_summary_records_the_control_s_age():
    got = analyse(whatsapp(chat_tcp=v.CONNECTION_REFUSED), whatsapp(), stale=True)
    assert got["control"]["age_s"] == 36_000.0 and got["control"]["stale"] is True


def test_every_whatsapp_endpoint_has_its_outcome():
    result = whatsapp(chat_tls=v.CONNECTION_RESET, chat_split="sni")
    got = analyse(result, front_end=REACHABLE_WEB)
    entries = {e["endpoint"]: e for e in got["endpoints"]}
    assert len(got["endpoints"]) == 34  # 32 chat, registration, the web front end
    reset = entries["e7.whatsapp.net:443"]
    assert reset["outcome"] == "tls.reset" and reset["status"] == "blocked"
    assert entries["e7.whatsapp.net:5222"]["outcome"] == "ok"
    assert entries["v.whatsapp.net:443"]["role"] == "registration"
    assert entries["https://web.whatsapp.com/"]["role"] == "web"


@pytest.mark.parametrize("fingerprints, outcome, verdict", [
    (bundled_fingerprints(), "tls.mitm", "blocked"),  # a known interception authority
    # The same chain, its authority unknown, valid nowhere and no control scan: a service moved to
    # a root of its own looks the same (Signal, October 2022); the control decides.
    (None, "tls.invalid_cert", "inconclusive"),
], ids=["known-authority", "unknown-authority"])
def test_a_pinned_ca_failure_cites_the_chain(fingerprints, outcome, verdict):
    got = analyse(signal(chat=("tls", v.SSL_UNKNOWN_AUTHORITY)), fingerprints=fingerprints)
    chat = got["endpoints"][0]
    assert (chat["outcome"], got["verdict"]) == (outcome, verdict) and chat["failure"] == v.SSL_UNKNOWN_AUTHORITY
    assert "Qaznet Trust Network" in chat["detail"]
    assert "chat.signal.org:443" in got["explanation"] and "contacts, storage and calling work" in got["explanation"]
    if verdict == "blocked":
        assert got["parts"] == {"chat": "blocked", "contacts": "ok", "storage": "ok", "calling": "ok"}
        assert "Signal blocked at tls" in got["explanation"]


@pytest.mark.parametrize("issuer, fingerprints, outcome, verdict", [
    # An unknown authority on a public-CA endpoint: interception only when the authority is known.
    ("CN=Qaznet Trust Network,C=KZ", bundled_fingerprints(), "tls.mitm", "blocked"),
    ("CN=Some Broken Server", bundled_fingerprints(), "tls.invalid_cert", "inconclusive"),
])
def test_unpinned_unknown_authority(issuer, fingerprints, outcome, verdict):
    record = endpoint("v.whatsapp.net", 443, "registration", tls=v.SSL_UNKNOWN_AUTHORITY, issuer=issuer)
    got = analyse(service("WhatsApp", [record]), fingerprints=fingerprints)
    assert got["endpoints"][0]["outcome"] == outcome
    assert got["verdict"] == verdict


@pytest.mark.parametrize("dns, control_dns, status, reason", [
    ([ "10.10.34.35"], None, "blocked", "signature"),  # a bogon answer
    (v.DNS_NXDOMAIN, "ok", "blocked", "control_resolver"),  # the control resolver knows the name
    (v.DNS_NXDOMAIN, v.DNS_NXDOMAIN, "down", "control_resolver"),  # the name is gone everywhere
    (v.DNS_TIMEOUT, None, "unknown", None),  # a resolver that did not answer says nothing more
])
def test_dns_judgements(dns, control_dns, status, reason):
    record = endpoint("b-api.facebook.com", 443, "api", dns=dns, control_dns=control_dns)
    got = analyse(service("Facebook Messenger", [record]))
    entry = got["endpoints"][0]
    assert entry["status"] == status and entry.get("reason") == reason


def test_ipv6_unreachable_is_not_blocking():
    result = telegram()
    result["observations"]["endpoints"].append({
        **endpoint("2001:b28:f23d:f001::a", 443, "datacenter", tcp=v.NETWORK_UNREACHABLE)})
    got = analyse(result, front_end=REACHABLE_WEB)
    assert got["verdict"] == "reachable"
    assert got["endpoints"][-2]["outcome"] == "no_ipv6" and got["endpoints"][-2]["status"] == "untested"


def test_deadline_cut_endpoints_are_untested_not_failing():
    result = signal()
    cut = result["observations"]["endpoints"][0]
    cut["tcp"], cut["tls_handshakes"] = [], []
    got = analyse(result)
    assert got["verdict"] == "reachable" and got["endpoints"][0]["outcome"] == "not_measured"


def test_control_summary_counts_what_the_control_saw():
    got = analyse(signal(storage=("tcp", v.GENERIC_TIMEOUT)), control=signal())
    assert got["control"]["endpoints_measured"] == 4 and got["control"]["endpoints_ok"] == 4
    assert analyse(signal())["control"] is None


@pytest.mark.parametrize("mangle", [
    lambda r: r["observations"].update(endpoints="nonsense"),
    lambda r: r["observations"].update(endpoints=[None, 3, "x", {"tcp": "?"}]),
    lambda r: r["observations"]["endpoints"][0].update(tcp=[{"address": 5}], dns=[], tls_handshakes={"a": 1}),
    lambda r: r["observations"]["endpoints"][0].update(endpoint="\x1b[31mred\x1b[0m:443", role="\x1b[2J" * 50),
    lambda r: r.update(target="x", observations=None),
])
def test_hostile_records_never_crash(mangle):
    result = copy.deepcopy(signal(chat=("tcp", v.GENERIC_TIMEOUT)))
    mangle(result)
    got = analyse(result)
    assert got["verdict"] in v.VERDICTS
    assert "\x1b" not in got["explanation"]
    json.dumps(got)


def test_analysis_is_deterministic_and_pure():
    result = whatsapp(chat_tls=v.CONNECTION_RESET, chat_split="sni")
    before = copy.deepcopy(result)
    assert analyse(result) == analyse(copy.deepcopy(result))
    assert result == before


def web_observations(host: str, address: str, title: str) -> dict:
    """The web front end's observations when its page loads (dns, tcp, tls, one http hop)."""
    return {
        "dns": {"hostname": host, "resolver": "system", "addresses": [address], "failure": None, "queries": [],
                "duration_ms": 1.0},
        "tcp": [{"hostname": host, "address": address, "port": 443, "failure": None, "duration_ms": 1.0}],
        "tls": [{"hostname": host, "address": address, "port": 443, "sni": host, "failure": None,
                 "handshake_completed": True, "verified": True, "version": "TLSv1.3", "cipher": None,
                 "alpn": "http/1.1", "peer_chain": [], "duration_ms": 1.0}],
        "http": [{"url": f"https://{host}/", "method": "GET", "address": address, "port": 443, "status": 200,
                  "headers": {}, "location": None, "body_length": 60, "body_sha256": None, "body_truncated": False,
                  "body": f"<title>{title}</title> the page a user expects to see here", "title": title,
                  "body_read_ms": 1.0, "failure": None,
                  "timings": {"dns_ms": 1.0, "connect_ms": 1.0, "tls_ms": 1.0, "first_byte_ms": 1.0, "total_ms": 2.0}}],
    }


def test_dispatched_by_analyse_scan_with_the_web_front_end_as_a_part():
    # The ANALYSIS dispatcher (analysis/verdict.py) hands results with observations["endpoints"]
    # to analyse_service; the front end is judged by the web rules and becomes the "web" part.
    from kzprobe.analysis import analyse_scan

    result = whatsapp(chat_tcp=v.GENERIC_TIMEOUT)
    result["target"]["hostname"] = "web.whatsapp.com"
    result["observations"].update(web_observations("web.whatsapp.com", "157.240.1.53", "WhatsApp Web"))
    healthy = {"target": {"id": "news", "url": "https://news.example/"}, "started_at": "", "duration_ms": 1.0,
               "observations": web_observations("news.example", "88.198.1.10", "News")}
    alone = analyse_scan([result, healthy], None).verdicts[0]
    # Nothing else in the scan is wrong: silence everywhere may be the service's own outage.
    assert alone["verdict"] == "inconclusive" and alone["parts"]["web"] == "ok"
    # The service alone in its scan (an imported OONI messenger report): the shape decides.
    assert analyse_scan([result], None).verdicts[0]["verdict"] == "blocked"
    # A site reset after its ClientHello (SNI filtering) in the same scan: the floor applies.
    reset = {"target": {"id": "news", "url": "https://news.example/"}, "started_at": "", "duration_ms": 1.0,
             "observations": {"dns": web_observations("news.example", "88.198.1.10", "News")["dns"],
                              "tcp": web_observations("news.example", "88.198.1.10", "News")["tcp"],
                              "tls": [{**web_observations("news.example", "88.198.1.10", "News")["tls"][0],
                                       "failure": v.CONNECTION_RESET, "handshake_completed": False,
                                       "verified": False},
                                      # the SNI split: a neutral name to the same address passes,
                                      # the real name is reset again
                                      {**web_observations("news.example", "88.198.1.10", "News")["tls"][0],
                                       "sni": "example.com", "verified": False, "purpose": "neutral_sni"},
                                      {**web_observations("news.example", "88.198.1.10", "News")["tls"][0],
                                       "failure": v.CONNECTION_RESET, "handshake_completed": False,
                                       "verified": False, "purpose": "sni_confirm"}]}}
    verdicts = analyse_scan([result, reset], None).verdicts
    assert (verdicts[1]["verdict"], verdicts[1]["blocking"]) == ("blocked", "tls")
    got = verdicts[0]
    assert (got["verdict"], got["blocking"]) == ("blocked", "tcp")
    assert got["parts"] == {"chat": "blocked", "registration": "ok", "web": "ok"}
    assert got["endpoints"][-1]["endpoint"] == "https://web.whatsapp.com/" and got["endpoints"][-1]["status"] == "ok"
    assert "registration and web work" in got["explanation"]


def test_returns_a_verdict_the_dispatcher_can_extend():
    from kzprobe.analysis.conclusion import Verdict

    verdict = analyse_service(signal(), None, v.ONLINE)
    assert isinstance(verdict, Verdict)
    assert verdict.with_control({"x": 1}).to_dict()["parts"] == verdict.to_dict()["parts"]
