"""Measured results waiting for the rest of their report: an SQLite file beside the output.

One report per OONI report_id, but a report's measurements may be spread over many input files
(OONI's bucket cuts them by hour) and interleaved with other reports'. Holding them all in
memory would grow with the input; here they wait on disk, one row each, and come back report by
report. A measurement read twice (the same file given twice, overlapping downloads) is kept once.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kzprobe.ooni.measurement import Converted


class Staging:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE results (grp TEXT, key TEXT, started TEXT, body BLOB, PRIMARY KEY (grp, key))")
        self._db.execute("CREATE TABLE groups (grp TEXT PRIMARY KEY, info TEXT)")
        self._db.execute("CREATE TABLE files (grp TEXT, name TEXT, PRIMARY KEY (grp, name))")
        self._db.execute("BEGIN")
        self._last: tuple[str, str] | None = None  # (group, file) last recorded: most lines repeat it

    def add(self, converted: Converted, source_name: str) -> None:
        group = converted.group
        self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)",
                         (group, converted.key, converted.result["started_at"],
                          pickle.dumps(converted.result, protocol=pickle.HIGHEST_PROTOCOL)))
        if self._last != (group, source_name):
            info = {"report_id": converted.report_id, "vantage": converted.vantage,
                    "network_name": converted.network_name}
            self._db.execute("INSERT OR IGNORE INTO groups VALUES (?, ?)", (group, json.dumps(info)))
            self._db.execute("INSERT OR IGNORE INTO files VALUES (?, ?)", (group, source_name))
            self._last = (group, source_name)

    def groups(self) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
        """(group, info with its "files", measured results in time order), report by report."""
        self._db.execute("COMMIT")
        for group, info in self._db.execute("SELECT grp, info FROM groups ORDER BY grp"):
            details = json.loads(info)
            details["files"] = [name for (name,) in self._db.execute(
                "SELECT name FROM files WHERE grp = ? ORDER BY name", (group,))]
            rows = self._db.execute("SELECT body FROM results WHERE grp = ? ORDER BY started, key", (group,))
            # Pickle, not JSON: only this process wrote these rows, and it reads them twice as fast.
            yield group, details, [pickle.loads(body) for (body,) in rows]

    def close(self) -> None:
        self._db.close()
        try:
            self.path.unlink()
        except OSError:
            pass
