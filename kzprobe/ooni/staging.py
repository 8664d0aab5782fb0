"""Measured results waiting for the rest of their report: SQLite files beside the output.

One report per OONI report_id, but a report's measurements may be spread over many input files
(OONI's bucket cuts them by hour) and interleaved with other reports'. Holding them all in
memory would grow with the input; here they wait on disk, one row each, and come back report by
report. Each converting process writes its own file (StagingWriter), so that processes never
wait for one another's lock; a report's rows are then gathered from all of them
(StagedResults). A measurement read twice (the same file given twice, overlapping downloads) is
kept once: the copy read last in input order (file, line, item), whichever process read it, so
that the reports do not depend on how the work was shared.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kzprobe.ooni.measurement import Converted

# Where a measurement stands in the input: (file index, line, item of a JSON list on that line).
Order = tuple[int, int, int]


class StagingWriter:
    """One process's staging file: rows are added in transactions, one per batch of input."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS results (grp TEXT, key TEXT, file INTEGER, line INTEGER, "
                         "item INTEGER, started TEXT, body BLOB)")
        self._db.execute("CREATE INDEX IF NOT EXISTS by_group ON results (grp)")
        self._rows: list[tuple[Any, ...]] = []

    def add(self, converted: Converted, order: Order) -> None:
        # Pickle, not JSON: only kzprobe wrote these rows, and it reads them back faster.
        self._rows.append((converted.group, converted.key, *order, converted.result["started_at"],
                           pickle.dumps(converted.result, protocol=pickle.HIGHEST_PROTOCOL)))

    def commit(self) -> None:
        """Write the rows added since the last commit: another process may read them now."""
        if self._rows:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?)", self._rows)
            self._db.execute("COMMIT")
            self._rows = []

    def close(self) -> None:
        self._db.close()


class StagedResults:
    """A report's measured results, gathered from every process's staging file."""

    def __init__(self) -> None:
        self._open: dict[str, sqlite3.Connection] = {}

    def _connection(self, path: str) -> sqlite3.Connection:
        if path not in self._open:
            self._open[path] = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        return self._open[path]

    def of_group(self, group: str, paths: Sequence[str]) -> list[dict[str, Any]]:
        """The group's results, one per measurement key, in time order (then key)."""
        latest: dict[str, tuple[Order, str, bytes]] = {}
        for path in paths:
            rows = self._connection(path).execute(
                "SELECT key, file, line, item, started, body FROM results WHERE grp = ?", (group,))
            for key, file, line, item, started, body in rows:
                order = (file, line, item)
                if key not in latest or order > latest[key][0]:
                    latest[key] = (order, started, body)
        ordered = sorted(latest.items(), key=lambda entry: (entry[1][1], entry[0]))
        return [pickle.loads(body) for _, (_, _, body) in ordered]

    def close(self) -> None:
        for connection in self._open.values():
            connection.close()
        self._open.clear()
