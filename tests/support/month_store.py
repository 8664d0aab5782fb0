"""A store as kzprobe wrote it before day partitions (store format 1), made from a format-2 one:
what `kzprobe store migrate` and every writer rewrite by day."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kzprobe.analyst.store import layout


def as_month_layout(store: Path) -> None:
    """Rewrite `store` in format 1: results by vantage and month with a `day` column in the
    files, no runs, format_version 1."""
    manifest = layout.read_manifest(store)
    months: dict[tuple[str, str], list[pa.Table]] = {}
    for key, name in sorted(manifest.results.items()):
        vantage, day = layout.split_partition(key)
        table = pq.read_table(store / name)
        months.setdefault((vantage, day[:7]), []).append(
            table.add_column(4, "day", pa.array([date.fromisoformat(day)] * table.num_rows, pa.date32())))
    results = {}
    for (vantage, month), tables in months.items():
        name = f"results/vantage={vantage}/month={month}/part-{manifest.batch:06d}.parquet"
        (store / name).parent.mkdir(parents=True)
        pq.write_table(pa.concat_tables(tables), store / name, compression="zstd")
        results[f"{vantage}\t{month}"] = name
    for name in list(manifest.results.values()) + list(manifest.runs.values()):
        (store / name).unlink()
    layout.remove_uncommitted(store, layout.Manifest(manifest.batch, results, manifest.scans))
    (store / layout.MANIFEST_NAME).write_text(json.dumps({
        "format": "kzprobe-store", "format_version": 1, "batch": manifest.batch, "results": results,
        "scans": manifest.scans}))
