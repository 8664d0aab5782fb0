"""`<output dir>/index.json`: the vantage's reports by name, size and SHA-256, for `kzprobe collect`.

A collector polling a hundred vantages must learn what is new without listing directories (a
static web server may not) or downloading what it already has: it reads this small file,
fetches the reports it lacks, and checks each against the size and hash listed here. The scan
rewrites it after retention, atomically (rename(2), like latest.json), so a collector reads the
old index or the new one. Only complete-named reports (`<vantage>-<stamp>.json`, header
checked: kzprobe.vantage.report_files) are listed; journals, latest.json and a user's own
files are not. A file whose name, size and modification time are unchanged keeps its listed
hash: an hourly scan hashes one new report, not a year of them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any, Final

from kzprobe.report.atomic import replace_atomically
from kzprobe.report.read import REPORT_INDEX
from kzprobe.vantage.report_files import scan_report

INDEX_NAME: Final = REPORT_INDEX
INDEX_FORMAT: Final = "kzprobe-index"
INDEX_VERSION: Final = 1
# Published on purpose, like latest.json.
INDEX_MODE: Final = 0o644
# The previous index is read back to reuse its hashes; a larger one is ignored (rebuilt).
MAX_INDEX_BYTES: Final = 64 * 1024 * 1024


class ReportIndexError(OSError):
    """index.json could not be written (the message says why); the scan itself succeeded."""


def publish_index(directory: Path) -> Path:
    """Rewrite `<directory>/index.json` from the reports in `directory` (not below it)."""
    path = directory / INDEX_NAME
    previous = _previous_entries(path)
    entries: list[dict[str, Any]] = []
    try:
        names = sorted(entry.name for entry in os.scandir(directory) if not entry.name.startswith("."))
    except OSError as exc:
        raise ReportIndexError(f"cannot list {directory}: {exc.strerror or exc}") from exc
    for name in names:
        report = scan_report(directory / name)
        if report is None:
            continue
        try:
            info = (directory / name).stat()
        except OSError:
            continue  # deleted meanwhile (retention, a user)
        old = previous.get(name)
        if old is not None and old.get("size") == info.st_size and old.get("mtime_ns") == info.st_mtime_ns:
            sha256 = old["sha256"]
        else:
            sha256 = _sha256(directory / name)
            if sha256 is None:
                continue
        entries.append({"name": name, "size": info.st_size, "sha256": sha256, "mtime_ns": info.st_mtime_ns,
                        "started_at": report.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "complete": report.complete})
    index = {"format": INDEX_FORMAT, "format_version": INDEX_VERSION, "reports": entries}
    encoded = json.dumps(index, separators=(",", ":"), ensure_ascii=True).encode()
    def fill(handle: IO[bytes]) -> None:
        handle.write(encoded)

    try:
        replace_atomically(path, fill, mode=INDEX_MODE)
    except OSError as exc:
        raise ReportIndexError(f"cannot replace {path}: {exc.strerror or exc}") from exc
    return path


def _previous_entries(path: Path) -> dict[str, dict[str, Any]]:
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            return {}
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    reports = data.get("reports") if isinstance(data, dict) else None
    if not isinstance(reports, list):
        return {}
    return {entry["name"]: entry for entry in reports
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("sha256"), str)}


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
