"""A store of the month layout (format 1) rewritten by day (format 2), in place, in one commit.

Format 1 kept `results/vantage=V/month=YYYY-MM/` files whose rows carried their `day`, and no
runs. Each month file is read (one at a time: a month of an hourly vantage is ~58,000 rows),
split by day, and each day written as format 2 writes it, with its runs; the scans files are
the same in both formats and stay. Then one manifest names the new files (the commit) and the
month files are deleted: killed before the commit, the store is still the format-1 store it was
(the next writer deletes the unnamed day files and starts again); killed after, it is the
format-2 store, and the next writer deletes the leftover month files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kzprobe.analyst.store import layout
from kzprobe.analyst.store.columns import RESULTS_SCHEMA
from kzprobe.analyst.store.runs import day_runs
from kzprobe.analyst.store.writing import ROW_ORDER, RUNS_ORDER, write_partition


def migrate_to_days(store: Path, old: layout.Manifest, on_note: Callable[[str], None]) -> layout.Manifest:
    """The format-2 manifest, committed, of the format-1 store `old` (under the writer lock)."""
    batch = old.batch + 1
    results: dict[str, str] = {}
    runs: dict[str, list[pa.Table]] = {}
    written: list[str] = []
    for key, month_file in sorted(old.results.items()):
        vantage, _ = layout.split_partition(key)
        table = pq.read_table(store / month_file)
        days = table["day"]
        for day in sorted(pc.unique(days).to_pylist()):
            rows = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
            rows = rows.select(RESULTS_SCHEMA.names).cast(RESULTS_SCHEMA).sort_by(ROW_ORDER)
            name = write_partition(store, rows, layout.partition_directory(layout.RESULTS_DIR, vantage,
                                                                           day.isoformat()), batch)
            if name is not None:
                results[layout.results_partition(vantage, day.isoformat())] = name
                written.append(name)
            runs.setdefault(vantage, []).append(day_runs(rows, day))
    runs_files = {}
    for vantage, tables in sorted(runs.items()):
        name = write_partition(store, pa.concat_tables(tables).sort_by(RUNS_ORDER),
                               layout.partition_directory(layout.RUNS_DIR, vantage), batch)
        if name is not None:
            runs_files[vantage] = name
            written.append(name)
    layout.sync_new_files(store, written)
    new = layout.Manifest(batch, results, dict(old.scans), runs_files)
    layout.write_manifest(store, new)
    for name in old.files() - new.files():
        (store / name).unlink(missing_ok=True)
    layout.remove_uncommitted(store, new)  # the month directories, now empty
    on_note(f"{store}: rewritten from {len(old.results)} month files to {len(results)} day files "
            "(store format 2)")
    return new
