"""When and where each file's scan ran, from its first bytes: to order thousands of files by time.

A timeline must follow scan time, not file names, yet parsing every report twice (once to sort,
once to read) would double the cost. kzprobe writes a report's header before its results, so
the top-level fields before "results" are decoded from the first bytes (with json's own decoder,
one value at a time). A file whose header is not up front is read whole instead. The full read
later checks everything: a header that lies here only misplaces its own scan.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, NamedTuple

from kzprobe import report_reader as rr

# A report's header (everything before "results") is well under this when kzprobe wrote it.
HEADER_PEEK_BYTES: Final = 64 * 1024
# Where unreadable files sort: last, after every real scan.
FAR_FUTURE: Final = datetime.max.replace(tzinfo=timezone.utc)


class ScanKey(NamedTuple):
    """Where a file's scan sorts (keys sort by start time, vantage, path; unreadable files last),
    and what identifies it, from its header."""

    started_at: datetime  # FAR_FUTURE when the header cannot be read
    vantage: str
    path: str
    scan_id: str | None
    known: bool  # the header was read: started_at and vantage are the file's own


def scan_key(path: Path) -> ScanKey:
    """The sort key of a report file: its header, or a whole read when the header is not up front."""
    header = peek_header(path)
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


def peek_header(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The top-level fields before "results", from the file's first bytes; None if unsure."""
    try:
        with rr.open_regular_file(path) as handle:
            head = handle.read(HEADER_PEEK_BYTES).decode("utf-8", errors="replace")
    except (OSError, rr.ReportError):
        return None
    if str(path).endswith(rr.JOURNAL_SUFFIX):
        line, newline, _ = head.partition("\n")
        try:
            entry = json.loads(line) if newline else None
        except ValueError:
            return None
        return entry if isinstance(entry, dict) else None
    return _leading_fields(head)


def _leading_fields(text: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    fields: dict[str, Any] = {}
    position = _skip_space(text, 0)
    if text[position : position + 1] != "{":
        return None
    position += 1
    try:
        while True:
            position = _skip_space(text, position)
            if text[position : position + 1] == "}":
                return fields
            key, position = decoder.raw_decode(text, position)
            position = _skip_space(text, position)
            if not isinstance(key, str) or text[position : position + 1] != ":":
                return None
            if key == "results":
                return fields
            value, position = decoder.raw_decode(text, _skip_space(text, position + 1))
            fields[key] = value
            position = _skip_space(text, position)
            if text[position : position + 1] == ",":
                position += 1
    except ValueError:  # the header runs past the peeked bytes, or the file is malformed
        return None


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _full_header(path: Path) -> dict[str, Any] | None:
    try:
        report = rr.read_report(path)
    except rr.ReportError:
        return None
    return {key: value for key, value in report.items() if key != "results"}
