"""The `runs` table: each target's runs of one state within one UTC day of one vantage.

A question over the whole store (`summary`, `timeline`, the `periods` view) needs, per target
and vantage, how many scans saw each state and where the state changed; it does not need fifty
million rows. States rarely change within a day, so a day's rows of a target fold into one run
or a few: first and last scan, how many scans, how many incomplete. The whole store's runs are
a few rows per target per day, in one file per vantage, and the queries read them instead of
thousands of day files (an engine pays for every file it opens). Runs are computed here, from
the day's final rows, by the batch that rewrites the day, and committed with it: a run never
disagrees with the rows it folds.

A run is consecutive rows of one target in (scan time, file) order with the same state and the
same category. The `periods` query joins consecutive runs of one state, so that a run split
where a target's category changed (a target list changed) makes the same periods as the rows
would; and a question filtered by category, which keeps some runs of a target and not others,
gets the periods that the rows of those categories alone make (views.periods_sql).
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
    starts = pc.or_(pc.or_(_differs_from_previous(table["target"]), _differs_from_previous(table["state"])),
                    _differs_from_previous(table["category"]))
    table = table.append_column("run", pc.cumulative_sum(pc.cast(starts, pa.int64())))
    table = table.append_column("incomplete", pc.cast(pc.invert(table["scan_complete"]), pa.int64()))
    grouped = table.group_by("run", use_threads=False).aggregate([
        ("target", "first"), ("category", "first"), ("state", "first"), ("scan_started_at", "min"),
        ("file", "first"), ("scan_started_at", "max"), ("run", "count"), ("incomplete", "sum"),
    ])
    return pa.Table.from_arrays([
        pa.array([day] * grouped.num_rows, type=pa.date32()),
        grouped["target_first"],
        grouped["category_first"],
        grouped["state_first"],
        grouped["scan_started_at_min"],
        grouped["file_first"],
        grouped["scan_started_at_max"],
        grouped["run_count"],
        grouped["incomplete_sum"],
    ], schema=RUNS_SCHEMA)


def _differs_from_previous(column: pa.ChunkedArray) -> pa.Array:
    """True where a value differs from the one before it, a missing value (null) being equal
    only to another; the first row's previous value is missing."""
    values = column.combine_chunks()
    previous = pa.concat_arrays([pa.nulls(1, values.type), values.slice(0, len(values) - 1)])
    return pc.fill_null(pc.not_equal(values, previous), pc.xor(pc.is_null(values), pc.is_null(previous)))
