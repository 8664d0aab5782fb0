"""How a partition file is written: the rows' order in each table, Parquet's options, and the
file written under a temporary name, synced and renamed (ingest and migrate both write so)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kzprobe.analyst.store import layout

# Order of rows inside a results file: scan time, then the file, then report order.
ROW_ORDER: Final = [("scan_started_at", "ascending"), ("file", "ascending"), ("position", "ascending")]
SCAN_ORDER: Final = [("started_at", "ascending"), ("file", "ascending")]
RUNS_ORDER: Final = [("day", "ascending"), ("target", "ascending"), ("first_scan", "ascending"),
                     ("first_file", "ascending")]
# zstd; no copy of the Arrow schema in each footer (the store's schemas are in the code, and
# Parquet's own types say the same); no min/max statistics (a file is one vantage's day, which
# its directory names: nothing is left for statistics to skip); no dictionary pages (zstd finds
# the repeated strings anyway: a day file is 12 % smaller without them). A day file's footer,
# read by every query that opens the file, is then 4.8 KB instead of 9, and the file is written
# in two fifths of the time (benchmarks/store.py).
PARQUET_OPTIONS: Final[dict[str, Any]] = {"compression": "zstd", "store_schema": False, "write_statistics": False,
                                          "use_dictionary": False}


def sorted_table(table: pa.Table, order: list[tuple[str, str]]) -> pa.Table:
    """`table` in `order`; as it is when it already is (new scans come in time order), which
    spares copying every column."""
    indices = pc.sort_indices(table.select([name for name, _ in order]), sort_keys=order)
    # A permutation that only ever rises is the identity (compared from Arrow's own arrays: an
    # array made here of Python numbers would make pyarrow import pandas, kzprobe.analyst.store.writer).
    if len(indices) < 2 or pc.all(pc.less(indices.slice(0, len(indices) - 1), indices.slice(1))).as_py():
        return table
    return table.take(indices)


def read_partition(store: Path, name: str, schema: pa.Schema | None = None,
                   columns: list[str] | None = None) -> pa.Table:
    """A partition file's rows, as `schema` says when given (a list read back from Parquet has
    its own item name). Read with ParquetFile, not pq.read_table: that one goes through
    pyarrow.dataset, whose import imports pandas (50 MB; kzprobe.analyst.store.writer). In this
    thread: a partition is a day of one vantage, too small for Arrow's threads to pay (each keeps
    an allocator arena: 13 MB more for the writing process)."""
    with pq.ParquetFile(store / name) as parquet:
        table = parquet.read(columns=columns, use_threads=False)
    return table.cast(schema) if schema is not None else table


def write_partition(store: Path, table: pa.Table, directory: str, batch: int) -> str | None:
    """The partition's new file, named after the batch, or None when it has no rows left."""
    if table.num_rows == 0:
        return None
    name = f"{directory}/part-{batch:06d}.parquet"
    layout.write_parquet_file(store, name, lambda path: pq.write_table(table, path, **PARQUET_OPTIONS))
    return name
