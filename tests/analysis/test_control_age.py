"""Fresh controls (analysis/control.py): the control's age at each measurement is recorded, and
past the bound the rules that need a live control say `control.stale` instead of `blocked`."""

from __future__ import annotations

import pytest

from kzprobe.analysis import analyse_report, analyse_scan
from kzprobe.analysis import thresholds as th
from kzprobe.report import vocabulary as v
from support.observations import (
    HOST,
    UNKNOWN_BLOCKPAGE,
    add_split,
    control_of,
    dns,
    hop,
    result,
    tcp,
    tls,
    verdict_of,
    web,
)

MEASURED = "2026-11-22T10:00:00Z"  # support.observations.result's started_at


def control_at(started_at: str | None, target: dict | None = None) -> dict:
    control = control_of(target or result(web()))
    for item in control["results"]:
        if started_at is None:
            item.pop("started_at", None)
        else:
            item["started_at"] = started_at
    return control


def failing(*, tcp_failure: str | None = None, tls_failure: str | None = None, dns_failure: str | None = None,
            control_resolver: bool = False, split: bool = True) -> dict:
    obs: dict = {"dns": dns(failure=dns_failure) if dns_failure else dns()}
    if control_resolver:
        obs["control_dns"] = dns(resolver="https://1.1.1.1/dns-query")
    if dns_failure:
        return result(obs)
    obs["tcp"] = [tcp(failure=tcp_failure)]
    obs["tls"] = [tls(failure=tls_failure, completed=False)] if tcp_failure is None and tls_failure else []
    if obs["tls"] and split:  # the probe's SNI split: the same address answers a neutral name
        add_split(obs, again=tls_failure)
    obs["http"] = []
    return result(obs)


ROWS = [
    # id, target, control time, control's own result (None: healthy), verdict, blocking, evidence, age, stale
    ("fresh_control_timeout_is_blocked", failing(tcp_failure=v.GENERIC_TIMEOUT), "2026-11-22T09:00:00Z", None,
     "blocked", "tcp", ["tcp.timeout"], 3600.0, False),
    ("stale_control_timeout_is_inconclusive", failing(tcp_failure=v.GENERIC_TIMEOUT), "2026-11-22T00:00:00Z", None,
     "inconclusive", None, ["control.stale", "tcp.timeout"], 36000.0, True),
    ("stale_control_refusal_is_inconclusive", failing(tcp_failure=v.CONNECTION_REFUSED), "2026-11-21T10:00:00Z", None,
     "inconclusive", None, ["control.stale", "tcp.refused"], 86400.0, True),
    ("control_made_long_after_the_measurement_is_stale_too", failing(tcp_failure=v.GENERIC_TIMEOUT),
     "2026-11-22T20:00:00Z", None, "inconclusive", None, ["control.stale"], -36000.0, True),
    ("stale_control_handshake_silence_is_still_the_sni_signature", failing(tls_failure=v.GENERIC_TIMEOUT),
     "2026-11-22T00:00:00Z",
     None, "blocked", "tls", ["tls.timeout"], 36000.0, True),
    ("stale_control_sni_reset_needs_no_control", failing(tls_failure=v.CONNECTION_RESET), "2026-11-22T00:00:00Z",
     None, "blocked", "tls", ["tls.reset"], 36000.0, True),
    ("stale_control_that_failed_too_is_not_down", failing(tcp_failure=v.CONNECTION_REFUSED), "2026-11-22T00:00:00Z",
     failing(tcp_failure=v.CONNECTION_REFUSED), "inconclusive", None, ["control.stale", "tcp.refused"], 36000.0, True),
    ("fresh_control_that_failed_too_is_down", failing(tcp_failure=v.CONNECTION_REFUSED), "2026-11-22T09:00:00Z",
     failing(tcp_failure=v.CONNECTION_REFUSED), "down", None, ["tcp.refused"], 3600.0, False),
    ("stale_control_scan_cannot_say_a_name_resolves_now", failing(dns_failure=v.DNS_SERVFAIL), "2026-11-22T00:00:00Z",
     None, "inconclusive", None, ["control.stale", "dns.servfail"], 36000.0, True),
    ("stale_control_scan_that_failed_the_name_too_is_not_down", failing(dns_failure=v.DNS_NXDOMAIN),
     "2026-11-22T00:00:00Z", failing(dns_failure=v.DNS_NXDOMAIN), "inconclusive", None,
     ["control.stale", "dns.nxdomain"], 36000.0, True),
    ("fresh_control_scan_that_failed_the_name_too_is_down", failing(dns_failure=v.DNS_NXDOMAIN),
     "2026-11-22T09:00:00Z", failing(dns_failure=v.DNS_NXDOMAIN), "down", None, ["dns.nxdomain"], 3600.0, False),
    ("live_control_resolver_still_decides_dns", failing(dns_failure=v.DNS_SERVFAIL, control_resolver=True),
     "2026-11-22T00:00:00Z", None, "blocked", "dns", ["dns.servfail"], 36000.0, True),
    ("control_without_times_is_not_judged_stale", failing(tcp_failure=v.GENERIC_TIMEOUT), None, None,
     "blocked", "tcp", ["tcp.timeout"], None, False),
]


@pytest.mark.parametrize("name, target, when, own, verdict, blocking, evidence, age, stale", ROWS,
                         ids=[row[0] for row in ROWS])
def test_control_age(name, target, when, own, verdict, blocking, evidence, age, stale):
    got = verdict_of(target, control_at(when, own))
    assert (got["verdict"], got["blocking"]) == (verdict, blocking), got["explanation"]
    assert set(evidence) <= set(got["evidence"]), got["evidence"]
    assert got["control"].get("age_s") == age and got["control"].get("stale", False) is stale
    if "control.stale" in got["evidence"]:
        assert "beyond the 3 h a control stays live" in got["explanation"]


def test_the_tls_timeout_row_is_the_intrinsic_rule_not_the_control():
    # Silence after the ClientHello while a neutral name passes needs no control: the stale
    # control only stops the control-based rule; the explanation says which rule decided.
    got = verdict_of(failing(tls_failure=v.GENERIC_TIMEOUT), control_at("2026-11-22T00:00:00Z"))
    assert (got["verdict"], got["blocking"]) == ("blocked", "tls") and "SNI filtering" in got["explanation"]
    # Without the split (a report from before it), the stale control cannot decide: inconclusive.
    old = verdict_of(failing(tls_failure=v.GENERIC_TIMEOUT, split=False), control_at("2026-11-22T00:00:00Z"))
    assert old["verdict"] == "inconclusive" and "control.stale" in old["evidence"]


@pytest.mark.parametrize("bound, verdict", [(th.CONTROL_MAX_AGE_S, "inconclusive"), (20 * 3600.0, "blocked")])
def test_the_bound_is_a_parameter(bound, verdict):
    scan = [result(web(host="intl.example", address="88.198.2.10")), failing(tcp_failure=v.GENERIC_TIMEOUT)]
    got = analyse_scan(scan, control_at("2026-11-22T00:00:00Z"), control_max_age_s=bound).verdicts[-1]
    assert got["verdict"] == verdict


def test_reanalysis_uses_the_bound_the_scan_recorded():
    target = failing(tcp_failure=v.GENERIC_TIMEOUT)
    working = result(web(host="intl.example", address="88.198.2.10"), ident="intl", host="intl.example")
    report = {"format": "kzprobe-report", "settings": {"control_max_age_s": 20 * 3600.0}, "results": [working, target]}
    old = control_at("2026-11-22T00:00:00Z")
    assert analyse_report(report, old)["results"][1]["verdict"] == "blocked"
    assert analyse_report({**report, "settings": {}}, old)["results"][1]["verdict"] == "inconclusive"
    assert analyse_report(report, old, control_max_age_s=3600.0)["results"][1]["verdict"] == "inconclusive"


def test_the_control_s_report_time_stands_in_for_its_results():
    control = control_at(None)
    control["started_at"] = "2026-11-21T22:00:00Z"
    got = verdict_of(failing(tcp_failure=v.GENERIC_TIMEOUT), control)
    assert got["control"]["age_s"] == 12 * 3600.0 and got["verdict"] == "inconclusive"


def test_hostile_times_are_ignored():
    for value in ("yesterday", "2026-11-22T10:00:00", 5, None, "9" * 100):
        got = verdict_of(failing(tcp_failure=v.GENERIC_TIMEOUT), control_at(None) | {"started_at": value})
        assert "age_s" not in got["control"] and got["verdict"] == "blocked"


HTTP_URL = f"http://{HOST}/"
STALE = "2026-11-22T00:00:00Z"  # 10 h before the measurement
FRESH = "2026-11-22T09:00:00Z"


def plain(*hops: dict, https_check: dict | None = None) -> dict:
    obs = web(scheme="http")
    obs["http"] = list(hops)
    if https_check is not None:
        obs["https_check"] = https_check
    return result(obs, scheme="http")


OTHER_PAGE = hop(HTTP_URL, title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE)
SERVER_ERROR = hop(HTTP_URL, 503, title="503 Service Unavailable", body="<h1>Service Unavailable</h1>")
REQUEST_TIMEOUT = hop(HTTP_URL, None, failure=v.GENERIC_TIMEOUT)
TWIN = {"url": f"https://{HOST}/", "tcp": [tcp()], "tls": [tls()], "http": [hop(f"https://{HOST}/")],
        "redirect_dns": []}

HTTP_ROWS = [
    # id, target, control time, control's own result (None: its healthy page), verdict, blocking, evidence
    ("fresh_control_page_difference_is_blocked", plain(OTHER_PAGE), FRESH, None, "blocked", "http", ["http.diff"]),
    ("stale_control_page_difference_decides_nothing", plain(OTHER_PAGE), STALE, None,
     "inconclusive", None, ["control.stale"]),
    ("stale_control_page_difference_leaves_the_https_page_to_decide", plain(OTHER_PAGE, https_check=TWIN), STALE,
     None, "inconclusive", None, ["control.stale", "http.diff"]),
    ("fresh_control_server_error_too_is_down", plain(SERVER_ERROR), FRESH, plain(SERVER_ERROR), "down", None, []),
    ("stale_control_server_error_too_is_not_down", plain(SERVER_ERROR), STALE, plain(SERVER_ERROR),
     "inconclusive", None, ["control.stale"]),
    ("fresh_control_request_failed_too_is_down", plain(REQUEST_TIMEOUT), FRESH, plain(REQUEST_TIMEOUT),
     "down", None, ["http.timeout"]),
    ("stale_control_request_failed_too_is_not_down", plain(REQUEST_TIMEOUT), STALE, plain(REQUEST_TIMEOUT),
     "inconclusive", None, ["control.stale", "http.timeout"]),
]


@pytest.mark.parametrize("name, target, when, own, verdict, blocking, evidence", HTTP_ROWS,
                         ids=[row[0] for row in HTTP_ROWS])
def test_a_stale_control_decides_no_page_and_no_outage(name, target, when, own, verdict, blocking, evidence):
    got = verdict_of(target, control_at(when, own or plain(hop(HTTP_URL))))
    assert (got["verdict"], got["blocking"], got["evidence"]) == (verdict, blocking, evidence), got["explanation"]
    if "control.stale" in got["evidence"]:
        assert "control.stale" in got["explanation"] and "10.0 h before" in got["explanation"], got["explanation"]
