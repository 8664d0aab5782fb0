"""Reports into the store: read in worker processes a chunk at a time, committed a batch at a time.

A report already in the store (same scan and same SHA-256) is skipped; a changed one replaces
its rows, except that an incomplete version never replaces a complete one (a scan's journal
beside its finished report). Each batch rewrites the day partitions it touches (the old rows
less the replaced scans, plus the new ones, in scan-time order), the runs of those days and the
scans of their vantages, and commits them with the manifest (kzprobe.analyst.store.layout):
killed at any point, the store reads as its last commit.

Reading is most of the work (docs/analysts.md, Store performance): parsing, checking, and
reading export's figures from the observations. Worker processes each read a chunk of files
into one Arrow batch (one array per column for the chunk, not per report), and the results come
back in the order the files were given, whatever the number of workers: the same files make the
same store.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kzprobe.analyst.reading import digest_report, read_judged
from kzprobe.analyst.scan_order import scan_key
from kzprobe.analyst.store import layout
from kzprobe.analyst.store.columns import (
    RESULTS_SCHEMA,
    RUNS_SCHEMA,
    SCANS_SCHEMA,
    ResultColumns,
    StoredScan,
    scans_table,
)
from kzprobe.analyst.store.migrate import migrate_to_days
from kzprobe.analyst.store.runs import day_runs
from kzprobe.analyst.store.surrogates import may_hold_surrogates, without_surrogates
from kzprobe.analyst.store.writing import ROW_ORDER, RUNS_ORDER, SCAN_ORDER, write_partition
from kzprobe.report import read as rr

# Reports per commit: a batch's new rows are held in memory as Arrow (80 targets: ~40 KB a
# report), and a crash costs at most one batch of work.
DEFAULT_BATCH: Final = 1000
# Files a worker reads into one Arrow batch: enough rows (80 targets: 1,280) that building the
# arrays costs little per row, few enough that the window below holds a few MB.
CHUNK_FILES: Final = 16
# Below this many files, worker processes cost more than they save (as in analyst.streaming).
PARALLEL_MIN_FILES: Final = 32
MAX_WORKERS: Final = 8
# Chunks in flight per worker: the bounded queue between the readers and the writer. Deep
# enough (16 files a chunk, ~0.6 MB of rows) that the workers keep reading through a commit
# (about a second), which otherwise stalls them.
WINDOW_PER_WORKER: Final = 16
UNHOLDABLE: Final = "a value the store cannot hold (a number beyond 64 bits, or text that is not Unicode)"


class Chunk(NamedTuple):
    """What a worker read: per file, its stored scan or why it could not be read, and the rows
    of all the stored scans as one batch (each scan's rows at its offset)."""

    outcomes: list[StoredScan | rr.ReportError]
    batch: pa.RecordBatch


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


def read_chunk(paths: list[str]) -> Chunk:
    """Files read, hashed and turned into rows (in a worker process). A value Arrow cannot
    hold names its file as a problem, like any other unreadable report.

    Python's cyclic garbage collector is paused meanwhile: a parsed report is tens of thousands
    of objects without a cycle, freed by reference counting, and the collector's passes over
    them cost a fifth of the reading (measured; docs/analysts.md, Store performance)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_chunk(paths)
    finally:
        if collecting:
            gc.enable()


def _read_chunk(paths: list[str]) -> Chunk:
    columns = ResultColumns()
    outcomes = [_read_file(path, columns) for path in paths]
    batch = _batch_or_none(columns)
    if batch is not None:
        return Chunk(outcomes, batch)
    if len(paths) == 1:
        return Chunk([rr.ReportError(paths[0], UNHOLDABLE)], ResultColumns().batch())
    # Some file of the chunk holds such a value: each read on its own says which.
    columns = ResultColumns()
    outcomes = []
    for path in paths:
        alone = _read_chunk([path]).outcomes[0]
        outcomes.append(_read_file(path, columns) if isinstance(alone, StoredScan) else alone)
    return Chunk(outcomes, columns.batch())


def _batch_or_none(columns: ResultColumns) -> pa.RecordBatch | None:
    try:
        return columns.batch()
    except (pa.ArrowException, OverflowError, ValueError):
        return None


def _read_file(path: str, columns: ResultColumns) -> StoredScan | rr.ReportError:
    try:
        with rr.open_regular_file(path) as handle:
            data = handle.read(rr.MAX_REPORT_BYTES + 1)
    except OSError as error:
        return rr.ReportError(path, f"cannot be read ({error.strerror or error})")
    except rr.ReportError as error:
        return error
    try:
        if path.endswith(rr.JOURNAL_SUFFIX):
            report, digest = read_judged(path, detail=True)
            if may_hold_surrogates(data):
                report = without_surrogates(report)
                digest = digest_report(report, path, from_journal=True, detail=True)
        else:
            report, strict = rr.parse_report_strictly(data, path)
            if not strict:
                report = without_surrogates(report)
            digest = digest_report(report, path, detail=True)
    except rr.ReportError as error:
        return error
    return columns.add(report, digest, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       ingested_at=datetime.now(UTC))


def bytes_for_store(data: bytes, source: str) -> tuple[StoredScan | rr.ReportError, pa.RecordBatch]:
    """A report fetched by URL (kzprobe collect) turned into rows; `source` names it."""
    columns = ResultColumns()
    try:
        report, strict = rr.parse_report_strictly(data, source)
        if not strict:
            report = without_surrogates(report)
        digest = digest_report(report, source, detail=True)
    except rr.ReportError as error:
        return error, columns.batch()
    scan = columns.add(report, digest, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       ingested_at=datetime.now(UTC))
    batch = _batch_or_none(columns)
    if batch is None:
        return rr.ReportError(source, UNHOLDABLE), ResultColumns().batch()
    return scan, batch


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
            return new.sort_by(order)
        kept = pq.read_table(self.store / old, schema=schema)
        if dropped:
            kept = kept.filter(pc.invert(pc.is_in(kept["scan_key"], pa.array(sorted(dropped)))))
        return pa.concat_tables([kept, new]).sort_by(order)

    def _runs_replaced(self, old: str | None, days: list[str], new: list[pa.Table]) -> pa.Table:
        """A vantage's runs: the committed ones of other days, and the new ones of `days`."""
        parts = list(new)
        if old is not None:
            kept = pq.read_table(self.store / old, schema=RUNS_SCHEMA)
            touched = pa.array([date.fromisoformat(day) for day in days], type=pa.date32())
            parts.insert(0, kept.filter(pc.invert(pc.is_in(kept["day"], value_set=touched))))
        return pa.concat_tables(parts).sort_by(RUNS_ORDER)

def _set_or_drop(mapping: dict[str, str], key: str, value: str | None) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def open_writer(store: Path, on_note: Callable[[str], None] = lambda note: None) -> StoreWriter:
    """A writer on `store` (created if missing), after removing what an interrupted batch left,
    and after rewriting a store of the month layout by day (`on_note` says so). Call only
    inside layout.writer_lock(store)."""
    manifest = layout.read_manifest(store, month_layout=True)
    layout.remove_uncommitted(store, manifest)
    if manifest.version == layout.MONTH_LAYOUT_VERSION:
        manifest = migrate_to_days(store, manifest, on_note)
    known: dict[str, _Known] = {}
    for vantage, name in manifest.scans.items():
        table = pq.read_table(store / name, columns=["scan_key", "sha256", "complete", "day"])
        for key, sha256, complete, day in zip(*(table[column].to_pylist() for column in table.column_names),
                                              strict=True):
            known[key] = _Known(sha256, complete, vantage, day.isoformat())
    return StoreWriter(store, manifest, known)


def add_paths(store: Path, paths: Iterable[str | os.PathLike[str]], *, on_problem: Callable[[rr.ReportError], None],
              batch_size: int = DEFAULT_BATCH, workers: int | None = None,
              on_note: Callable[[str], None] = lambda note: None) -> IngestCount:
    """`kzprobe store add`: every report under `paths` into `store`, committed every `batch_size`."""
    with layout.writer_lock(store):
        writer = open_writer(store, on_note)
        files = [str(path) for path in rr.expand_report_paths(list(paths), on_problem)]
        known = {entry.sha256 for entry in writer.known.values()}

        def unknown(path: str) -> bool:
            """Hashing a file costs a fraction of parsing it: files already in the store are
            skipped here, and only the others go to the reading workers."""
            if file_sha256(path) in known:
                writer.count.unchanged += 1
                return False
            return True

        # In scan-time order: a batch then touches a few days, each rewritten once or twice,
        # not every day of the input (file names need not follow time).
        new = sorted((path for path in files if unknown(path)), key=lambda path: scan_key(Path(path))[:3])
        for chunk in _read_all(new, workers, len(new)):
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


def file_sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with rr.open_regular_file(path) as handle:
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(block)
    except (OSError, rr.ReportError):
        return None
    return digest.hexdigest()


def _chunks(files: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for path in files:
        chunk.append(path)
        if len(chunk) == CHUNK_FILES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _read_all(files: Iterable[str], workers: int | None, planned: int) -> Iterator[Chunk]:
    """read_chunk of each chunk of files, in order, in worker processes with a bounded window."""
    count = workers if workers is not None else min(len(os.sched_getaffinity(0)), MAX_WORKERS)
    if count <= 1 or planned < PARALLEL_MIN_FILES:
        yield from map(read_chunk, _chunks(files))
        return
    window: deque[Future[Chunk]] = deque()
    # Spawned, not forked: a forked worker would share the writer's lock (flock belongs to the
    # open file, inherited by fork) and, outliving a killed writer, keep the store locked.
    with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            for chunk in _chunks(files):
                window.append(pool.submit(read_chunk, chunk))
                if len(window) >= count * WINDOW_PER_WORKER:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()
