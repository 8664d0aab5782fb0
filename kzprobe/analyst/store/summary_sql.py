"""`kzprobe summary --store`: the SummarySource of a store, each answer one aggregate query.

The grouping is chosen from counts (scans, then distinct vantage × period) and the cells are
counted per target, column and state in SQL: however many rows the store holds, Python sees a
few hundred groups and one count per target, column and state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.store.engine import Engine
from kzprobe.analyst.store.selection import epoch_us_to_time, scan_where
from kzprobe.analyst.store.views import sql_string
from kzprobe.analyst.streaming import ScanFilter
from kzprobe.analyst.summary import PERIODS, ColumnGroup, ScanColumn, SummaryShape, SummaryTarget, scan_time



class StoreSummary:
    """Summary aggregates from a store's views, for the scans `scan_filter` accepts."""

    def __init__(self, engine: Engine, scan_filter: ScanFilter) -> None:
        self.engine = engine
        self.scans_where = scan_where(engine, scan_filter, time_column="started_at")
        self.rows_where = scan_where(engine, scan_filter)
        self._group_conditions: list[str] = []

    def count(self) -> int:
        return int(self.engine.rows(f"SELECT count(*) FROM scans WHERE {self.scans_where}")[0][0])

    def shape(self, max_columns: int) -> SummaryShape:
        epoch = self.engine.dialect.epoch_us
        (scans, first, last, incomplete), = self.engine.rows(
            f"SELECT count(*), {epoch('min(started_at)')}, {epoch('max(started_at)')}, "
            f"sum(CASE WHEN complete THEN 0 ELSE 1 END) FROM scans WHERE {self.scans_where}")
        vantages = sorted(row[0] for row in self.engine.rows(f"SELECT DISTINCT vantage FROM scans WHERE {self.scans_where}"))
        grouping, groups = self._groups(int(scans), max_columns)
        return SummaryShape(
            scans=int(scans), vantages=vantages,
            first=epoch_us_to_time(first) if first is not None else None,
            last=epoch_us_to_time(last) if last is not None else None,
            any_incomplete=bool(incomplete), grouping=grouping, groups=groups,
        )

    def _groups(self, scans: int, max_columns: int) -> tuple[str, list[ColumnGroup]]:
        epoch = self.engine.dialect.epoch_us
        if scans <= max_columns:
            rows = self.engine.rows(
                f"SELECT vantage, {epoch('started_at')}, complete, connectivity, scan_key FROM scans "
                f"WHERE {self.scans_where} ORDER BY started_at, vantage, file")
            self._group_conditions = [f"scan_key = {sql_string(key)}" for *_, key in rows]
            return "scan", [
                ColumnGroup(vantage, scan_time(epoch_us_to_time(moment)), epoch_us_to_time(moment), 1,
                            0 if complete else 1, Counter([connectivity]))
                for vantage, moment, complete, connectivity, _ in rows
            ]
        for kind in PERIODS:
            period = self.engine.dialect.period(kind, "started_at")
            (count,), = self.engine.rows(
                f"SELECT count(*) FROM (SELECT DISTINCT vantage, {period} AS p FROM scans WHERE {self.scans_where}) AS g")
            if count <= max_columns:
                return kind, self._period_groups(period)
        return "", []

    def _period_groups(self, period: str) -> list[ColumnGroup]:
        epoch = self.engine.dialect.epoch_us
        found: dict[tuple[str, str], ColumnGroup] = {}
        bounds: dict[tuple[str, str], tuple[int, int]] = {}
        for vantage, label, connectivity, first, last, scans, incomplete in self.engine.rows(
            f"SELECT vantage, {period} AS p, connectivity, {epoch('min(started_at)')}, {epoch('max(started_at)')}, "
            f"count(*), sum(CASE WHEN complete THEN 0 ELSE 1 END) FROM scans WHERE {self.scans_where} "
            "GROUP BY vantage, p, connectivity"
        ):
            group = found.get((vantage, label))
            if group is None:
                group = found[(vantage, label)] = ColumnGroup(vantage, label, epoch_us_to_time(first), 0, 0, Counter())
                bounds[(vantage, label)] = (first, last)
            group.first = min(group.first, epoch_us_to_time(first))
            group.scans += int(scans)
            group.incomplete += int(incomplete)
            group.connectivity[connectivity] += int(scans)
            low, high = bounds[(vantage, label)]
            bounds[(vantage, label)] = (min(low, first), max(high, last))
        ordered = sorted(found, key=lambda key: (found[key].first, key[0]))
        # A vantage's periods do not overlap: its scans between a period's first and last are that period's.
        dialect = self.engine.dialect
        self._group_conditions = [
            f"vantage = {sql_string(key[0])} AND {dialect.epoch_us('scan_started_at')} BETWEEN {bounds[key][0]} AND {bounds[key][1]}"
            for key in ordered
        ]
        return [found[key] for key in ordered]

    def shown_targets(self, target_filter: TargetFilter) -> list[SummaryTarget]:
        seen: dict[str, set[str]] = {}
        if target_filter.verdicts:
            for target, verdict in self.engine.rows(
                f"SELECT DISTINCT target, verdict FROM results WHERE {self.rows_where} AND verdict IS NOT NULL"
            ):
                seen.setdefault(target, set()).add(verdict)
        return [
            SummaryTarget(target, category) for target, category in first_appearances(self.engine, self.rows_where, "target")
            if target_filter.accepts_target(target, category) and target_filter.accepts_verdicts(seen.get(target, ()))
        ]

    def group_cells(self, shape: SummaryShape, targets: list[SummaryTarget]) -> list[list[Counter[str]]]:
        index = {target.id: number for number, target in enumerate(targets)}
        cells: list[list[Counter[str]]] = [[Counter() for _ in shape.groups] for _ in targets]
        if not targets or not shape.groups:
            return cells
        cases = " ".join(f"WHEN {condition} THEN {number}" for number, condition in enumerate(self._group_conditions))
        for target, group, state, count in self.engine.rows(
            f"SELECT target, g, state, count(*) FROM (SELECT target, state, CASE {cases} ELSE -1 END AS g "
            f"FROM results WHERE {self.rows_where}) AS chosen WHERE g >= 0 GROUP BY target, g, state"
        ):
            if target in index:
                cells[index[target]][int(group)][state] += int(count)
        return cells

    def all_scans(self) -> list[ScanColumn]:
        epoch = self.engine.dialect.epoch_us
        return [
            ScanColumn(vantage, epoch_us_to_time(moment), complete, connectivity)
            for vantage, moment, complete, connectivity in self.engine.rows(
                f"SELECT vantage, {epoch('started_at')}, complete, connectivity FROM scans "
                f"WHERE {self.scans_where} ORDER BY started_at, vantage, file")
        ]

    def scan_states(self, targets: list[SummaryTarget]) -> Iterator[list[str | None]]:
        keys = [row[0] for row in self.engine.rows(
            f"SELECT scan_key FROM scans WHERE {self.scans_where} ORDER BY started_at, vantage, file")]
        column = {key: number for number, key in enumerate(keys)}
        index = {target.id: number for number, target in enumerate(targets)}
        matrix: list[list[str | None]] = [[None] * len(keys) for _ in targets]
        for batch in self.engine.batches(f"SELECT target, scan_key, state FROM results WHERE {self.rows_where}"):
            for target, key, state in zip(*(batch.column(n).to_pylist() for n in range(3))):
                if target in index and key in column:
                    matrix[index[target]][column[key]] = state
        yield from matrix



def first_appearances(engine: Engine, rows_where: str, key: str) -> list[tuple[Any, ...]]:
    """(key columns..., category) where each `key` ('target', or 'target, vantage') first appears,
    in that order: the order report files are read in (time, vantage, file), then the place in
    the report. Only the rows at each key's earliest time are fetched (a join on a small
    aggregate): comparing (time, vantage, file, position) on every row of a large store is slow."""
    epoch = engine.dialect.epoch_us
    on = " AND ".join(f"c.{column} = f.{column}" for column in key.split(", "))
    rows = engine.rows(
        f"WITH chosen AS (SELECT target, vantage, category, scan_started_at, file, position FROM results "
        f"WHERE {rows_where}), firsts AS (SELECT {key}, min(scan_started_at) AS t0 FROM chosen GROUP BY {key}) "
        f"SELECT {', '.join('c.' + column for column in key.split(', '))}, {epoch('c.scan_started_at')}, c.vantage, "
        f"c.file, c.position, c.category FROM chosen AS c JOIN firsts AS f ON {on} AND c.scan_started_at = f.t0")
    width = key.count(",") + 1
    first: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in rows:
        name, order = tuple(row[:width]), tuple(row[width:width + 4])
        if name not in first or order < first[name][0]:
            first[name] = (order, row[-1])
    return [(*name, category) for name, (_, category) in sorted(first.items(), key=lambda item: item[1][0])]
