"""`kzprobe export --format parquet`: export's columns in one Parquet file, from files or a store.

The same schema either way (the store's types for export's columns; the scan's start a UTC
timestamp), written to a temporary name and renamed: a reader never sees half a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from kzprobe.analyst.export import COLUMNS
from kzprobe.analyst.store.columns import RESULTS_SCHEMA
from kzprobe.analyst.store.surrogates import valid_unicode

PARQUET_OPTIONS: Final = {"compression": "zstd"}
_EXTRA: Final = {"vantage": pa.string()}
EXPORT_SCHEMA: Final = pa.schema([(name, _EXTRA.get(name) or RESULTS_SCHEMA.field(name).type) for name in COLUMNS])


def write_parquet(batches: Iterable[pa.RecordBatch | list[dict[str, Any]]], path: Path) -> int:
    """Write the rows (Arrow batches, or lists of export rows) to `path`; returns the row count."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    rows = 0
    try:
        with pq.ParquetWriter(temporary, EXPORT_SCHEMA, **PARQUET_OPTIONS) as writer:
            for batch in batches:
                table = (_from_rows(batch) if isinstance(batch, list)
                         else pa.Table.from_batches([batch]).select(list(COLUMNS)).cast(EXPORT_SCHEMA))
                writer.write_table(table)
                rows += table.num_rows
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return rows


def _from_rows(rows: list[dict[str, Any]]) -> pa.Table:
    """Export rows from files as a table; a lone surrogate in a string is written as U+FFFD
    (Parquet strings are UTF-8), as the store stores it."""
    try:
        return pa.Table.from_pylist(rows, schema=EXPORT_SCHEMA)
    except UnicodeEncodeError:
        return pa.Table.from_pylist([{name: valid_unicode(value) for name, value in row.items()} for row in rows],
                                    schema=EXPORT_SCHEMA)
