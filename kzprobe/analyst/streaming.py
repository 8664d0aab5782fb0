"""Many report files read as digests, in scan-time order, in parallel, a bounded number at a time.

Each file is read, checked and reduced to a ScanDigest (kzprobe.analyst.reading) in a worker
process, optionally turned there into what the command needs (export's rows as text); the
parent receives the outcomes in scan-time order, with at most a small window of them in flight.
Ten thousand reports therefore never sit in memory together, and every core parses JSON.
"""

from __future__ import annotations

import functools
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from kzprobe import report_reader as rr
from kzprobe.analyst.reading import ScanDigest, read_scan
from kzprobe.analyst.scan_order import scan_key

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
) -> Iterator[ScanDigest]:
    """Digests of the reports under `paths`, ordered by scan start time, filtered by `scan_filter`.

    `detail=True` adds each result's figures and endpoint summary (see digest_report).
    Bad files go to `on_problem` and are skipped; with `strict` the first raises ReportError.
    A second file of the same scan (same scan_id) is skipped and passed to `on_problem` as a
    note, never fatal.
    """
    return map_scans(
        paths, None, strict=strict, on_problem=on_problem, scan_filter=scan_filter, detail=detail, workers=workers
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
) -> Iterator[Any]:
    """Like read_scans, but yields transform(digest), computed in the worker (it must pickle)."""

    def problem(error: rr.ReportError) -> None:
        if strict:
            raise error
        on_problem(error)

    keys = (scan_key(path) for path in rr.expand_report_paths(paths, problem))
    # A file whose header cannot be read is read anyway, so that its problem is reported.
    planned = sorted(key for key in keys if not key.known or scan_filter.accepts(key.vantage, key.started_at))
    job = functools.partial(_read_one, detail=detail, scan_filter=scan_filter, transform=transform)
    first_file_of: dict[str, str] = {}
    for key, outcome in zip(planned, _map_ordered(job, [key.path for key in planned], workers)):
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


def _read_one(path: str, *, detail: bool, scan_filter: ScanFilter, transform: Callable[[ScanDigest], Any] | None) -> Any:
    try:
        scan = read_scan(path, detail=detail)
    except rr.ReportError as error:
        return error
    if not scan_filter.accepts(scan.vantage, scan.started_at):
        return _FilteredOut()
    return scan if transform is None else transform(scan)


def _map_ordered(function: Callable[[str], Any], items: list[str], workers: int | None) -> Iterator[Any]:
    """function(item) for each item, in order; in worker processes when there are many items."""
    count = workers if workers is not None else min(len(os.sched_getaffinity(0)), MAX_WORKERS)
    if count <= 1 or len(items) < PARALLEL_MIN_FILES:
        yield from map(function, items)
        return
    window = count * WINDOW_PER_WORKER
    pool = ProcessPoolExecutor(max_workers=count)
    try:
        pending: deque[Future[Any]] = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # also when the reader stops early (--strict, a broken pipe)
        pool.shutdown(wait=True, cancel_futures=True)
