"""Reports into the store: read and hashed in worker processes, committed a batch at a time.

A report already in the store (same scan and same SHA-256) is skipped; a changed one replaces
its rows, except that an incomplete version never replaces a complete one (a scan's journal
beside its finished report). Each batch rewrites the partitions it touches (the old rows less
the replaced scans, plus the new ones, in scan-time order) and commits them with the manifest
(kzprobe.analyst.store.layout): killed at any point, the store reads as its last commit.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kzprobe.analyst.reading import digest_report, read_judged
from kzprobe.analyst.store import layout
from kzprobe.analyst.store.columns import RESULTS_SCHEMA, SCANS_SCHEMA, StoredScan, results_batch, stored_scan
from kzprobe.report import read as rr

# Reports per commit: a batch's new rows are held in memory as Arrow (80 targets: ~40 KB a
# report), and a crash costs at most one batch of work.
DEFAULT_BATCH: Final = 1000
# Below this many files, worker processes cost more than they save (as in analyst.streaming).
PARALLEL_MIN_FILES: Final = 32
MAX_WORKERS: Final = 8
WINDOW_PER_WORKER: Final = 8
# Order of rows inside a partition file: scan time, then the file, then report order.
ROW_ORDER: Final = [("scan_started_at", "ascending"), ("file", "ascending"), ("position", "ascending")]
PARQUET_OPTIONS: Final[dict[str, Any]] = {"compression": "zstd"}


class Ingested(NamedTuple):
    """A report read for the store (rows as one Arrow batch), or why it could not be."""

    scan: StoredScan | None
    problem: rr.ReportError | None


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


def read_for_store(path: str) -> Ingested:
    """One report or journal file read, hashed and turned into rows (in a worker process)."""
    try:
        with rr.open_regular_file(path) as handle:
            data = handle.read(rr.MAX_REPORT_BYTES + 1)
    except OSError as error:
        return Ingested(None, rr.ReportError(path, f"cannot be read ({error.strerror or error})"))
    except rr.ReportError as error:
        return Ingested(None, error)
    try:
        if path.endswith(rr.JOURNAL_SUFFIX):
            report, digest = read_judged(path, detail=True)
        else:
            report = rr.parse_report(data, path)
            digest = digest_report(report, path, detail=True)
    except rr.ReportError as error:
        return Ingested(None, error)
    return Ingested(_stored(report, digest, data), None)


def bytes_for_store(data: bytes, source: str) -> Ingested:
    """A report fetched by URL (kzprobe collect) turned into rows; `source` names it."""
    try:
        report = rr.parse_report(data, source)
    except rr.ReportError as error:
        return Ingested(None, error)
    return Ingested(_stored(report, digest_report(report, source, detail=True), data), None)


def _stored(report: dict[str, Any], digest: Any, data: bytes) -> StoredScan:
    made = stored_scan(report, digest, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       ingested_at=datetime.now(UTC))
    return made._replace(results=results_batch(made.results))  # Arrow from here on


class _Known(NamedTuple):
    sha256: str
    complete: bool
    vantage: str
    month: str


@dataclass
class StoreWriter:
    """Offers scans to the store and commits them in batches; use `open_writer()`."""

    store: Path
    manifest: layout.Manifest
    known: dict[str, _Known]
    count: IngestCount = field(default_factory=IngestCount)
    _pending: dict[str, StoredScan] = field(default_factory=dict)
    _superseded: dict[str, _Known] = field(default_factory=dict)  # committed versions to drop

    def offer(self, scan: StoredScan) -> str:
        """'added', 'replaced', 'unchanged' or 'kept_complete': what the next commit does with it."""
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
        self._pending[scan.key] = scan
        self.known[scan.key] = _Known(scan.sha256, scan.complete, scan.vantage, scan.month)
        outcome = "replaced" if before is not None else "added"
        setattr(self.count, outcome, getattr(self.count, outcome) + 1)
        self.count.incomplete += 0 if scan.complete else 1
        return outcome

    @property
    def pending(self) -> int:
        return len(self._pending)

    def commit(self) -> None:
        """Write the pending scans' partitions, then the manifest (the commit), then drop what
        they superseded. Nothing pending: nothing written."""
        if not self._pending and not self._superseded:
            return
        batch = self.manifest.batch + 1
        dropped = set(self._superseded)
        by_partition: dict[tuple[str, str], list[pa.RecordBatch]] = {}
        scans_by_vantage: dict[str, list[dict[str, Any]]] = {}
        for scan in self._pending.values():
            by_partition.setdefault((scan.vantage, scan.month), []).append(scan.results)
            scans_by_vantage.setdefault(scan.vantage, []).append(scan.scan)
        for old in self._superseded.values():
            by_partition.setdefault((old.vantage, old.month), [])
            scans_by_vantage.setdefault(old.vantage, [])
        results = dict(self.manifest.results)
        scans = dict(self.manifest.scans)
        for (vantage, month), batches in by_partition.items():
            key = layout.results_partition(vantage, month)
            new = pa.Table.from_batches(batches, schema=RESULTS_SCHEMA)
            written = self._rewrite(results.get(key), dropped, new,
                                    layout.partition_directory(layout.RESULTS_DIR, vantage, month),
                                    batch, RESULTS_SCHEMA, ROW_ORDER)
            _set_or_drop(results, key, written)
        for vantage, rows in scans_by_vantage.items():
            new = pa.Table.from_arrays([pa.array([row[field.name] for row in rows], type=field.type)
                                        for field in SCANS_SCHEMA], schema=SCANS_SCHEMA)
            written = self._rewrite(scans.get(vantage), dropped, new,
                                    layout.partition_directory(layout.SCANS_DIR, vantage),
                                    batch, SCANS_SCHEMA, [("started_at", "ascending"), ("file", "ascending")])
            _set_or_drop(scans, vantage, written)
        superseded = self.manifest.files() - set(results.values()) - set(scans.values())
        self.manifest = layout.Manifest(batch, results, scans)
        layout.write_manifest(self.store, self.manifest)
        for name in superseded:
            (self.store / name).unlink(missing_ok=True)
        self.count.rows += sum(scan.rows for scan in self._pending.values())
        self.count.batches += 1
        self._pending.clear()
        self._superseded.clear()
        pa.default_memory_pool().release_unused()  # the batch's buffers, back to the system

    def _rewrite(self, old: str | None, dropped: set[str], new: pa.Table, directory: str, batch: int,
                 schema: pa.Schema, order: list[tuple[str, str]]) -> str | None:
        """The partition's new file (old rows less `dropped`, plus `new`), or None when empty."""
        parts = [new]
        if old is not None:
            kept = pq.read_table(self.store / old, schema=schema)
            if dropped:
                kept = kept.filter(pc.invert(pc.is_in(kept["scan_key"], pa.array(sorted(dropped)))))
            parts.insert(0, kept)
        table = pa.concat_tables(parts).sort_by(order)
        if table.num_rows == 0:
            return None
        name = f"{directory}/part-{batch:06d}.parquet"
        final = self.store / name
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(f".{final.name}.tmp")
        pq.write_table(table, temporary, **PARQUET_OPTIONS)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        return name


def _set_or_drop(mapping: dict[str, str], key: str, value: str | None) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def open_writer(store: Path) -> StoreWriter:
    """A writer on `store` (created if missing), after removing what an interrupted batch left.
    Call only inside layout.writer_lock(store)."""
    manifest = layout.read_manifest(store)
    layout.remove_uncommitted(store, manifest)
    known: dict[str, _Known] = {}
    for vantage, name in manifest.scans.items():
        table = pq.read_table(store / name, columns=["scan_key", "sha256", "complete", "day"])
        for key, sha256, complete, day in zip(*(table[column].to_pylist() for column in table.column_names),
                                              strict=True):
            known[key] = _Known(sha256, complete, vantage, day.strftime("%Y-%m"))
    return StoreWriter(store, manifest, known)


def add_paths(store: Path, paths: Iterable[str | os.PathLike[str]], *, on_problem: Callable[[rr.ReportError], None],
              batch_size: int = DEFAULT_BATCH, workers: int | None = None) -> IngestCount:
    """`kzprobe store add`: every report under `paths` into `store`, committed every `batch_size`."""
    with layout.writer_lock(store):
        writer = open_writer(store)
        files = [str(path) for path in rr.expand_report_paths(list(paths), on_problem)]
        known = {entry.sha256 for entry in writer.known.values()}

        def unknown(path: str) -> bool:
            """Hashing a file costs a fraction of parsing it: files already in the store are
            skipped here, and only the others go to the reading workers."""
            if file_sha256(path) in known:
                writer.count.unchanged += 1
                return False
            return True

        for ingested in _read_all(filter(unknown, files), workers, len(files)):
            if ingested.problem is not None:
                writer.count.problems += 1
                on_problem(ingested.problem)
                continue
            assert ingested.scan is not None
            writer.offer(ingested.scan)
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


def _read_all(files: Iterable[str], workers: int | None, planned: int) -> Iterator[Ingested]:
    """read_for_store of each file, in order, in worker processes with a bounded window."""
    count = workers if workers is not None else min(len(os.sched_getaffinity(0)), MAX_WORKERS)
    if count <= 1 or planned < PARALLEL_MIN_FILES:
        yield from map(read_for_store, files)
        return
    window: deque[Future[Ingested]] = deque()
    # Spawned, not forked: a forked worker would share the writer's lock (flock belongs to the
    # open file, inherited by fork) and, outliving a killed writer, keep the store locked.
    with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            for path in files:
                window.append(pool.submit(read_for_store, path))
                if len(window) >= count * WINDOW_PER_WORKER:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()
