"""`kzprobe summary`: targets × scans, one compact cell each; grouped when scans are many."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from kzprobe.errors import ExitCode
from support import reports as f


@pytest.fixture
def three_scans(tmp_path):
    """Almaty online, Shymkent cut off from abroad (incomplete), and the lab."""
    f.write_json(tmp_path / "c.json", f.kz_report())
    cut = f.kz_report(vantage="shymkent-home", asn="AS206026", started_at=f.START + timedelta(hours=1),
                      connectivity="international_cut", complete=False)
    cut["results"] = cut["results"][:4]
    f.write_json(tmp_path / "a.json", cut)
    f.write_json(tmp_path / "b.json", f.lab_report(started_at=f.START + timedelta(hours=2)))
    return tmp_path


def _cells(out: str, target: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith(target + " "))
    return line.split()[1:]


def test_one_column_per_scan_in_time_order_with_connectivity(three_scans):
    result = f.cli("summary", three_scans)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    header = out.splitlines()
    assert header[0].split() == ["almaty-vps", "shymkent-home", "lab"]  # by time, not by file name
    assert header[1].split() == ["01-05"] * 3
    assert header[2].split() == ["10:00", "11:00", "12:00"]
    assert _cells(out, "connectivity") == ["online", "CUT", "online"]
    assert _cells(out, "orda-kz") == ["NEWS", "tls", "tls", "-"]
    assert _cells(out, "youtube-com") == ["MMED", "slow", "-", "-"]
    assert _cells(out, "dead-site-kz") == ["NEWS", "down", "-", "-"]
    assert _cells(out, "unknown-kz") == ["NEWS", "?", "-", "-"]
    assert _cells(out, "livejournal-com") == ["HOST", "dns", "dns", "-"]
    assert _cells(out, "lab-throttled") == ["-", "-", "slow"]  # lab targets have no category
    assert header[3].split() == ["Target", "Cat", "INCOMPLETE"]
    assert "16 targets × 3 scans from 3 vantages" in out and "(times UTC)" in out
    assert "ok reachable" in out  # the legend


def test_filters_by_category_verdict_and_target(three_scans):
    out = f.cli("summary", three_scans, "--category", "host").stdout
    shown = {line.split()[0] for line in out.splitlines()[4:] if line.strip()}
    assert shown >= {"livejournal-com", "qaznet-intercepted"}
    assert "orda-kz" not in out
    out = f.cli("summary", three_scans, "--verdict", "throttled").stdout
    assert "youtube-com" in out and "lab-throttled" in out and "orda-kz" not in out
    out = f.cli("summary", three_scans, "--target", "lab-*", "--vantage", "lab").stdout
    assert out.splitlines()[0].split() == ["01-05"]  # one vantage: named under the table
    assert "INCOMPLETE" not in out and "6 targets × 1 scans from vantage lab" in out


def test_many_scans_are_grouped_by_the_shortest_period_that_fits(tmp_path):
    f.write_january_2022(tmp_path, vantages=("almaty-vps", "astana-home"))
    out = f.cli("summary", tmp_path, "--max-columns", "4").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["almaty-vps", "astana-home", "almaty-vps", "astana-home"]
    assert lines[1].split() == ["2022-W01", "2022-W01", "2022-W02", "2022-W02"]
    # 3-9 Jan (ISO week 1): 168 hourly scans, offline from 5 Jan 11:00.
    assert "168 scans" in lines[2]
    assert _cells(out, "connectivity") == ["off", "109/168", "off", "109/168", "off", "9", "cut", "18/48", "off", "9",
                                           "cut", "18/48"]
    assert _cells(out, "tengrinews-kz") == ["NEWS", "net", "109/168", "net", "109/168", "ok", "39/48", "ok", "39/48"]
    assert "columns group them by vantage and week" in out
    assert "--csv gives every scan" in out


def test_days_are_used_when_they_fit(tmp_path):
    f.write_january_2022(tmp_path, hours=72)
    out = f.cli("summary", tmp_path).stdout
    assert out.splitlines()[0].split() == ["2022-01-03", "2022-01-04", "2022-01-05"]
    # Messengers cut at 14:00 on 4 Jan: that day's cell is mixed, the most frequent state first.
    assert _cells(out, "telegram") == ["COMM", "ok", "ok", "14/24", "tcp"]


def test_too_many_vantages_for_a_terminal_asks_for_filters(tmp_path):
    for number in range(5):
        f.write_json(tmp_path / f"{number}.json", f.kz_report(vantage=f"vantage-{number}"))
    result = f.cli("summary", tmp_path, "--max-columns", "3")
    assert result.exit_code == 0
    assert "too many columns for a terminal even one per vantage" in result.stdout
    assert "--vantage" in result.stdout and "--csv" in result.stdout


def test_csv_is_the_full_matrix(three_scans):
    result = f.cli("summary", three_scans, "--csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["target", "category", "almaty-vps 2022-01-05T10:00:00Z",
                       "shymkent-home 2022-01-05T11:00:00Z", "lab 2022-01-05T12:00:00Z"]
    assert rows[1] == ["(connectivity)", "", "online", "international_cut", "online"]
    assert rows[2] == ["(complete)", "", "true", "false", "true"]
    by_target = {row[0]: row[1:] for row in rows[3:]}
    assert by_target["orda-kz"] == ["NEWS", "blocked/tls", "blocked/tls", ""]
    assert by_target["youtube-com"] == ["MMED", "throttled/tls", "", ""]
    assert by_target["lab-control"] == ["", "", "", "reachable"]
    assert len(by_target) == 16


def test_csv_every_scan_even_when_many(tmp_path):
    f.write_january_2022(tmp_path, hours=30)
    rows = list(csv.reader(io.StringIO(f.cli("summary", tmp_path, "--csv").stdout)))
    assert len(rows[0]) == 2 + 30
    assert rows[0][2] == "almaty-vps 2022-01-03T00:00:00Z" and rows[0][-1] == "almaty-vps 2022-01-04T05:00:00Z"


def test_csv_cells_from_files_cannot_be_formulas(tmp_path):
    made = f.kz_report()
    made["results"][0]["target"]["id"] = "=HYPERLINK(\"http://evil\",\"x\")"
    made["results"][0]["target"]["category"] = "@SUM(1)"
    made["vantage"]["name"] = "-evil"
    f.write_json(tmp_path / "r.json", made)
    rows = list(csv.reader(io.StringIO(f.cli("summary", tmp_path, "--csv").stdout)))
    assert rows[3][:2] == ["'=HYPERLINK(\"http://evil\",\"x\")", "'@SUM(1)"]
    assert rows[0][2].startswith("'-evil")


def test_bad_files_are_named_on_stderr_and_skipped(three_scans):
    (three_scans / "z-broken.json").write_text("{\"format\": \"kzprobe-report\"")
    (three_scans / "y-foreign.json").write_text("{\"hello\": 1}")
    result = f.cli("summary", three_scans)
    assert result.exit_code == 0
    assert re.search(r"skipped .*z-broken\.json: truncated JSON", result.stderr)
    assert re.search(r"skipped .*y-foreign\.json: not a kzprobe report", result.stderr)
    assert "16 targets × 3 scans" in result.stdout


def test_strict_makes_a_bad_file_fatal(three_scans):
    (three_scans / "z-broken.json").write_text("[]")
    result = f.cli("summary", three_scans, "--strict")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "z-broken.json: not a kzprobe report" in result.stderr


@pytest.mark.parametrize(
    "files, message",
    [({}, "no report found"), ({"bad.json": "[]"}, "no readable report (1 file(s) skipped)")],
)
def test_no_readable_report_is_bad_input(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = f.cli("summary", tmp_path)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert message in result.stderr


def test_a_time_filter_that_matches_nothing_says_so(three_scans):
    result = f.cli("summary", three_scans, "--since", "2030-01-01")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "no report matches --vantage/--since/--until" in result.stderr


def test_many_columns_stay_readable_dates_said_once(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "240")
    f.write_january_2022(tmp_path, hours=20)
    out = f.cli("summary", tmp_path, "--max-columns", "20").stdout
    lines = out.splitlines()
    date_line, time_line = lines[0].split(), lines[1].split()
    assert date_line == ["01-03"]  # the date once, where it changes, not repeated or stacked per column
    assert time_line == ["Target", "Cat", *[f"{hour:02d}:00" for hour in range(20)]]
    assert "from vantage almaty-vps, 2022-01-03T00:00:00Z" in out


def test_more_columns_than_the_terminal_fits_are_held_to_what_fits(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    f.write_january_2022(tmp_path, hours=20)
    out = f.cli("summary", tmp_path, "--max-columns", "20").stdout
    assert "--max-columns 20: a 100-character wide table shows" in out
    assert "group them by vantage and" in out  # grouped into what fits instead of folded
    headings = [line for line in out.splitlines()[:4]]
    assert not any(piece in ("-vps", "Z", "1-04") for line in headings for piece in line.split())
