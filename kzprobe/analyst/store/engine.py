"""A store opened for SQL: DuckDB in-process (the default), its views created from the manifest.

The connection is locked down once the views exist: it reads files under the store directory
only (DuckDB's enable_external_access off, allowed_directories the store), loads no extension,
and its configuration cannot be changed back. `kzprobe store sql` adds an allow-list on top:
one SELECT (or EXPLAIN) statement, never COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA or DDL.

kzprobe's own queries name the results partitions they read (`Engine.results(keys)`): DuckDB
then binds and opens those files only, instead of the `results` view's list of every day file
of the store, which costs each query that names it about half a second for 26,000 files,
however few of them it then reads. That view itself (as long to make) is made by the first
query that names it.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from kzprobe.analyst.store import layout
from kzprobe.analyst.store.layout import QueryError
from kzprobe.analyst.store.views import DUCKDB, Dialect, periods_sql, results_view, runs_view, scans_view

if TYPE_CHECKING:  # imported by the commands that fetch Arrow batches, not by every query's start-up
    import pyarrow as pa

# DuckDB's working memory: queries over 50 M rows spill to disk beyond it instead of growing
# the process past the 1.5 GB goal.
MEMORY_LIMIT: Final = "1GB"
# Rows fetched at a time when a command streams a large answer (export).
FETCH_ROWS: Final = 65_536
# The view named in a query (the word, not a part of a path such as ".../results/vantage=...").
NAMES_RESULTS: Final = re.compile(r"(?<![\w/.=-])results(?![\w/.=-])")
# The statements `store sql` runs (DuckDB's statement types): reading, and explaining a read.
ALLOWED_STATEMENTS: Final = ("SELECT", "EXPLAIN")


class Engine(Protocol):
    """What kzprobe's store commands need of an SQL engine: the views, rows, Arrow batches."""

    dialect: Dialect
    manifest: layout.Manifest

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...

    def batches(self, sql: str) -> Iterator[pa.RecordBatch]: ...

    def results(self, keys: Iterable[str] | None = None) -> str:
        """A relation with the `results` view's columns over the results partitions `keys` (the
        manifest's keys, "vantage<TAB>day"), or over all of them (None)."""
        ...

    def close(self) -> None: ...


class DuckDBEngine:
    """The store's views in an in-memory DuckDB database, read-only outside the store."""

    dialect = DUCKDB

    def __init__(self, store: Path, manifest: layout.Manifest | None = None) -> None:
        import duckdb

        self.manifest = manifest if manifest is not None else layout.read_manifest(store)
        if not self.manifest.results:
            raise layout.StoreError(f"{store}: the store is empty (add reports with `kzprobe store add`)")
        self.store = store
        self._results_view = False
        self._spill = tempfile.TemporaryDirectory(prefix="kzprobe-duckdb-")
        self._db = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
        root = str(store.resolve())
        scans = layout.absolute_files(store, self.manifest.scans.values())
        runs = layout.absolute_files(store, self.manifest.runs.values())
        for statement in (
            "SET TimeZone = 'UTC'",
            f"SET memory_limit = '{MEMORY_LIMIT}'",
            f"SET temp_directory = '{self._spill.name}'",
            # Each query would otherwise read every file's footer again: a store has thousands.
            "SET parquet_metadata_cache = true",
            "SET enable_progress_bar = false",
            f"CREATE VIEW scans AS {scans_view(DUCKDB, scans, '')}",
            f"CREATE VIEW runs AS {runs_view(DUCKDB, runs, '')}",
            f"CREATE VIEW periods AS {periods_sql(DUCKDB)}",
        ):
            self._db.execute(statement)
        self._db.execute("SET allowed_directories = ?", [[root + "/", self._spill.name + "/"]])
        self._db.execute("SET enable_external_access = false")
        self._db.execute("SET lock_configuration = true")

    def results(self, keys: Iterable[str] | None = None) -> str:
        if keys is None:
            self._make_results_view()
            return "results"
        names = [self.manifest.results[key] for key in keys if key in self.manifest.results]
        # No partition at all: an empty relation with the same columns, from one file.
        files = layout.absolute_files(self.store, names or [next(iter(self.manifest.results.values()))])
        return f"({results_view(DUCKDB, files, '')}{'' if names else ' WHERE FALSE'})"

    def _make_results_view(self, sql: str | None = None) -> None:
        """The view `results` over every day file, made once, when a query first names it."""
        if self._results_view or (sql is not None and not NAMES_RESULTS.search(sql)):
            return
        files = layout.absolute_files(self.store, self.manifest.results.values())
        self._db.execute(f"CREATE VIEW results AS {results_view(DUCKDB, files, '')}")
        self._results_view = True

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        self._make_results_view(sql)
        try:
            return self._db.execute(sql).fetchall()
        except duckdb.Error as error:
            raise QueryError(str(error)) from None

    def batches(self, sql: str) -> Iterator[pa.RecordBatch]:
        import duckdb

        self._make_results_view(sql)
        try:
            reader = self._db.sql(sql).to_arrow_reader(FETCH_ROWS)
            yield from reader
        except duckdb.Error as error:
            raise QueryError(str(error)) from None

    def user_query(self, sql: str) -> pa.Table:
        """An analyst's own query (`kzprobe store sql`), allowed only if it only reads."""
        import duckdb

        try:
            statements = self._db.extract_statements(sql)
        except duckdb.Error as error:
            raise QueryError(str(error)) from None
        if len(statements) != 1:
            raise QueryError(f"one statement at a time ({len(statements)} given)")
        kind = statements[0].type.name
        if kind not in ALLOWED_STATEMENTS:
            raise QueryError(f"the store is read-only here: {kind} statements are refused (SELECT or EXPLAIN only)")
        self._make_results_view()
        try:
            return self._db.sql(sql).to_arrow_table()
        except duckdb.Error as error:
            raise QueryError(str(error)) from None

    def close(self) -> None:
        self._db.close()
        self._spill.cleanup()

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


ENGINES: Final = ("duckdb", "chdb")


def open_engine(store: Path, name: str = "duckdb") -> Engine:
    """The store's views in the named engine: 'duckdb' (default) or 'chdb' (ClickHouse in-process)."""
    if name == "duckdb":
        return DuckDBEngine(store)
    if name == "chdb":
        from kzprobe.analyst.store.clickhouse import ClickHouseEngine

        return ClickHouseEngine(store)
    raise QueryError(f"unknown engine {name!r}; engines are {', '.join(ENGINES)}")
