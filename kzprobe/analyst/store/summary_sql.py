"""`kzprobe summary --store`: the SummarySource of a store, each answer one aggregate query.

The grouping is chosen from counts (scans, then distinct vantage × period) and the cells are
counted per target, column and state in SQL (per day first: every period is whole UTC days):
however many rows the store holds, Python sees a few hundred groups and one count per target,
column and state. That one pass also says which targets there are and which verdicts each had.
The counts per day come from the runs table (a few rows per target and day) for the days the
filters take whole, and from the rows of the days --since or --until cut.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import groupby, repeat
from typing import Any

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.reading import target_label
from kzprobe.analyst.store import layout
from kzprobe.analyst.store.appearance import first_appearances
from kzprobe.analyst.store.engine import Engine
from kzprobe.analyst.store.selection import (
    day_runs,
    day_split,
    epoch_us_to_time,
    in_days,
    in_list,
    result_keys,
    runs_where,
    scan_where,
)
from kzprobe.analyst.streaming import ScanFilter
from kzprobe.analyst.style import verdict_of
from kzprobe.analyst.summary import PERIODS, ColumnGroup, ScanColumn, SummaryShape, SummaryTarget, scan_time


class StoreSummary:
    """Summary aggregates from a store's views, for the scans `scan_filter` accepts."""

    def __init__(self, engine: Engine, scan_filter: ScanFilter) -> None:
        self.engine = engine
        self.scan_filter = scan_filter
        self.scans_where = scan_where(engine, scan_filter, time_column="started_at")
        self.rows_where = scan_where(engine, scan_filter)
        self._by_period = True
        self._group_of: dict[Any, int] = {}  # (vantage, period) or scan key -> column
        self._cells_sql = ""
        self._cells: dict[str, list[Counter[str]]] | None = None

    def count(self) -> int:
        return int(self.engine.rows(f"SELECT count(*) FROM scans WHERE {self.scans_where}")[0][0])

    def shape(self, max_columns: int) -> SummaryShape:
        epoch = self.engine.dialect.epoch_us
        (scans, first, last, incomplete), = self.engine.rows(
            f"SELECT count(*), {epoch('min(started_at)')}, {epoch('max(started_at)')}, "
            f"sum(CASE WHEN complete THEN 0 ELSE 1 END) FROM scans WHERE {self.scans_where}")
        distinct = self.engine.rows(f"SELECT DISTINCT vantage FROM scans WHERE {self.scans_where}")
        vantages = sorted(row[0] for row in distinct)
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
                f"SELECT vantage, {epoch('started_at')}, complete, connectivity, scan_key, day FROM scans "
                f"WHERE {self.scans_where} ORDER BY started_at, vantage, file")
            self._by_period = False
            self._group_of = {row[4]: number for number, row in enumerate(rows)}
            partitions = {layout.results_partition(row[0], row[5].isoformat()) for row in rows}
            self._cells_sql = (f"SELECT target, '' AS vantage, scan_key, state, count(*) "
                               f"FROM {self.engine.results(partitions)} AS chosen "
                               f"WHERE {self.rows_where} AND {in_list('scan_key', list(self._group_of))} "
                               "GROUP BY target, scan_key, state")
            return "scan", [
                ColumnGroup(vantage, scan_time(epoch_us_to_time(moment)), epoch_us_to_time(moment), 1,
                            0 if complete else 1, Counter([connectivity]))
                for vantage, moment, complete, connectivity, _, _ in rows
            ]
        for kind in PERIODS:
            period = self.engine.dialect.period(kind, "started_at")
            (count,), = self.engine.rows(
                f"SELECT count(*) FROM (SELECT DISTINCT vantage, {period} AS p FROM scans WHERE {self.scans_where}) "
                "AS g")
            if count <= max_columns:
                return kind, self._period_groups(kind, period)
        return "", []

    def _period_groups(self, kind: str, period: str) -> list[ColumnGroup]:
        epoch = self.engine.dialect.epoch_us
        found: dict[tuple[str, str], ColumnGroup] = {}
        for vantage, label, connectivity, first, scans, incomplete in self.engine.rows(
            f"SELECT vantage, {period} AS p, connectivity, {epoch('min(started_at)')}, count(*), "
            f"sum(CASE WHEN complete THEN 0 ELSE 1 END) FROM scans WHERE {self.scans_where} "
            "GROUP BY vantage, p, connectivity"
        ):
            group = found.get((vantage, label))
            if group is None:
                group = found[(vantage, label)] = ColumnGroup(vantage, label, epoch_us_to_time(first), 0, 0, Counter())
            group.first = min(group.first, epoch_us_to_time(first))
            group.scans += int(scans)
            group.incomplete += int(incomplete)
            group.connectivity[connectivity] += int(scans)
        ordered = sorted(found, key=lambda key: (found[key].first, key[0]))
        self._group_of = {key: number for number, key in enumerate(ordered)}
        # A period is a set of whole UTC days: rows are counted per day first, then per period.
        self._cells_sql = (
            f"SELECT target, vantage, {self.engine.dialect.period(kind, 'day')} AS p, state, sum(n) "
            f"FROM ({self._daily_sql()}) AS daily GROUP BY target, vantage, p, state")
        return [found[key] for key in ordered]

    def _daily_sql(self) -> str:
        """Scans per target, vantage, day and state (target, vantage, day, state, n): from the
        runs of the days the filters take whole, and from the rows of the days they cut."""
        engine, split = self.engine, day_split(self.scan_filter)
        whole = (f"SELECT target, vantage, day, state, CAST(sum(scans) AS BIGINT) AS n FROM runs "
                 f"WHERE {runs_where(engine, self.scan_filter, split)} GROUP BY target, vantage, day, state")
        if not split.partial:
            return whole
        chosen = engine.results(result_keys(engine, self.scan_filter, split.partial))
        cut = (f"SELECT target, vantage, day, state, CAST(count(*) AS BIGINT) AS n FROM {chosen} AS chosen "
               f"WHERE {self.rows_where} AND {in_days(engine.dialect, split.partial)} "
               "GROUP BY target, vantage, day, state")
        return f"{whole} UNION ALL {cut}"

    def _counts(self) -> dict[str, list[Counter[str]]]:
        """Per target, per column, the count of each state (one pass over the rows, kept)."""
        if self._cells is None:
            self._cells = {}
            width = len(self._group_of)
            for target, vantage, label, state, count in self.engine.rows(self._cells_sql):
                group = self._group_of.get((vantage, label) if self._by_period else label)
                if group is not None:
                    row = self._cells.get(target)
                    if row is None:
                        row = self._cells[target] = [Counter() for _ in range(width)]
                    row[group][state] += int(count)
        return self._cells

    def shown_targets(self, target_filter: TargetFilter) -> list[SummaryTarget]:
        if self._cells_sql:  # the table: targets and the verdicts seen come with the counts
            counts = self._counts()
            seen = {target: {verdict_of(state) for row in rows for state in row} for target, rows in counts.items()}
        else:  # the full matrix (--csv)
            seen = {}
            pairs = self.engine.rows(f"SELECT DISTINCT target, state FROM ({self._daily_sql()}) AS daily")
            for target, state in pairs:
                seen.setdefault(target, set()).add(verdict_of(state))
        order = first_appearances(self.engine, self.rows_where, self.scans_where, "target", {(t,) for t in seen})
        return [
            SummaryTarget(target, category, target_label(target, keyword)) for target, category, keyword in order
            if target_filter.accepts_target(target, category) and target_filter.accepts_verdicts(seen[target])
        ]

    def group_cells(self, shape: SummaryShape, targets: list[SummaryTarget]) -> list[list[Counter[str]]]:
        counts = self._counts()
        return [counts.get(target.id) or [Counter() for _ in shape.groups] for target in targets]

    def all_scans(self) -> list[ScanColumn]:
        epoch = self.engine.dialect.epoch_us
        return [
            ScanColumn(vantage, epoch_us_to_time(moment), complete, connectivity)
            for vantage, moment, complete, connectivity in self.engine.rows(
                f"SELECT vantage, {epoch('started_at')}, complete, connectivity FROM scans "
                f"WHERE {self.scans_where} ORDER BY started_at, vantage, file")
        ]

    def scan_states(self, targets: list[SummaryTarget]) -> Iterator[list[str]]:
        """Each target's row of the full matrix (a state per scan of all_scans(), "" where the
        target is not in it), from its day runs: a target in every scan of a vantage has runs
        that cover that vantage's scans in order, a state for `scans` of them each, so its row
        is its runs written out (10,000 scans of 80 targets: 40,000 runs instead of 800,000
        rows). A target missing from some scans of a vantage has its cells placed one by one."""
        shown = [target.id for target in targets]
        columns: dict[str, list[int]] = {}  # each vantage's scans: their columns, in time order
        for number, (vantage,) in enumerate(self.engine.rows(
                f"SELECT vantage FROM scans WHERE {self.scans_where} ORDER BY started_at, vantage, file")):
            columns.setdefault(vantage, []).append(number)
        width = sum(map(len, columns.values()))
        runs = day_runs(self.engine, self.scan_filter, in_list("target", shown))
        rows: dict[str, list[str]] = {}
        sparse: set[str] = set()
        found = self.engine.rows(f"SELECT target, vantage, state, scans FROM {runs} AS runs "
                                 "ORDER BY target, vantage, first_scan, first_file")
        for (target, vantage), group in groupby(found, key=lambda run: (run[0], run[1])):
            states = [state for _, _, state, scans in group for state in repeat(state, int(scans))]
            cells = columns.get(vantage, [])
            if len(states) != len(cells):  # the target missed scans of the vantage
                sparse.add(target)
                continue
            row = rows.setdefault(target, [""] * width)
            for column, state in zip(cells, states, strict=True):
                row[column] = state
        rows.update(self._placed(sorted(sparse), width))
        for target in shown:
            yield rows.get(target) or [""] * width

    def _placed(self, sparse: list[str], width: int) -> dict[str, list[str]]:
        """The rows of the `sparse` targets, made cell by cell from their rows in the store."""
        rows = {target: [""] * width for target in sparse}
        if not sparse:
            return rows
        chosen = self.engine.results(result_keys(self.engine, self.scan_filter))
        for target, number, state in self.engine.rows(
            f"SELECT target, n, state FROM {chosen} AS chosen JOIN (SELECT scan_key AS key, row_number() OVER "
            f"(ORDER BY started_at, vantage, file) AS n FROM scans WHERE {self.scans_where}) AS columns "
            f"ON chosen.scan_key = columns.key WHERE {self.rows_where} AND {in_list('target', sparse)}"
        ):
            rows[target][int(number) - 1] = state
        return rows
