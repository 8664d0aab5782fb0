"""`kzprobe store add`: reports into Parquet, incremental, atomic per batch (issue 16)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kzprobe.analyst.store import layout
from kzprobe.analyst.store.engine import DuckDBEngine
from kzprobe.analyst.store.ingest import add_paths
from kzprobe.analyst.store.reader import PARALLEL_MIN_FILES, Readers
from kzprobe.errors import ExitCode
from support import reports as f
from support.processes import alive_after, children
from support.worker_probes import memory_pool_backend


def _add(store: Path, *paths: Path, batch: int = 1000, problems: list | None = None):
    return add_paths(store, list(paths), on_problem=(problems if problems is not None else []).append, batch_size=batch)


def _query(store: Path, sql: str) -> list[tuple]:
    with DuckDBEngine(store) as engine:
        return engine.rows(sql)


def _consistent(store: Path) -> None:
    """Every file the manifest names exists, and results and scans describe the same scans."""
    manifest = layout.read_manifest(store)
    assert all((store / name).is_file() for name in manifest.files())
    rows = _query(store, "SELECT (SELECT count(DISTINCT scan_key) FROM results), (SELECT count(*) FROM scans),"
                         " (SELECT count(*) FROM scans WHERE targets > 0)")
    assert rows[0][0] == rows[0][2] and rows[0][1] >= rows[0][0]


def test_each_target_of_each_scan_is_one_row_and_a_second_add_skips_what_is_unchanged(tmp_path):
    f.write_january_2022(tmp_path / "reports", hours=30, vantages=("almaty-vps", "shymkent-beeline"))
    store = tmp_path / "store"
    count = _add(store, tmp_path / "reports", batch=25)
    assert (count.added, count.rows, count.batches) == (60, 240, 3)
    again = _add(store, tmp_path / "reports")
    assert (again.added, again.unchanged, again.batches) == (0, 60, 0)
    assert _query(store, "SELECT count(*), count(DISTINCT scan_key) FROM results") == [(240, 60)]
    assert sorted(p.relative_to(store).as_posix() for p in store.glob("results/*/*")) == [
        f"results/vantage={vantage}/day=2022-01-0{day}" for vantage in ("almaty-vps", "shymkent-beeline")
        for day in (3, 4)]  # 30 hours from 3 January 00:00 UTC: two days
    _consistent(store)


def test_a_changed_report_replaces_its_rows_and_an_identical_copy_is_skipped(tmp_path):
    made = f.kz_report()
    f.write_json(tmp_path / "in" / "scan.json", made)
    f.write_json(tmp_path / "in" / "copy.json", made)  # latest.json-like copy, same bytes
    store = tmp_path / "store"
    first = _add(store, tmp_path / "in")
    assert (first.added, first.unchanged) == (1, 1)
    made["results"][0]["verdict"], made["results"][0]["blocking"] = "reachable", None
    f.write_json(tmp_path / "in" / "scan.json", made)
    second = _add(store, tmp_path / "in" / "scan.json")
    assert (second.added, second.replaced) == (0, 1)
    assert _query(store,
                  "SELECT count(*), count_if(target = 'orda-kz' AND verdict = 'reachable') FROM results") == [(10, 1)]
    _consistent(store)


def test_an_incomplete_scan_is_marked_and_never_replaces_its_complete_report(tmp_path):
    made = f.kz_report()
    journal = f.write_journal(tmp_path / "j" / "scan.journal.jsonl", made)
    report = f.write_json(tmp_path / "r" / "scan.json", made)
    store = tmp_path / "store"
    assert _add(store, journal).incomplete == 1
    assert _query(store, "SELECT complete, from_journal FROM scans") == [(False, True)]
    assert _add(store, report).replaced == 1
    assert _add(store, journal).kept_complete == 1
    assert _query(store, "SELECT complete, from_journal, count(*) FROM scans GROUP BY ALL") == [(True, False, 1)]
    assert _query(store, "SELECT DISTINCT scan_complete FROM results") == [(True,)]


def test_a_vantage_name_is_escaped_in_its_directory_and_read_back_exactly(tmp_path):
    f.write_json(tmp_path / "in" / "a.json", f.kz_report(vantage="../odd/name=1 x"))
    store = tmp_path / "store"
    _add(store, tmp_path / "in")
    assert [p.name for p in (store / "results").iterdir()] == ["vantage=..%2Fodd%2Fname%3D1%20x"]
    assert _query(store, "SELECT DISTINCT vantage, day FROM results")[0][0] == "../odd/name=1 x"
    assert _query(store, "SELECT vantage FROM scans") == [("../odd/name=1 x",)]


def test_rows_carry_the_control_summary_and_where_imported_data_came_from(tmp_path):
    made = f.kz_report()
    made["results"][0]["control"] = {"verdict": "reachable", "usable": True, "tls_ok": True}
    made["ooni"] = {"report_id": "20220105T100000Z_webconnectivity_KZ_9198_n1_x", "measurements": 10,
                    "licence": "CC BY-NC-SA 4.0", "credit": "OONI"}
    made["results"][1]["ooni"] = {"measurement_uid": "20220105100000.1_KZ_webconnectivity_x", "test_name": 42}
    f.write_json(tmp_path / "in" / "a.json", made)
    store = tmp_path / "store"
    _add(store, tmp_path / "in")
    rows = _query(store, "SELECT target, control_verdict, control_usable, provenance_source, provenance_licence,"
                         " ooni_measurement_uid, ooni_test_name FROM results ORDER BY position LIMIT 2")
    assert rows[0] == ("orda-kz", "reachable", True, "OONI", "CC BY-NC-SA 4.0", None, None)
    assert rows[1][5:] == ("20220105100000.1_KZ_webconnectivity_x", None)  # a wrong type reads as missing
    assert json.loads(_query(store, "SELECT control FROM results WHERE position = 0")[0][0])["tls_ok"] is True


def test_unreadable_files_are_named_and_skipped(tmp_path):
    f.write_json(tmp_path / "in" / "good.json", f.kz_report())
    (tmp_path / "in" / "bad.json").write_text("<html>not a report</html>")
    problems: list = []
    count = _add(tmp_path / "store", tmp_path / "in", problems=problems)
    assert (count.added, count.problems) == (1, 1) and problems[0].path.endswith("bad.json")


def test_a_crash_before_the_commit_leaves_the_last_commit_and_the_batch_can_be_redone(tmp_path, monkeypatch):
    f.write_january_2022(tmp_path / "reports", hours=12)
    store = tmp_path / "store"
    _add(store, *sorted((tmp_path / "reports").rglob("*.json"))[:4])
    before = _query(store, "SELECT count(*) FROM results")

    def crash(*args, **kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(layout, "write_manifest", crash)
    with pytest.raises(OSError):
        _add(store, tmp_path / "reports")
    assert len(list(store.rglob("*.parquet"))) > len(layout.read_manifest(store).files())  # written, not committed
    assert _query(store, "SELECT count(*) FROM results") == before
    monkeypatch.undo()
    assert _add(store, tmp_path / "reports").added == 8
    assert len(list(store.rglob("*.parquet"))) == len(layout.read_manifest(store).files())
    assert _query(store, "SELECT count(*), count(DISTINCT scan_key) FROM results") == [(48, 12)]


def test_an_ingest_killed_mid_batch_leaves_a_readable_store_that_the_next_add_completes(tmp_path):
    reports = tmp_path / "reports"
    f.write_january_2022(reports, hours=24 * 6, vantages=("almaty-vps", "shymkent-beeline"))
    store = tmp_path / "store"
    command = [sys.executable, "-m", "kzprobe", "store", "add", str(reports), "--store", str(store), "--batch", "3"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (store / layout.MANIFEST_NAME).exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    time.sleep(0.05)  # a few batches later, somewhere inside one
    workers = children(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert workers, "the kill came before the reading workers started"
    assert not alive_after(workers, 30), "a reading worker outlived its writer"
    committed = layout.read_manifest(store).batch
    assert 0 < committed < 96, "the kill came before the first or after the last commit"
    _consistent(store)
    assert _query(store, "SELECT count(*) FROM scans")[0][0] == 3 * committed
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == ExitCode.OK, finished.stderr
    assert _query(store, "SELECT count(*), count(DISTINCT scan_key) FROM results") == [(288 * 4, 288)]
    assert len(list(store.rglob("*.parquet"))) == len(layout.read_manifest(store).files())


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas is not installed here")
def test_an_ingest_never_imports_pandas_in_the_writer_or_its_workers(tmp_path):
    """pyarrow imports pandas, when installed, at its first pa.array and with pyarrow.dataset
    (pq.read_table, group-by): 50 MB a process that no ingest needs. Python's import log of the
    writer and of its reading workers (they inherit it) names every module they import."""
    f.write_january_2022(tmp_path / "reports", hours=48)  # enough files for the reading workers
    command = [sys.executable, "-m", "kzprobe", "store", "add", str(tmp_path / "reports"), "--store", tmp_path / "s"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    assert done.returncode == ExitCode.OK and "48 added" in done.stderr, done.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert "kzprobe.analyst.store.reader" in imported and "pyarrow.parquet" in imported
    assert not [name for name in imported if name.startswith(("pandas.", "pyarrow.dataset", "pyarrow.acero"))]


def test_reading_workers_take_their_arrow_buffers_from_the_system_allocator(monkeypatch):
    """mimalloc, Arrow's default, keeps what a chunk freed in arenas per thread: the summed RSS of
    an ingest of 10,000 reports passed 300 MB with it (benchmarks/store.py)."""
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    with Readers(2) as readers:
        readers.start(PARALLEL_MIN_FILES)
        backends = set(readers.map(memory_pool_backend, [f"file-{n}" for n in range(64)]))
    assert backends == {"system"}


def test_a_store_is_not_written_by_two_writers_at_once(tmp_path):
    f.write_json(tmp_path / "in" / "a.json", f.kz_report())
    store = tmp_path / "store"
    with layout.writer_lock(store):
        result = f.cli("store", "add", tmp_path / "in", "--store", store)
    assert result.exit_code == ExitCode.BAD_INPUT and "another kzprobe is writing" in result.stderr


def test_partition_files_hold_rows_in_scan_time_order(tmp_path):
    for hour in (5, 1, 3):
        f.write_json(tmp_path / "in" / f"{hour}.json", f.kz_report(started_at=f.START + timedelta(minutes=hour)))
    store = tmp_path / "store"
    _add(store, tmp_path / "in")
    (name,) = layout.read_manifest(store).results.values()
    times = pq.read_table(store / name, columns=["scan_started_at"])["scan_started_at"].to_pylist()
    assert times == sorted(times)


def _raw_json(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("ascii"))
    return path


def test_text_that_is_not_unicode_and_numbers_beyond_64_bits_are_stored_not_fatal(tmp_path):
    """A lone surrogate (a JSON escape no UTF-8 can hold: Parquet strings, directory names) is
    stored as U+FFFD; an integer no 64-bit column holds, or no float, reads as not measured."""
    odd = f.kz_report(vantage="almaty\udc00vps")
    odd["results"][0]["explanation"] = "cut \ud800 here"
    odd["results"][1]["target"]["name"] = "\udfff"
    _raw_json(tmp_path / "in" / "surrogates.json", json.dumps(odd))  # escapes: ASCII JSON
    huge = f.kz_report(started_at=f.START + timedelta(hours=1))
    huge["results"][2]["observations"]["http"][0]["status"] = 10**30
    huge["results"][2]["observations"]["download"]["bytes"] = 2**63
    huge["results"][2]["duration_ms"] = "TOO LARGE"
    text = json.dumps(huge).replace('"TOO LARGE"', "9" * 400)
    assert "9" * 400 in text
    _raw_json(tmp_path / "in" / "huge.json", text)
    f.write_json(tmp_path / "in" / "plain.json", f.kz_report(started_at=f.START + timedelta(hours=2)))
    journal = f.kz_report(vantage="oral\ud83dhome", started_at=f.START + timedelta(hours=3))  # half a pair
    _raw_json(tmp_path / "in" / "died.journal.jsonl", "".join(line + "\n" for line in f.journal_lines(journal)))
    store = tmp_path / "store"
    added = f.cli("store", "add", tmp_path / "in", "--store", store)
    assert added.exit_code == 0 and "4 added" in added.stderr, added.stderr
    assert _query(store, "SELECT DISTINCT vantage FROM scans ORDER BY 1") == [
        ("almaty-vps",), ("almaty\ufffdvps",), ("oral\ufffdhome",)]
    assert _query(store, "SELECT explanation FROM results WHERE vantage LIKE 'almaty_vps' AND vantage <> 'almaty-vps' "
                         "AND position = 0") == [
        ("cut \ufffd here",)]
    assert _query(store, "SELECT http_status, download_bytes, duration_ms FROM results "
                         "WHERE file LIKE '%huge.json' AND position = 2") == [(None, None, None)]
    parquet = f.cli("export", tmp_path / "in", "--format", "parquet", "-o", tmp_path / "all.parquet")
    assert parquet.exit_code == 0 and pq.read_table(tmp_path / "all.parquet").num_rows == 40


def test_a_value_arrow_refuses_names_its_file_and_keeps_the_rest_of_its_chunk(tmp_path, monkeypatch):
    """Whatever slips past the readers' checks and Arrow refuses is that file's problem: named,
    skipped, and the other files read with it stored."""
    from kzprobe.analyst import measures

    monkeypatch.setattr(measures, "integer", lambda value: value if isinstance(value, int) else None)
    for hour in range(3):
        made = f.kz_report(started_at=f.START + timedelta(hours=hour))
        if hour == 1:
            made["results"][2]["observations"]["http"][0]["status"] = 2**63  # orjson reads it as an int
        f.write_json(tmp_path / "in" / f"{hour}.json", made)
    problems: list = []
    count = _add(tmp_path / "store", tmp_path / "in", problems=problems)
    assert (count.added, count.problems) == (2, 1)
    assert problems[0].path.endswith("1.json") and "cannot hold" in problems[0].reason
