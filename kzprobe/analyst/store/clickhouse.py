"""The store's views in ClickHouse, run in-process by chdb: the SQL a ClickHouse cluster runs.

ClickHouse reads the store like any external engine would: a glob over the Hive-style
directories. A glob also sees the files an interrupted ingest left (until the next `store add`
removes them), so the files it matches are checked against the manifest first, and a store
that does not match is refused rather than counted twice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from kzprobe.analyst.store import layout
from kzprobe.analyst.store.layout import QueryError
from kzprobe.analyst.store.views import CLICKHOUSE, periods_sql, results_view, runs_view, scans_view

DATABASE: Final = "kzprobe_store"
RESULTS_GLOB: Final = "results/vantage=*/day=*/*.parquet"
SCANS_GLOB: Final = "scans/vantage=*/*.parquet"
RUNS_GLOB: Final = "runs/vantage=*/*.parquet"
# Partitions a query names one by one (a {a,b,…} pattern); more, and it reads the glob with
# the query's own filters (the pattern must stay well under ClickHouse's 256 KB query size).
MAX_LISTED: Final = 500
# Characters of ClickHouse's path patterns: a store path holding one would be read as a pattern.
GLOB_CHARACTERS: Final = ("*", "?", "{", "}", "[", "]", ",")


class ClickHouseEngine:
    """The views `results`, `scans` and `periods` in a private chdb session."""

    dialect = CLICKHOUSE

    def __init__(self, store: Path) -> None:
        from chdb import session

        self.manifest = manifest = layout.read_manifest(store)
        if not manifest.results:
            raise layout.StoreError(f"{store}: the store is empty (add reports with `kzprobe store add`)")
        self.root = root = store.resolve()
        if any(character in str(root) for character in GLOB_CHARACTERS):
            raise layout.StoreError(f"{store}: chdb reads files by pattern, and this path holds one of "
                                    f"{' '.join(GLOB_CHARACTERS)}; move the store or use --engine duckdb")
        for glob, listed in ((RESULTS_GLOB, manifest.results), (SCANS_GLOB, manifest.scans),
                             (RUNS_GLOB, manifest.runs)):
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
        self._run(f"CREATE VIEW runs AS {runs_view(CLICKHOUSE, [], str(root / RUNS_GLOB))}")
        self._run(f"CREATE VIEW periods AS {periods_sql(CLICKHOUSE)}")

    def results(self, keys: Iterable[str] | None = None) -> str:
        names = None if keys is None else [self.manifest.results[key] for key in keys if key in self.manifest.results]
        if names is None or len(names) > MAX_LISTED:
            return "results"
        files = layout.absolute_files(self.root, names or [next(iter(self.manifest.results.values()))])
        return f"({results_view(CLICKHOUSE, files, '')}{'' if names else ' WHERE FALSE'})"

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
