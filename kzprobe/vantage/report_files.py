"""Which files in an output directory are a vantage's scan reports, told from their name and
their first bytes only: retention looks at thousands of them after every hourly scan.

Report names are `<vantage>-<UTC start, YYYYMMDDTHHMMSSZ>.json`, as `kzprobe scan` names them
by default; anything else in the directory (latest.json, journals, a user's own files) is not a
scan report here, whatever it contains.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from kzprobe.report.format import REPORT_FORMAT
from kzprobe.report.head import leading_fields, read_head
from kzprobe.report.read import parse_time
from kzprobe.report.write import journal_path_for

REPORT_NAME: Final = re.compile(
    r"^(?P<vantage>[A-Za-z0-9][A-Za-z0-9._-]{0,63})-(?P<stamp>[0-9]{8}T[0-9]{6}Z)\.json$"
)
# kzprobe writes format, format_version, scan_id, complete, started_at, finished_at, software
# and vantage first, in a few hundred bytes; 16 KiB is ample and cheap across thousands of files.
HEADER_READ_BYTES: Final = 16 * 1024


def report_file_name(vantage: str, started_at: str) -> str:
    """The default report name: "vps-fra" and "2026-11-22T10:00:00Z" -> "vps-fra-20261122T100000Z.json"."""
    moment = parse_time(started_at)
    if moment is None:
        raise ValueError(f"not an ISO 8601 UTC time: {started_at!r}")
    return f"{vantage}-{moment.strftime('%Y%m%dT%H%M%SZ')}.json"


@dataclass(frozen=True)
class ScanReport:
    """A report file as retention sees it."""

    path: Path
    vantage: str
    started_at: datetime
    complete: bool


def read_header(path: Path) -> dict[str, Any]:
    """The top-level fields that precede "results" within the file's first bytes, decoded one
    value at a time (the results are never read); {} for a file that is not a JSON object.

    A header cut by the read limit yields the fields before the cut: callers check for the
    fields they need and leave a file alone when one is missing.
    """
    head = read_head(path, HEADER_READ_BYTES)  # a FIFO planted under a report's name: None, at once
    fields: dict[str, Any] = {}
    if head is None:
        return fields
    try:
        for key, value in leading_fields(head):
            if key in fields:
                return {}  # a key given twice: readers disagree on which counts; leave it alone
            fields[key] = value
    except ValueError:  # cut by the read limit, or not JSON
        pass
    return fields


def scan_report(path: Path) -> ScanReport | None:
    """`path` as a ScanReport when its name, its file type and its header all agree that it is a
    kzprobe report of the vantage its name says; None for anything else (left alone)."""
    match = REPORT_NAME.match(path.name)
    if match is None:
        return None
    try:
        if not stat.S_ISREG(path.lstat().st_mode):  # not a symlink, directory or device
            return None
    except OSError:
        return None
    header = read_header(path)
    if header.get("format") != REPORT_FORMAT:
        return None
    vantage = header.get("vantage")
    started = header.get("started_at")
    complete = header.get("complete")
    if not isinstance(vantage, dict) or vantage.get("name") != match["vantage"]:
        return None
    moment = parse_time(started) if isinstance(started, str) else None
    if moment is None or not isinstance(complete, bool):
        return None
    return ScanReport(path, match["vantage"], moment.astimezone(UTC), complete)


def journal_of(report: Path) -> Path:
    """The journal a scan writing `report` keeps beside it (report/write.py's naming)."""
    return journal_path_for(report)
