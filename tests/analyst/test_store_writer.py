"""The store's writer (issue 16): each day partition written once it is complete, with about a day
of rows held at a time; a day that gets rows again (a scan replaced or moved, scans offered out of
time order) is rewritten, and the store always says what the files say."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kzprobe.analyst.store import ingest, layout, writer
from kzprobe.analyst.store.engine import DuckDBEngine
from kzprobe.analyst.store.reader import read_chunk
from support import reports as f

FIRST = datetime(2022, 1, 3, tzinfo=UTC)
ANSWERS = (("timeline", "--json"), ("summary", "--csv"), ("export", "--format", "jsonl"))


def _scan(directory: Path, name: str, hour: int, *, verdict: str = "tls_reset", scan_id: str | None = None) -> Path:
    moment = FIRST + timedelta(hours=hour)
    made = f.report([f.web_result("orda-kz", verdict, started_at=moment),
                     f.web_result("kaztag-kz", "reachable", started_at=moment)],
                    started_at=moment, scan_id=scan_id or f"scan-{hour:03d}")
    return f.write_json(directory / name, made)


def _hourly(directory: Path, hours: range) -> None:
    for hour in hours:
        _scan(directory, f"{(hour * 37) % 101:03d}.json", hour)


def _add(store: Path, *paths: Path, batch: int = 1000) -> ingest.IngestCount:
    return ingest.add_paths(store, list(paths), on_problem=pytest.fail, batch_size=batch, workers=1)


def _same_as_files(store: Path, reports: Path) -> None:
    """The store answers as the report files do, and holds exactly the files its manifest names."""
    for args in ANSWERS:
        assert f.cli(*args, "--store", store).stdout == f.cli(*args, reports).stdout, args
    assert sorted(store.rglob("*.parquet")) == sorted(store / name for name in layout.read_manifest(store).files())


def _days(store: Path) -> list[str]:
    return sorted(layout.split_partition(key)[1] for key in layout.read_manifest(store).results)


def test_a_replaced_scan_that_moved_to_another_day_leaves_its_old_day(tmp_path):
    reports, store = tmp_path / "reports", tmp_path / "store"
    _hourly(reports, range(30, 40))  # 4 January
    moved = _scan(reports, "moved.json", 2, scan_id="moved")  # 3 January, its day alone
    _add(store, reports)
    assert _days(store) == ["2022-01-03", "2022-01-04"]
    moved.unlink()
    _scan(reports, "moved.json", 50, scan_id="moved")  # the same scan, changed: now on 5 January
    assert _add(store, reports).replaced == 1
    assert _days(store) == ["2022-01-04", "2022-01-05"]  # 3 January emptied: its partition is gone
    _same_as_files(store, reports)


@pytest.mark.parametrize("batch", [1000, 7], ids=["one-batch", "batches-of-7"])
def test_of_two_versions_of_a_scan_in_one_add_the_later_is_kept_though_its_first_day_was_written(tmp_path, batch):
    """The first version's day is complete (and written) before the second version arrives."""
    reports, store = tmp_path / "reports", tmp_path / "store"
    _hourly(reports, range(0, 48))
    _scan(reports, "first.json", 5, verdict="reachable", scan_id="twice")
    _scan(reports, "second.json", 40, verdict="tls_reset", scan_id="twice")
    count = _add(store, reports, batch=batch)
    assert (count.added, count.replaced) == (49, 1)
    (reports / "first.json").unlink()  # the files' commands keep the first copy of a scan; the store the later
    _same_as_files(store, reports)


def test_scans_offered_out_of_time_order_rewrite_the_days_already_written(tmp_path):
    """As `collect` offers them, in a vantage's index order: a day gets rows after it was written
    for the coming batch, and is rewritten from that file."""
    reports, store = tmp_path / "reports", tmp_path / "store"
    _hourly(reports, range(0, 72))
    files = sorted(str(path) for path in reports.glob("*.json"))  # by name: not time order
    with layout.writer_lock(store):
        opened = writer.open_writer(store)
        for name in files:
            chunk = read_chunk([name])
            assert opened.offer(chunk.outcomes[0], chunk.rows()) == "added"
        opened.commit()
    assert _days(store) == ["2022-01-03", "2022-01-04", "2022-01-05"]
    _same_as_files(store, reports)


def test_the_writer_holds_a_day_of_rows_not_a_batch(tmp_path, monkeypatch):
    """Four days of hourly scans of two targets in one batch: the writer never holds more than
    the rows of one day of scans (48) plus the scan that closes it."""
    reports = tmp_path / "reports"
    _hourly(reports, range(0, 96))
    held: list[int] = []
    offer = writer.StoreWriter.offer

    def counted(self, scan, rows):
        outcome = offer(self, scan, rows)
        held.append(self.held_rows)
        return outcome

    monkeypatch.setattr(writer.StoreWriter, "offer", counted)
    assert _add(tmp_path / "store", reports).batches == 1
    assert len(held) == 96 and max(held) <= 24 * 2


def test_a_store_copied_midway_reads_as_its_last_commit(tmp_path, monkeypatch):
    """Days written for the coming batch are not part of the store until its commit."""
    reports, store = tmp_path / "reports", tmp_path / "store"
    _hourly(reports, range(0, 24))
    _add(store, reports)
    _hourly(reports, range(24, 96))
    copies: list[Path] = []
    commit = writer.StoreWriter.commit

    def copy_first(self):
        if not copies:
            copies.append(shutil.copytree(store, tmp_path / "midway"))
        commit(self)

    monkeypatch.setattr(writer.StoreWriter, "commit", copy_first)
    _add(store, reports)
    assert len(list(copies[0].glob("results/*/day=*/*.parquet"))) > 1  # later days written, not committed
    with DuckDBEngine(copies[0]) as engine:
        assert engine.rows("SELECT count(*), max(day) FROM results")[0][0] == 48
