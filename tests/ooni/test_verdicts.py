"""kzprobe's verdict on OONI measurements: one row per scenario of tests/support/ooni_scenarios.py, each
imported through the real import (files on disk, reports written) and judged by kzprobe's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kzprobe.ooni import import_measurements
from support.ooni_scenarios import SCENARIOS, Scenario


def imported_result(tmp_path: Path, data: dict) -> dict:
    source = tmp_path / "in" / "measurement.json"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(json.dumps(data), encoding="utf-8")
    summary = import_measurements([source], tmp_path / "out")
    assert summary.bad == 0 and len(summary.paths) == 1
    report = json.loads(summary.paths[0].read_text(encoding="utf-8"))
    assert len(report["results"]) == 1
    return report["results"][0]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_kzprobe_gives_the_scenario_its_verdict(tmp_path, scenario: Scenario):
    result = imported_result(tmp_path, scenario.build())
    assert (result["verdict"], result["blocking"]) == (scenario.verdict, scenario.blocking), result["explanation"]
    assert (result["evidence"][0] if result["evidence"] else None) == scenario.evidence, result["evidence"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_oonis_own_verdict_is_kept_beside_kzprobes(tmp_path, scenario: Scenario):
    data = scenario.build()
    result = imported_result(tmp_path, data)
    kept = result["ooni"]["verdict"]
    for name, value in kept.items():
        assert data["test_keys"][name] == value
    assert kept, "OONI's verdict fields are kept"
    assert result["ooni"]["measurement_uid"] == data["measurement_uid"]
    assert result["ooni"]["report_id"] == data["report_id"]
