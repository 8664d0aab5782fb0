"""Reports into the store: read in worker processes a chunk at a time, committed a batch at a time.

A report already in the store (same scan and same SHA-256) is skipped; a changed one replaces
its rows, except that an incomplete version never replaces a complete one (a scan's journal
beside its finished report). Each batch rewrites the day partitions it touches (the old rows
less the replaced scans, plus the new ones, in scan-time order), the runs of those days and the
scans of their vantages, and commits them with the manifest (kzprobe.analyst.store.layout):
killed at any point, the store reads as its last commit.

The files are read by kzprobe.analyst.store.reader's worker processes and added in scan-time
order (then vantage, then path): of two versions of one scan in the same add, the later in that
order is kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kzprobe.analyst.store import layout
from kzprobe.analyst.store.columns import RESULTS_SCHEMA, RUNS_SCHEMA, SCANS_SCHEMA, StoredScan, scans_table
from kzprobe.analyst.store.migrate import migrate_to_days
from kzprobe.analyst.store.reader import Readers, hashes, in_scan_order, read_chunk, workers_for
from kzprobe.analyst.store.runs import day_runs
from kzprobe.analyst.store.writing import ROW_ORDER, RUNS_ORDER, SCAN_ORDER, sorted_table, write_partition
from kzprobe.report import read as rr

# Reports per commit: a batch's new rows are held in memory as Arrow (80 targets: ~40 KB a
# report), and a crash costs at most one batch of work.
DEFAULT_BATCH: Final = 1000
@dataclass
class IngestCount:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0  # same scan, same bytes: skipped
    kept_complete: int = 0  # an incomplete version of a scan the store has complete: skipped
    incomplete: int = 0  # of the added and replaced: scans marked incomplete
    problems: int = 0
    rows: int = 0
    batches: int = 0

    def line(self) -> str:
        parts = [f"{self.added} added", f"{self.replaced} replaced", f"{self.unchanged} unchanged"]
        if self.kept_complete:
            parts.append(f"{self.kept_complete} incomplete copies of complete scans skipped")
        if self.incomplete:
            parts.append(f"{self.incomplete} marked incomplete")
        if self.problems:
            parts.append(f"{self.problems} unreadable")
        return f"{', '.join(parts)}; {self.rows} rows in {self.batches} batch(es)"


class _Known(NamedTuple):
    sha256: str
    complete: bool
    vantage: str
    day: str


@dataclass
class StoreWriter:
    """Offers scans to the store and commits them in batches; use `open_writer()`."""

    store: Path
    manifest: layout.Manifest
    known: dict[str, _Known]
    count: IngestCount = field(default_factory=IngestCount)
    _pending: dict[str, tuple[StoredScan, pa.RecordBatch]] = field(default_factory=dict)
    _superseded: dict[str, _Known] = field(default_factory=dict)  # committed versions to drop

    def offer(self, scan: StoredScan, rows: pa.RecordBatch) -> str:
        """'added', 'replaced', 'unchanged' or 'kept_complete': what the next commit does with
        it. `rows` are the scan's results rows (a slice of its chunk's batch)."""
        before = self.known.get(scan.key)
        if before is not None and before.sha256 == scan.sha256:
            self.count.unchanged += 1
            return "unchanged"
        if before is not None and before.complete and not scan.complete:
            self.count.kept_complete += 1
            return "kept_complete"
        if scan.key in self._pending:
            self._pending.pop(scan.key)
        elif before is not None:
            self._superseded[scan.key] = before
        self._pending[scan.key] = (scan, rows)
        self.known[scan.key] = _Known(scan.sha256, scan.complete, scan.vantage, scan.day)
        outcome = "replaced" if before is not None else "added"
        setattr(self.count, outcome, getattr(self.count, outcome) + 1)
        self.count.incomplete += 0 if scan.complete else 1
        return outcome

    @property
    def pending(self) -> int:
        return len(self._pending)

    def commit(self) -> None:
        """Write the pending scans' days, their runs and their vantages' scans, then the
        manifest (the commit), then drop what they superseded. Nothing pending: nothing written."""
        if not self._pending and not self._superseded:
            return
        batch = self.manifest.batch + 1
        dropped = set(self._superseded)
        by_day: dict[tuple[str, str], list[pa.RecordBatch]] = {}
        scans_by_vantage: dict[str, list[dict[str, Any]]] = {}
        for scan, rows in self._pending.values():
            by_day.setdefault((scan.vantage, scan.day), []).append(rows)
            scans_by_vantage.setdefault(scan.vantage, []).append(scan.scan)
        for old in self._superseded.values():
            by_day.setdefault((old.vantage, old.day), [])
            scans_by_vantage.setdefault(old.vantage, [])
        results, scans, runs = dict(self.manifest.results), dict(self.manifest.scans), dict(self.manifest.runs)
        new_runs: dict[str, list[pa.Table]] = {}
        written: list[str] = []
        for (vantage, day), batches in sorted(by_day.items()):
            key = layout.results_partition(vantage, day)
            table = self._merged(results.get(key), dropped, pa.Table.from_batches(batches, schema=RESULTS_SCHEMA),
                                 RESULTS_SCHEMA, ROW_ORDER)
            directory = layout.partition_directory(layout.RESULTS_DIR, vantage, day)
            name = write_partition(self.store, table, directory, batch)
            _set_or_drop(results, key, name)
            new_runs.setdefault(vantage, []).append(day_runs(table, date.fromisoformat(day)))
            written += [name] if name else []
        for vantage, rows in sorted(scans_by_vantage.items()):
            table = self._merged(scans.get(vantage), dropped, scans_table(rows), SCANS_SCHEMA, SCAN_ORDER)
            name = write_partition(self.store, table, layout.partition_directory(layout.SCANS_DIR, vantage), batch)
            _set_or_drop(scans, vantage, name)
            written += [name] if name else []
        for vantage, tables in sorted(new_runs.items()):
            days = sorted({day for (owner, day) in by_day if owner == vantage})
            table = self._runs_replaced(runs.get(vantage), days, tables)
            name = write_partition(self.store, table, layout.partition_directory(layout.RUNS_DIR, vantage), batch)
            _set_or_drop(runs, vantage, name)
            written += [name] if name else []
        layout.sync_new_files(self.store, written)
        superseded = self.manifest.files() - set(results.values()) - set(scans.values()) - set(runs.values())
        self.manifest = layout.Manifest(batch, results, scans, runs)
        layout.write_manifest(self.store, self.manifest)
        for name in superseded:
            (self.store / name).unlink(missing_ok=True)
        self.count.rows += sum(scan.rows for scan, _ in self._pending.values())
        self.count.batches += 1
        self._pending.clear()
        self._superseded.clear()
        pa.default_memory_pool().release_unused()  # the batch's buffers, back to the system

    def _merged(self, old: str | None, dropped: set[str], new: pa.Table, schema: pa.Schema,
                order: list[tuple[str, str]]) -> pa.Table:
        """The partition's rows: its committed file's, less the `dropped` scans, plus `new`."""
        if old is None:
            return sorted_table(new, order)
        kept = pq.read_table(self.store / old, schema=schema)
        if dropped:
            kept = kept.filter(pc.invert(pc.is_in(kept["scan_key"], pa.array(sorted(dropped)))))
        return sorted_table(pa.concat_tables([kept, new]), order)

    def _runs_replaced(self, old: str | None, days: list[str], new: list[pa.Table]) -> pa.Table:
        """A vantage's runs: the committed ones of other days, and the new ones of `days`."""
        parts = list(new)
        if old is not None:
            kept = pq.read_table(self.store / old, schema=RUNS_SCHEMA)
            touched = pa.array([date.fromisoformat(day) for day in days], type=pa.date32())
            parts.insert(0, kept.filter(pc.invert(pc.is_in(kept["day"], value_set=touched))))
        return sorted_table(pa.concat_tables(parts), RUNS_ORDER)

def _set_or_drop(mapping: dict[str, str], key: str, value: str | None) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def open_writer(store: Path, on_note: Callable[[str], None] = lambda note: None) -> StoreWriter:
    """A writer on `store` (created if missing), after removing what an interrupted batch left,
    and after rewriting a store of the month layout by day (`on_note` says so). Call only
    inside layout.writer_lock(store)."""
    # The writer's Arrow buffers from the C library's allocator: mimalloc, Arrow's default, keeps
    # what a commit freed in arenas per thread (peak RSS of 10,000 reports: 280 MB, 240 without).
    pa.set_memory_pool(pa.system_memory_pool())
    manifest = layout.read_manifest(store, month_layout=True)
    layout.remove_uncommitted(store, manifest)
    if manifest.version == layout.MONTH_LAYOUT_VERSION:
        manifest = migrate_to_days(store, manifest, on_note)
    known: dict[str, _Known] = {}
    for vantage, name in manifest.scans.items():
        table = pq.read_table(store / name, columns=["scan_key", "sha256", "complete", "day"])
        days = table["day"].cast(pa.string()).to_pylist()  # "2022-01-05", made by Arrow, not row by row
        for key, sha256, complete, day in zip(table["scan_key"].to_pylist(), table["sha256"].to_pylist(),
                                              table["complete"].to_pylist(), days, strict=True):
            known[key] = _Known(sha256, complete, vantage, day)
    return StoreWriter(store, manifest, known)


def add_paths(store: Path, paths: Iterable[str | os.PathLike[str]], *, on_problem: Callable[[rr.ReportError], None],
              batch_size: int = DEFAULT_BATCH, workers: int | None = None,
              on_note: Callable[[str], None] = lambda note: None) -> IngestCount:
    """`kzprobe store add`: every report under `paths` into `store`, committed every `batch_size`."""
    with layout.writer_lock(store):
        writer = open_writer(store, on_note)
        files = [str(path) for path in rr.expand_report_paths(list(paths), on_problem)]
        known = {entry.sha256 for entry in writer.known.values()}
        new = []
        for path, sha256 in zip(files, hashes(files, workers_for(workers)), strict=True):
            if sha256 is not None and sha256 in known:
                writer.count.unchanged += 1
            else:
                new.append(path)
        # In scan-time order: a batch then touches a few days, each written once or twice, not
        # every day of the input (file names need not follow time).
        with Readers(workers, len(new)) as readers:
            for chunk in readers.map(read_chunk, in_scan_order(new)):
                for outcome in chunk.outcomes:
                    if isinstance(outcome, rr.ReportError):
                        writer.count.problems += 1
                        on_problem(outcome)
                        continue
                    writer.offer(outcome, chunk.batch.slice(outcome.offset, outcome.rows))
                    if writer.pending >= batch_size:
                        writer.commit()
        writer.commit()
        return writer.count
