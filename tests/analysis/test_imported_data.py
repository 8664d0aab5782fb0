"""The analysis rules that imported data (OONI's measurements, docs/ooni.md) relies on, each
checked on kzprobe's own result shapes: what the vantage's contact with the outside says about
connectivity, a control that reports a page but no handshake, a page whose body is unknown."""

from __future__ import annotations

import dataclasses

from kzprobe.analysis import analyse_report, analyse_scan
from kzprobe.analysis.control import OK, UNKNOWN, ControlScan
from kzprobe.analysis.facts import read_result
from kzprobe.analysis.pages import compare_pages
from support.reports import measured_result, report, web_result


def test_a_scan_where_everything_failed_is_offline_unless_the_vantage_reached_outside():
    failing = [measured_result("orda-kz", "tcp_timeout")]
    assert analyse_scan(failing, None).connectivity == "offline"
    contact = "OONI's test helper answered the probe"
    analysis = analyse_scan(failing, None, outside_contact=contact)
    assert analysis.connectivity == "online"
    assert analysis.baselines["outside_contact"] == contact
    assert analysis.verdicts[0]["verdict"] == "inconclusive"  # a timeout alone, no control: still not blocked


def test_reanalysing_a_report_keeps_the_contact_it_recorded():
    made = report([web_result("orda-kz", "tcp_timeout")])
    made["baselines"] = {"outside_contact": "OONI's test helper answered the probe"}
    assert analyse_report(made, None)["connectivity"] == "online"
    del made["baselines"]["outside_contact"]
    assert analyse_report(made, None)["connectivity"] == "offline"


def _control_with_page_only() -> dict:
    control = measured_result("orda-kz", "reachable")
    del control["observations"]["tls"]
    return control


def test_a_control_that_fetched_the_https_page_completed_tls_even_without_a_handshake_record():
    control = _control_with_page_only()
    view = ControlScan({"results": [control]}).view(read_result(measured_result("orda-kz", "tls_reset")))
    assert view.step("tls") == OK
    control["observations"]["http"][0]["status"] = None
    control["observations"]["http"][0]["failure"] = "generic_timeout_error"
    view = ControlScan({"results": [control]}).view(read_result(measured_result("orda-kz", "tls_reset")))
    assert view.step("tls") == UNKNOWN  # a failed request says nothing about which step failed


def test_a_page_whose_body_was_not_recorded_cannot_be_compared():
    page = read_result(measured_result("orda-kz", "reachable")).http[-1]
    unknown = dataclasses.replace(page, body_length=None, body="", title=None)
    assert compare_pages(page, page).same is True
    assert compare_pages(unknown, page).same is None
