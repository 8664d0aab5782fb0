"""analyse_scan / analyse_report as a whole: control matching, determinism, summary counts,
hostile input, safe explanations, service targets."""

from __future__ import annotations

import copy
import json

import pytest

from kzprobe.analysis import analyse_report, analyse_scan
from kzprobe.report import vocabulary as v
from support.observations import (
    HOST,
    baselines,
    control_of,
    dns,
    hop,
    report,
    result,
    tcp,
    tls,
    verdict_of,
    web,
)

TLS_RESET = dict(web(), tls=[tls(failure="connection_reset")], http=[])
TCP_TIMEOUT = dict(web(), tcp=[tcp(failure="generic_timeout_error")], tls=[], http=[])


def test_control_matched_by_id_then_by_url():
    probe = result(TCP_TIMEOUT, ident="news")
    by_id = control_of(result(web(), ident="news", url=f"https://{HOST}/index.html"))
    assert verdict_of(probe, by_id)["verdict"] == "blocked"
    by_url = control_of(result(web(), ident="renamed"))
    assert verdict_of(probe, by_url)["verdict"] == "blocked"
    by_normalised_url = control_of(result(web(), ident="renamed", url="HTTPS://NEWS.example/"))
    assert verdict_of(probe, by_normalised_url)["verdict"] == "blocked"
    unmatched = control_of(result(web(), ident="other", url="https://other.example/"))
    got = verdict_of(probe, unmatched)
    assert got["evidence"] == ["control.missing", "tcp.timeout"]
    assert "no result for this target" in got["explanation"]


@pytest.mark.parametrize("name,control,reason", [
    ("control_scan_was_offline", control_of(result(web()), connectivity="offline"), "offline"),
    ("control_scan_was_cut", control_of(result(web()), connectivity="international_cut"), "international_cut"),
    ("control_result_measured_nothing", control_of(result({})), "measured nothing"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_unusable_control_is_control_failed(name, control, reason):
    got = verdict_of(result(TCP_TIMEOUT), control)
    assert (got["verdict"], got["evidence"]) == ("inconclusive", ["control.failed", "tcp.timeout"])
    assert reason in got["explanation"]
    assert got["control"]["usable"] is False


def test_control_summary_is_compact_and_explains_the_verdict():
    got = verdict_of(result(TLS_RESET), control_of(dict(result(web()), verdict="reachable")))
    control = got["control"]
    assert control["verdict"] == "reachable" and control["usable"] is True
    assert control["dns_addresses"] == ["88.198.1.10"] and control["tls_ok"] is True
    assert control["http_status"] == 200 and control["http_title"]
    assert "observations" not in json.dumps(control)
    assert verdict_of(result(TLS_RESET), None)["control"] is None


def test_same_input_same_output():
    results = [*baselines(), result(TLS_RESET), result(web(scheme="http"), ident="h", scheme="http")]
    control = control_of(result(web()))
    first = analyse_scan(copy.deepcopy(results), copy.deepcopy(control))
    second = analyse_scan(copy.deepcopy(results), copy.deepcopy(control))
    assert json.dumps(first.__dict__, sort_keys=True) == json.dumps(second.__dict__, sort_keys=True)
    assert results == [*baselines(), result(TLS_RESET), result(web(scheme="http"), ident="h", scheme="http")]


def test_analyse_report_recomputes_verdicts_and_summary():
    old = report([*baselines(), result(TLS_RESET), result(TCP_TIMEOUT, ident="t2")])
    old["results"][2].update(verdict="reachable", blocking=None, evidence=[], explanation="stale", control=None)
    old["summary"] = {"reachable": 99}
    new = analyse_report(old, control_of(result(web()), result(web(), ident="t2")))
    assert new["summary"] == {"reachable": 2, "blocked": 2, "throttled": 0, "down": 0, "inconclusive": 0}
    assert new["connectivity"] == "online" and new["baselines"]["international"]["working"] == ["intl-baseline"]
    assert [r["verdict"] for r in new["results"]] == ["reachable", "reachable", "blocked", "blocked"]
    assert new["results"][2]["explanation"] != "stale"
    assert list(new["results"][2])[:6] == ["target", "verdict", "blocking", "evidence", "explanation", "control"]
    assert old["results"][2]["verdict"] == "reachable"  # the input is left alone
    assert new["scan_id"] == old["scan_id"]


def test_analyse_report_without_control_is_offline_safe():
    new = analyse_report(report([*baselines(), result(TCP_TIMEOUT)]), None)
    assert new["summary"]["inconclusive"] == 1 and new["summary"]["blocked"] == 0


@pytest.mark.parametrize("name,results", [
    ("results_not_a_list", "nonsense"),
    ("result_not_an_object", [42]),
    ("observations_of_wrong_types", [{"target": {"id": 1, "url": 5}, "observations": {
        "dns": "x", "tcp": {"a": 1}, "tls": [None, 3, {"address": 7}], "http": [{"url": None}, "x"],
        "download": {"samples": [{"t_ms": "a", "bytes": -5}, {"t_ms": float("nan"), "bytes": 1}]}}}]),
    ("huge_strings", [result(dict(web(), http=[hop(title="T" * 100_000, body="<" * 200_000)]))]),
    ("hostile_dn_and_addresses", [result(dict(
        web(), dns=dns(HOST, ["\x1b[31m1.2.3.4", "::ffff:127.0.0.1"]),
        tls=[tls(chain=[{"subject": "CN=\\", "issuer": "=,=+\\4", "sha256": 5}])]))]),
    ("empty_target", [{"target": {}, "observations": {}}]),
], ids=lambda x: x if isinstance(x, str) else "")
def test_hostile_input_never_crashes(name, results):
    analysis = analyse_scan(results, {"results": "not a list", "connectivity": 3})
    assert analysis.connectivity in v.CONNECTIVITY
    for got in analysis.verdicts:
        assert got["verdict"] in v.VERDICTS
        assert all(code in v.EVIDENCE_CODES for code in got["evidence"])
        assert got["verdict"] != "inconclusive" or got["evidence"]
        assert "\x1b" not in got["explanation"] and len(got["explanation"]) < 2000


def test_network_strings_are_quoted_safely():
    title = "\x1b[2J\u202eevil\x07 title " + "x" * 300
    obs = dict(web(scheme="http"), http=[hop(f"http://{HOST}/", title=title, body="<p>blocked here</p>")])
    got = verdict_of(result(obs, scheme="http"), control_of(result(web(scheme="http"), scheme="http")))
    assert got["verdict"] == "blocked"
    text = got["explanation"]
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "…" in text and len(text) < 600


def test_every_blocked_and_inconclusive_verdict_carries_evidence():
    targets = [result(TLS_RESET), result(TCP_TIMEOUT, ident="a"), result(web(scheme="http"), ident="b", scheme="http"),
               result({"dns": dns(HOST, failure="dns_nxdomain_error")}, ident="c")]
    for control in (None, control_of(result(web()))):
        for got in analyse_scan([*baselines(), *targets], control).verdicts:
            if got["verdict"] in ("blocked", "inconclusive"):
                assert got["evidence"], got
            if got["verdict"] == "blocked":
                assert got["blocking"] in v.BLOCKING_LAYERS


def test_service_targets_go_to_the_service_rules():
    service = {"target": {"id": "telegram", "name": "Telegram"}, "observations": {"endpoints": []}}
    got = analyse_scan([*baselines(), service], None).verdicts[-1]
    assert got["verdict"] in v.VERDICTS and "endpoints" in got


def test_deadline_cut_short_is_not_blocking():
    obs = {"dns": dns(), "control_dns": dns(), "deadline_exceeded": True}
    got = verdict_of(result(obs), control_of(result(web())))
    assert (got["verdict"], got["evidence"]) == ("inconclusive", ["tcp.timeout"])
    assert "time budget" in got["explanation"]
