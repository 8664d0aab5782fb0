"""`kzprobe timeline --store`: the Timeline of kzprobe.analyst.timeline, its periods made in SQL.

Target periods are the `periods` view's query over the chosen day runs: the runs table's for
the days the filters take whole, and runs made from the rows of the days --since or --until cut;
a vantage's connectivity periods are the same query over runs made from its scans; the pauses
between scans are counted by length in SQL and rounded to minutes in Python (Python's rounding,
as the files' timeline rounds).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.reading import target_label
from kzprobe.analyst.store.appearance import first_appearances
from kzprobe.analyst.store.engine import Engine
from kzprobe.analyst.store.selection import (
    day_runs,
    epoch_us_to_time,
    scan_where,
    target_where,
)
from kzprobe.analyst.store.views import periods_sql, row_runs_sql
from kzprobe.analyst.streaming import ScanFilter
from kzprobe.analyst.timeline import (
    MIN_GAP,
    UNKNOWN_CONNECTIVITY,
    Period,
    StateTrack,
    TargetTimeline,
    Timeline,
    VantageTimeline,
)

_MIN_GAP_US = int(MIN_GAP / timedelta(microseconds=1))


def store_timeline(engine: Engine, scan_filter: ScanFilter, target_filter: TargetFilter = TargetFilter()) -> Timeline:
    """The timeline of the scans and targets the filters accept (verdicts are not a filter here)."""
    return Timeline(vantages=_vantages(engine, scan_filter), targets=_targets(engine, scan_filter, target_filter))


def _vantages(engine: Engine, scan_filter: ScanFilter) -> list[VantageTimeline]:
    dialect = engine.dialect
    epoch = dialect.epoch_us
    where = scan_where(engine, scan_filter, time_column="started_at")
    found: dict[str, VantageTimeline] = {}
    for vantage, asn, country, scans, first, last, incomplete in engine.rows(
        f"SELECT vantage, asn, country, scans, first_us, last_us, incomplete FROM ("
        f" SELECT vantage, asn, country, row_number() OVER (PARTITION BY vantage ORDER BY started_at, file) AS n,"
        f" count(*) OVER (PARTITION BY vantage) AS scans,"
        f" {epoch('min(started_at) OVER (PARTITION BY vantage)')} AS first_us,"
        f" {epoch('max(started_at) OVER (PARTITION BY vantage)')} AS last_us,"
        f" sum(CASE WHEN complete THEN 0 ELSE 1 END) OVER (PARTITION BY vantage) AS incomplete"
        f" FROM scans WHERE {where}) AS firsts WHERE n = 1"
    ):
        found[vantage] = VantageTimeline(vantage, asn, country, int(scans), epoch_us_to_time(first),
                                         epoch_us_to_time(last), incomplete=int(incomplete))
    window = dialect.window_rows("vantage", "started_at, file")
    pauses = (f"SELECT vantage, {epoch('started_at')} AS at_us, "
              f"{epoch('started_at')} - {dialect.previous(epoch('started_at'), window)} AS pause_us, "
              f"row_number() OVER {window} AS n FROM scans WHERE {where}")
    longest = 0
    for vantage, pause, count in engine.rows(
        f"SELECT vantage, pause_us, count(*) FROM ({pauses}) AS p WHERE n > 1 AND pause_us > 0 GROUP BY vantage, "
        "pause_us"
    ):
        found[vantage].intervals[round(pause / 60_000_000)] += int(count)
        longest = max(longest, pause)
    for vantage, at, pause in engine.rows(
        f"SELECT vantage, at_us, pause_us FROM ({pauses}) AS p WHERE n > 1 AND pause_us > {_MIN_GAP_US} ORDER BY "
        "vantage, at_us"
    ) if longest > _MIN_GAP_US else ():  # the pauses listed, when the counts say there are any
        found[vantage].pauses.append((epoch_us_to_time(at - pause), epoch_us_to_time(at)))
    connectivity = (f"(SELECT '' AS target, vantage, day, coalesce(connectivity, '{UNKNOWN_CONNECTIVITY}') AS state,"
                    f" started_at AS scan_started_at, complete AS scan_complete, file FROM scans WHERE {where})")
    for vantage, period in _periods(engine, f"({row_runs_sql(dialect, connectivity)})", "vantage"):
        found[vantage].connectivity.periods.append(period)
    return [found[name] for name in sorted(found)]


def _targets(engine: Engine, scan_filter: ScanFilter, target_filter: TargetFilter) -> list[TargetTimeline]:
    rows_where = scan_where(engine, scan_filter)
    targets = target_where(engine, target_filter, scan_filter, verdicts=False)
    where = f"{rows_where} AND {targets}"
    periods: dict[tuple[str, str], list[Period]] = {}
    for (target, vantage), period in _periods(engine, day_runs(engine, scan_filter, targets),
                                              "target, vantage"):
        periods.setdefault((target, vantage), []).append(period)
    order: dict[str, int] = {}
    entries = []
    scans_where = scan_where(engine, scan_filter, time_column="started_at")
    appearances = first_appearances(engine, where, scans_where, "target, vantage", set(periods))
    for target, vantage, category, keyword in appearances:
        order.setdefault(target, len(order))
        entries.append(TargetTimeline(target, category, vantage, StateTrack(periods[(target, vantage)]),
                                      target_label(target, keyword)))
    return sorted(entries, key=lambda entry: (order[entry.target], entry.vantage))


def _periods(engine: Engine, source: str, key: str) -> list[tuple[Any, Period]]:
    """(key, Period) in order of the key, then of time; `key` is 'vantage' or 'target, vantage';
    `source` the day runs (a parenthesised query with RUN_COLUMNS)."""
    epoch = engine.dialect.epoch_us
    rows = engine.rows(
        f"SELECT {key}, state, {epoch('first_scan')}, {epoch('last_scan')}, scans, incomplete_scans "
        f"FROM ({periods_sql(engine.dialect, source)}) AS periods ORDER BY {key}, first_scan")
    width = key.count(",") + 1
    found = []
    for row in rows:
        name = row[0] if width == 1 else tuple(row[:width])
        state, first, last, scans, incomplete = row[width:]
        found.append((name,
                      Period(state, epoch_us_to_time(first), epoch_us_to_time(last), int(scans), int(incomplete))))
    return found

