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

from kzprobe.analyst.store import arrow_values
from kzprobe.analyst.store.columns import RUNS_SCHEMA

# The rows' order inside a run: as the SQL windows order them.
RUN_ORDER = [("target", "ascending"), ("scan_started_at", "ascending"), ("file", "ascending")]
_COLUMNS = ["target", "category", "state", "scan_started_at", "file", "scan_complete"]


def day_runs(rows: pa.Table, day: date) -> pa.Table:
    """The runs of one vantage's day, from that day's results rows (any order).

    In Arrow's compute functions over the rows in run order, without a group-by: Arrow's
    group-by runs on its query engine (pyarrow.acero), whose import imports pandas (50 MB)."""
    if rows.num_rows == 0:
        return RUNS_SCHEMA.empty_table()
    table = rows.select(_COLUMNS).sort_by(RUN_ORDER)
    target, category, state = (table[name].combine_chunks() for name in ("target", "category", "state"))
    first = pc.indices_nonzero(pc.or_(pc.or_(_differs(target, -1), _differs(state, -1)), _differs(category, -1)))
    # A target is never missing (the report's checks): its last row ends a run, as its first starts one.
    last = pc.indices_nonzero(pc.or_(pc.or_(_differs(target, 1), _differs(state, 1)), _differs(category, 1)))
    times = table["scan_started_at"].combine_chunks()
    complete = table["scan_complete"].combine_chunks()
    ones = pc.cast(pc.is_valid(target), pa.int64())
    incomplete = pc.cast(pc.and_kleene(pc.invert(complete), pc.is_valid(complete)), pa.int64())
    return pa.Table.from_arrays([
        arrow_values.days([day] * len(first)),
        target.take(first),
        category.take(first),
        state.take(first),
        times.take(first),  # rows are in time order within a target: a run's first is its earliest
        table["file"].combine_chunks().take(first),
        times.take(last),
        _run_sums(ones, first, last),
        _run_sums(incomplete, first, last),
    ], schema=RUNS_SCHEMA)


def _run_sums(values: pa.Array, first: pa.Array, last: pa.Array) -> pa.Array:
    """The sum of `values` over each run (rows first..last), from their running total."""
    total = pc.cumulative_sum(values)
    return pc.add(pc.subtract(total.take(last), total.take(first)), values.take(first))


def _differs(values: pa.Array, step: int) -> pa.Array:
    """True where a value differs from the one before it (step -1) or after it (step 1), a
    missing value (null) being equal only to another; beyond the ends the value is missing."""
    missing = pa.nulls(1, values.type)
    if step < 0:
        other = pa.concat_arrays([missing, values.slice(0, len(values) - 1)])
    else:
        other = pa.concat_arrays([values.slice(1), missing])
    return pc.fill_null(pc.not_equal(values, other), pc.xor(pc.is_null(values), pc.is_null(other)))
