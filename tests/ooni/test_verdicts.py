"""kzprobe's verdict on OONI measurements: one row per scenario of tests/support/ooni_scenarios.py, each
imported through the real import (files on disk, reports written) and judged by kzprobe's rules."""

from __future__ import annotations

import pytest

from support.ooni_import import imported_result
from support.ooni_scenarios import SCENARIOS, Scenario


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
