"""Where each target first appears in the store, in the order report files are read.

`summary` lists targets, and `timeline` orders them, by first appearance: scan time, vantage,
file, then the place in the report. Comparing that on every row of fifty million costs more
than the rest of the query, and nearly every target is in the first scan: so the earliest
scans are read first, a few, then more, until every target asked about has been seen.
"""

from __future__ import annotations

from typing import Any, Final

from kzprobe.analyst.store import layout
from kzprobe.analyst.store.engine import Engine
from kzprobe.analyst.store.selection import in_list

# Scans read in the first step; each next step reads this many times more.
FIRST_STEP: Final = 4
STEP_GROWTH: Final = 8


def first_appearances(engine: Engine, rows_where: str, scans_where: str, key: str,
                      wanted: set[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """(key columns..., category, keyword) for each key in `wanted` ('target' or 'target,
    vantage' tuples), in order of first appearance among the rows `rows_where` accepts."""
    columns = key.split(", ")
    epoch = engine.dialect.epoch_us
    first: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any, Any]] = {}
    offset, step = 0, FIRST_STEP
    while len(first) < len(wanted):
        scans = engine.rows(f"SELECT scan_key, vantage, day FROM scans WHERE {scans_where} "
                            f"ORDER BY started_at, vantage, file LIMIT {step} OFFSET {offset}")
        if not scans:
            break
        offset, step = offset + len(scans), step * STEP_GROWTH
        partitions = {layout.results_partition(vantage, day.isoformat()) for _, vantage, day in scans}
        for row in engine.rows(
            f"SELECT {key}, {epoch('scan_started_at')}, vantage, file, position, category, keyword "
            f"FROM {engine.results(partitions)} AS chosen "
            f"WHERE {rows_where} AND {in_list('scan_key', [scan for scan, _, _ in scans])}"
        ):
            name, order = tuple(row[:len(columns)]), tuple(row[len(columns):len(columns) + 4])
            if name in wanted and (name not in first or order < first[name][0]):
                first[name] = (order, row[-2], row[-1])
    return [(*name, category, keyword) for name,
            (_, category, keyword) in sorted(first.items(), key=lambda item: item[1][0])]
