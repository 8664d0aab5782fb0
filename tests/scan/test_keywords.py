"""Which baselines carry a keyword target's word (read from what the scan measured), and that
scans without keyword targets do none of the keyword work."""

from __future__ import annotations

from typing import Any

import pytest

from kzprobe.probes.keyword import KeywordBase
from kzprobe.scan import job as scan_job
from kzprobe.scan.keywords import keyword_bases
from support import reports as f


def baseline(target_id: str, scheme: str = "https", scenario: str = "reachable") -> dict[str, Any]:
    result = f.measured_result(target_id, scenario, url=f"{scheme}://{target_id}.example/")
    result["target"]["baseline"] = "domestic"
    result["target"]["hostname"] = f"{target_id}.example"
    if scheme == "http":
        result["observations"].pop("tls", None)
        for tcp in result["observations"]["tcp"]:
            tcp["port"] = 80
    return result


@pytest.mark.parametrize(
    ("results", "plain", "tls"),
    [
        pytest.param([baseline("gov"), baseline("mirror", "http")],
                     KeywordBase("mirror", "mirror.example", f.WEB_ADDRESS, 80),
                     KeywordBase("gov", "gov.example", f.WEB_ADDRESS, 443), id="an http and an https baseline"),
        pytest.param([baseline("gov")], KeywordBase("gov", "gov.example", f.WEB_ADDRESS),
                     KeywordBase("gov", "gov.example", f.WEB_ADDRESS, 443), id="https only: its address on port 80"),
        pytest.param([baseline("gov", scenario="tls_reset"), baseline("kaspi")], KeywordBase(
            "kaspi", "kaspi.example", f.WEB_ADDRESS), KeywordBase("kaspi", "kaspi.example", f.WEB_ADDRESS, 443),
            id="the first that answered"),
        pytest.param([baseline("gov", scenario="tls_reset")], None, None, id="none answered"),
        pytest.param([f.measured_result("orda")], None, None, id="not a baseline"),
    ],
)
def test_the_bases_are_baselines_that_answered_in_this_scan(results, plain, tls):
    assert keyword_bases(results) == (plain, tls)


@pytest.mark.parametrize(("listed", "keyword_steps"), [
    pytest.param("  - url: https://orda.kz/\n", [], id="no keyword target: no keyword step"),
    pytest.param("  - url: https://orda.kz/\n  - keyword: guljan\n", [["keyword-guljan"]], id="one keyword target"),
])
def test_only_scans_with_keyword_targets_run_the_keyword_step(monkeypatch, tmp_path, listed, keyword_steps):
    from kzprobe.scan.settings import resolve_settings

    steps: list[list[str]] = []
    measured: list[list[str]] = []
    monkeypatch.setattr(scan_job, "measure_keyword_targets",
                        lambda kit, targets, results, record: steps.append([t.id for t in targets]))
    monkeypatch.setattr(scan_job, "measure_with_signals",
                        lambda kit, targets, concurrency, record, previous: measured.append([t.id for t in targets])
                        or True)
    targets = tmp_path / "t.yaml"
    targets.write_text("targets:\n" + listed, encoding="utf-8")
    settings = resolve_settings({"targets": [targets], "output_dir": tmp_path / "out", "processes": 1, "geo": False,
                                 "resolver": "127.0.0.1:53", "control_resolver": "none"}, None)
    scan_job.run_scan_job(settings)
    assert steps == keyword_steps
    assert measured == [["orda-kz"]]  # keyword targets never go through the web probes
