"""`kzprobe show` and render_report: one report, truthful about where, when and how complete."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from kzprobe.analyst.render import render_report
from kzprobe.errors import ExitCode
from support import reports as f


@pytest.fixture
def kz_file(tmp_path):
    return f.write_json(tmp_path / "kz.json", f.kz_report())


def _rows(stdout: str) -> dict[str, str]:
    """Table rows by target id (first word of the line)."""
    return {line.split()[0]: line for line in stdout.splitlines() if line.strip() and line.split()[0].islower()}


def test_show_prints_the_header_one_row_per_target_and_the_counts(kz_file):
    result = f.cli("show", kz_file)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "almaty-vps · AS9198 · KZ" in out
    assert "2022-01-05T10:00:00Z to 2022-01-05T10:01:00Z" in out
    assert re.search(r"Connectivity\s+online", out)
    assert re.search(r"Report\s+complete", out)
    rows = _rows(out)
    assert re.search(r"orda-kz\s+NEWS\s+blocked\s+tls\s+tls\.reset\s+TLS handshake to 198\.51\.100\.10 was reset",
                     rows["orda-kz"])
    assert re.search(r"tengrinews-kz\s+NEWS\s+reachable\s+DNS, TLS and HTTP worked", rows["tengrinews-kz"])
    assert re.search(r"youtube-com\s+MMED\s+throttled\s+tls\s+throughput\.low", rows["youtube-com"])
    assert "10 targets: 1 reachable · 6 blocked · 1 throttled · 1 down · 1 inconclusive" in out


def test_a_service_target_is_one_line_naming_its_failing_endpoints(tmp_path):
    failing = {"149.154.167.51": "generic_timeout_error", "149.154.175.50": "connection_reset",
               "149.154.171.5": "generic_timeout_error", "149.154.167.91": "connection_refused"}
    path = f.write_json(tmp_path / "r.json", f.report([f.service_result(failing=failing)]))
    out = " ".join(f.cli("show", path).stdout.split())  # the explanation column may wrap
    assert ("telegram COMM blocked tcp tcp.timeout 4/5 endpoints fail: tcp.reset on 149.154.175.50:443, "
            "tcp.timeout on 149.154.167.51:443, tcp.refused on 149.154.167.91:443, …") in out


def test_an_incomplete_report_says_so_before_and_after_the_table(tmp_path):
    path = f.write_json(tmp_path / "r.json", f.kz_report(complete=False))
    out = f.cli("show", path).stdout
    assert "INCOMPLETE (the scan was interrupted" in out.splitlines()[0]
    assert out.rstrip().splitlines()[-1].startswith("INCOMPLETE: the scan stopped")
    assert "(no finish time)" in out


def test_a_journal_is_shown_as_incomplete_measurements(tmp_path):
    path = f.write_journal(tmp_path / "scan.json.journal.jsonl", f.kz_report(), cut_last_line_at=30)
    result = f.cli("show", path)
    assert result.exit_code == 0, result.stderr
    assert "INCOMPLETE (read from the scan journal" in result.stdout
    assert "9 targets" in result.stdout


def test_hostile_strings_are_shown_as_text_never_as_markup_or_escapes(tmp_path):
    made = f.kz_report()
    made["vantage"]["name"] = f.HOSTILE_TITLE
    made["results"][0]["explanation"] = f.HOSTILE_TITLE
    made["results"][1]["target"]["id"] = "[red]fake[/red]\x1b[31m"
    path = f.write_json(tmp_path / "r.json", made)
    out = f.cli("show", path).stdout
    assert "\x1b" not in out and "\u202e" not in out
    assert out.count("[bold red]x[/]evil") == 2
    assert "[red]fake[/red]" in out


def test_render_report_on_a_colour_console_with_markup_on_emits_no_foreign_escape(tmp_path):
    """The scan command's console keeps rich's defaults (markup, emoji): still nothing is interpreted."""
    made = f.kz_report()
    made["results"][0]["explanation"] = f.HOSTILE_TITLE + " :warning:"
    made["vantage"]["name"] = "[link=http://evil.example]vps[/link]"
    out = io.StringIO()
    render_report(made, Console(file=out, force_terminal=True, color_system="256", width=160))
    text = out.getvalue()
    escapes = set(re.findall(r"\x1b[^m]*m|\x1b.", text))
    assert escapes and all(e.startswith("\x1b[") and e.endswith("m") for e in escapes), escapes
    assert "[bold red]x[/]" in text and ":warning:" in text
    assert "[link=http://evil.example]vps[/link]" in text


def test_a_narrow_terminal_gets_two_lines_per_target(kz_file, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = f.cli("show", kz_file).stdout
    lines = out.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("orda-kz"))
    assert "blocked" in lines[index] and "tls.reset" in lines[index]
    assert lines[index + 1].strip().startswith("TLS handshake to 198.51.100.10 was reset")
    assert all(len(line.rstrip()) <= 80 for line in lines)


def test_filters_keep_the_counts_of_the_whole_scan(kz_file):
    out = f.cli("show", kz_file, "--verdict", "blocked", "--category", "host").stdout
    assert set(_rows(out)) == {"livejournal-com", "qaznet-intercepted"}
    assert "10 targets (2 shown)" in out


def test_json_gives_the_verdict_fields(kz_file):
    result = f.cli("show", kz_file, "--json")
    data = json.loads(result.stdout)
    assert data["report"]["vantage"] == {"name": "almaty-vps", "asn": "AS9198", "country": "KZ"}
    assert data["report"]["complete"] is True
    assert data["report"]["summary"] == {"reachable": 1, "blocked": 6, "throttled": 1, "down": 1, "inconclusive": 1}
    first = data["results"][0]
    assert first == {"target": "orda-kz", "category": "NEWS", "url": "https://orda-kz.example/", "verdict": "blocked",
                     "blocking": "tls", "evidence": ["tls.reset"],
                     "explanation": f.SCENARIOS["tls_reset"]["explanation"]}
    telegram = data["results"][-1]
    assert telegram["endpoints"] == {"total": 5, "failing": [{"code": "tcp.timeout", "where": "149.154.167.51:443"}]}


def test_json_escapes_control_characters(tmp_path):
    made = f.kz_report()
    made["results"][0]["explanation"] = f.HOSTILE_TITLE
    out = f.cli("show", f.write_json(tmp_path / "r.json", made), "--json").stdout
    assert "\x1b" not in out and "\\u001b[2J" in out
    assert json.loads(out)["results"][0]["explanation"] == f.HOSTILE_TITLE


@pytest.mark.parametrize(
    "content, reason",
    [("{", "truncated JSON"), ('{"format": "x"}', "not a kzprobe report"),
     (json.dumps({**f.kz_report(), "format_version": 2}), "written by a newer kzprobe")],
)
def test_an_unreadable_report_exits_with_bad_input_and_the_reason(tmp_path, content, reason):
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = f.cli("show", path)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert f"{path}: {reason}" in result.stderr
    assert result.stdout == ""


def test_an_unknown_verdict_filter_is_bad_input(kz_file):
    result = f.cli("show", kz_file, "--verdict", "banned")
    assert result.exit_code == ExitCode.BAD_INPUT and "unknown verdict" in result.stderr


def test_render_report_says_why_a_broken_report_cannot_be_shown():
    made = f.kz_report()
    made["results"][0]["verdict"] = "\x1b[2Jbanned"
    out = io.StringIO()
    render_report(made, Console(file=out, width=120))
    text = out.getvalue()
    assert text.startswith("The report cannot be shown: \"results[0].verdict\" is '\\x1b[2Jbanned'")
    assert "\x1b" not in text
