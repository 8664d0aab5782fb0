"""End to end in the lab: the real `kzprobe scan`, outside then inside, against every scenario.

The outside scan (the uncensored vantage) is the control; the inside scan gets it with
`--control` and the honest resolver with `--control-resolver`; each network run scans again
from a rebuilt inside namespace; then the scenarios and runs with a no-control expectation are
scanned again without the control scan. One test per scenario asserts the verdict, the blocking
layer and the key evidence of the inside report; a scenario whose expectation is still pending
is expected to fail, strictly, with the reason.

Beyond the catalogue, a second lab: a policer slower than its burst (16 KB, then 8 KB/s), one
with a 1 MB bucket (then 100 KB/s), an IDN (Cyrillic) host reset by SNI, a plain-HTTP site the
ISP's resolver sends to a replica serving the real page (a transparent proxy, to a probe), and
a name that exists nowhere; scanned from outside (the control), then inside twice at once: with
the control scan and the honest resolver, and bare (no control scan, no control resolver),
where nothing healthy may read "blocked".
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kzprobe.lab import NETWORK_RUNS, SCENARIOS, Lab, availability
from kzprobe.lab import addresses as a
from kzprobe.lab import site_spec as m
from kzprobe.lab.runner import CONNECTIVITY_SUBJECT, INSIDE_NO_CONTROL, NO_CONTROL_SUFFIX, run_lab
from kzprobe.lab.scenarios import no_control_expectations
from kzprobe.lab.site_spec import Conditions, Expectation, Scenario, Site

UNAVAILABLE = availability()
pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"network namespaces impossible here: {UNAVAILABLE}"),
]


def _case(run: str, sid: str, expect):
    marks = [pytest.mark.xfail(strict=True, reason=expect.pending)] if expect.pending else []
    return pytest.param(run, sid, marks=marks, id=f"{run}:{sid}")


CASES = [_case("inside", s.id, s.expect) for s in SCENARIOS] + [
    _case(run.id, sid, expect) for run in NETWORK_RUNS for sid, expect in run.expect.items()
] + [_case(INSIDE_NO_CONTROL, sid, expect) for sid, expect in no_control_expectations(SCENARIOS).items()] + [
    _case(run.id + NO_CONTROL_SUFFIX, sid, expect) for run in NETWORK_RUNS for sid, expect in run.no_control.items()
]
RUNS = ["inside", INSIDE_NO_CONTROL] + [r.id for r in NETWORK_RUNS] + [
    r.id + NO_CONTROL_SUFFIX for r in NETWORK_RUNS if r.no_control]


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    guard_log = tmp_path_factory.mktemp("lab-guard") / "violations.log"
    out = tmp_path_factory.mktemp("lab-reports")
    result = run_lab(None, output_dir=out, env={"KZPROBE_GUARD_LOG": str(guard_log)})
    reports = {scan.name: json.loads(scan.report.read_text()) for scan in result.scans if scan.report.exists()}
    return {"result": result, "reports": reports, "guard_log": guard_log}


def _comparison(lab_run, run: str, subject: str):
    matches = [c for c in lab_run["result"].comparisons if c.run == run and c.subject == subject]
    assert len(matches) == 1, f"no comparison for {run}:{subject}"
    return matches[0]


@pytest.mark.parametrize("run, sid", CASES)
def test_scenario_verdict(lab_run, run, sid):
    c = _comparison(lab_run, run, sid)
    assert c.matches, f"{'; '.join(c.problems)} (actual {c.actual}; kzprobe said: {c.explanation})"


@pytest.mark.parametrize("run", RUNS)
def test_connectivity(lab_run, run):
    c = _comparison(lab_run, run, CONNECTIVITY_SUBJECT)
    assert c.matches, c.problems


def test_every_scan_ran_and_finished(lab_run):
    for scan in lab_run["result"].scans:
        assert scan.returncode == 0, f"{scan.name}: exit {scan.returncode}: {scan.stderr}"
        report = lab_run["reports"][scan.name]
        assert report["complete"] is True


def _swallows(conditions: Conditions) -> bool:
    """Conditions under which packets vanish: a dropped path, a swallowed ClientHello (for the
    name, or for any name at the address), dropped QUIC datagrams, a frozen transfer."""
    return (conditions.path == m.PATH_DROP or m.TLS_SWALLOW in (conditions.tls, conditions.tls_any_name)
            or conditions.quic != m.QUIC_PASS or conditions.freeze_after is not None)


@pytest.mark.parametrize("scan", ["outside", "inside"])
def test_only_scenarios_that_drop_packets_wait_out_a_timeout(lab_run, scan):
    # A lab run is as quick as its waits: every target measured at once, each waiting out a
    # timeout only where its scenario makes packets vanish. Counted here as operations that
    # ended in a timeout, not in seconds.
    def conditions(s: Scenario) -> list[Conditions]:
        here = s.inside if scan == "inside" else s.outside
        return [here, *((e.inside if scan == "inside" else e.outside) for e in s.endpoints)]

    built_to_wait = {s.id for s in SCENARIOS if any(_swallows(c) for c in conditions(s))}
    waited = {r["target"]["id"] for r in lab_run["reports"][scan]["results"] if _timeouts(r["observations"])}
    assert waited == built_to_wait


def _result(lab_run, scan: str, sid: str) -> dict:
    return next(r for r in lab_run["reports"][scan]["results"] if r["target"]["id"] == sid)


def test_inside_scan_used_the_isp_resolver_from_resolv_conf(lab_run):
    report = lab_run["reports"]["inside"]
    dns = _result(lab_run, "inside", "dns-nxdomain")["observations"]["dns"]
    assert a.ISP_RESOLVER in dns["resolver"] and dns["failure"] == "dns_nxdomain_error"
    control = _result(lab_run, "inside", "dns-nxdomain")["observations"]["control_dns"]
    assert control["addresses"] and control["failure"] is None
    assert report["settings"]["control"]


def test_reports_record_what_the_lab_did(lab_run):
    """The observations behind the verdicts: the right failure at the right step."""
    obs = {sid: _result(lab_run, "inside", sid)["observations"] for sid in (
        "tcp-syn-dropped", "tls-reset", "tls-mitm-qaznet", "throttled", "large-page")}
    assert obs["tcp-syn-dropped"]["tcp"][0]["failure"] == "generic_timeout_error"
    assert obs["tls-reset"]["tls"][0]["failure"] == "connection_reset"
    mitm = obs["tls-mitm-qaznet"]["tls"][0]
    assert mitm["failure"] == "ssl_unknown_authority" and mitm["handshake_completed"]
    assert any("Security Certificate" in c["issuer"] or "Qaznet" in c["issuer"] for c in mitm["peer_chain"])
    assert 16 <= obs["throttled"]["download"]["kilobytes_per_second"] <= 64
    assert obs["large-page"]["download"]["kilobytes_per_second"] > 1000


def test_no_traffic_left_the_lab(lab_run):
    log = lab_run["guard_log"]
    assert not log.exists() or not log.read_text().strip(), log.read_text()


def test_reports_record_the_issue_22_traps_as_they_happened(lab_run):
    """What the verdicts of issue 22's scenarios rest on: the right observation at the right step."""
    obs = {sid: _result(lab_run, "inside", sid)["observations"] for sid in (
        "slow-render", "transfer-freeze", "slow-handshake", "dynamic-page", "http-to-https", "national-redirect")}
    render = obs["slow-render"]["http"][-1]
    assert render["failure"] is None and render["body_read_ms"] > 2_500, "a page still flowing is no timeout"
    frozen = obs["transfer-freeze"]["http"][-1]
    assert (frozen["failure"], frozen.get("body_stopped")) == ("generic_timeout_error", "idle")
    assert 0 < frozen["body_length"] <= 8_000
    assert obs["slow-handshake"]["tls"][0]["duration_ms"] >= 1_500
    twin = obs["dynamic-page"]["https_check"]
    assert twin["url"] == "https://dynamic-page.kzlab.test/" and twin["tls"][0]["verified"] is True
    assert "https_check" not in obs["http-to-https"], "its own redirect already went to HTTPS"
    assert obs["national-redirect"]["https_check"]["http"][-1]["url"].startswith("https://national.kzlab-kz.test/")


def test_the_clean_outside_vantage_calls_nothing_blocked(lab_run):
    """Nothing is wrong outside: outages there (a site down, a messenger refusing everyone, a
    domain gone) are down or inconclusive, never blocked, though it scans without a control."""
    outside = lab_run["reports"]["outside"]
    blocked = [r["target"]["id"] for r in outside["results"] if r["verdict"] == "blocked"]
    assert blocked == []
    outage = _result(lab_run, "outside", "service-outage-refused")
    assert outage["verdict"] == "inconclusive" and "tcp.refused" in outage["evidence"]


def test_every_dns_attempt_of_the_flaky_resolver_is_recorded(lab_run):
    for scan in ("inside", INSIDE_NO_CONTROL):
        dns = _result(lab_run, scan, "dns-flaky")["observations"]["dns"]
        assert dns["addresses"] and dns["failure"] is None
        attempts = [a for q in dns["queries"] for a in q.get("failed_attempts", [])]
        assert attempts and all(a["rcode"] == "SERVFAIL" for a in attempts)


def test_behind_the_portal_the_scan_says_log_in_and_scan_again(lab_run):
    scan = next(s for s in lab_run["result"].scans if s.name == "captive-portal")
    assert "captive portal" in scan.stderr and "log in to the network" in scan.stderr
    assert lab_run["reports"]["captive-portal"]["baselines"]["captive_portal"]["names"] >= 3


def test_a_portal_that_leaves_dns_alone_is_seen_by_its_one_page(lab_run):
    """DNS honest, every plain-HTTP request answered with the portal's login page from the site's own address."""
    portal = lab_run["reports"]["captive-portal-page"]["baselines"]["captive_portal"]
    assert (portal["address"], portal["redirect_host"]) == (None, None)
    assert portal["page"]["title"] == "Wi-Fi: log in" and portal["page"]["hosts"] >= 3
    page = _result(lab_run, "captive-portal-page", "dynamic-page")["observations"]
    assert page["http"][0]["address"] in page["dns"]["addresses"] and page["http"][0]["status"] == 200
    scan = next(s for s in lab_run["result"].scans if s.name == "captive-portal-page")
    assert "log in to the network" in scan.stderr


def test_https_an_antivirus_re_signs_is_named_with_its_root_and_what_to_do(lab_run):
    record = lab_run["reports"]["local-inspection"]["baselines"]["local_inspection"]
    assert "Lab Antivirus Personal Root Certificate" in record["root"]
    assert record["targets"] == record["https_targets"] >= 3
    assert set(record["baselines"]) == {"baseline-international-1", "baseline-international-2"}
    handshake = _result(lab_run, "local-inspection", "baseline-international-2")["observations"]["tls"][0]
    assert handshake["verified"] is True and handshake["root_store"] == "system_only"
    for name in ("local-inspection", "local-inspection-no-control"):
        said = " ".join(next(s for s in lab_run["result"].scans if s.name == name).stderr.split())
        assert "HTTPS from this machine is inspected" in said and "Turn the HTTPS scanning off" in said
    # The main inside scan, one site re-signed by an installed root and the baselines clean, is no inspection.
    assert "local_inspection" not in lab_run["reports"]["inside"]["baselines"]


def test_the_control_s_age_is_recorded_with_each_verdict(lab_run):
    control = _result(lab_run, "inside", "tcp-syn-dropped")["control"]
    assert 0 <= control["age_s"] < 600 and control["stale"] is False


def test_reports_record_the_extra_steps_of_a_failure(lab_run):
    """Issue 22's extra measurements, each an observation: the neutral-name retry, the AIA fetch
    and the handshake it completed, the control resolver's address tried with the real name."""
    def obs(sid: str) -> dict:
        return _result(lab_run, "inside", sid)["observations"]

    [neutral] = [t for t in obs("tls-fin")["tls"] if t.get("purpose") == "neutral_sni"]
    assert neutral["sni"] == "example.com" and neutral["handshake_completed"]
    [again] = [t for t in obs("tls-fin")["tls"] if t.get("purpose") == "sni_confirm"]
    assert (again["sni"], again["failure"]) == ("tls-fin.kzlab.test", "eof_error"), "real, neutral, real"
    # After a slow handshake, one neutral-name handshake to the same address: fast where the
    # censor holds the name, as slow where the server is slow for everyone.
    [held] = [t for t in obs("slow-handshake")["tls"] if t.get("purpose") == "slow_check"]
    [slow] = [t for t in obs("slow-server-handshake")["tls"] if t.get("purpose") == "slow_check"]
    assert held["sni"] == slow["sni"] == "example.com"
    assert held["duration_ms"] < 1_500 <= slow["duration_ms"]
    assert all(t.get("purpose") == "neutral_sni" for t in obs("tls-server-closes")["tls"][1:])
    incomplete = obs("tls-incomplete-chain")
    assert incomplete["aia"][0]["status"] == 200 and incomplete["aia"][0]["hostname"] == "pki.kzlab.test"
    assert [t["verified"] for t in incomplete["tls"][:2]] == [False, True]
    assert incomplete["tls"][1]["intermediates_fetched"]
    cdn = obs("tls-cdn-sni")
    there = [t for t in cdn["tls"] if t.get("purpose") == "control_address"]
    assert there and there[0]["address"] in cdn["control_dns"]["addresses"]
    assert there[0]["failure"] == "generic_timeout_error"
    installed = obs("tls-mitm-installed-root")["tls"][0]
    assert installed["verified"] and installed["root_store"] == "system_only"
    healthy = obs("baseline-international-2")
    assert all("purpose" not in t and t["root_store"] == "ca_file" for t in healthy["tls"])
    assert "aia" not in healthy and all(t["peer_chain"][0]["spki_sha256"] for t in healthy["tls"])


# --- beyond the catalogue ----------------------------------------------------------------------

IDN_UNICODE, IDN_WIRE = "сайт.kzlab.test", "xn--80aswg.kzlab.test"
REACHABLE = Expectation("reachable")
MORE_CASES = (
    Scenario("slow-policer", "16 KB burst, then 8 KB/s", Site("slow-policer.kzlab.test", download_bytes=2_000_000),
             Conditions(rate_bytes_per_s=8_000), Expectation("throttled", None, ("throughput.low",))),
    Scenario("burst-policer", "1 MB burst, then 100 KB/s", Site("burst-policer.kzlab.test", download_bytes=2_000_000),
             Conditions(rate_bytes_per_s=100_000, burst_bytes=1_000_000),
             Expectation("throttled", None, ("throughput.low",))),
    Scenario("idn-sni", "Cyrillic name reset by SNI", Site(IDN_WIRE), Conditions(tls=m.TLS_RESET),
             Expectation("blocked", "tls", ("tls.reset",))),
    Scenario("http-replica", "resolver answers a replica serving the real page", Site("http-replica.kzlab.test",
             scheme="http", replica=True), Conditions(dns=m.DNS_SPOOF, spoofed=(m.SPOOF_REPLICA,)), REACHABLE),
    Scenario("gone-everywhere", "NXDOMAIN inside and outside", Site("gone-everywhere.kzlab.test"),
             Conditions(dns=m.DNS_NXDOMAIN), Expectation("down"), outside=Conditions(dns=m.DNS_NXDOMAIN)),
)
BASELINES = tuple(s for s in SCENARIOS if s.id.startswith("baseline-"))


def _scan(lab: Lab, role: str, output, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "kzprobe", "scan", "--targets", str(lab.targets_file), "--ca-file",
            str(lab.ca_file), "--timeout", "2.5", "--no-geo", "--vantage", role, "--output", str(output), *extra]
    return lab.popen(role.split("-")[0], argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("review-lab")
    guard_log = out / "guard.log"
    with Lab(BASELINES + MORE_CASES, env={"KZPROBE_GUARD_LOG": str(guard_log)}) as lab:
        lab.targets_file.write_text(lab.targets_file.read_text().replace(IDN_WIRE, IDN_UNICODE))
        outside = _scan(lab, "outside", out / "o" / "outside.json", "--control-resolver", "none")
        assert outside.wait(60) == 0, outside.stderr.read()
        scans = {
            "controlled": _scan(lab, "inside-controlled", out / "c" / "inside.json", "--control",
                                str(out / "o" / "outside.json"), "--control-resolver", f"{a.HONEST_RESOLVER}:53"),
            "bare": _scan(lab, "inside-bare", out / "b" / "inside.json", "--control-resolver", "none"),
        }
        for scan in scans.values():
            assert scan.wait(120) == 0, scan.stderr.read()
    assert not guard_log.exists() or not guard_log.read_text().strip(), guard_log.read_text()
    return {"controlled": json.loads((out / "c" / "inside.json").read_text()),
            "bare": json.loads((out / "b" / "inside.json").read_text())}


def _result_in(report: dict, sid: str) -> dict:
    return next(r for r in report["results"] if r["target"]["id"] == sid)


@pytest.mark.parametrize("scenario", MORE_CASES, ids=lambda s: s.id)
def test_more_scenarios_with_the_control_scan(reports, scenario):
    got = _result_in(reports["controlled"], scenario.id)
    expect = scenario.expect
    assert (got["verdict"], got["blocking"]) == (expect.verdict, expect.blocking), got["explanation"]
    assert set(expect.evidence) <= set(got["evidence"]), got


def test_the_idn_target_is_measured_by_its_wire_name(reports):
    got = _result_in(reports["controlled"], "idn-sni")
    assert got["target"]["url"] == f"https://{IDN_UNICODE}/"
    assert got["observations"]["tls"][0]["sni"] == IDN_WIRE


def test_without_any_control_nothing_healthy_is_blocked(reports):
    bare = reports["bare"]
    assert bare["connectivity"] == "online"
    verdicts = {r["target"]["id"]: r["verdict"] for r in bare["results"]}
    for healthy in [s.id for s in BASELINES] + ["http-replica"]:
        assert verdicts[healthy] in ("reachable", "inconclusive"), (healthy, _result_in(bare, healthy)["explanation"])
    assert verdicts["gone-everywhere"] == "inconclusive"  # a dead name and a blocked one look alike here


def test_without_any_control_the_intrinsic_signs_still_speak(reports):
    bare = reports["bare"]
    assert _result_in(bare, "idn-sni")["verdict"] == "blocked"
    for policer in ("slow-policer", "burst-policer"):
        # A low rate against the baselines alone is no evidence (issue 22, item 7: a server can be
        # slow for everyone); with a normal handshake and no control's rate it reads reachable, the
        # rate cited.
        got = _result_in(bare, policer)
        assert got["verdict"] == "reachable", got["explanation"]
        assert "KB/s" in got["explanation"] and "cannot tell a throttled path" in got["explanation"]


def _timeouts(value, where: str = "") -> list[str]:
    """Every operation in a report's observations that ended by waiting out its timeout."""
    if isinstance(value, dict):
        found = [where] if isinstance(value.get("failure"), str) and "timeout" in value["failure"] else []
        return found + [hit for key, item in value.items() for hit in _timeouts(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [hit for i, item in enumerate(value) for hit in _timeouts(item, f"{where}[{i}]")]
    return []


def test_the_scans_beyond_the_catalogue_wait_out_no_timeout(reports):
    # What makes a lab scan slow is waiting: none of these scenarios drops a packet, so no step
    # of any target may end in a timeout (a policer slows the download, it does not stall it).
    for scan in ("controlled", "bare"):
        waited = [f"{r['target']['id']}{hit}" for r in reports[scan]["results"] for hit in _timeouts(r["observations"])]
        assert waited == [], (scan, waited)
