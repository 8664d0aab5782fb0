"""An independent lab's variants of issue 22's classes, end to end through the real CLI.

kzprobe's own lab holds one scenario per class; a lab built by someone else uses other chains,
roots, redirects, rates and outages. This one is that lab, small: an interceptor whose root nobody
installed and no fingerprint names, a site whose own chain ends at a private root, chains of three
levels whose server sends only the first intermediate (completed through AIA, or not), a site's own
redirect to an intranet name private for everyone, a messenger whose servers go silent for everyone,
messengers reset by name at home and abroad, servers slow for everyone at 60 KB/s and 400 KB/s,
and a policer at 48 KB/s.

Scanned from outside (a clean vantage without a control, which also makes the control scan), then
inside three times at once: with the control scan and the honest control resolver ("controlled"),
as a volunteer scans by default, the control resolver only ("volunteer"), and with the control
from the inside whose international link is cut ("cut"), where messengers at home and abroad
must be judged apart. What each must say is in the rows; the outside scan must call nothing
blocked.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kzprobe.lab import SCENARIOS, Lab, availability
from kzprobe.lab import addresses as a
from kzprobe.lab import site_spec as m
from kzprobe.lab.plan import CUT_INTERNATIONAL, inside_role
from kzprobe.lab.site_spec import Conditions, EndpointBehaviour, Expectation, Scenario, Site

UNAVAILABLE = availability()
pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"network namespaces impossible here: {UNAVAILABLE}"),
]

DOMAIN = "kzlab.test"
INTRANET = f"intranet.redirect-intranet.{DOMAIN}"


def _site(name: str, **fields: object) -> Site:
    return Site(host=f"{name}.{DOMAIN}", **fields)  # type: ignore[arg-type]  # Site's own fields


def _expect(verdict: str, blocking: str | None = None, *evidence: str) -> Expectation:
    return Expectation(verdict, blocking, evidence)


def _silent_chat(name: str) -> tuple[EndpointBehaviour, ...]:
    dropped = Conditions(path=m.PATH_DROP)
    return tuple(EndpointBehaviour(f"chat{n}.{name}.{DOMAIN}", 443, tls=True, role="chat", inside=dropped,
                                   outside=dropped) for n in (1, 2))


def _reset_chat(name: str, hosting: str) -> tuple[EndpointBehaviour, ...]:
    """Two chat servers whose names the censor resets after the ClientHello, here only."""
    return tuple(EndpointBehaviour(f"chat{n}.{name}.{DOMAIN}", 443, tls=True, role="chat", hosting=hosting,
                                   inside=Conditions(tls=m.TLS_RESET)) for n in (1, 2))


# id: (scenario with its controlled and volunteer expectations, what the outside scan must say)
VARIANTS: dict[str, tuple[Scenario, Expectation]] = {s.id: (s, outside) for s, outside in (
    (Scenario("mitm-unknown-root", "interception by a root nobody installed, by the name (a neutral name passes)",
              _site("mitm-unknown-root"), Conditions(tls=m.TLS_MITM_UNKNOWN), _expect("blocked", "tls", "tls.mitm"),
              expect_without_control=_expect("blocked", "tls", "tls.mitm")),
     _expect("reachable")),
    (Scenario("private-ca-site", "the site's own chain ends at a private root, for everyone",
              _site("private-ca-site", chain=m.CHAIN_PRIVATE_ROOT), m.HONEST, _expect("down", None, "tls.invalid_cert"),
              expect_without_control=_expect("inconclusive", None, "control.missing", "tls.invalid_cert")),
     _expect("inconclusive", None, "tls.invalid_cert")),
    (Scenario("three-levels-aia", "three levels, the second intermediate fetched through the first's AIA",
              _site("three-levels-aia", chain=m.CHAIN_SECOND_INTERMEDIATE_AIA), m.HONEST, _expect("reachable"),
              expect_without_control=_expect("reachable")),
     _expect("reachable")),
    (Scenario("three-levels-no-aia", "three levels, the second intermediate missing and named nowhere",
              _site("three-levels-no-aia", chain=m.CHAIN_SECOND_INTERMEDIATE), m.HONEST,
              _expect("inconclusive", None, "tls.chain_incomplete"),
              expect_without_control=_expect("inconclusive", None, "control.missing", "tls.chain_incomplete")),
     _expect("inconclusive", None, "tls.chain_incomplete")),
    (Scenario("redirect-intranet", "the site's own redirect to an intranet name, private for every resolver",
              _site("redirect-intranet", unrouted_aliases=(INTRANET,)),
              Conditions(site=m.SITE_REDIRECT, redirect_to=f"https://{INTRANET}/"), _expect("down"),
              outside=Conditions(site=m.SITE_REDIRECT, redirect_to=f"https://{INTRANET}/"),
              expect_without_control=_expect("inconclusive", None, "control.missing")),
     _expect("inconclusive")),
    # Silent for everyone: with the control that fails too, down. Without one, in a scan where
    # another target is blocked on its own evidence (the interceptor above), the mass-failure
    # floor calls it blocked (item 10, docs/methodology.md, deliberately); outside, where nothing
    # else is wrong, inconclusive.
    (Scenario("messenger-outage-silent", "a messenger whose chat servers go silent for everyone (routes withdrawn)",
              _site("messenger-outage-silent"), m.HONEST, _expect("down", None, "tcp.timeout"),
              endpoints=_silent_chat("messenger-outage-silent"),
              expect_without_control=_expect("blocked", "tcp", "tcp.timeout")),
     _expect("inconclusive", None, "tcp.timeout")),
    (Scenario("messenger-domestic-sni", "a messenger whose chat servers, in the country, are reset by name",
              _site("messenger-domestic-sni", hosting=m.DOMESTIC), m.HONEST,
              _expect("blocked", "tls", "tls.reset", "tls.sni_filter"),
              endpoints=_reset_chat("messenger-domestic-sni", m.DOMESTIC),
              expect_without_control=_expect("blocked", "tls", "tls.reset", "tls.sni_filter")),
     _expect("reachable")),
    (Scenario("messenger-abroad-sni", "a messenger whose chat servers abroad are reset by name",
              _site("messenger-abroad-sni"), m.HONEST, _expect("blocked", "tls", "tls.reset", "tls.sni_filter"),
              endpoints=_reset_chat("messenger-abroad-sni", m.INTERNATIONAL),
              expect_without_control=_expect("blocked", "tls", "tls.reset", "tls.sni_filter")),
     _expect("reachable")),
    (Scenario("slow-everywhere-60", "a server slow for everyone at 60 KB/s",
              _site("slow-everywhere-60", download_bytes=400_000), Conditions(rate_bytes_per_s=60_000),
              _expect("reachable"), outside=Conditions(rate_bytes_per_s=60_000),
              expect_without_control=_expect("reachable")),
     _expect("reachable")),
    (Scenario("slow-everywhere-400", "a server slow for everyone at 400 KB/s",
              _site("slow-everywhere-400", download_bytes=1_500_000), Conditions(rate_bytes_per_s=400_000),
              _expect("reachable"), outside=Conditions(rate_bytes_per_s=400_000),
              expect_without_control=_expect("reachable")),
     _expect("reachable")),
    (Scenario("policer-48", "a policer at 48 KB/s after a 16 KB burst, here only",
              _site("policer-48", download_bytes=2_000_000), Conditions(rate_bytes_per_s=48_000),
              _expect("throttled", None, "throughput.low"), expect_without_control=_expect("reachable")),
     _expect("reachable")),
)}
BASELINES = tuple(s for s in SCENARIOS if s.site.baseline)
# The same lab with its international link cut (January 2022), scanned with the control: the cut
# blames only what it cuts, for services too (issue 22, item 9).
DURING_THE_CUT: dict[str, Expectation] = {
    "messenger-domestic-sni": _expect("blocked", "tls", "tls.reset", "tls.sni_filter"),  # inside: its own block
    "messenger-abroad-sni": _expect("blocked", "network", "connectivity.international_cut"),  # silent: the cut's
    # Its web front end abroad is the cut's; its chat servers, silent in the control too, stay down.
    "messenger-outage-silent": _expect("blocked", "network", "connectivity.international_cut"),
    "baseline-domestic-1": _expect("reachable"),
}
# The chat endpoints' own judgement during the cut (status, and why when blocked).
CHAT_DURING_THE_CUT: dict[str, tuple[str, str | None]] = {
    "messenger-domestic-sni": ("blocked", "control"),  # the control reached them; the split shows SNI too
    "messenger-abroad-sni": ("blocked", "cut"),
    "messenger-outage-silent": ("down", "control"),
}


def _scan(lab: Lab, role: str, output, *extra: str) -> subprocess.Popen:
    """`kzprobe scan` in the namespace of `role` ("outside", "inside-…" scans of the inside namespace,
    or "inside-international", the inside with its link abroad cut)."""
    argv = [sys.executable, "-m", "kzprobe", "scan", "--targets", str(lab.targets_file), "--ca-file",
            str(lab.ca_file), "--timeout", "2.5", "--no-geo", "--vantage", role, "--output", str(output), *extra]
    namespace = role if role == inside_role(CUT_INTERNATIONAL) else role.split("-")[0]
    return lab.popen(namespace, argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("variants-lab")
    guard_log = out / "guard.log"
    scenarios = BASELINES + tuple(s for s, _ in VARIANTS.values())
    with Lab(scenarios, cuts=(CUT_INTERNATIONAL,), env={"KZPROBE_GUARD_LOG": str(guard_log)}) as lab:
        outside = _scan(lab, "outside", out / "o" / "outside.json", "--control-resolver", "none")
        assert outside.wait(90) == 0, outside.stderr.read() if outside.stderr else ""
        honest = f"{a.HONEST_RESOLVER}:53"
        scans = {
            "controlled": _scan(lab, "inside-controlled", out / "c" / "inside.json", "--control",
                                str(out / "o" / "outside.json"), "--control-resolver", honest),
            "volunteer": _scan(lab, "inside-volunteer", out / "v" / "inside.json", "--control-resolver", honest),
            "cut": _scan(lab, inside_role(CUT_INTERNATIONAL), out / "x" / "inside.json", "--control",
                         str(out / "o" / "outside.json"), "--control-resolver", honest),
        }
        for scan in scans.values():
            assert scan.wait(120) == 0, scan.stderr.read() if scan.stderr else ""
    assert not guard_log.exists() or not guard_log.read_text().strip(), guard_log.read_text()
    return {name: json.loads((out / folder / f"{name if name == 'outside' else 'inside'}.json").read_text())
            for name, folder in (("outside", "o"), ("controlled", "c"), ("volunteer", "v"), ("cut", "x"))}


def _result(report: dict, sid: str) -> dict:
    return next(r for r in report["results"] if r["target"]["id"] == sid)


def _check(got: dict, expect: Expectation) -> None:
    assert (got["verdict"], got["blocking"]) == (expect.verdict, expect.blocking), got["explanation"]
    assert set(expect.evidence) <= set(got["evidence"]), (got["evidence"], got["explanation"])


@pytest.mark.parametrize("scan", ["controlled", "volunteer", "outside"])
@pytest.mark.parametrize("sid", list(VARIANTS))
def test_an_independent_lab_s_variant(reports, scan, sid):
    scenario, outside = VARIANTS[sid]
    expect = {"controlled": scenario.expect, "volunteer": scenario.expect_without_control, "outside": outside}[scan]
    assert expect is not None
    _check(_result(reports[scan], sid), expect)


@pytest.mark.parametrize("sid", list(DURING_THE_CUT))
def test_during_the_cut_a_service_keeps_the_verdict_of_its_own_failure(reports, sid):
    assert reports["cut"]["connectivity"] == "international_cut"
    got = _result(reports["cut"], sid)
    _check(got, DURING_THE_CUT[sid])
    if sid in CHAT_DURING_THE_CUT:
        chat = {(e["status"], e.get("reason")) for e in got["endpoints"] if e["role"] == "chat"}
        assert chat == {CHAT_DURING_THE_CUT[sid]}, got["endpoints"]


def test_the_clean_outside_vantage_calls_nothing_blocked(reports):
    blocked = [r["target"]["id"] for r in reports["outside"]["results"] if r["verdict"] == "blocked"]
    assert blocked == []
    assert reports["outside"]["connectivity"] == "online"


def test_the_name_s_chain_was_shown_replaced_by_the_neutral_name_s_trusted_one(reports):
    tls = _result(reports["volunteer"], "mitm-unknown-root")["observations"]["tls"]
    own = next(t for t in tls if "purpose" not in t)
    [check] = [t for t in tls if t.get("purpose") == "cert_check"]
    assert own["failure"] == "ssl_unknown_authority" and "Secure Web Gateway" in own["peer_chain"][0]["issuer"]
    assert check["address"] == own["address"] and check["sni"] == "example.com"
    assert check["verified"] is True and check["root_store"] == "ca_file"
    # The private CA's server sends the neutral name its own untrusted chain: nothing replaced.
    private = _result(reports["volunteer"], "private-ca-site")["observations"]["tls"]
    [unchanged] = [t for t in private if t.get("purpose") == "cert_check"]
    assert unchanged["verified"] is False and unchanged["failure"] == "ssl_unknown_authority"


def test_the_second_intermediate_is_fetched_through_the_first_s_aia(reports):
    obs = _result(reports["volunteer"], "three-levels-aia")["observations"]
    assert obs["aia"][0]["status"] == 200 and [t["verified"] for t in obs["tls"][:2]] == [False, True]
    missing = _result(reports["volunteer"], "three-levels-no-aia")["observations"]
    assert "aia" not in missing and missing["tls"][0]["chain_complete"] is False


def test_the_control_resolver_was_asked_about_the_intranet_name(reports):
    obs = _result(reports["volunteer"], "redirect-intranet")["observations"]
    [asked] = obs["control_redirect_dns"]
    assert (asked["hostname"], asked["addresses"]) == (INTRANET, [a.PRIVATE_ANSWER])
