"""Digests of report files already read, kept between runs of the analyst commands.

A vantage scanning hourly adds one report an hour; an analyst re-running `timeline` over its
10,000 files should not parse 2 GB of JSON again for the one new file. Each digest is stored in
a SQLite file under the user's cache directory, keyed by the report's path, size, modification
time and inode: a file that changed in any of these is read again. Journals are never cached
(their verdicts depend on the analysis installed). The cache holds JSON, not pickles: nothing in
it is ever executed. Any trouble with it (read-only home, a locked or corrupt database) only
turns it off for that run.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

from kzprobe import __version__
from kzprobe.analyst.measures import Measures
from kzprobe.analyst.reading import Provenance, ScanDigest, TargetDigest
from kzprobe.analyst.service_rows import EndpointFailure, EndpointSummary
from kzprobe.report.format import JOURNAL_SUFFIX

# Where the cache lives: this directory, or "off" to disable it.
CACHE_ENV: Final = "KZPROBE_CACHE_DIR"
# Raise when the digest's shape or the rules that fill it change: old entries are then ignored
# (the database file name carries this and the kzprobe version; older files are deleted).
DIGEST_FORMAT: Final = 4
# Writes are committed in batches: one transaction per file would dominate a cold run.
COMMIT_EVERY: Final = 500
_NAME_PREFIX: Final = "digests-"


class FileStamp(NamedTuple):
    """What must not change for a cached digest to stay valid."""

    size: int
    mtime_ns: int
    inode: int


def file_stamp(path: str) -> FileStamp | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return FileStamp(info.st_size, info.st_mtime_ns, info.st_ino)


def cache_directory() -> Path | None:
    """$KZPROBE_CACHE_DIR, else $XDG_CACHE_HOME/kzprobe, else ~/.cache/kzprobe; None when off."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "no") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kzprobe"


class DigestCache:
    """Cached digests by file; use `open_cache()` to get one (or None)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._unsaved = 0

    def get(self, path: str, detail: bool, stamp: FileStamp) -> ScanDigest | None:
        data = self.get_data(path, detail, stamp)
        return None if data is None else deserialize(data, path)

    def get_data(self, path: str, detail: bool, stamp: FileStamp) -> str | None:
        """The stored text of the digest (deserialize() it, possibly in a worker), or None."""
        try:
            row = self._db.execute(
                "SELECT data FROM digests WHERE path = ? AND detail = ? AND size = ? AND mtime_ns = ? AND inode = ?",
                (_key(path), int(detail), *stamp),
            ).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row is not None and isinstance(row[0], str) else None

    def put(self, path: str, detail: bool, stamp: FileStamp, data: str) -> None:
        """Store `data`, a digest as serialize() wrote it (in the worker that read the file)."""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO digests (path, detail, size, mtime_ns, inode, data) VALUES (?, ?, ?, ?, ?, ?)",
                (_key(path), int(detail), *stamp, data),
            )
            self._unsaved += 1
            if self._unsaved >= COMMIT_EVERY:
                self._db.commit()
                self._unsaved = 0
        except sqlite3.Error:
            pass

    def close(self) -> None:
        try:
            self._db.commit()
            self._db.close()
        except sqlite3.Error:
            pass


def open_cache(directory: Path | None = None) -> DigestCache | None:
    """The cache in `directory` (default: cache_directory()), or None when off or unusable."""
    directory = directory if directory is not None else cache_directory()
    if directory is None:
        return None
    name = f"{_NAME_PREFIX}{DIGEST_FORMAT}-{__version__}.sqlite3"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in directory.glob(f"{_NAME_PREFIX}*.sqlite3"):
            if stale.name != name:
                stale.unlink(missing_ok=True)
        connection = sqlite3.connect(directory / name, timeout=5)
        connection.execute("PRAGMA synchronous = OFF")  # a cache: losing the last writes is fine
        connection.execute(
            "CREATE TABLE IF NOT EXISTS digests (path TEXT, detail INTEGER, size INTEGER, mtime_ns INTEGER,"
            " inode INTEGER, data TEXT, PRIMARY KEY (path, detail))"
        )
        connection.commit()
    except (OSError, sqlite3.Error):
        return None
    return DigestCache(connection)


def cacheable(path: str) -> bool:
    return not path.endswith(JOURNAL_SUFFIX)


def _key(path: str) -> str:
    return os.path.abspath(path)


def serialize(scan: ScanDigest) -> str:
    """The digest as the cache stores it (JSON text)."""
    return json.dumps(_to_json(scan), separators=(",", ":"))


def deserialize(data: str, path: str) -> ScanDigest | None:
    """The digest serialize() wrote, or None when the text is not one (read the file instead)."""
    try:
        return _from_json(json.loads(data), path)
    except (ValueError, TypeError, KeyError, IndexError):
        return None


def _to_json(scan: ScanDigest) -> list[Any]:
    return [
        scan.scan_id, scan.started_at.isoformat(), scan.finished_at.isoformat() if scan.finished_at else None,
        scan.complete, scan.vantage, scan.asn, scan.country, scan.connectivity, scan.software,
        [
            [*target[:10], _endpoints_json(target.endpoints), list(target.measures) if target.measures else None,
             target.queued_ms, target.keyword]
            for target in scan.targets
        ],
        list(scan.provenance) if scan.provenance else None,
    ]


def _endpoints_json(summary: EndpointSummary | None) -> list[Any] | None:
    return None if summary is None else [summary.total, [list(failure) for failure in summary.failing]]


def _from_json(data: list[Any], path: str) -> ScanDigest:
    scan_id, started, finished, complete, vantage, asn, country, connectivity, software, targets, provenance = data
    return ScanDigest(
        path=path,
        from_journal=False,
        scan_id=scan_id,
        started_at=datetime.fromisoformat(started),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        complete=complete,
        vantage=vantage,
        asn=asn,
        country=country,
        connectivity=connectivity,
        software=software,
        targets=tuple(_target_from_json(target) for target in targets),
        provenance=Provenance(*provenance) if provenance else None,
    )


def _target_from_json(item: list[Any]) -> TargetDigest:
    endpoints = item[10]
    return TargetDigest(
        item[0], item[1], item[2], item[3], item[4], item[5],
        tuple(item[6]),
        item[7], item[8], item[9],
        EndpointSummary(endpoints[0], tuple(EndpointFailure(*f) for f in endpoints[1])) if endpoints else None,
        Measures(*item[11]) if item[11] is not None else None,
        item[12],
        keyword=item[13] if len(item) > 13 else None,
    )
