"""Many report files read as digests, in scan-time order, in parallel, a bounded number at a time.

Each file is answered from the digest cache when it has not changed (kzprobe.analyst.
digest_cache), or read, checked and reduced to a ScanDigest (kzprobe.analyst.reading) in a worker
process; either way it may be turned, in the worker, into what the command needs (export's rows
as text). The parent receives the outcomes in scan-time order, with at most a small window of
them in flight: ten thousand reports never sit in memory together, and every core parses JSON.
"""

from __future__ import annotations

import functools
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple, TypeVar

from kzprobe.analyst.digest_cache import DigestCache, FileStamp, cacheable, deserialize, file_stamp, serialize
from kzprobe.analyst.reading import ScanDigest, read_scan
from kzprobe.analyst.scan_order import ScanKey, scan_key
from kzprobe.analyst.worker_exit import end_with_parent
from kzprobe.report import read as rr

# Below this many files, starting worker processes (~50 ms each) costs more than it saves.
PARALLEL_MIN_FILES: Final = 64
# Worker processes: one per available core, at most this many (reading is CPU-bound JSON parsing).
MAX_WORKERS: Final = 8
# Files in flight per worker: keeps the workers busy while bounding what is held in memory.
WINDOW_PER_WORKER: Final = 8

T = TypeVar("T")


@dataclass(frozen=True)
class ScanFilter:
    """Which scans to read: by vantage name and start time (inclusive `since`, exclusive `until`)."""

    vantages: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def accepts(self, vantage: str | None, started_at: datetime | None) -> bool:
        if self.vantages and vantage not in self.vantages:
            return False
        if started_at is not None:
            if self.since is not None and started_at < self.since:
                return False
            if self.until is not None and started_at >= self.until:
                return False
        return True


def read_scans(
    paths: Sequence[str | os.PathLike[str]],
    *,
    strict: bool,
    on_problem: Callable[[rr.ReportError], None] = rr.print_problem,
    scan_filter: ScanFilter = ScanFilter(),
    detail: bool = False,
    workers: int | None = None,
    cache: DigestCache | None = None,
) -> Iterator[ScanDigest]:
    """Digests of the reports under `paths`, ordered by scan start time, filtered by `scan_filter`.

    `detail=True` adds each result's figures and endpoint summary (see digest_report).
    Bad files go to `on_problem` and are skipped; with `strict` the first raises ReportError.
    A second file of the same scan (same scan_id) is skipped and passed to `on_problem` as a
    note, never fatal.
    """
    return map_scans(
        paths, None, strict=strict, on_problem=on_problem, scan_filter=scan_filter, detail=detail, workers=workers,
        cache=cache,
    )


def map_scans(
    paths: Sequence[str | os.PathLike[str]],
    transform: Callable[[ScanDigest], T] | None,
    *,
    strict: bool,
    on_problem: Callable[[rr.ReportError], None] = rr.print_problem,
    scan_filter: ScanFilter = ScanFilter(),
    detail: bool = False,
    workers: int | None = None,
    cache: DigestCache | None = None,
) -> Iterator[Any]:
    """Like read_scans, but yields transform(digest), computed in the worker (it must pickle).

    With a `cache`, digests of unchanged files come from it and new ones are added to it.
    """

    def problem(error: rr.ReportError) -> None:
        if strict:
            raise error
        on_problem(error)

    keys = (scan_key(path) for path in rr.expand_report_paths(paths, problem))
    # A file whose header cannot be read is read anyway, so that its problem is reported.
    planned = sorted(key for key in keys if not key.known or scan_filter.accepts(key.vantage, key.started_at))
    reader = _Reader(detail, scan_filter, transform, cache)
    first_file_of: dict[str, str] = {}
    for key, outcome in _ordered(planned, reader, workers):
        if isinstance(outcome, rr.ReportError):
            problem(outcome)
        elif isinstance(outcome, _FilteredOut):
            continue
        elif key.scan_id is not None and key.scan_id in first_file_of:
            # A copy (a synced directory, a report beside its archive) would count the scan twice.
            on_problem(rr.ReportError(key.path, f"a copy of {first_file_of[key.scan_id]} (same scan_id)"))
        else:
            if key.scan_id is not None:
                first_file_of[key.scan_id] = key.path
            yield outcome


class _FilteredOut:
    """What a worker returns for a scan the filter rejects (its header lied to the peek)."""


class _Miss(NamedTuple):
    """A file the cache could not answer for: read it, then remember its digest."""

    stamp: FileStamp | None


def _read_one(
    path: str, *, detail: bool, scan_filter: ScanFilter, transform: Callable[[ScanDigest], Any] | None, keep: bool
) -> Any:
    """Read, check, digest, filter and transform one file; with `keep`, also return the digest
    serialized for the cache (here, in the worker, not in the process that collects)."""
    try:
        scan = read_scan(path, detail=detail)
    except rr.ReportError as error:
        return error
    outcome = _finish(scan, scan_filter, transform)
    return (serialize(scan), outcome) if keep else outcome


def _from_cache(
    path: str, data: str, *, detail: bool, scan_filter: ScanFilter, transform: Callable[[ScanDigest], Any] | None
) -> Any:
    """The outcome of a file from its cached digest (the file itself if the entry is unreadable)."""
    scan = deserialize(data, path)
    if scan is None:
        return _read_one(path, detail=detail, scan_filter=scan_filter, transform=transform, keep=False)
    return _finish(scan, scan_filter, transform)


def _finish(scan: ScanDigest, scan_filter: ScanFilter, transform: Callable[[ScanDigest], Any] | None) -> Any:
    if not scan_filter.accepts(scan.vantage, scan.started_at):
        return _FilteredOut()
    return scan if transform is None else transform(scan)


class _Reader:
    """For each file, the job that gives its outcome: from the cache or from the file."""

    def __init__(self, detail: bool, scan_filter: ScanFilter, transform: Callable[[ScanDigest], Any] | None,
                 cache: DigestCache | None) -> None:
        self.cache = cache
        self.transform = transform
        self.detail = detail
        self.read = functools.partial(_read_one, keep=cache is not None, detail=detail, scan_filter=scan_filter,
                                      transform=transform)
        self.from_cache = functools.partial(_from_cache, detail=detail, scan_filter=scan_filter, transform=transform)

    def job(self, path: str) -> tuple[_Miss | None, Callable[[], Any], bool]:
        """(the miss to remember, or None for a hit; the job; whether it is worth a worker)."""
        if self.cache is None or not cacheable(path):
            return _Miss(None), functools.partial(self.read, path), True
        stamp = file_stamp(path)
        data = self.cache.get_data(path, self.detail, stamp) if stamp is not None else None
        if data is None:
            return _Miss(stamp), functools.partial(self.read, path), True
        # A hit costs little to decode; a transform (export's formatting) is worth a worker.
        return None, functools.partial(self.from_cache, path, data), self.transform is not None

    def remember(self, path: str, miss: _Miss, result: Any) -> Any:
        """The outcome of a read, its serialized digest stored in the cache."""
        if self.cache is None or not isinstance(result, tuple):
            return result
        data, outcome = result
        if miss.stamp is not None:
            self.cache.put(path, self.detail, miss.stamp, data)
        return outcome


def _ordered(planned: list[ScanKey], reader: _Reader, workers: int | None) -> Iterator[tuple[ScanKey, Any]]:
    """(key, outcome) for each planned file, in order: from the cache, or read in worker processes
    (in this process when there are few files), at most a window of them in flight."""
    count = workers if workers is not None else min(len(os.sched_getaffinity(0)), MAX_WORKERS)
    parallel = count > 1 and len(planned) >= PARALLEL_MIN_FILES
    window = max(count, 1) * WINDOW_PER_WORKER
    pool: ProcessPoolExecutor | None = None
    pending: deque[tuple[ScanKey, _Miss | None, Any]] = deque()  # key, miss, outcome or Future
    try:
        for key in planned:
            miss, job, heavy = reader.job(key.path)
            if parallel and heavy:
                # Each worker ends with this process, even one killed outright.
                pool = pool or ProcessPoolExecutor(max_workers=count, initializer=end_with_parent,
                                                   initargs=(os.getpid(),))
                pending.append((key, miss, pool.submit(job)))
            else:
                pending.append((key, miss, job()))
            while pending and (len(pending) >= window or not isinstance(pending[0][2], Future)):
                yield _settle(pending.popleft(), reader)
        while pending:
            yield _settle(pending.popleft(), reader)
    finally:  # also when the reader stops early (--strict, a broken pipe)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if reader.cache is not None:
            reader.cache.close()


def _settle(entry: tuple[ScanKey, _Miss | None, Any], reader: _Reader) -> tuple[ScanKey, Any]:
    key, miss, outcome = entry
    if isinstance(outcome, Future):
        outcome = outcome.result()
    return key, (outcome if miss is None else reader.remember(key.path, miss, outcome))
