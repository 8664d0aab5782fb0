"""What trips a new user in the first hour (issue 15), each through the real CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kzprobe.cli.moments import MomentError, parse_moment
from kzprobe.errors import ExitCode
from support import reports as f

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


# --- times: ISO 8601 and "ago" everywhere ----------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("7d", NOW - timedelta(days=7)),
    ("12h", NOW - timedelta(hours=12)),
    ("2w", NOW - timedelta(weeks=2)),
    ("30m", NOW - timedelta(minutes=30)),
    (" 3D ", NOW - timedelta(days=3)),
    ("2026-01-04", datetime(2026, 1, 4, tzinfo=UTC)),
    ("2026-01-04T18:00", datetime(2026, 1, 4, 18, tzinfo=UTC)),
    ("2026-01-04T18:00+05:00", datetime(2026, 1, 4, 13, tzinfo=UTC)),
    ("2026-01-04T18:00:00Z", datetime(2026, 1, 4, 18, tzinfo=UTC)),
])
def test_a_time_is_iso_8601_or_a_time_ago(text, expected):
    assert parse_moment(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "7", "7y", "-7d", "d7", "", "99999999d", "2026-13-01"])
def test_anything_else_is_refused_saying_what_is_accepted(text):
    with pytest.raises(MomentError, match="ISO 8601|century"):
        parse_moment(text, NOW)


def _recent_reports(directory, hours_ago: list[int]):
    now = datetime.now(UTC).replace(microsecond=0)
    for hours in hours_ago:
        started = now - timedelta(hours=hours)
        f.write_json(directory / f"almaty-{hours}.json", f.kz_report(started_at=started))


@pytest.mark.parametrize("command", ["summary", "timeline", "export"])
def test_since_takes_a_time_ago_in_every_analyst_command(tmp_path, command):
    _recent_reports(tmp_path, [1, 30, 24 * 10])
    args = [command, tmp_path, "--since", "2d"] + (["--json"] if command == "timeline" else [])
    result = f.cli(*args)
    assert result.exit_code == 0, result.stderr
    everything = f.cli(*[a for a in args if a not in ("--since", "2d")])
    assert result.stdout != everything.stdout  # the 10-day-old scan was left out


def test_a_bad_time_names_the_option_and_the_accepted_forms(tmp_path):
    _recent_reports(tmp_path, [1])
    result = f.cli("summary", tmp_path, "--since", "last week")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "--since" in result.stderr and "7d" in result.stderr


# --- show: a sensible default ----------------------------------------------------------------

def test_show_without_an_argument_shows_the_results_latest_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f.write_json(tmp_path / "results" / "latest.json", f.kz_report(vantage="latest-copy"))
    result = f.cli("show")
    assert result.exit_code == 0, result.stderr
    assert "latest-copy" in result.stdout


def test_show_of_a_directory_shows_its_newest_scan_by_time_not_by_name(tmp_path):
    older = datetime(2022, 1, 5, tzinfo=UTC)
    f.write_json(tmp_path / "zzz.json", f.kz_report(vantage="older-scan", started_at=older))
    f.write_json(tmp_path / "aaa.json", f.kz_report(vantage="newer-scan", started_at=older + timedelta(hours=1)))
    result = f.cli("show", tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "newer-scan" in result.stdout and "older-scan" not in result.stdout


def test_show_with_nothing_scanned_yet_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = f.cli("show")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "kzprobe scan" in result.stderr


# --- an offline vantage: said once ------------------------------------------------------------

def test_an_offline_vantage_is_explained_once_with_what_to_check(tmp_path):
    results = [f.web_result(f"site-{n:02d}", "offline") for n in range(84)]
    for result in results:
        result.update(verdict="inconclusive", blocking=None, evidence=["connectivity.offline"],
                      explanation="nothing answered from this vantage, not even the baseline sites; "
                                  "the vantage was offline, so no failure here can be blamed on a censor.")
    path = f.write_json(tmp_path / "offline.json", f.report(results, connectivity="offline"))
    result = f.cli("show", path)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.count("vantage was offline") == 1
    assert "captive portal" in out and "DNS" in out
    assert "site-00" in out and "site-83" in out
    assert "no failure here can be blamed" not in out  # the per-target explanation is not repeated
    assert len(out.splitlines()) < 25


# --- progress and the closing line -------------------------------------------------------------

def test_the_closing_line_names_the_blocked_targets():
    from pathlib import Path

    from kzprobe.cli.commands_scan import _summary_line

    report = f.kz_report()
    line = _summary_line(report, Path("results/x.json"))
    blocked = [r["target"]["id"] for r in report["results"] if r["verdict"] == "blocked"]
    assert blocked and f"blocked: {', '.join(blocked)};" in line
    many = f.report([f.web_result(f"site-{n:02d}", "tls_reset") for n in range(15)])
    assert "site-09 and 5 more;" in _summary_line(many, Path("r.json"))


@pytest.mark.parametrize(("scenario", "failed"), [
    ("reachable", False), ("tls_reset", True), ("dns_nxdomain", True), ("tcp_timeout", True), ("throttled", False),
    ("blockpage", False),  # a page came back: only the analysis can say it is a blockpage
])
def test_the_progress_hint_counts_pages_that_did_not_load(scenario, failed):
    from kzprobe.cli.commands_scan import did_not_load

    assert did_not_load(f.measured_result("x", scenario)) is failed


def test_the_progress_hint_counts_a_service_with_a_failing_endpoint():
    from kzprobe.cli.commands_scan import did_not_load

    assert did_not_load(f.service_result(failing={"149.154.167.51": "generic_timeout_error"}))
    assert not did_not_load(f.service_result(failing={}))


# --- help that fits ----------------------------------------------------------------------------

@pytest.mark.parametrize("group", [[], ["targets"], ["lab"], ["config"]])
def test_help_lists_every_command_with_a_whole_one_line_summary(group, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = f.cli(*group, "--help")
    assert result.exit_code == 0
    commands = result.stdout.split("Commands:")[1].splitlines()
    assert commands and all(line.strip() for line in commands[1:] if line)
    for line in commands:
        assert "..." not in line and len(line) <= 80, line
