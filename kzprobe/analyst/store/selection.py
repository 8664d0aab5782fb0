"""The analysts' filters (--vantage, --since, --until, --category, --target, --verdict) as SQL.

Each clause means exactly what the filter means on report files (kzprobe.analyst.streaming and
kzprobe.analyst.filters). Target patterns are shell patterns matched in Python against the
store's distinct target ids (a few thousand), so their meaning cannot drift from fnmatch's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.store.engine import Engine
from kzprobe.analyst.store.views import sql_string
from kzprobe.analyst.streaming import ScanFilter


def epoch_us_to_time(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def in_list(column: str, values: Sequence[str]) -> str:
    """`column IN (...)`; FALSE for an empty list (nothing matches)."""
    if not values:
        return "FALSE"
    return f"{column} IN ({', '.join(sql_string(value) for value in values)})"


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
    if time_column == "scan_started_at":  # the month partition: whole months are skipped unread
        if scan_filter.since is not None:
            clauses.append(f"month >= '{scan_filter.since.astimezone(UTC):%Y-%m}'")
        if scan_filter.until is not None:
            clauses.append(f"month <= '{scan_filter.until.astimezone(UTC):%Y-%m}'")
    return " AND ".join(clauses)


def target_where(engine: Engine, target_filter: TargetFilter, scan_clause: str, *, verdicts: bool) -> str:
    """The id and category part of a target filter (and its verdicts, with `verdicts`) for rows."""
    clauses = []
    if target_filter.categories:
        clauses.append(in_list("upper(coalesce(category, ''))", target_filter.categories))
    if target_filter.patterns:
        targets = [row[0] for row in engine.rows(f"SELECT DISTINCT target FROM results WHERE {scan_clause}")]
        clauses.append(in_list("target", [target for target in targets if _matches_pattern(target_filter, target)]))
    if verdicts and target_filter.verdicts:
        clauses.append(in_list("verdict", target_filter.verdicts))
    return " AND ".join(clauses) if clauses else "TRUE"


def _matches_pattern(target_filter: TargetFilter, target: str) -> bool:
    """The pattern part alone (accepts_target also checks the category, done in SQL here)."""
    return TargetFilter(patterns=target_filter.patterns).accepts_target(target, None)
