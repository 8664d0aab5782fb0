"""Many reports read as compact digests, in time order, in parallel, a bounded number at a time.

The analyst commands need the verdict fields and a few figures of each result, not the
observations (which are most of a report's bytes). Each file is read, checked and reduced to a
`ScanDigest` in a worker process; the parent receives digests in scan-time order, at most a
window of them at once. Ten thousand reports therefore never sit in memory together.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from kzprobe import report_reader as rr
from kzprobe import vocabulary as v
from kzprobe.analyst.endpoints import EndpointSummary, summarise_endpoints
from kzprobe.analyst.scan_order import FAR_FUTURE, peek_scan
from kzprobe.analyst.measures import Measures, measures_of, number, text

# Below this many files, starting worker processes (~50 ms each) costs more than it saves.
PARALLEL_MIN_FILES: Final = 64
# Worker processes: one per available core, at most this many (reading is CPU-bound JSON parsing).
MAX_WORKERS: Final = 8
# Files in flight per worker: keeps the workers busy while bounding digests held in memory.
WINDOW_PER_WORKER: Final = 8


@dataclass(frozen=True, slots=True)
class TargetDigest:
    """One result of one scan, as the analysts see it (strings raw: clean them to render)."""

    id: str
    category: str | None
    url: str | None
    name: str | None
    verdict: str | None  # None: a journal's measurement that no analysis has judged yet
    blocking: str | None
    evidence: tuple[str, ...]
    explanation: str | None
    started_at: str | None
    duration_ms: float | None
    endpoints: EndpointSummary | None
    measures: Measures


@dataclass(frozen=True, slots=True)
class ScanDigest:
    """One report, reduced: its header and its results' digests."""

    path: str
    from_journal: bool
    scan_id: str | None
    started_at: datetime
    finished_at: datetime | None
    complete: bool
    vantage: str
    asn: str | None
    country: str | None
    connectivity: str | None
    software: str | None
    targets: tuple[TargetDigest, ...] = field(repr=False)

    def counts(self) -> dict[str, int]:
        """Results per verdict (recounted from the results, not taken from the file's summary)."""
        counts = dict.fromkeys(v.VERDICTS, 0)
        for target in self.targets:
            if target.verdict in counts:
                counts[target.verdict] += 1
        return counts

    def header(self) -> dict[str, Any]:
        """JSON-ready facts about the scan, for --json outputs."""
        return {
            "file": self.path,
            "scan_id": self.scan_id,
            "vantage": {"name": self.vantage, "asn": self.asn, "country": self.country},
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "complete": self.complete,
            "from_journal": self.from_journal,
            "connectivity": self.connectivity,
            "summary": self.counts(),
        }


def iso(moment: datetime | None) -> str | None:
    """UTC time as '2022-01-05T10:00:00Z'."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def digest_report(report: dict[str, Any], path: str, *, from_journal: bool = False) -> ScanDigest:
    """The digest of a report already checked by report_reader."""
    vantage = report["vantage"]
    software = report.get("software") if isinstance(report.get("software"), dict) else {}
    version = software.get("version")
    started = rr.parse_time(report["started_at"])
    assert started is not None  # checked by report_reader
    finished_text = report.get("finished_at")
    return ScanDigest(
        path=path,
        from_journal=from_journal,
        scan_id=report.get("scan_id"),
        started_at=started,
        finished_at=rr.parse_time(finished_text) if isinstance(finished_text, str) else None,
        complete=report["complete"],
        vantage=vantage["name"],
        asn=vantage.get("asn"),
        country=vantage.get("country"),
        connectivity=report.get("connectivity"),
        software=f"kzprobe {version}" if isinstance(version, str) else None,
        targets=tuple(_digest_result(result) for result in report["results"]),
    )


def _digest_result(result: dict[str, Any]) -> TargetDigest:
    target = result["target"]
    observations = result.get("observations")
    return TargetDigest(
        id=target["id"],
        category=target.get("category"),
        url=target.get("url"),
        name=text(target.get("name")),
        verdict=result.get("verdict"),
        blocking=result.get("blocking"),
        evidence=tuple(result.get("evidence") or ()),
        explanation=result.get("explanation"),
        started_at=text(result.get("started_at")),
        duration_ms=number(result.get("duration_ms")),
        endpoints=summarise_endpoints(observations),
        measures=measures_of(observations),
    )


def read_scan(path: str | os.PathLike[str]) -> ScanDigest:
    """The digest of one report or journal file; ReportError when it cannot be read."""
    report = rr.read_report(path)
    from_journal = str(path).endswith(rr.JOURNAL_SUFFIX)
    if from_journal:
        report = _judge_journal(report, str(path))
    return digest_report(report, str(path), from_journal=from_journal)


def _judge_journal(report: dict[str, Any], source: str) -> dict[str, Any]:
    """Verdicts for a journal's measurements, from the analysis (without the scan's control).

    Without kzprobe.analysis installed the results stay unjudged (verdict None, shown as such).
    """
    try:
        from kzprobe.analysis import analyse_report
    except ImportError:
        return report
    try:
        judged = analyse_report(report, None)
    except Exception as error:  # someone else's file: any failure is that file's problem
        raise rr.ReportError(source, f"journal could not be analysed ({type(error).__name__}: {error})") from None
    judged = dict(judged)
    judged["complete"] = False
    return rr.check_report(judged, source)


def _read_scan_or_error(path: str) -> ScanDigest | rr.ReportError:
    try:
        return read_scan(path)
    except rr.ReportError as error:
        return error


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
    workers: int | None = None,
) -> Iterator[ScanDigest]:
    """Digests of the reports under `paths`, ordered by scan start time, filtered by `scan_filter`.

    Bad files go to `on_problem` and are skipped; with `strict` the first raises ReportError.
    """

    def problem(error: rr.ReportError) -> None:
        if strict:
            raise error
        on_problem(error)

    files = rr.expand_report_paths(paths, problem)
    planned = []
    for path in files:
        started, vantage = peek_scan(path)
        if started is None or scan_filter.accepts(vantage, started):  # unreadable: read to report it
            planned.append((started or FAR_FUTURE, vantage or "", str(path)))
    planned.sort()
    for outcome in _map_ordered(_read_scan_or_error, [path for _, _, path in planned], workers):
        if isinstance(outcome, rr.ReportError):
            problem(outcome)
        elif scan_filter.accepts(outcome.vantage, outcome.started_at):
            yield outcome


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
