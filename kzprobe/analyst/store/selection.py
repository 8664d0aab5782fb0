"""The analysts' filters (--vantage, --since, --until, --category, --target, --verdict) as SQL.

Each clause means exactly what the filter means on report files (kzprobe.analyst.streaming and
kzprobe.analyst.filters). Target patterns are shell patterns matched in Python against the
store's distinct target ids (a few thousand), so their meaning cannot drift from fnmatch's.

Two more things are said here in terms of days, the store's partitions: which results
partitions a filter can touch (the engine opens only those), and which days `--since` and
`--until` take whole (answered from the runs table) and which they cut (answered from the rows).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.store import layout
from kzprobe.analyst.store.engine import Engine
from kzprobe.analyst.store.views import RUN_COLUMNS, Dialect, row_runs_sql, sql_string
from kzprobe.analyst.streaming import ScanFilter

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us_to_time(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def in_list(column: str, values: Sequence[str]) -> str:
    """`column IN (...)`; FALSE for an empty list (nothing matches)."""
    if not values:
        return "FALSE"
    return f"{column} IN ({', '.join(sql_string(value) for value in values)})"


def in_days(dialect: Dialect, days: Collection[date]) -> str:
    """`day IN (...)`; FALSE for no day."""
    if not days:
        return "FALSE"
    return f"day IN ({', '.join(dialect.date(day) for day in sorted(days))})"


def scan_where(engine: Engine, scan_filter: ScanFilter, *, time_column: str = "scan_started_at") -> str:
    """The scan part of the filters, for `results` (default) or `scans` (time_column='started_at')."""
    clauses = ["TRUE"]
    dialect = engine.dialect
    if scan_filter.vantages:
        clauses.append(in_list("vantage", scan_filter.vantages))
    if scan_filter.since is not None:
        clauses.append(f"{time_column} >= {dialect.timestamp(scan_filter.since)}")
    if scan_filter.until is not None:
        clauses.append(f"{time_column} < {dialect.timestamp(scan_filter.until)}")
    if time_column == "scan_started_at":  # the day partition: other days' files are skipped unread
        if scan_filter.since is not None:
            clauses.append(f"day >= {dialect.date(scan_filter.since.astimezone(UTC).date())}")
        if scan_filter.until is not None:
            clauses.append(f"day <= {dialect.date(scan_filter.until.astimezone(UTC).date())}")
    return " AND ".join(clauses)


def result_keys(engine: Engine, scan_filter: ScanFilter, days: Collection[date] | None = None) -> list[str] | None:
    """The results partitions (manifest keys) the scan filter can touch, and only those of
    `days` when given; None when that is every partition."""
    if not scan_filter.vantages and scan_filter.since is None and scan_filter.until is None and days is None:
        return None
    vantages = set(scan_filter.vantages) or None
    first = scan_filter.since.astimezone(UTC).date().isoformat() if scan_filter.since is not None else ""
    last = scan_filter.until.astimezone(UTC).date().isoformat() if scan_filter.until is not None else "9999"
    wanted = {day.isoformat() for day in days} if days is not None else None
    keys = []
    for key in engine.manifest.results:
        vantage, day = layout.split_partition(key)
        if ((vantages is None or vantage in vantages) and first <= day <= last
                and (wanted is None or day in wanted)):
            keys.append(key)
    return keys


@dataclass(frozen=True)
class DaySplit:
    """The days --since/--until take whole, [first, end) (None: unbounded), and those they cut
    (`partial`): a whole day's rows are all in its runs; a cut day's must be read and filtered."""

    first: date | None
    end: date | None
    partial: frozenset[date]

    def whole_days(self, dialect: Dialect) -> str:
        """The clause choosing the whole days (the runs table's `day`)."""
        clauses = ["TRUE"]
        if self.first is not None:
            clauses.append(f"day >= {dialect.date(self.first)}")
        if self.end is not None:
            clauses.append(f"day < {dialect.date(self.end)}")
        if self.first is not None and self.end is not None and self.first >= self.end:
            return "FALSE"
        return " AND ".join(clauses)


def day_split(scan_filter: ScanFilter) -> DaySplit:
    first = end = None
    partial = set()
    if scan_filter.since is not None:
        since = scan_filter.since.astimezone(UTC)
        first = since.date() if _midnight(since) else since.date() + timedelta(days=1)
        if not _midnight(since):
            partial.add(since.date())
    if scan_filter.until is not None:
        until = scan_filter.until.astimezone(UTC)
        end = until.date()
        if not _midnight(until):
            partial.add(until.date())
    if scan_filter.since is not None and scan_filter.until is not None:  # cut days inside the range only
        low, high = scan_filter.since.astimezone(UTC).date(), scan_filter.until.astimezone(UTC).date()
        partial = {day for day in partial if low <= day <= high and scan_filter.since < scan_filter.until}
    return DaySplit(first, end, frozenset(partial))


def _midnight(moment: datetime) -> bool:
    return moment.time() == time()


def runs_where(engine: Engine, scan_filter: ScanFilter, split: DaySplit) -> str:
    """The runs of whole days that the scan filter keeps."""
    clauses = [split.whole_days(engine.dialect)]
    if scan_filter.vantages:
        clauses.append(in_list("vantage", scan_filter.vantages))
    return " AND ".join(clauses)


def target_where(engine: Engine, target_filter: TargetFilter, scan_filter: ScanFilter, *, verdicts: bool) -> str:
    """The id and category part of a target filter (and its verdicts, with `verdicts`) for rows
    or runs. Patterns are matched against the targets of the runs of the days the scan filter
    touches (whole or cut: a few more names than needed change nothing)."""
    clauses = []
    if target_filter.categories:
        clauses.append(in_list("upper(coalesce(category, ''))", target_filter.categories))
    if target_filter.patterns:
        touched = DaySplit(*_touched_days(scan_filter), frozenset()).whole_days(engine.dialect)
        vantages = in_list("vantage", scan_filter.vantages) if scan_filter.vantages else "TRUE"
        targets = [row[0] for row in engine.rows(f"SELECT DISTINCT target FROM runs WHERE {touched} AND {vantages}")]
        clauses.append(in_list("target", [target for target in targets if _matches_pattern(target_filter, target)]))
    if verdicts and target_filter.verdicts:
        clauses.append(in_list("verdict", target_filter.verdicts))
    return " AND ".join(clauses) if clauses else "TRUE"


def _touched_days(scan_filter: ScanFilter) -> tuple[date | None, date | None]:
    since = scan_filter.since.astimezone(UTC).date() if scan_filter.since is not None else None
    until = scan_filter.until.astimezone(UTC).date() + timedelta(days=1) if scan_filter.until is not None else None
    return since, until


def _matches_pattern(target_filter: TargetFilter, target: str) -> bool:
    """The pattern part alone (accepts_target also checks the category, done in SQL here)."""
    return TargetFilter(patterns=target_filter.patterns).accepts_target(target, None)


def day_runs(engine: Engine, scan_filter: ScanFilter, targets: str) -> str:
    """The day runs (RUN_COLUMNS) of the scans the filter keeps and of the targets `targets` (a
    clause) chooses, as one relation: the runs table's for the days taken whole, and runs made
    from the rows of the days --since or --until cut."""
    dialect, split = engine.dialect, day_split(scan_filter)
    runs = f"SELECT {RUN_COLUMNS} FROM runs WHERE {runs_where(engine, scan_filter, split)} AND {targets}"
    if not split.partial:
        return f"({runs})"
    partitions = result_keys(engine, scan_filter, split.partial)
    chosen = (f"(SELECT target, vantage, day, state, scan_started_at, scan_complete, file "
              f"FROM {engine.results(partitions)} AS chosen "
              f"WHERE {scan_where(engine, scan_filter)} AND {targets} AND {in_days(dialect, split.partial)})")
    return f"({runs} UNION ALL SELECT {RUN_COLUMNS} FROM ({row_runs_sql(dialect, chosen)}) AS cut_days)"
