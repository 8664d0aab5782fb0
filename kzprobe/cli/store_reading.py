"""The analyst commands' `--store DIR`: the same outputs, answered by SQL over the store.

Imported by commands_analyst; the store's modules (pyarrow, duckdb) are imported only when
`--store` is given, so that a volunteer's install without the `store` extra runs everything else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kzprobe.analyst.export import ExportCount
from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.streaming import ScanFilter
from kzprobe.errors import BadInputError, CannotWriteError

STORE_HELP = "Answer from this store (kzprobe store add) instead of report files."
ENGINE_HELP = "The store's SQL engine: duckdb (default) or chdb (ClickHouse in-process, pip install chdb)."
EXTRA_HINT = "the store needs the store extra: pip install 'kzprobe[store]'"


@contextlib.contextmanager
def opened(store: Path, engine_name: str) -> Iterator[Any]:
    """The store's engine; a missing extra, a bad store or a failing query become a message."""
    try:
        from kzprobe.analyst.store.engine import QueryError, open_engine
        from kzprobe.analyst.store.layout import StoreError
        from kzprobe.analyst.store.views import UnquotableError
    except ImportError:
        raise BadInputError(EXTRA_HINT) from None
    try:
        engine = open_engine(store, engine_name)
    except ImportError as error:
        raise BadInputError(f"{EXTRA_HINT} ({error.name} is missing)") from None
    except (StoreError, QueryError) as error:
        raise BadInputError(str(error)) from None
    try:
        yield engine
    except (StoreError, QueryError, UnquotableError) as error:
        raise BadInputError(str(error)) from None
    finally:
        engine.close()


def no_scans(filtered: bool) -> BadInputError:
    return BadInputError("no scan in the store matches --vantage/--since/--until" if filtered
                         else "the store has no scan")


def check_sources(paths: list[Path] | None, store: Path | None) -> list[Path]:
    """Report files or a store, not both and not neither."""
    if store is not None and paths:
        raise BadInputError("give report files or --store, not both")
    if store is None and not paths:
        raise BadInputError("name report files or directories, or --store DIR")
    return paths or []


def summary_source(engine: Any, scan_filter: ScanFilter) -> Any:
    from kzprobe.analyst.store.summary_sql import StoreSummary

    source = StoreSummary(engine, scan_filter)
    if source.count() == 0:
        raise no_scans(scan_filter != ScanFilter())
    return source


def timeline(engine: Any, scan_filter: ScanFilter, target_filter: TargetFilter) -> Any:
    from kzprobe.analyst.store.timeline_sql import store_timeline

    result = store_timeline(engine, scan_filter, target_filter)
    if not result.vantages:
        raise no_scans(scan_filter != ScanFilter())
    return result


def export_chunks(engine: Any, scan_filter: ScanFilter, target_filter: TargetFilter, format: str) -> Iterator[Any]:
    from kzprobe.analyst.store.rows_sql import export_chunks as chunks
    from kzprobe.analyst.store.rows_sql import export_sql

    return chunks(engine, export_sql(engine, scan_filter, target_filter), format)


def export_batches(engine: Any, scan_filter: ScanFilter, target_filter: TargetFilter) -> Iterator[Any]:
    from kzprobe.analyst.store.rows_sql import export_sql

    return engine.batches(export_sql(engine, scan_filter, target_filter))


def parquet_file(chunks: Iterator[Any], output: Path) -> ExportCount:
    """Export's rows (Arrow batches from a store, or each scan's rows from files) as one Parquet file."""
    try:
        from kzprobe.analyst.store.parquet_export import write_parquet
    except ImportError:
        raise BadInputError(EXTRA_HINT) from None
    count = ExportCount()

    def counted() -> Iterator[Any]:
        for chunk in chunks:
            count.scans += isinstance(chunk, list)
            yield chunk

    try:
        count.rows = write_parquet(counted(), output)
    except OSError as error:
        raise CannotWriteError(f"cannot write {output}: {error.strerror or error}") from None
    return count


def one_scan(engine: Any, name: str) -> Any:
    """The scan `compare --store` means by `name` (scan id, source file, or its file name)."""
    from kzprobe.analyst.store.rows_sql import find_scans, store_digests

    keys = find_scans(engine, name)
    if not keys:
        raise BadInputError(f"{name}: no such scan in the store (give a scan id or a report's file name)")
    if len(keys) > 1:
        raise BadInputError(f"{name}: {len(keys)} scans match; give a scan id")
    return next(store_digests(engine, keys=keys))


def digests(engine: Any, scan_filter: ScanFilter) -> Iterator[Any]:
    from kzprobe.analyst.store.rows_sql import store_digests

    return store_digests(engine, scan_filter)
