"""Retention: delete a vantage's old complete scan reports, and nothing else.

An hourly vantage writes 8,760 reports a year; `keep` (the newest N scans) and `keep_days`
(scans younger than N days) bound that. A report is kept when any configured rule keeps it, so
a vantage that was offline for a month does not lose its whole history on the first scan back
(`keep` still holds the last N). Whatever the policy, these are never deleted:

- latest.json, journals, hidden files, and any file that is not a kzprobe report named
  `<vantage>-<stamp>.json` whose header names that vantage (see report_files);
- an incomplete report, and a report with a journal beside it (a scan that was interrupted and
  may be resumed): measurements nobody else has;
- the newest complete report of each vantage;
- anything in `protect` (e.g. the report a resumed scan is completing, the one just written).

Reports are counted per vantage name, so two vantages sharing a directory keep N each.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kzprobe.errors import CannotWriteError
from kzprobe.vantage.report_files import ScanReport, journal_of, scan_report


class RetentionError(CannotWriteError, OSError):
    """Some reports due for deletion could not be deleted; `deleted` lists those that were."""

    def __init__(self, deleted: list[Path], failures: list[tuple[Path, OSError]]) -> None:
        self.deleted = deleted
        self.failures = failures
        details = "; ".join(f"{path.name}: {exc.strerror or exc}" for path, exc in failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"retention could not delete {len(failures)} old report(s): {details}{more}")


def _same_file_key(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def reports_due(reports: Iterable[ScanReport], keep: int | None, keep_days: int | None,
                now: datetime) -> list[ScanReport]:
    """The complete reports the policy lets go (pure: no file system)."""
    if keep is None and keep_days is None:
        return []
    by_vantage: dict[str, list[ScanReport]] = defaultdict(list)
    for report in reports:
        if report.complete:
            by_vantage[report.vantage].append(report)
    due: list[ScanReport] = []
    for scans in by_vantage.values():
        scans.sort(key=lambda r: (r.started_at, r.path.name), reverse=True)  # newest first
        for rank, report in enumerate(scans):
            if rank == 0:
                continue  # the newest complete scan of a vantage is always kept
            kept_by_count = keep is not None and rank < keep
            kept_by_age = keep_days is not None and now - report.started_at <= timedelta(days=keep_days)
            if not (kept_by_count or kept_by_age):
                due.append(report)
    return sorted(due, key=lambda r: r.path.name)


def apply_retention(directory: Path, keep: int | None, keep_days: int | None,
                    protect: Iterable[Path] = (), *, now: datetime | None = None) -> list[Path]:
    """Delete the complete reports in `directory` (not below it) that the policy lets go.

    Returns the paths deleted, sorted. Call it while holding the directory's lock, after the
    new report and latest.json are written. Raises RetentionError (after deleting what it
    could) if some deletions failed.
    """
    if keep is None and keep_days is None:
        return []  # keep everything: no need to look
    moment = now or datetime.now(UTC)
    protected = {_same_file_key(p) for p in protect}
    reports: list[ScanReport] = []
    try:
        names = sorted(entry.name for entry in os.scandir(directory))
    except FileNotFoundError:
        return []
    for name in names:
        if not name.startswith("."):
            report = scan_report(directory / name)
            if report is not None:
                reports.append(report)
    # Protected reports count towards `keep` (they are scans) but are never deleted.
    due = [r for r in reports_due(reports, keep, keep_days, moment)
           if _same_file_key(r.path) not in protected and not journal_of(r.path).exists()]
    deleted: list[Path] = []
    failures: list[tuple[Path, OSError]] = []
    for report in due:
        try:
            report.path.unlink()
            deleted.append(report.path)
        except FileNotFoundError:
            pass  # someone else removed it: the goal is met
        except OSError as exc:
            failures.append((report.path, exc))
    if failures:
        raise RetentionError(deleted, failures)
    return deleted
