"""Commands that build and query the analysts' store: store add, store sql, collect.

Thin: parse, call kzprobe.analyst.store, print. The store's modules need the `store` extra
(pyarrow, duckdb); without it these commands say how to install it.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import typer

from kzprobe.analyst.export import csv_cell
from kzprobe.cli import app, store_reading
from kzprobe.errors import BadInputError, CannotWriteError, ExitCode
from kzprobe.report import read as rr
from kzprobe.text import clean_text

store_app = typer.Typer(help="A columnar store of many reports (Parquet), queried with SQL.", no_args_is_help=True)
app.add_typer(store_app, name="store")

STORE_DIR = typer.Option(..., "--store", help="The store's directory (created by the first add).")


def _modules() -> Any:
    """The modules of the commands that write a store (add, migrate, collect), loaded with Arrow's
    buffers from the C library's allocator (kzprobe.analyst.store.allocator)."""
    from kzprobe.analyst.store.allocator import prefer_system_allocator

    prefer_system_allocator()
    try:
        from kzprobe.analyst.store import ingest, layout, writer

        return ingest, layout, writer
    except ImportError:
        raise BadInputError(store_reading.EXTRA_HINT) from None


@store_app.command("add")
def store_add(
    paths: list[Path] = typer.Argument(..., metavar="FILES|DIR", help="Reports, journals, or directories of them."),
    store: Path = STORE_DIR,
    batch: int = typer.Option(1000, "--batch", min=1, help="Reports per commit (a crash loses at most one batch)."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first unreadable file instead of skipping it."),
) -> None:
    """Add reports to a store: new ones added, changed ones replaced.

    Each batch is committed whole: an interrupted add leaves the store as its last commit."""
    ingest, layout, _ = _modules()

    def problem(error: rr.ReportError) -> None:
        if strict:
            raise BadInputError(f"{error} (--strict)")
        rr.print_problem(error)

    try:
        count = ingest.add_paths(store, paths, on_problem=problem, batch_size=batch, on_note=_note)
    except layout.StoreError as error:
        raise BadInputError(str(error)) from None
    except OSError as error:
        raise CannotWriteError(f"cannot write {store}: {error.strerror or error}") from None
    typer.echo(f"kzprobe: {clean_text(str(store))}: {count.line()}", err=True)


@store_app.command("migrate")
def store_migrate(store: Path = typer.Option(..., "--store", help="The store's directory.")) -> None:
    """Rewrite a store made by an earlier kzprobe (results by month) by day, in place.

    One commit: interrupted, the store is as it was and the command can be run again. `store
    add` and `collect` do the same first; a store already by day is left as it is."""
    _, layout, writer = _modules()
    if not (store / layout.MANIFEST_NAME).is_file():
        raise BadInputError(f"{store}: no such store (no {layout.MANIFEST_NAME})")
    notes: list[str] = []
    try:
        with layout.writer_lock(store):
            writer.open_writer(store, notes.append)
    except layout.StoreError as error:
        raise BadInputError(str(error)) from None
    except OSError as error:
        raise CannotWriteError(f"cannot write {store}: {error.strerror or error}") from None
    for note in notes or [f"{store}: already by day (store format {layout.STORE_VERSION}); nothing to do"]:
        _note(note)


def _note(note: str) -> None:
    typer.echo(f"kzprobe: {clean_text(note)}", err=True)


@store_app.command("sql")
def store_sql(
    query: str = typer.Argument(..., help="One SELECT over the views results, scans and periods (docs/analysts.md)."),
    store: Path = STORE_DIR,
    format: str = typer.Option("table", "--format", "-f", help="table, csv or jsonl."),
    limit: int = typer.Option(1000, "--limit", min=1, help="Rows printed as a table at most (csv and jsonl: all)."),
) -> None:
    """Run your own SQL over the store (read-only).

    Views: results (a row per target per scan), scans, periods. DuckDB only: it can be held to
    the store's files (chdb in-process reads any file its user can)."""
    if format not in ("table", "csv", "jsonl"):
        raise BadInputError(f"--format must be table, csv or jsonl, not {format!r}")
    with store_reading.opened(store, "duckdb") as opened:
        table = opened.user_query(query)
    _print_table(table, format, limit)


def _print_table(table: Any, format: str, limit: int) -> None:
    names = table.column_names
    rows = table.to_pylist()
    if format == "jsonl":
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=True, default=str))
        return
    if format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([csv_cell(_plain(row[name])) for name in names])
        return
    from rich.console import Console
    from rich.table import Table

    from kzprobe.analyst.style import safe

    shown = Table(show_edge=False, pad_edge=False)
    for name in names:
        shown.add_column(clean_text(name))
    for row in rows[:limit]:
        shown.add_row(*[safe(_plain(row[name])) for name in names])
    console = Console(markup=False, emoji=False, highlight=False)
    console.print(shown)
    more = f" (first {limit} shown; --format csv prints all)" if len(rows) > limit else ""
    typer.echo(f"{len(rows)} row(s){more}", err=True)


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=True, default=str)
    return str(value)



@app.command()
def collect(
    urls: list[str] = typer.Argument(..., metavar="URL...",
                                     help="Vantages' results directories (or their index.json), https."),
    store: Path = STORE_DIR,
    resolver: str | None = typer.Option(None, "--resolver",
                                        help="Resolve the vantages' names with this resolver (IP[:PORT] or an https "
                                             "DoH URL; default the system's)."),
    ca_file: Path | None = typer.Option(None, "--ca-file", help="Trust these CA certificates (PEM) as well."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Seconds per network operation."),
    file_time: float = typer.Option(120.0, "--file-time", min=0.1, help="Seconds one file may take in all."),
    vantage_time: float = typer.Option(600.0, "--vantage-time", min=0.1, help="Seconds one vantage may take in all."),
    max_redirects: int = typer.Option(5, "--max-redirects", min=0, help="Redirects followed per file (https only)."),
) -> None:
    """Fetch what is new from vantages' published results into a store.

    Each vantage's index.json lists its reports with size and SHA-256; only reports the store
    lacks are fetched, each checked against the index and as a report. A vantage that
    misbehaves is named and left; exit 1 when any was."""
    bad = [url for url in urls if not url.startswith("https://")]
    if bad:
        raise BadInputError(f"{bad[0]}: vantages are collected over https:// only")
    _, layout, _ = _modules()
    from kzprobe.analyst.store.collect import FetchError
    from kzprobe.analyst.store.collect import collect as collect_all
    from kzprobe.probes.dns import SYSTEM_RESOLVER, ResolverConfigError, parse_resolver
    from kzprobe.scan.control_source import RemoteFileError, fetch_file
    from kzprobe.scan.run import ScanOptions, build_probe_kit

    try:
        kit = build_probe_kit(ScanOptions(resolver=parse_resolver(resolver) if resolver else SYSTEM_RESOLVER,
                                          control_resolver=None, ca_file=str(ca_file) if ca_file else None,
                                          timeout=timeout))
    except (ResolverConfigError, OSError, ValueError) as error:
        raise BadInputError(str(error)) from None

    def fetch(url: str, max_bytes: int, deadline_s: float) -> bytes:
        try:
            return fetch_file(url, kit, max_bytes, max_redirects=max_redirects, deadline_s=deadline_s)
        except RemoteFileError as error:
            raise FetchError(str(error)) from None

    def report(outcome: Any) -> None:
        typer.echo(f"kzprobe: {clean_text(outcome.line())}", err=True)
        for problem in outcome.problems[:20]:
            typer.echo(f"kzprobe:   skipped {clean_text(problem)}", err=True)

    try:
        outcomes = collect_all(urls, store, fetch, file_time_s=file_time, vantage_time_s=vantage_time,
                               on_outcome=report, on_note=_note)
    except layout.StoreError as error:
        raise BadInputError(str(error)) from None
    except OSError as error:
        raise CannotWriteError(f"cannot write {store}: {error.strerror or error}") from None
    if any(outcome.skipped for outcome in outcomes):
        raise typer.Exit(ExitCode.FAILED)
