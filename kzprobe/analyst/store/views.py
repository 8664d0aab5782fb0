"""The store's SQL views (`results`, `scans`, `periods`), written once for DuckDB and ClickHouse.

The views are the interface analysts query (`kzprobe store sql`, docs/analysts.md) and the one
kzprobe's own commands query; the few places where the two dialects differ (reading Parquet,
the previous row in a window, a timestamp as a number) are a Dialect's methods. Everything else
is SQL both engines run unchanged, so that a query tested on one answers the same on the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
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
        """A relation over the Parquet files (DuckDB: the manifest's list; ClickHouse: the glob,
        checked against the manifest first), with the partition columns decoded."""
        if self.name == "duckdb":
            listed = ", ".join(sql_string(name) for name in files)
            types = ", ".join(f"'{column}': 'VARCHAR'" for column in partitions)
            return (f"SELECT * FROM read_parquet([{listed}], hive_partitioning = true, "
                    f"hive_types = {{{types}}})")
        decoded = ", ".join(f"decodeURLComponent({column}) AS {column}" for column in partitions)
        return (f"SELECT * EXCEPT ({', '.join(partitions)}), {decoded} FROM file({sql_string(pattern)}, Parquet) "
                "SETTINGS use_hive_partitioning = 1")

    def previous(self, expression: str, window: str) -> str:
        if self.name == "duckdb":
            return f"lag({expression}) OVER {window}"
        return f"lagInFrame({expression}) OVER {window}"

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


DUCKDB: Final = Dialect("duckdb")
CLICKHOUSE: Final = Dialect("clickhouse")


def results_view(dialect: Dialect, files: list[str], pattern: str) -> str:
    source = dialect.parquet(files, pattern, ("vantage", "month"))
    return f"SELECT * FROM ({source}) AS files"


def scans_view(dialect: Dialect, files: list[str], pattern: str) -> str:
    return f"SELECT * FROM ({dialect.parquet(files, pattern, ('vantage',))}) AS files"


def periods_sql(dialect: Dialect, source: str = "results") -> str:
    """Runs of one state per target and vantage, in scan order (`source`: a table name or a
    parenthesised query with target, vantage, day, state, scan_started_at, scan_complete, file):
    a period starts at a scan whose state differs from the previous scan's (what `kzprobe
    timeline` lists per target).

    Sorting every row by time is what makes this slow on tens of millions of rows, and states
    rarely change within a day: so each target's day is first reduced to one run when it held
    one state all day (a hash aggregate), and only the days that changed are walked row by row;
    then the day-runs, a few per target and day, are joined into periods.
    """
    rows_window = dialect.window_rows("target, vantage, day", "scan_started_at, file")
    runs_window = dialect.window_rows("target, vantage", "first_scan, last_scan")
    incomplete = "sum(CASE WHEN scan_complete THEN 0 ELSE 1 END)"
    return f"""
WITH days AS (
  SELECT target, vantage, day, min(state) AS low, max(state) AS high, min(scan_started_at) AS first_scan,
         max(scan_started_at) AS last_scan, count(*) AS scans, {incomplete} AS incomplete_scans
  FROM {source} AS chosen GROUP BY target, vantage, day
), changing AS (
  SELECT c.target AS target, c.vantage AS vantage, c.day AS day, c.state AS state,
         c.scan_started_at AS scan_started_at, c.scan_complete AS scan_complete, c.file AS file
  FROM {source} AS c
  JOIN (SELECT target, vantage, day FROM days WHERE low <> high) AS m
    ON c.target = m.target AND c.vantage = m.vantage AND c.day = m.day
), day_runs AS (
  SELECT target, vantage, low AS state, first_scan, last_scan, scans, incomplete_scans FROM days WHERE low = high
  UNION ALL
  SELECT target, vantage, any_value(state) AS state, min(scan_started_at) AS first_scan,
         max(scan_started_at) AS last_scan, count(*) AS scans, {incomplete} AS incomplete_scans
  FROM (
    SELECT *, sum(starts) OVER {rows_window} AS run
    FROM (
      SELECT *, CASE WHEN row_number() OVER {rows_window} = 1 OR state <> {dialect.previous('state', rows_window)}
                     THEN 1 ELSE 0 END AS starts
      FROM changing
    ) AS marked
  ) AS numbered
  GROUP BY target, vantage, day, run
)
SELECT target, vantage, period, any_value(state) AS state, min(first_scan) AS first_scan,
       max(last_scan) AS last_scan, sum(scans) AS scans, sum(incomplete_scans) AS incomplete_scans
FROM (
  SELECT *, sum(starts) OVER {runs_window} AS period
  FROM (
    SELECT *, CASE WHEN row_number() OVER {runs_window} = 1 OR state <> {dialect.previous('state', runs_window)}
                   THEN 1 ELSE 0 END AS starts
    FROM day_runs
  ) AS marked_runs
) AS numbered_runs
GROUP BY target, vantage, period"""


VIEW_DOCS: Final = {
    "results": "one row per target per scan: the columns of `kzprobe export` (evidence a list), position in "
               "the report, control_verdict/control_usable/control, provenance_source/licence, "
               "ooni_measurement_uid/ooni_test_name, state ('blocked/tls'), day, vantage and month",
    "scans": "one row per scan: scan_key, scan_id, started_at, finished_at, day, complete, from_journal, asn, "
             "country, connectivity, software, targets, provenance, file, sha256, size, ingested_at, vantage",
    "periods": "runs of one state per target and vantage: target, vantage, period, state, first_scan, "
               "last_scan, scans, incomplete_scans",
}
