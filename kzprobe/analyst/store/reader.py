"""Report files read for the store, in worker processes: identified first, then turned into rows.

Reading is most of an ingest's work (docs/analysts.md, Store performance): parsing, checking,
and reading export's figures from the observations. The reading runs over chunks of files in a
pool of worker processes (both cores of a small machine), a bounded window of chunks in flight,
and come back in the order the files were given, whatever the number of workers: the same files
make the same store.

1. `hashes`: each file's SHA-256, in threads, when the store has scans (a file whose bytes it
   has is skipped without being parsed: hashing costs a fraction of parsing).
2. `read_chunk`: each new file parsed, checked and digested into Arrow batches for the chunk
   (one array per column for the chunk, not per report), with every defence of
   kzprobe.report.read: a broken or hostile file is named and skipped, never a traceback. The
   writer receives the rows as Arrow IPC streams (columns.ChunkRows.to_ipc), and the workers
   never import pandas (`_start_worker`).
"""

from __future__ import annotations

import gc
import hashlib
import importlib.abc
import multiprocessing
import os
import sys
import types
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Final, NamedTuple, TypeVar

import pyarrow as pa

from kzprobe.analyst.reading import digest_report, read_judged
from kzprobe.analyst.store.allocator import prefer_system_allocator
from kzprobe.analyst.store.columns import ChunkRows, ResultColumns, StoredScan
from kzprobe.analyst.store.surrogates import may_hold_surrogates, without_surrogates
from kzprobe.analyst.worker_exit import end_with_parent
from kzprobe.report import read as rr

# Files a worker reads into one Arrow batch: enough rows (80 targets: 1,280) that building the
# arrays costs little per row, few enough that the window below holds a few MB.
CHUNK_FILES: Final = 16
# Below this many files, worker processes cost more than they save (as in analyst.streaming).
PARALLEL_MIN_FILES: Final = 32
MAX_WORKERS: Final = 8
# Chunks in flight per worker: the bounded queue between the readers and the writer (16 files a
# chunk, ~0.6 MB of rows). The writer writes a day at a time as the days complete, a few tens of
# milliseconds at most between two chunks it takes, so a short queue keeps the workers busy.
WINDOW_PER_WORKER: Final = 4
UNHOLDABLE: Final = "a value the store cannot hold (a number beyond 64 bits, or text that is not Unicode)"


class Chunk(NamedTuple):
    """What a worker read: per file, its stored scan or why it could not be read, and the rows
    of all the stored scans as Arrow IPC streams (each scan's rows where its StoredScan says)."""

    outcomes: list[StoredScan | rr.ReportError]
    streams: tuple[bytes, bytes]

    @staticmethod
    def of(outcomes: list[StoredScan | rr.ReportError], rows: ChunkRows) -> Chunk:
        return Chunk(outcomes, rows.to_ipc())

    def rows(self) -> ChunkRows:
        return ChunkRows.from_ipc(self.streams)


HASH_BLOCK: Final = 1024 * 1024

Result = TypeVar("Result")


def hashes(paths: list[str], threads: int) -> list[str | None]:
    """Each file's SHA-256 (None when it cannot be read: the reading step names why), in
    threads: hashlib and file reads release the interpreter's lock, so they use every core
    without the start of worker processes (an hourly `store add` of a year of reports, every
    one already in the store, hashes them all and parses none)."""
    if threads <= 1 or len(paths) < PARALLEL_MIN_FILES:
        return [file_sha256(path) for path in paths]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(file_sha256, paths))


def file_sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with rr.open_regular_file(path) as handle:
            for block in iter(lambda: handle.read(HASH_BLOCK), b""):
                digest.update(block)
    except (OSError, rr.ReportError):
        return None
    return digest.hexdigest()


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
    rows = _batches_or_none(columns)
    if rows is not None:
        return Chunk.of(outcomes, rows)
    if len(paths) == 1:
        return Chunk.of([rr.ReportError(paths[0], UNHOLDABLE)], ResultColumns().batches())
    # Some file of the chunk holds such a value: each read on its own says which.
    columns = ResultColumns()
    outcomes = []
    for path in paths:
        alone = _read_chunk([path]).outcomes[0]
        outcomes.append(_read_file(path, columns) if isinstance(alone, StoredScan) else alone)
    return Chunk.of(outcomes, columns.batches())


def _batches_or_none(columns: ResultColumns) -> ChunkRows | None:
    try:
        return columns.batches()
    except (pa.ArrowException, OverflowError, ValueError):
        return None


def _read_file(path: str, columns: ResultColumns) -> StoredScan | rr.ReportError:
    try:
        with rr.open_regular_file(path) as handle:
            data = rr.read_at_most(handle, rr.MAX_REPORT_BYTES + 1)
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


def bytes_for_store(data: bytes, source: str) -> tuple[StoredScan | rr.ReportError, ChunkRows]:
    """A report fetched by URL (kzprobe collect) turned into rows; `source` names it."""
    columns = ResultColumns()
    try:
        report, strict = rr.parse_report_strictly(data, source)
        if not strict:
            report = without_surrogates(report)
        digest = digest_report(report, source, detail=True)
    except rr.ReportError as error:
        return error, columns.batches()
    scan = columns.add(report, digest, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       ingested_at=datetime.now(UTC))
    rows = _batches_or_none(columns)
    if rows is None:
        return rr.ReportError(source, UNHOLDABLE), ResultColumns().batches()
    return scan, rows


def chunks(items: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == CHUNK_FILES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _start_worker(parent: int) -> None:
    """A reading worker's start: it ends with the writer that started it (worker_exit), and it
    never imports pandas: pyarrow imports pandas, when installed, at the first array it builds
    from a list (to ask whether the list is a pandas object), 50 MB a worker for nothing."""
    end_with_parent(parent)
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Imports of pandas fail, as if it were not installed: what pyarrow then assumes."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: types.ModuleType | None = None) -> None:
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"no {name} in kzprobe's reading workers", name=name)


def _started() -> None:
    """The task that makes a worker start: reading it imports this module, pyarrow with it."""


def workers_for(workers: int | None) -> int:
    """The number of workers asked for, or one per core this process may use (at most 8)."""
    return workers if workers is not None else min(len(os.sched_getaffinity(0)), MAX_WORKERS)


class Readers:
    """The worker processes of one ingest (none for a few files, or one worker): `map` runs a
    function over chunks of files and yields its results in order, at most a window ahead."""

    def __init__(self, workers: int | None) -> None:
        self.count = workers_for(workers)
        self._pool: ProcessPoolExecutor | None = None

    def start(self, planned: int) -> None:
        """Start the workers, once, if `planned` files are worth them: each imports what reading
        needs (half a second) while this process goes on."""
        if self._pool is not None or self.count <= 1 or planned < PARALLEL_MIN_FILES:
            return
        prefer_system_allocator()  # chosen before pyarrow loads in the workers, which inherit it
        # Spawned, not forked: a forked worker would share the writer's lock (flock belongs to
        # the open file, inherited by fork) and, outliving a killed writer, keep the store locked.
        self._pool = ProcessPoolExecutor(max_workers=self.count, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start_worker, initargs=(os.getpid(),))
        for _ in range(self.count):  # a process is spawned per task submitted while none is idle
            self._pool.submit(_started)

    def map(self, function: Callable[[list[str]], Result], items: Iterable[str]) -> Iterator[Result]:
        if self._pool is None:
            yield from map(function, chunks(items))
            return
        window: deque[Future[Result]] = deque()
        try:
            for chunk in chunks(items):
                window.append(self._pool.submit(function, chunk))
                if len(window) >= self.count * WINDOW_PER_WORKER:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()

    def __enter__(self) -> Readers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
