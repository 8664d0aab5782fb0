"""When and where each file's scan ran, from its first bytes: to order thousands of files by time.

A timeline must follow scan time, not file names, yet parsing every report twice (once to sort,
once to read) would double the cost. kzprobe writes a report's header before its results, so
the header is decoded from the first bytes (report/head.py peek_header). A file whose header is
not up front is read whole instead. The full read later checks everything: a header that lies
here only misplaces its own scan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

from kzprobe.report import head as report_head
from kzprobe.report import read as rr
from kzprobe.report.format import JOURNAL_SUFFIX

# Where unreadable files sort: last, after every real scan.
FAR_FUTURE: Final = datetime.max.replace(tzinfo=UTC)


class ScanKey(NamedTuple):
    """Where a file's scan sorts (keys sort by start time, vantage, path; unreadable files last),
    and what identifies it, from its header."""

    started_at: datetime  # FAR_FUTURE when the header cannot be read
    vantage: str
    path: str
    scan_id: str | None
    known: bool  # the header was read: started_at and vantage are the file's own


def scan_key(path: Path, head: bytes | None = None) -> ScanKey:
    """The sort key of a report file: its header (from `head`, its first bytes, when the caller
    has read them already), or a whole read when the header is not up front."""
    if head is None:
        header = report_head.peek_header(path)
    else:
        text = head[:report_head.HEADER_PEEK_BYTES].decode("utf-8", errors="replace")
        header = report_head.header_of(text, journal=str(path).endswith(JOURNAL_SUFFIX))
    if header is None or "started_at" not in header:
        header = _full_header(path)
    started = header.get("started_at") if header else None
    moment = rr.parse_time(started) if isinstance(started, str) else None
    vantage = header.get("vantage") if header else None
    name = vantage.get("name") if isinstance(vantage, dict) else None
    scan_id = header.get("scan_id") if header else None
    return ScanKey(
        started_at=moment or FAR_FUTURE,
        vantage=name if isinstance(name, str) else "",
        path=str(path),
        scan_id=scan_id if isinstance(scan_id, str) else None,
        known=moment is not None,
    )


def _full_header(path: Path) -> dict[str, Any] | None:
    try:
        report = rr.read_report(path)
    except rr.ReportError:
        return None
    return {key: value for key, value in report.items() if key != "results"}
