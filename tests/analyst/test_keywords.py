"""Analyst commands show a keyword target as `keyword: WORD`, through the real CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest

from support import reports as f


def keyword_result(verdict: str, blocking: str | None, evidence: list[str]) -> dict:
    return {"target": {"id": "keyword-guljan", "keyword": "guljan", "name": "The word Guljan", "category": "POLR"},
            "verdict": verdict, "blocking": blocking, "evidence": evidence,
            "explanation": "The word 'guljan' was tried on baseline gov-kz (192.0.2.8).", "control": None,
            "observations": {"keyword": []}, "started_at": f.iso(f.START), "duration_ms": 90.0}


@pytest.fixture
def two_scans(tmp_path):
    first = f.report([f.web_result("orda-kz"), keyword_result("reachable", None, [])])
    later = f.START + timedelta(hours=1)
    second = f.report([f.web_result("orda-kz"), keyword_result("blocked", "http", ["keyword.path"])],
                      started_at=later)
    second["results"][1]["started_at"] = f.iso(later)
    return f.write_json(tmp_path / "a.json", first), f.write_json(tmp_path / "b.json", second)


@pytest.mark.parametrize("command", ["show", "summary", "timeline", "compare", "export"])
def test_the_target_is_shown_as_its_word(two_scans, command):
    a, b = two_scans
    args = {"show": [b], "summary": [a, b], "timeline": [a, b], "compare": [a, b], "export": [b]}[command]
    result = f.cli(command, *args)
    assert result.exit_code == 0, result.stderr
    assert "keyword: guljan" in result.stdout
