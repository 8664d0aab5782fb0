"""Scans offered to the store, written a day partition at a time, committed a batch at a time.

A report already in the store (same scan and same SHA-256) is skipped; a changed one replaces
its rows, except that an incomplete version never replaces a complete one (a scan's journal
beside its finished report). Scans come in scan-time order (kzprobe.analyst.store.ingest), so a
day partition is complete once a scan of a later day is offered: it is written then (its
committed rows less the replaced scans, plus the new ones, in row order) with its runs, and its
rows leave memory: the writer holds about a day of rows, not a batch. A commit (every `batch`
scans, and at the end) writes the days still open, the scans and runs of the vantages touched,
then the manifest (kzprobe.analyst.store.layout): killed at any point, the store reads as its
last commit. Every file written since that commit is named after the coming batch; a day that
gets rows again after it was written (a file out of order, a scan offered twice) is rewritten
from the file it was written to.

The writer makes no Arrow value of Python values with pa.array: the readers send Arrow batches,
and the few arrays made here come from kzprobe.analyst.store.arrow_values (pa.array imports
pandas, 50 MB, when it is installed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from kzprobe.analyst.store import arrow_values, layout
from kzprobe.analyst.store.columns import RESULTS_SCHEMA, RUNS_SCHEMA, SCANS_SCHEMA, ChunkRows, StoredScan
from kzprobe.analyst.store.migrate import migrate_to_days
from kzprobe.analyst.store.runs import day_runs
from kzprobe.analyst.store.writing import (
    ROW_ORDER,
    RUNS_ORDER,
    SCAN_ORDER,
    read_partition,
    sorted_table,
    write_partition,
)

# Reports per commit: a crash costs at most one batch of work, and each commit rewrites the scans
# and runs files of the vantages it touched (a file per vantage, growing with the store).
DEFAULT_BATCH: Final = 1000

Day = tuple[str, str]  # (vantage, "2022-01-05"): a results partition


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


class Known(NamedTuple):
    """A scan the store has (committed, or offered since the last commit), and where its rows are."""

    sha256: str
    complete: bool
    vantage: str
    day: str


class StoreWriter:
    """Offers scans to the store, writes their days as they complete, commits them in batches;
    use `open_writer()`."""

    def __init__(self, store: Path, manifest: layout.Manifest, known: dict[str, Known]) -> None:
        self.store = store
        self.manifest = manifest
        self.known = known
        self.count = IngestCount()
        self._pending: dict[str, tuple[StoredScan, pa.RecordBatch]] = {}  # offered: the scan, its scans row
        self._rows: dict[Day, dict[str, pa.RecordBatch]] = {}  # days to write: their new rows, by scan
        self._drops: dict[Day, set[str]] = {}  # scans whose older rows a day to write loses
        self._written: dict[Day, str | None] = {}  # days written for the coming batch: file, None if emptied
        self._runs: dict[Day, pa.Table] = {}  # and their runs
        self._vantages: set[str] = set()  # whose scans file the commit rewrites
        self._latest = ""  # the latest day offered: the days before it are complete

    @property
    def pending(self) -> int:
        """Scans offered since the last commit."""
        return len(self._pending)

    @property
    def held_rows(self) -> int:
        """Results rows offered and not yet written: about a day's."""
        return sum(rows.num_rows for day in self._rows.values() for rows in day.values())

    def offer(self, scan: StoredScan, rows: ChunkRows) -> str:
        """'added', 'replaced', 'unchanged' or 'kept_complete': what the store does with it.
        `rows` are the batches of the scan's chunk (its rows where `scan` says)."""
        before = self.known.get(scan.key)
        if before is not None and before.sha256 == scan.sha256:
            self.count.unchanged += 1
            return "unchanged"
        if before is not None and before.complete and not scan.complete:
            self.count.kept_complete += 1
            return "kept_complete"
        if before is not None:  # its older rows go, wherever they are (committed, written, or not yet)
            older: Day = (before.vantage, before.day)
            self._rows.setdefault(older, {}).pop(scan.key, None)
            self._drops.setdefault(older, set()).add(scan.key)
            self._vantages.add(before.vantage)
        day: Day = (scan.vantage, scan.day)
        self._rows.setdefault(day, {})[scan.key] = rows.results.slice(scan.offset, scan.rows)
        self._pending[scan.key] = (scan, rows.scans.slice(scan.scan_row, 1))
        self._vantages.add(scan.vantage)
        self.known[scan.key] = Known(scan.sha256, scan.complete, scan.vantage, scan.day)
        outcome = "replaced" if before is not None else "added"
        setattr(self.count, outcome, getattr(self.count, outcome) + 1)
        self.count.incomplete += 0 if scan.complete else 1
        if scan.day > self._latest:
            self._latest = scan.day
        for done in [key for key in self._rows if key[1] < self._latest]:
            self._write_day(done)
        return outcome

    def _write_day(self, day: Day) -> None:
        """The day's file for the coming batch: the rows it has (committed, or written for this
        batch already) less those of the scans replaced, plus its new rows; and its runs."""
        new = self._rows.pop(day)
        dropped = self._drops.pop(day, set())
        vantage, when = day
        base = self._written[day] if day in self._written else self.manifest.results.get(
            layout.results_partition(vantage, when))
        parts = [pa.Table.from_batches(list(new.values()), schema=RESULTS_SCHEMA)]
        if base is not None:
            kept = read_partition(self.store, base, RESULTS_SCHEMA)
            if dropped:
                kept = kept.filter(pc.invert(pc.is_in(kept["scan_key"], value_set=arrow_values.strings(
                    sorted(dropped)))))
            parts.insert(0, kept)
        table = sorted_table(pa.concat_tables(parts), ROW_ORDER)
        directory = layout.partition_directory(layout.RESULTS_DIR, vantage, when)
        self._written[day] = write_partition(self.store, table, directory, self.manifest.batch + 1)
        self._runs[day] = day_runs(table, date.fromisoformat(when))

    def commit(self) -> None:
        """Write the days still open, the scans and runs of the vantages touched, then the
        manifest (the commit), then drop what it superseded. Nothing offered: nothing written."""
        for day in sorted(self._rows):
            self._write_day(day)
        if not self._written and not self._pending:
            return
        batch = self.manifest.batch + 1
        results, scans, runs = dict(self.manifest.results), dict(self.manifest.scans), dict(self.manifest.runs)
        for (vantage, when), name in self._written.items():
            _set_or_drop(results, layout.results_partition(vantage, when), name)
        replaced = arrow_values.strings(sorted(self._pending))
        for vantage in sorted(self._vantages):
            new = [row for scan, row in self._pending.values() if scan.vantage == vantage]
            table = pa.Table.from_batches(new, schema=SCANS_SCHEMA)
            if vantage in scans:
                kept = read_partition(self.store, scans[vantage], SCANS_SCHEMA)
                table = pa.concat_tables([kept.filter(pc.invert(pc.is_in(kept["scan_key"], value_set=replaced))),
                                          table])
            name = write_partition(self.store, sorted_table(table, SCAN_ORDER),
                                   layout.partition_directory(layout.SCANS_DIR, vantage), batch)
            _set_or_drop(scans, vantage, name)
        for vantage in sorted({vantage for vantage, _ in self._written}):
            name = write_partition(self.store, self._runs_replaced(runs.get(vantage), vantage),
                                   layout.partition_directory(layout.RUNS_DIR, vantage), batch)
            _set_or_drop(runs, vantage, name)
        manifest = layout.Manifest(batch, results, scans, runs)
        live = manifest.files()
        written = [name for name in live if name.split("/")[-1] == f"part-{batch:06d}.parquet"]
        layout.sync_new_files(self.store, written)
        layout.write_manifest(self.store, manifest)
        for name in self.manifest.files() - live:  # superseded
            (self.store / name).unlink(missing_ok=True)
        for (vantage, when), name in self._written.items():
            if name is None:  # a day emptied after it was written for this batch
                directory = layout.partition_directory(layout.RESULTS_DIR, vantage, when)
                (self.store / directory / f"part-{batch:06d}.parquet").unlink(missing_ok=True)
        self.manifest = manifest
        self.count.rows += sum(scan.rows for scan, _ in self._pending.values())
        self.count.batches += 1
        self._pending.clear()
        self._written.clear()
        self._runs.clear()
        self._vantages.clear()
        pa.default_memory_pool().release_unused()  # the batch's buffers, back to the system

    def _runs_replaced(self, old: str | None, vantage: str) -> pa.Table:
        """A vantage's runs: the committed ones of the days not written, and those of the days written."""
        days = sorted(when for owner, when in self._written if owner == vantage)
        parts = [self._runs[(vantage, when)] for when in days]
        if old is not None:
            kept = read_partition(self.store, old, RUNS_SCHEMA)
            touched = arrow_values.days([date.fromisoformat(when) for when in days])
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
    # The writer's Arrow buffers from the C library's allocator (kzprobe.analyst.store.allocator),
    # pyarrow being loaded here already: mimalloc kept what a commit freed in arenas per thread.
    pa.set_memory_pool(pa.system_memory_pool())
    manifest = layout.read_manifest(store, month_layout=True)
    layout.remove_uncommitted(store, manifest)
    if manifest.version == layout.MONTH_LAYOUT_VERSION:
        manifest = migrate_to_days(store, manifest, on_note)
    known: dict[str, Known] = {}
    for vantage, name in manifest.scans.items():
        table = read_partition(store, name, columns=["scan_key", "sha256", "complete", "day"])
        days = table["day"].cast(pa.string()).to_pylist()  # "2022-01-05", made by Arrow, not row by row
        for key, sha256, complete, day in zip(table["scan_key"].to_pylist(), table["sha256"].to_pylist(),
                                              table["complete"].to_pylist(), days, strict=True):
            known[key] = Known(sha256, complete, vantage, day)
    return StoreWriter(store, manifest, known)
