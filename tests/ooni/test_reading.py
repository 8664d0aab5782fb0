"""Reading OONI files that are not what they claim: each problem is named (file:line and why),
costs bounded work, and never stops the rest of the import."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kzprobe.ooni import import_measurements, limits
from kzprobe.ooni.source import input_files, read_measurements
from support.ooni_scenarios import accessible_05, tls_timeout_04


def lines_file(path: Path, lines: list[bytes], *, compress: bool = False) -> Path:
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def reasons(path: Path) -> list[tuple[int | None, str]]:
    return [(item.line, item.reason) for item in read_measurements(path) if not hasattr(item, "data")]


def good() -> bytes:
    return json.dumps(accessible_05()).encode()


# One row per kind of bad line: what it holds, and words of the reason given for it.
BAD_LINES = [
    ("invalid UTF-8", b'{"test_name": "web_connectivity", "input": "\xff\xfe"}', "not UTF-8"),
    ("malformed JSON", b'{"test_name": ', "malformed JSON"),
    ("nested a hundred thousand deep", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("NaN", b'{"test_name": "web_connectivity", "test_runtime": NaN}', "NaN is not valid JSON"),
    ("a number, not an object", b"42", "not a JSON object"),
    ("an integer of 5,000 digits", b'{"test_runtime": ' + b"9" * 5000 + b"}", "malformed JSON"),
]


@pytest.mark.parametrize("name, line, words", BAD_LINES, ids=[row[0] for row in BAD_LINES])
def test_a_bad_line_is_named_and_the_next_one_still_read(tmp_path, name, line, words):
    path = lines_file(tmp_path / "m.jsonl", [good(), line, good()])
    items = list(read_measurements(path))
    assert [type(i).__name__ for i in items] == ["Measurement", "BadInput", "Measurement"]
    assert items[1].line == 2 and words in items[1].reason


def test_a_line_over_the_limit_is_skipped_without_being_held(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_MEASUREMENT_BYTES", 64 * 1024)
    monkeypatch.setattr(limits, "READ_CHUNK_BYTES", 4096)
    path = lines_file(tmp_path / "m.jsonl", [b'{"x": "' + b"a" * 1_000_000 + b'"}', b'{"test_name": "x"}'])
    items = list(read_measurements(path))
    assert (items[0].line, "line longer than") == (1, items[0].reason[:16])
    assert items[1].data == {"test_name": "x"}


def test_a_gzip_bomb_is_refused_after_bounded_inflation(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "INFLATION_ALLOWANCE_BYTES", 1024 * 1024)
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(b"\n" * 64 * 1024 * 1024, compresslevel=9))  # 64 MiB of newlines, ~64 KB
    inflated = []
    real_read = gzip.GzipFile.read

    def counting_read(self, size=-1):
        chunk = real_read(self, size)
        inflated.append(len(chunk))
        return chunk

    monkeypatch.setattr(gzip.GzipFile, "read", counting_read)
    (problem,) = reasons(bomb)
    assert "gzip bomb" in problem[1]
    assert sum(inflated) < 32 * 1024 * 1024  # stopped long before the 64 MiB it would become


def test_a_truncated_gzip_file_keeps_what_came_before(tmp_path):
    data = gzip.compress(b"\n".join([good()] * 3) + b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) - 20])
    items = list(read_measurements(path))
    assert [type(i).__name__ for i in items][-1] == "BadInput"
    assert "damaged gzip data" in items[-1].reason
    assert any(type(i).__name__ == "Measurement" for i in items)


def test_a_pretty_printed_measurement_and_a_list_of_them_are_read(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps(accessible_05(), indent=2))
    many = tmp_path / "many.json"
    many.write_text(json.dumps([accessible_05(), tls_timeout_04()], indent=1))
    assert [type(i).__name__ for i in read_measurements(one)] == ["Measurement"]
    assert [type(i).__name__ for i in read_measurements(many)] == ["Measurement", "Measurement"]


def test_directories_are_walked_for_measurement_files_only_and_the_output_left_out(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.jsonl.gz", "a/b/y.json", "a/notes.txt", "a/z.ndjson"):
        (tmp_path / name).write_text("")
    (tmp_path / "a" / "out").mkdir()
    (tmp_path / "a" / "out" / "ooni-r.json").write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in input_files([tmp_path / "a"], exclude=tmp_path / "a" / "out")]
    assert found == ["a/x.jsonl.gz", "a/z.ndjson", "a/b/y.json"]


# Shapes OONI's data really has (or a hostile file claims): one row each, with what becomes of it.
ODD_SHAPES = [
    ("test_keys is null", lambda m: m.update(test_keys=None), "unusable", "test_keys is null"),
    ("no input URL", lambda m: m.update(input=None), "unusable", "no http(s) URL as input"),
    ("a number as input", lambda m: m.update(input=5), "unusable", "no http(s) URL as input"),
    ("another test", lambda m: m.update(test_name="ndt"), "other", "ndt"),
    ("no test_name", lambda m: m.pop("test_name"), "bad", 'no "test_name"'),
    ("no start time", lambda m: m.update(measurement_start_time=12), "bad", "measurement_start_time"),
]


@pytest.mark.parametrize("name, change, outcome, words", ODD_SHAPES, ids=[row[0] for row in ODD_SHAPES])
def test_odd_measurements_are_counted_by_what_they_are(tmp_path, name, change, outcome, words):
    data = accessible_05()
    change(data)
    path = lines_file(tmp_path / "m.jsonl", [json.dumps(data).encode(), good()])
    bad = []
    summary = import_measurements([path], tmp_path / "out", on_bad=bad.append)
    assert sum(summary.imported.values()) == 1  # the good line still imported
    found = {"unusable": summary.unusable, "other": summary.other_tests}.get(outcome)
    if found is not None:
        assert found == {words: 1} and not bad
    else:
        assert len(bad) == 1 and words in bad[0].reason and bad[0].line == 1


WRONG_TYPES = [
    ("requests missing", lambda k: k.pop("requests")),
    ("requests null", lambda k: k.update(requests=None)),
    ("queries an object", lambda k: k.update(queries={"hostname": "orda.kz"})),
    ("a number as a hostname", lambda k: k["queries"][0].update(hostname=7)),
    ("a string as an answer list", lambda k: k["queries"][0].update(answers="185.98.5.151")),
    ("a port as text", lambda k: k["tcp_connect"][0].update(port="443")),
    ("a list as a failure", lambda k: k["tls_handshakes"][0].update(failure=["x"])),
    ("certificates that are not base64", lambda k: k["tls_handshakes"][0].update(
        peer_certificates=[{"format": "base64", "data": "!!"}, 5])),
    ("headers as numbers", lambda k: k["requests"][0]["response"].update(headers_list=[[1, 2], "x", ["A", {"b": 1}]])),
    ("a control of the wrong shape", lambda k: k.update(control={"tcp_connect": [1], "dns": "x", "http_request": 3})),
]


@pytest.mark.parametrize("name, change", WRONG_TYPES, ids=[row[0] for row in WRONG_TYPES])
def test_wrong_types_inside_a_measurement_never_crash_the_import(tmp_path, name, change):
    data = accessible_05()
    change(data["test_keys"])
    path = lines_file(tmp_path / "m.jsonl", [json.dumps(data).encode()])
    summary = import_measurements([path], tmp_path / "out")
    assert summary.imported == {"web_connectivity": 1} and summary.bad == 0
    report = json.loads(summary.paths[0].read_text())
    assert report["results"][0]["verdict"] != "blocked"  # nothing in these shapes is a sign of blocking


def test_a_lone_surrogate_is_written_as_a_replacement_character(tmp_path):
    data = accessible_05()
    data["test_keys"]["requests"][0]["response"]["body"] = "<title>broken \ud800 title</title>"
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")  # json escapes the surrogate as \\ud800
    summary = import_measurements([path], tmp_path / "out")
    written = summary.paths[0].read_bytes().decode("utf-8")  # strict: the file is valid UTF-8
    assert "broken \ufffd" in written and "\\ud800" not in written


def test_measurements_without_a_report_id_make_one_report_per_file(tmp_path):
    for name in ("a.json", "b.json"):
        data = accessible_05()
        data["report_id"] = ""
        data.pop("measurement_uid")
        (tmp_path / name).write_text(json.dumps(data, indent=2))
    summary = import_measurements([tmp_path / "a.json", tmp_path / "b.json"], tmp_path / "out")
    assert summary.reports_written == 2
    assert all(p.name.startswith("ooni-file-") for p in summary.paths)
    again = import_measurements([tmp_path / "a.json", tmp_path / "b.json"], tmp_path / "out")
    assert again.reports_merged == 2 and sorted(again.paths) == sorted(summary.paths)
    assert all(len(json.loads(p.read_text())["results"]) == 1 for p in again.paths)
