"""Measured results waiting for the rest of their report: SQLite files beside the output.

One report per OONI report_id, but a report's measurements may be spread over many input files
(OONI's bucket cuts them by hour) and interleaved with other reports'. Holding them all in
memory would grow with the input; here they wait on disk, one row each, and come back report by
report. Each converting process writes its own file (StagingWriter), so that processes never
wait for one another's lock; a report's rows are then gathered from all of them
(StagedResults). A measurement read twice (the same file given twice, overlapping downloads) is
kept once: the copy read last in input order (file, line, item), whichever process read it, so
that the reports do not depend on how the work was shared.

A row holds the result as JSON made by orjson, its observations apart: they are most of its
bytes (a page of up to 64 KiB), and the report is written with those very bytes
(reports.py), so they are encoded once. orjson reads JSON back faster than pickle; what orjson
cannot write (an integer past 64 bits in OONI's verdict fields) is pickled.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kzprobe.ooni.measurement import Converted

# Where a measurement stands in the input: (file index, line, item of a JSON list on that line).
Order = tuple[int, int, int]


@dataclass
class Staged:
    """A measured result as it came back, and its observations as orjson wrote them (None when
    the result was pickled): the report writer copies those bytes instead of encoding again."""

    result: dict[str, Any]
    observations_json: bytes | None


def _encode(result: dict[str, Any]) -> tuple[bytes, bytes | None]:
    """(the result without its observations, the observations) as JSON; (pickle, None) for what
    orjson refuses."""
    try:
        observations = orjson.dumps(result["observations"])
        return orjson.dumps({k: v for k, v in result.items() if k != "observations"}), observations
    except TypeError:  # orjson.JSONEncodeError is one
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL), None


def _decode(rest: bytes, observations: bytes | None) -> Staged:
    if observations is None:
        return Staged(pickle.loads(rest), None)
    others = orjson.loads(rest)
    # The key order convert() gives: target, observations, then the rest.
    result = {"target": others.pop("target"), "observations": orjson.loads(observations), **others}
    return Staged(result, observations)


class StagingWriter:
    """One process's staging file: rows are added in transactions, one per batch of input."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None)
        # Pages of 64 KiB: a row (a page of up to 64 KiB and its result) goes to disk in one write
        # or two instead of a dozen, a fifth of the system time of the default 4 KiB.
        self._db.execute("PRAGMA page_size=65536")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS results (grp TEXT, key TEXT, file INTEGER, line INTEGER, "
                         "item INTEGER, started TEXT, rest BLOB, observations BLOB)")
        self._db.execute("CREATE INDEX IF NOT EXISTS by_group ON results (grp)")
        self._rows: list[tuple[Any, ...]] = []

    def add(self, converted: Converted, order: Order) -> None:
        # Only kzprobe wrote these rows: they are read back without checks.
        self._rows.append((converted.group, converted.key, *order, converted.result["started_at"],
                           *_encode(converted.result)))

    def commit(self) -> None:
        """Write the rows added since the last commit: another process may read them now."""
        if self._rows:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self._rows)
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

    def of_group(self, group: str, paths: Sequence[str]) -> list[Staged]:
        """The group's results, one per measurement key, in time order (then key)."""
        latest: dict[str, tuple[Order, str, bytes, bytes | None]] = {}
        for path in paths:
            rows = self._connection(path).execute(
                "SELECT key, file, line, item, started, rest, observations FROM results WHERE grp = ?", (group,))
            for key, file, line, item, started, rest, observations in rows:
                order = (file, line, item)
                if key not in latest or order > latest[key][0]:
                    latest[key] = (order, started, rest, observations)
        ordered = sorted(latest.items(), key=lambda entry: (entry[1][1], entry[0]))
        return [_decode(rest, observations) for _, (_, _, rest, observations) in ordered]

    def close(self) -> None:
        for connection in self._open.values():
            connection.close()
        self._open.clear()
