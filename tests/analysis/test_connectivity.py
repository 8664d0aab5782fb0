"""Connectivity from the baselines (docs/methodology.md, "Connectivity"): online, international
cut (failing targets blocked by the cut), offline (nothing is ever blocked)."""

from __future__ import annotations

import pytest

from kzprobe.analysis import analyse_scan
from support.observations import (
    ADDRESS,
    HOST,
    KZ_BLOCKPAGE,
    baselines,
    control_of,
    dns,
    hop,
    result,
    tcp,
    tls,
    web,
)

HTTPS_CONTROL = control_of(result(web()))
CUT = dict(international=False, domestic=True)


def unreachable() -> dict:
    return {"dns": dns(), "control_dns": dns(HOST, failure="dns_timeout_error"),
            "tcp": [tcp(failure="generic_timeout_error")], "tls": []}


def nothing_answers() -> dict:
    return {"dns": dns(HOST, failure="dns_timeout_error"), "control_dns": dns(HOST, failure="dns_timeout_error")}


@pytest.mark.parametrize("name,international,domestic,others,state", [
    ("all_baselines_answer", True, True, [], "online"),
    ("international_answers_domestic_not", True, False, [], "online"),
    ("only_domestic_answers", False, True, [], "international_cut"),
    ("no_baseline_answers_nothing_works", False, False, [], "offline"),
    ("no_baseline_answers_but_a_target_does", False, False, [result(web())], "online"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_connectivity_state(name, international, domestic, others, state):
    analysis = analyse_scan([*baselines(international=international, domestic=domestic), *others], None)
    assert analysis.connectivity == state


def test_no_baselines_nothing_answers_is_offline():
    analysis = analyse_scan([result(nothing_answers())], HTTPS_CONTROL)
    assert analysis.connectivity == "offline"
    assert analysis.verdicts[0]["verdict"] == "inconclusive"
    assert "no baseline" in analysis.baselines["note"]


def test_no_baselines_something_answers_is_online():
    assert analyse_scan([result(web())], None).connectivity == "online"


@pytest.mark.parametrize("name,target,control,verdict,blocking,evidence", [
    ("failing_international_target_is_blocked_by_the_cut", result(unreachable()), HTTPS_CONTROL,
     "blocked", "network", ["connectivity.international_cut", "tcp.timeout"]),
    ("failing_target_without_control_is_blocked_by_the_cut", result(unreachable()), None,
     "blocked", "network", ["connectivity.international_cut", "tcp.timeout"]),
    ("tls_silence_during_the_cut_is_the_cut", result(dict(web(), tls=[tls(failure="generic_timeout_error")], http=[])),
     HTTPS_CONTROL, "blocked", "network", ["connectivity.international_cut", "tls.timeout"]),
    ("working_domestic_target_is_reachable", result(web("kz.example", address="95.57.3.3"), host="kz.example"),
     None, "reachable", None, []),
    ("blockpage_is_still_a_blockpage", result(web(scheme="http") | {"http": [
        hop(f"http://{HOST}/", title="Страница заблокирована", body=KZ_BLOCKPAGE)]}, scheme="http"),
     None, "blocked", "http", ["http.blockpage"]),
    ("dead_everywhere_stays_down", result(dict(unreachable(), tcp=[tcp(failure="connection_refused")])),
     control_of(result(dict(web(), tcp=[tcp(failure="connection_refused")], tls=[], http=[]))),
     "down", None, ["tcp.refused"]),
], ids=lambda x: x if isinstance(x, str) else "")
def test_international_cut(name, target, control, verdict, blocking, evidence):
    analysis = analyse_scan([*baselines(**CUT), target], control)
    assert analysis.connectivity == "international_cut"
    got = analysis.verdicts[-1]
    assert (got["verdict"], got["blocking"], got["evidence"]) == (verdict, blocking, evidence), got["explanation"]


def test_cut_explanation_names_the_baselines():
    got = analyse_scan([*baselines(**CUT), result(unreachable())], HTTPS_CONTROL).verdicts[-1]
    assert "international link is cut" in got["explanation"] and "intl-baseline" in got["explanation"]
    assert ADDRESS in got["explanation"]


@pytest.mark.parametrize("name,target", [
    ("dns_failure", result(nothing_answers())),
    ("tls_reset_signature", result(dict(web(), tls=[tls(failure="connection_reset")], http=[]))),
    ("tcp_timeout", result(unreachable())),
], ids=lambda x: x if isinstance(x, str) else "")
def test_offline_makes_every_target_inconclusive(name, target):
    offline_baselines = [result(nothing_answers(), ident=b["target"]["id"], baseline=b["target"]["baseline"],
                                host=b["target"]["url"].split("/")[2]) for b in baselines()]
    analysis = analyse_scan([*offline_baselines, target], HTTPS_CONTROL)
    assert analysis.connectivity == "offline"
    for got in analysis.verdicts:
        assert (got["verdict"], got["blocking"], got["evidence"]) == ("inconclusive", None, ["connectivity.offline"])


def test_baselines_report_what_worked_and_the_reference_figure():
    analysis = analyse_scan(baselines(domestic=False), None)
    b = analysis.baselines
    assert b["international"] == {"tested": 1, "working": ["intl-baseline"], "failing": []}
    assert b["domestic"] == {"tested": 1, "working": [], "failing": ["dom-baseline"]}
    assert b["reference"] == "international" and b["kilobytes_per_second"] > 10_000
    assert set(b["throughput"]) == {"intl-baseline"}


def test_only_domestic_baselines_working_without_international_ones_is_online():
    domestic_only = [b for b in baselines() if b["target"]["baseline"] == "domestic"]
    assert analyse_scan(domestic_only, None).connectivity == "online"
