"""`kzprobe export`: one flat row per target per scan, ready for pandas, DuckDB or a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from kzprobe.analyst.export import COLUMNS
from kzprobe.errors import ExitCode
from support import reports as f


@pytest.fixture
def scans(tmp_path):
    f.write_json(tmp_path / "z-first.json", f.kz_report())
    f.write_json(tmp_path / "a-second.json", f.lab_report(started_at=f.START + timedelta(hours=1)))
    return tmp_path


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_has_one_row_per_target_per_scan_in_time_order(scans):
    result = f.cli("export", scans, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = _csv_rows(result.stdout)
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == 10 + 6
    assert [row["vantage"] for row in rows[:10]] == ["almaty-vps"] * 10 and rows[-1]["vantage"] == "lab"
    orda = rows[0]
    assert {key: orda[key] for key in ("scan_started_at", "asn", "country", "connectivity", "target", "category",
                                        "verdict", "blocking", "evidence", "tls_failure", "tcp_connect_ms",
                                        "dns_ms")} == {
        "scan_started_at": "2022-01-05T10:00:00Z", "asn": "AS9198", "country": "KZ", "connectivity": "online",
        "target": "orda-kz", "category": "NEWS", "verdict": "blocked", "blocking": "tls", "evidence": "tls.reset",
        "tls_failure": "connection_reset", "tcp_connect_ms": "31.4", "dns_ms": "13.1",
    }


def test_key_timings_and_throughput_come_from_the_observations(scans):
    rows = {row["target"]: row for row in _csv_rows(f.cli("export", scans).stdout) if row["vantage"] == "almaty-vps"}
    assert rows["tengrinews-kz"]["download_kbps"] == "2400.0"
    assert rows["tengrinews-kz"]["http_status"] == "200" and rows["tengrinews-kz"]["http_first_byte_ms"] == "120.5"
    assert rows["tengrinews-kz"]["tls_version"] == "TLSv1.3"
    assert rows["youtube-com"]["download_kbps"] == "12.0" and rows["youtube-com"]["download_stall_ms"] == "900.0"
    assert (
        rows["livejournal-com"]["dns_failure"] == "dns_nxdomain_error"
        and rows["livejournal-com"]["tcp_connect_ms"] == ""
    )
    # The IPv6 attempt failing with network_unreachable is the vantage lacking IPv6, not the telling failure.
    assert rows["dead-site-kz"]["tcp_failure"] == "connection_refused"
    assert rows["ca-news-info"]["http_title"] == "Доступ ограничен" and rows["ca-news-info"]["http_status"] == "403"
    assert rows["telegram"]["endpoints_total"] == "5" and rows["telegram"]["endpoints_failing"] == "1"
    assert rows["orda-kz"]["endpoints_total"] == ""


def test_jsonl_keeps_types_and_evidence_lists(scans):
    lines = f.cli("export", scans, "-f", "jsonl").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 16 and list(rows[0]) == list(COLUMNS)
    unknown = next(row for row in rows if row["target"] == "unknown-kz")
    assert unknown["evidence"] == ["control.missing", "tls.timeout"]
    assert unknown["scan_complete"] is True and unknown["duration_ms"] == 812.0 and unknown["blocking"] is None


def test_filters_apply(scans):
    rows = _csv_rows(f.cli("export", scans, "--verdict", "throttled").stdout)
    assert {row["target"] for row in rows} == {"youtube-com", "lab-throttled"}
    rows = _csv_rows(f.cli("export", scans, "--vantage", "lab", "--target", "*tls*").stdout)
    assert [row["target"] for row in rows] == ["lab-tls-reset"]


def test_hostile_cells_are_cleaned_and_cannot_be_formulas(tmp_path):
    made = f.kz_report()
    made["results"][0]["explanation"] = "=cmd|' /C calc'!A0"
    made["results"][1]["explanation"] = f.HOSTILE_TITLE
    made["results"][2]["observations"]["http"][0]["title"] = "+SUM(1)\x1b]0;x\x07"
    f.write_json(tmp_path / "r.json", made)
    text = f.cli("export", tmp_path).stdout
    assert "\x1b" not in text and "\u202e" not in text
    rows = _csv_rows(text)
    assert rows[0]["explanation"] == "'=cmd|' /C calc'!A0"
    assert rows[1]["explanation"] == "[bold red]x[/]evil"
    assert rows[2]["http_title"] == "'+SUM(1)"
    jsonl = f.cli("export", tmp_path, "-f", "jsonl").stdout
    assert "\x1b" not in jsonl and json.loads(jsonl.splitlines()[1])["explanation"] == f.HOSTILE_TITLE


def test_output_file_is_written_whole(scans, tmp_path):
    out = tmp_path / "out" / "all.csv"
    out.parent.mkdir()
    result = f.cli("export", scans, "-o", out)
    assert result.exit_code == 0
    assert "16 rows from 2 scans written to" in result.stderr
    assert len(_csv_rows(out.read_text())) == 16
    assert [p.name for p in out.parent.iterdir()] == ["all.csv"]  # no temporary file left


def test_a_failed_export_leaves_an_existing_output_alone(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.json").write_text("[]")
    out = tmp_path / "previous.csv"
    out.write_text("previous export\n")
    result = f.cli("export", tmp_path / "in", "-o", out)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert out.read_text() == "previous export\n"
    assert {p.name for p in tmp_path.iterdir()} == {"in", "previous.csv"}  # no temporary file left


def test_an_unknown_format_is_bad_input(scans):
    result = f.cli("export", scans, "--format", "xlsx")
    assert result.exit_code == ExitCode.BAD_INPUT and "csv, jsonl" in result.stderr


def test_strict_stops_at_a_bad_file(scans):
    (scans / "m-broken.json").write_text('{"format": "kzprobe-report", "format_version": 1, "complete": tr')
    result = f.cli("export", scans)
    assert result.exit_code == 0 and "m-broken.json: truncated JSON" in result.stderr
    result = f.cli("export", scans, "--strict")
    assert result.exit_code == ExitCode.BAD_INPUT


def test_time_queued_behind_the_scan_is_exported_apart(tmp_path):
    made = f.kz_report()
    made["results"][0]["duration_ms"], made["results"][0]["queued_ms"] = 2400.0, 1900.0
    f.write_json(tmp_path / "queued.json", made)
    for _ in range(2):  # read, then from the digest cache: the field survives both
        rows = [json.loads(line) for line in f.cli("export", tmp_path, "-f", "jsonl").stdout.splitlines()]
        first = next(row for row in rows if row["target"] == made["results"][0]["target"]["id"])
        assert (first["duration_ms"], first["queued_ms"]) == (2400.0, 1900.0)
        assert all(row["queued_ms"] is None for row in rows if row is not first)
