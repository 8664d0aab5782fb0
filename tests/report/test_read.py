"""report_reader: a file is a checked report or a ReportError naming it and saying why."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from kzprobe.report import head as report_head
from kzprobe.report import read as rr
from support import reports as f


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_a_full_report_is_read_as_written(tmp_path):
    written = f.kz_report()
    report = rr.read_report(f.write_json(tmp_path / "scan.json", written))
    assert report == written


def test_a_lab_report_without_asn_or_country_is_read(tmp_path):
    report = rr.read_report(f.write_json(tmp_path / "lab.json", f.lab_report()))
    assert report["vantage"] == {"name": "lab", "asn": None, "country": None}


def test_bytes_fetched_elsewhere_are_checked_the_same_way():
    data = json.dumps(f.kz_report()).encode()
    assert rr.parse_report(data, "https://control.example/latest.json")["vantage"]["name"] == "almaty-vps"
    with pytest.raises(rr.ReportError) as caught:
        rr.parse_report(b'{"format": "other"}', "https://control.example/latest.json")
    assert caught.value.path == "https://control.example/latest.json"


def _mutated(change) -> str:
    report = f.kz_report()
    change(report)
    return json.dumps(report)


# One row per way a file can fail to be a report: the text, and words the reason must contain.
BROKEN_FILES = [
    ("empty", "", "empty file"),
    ("truncated", json.dumps(f.kz_report())[:5000], "truncated JSON"),
    ("truncated in a literal", '{"format": "kzprobe-report", "complete": tr', "truncated JSON"),
    ("truncated in a string", '{"format": "kzprobe-rep', "truncated JSON"),
    ("malformed", '{"format": "kzprobe-report",, }', "malformed JSON"),
    ("not an object", "[1, 2, 3]", "a JSON array, not an object"),
    ("foreign format", json.dumps({"format": "ooni", "measurement": {}}), "not a kzprobe report"),
    ("no format at all", json.dumps({"results": []}), '"format" is missing'),
    ("future version", _mutated(lambda r: r.update(format_version=2)), "written by a newer kzprobe"),
    ("version as text", _mutated(lambda r: r.update(format_version="1")), "format_version"),
    ("version zero", _mutated(lambda r: r.update(format_version=0)), "format_version"),
    ("complete as text", _mutated(lambda r: r.update(complete="yes")), '"complete" must be a JSON boolean'),
    ("no start time", _mutated(lambda r: r.pop("started_at")), '"started_at" is missing'),
    ("start time without zone", _mutated(lambda r: r.update(started_at="2022-01-05T10:00:00")), "time zone"),
    ("start time nonsense", _mutated(lambda r: r.update(started_at="yesterday")), "ISO 8601"),
    ("vantage as text", _mutated(lambda r: r.update(vantage="almaty")), '"vantage" must be a JSON object'),
    ("vantage without name", _mutated(lambda r: r["vantage"].pop("name")), '"vantage.name" is missing'),
    ("unknown connectivity", _mutated(lambda r: r.update(connectivity="partial")), "connectivity"),
    ("results as object", _mutated(lambda r: r.update(results={})), '"results" must be a JSON array'),
    ("result as text", _mutated(lambda r: r["results"].append("x")), "results[10] must be an object"),
    ("target id as number", _mutated(lambda r: r["results"][0]["target"].update(id=7)), "results[0].target.id"),
    ("duplicate target", _mutated(lambda r: r["results"].append(r["results"][0])), "appears twice"),
    ("unknown verdict", _mutated(lambda r: r["results"][1].update(verdict="banned")), "results[1].verdict"),
    ("no verdict", _mutated(lambda r: r["results"][1].pop("verdict")), '"results[1].verdict" is missing'),
    ("unknown layer", _mutated(lambda r: r["results"][0].update(blocking="bgp")), "results[0].blocking"),
    ("evidence as text", _mutated(lambda r: r["results"][0].update(evidence="tls.reset")), "evidence"),
    ("evidence of numbers", _mutated(lambda r: r["results"][0].update(evidence=[1])), "list of strings"),
    ("version beyond 64 bits", _mutated(lambda r: r.update(format_version=10**30)), "format_version"),
    ("NaN", '{"format": "kzprobe-report", "format_version": NaN}', "NaN is not valid JSON"),
    ("too deep", "[" * 100000 + "]" * 100000, "nested too deeply"),
    ("not UTF-8", b'{"format": "\xff\xfe"}', "UTF-8"),
]


@pytest.mark.parametrize("name, text, reason", BROKEN_FILES, ids=[row[0] for row in BROKEN_FILES])
def test_a_broken_file_is_refused_with_its_name_and_reason(tmp_path, name, text, reason):
    path = _write(tmp_path / "broken.json", text)
    with pytest.raises(rr.ReportError) as caught:
        rr.read_report(path)
    assert caught.value.path == str(path)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}: ")


@pytest.mark.parametrize(("name", "text", "by_orjson"), [
    ("plain", json.dumps(f.kz_report()), True),
    ("a lone surrogate escape", json.dumps(f.kz_report(vantage="almaty\udc00")), False),
    ("a byte order mark", "\ufeff" + json.dumps(f.kz_report()), False),
    ("a number too large for a float", json.dumps(f.kz_report()).replace('"verdict": ', '"big": 1e400, "verdict": '),
     False),
])
def test_what_orjson_refuses_the_standard_library_reads_as_kzprobe_always_has(name, text, by_orjson):
    """orjson parses reports fast; a report it refuses is read by json, the reader of old, and
    the caller learns which (a lone surrogate is possible only then)."""
    data = text.encode("utf-8")
    report, strict = rr.parse_report_strictly(data, "x.json")
    assert strict is by_orjson
    assert report == json.loads(data.decode("utf-8-sig"))


def test_the_future_version_message_tells_what_to_do(tmp_path):
    path = f.write_json(tmp_path / "new.json", {**f.kz_report(), "format_version": 3})
    with pytest.raises(rr.ReportError, match="version 3; this kzprobe reads version 1.*upgrade"):
        rr.read_report(path)


def test_a_file_over_the_size_cap_is_refused_without_being_read(tmp_path, monkeypatch):
    path = f.write_json(tmp_path / "huge.json", f.kz_report())
    monkeypatch.setattr(rr, "MAX_REPORT_BYTES", 1000)
    with pytest.raises(rr.ReportError, match="larger than"):
        rr.read_report(path)


@pytest.mark.parametrize(("size", "said", "limit", "read"), [
    (5000, 5000, 10_000, 5000),  # the usual file: as long as its size says
    (5000, 5000, 3000, 3000),  # longer than the limit: the limit
    (5000, 2000, 10_000, 5000),  # grown since its size was asked: read to its end all the same
    (5000, 2000, 4000, 4000),  # grown past the limit: the limit, which tells the caller
])
def test_a_file_is_read_to_its_end_or_the_limit_whatever_size_it_said(tmp_path, monkeypatch, size, said, limit,
                                                                       read):
    path = tmp_path / "r.json"
    path.write_bytes(b"x" * size)
    real = os.fstat
    monkeypatch.setattr(rr.os, "fstat", lambda fd: os.stat_result((*real(fd)[:6], said, *real(fd)[7:])))
    with rr.open_regular_file(path) as handle:
        assert len(rr.read_at_most(handle, limit)) == read


def test_a_fifo_named_like_a_report_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "trap.json"
    os.mkfifo(fifo)
    # A plain open() of a FIFO without a writer blocks forever: fail the test instead of hanging.
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("reading a FIFO blocked"))
    signal.alarm(5)
    try:
        with pytest.raises(rr.ReportError, match="not a regular file"):
            rr.read_report(fifo)
        problems: list[rr.ReportError] = []
        assert list(rr.iter_reports([tmp_path], strict=False, on_problem=problems.append)) == []
        assert [p.reason for p in problems] == ["not a regular file"]
    finally:
        signal.alarm(0)


def test_unknown_fields_are_ignored_for_forward_compatibility(tmp_path):
    report = {**f.kz_report(), "new_top_level_field": {"x": 1}}
    report["results"][0]["new_result_field"] = [1, 2]
    assert rr.read_report(f.write_json(tmp_path / "r.json", report))["new_top_level_field"] == {"x": 1}


# --- the header, from the first bytes -------------------------------------------------------

LEADING_FIELDS = [
    # name, text, members yielded, then stops cleanly (True) or raises ValueError (False)
    ("stops at results", '{"a": 1, "results": [], "b": 2}', [("a", 1)], True),
    ("whole object", ' {"a": 1 , "b": [1, 2] }', [("a", 1), ("b", [1, 2])], True),
    ("empty object", "{}", [], True),
    ("trailing comma", '{"a": 1,}', [("a", 1)], True),
    ("a key given twice is passed on", '{"a": 1, "a": 2}', [("a", 1), ("a", 2)], True),
    ("cut in a value", '{"a": 1, "b": "x', [("a", 1)], False),
    ("cut after a colon", '{"a": 1, "b":', [("a", 1)], False),
    ("no comma between members", '{"a": 1 "b": 2}', [("a", 1)], False),
    ("not an object", "[1, 2]", [], False),
    ("a key that is not a string", "{1: 2}", [], False),
]


@pytest.mark.parametrize("name, text, members, clean", LEADING_FIELDS, ids=[row[0] for row in LEADING_FIELDS])
def test_leading_fields_yield_the_members_before_results(name, text, members, clean):
    seen: list[tuple[str, object]] = []
    try:
        for member in report_head.leading_fields(text):
            seen.append(member)
    except ValueError:
        assert not clean, name
    else:
        assert clean, name
    assert seen == members


def test_a_peek_is_none_when_unsure_and_never_waits_on_a_fifo(tmp_path):
    (tmp_path / "cut.json").write_text('{"format": "kzprobe-report", "started_at": "2026-')
    os.mkfifo(tmp_path / "trap.json")
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("peeking at a FIFO blocked"))
    signal.alarm(5)
    try:
        assert report_head.peek_header(tmp_path / "cut.json") is None
        assert report_head.peek_header(tmp_path / "trap.json") is None
        assert report_head.read_head(tmp_path / "trap.json", 16) is None
    finally:
        signal.alarm(0)


# --- journals -------------------------------------------------------------------------------


def test_a_journal_reads_as_an_incomplete_report_of_measurements(tmp_path):
    path = f.write_journal(tmp_path / "scan.json.journal.jsonl", f.kz_report())
    report = rr.read_journal(path)
    assert report["complete"] is False
    assert report["finished_at"] is None
    assert report["format"] == "kzprobe-report"
    assert [r["target"]["id"] for r in report["results"]] == [r["target"]["id"] for r in f.kz_report()["results"]]
    assert all("type" not in r and "verdict" not in r for r in report["results"])
    assert rr.read_report(path) == report  # read_report recognises the suffix


def test_a_journal_cut_in_its_last_line_keeps_every_whole_line(tmp_path):
    path = f.write_journal(tmp_path / "j.journal.jsonl", f.kz_report(), cut_last_line_at=40)
    report = rr.read_journal(path)
    assert len(report["results"]) == len(f.kz_report()["results"]) - 1


# Damaged journals: the content, and words of the reason.
BROKEN_JOURNALS = [
    ("empty", "", "empty journal"),
    ("no scan line", '{"type": "result", "target": {"id": "x"}}\n', "not a kzprobe journal"),
    ("foreign scan line", '{"type": "scan", "format": "other"}\n', "not a kzprobe report"),
    ("future version", '{"type": "scan", "format": "kzprobe-report", "format_version": 2}\n', "newer kzprobe"),
    ("bad middle line", None, "line 2: malformed JSON"),
    ("scan line cut", '{"type": "scan", "form', "line 1: truncated JSON"),
    ("result without id", None, "line 2: result without a target id"),
]


@pytest.mark.parametrize("name, text, reason", BROKEN_JOURNALS, ids=[row[0] for row in BROKEN_JOURNALS])
def test_a_damaged_journal_is_refused(tmp_path, name, text, reason):
    if text is None:
        lines = f.journal_lines(f.kz_report())
        lines[1] = "{not json" if name == "bad middle line" else json.dumps({"type": "result", "target": {}})
        text = "\n".join(lines) + "\n"
    path = _write(tmp_path / "j.journal.jsonl", text)
    with pytest.raises(rr.ReportError) as caught:
        rr.read_journal(path)
    assert reason in caught.value.reason


def test_a_resumed_journal_keeps_the_latest_measurement_and_ignores_unknown_lines(tmp_path):
    lines = f.journal_lines(f.kz_report())
    again = json.loads(lines[1])
    again["duration_ms"] = 1.0
    lines += [json.dumps({"type": "progress", "done": 3}), json.dumps(again)]
    path = _write(tmp_path / "j.journal.jsonl", "\n".join(lines) + "\n")
    results = rr.read_journal(path)["results"]
    assert len(results) == len(f.kz_report()["results"])
    assert results[-1]["target"]["id"] == again["target"]["id"]
    assert results[-1]["duration_ms"] == 1.0


# --- many files -----------------------------------------------------------------------------


def test_directories_expand_to_reports_and_orphan_journals_only(tmp_path):
    f.write_json(tmp_path / "b.json", f.kz_report())
    f.write_json(tmp_path / "sub" / "a.json", f.kz_report())
    f.write_journal(tmp_path / "b.journal.jsonl", f.kz_report())  # its report b.json exists: a copy
    f.write_journal(tmp_path / "b.json.journal.jsonl", f.kz_report())  # the same, for an output named b
    f.write_journal(tmp_path / "crashed.journal.jsonl", f.kz_report())  # no report: the only copy
    f.write_json(tmp_path / "latest.json", f.kz_report())  # the vantage's published copy of b.json
    f.write_json(tmp_path / ".b.json.tmp.json", f.kz_report())  # hidden: an atomic write in progress
    f.write_json(tmp_path / ".hidden" / "c.json", f.kz_report())
    (tmp_path / "notes.txt").write_text("not a report")
    problems: list[rr.ReportError] = []
    found = rr.expand_report_paths([tmp_path], problems.append)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "b.json", "crashed.journal.jsonl", "sub/a.json",
    ]
    assert problems == []
    assert rr.expand_report_paths([tmp_path / "latest.json"], problems.append) == [tmp_path / "latest.json"]


def test_bad_files_are_reported_by_name_and_skipped(tmp_path):
    good = f.write_json(tmp_path / "1-good.json", f.kz_report())
    _write(tmp_path / "2-truncated.json", json.dumps(f.kz_report())[:300])
    f.write_json(tmp_path / "3-future.json", {**f.kz_report(), "format_version": 9})
    also_good = f.write_json(tmp_path / "4-lab.json", f.lab_report())
    problems: list[rr.ReportError] = []
    read = list(rr.iter_reports([tmp_path, tmp_path / "missing.json"], strict=False, on_problem=problems.append))
    assert [path for path, _ in read] == [good, also_good]
    assert sorted((Path(p.path).name, p.reason.split(" (")[0]) for p in problems) == [
        ("2-truncated.json", "truncated JSON"),
        ("3-future.json", "written by a newer kzprobe"),
        ("missing.json", "no such file or directory"),
    ]


def test_strict_makes_the_first_bad_file_fatal(tmp_path):
    f.write_json(tmp_path / "1-good.json", f.kz_report())
    _write(tmp_path / "2-bad.json", "[]")
    f.write_json(tmp_path / "3-good.json", f.kz_report())
    reports = rr.iter_reports([tmp_path], strict=True)
    assert next(reports)[0].name == "1-good.json"
    with pytest.raises(rr.ReportError, match="2-bad.json"):
        next(reports)


def test_reports_are_yielded_one_at_a_time(tmp_path):
    for number in range(3):
        f.write_json(tmp_path / f"{number}.json", f.kz_report())
    reports = rr.iter_reports([tmp_path], strict=False)
    path, _ = next(reports)  # only the first file has been read
    assert path.name == "0.json"
    (tmp_path / "2.json").write_text("[]")  # still unread: the change is seen
    problems: list[rr.ReportError] = []
    reports = rr.iter_reports([tmp_path], strict=False, on_problem=problems.append)
    assert len(list(reports)) == 2 and len(problems) == 1


def test_the_default_problem_line_cannot_carry_escape_sequences(tmp_path, capsys):
    rr.print_problem(rr.ReportError(tmp_path / "evil\x1b[2J.json", "bad"))
    err = capsys.readouterr().err
    assert "\x1b" not in err and "evil.json: bad" in err
