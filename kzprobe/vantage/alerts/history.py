"""`<output dir>/changes.jsonl`: every change record of the directory's vantages, one JSON
object a line, oldest first: the history `kzprobe changes` prints and the feed is made from.

A new record is appended by rewriting the file atomically (report/atomic.py): a web server
sending it, or a sync tool copying it, gets the old file or the new one, never a half line.
The newest records are kept within MAX_HISTORY_BYTES. Reading is for anyone's directory, so
every line is checked and size-capped; a bad line is counted and skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from kzprobe.report.atomic import replace_atomically
from kzprobe.report.read import parse_time
from kzprobe.vantage.alerts.limits import MAX_HISTORY_BYTES, MAX_RECORD_BYTES
from kzprobe.vantage.alerts.record import RECORD_FORMAT, RECORD_VERSION

HISTORY_NAME: Final = "changes.jsonl"
# Published on purpose, like latest.json: world-readable whatever the umask of mkstemp.
PUBLISHED_MODE: Final = 0o644


def record_line(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def append_record(directory: Path, record: Mapping[str, Any]) -> Path:
    """Add `record` at the end of changes.jsonl, atomically; the oldest lines go beyond the bound."""
    path = directory / HISTORY_NAME
    line = record_line(record)
    kept = _tail_lines(path, MAX_HISTORY_BYTES - len(line))

    def fill(f: IO[bytes]) -> None:
        f.writelines(kept)
        f.write(line)

    replace_atomically(path, fill, mode=PUBLISHED_MODE)
    return path


def _tail_lines(path: Path, budget: int) -> list[bytes]:
    """The file's last whole lines that fit in `budget` bytes ([] when there is no file)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - max(0, budget)))
            data = f.read(max(0, budget))
            cut = size > budget
    except FileNotFoundError:
        return []
    lines = data.splitlines(keepends=True)
    if cut and lines:
        lines = lines[1:]  # the first one may start mid-line
    if lines and not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"
    return lines


@dataclass
class History:
    """The records read from a changes.jsonl, oldest first, and the lines that were not records."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    truncated: bool = False  # the file was larger than the reading bound: only its end was read


def read_history(path: Path, *, since: datetime | None = None, vantages: Iterable[str] = ()) -> History:
    """The records of `path` (a changes.jsonl) whose scan finished at or after `since`, of the
    vantages named (all when none). OSError when the file cannot be read."""
    wanted = set(vantages)
    history = History()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        history.truncated = size > MAX_HISTORY_BYTES
    for line in _tail_lines(path, MAX_HISTORY_BYTES):
        record = parse_record(line)
        if record is None:
            history.skipped += 1
            continue
        if wanted and record["vantage"]["name"] not in wanted:
            continue
        if since is not None and record_time(record) < since:
            continue
        history.records.append(record)
    return history


def parse_record(line: bytes) -> dict[str, Any] | None:
    """One line as a change record, or None when it is not one this kzprobe reads."""
    if len(line) > MAX_RECORD_BYTES or not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT \
            or record.get("format_version") != RECORD_VERSION or not isinstance(record.get("id"), str):
        return None
    vantage, current, changes = record.get("vantage"), record.get("current"), record.get("changes")
    if not isinstance(vantage, dict) or not isinstance(vantage.get("name"), str):
        return None
    if not isinstance(current, dict) or not isinstance(changes, list) or not isinstance(record.get("title"), str):
        return None
    if not all(isinstance(c, dict) and isinstance(c.get("target"), str) and isinstance(c.get("kind"), str)
               and isinstance(c.get("summary"), str) for c in changes):
        return None
    connectivity = record.get("connectivity")
    if connectivity is not None and not (
        isinstance(connectivity, dict) and isinstance(connectivity.get("summary"), str)
    ):
        return None
    if _time_of(current) is None:
        return None
    return record


def _time_of(scan: Mapping[str, Any]) -> datetime | None:
    for key in ("finished_at", "started_at"):
        text = scan.get(key)
        moment = parse_time(text) if isinstance(text, str) else None
        if moment is not None:
            return moment
    return None


def record_time(record: Mapping[str, Any]) -> datetime:
    """When the change was seen: the end of the scan that saw it (its start if unknown)."""
    moment = _time_of(record["current"])
    assert moment is not None  # checked by parse_record
    return moment
