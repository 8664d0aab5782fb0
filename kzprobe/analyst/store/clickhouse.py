"""The store's views in ClickHouse, run in-process by chdb: the SQL a ClickHouse cluster runs.

ClickHouse reads the store like any external engine would: a glob over the Hive-style
directories. A glob also sees the files an interrupted ingest left (until the next `store add`
removes them), so the files it matches are checked against the manifest first, and a store
that does not match is refused rather than counted twice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from kzprobe.analyst.store import layout
from kzprobe.analyst.store.layout import QueryError
from kzprobe.analyst.store.views import CLICKHOUSE, periods_sql, results_view, scans_view

DATABASE: Final = "kzprobe_store"
RESULTS_GLOB: Final = "results/vantage=*/month=*/*.parquet"
SCANS_GLOB: Final = "scans/vantage=*/*.parquet"


class ClickHouseEngine:
    """The views `results`, `scans` and `periods` in a private chdb session."""

    dialect = CLICKHOUSE

    def __init__(self, store: Path) -> None:
        from chdb import session

        manifest = layout.read_manifest(store)
        if not manifest.results:
            raise layout.StoreError(f"{store}: the store is empty (add reports with `kzprobe store add`)")
        root = store.resolve()
        for glob, listed in ((RESULTS_GLOB, manifest.results), (SCANS_GLOB, manifest.scans)):
            found = {path.relative_to(root).as_posix() for path in root.glob(glob)}
            if found != set(listed.values()):
                raise layout.StoreError(f"{store}: files outside the manifest (an interrupted ingest); run "
                                        "`kzprobe store add` once to clean them up")
        self._directory = tempfile.TemporaryDirectory(prefix="kzprobe-chdb-")
        self._session = session.Session(self._directory.name)
        self._run(f"CREATE DATABASE IF NOT EXISTS {DATABASE} ENGINE = Atomic")
        self._run(f"USE {DATABASE}")
        self._run(f"CREATE VIEW results AS {results_view(CLICKHOUSE, [], str(root / RESULTS_GLOB))}")
        self._run(f"CREATE VIEW scans AS {scans_view(CLICKHOUSE, [], str(root / SCANS_GLOB))}")
        self._run(f"CREATE VIEW periods AS {periods_sql(CLICKHOUSE)}")

    def _run(self, sql: str, output: str = "CSV") -> Any:
        try:
            return self._session.query(sql, output)
        except Exception as error:  # chdb raises its own RuntimeError subclasses
            said = str(error).strip()
            raise QueryError(said.splitlines()[0] if said else type(error).__name__) from None

    def arrow(self, sql: str) -> pa.Table:
        table = self._run(sql, "ArrowTable")
        return table if isinstance(table, pa.Table) else pa.table({})

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        table = self.arrow(sql)
        columns = [column.to_pylist() for column in table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def batches(self, sql: str) -> Iterator[pa.RecordBatch]:
        yield from self.arrow(sql).to_batches()

    def close(self) -> None:
        self._session.close()
        self._directory.cleanup()
