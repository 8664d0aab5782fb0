"""The `runs` table: each target's runs of one state within one UTC day of one vantage.

A question over the whole store (`summary`, `timeline`, the `periods` view) needs, per target
and vantage, how many scans saw each state and where the state changed; it does not need fifty
million rows. States rarely change within a day, so a day's rows of a target fold into one run
or a few: first and last scan, how many scans, how many incomplete. The whole store's runs are
a few rows per target per day, in one file per vantage, and the queries read them instead of
thousands of day files (an engine pays for every file it opens). Runs are computed here, from
the day's final rows, by the batch that rewrites the day, and committed with it: a run never
disagrees with the rows it folds.

A run is what the `periods` view's SQL (kzprobe.analyst.store.views.row_runs_sql) makes of the
same rows: consecutive rows of one target in (scan time, file) order with the same state.
`category_mixed` marks a target that had more than one category that day (a target list
changed): a question filtered by category reads that day's rows instead.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from kzprobe.analyst.store.columns import RUNS_SCHEMA

# The rows' order inside a run: as the SQL windows order them.
RUN_ORDER = [("target", "ascending"), ("scan_started_at", "ascending"), ("file", "ascending")]
_COLUMNS = ["target", "category", "state", "scan_started_at", "file", "scan_complete"]


def day_runs(rows: pa.Table, day: date) -> pa.Table:
    """The runs of one vantage's day, from that day's results rows (any order)."""
    if rows.num_rows == 0:
        return RUNS_SCHEMA.empty_table()
    table = rows.select(_COLUMNS).sort_by(RUN_ORDER)
    target, state = table["target"], table["state"]
    starts = pc.or_(_differs_from_previous(target), _differs_from_previous(state))
    table = table.append_column("run", pc.cumulative_sum(pc.cast(starts, pa.int64())))
    table = table.append_column("incomplete", pc.cast(pc.invert(table["scan_complete"]), pa.int64()))
    grouped = table.group_by("run", use_threads=False).aggregate([
        ("target", "first"), ("category", "first"), ("state", "first"), ("scan_started_at", "min"),
        ("file", "first"), ("scan_started_at", "max"), ("run", "count"), ("incomplete", "sum"),
    ])
    categories = table.group_by("target", use_threads=False).aggregate([
        ("category", "count_distinct", pc.CountOptions(mode="all"))])
    mixed = categories.filter(pc.greater(categories["category_count_distinct"], 1))["target"]
    run_targets = grouped["target_first"]
    return pa.Table.from_arrays([
        pa.array([day] * grouped.num_rows, type=pa.date32()),
        run_targets,
        grouped["category_first"],
        pc.is_in(run_targets, value_set=mixed.combine_chunks() if mixed.num_chunks else pa.array([], pa.string())),
        grouped["state_first"],
        grouped["scan_started_at_min"],
        grouped["file_first"],
        grouped["scan_started_at_max"],
        grouped["run_count"],
        grouped["incomplete_sum"],
    ], schema=RUNS_SCHEMA)


def _differs_from_previous(column: pa.ChunkedArray) -> pa.Array:
    """True where a value differs from the one before it (and on the first row)."""
    values = column.combine_chunks()
    previous = pa.concat_arrays([pa.nulls(1, values.type), values.slice(0, len(values) - 1)])
    return pc.fill_null(pc.not_equal(values, previous), True)
