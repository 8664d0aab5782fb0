"""The store's SQL views (`results`, `scans`, `runs`, `periods`), written once for DuckDB and ClickHouse.

The views are the interface analysts query (`kzprobe store sql`, docs/analysts.md) and the one
kzprobe's own commands query; the few places where the two dialects differ (reading Parquet,
the previous row in a window, a timestamp as a number, a date) are a Dialect's methods.
Everything else is SQL both engines run unchanged, so that a query tested on one answers the
same on the other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from kzprobe.errors import BadInputError

# The order kzprobe reads scans in (analyst.scan_order): time, vantage, file; then report order.
SCAN_ORDER: Final = "scan_started_at, vantage, file"


class UnquotableError(BadInputError, ValueError):
    """A name that one SQL literal cannot carry in both dialects (ClickHouse reads backslashes
    as escapes, DuckDB does not): refused rather than matched wrongly."""


def sql_string(value: str) -> str:
    """A SQL string literal (both dialects double the quote; no backslash escapes reach here)."""
    if "\\" in value or "\x00" in value:
        raise UnquotableError(f"{value[:60]!r}: a name with a backslash or NUL cannot be queried in the store")
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Dialect:
    name: str

    def parquet(self, files: list[str], pattern: str, partitions: tuple[str, ...]) -> str:
        """A relation over Parquet files (DuckDB: the listed files; ClickHouse: the glob, or
        the listed files as one), with the partition columns decoded: `vantage` a string, `day`
        a date."""
        if self.name == "duckdb":
            listed = ", ".join(sql_string(name) for name in files)
            types = ", ".join(f"'{column}': '{'DATE' if column == 'day' else 'VARCHAR'}'" for column in partitions)
            return (f"SELECT * FROM read_parquet([{listed}], hive_partitioning = true, "
                    f"hive_types = {{{types}}})")
        decoded = ", ".join(f"toDate({column}) AS {column}" if column == "day" else
                            f"decodeURLComponent({column}) AS {column}" for column in partitions)
        where = pattern if not files else _alternatives(files)
        return (f"SELECT * EXCEPT ({', '.join(partitions)}), {decoded} FROM file({sql_string(where)}, Parquet) "
                "SETTINGS use_hive_partitioning = 1")

    def previous(self, expression: str, window: str) -> str:
        if self.name == "duckdb":
            return f"lag({expression}) OVER {window}"
        return f"lagInFrame({expression}) OVER {window}"

    def first_by(self, value: str, order: str) -> str:
        """The value of the row where `order` is least (an aggregate)."""
        return f"{'arg_min' if self.name == 'duckdb' else 'argMin'}({value}, {order})"

    def ordered_join(self, value: str, order: str) -> str:
        """The text values of a group joined by commas, in the order of `order` (an aggregate)."""
        if self.name == "duckdb":
            return f"string_agg({value}, ',' ORDER BY {order})"
        ordered = f"arrayMap(pair -> pair.2, arraySort(pair -> pair.1, groupArray(({order}, {value}))))"
        return f"arrayStringConcat({ordered}, ',')"

    def epoch_us(self, expression: str) -> str:
        if self.name == "duckdb":
            return f"epoch_us({expression})"
        return f"toUnixTimestamp64Micro({expression})"

    def timestamp(self, moment: datetime) -> str:
        """A UTC time as a literal."""
        text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if self.name == "duckdb":
            return f"TIMESTAMPTZ '{text}+00:00'"
        return f"toDateTime64('{text}', 6, 'UTC')"

    def date(self, day: date) -> str:
        """A date as a literal."""
        if self.name == "duckdb":
            return f"DATE '{day.isoformat()}'"
        return f"toDate('{day.isoformat()}')"

    def period(self, kind: str, expression: str) -> str:
        """The label of the period a time falls in, as kzprobe.analyst.summary.PERIODS writes it."""
        if kind == "all":
            return "'all scans'"
        if kind == "week":
            if self.name == "duckdb":
                return f"strftime({expression}, '%G-W%V')"
            return (f"concat(toString(toISOYear({expression})), '-W', "
                    f"leftPad(toString(toISOWeek({expression})), 2, '0'))")
        pattern = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[kind]
        function = "strftime" if self.name == "duckdb" else "formatDateTime"
        return f"{function}({expression}, '{pattern}')"

    def window_rows(self, partition: str, order: str) -> str:
        return f"(PARTITION BY {partition} ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"

    def window_all(self, partition: str, order: str) -> str:
        """Every row of the partition in the frame (as ClickHouse's leadInFrame needs to see the next)."""
        return f"(PARTITION BY {partition} ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"

    def following(self, expression: str, window: str) -> str:
        """The next row's value in a `window_all` window (undefined for the last row)."""
        if self.name == "duckdb":
            return f"lead({expression}) OVER {window}"
        return f"leadInFrame({expression}) OVER {window}"


def _alternatives(files: list[str]) -> str:
    """ClickHouse's pattern for exactly these files: their common directory, then {a,b,…} of
    the rest of each path (a pattern cannot start with the brace)."""
    if len(files) == 1:
        return files[0]
    root = os.path.commonpath(files)
    return root + "/{" + ",".join(name[len(root) + 1:] for name in files) + "}"


DUCKDB: Final = Dialect("duckdb")
CLICKHOUSE: Final = Dialect("clickhouse")
# The columns of a day run, as the runs table holds them and row_runs_sql makes them.
RUN_COLUMNS: Final = "target, vantage, day, state, first_scan, first_file, last_scan, scans, incomplete_scans"


def results_view(dialect: Dialect, files: list[str], pattern: str) -> str:
    return f"SELECT * FROM ({dialect.parquet(files, pattern, ('vantage', 'day'))}) AS files"


def scans_view(dialect: Dialect, files: list[str], pattern: str) -> str:
    return f"SELECT * FROM ({dialect.parquet(files, pattern, ('vantage',))}) AS files"


def runs_view(dialect: Dialect, files: list[str], pattern: str) -> str:
    return f"SELECT * FROM ({dialect.parquet(files, pattern, ('vantage',))}) AS files"


def row_runs_sql(dialect: Dialect, rows: str) -> str:
    """Day runs (RUN_COLUMNS) of rows: `rows` a parenthesised query with target, vantage, day,
    state, scan_started_at, scan_complete and file. A run starts at a row whose state differs
    from the previous row's of the same target, vantage and day, in (scan time, file) order.
    The runs table holds such runs for every day, split also where a target's category
    changed (kzprobe.analyst.store.runs); periods_sql makes the same periods of either."""
    window = dialect.window_rows("target, vantage, day", "scan_started_at, file")
    return f"""
SELECT target, vantage, day, any_value(state) AS state, min(scan_started_at) AS first_scan,
       {dialect.first_by('file', 'seq')} AS first_file, max(scan_started_at) AS last_scan,
       CAST(count(*) AS BIGINT) AS scans, CAST(sum(CASE WHEN scan_complete THEN 0 ELSE 1 END) AS BIGINT)
       AS incomplete_scans
FROM (
  SELECT *, sum(starts) OVER {window} AS run
  FROM (
    SELECT *, row_number() OVER {window} AS seq,
           CASE WHEN row_number() OVER {window} = 1 OR state <> {dialect.previous('state', window)}
                THEN 1 ELSE 0 END AS starts
    FROM {rows} AS chosen_rows
  ) AS marked_rows
) AS numbered_rows
GROUP BY target, vantage, day, run"""


def periods_sql(dialect: Dialect, day_runs: str = "runs") -> str:
    """Runs of one state per target and vantage, in scan order, from day runs (`day_runs`: the
    runs view, or a parenthesised query with RUN_COLUMNS): a period starts at a day run whose
    state differs from the previous one's (what `kzprobe timeline` lists per target). Runs of
    the same state next to each other join, wherever they were split: at midnight, where the
    category changed, or where a filter left out the runs between them.

    Sorting is what makes this slow (every row of tens of millions by time); the day runs are a
    few per target and day, and are already made (the runs table), so only they are sorted, and
    once: one pass of windows over them marks where periods start and keeps running totals of
    scans, and each period is the difference between its start's totals and the next start's
    (or the partition's, for the last). Joining every run of a period in a group would sort
    them again (twice as long over the 2.1 million runs of fifty million rows)."""
    order = "first_scan, first_file"
    running = dialect.window_rows("target, vantage", order)
    whole = dialect.window_all("target, vantage", order)
    periods = dialect.window_all("target, vantage", order)
    following = {name: dialect.following(name, periods)
                 for name in ("before_last", "scans_before", "incomplete_before")}
    return f"""
SELECT target, vantage, period, state, first_scan,
       CASE WHEN period = periods THEN all_last ELSE {following['before_last']} END AS last_scan,
       CAST(CASE WHEN period = periods THEN all_scans ELSE {following['scans_before']} END - scans_before AS BIGINT)
       AS scans,
       CAST(CASE WHEN period = periods THEN all_incomplete ELSE {following['incomplete_before']} END
            - incomplete_before AS BIGINT) AS incomplete_scans
FROM (
  SELECT *, row_number() OVER {periods} AS period, count(*) OVER (PARTITION BY target, vantage) AS periods
  FROM (
    SELECT target, vantage, state, first_scan, first_file,
           {dialect.previous('last_scan', running)} AS before_last,
           sum(scans) OVER {running} - scans AS scans_before,
           sum(incomplete_scans) OVER {running} - incomplete_scans AS incomplete_before,
           max(last_scan) OVER {whole} AS all_last,
           sum(scans) OVER {whole} AS all_scans,
           sum(incomplete_scans) OVER {whole} AS all_incomplete,
           -- a state is never '': the first run (no previous one) starts a period
           CASE WHEN state <> coalesce({dialect.previous('state', running)}, '') THEN 1 ELSE 0 END AS starts
    FROM (SELECT {RUN_COLUMNS} FROM {day_runs} AS day_runs_source) AS day_runs
  ) AS marked_runs
  WHERE starts = 1
) AS period_starts"""
