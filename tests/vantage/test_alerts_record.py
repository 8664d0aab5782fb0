"""The change record (pure): what changed between a vantage's previous complete scan and this
one, under the flapping rule; one row per kind of change and per edge of the rule."""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import jsonschema
import pytest

from kzprobe.vantage.alerts import flapping
from kzprobe.vantage.alerts.flapping import Track
from kzprobe.vantage.alerts.limits import MAX_TARGETS_PER_RECORD
from kzprobe.vantage.alerts.record import decide_changes
from kzprobe.vantage.alerts.state import ScanState, VantageMemory
from support import reports as f

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "kzprobe" / "data" / "changes.schema.json").read_text())
WINDOW = 6


def scan(results: list[dict], hour: int = 0, **kwargs) -> dict:
    return f.report(results, started_at=f.START + timedelta(hours=hour), **kwargs)


def decide(before: dict, after: dict, memory: VantageMemory | None = None, window: int = WINDOW):
    memory = memory or VantageMemory.baseline(ScanState.from_report(before))
    results = {r["target"]["id"]: r for r in after["results"]}
    return decide_changes(after["vantage"], memory, ScanState.from_report(after), results, window,
                          "almaty-vps-20220105T1100Z.json", after.get("baselines"))


@pytest.mark.parametrize("was, now, kind, summary", [
    ("reachable", "tls_reset", "newly_blocked",
     "orda-kz is now blocked at the tls layer (tls.reset); it was reachable in the previous scan."),
    ("tls_reset", "reachable", "newly_reachable",
     "orda-kz is now reachable; it was blocked/tls (tls.reset) in the previous scan."),
    ("dns_nxdomain", "tls_reset", "layer_changed",
     "orda-kz is still blocked, now at the tls layer (tls.reset) instead of dns (dns.nxdomain)."),
    ("tls_timeout", "tls_reset", "evidence_changed",
     "orda-kz is still blocked/tls; the evidence changed from tls.timeout to tls.reset."),
    ("reachable", "throttled", "verdict_changed",
     "orda-kz is now throttled/tls (throughput.low); it was reachable in the previous scan."),
    ("tls_reset", "down", "verdict_changed",
     "orda-kz is now down (control.failed, tcp.refused); it was blocked/tls in the previous scan."),
])
def test_each_kind_of_change_has_its_line(was, now, kind, summary):
    decided = decide(scan([f.web_result("orda-kz", was)]), scan([f.web_result("orda-kz", now)], 1))
    record = decided.record
    jsonschema.validate(record, SCHEMA)
    [change] = record["changes"]
    assert change["kind"] == kind and record["counts"] == {kind: 1}
    assert change["summary"] == summary
    assert change["explanation"] == f.SCENARIOS[now]["explanation"]  # kzprobe's own, from the report
    assert change["url"] == "https://orda-kz.example/" and change["category"] == "NEWS"


def test_no_change_no_record():
    report = f.kz_report()
    assert decide(report, f.kz_report(started_at=f.START + timedelta(hours=1))).record is None


def test_evidence_in_another_order_is_no_change():
    before = scan([f.web_result("orda-kz", "inconclusive")])
    after = scan([f.web_result("orda-kz", "inconclusive")], 1)
    after["results"][0]["evidence"].reverse()
    assert len(before["results"][0]["evidence"]) > 1 and decide(before, after).record is None


def test_targets_added_to_or_removed_from_the_list_are_not_changes():
    before = scan([f.web_result("orda-kz"), f.web_result("gone-kz", "tls_reset")])
    after = scan([f.web_result("orda-kz"), f.web_result("new-kz", "tls_reset")], 1)
    assert decide(before, after).record is None


def test_the_record_names_both_scans_and_the_vantage_and_nothing_else():
    before, after = scan([f.web_result("orda-kz")]), scan([f.web_result("orda-kz", "tls_reset")], 1)
    record = decide(before, after).record
    assert record["vantage"] == {"name": "almaty-vps", "asn": "AS9198", "country": "KZ"}
    assert record["previous"] == {"scan_id": before["scan_id"], "started_at": before["started_at"],
                                  "finished_at": before["finished_at"], "connectivity": "online"}
    assert record["current"]["scan_id"] == after["scan_id"]
    assert record["current"]["report"] == "almaty-vps-20220105T1100Z.json"
    assert record["title"] == "almaty-vps: orda-kz blocked (tls)"
    assert record["id"] == decide(before, after).record["id"]  # the same scans, the same id
    assert f.WEB_ADDRESS not in json.dumps({k: v for k, v in record.items() if k != "changes"})


def test_a_connectivity_cut_is_one_alert_with_the_targets_that_followed_it():
    before = scan([f.web_result("orda-kz"), f.web_result("tengrinews-kz"), f.web_result("kaztag-kz", "tls_reset")])
    after = scan([f.web_result("orda-kz", "offline"), f.web_result("tengrinews-kz", "offline"),
                  f.web_result("kaztag-kz", "offline")], 1, connectivity="offline")
    record = decide(before, after).record
    jsonschema.validate(record, SCHEMA)
    assert record["connectivity"]["kind"] == "changed"
    assert record["connectivity"]["summary"].startswith("Connectivity changed from online to offline")
    assert all(change["follows_connectivity"] for change in record["changes"])
    assert record["title"] == "almaty-vps: connectivity online → offline; 3 target(s) followed"


def test_connectivity_summary_gives_the_baselines_that_worked():
    before = scan([f.web_result("orda-kz")])
    after = scan([f.web_result("orda-kz")], 1, connectivity="international_cut")
    after["baselines"] = {"domestic": {"tested": 2, "working": ["a", "b"], "failing": []},
                          "international": {"tested": 2, "working": [], "failing": ["c", "d"]}}
    summary = decide(before, after).record["connectivity"]["summary"]
    assert summary == ("Connectivity changed from online to international_cut "
                       "(baselines working: domestic 2 of 2, international 0 of 2).")


@pytest.mark.parametrize("change, note", [
    ({"asn": "AS21299"}, "The vantage's network changed (AS9198, KZ → AS21299, KZ)"),
    ({"settings": "control"}, "The scans were made with different settings (control)"),
])
def test_what_else_changed_between_the_scans_is_noted(change, note):
    before = scan([f.web_result("orda-kz")])
    after = scan([f.web_result("orda-kz", "tls_reset")], 1, asn=change.get("asn", "AS9198"))
    if "settings" in change:
        after["settings"]["control"] = "outside.json"
    assert any(n.startswith(note) for n in decide(before, after).record["notes"])


def test_a_target_left_out_of_a_scan_is_compared_with_its_last_measurement():
    full = scan([f.web_result("orda-kz"), f.web_result("kaztag-kz")])
    partial = scan([f.web_result("kaztag-kz")], 1)  # `kzprobe scan --target kaztag-kz`
    decided = decide(full, partial)
    assert decided.record is None
    blocked = scan([f.web_result("orda-kz", "tls_reset"), f.web_result("kaztag-kz")], 2)
    record = decide(partial, blocked, decided.memory).record
    assert [(c["target"], c["kind"]) for c in record["changes"]] == [("orda-kz", "newly_blocked")]


def test_a_record_lists_at_most_its_bound_of_targets_and_counts_the_rest():
    n = MAX_TARGETS_PER_RECORD + 7
    before = scan([f.web_result(f"site-{i}") for i in range(n)])
    after = scan([f.web_result(f"site-{i}", "tls_reset") for i in range(n)], 1)
    record = decide(before, after).record
    assert len(record["changes"]) == MAX_TARGETS_PER_RECORD and record["omitted"] == 7
    assert record["counts"] == {"newly_blocked": n}
    assert record["title"].endswith(f"; {n - 3} more change(s)")


# --- flapping ---------------------------------------------------------------------------------

@pytest.mark.parametrize("states, window, decisions", [
    # The first two changes are news; the third within the window makes it unstable, once.
    ("RBRBRB", 6, ["none", "report", "report", "unstable", "suppressed", "suppressed"]),
    # Changes spread wider than the window are each news.
    ("RBBBBBBRRRRRRB", 4, ["none", "report"] + ["none"] * 5 + ["report"] + ["none"] * 5 + ["report"]),
    # Unstable until it holds one state for a whole window, then said once.
    ("RBRBBBB", 4, ["none", "report", "report", "unstable", "none", "none", "stable_again"]),
    ("RBRBBBRR", 4, ["none", "report", "report", "unstable", "none", "none", "suppressed", "none"]),
])
def test_flapping_rule(states, window, decisions):
    track = None
    said = []
    for state in states:
        track, decision = flapping.step(track, state, window)
        said.append(decision)
        assert len(track.states) <= window
    assert said == decisions


def test_an_unstable_target_and_its_end_are_in_the_records():
    reports = [scan([f.web_result("orda-kz", "tls_reset" if state == "B" else "reachable")], hour)
               for hour, state in enumerate("RBRBRRRR")]
    memory = VantageMemory.baseline(ScanState.from_report(reports[0]))
    kinds = []
    for before, after in pairwise(reports):
        decided = decide(before, after, memory, window=4)
        memory = decided.memory
        kinds.append(decided.record["changes"][0]["kind"] if decided.record else None)
    assert kinds == ["newly_blocked", "newly_reachable", "unstable", None, None, None, "stable_again"]


def test_state_survives_its_file_format():
    report = f.kz_report()
    state = ScanState.from_report(report)
    assert ScanState.from_json(json.loads(json.dumps(state.to_json()))) == state
    assert Track.from_json(Track(("a", "b"), True).to_json()) == Track(("a", "b"), True)
    assert ScanState.from_json({"started_at": "yesterday", "targets": []}) is None
