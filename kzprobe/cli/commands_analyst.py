"""Commands that read reports: show, compare, summary, timeline, export, report.

Thin: parse the options, read through kzprobe.analyst, render. Every string from a report goes
through kzprobe.text.clean_text before reaching the terminal; machine output (--json, --csv,
--format jsonl) comes from the same data as the tables.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.console import Console

from kzprobe.analyst.compare import compare_scans, comparison_json, render_comparison
from kzprobe.analyst.digest_cache import open_cache
from kzprobe.analyst.export import EXPORT_FORMATS, ExportCount, format_rows, parquet_rows, write_export
from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.html import ReportPicture, render_html
from kzprobe.analyst.reading import ScanDigest, read_scan
from kzprobe.analyst.render import render_scan, scan_json
from kzprobe.analyst.scan_order import scan_key
from kzprobe.analyst.streaming import ScanFilter, map_scans
from kzprobe.analyst.summary import SummaryMatrix
from kzprobe.analyst.summary_render import render_summary, write_summary_csv
from kzprobe.analyst.timeline import build_timeline, render_timeline, timeline_json
from kzprobe.cli import app, store_reading
from kzprobe.cli.moments import MomentError, parse_moment
from kzprobe.errors import BadInputError, CannotWriteError
from kzprobe.report import read as rr
from kzprobe.report import vocabulary as v
from kzprobe.text import clean_text

# --- options shared by the commands --------------------------------------------------------

STRICT = typer.Option(False, "--strict", help="Stop at the first unreadable file instead of skipping it.")
CATEGORY = typer.Option([], "--category", "-c", help="Only targets of this category (repeatable).")
VERDICT = typer.Option([], "--verdict", help=f"Only targets with this verdict ({', '.join(v.VERDICTS)}; repeatable).")
TARGET = typer.Option([], "--target", "-t",
                      help="Only this target id; shell patterns like '*telegram*' work (repeatable).")
VANTAGE = typer.Option([], "--vantage", help="Only scans from this vantage name (repeatable).")
SINCE = typer.Option(None, "--since",
                     help="Only scans started at or after this time: ISO 8601 (UTC if no zone) or ago (7d, 12h, 2w).")
UNTIL = typer.Option(None, "--until",
                     help="Only scans started before this time: ISO 8601 (UTC if no zone) or ago (7d, 12h, 2w).")
JSON_OUT = typer.Option(False, "--json", help="Print JSON for machines instead of the table.")
STORE = typer.Option(None, "--store", help=store_reading.STORE_HELP)
ENGINE = typer.Option("duckdb", "--engine", help=store_reading.ENGINE_HELP)
NO_CACHE = typer.Option(
    False, "--no-cache",
    help="Read every file again instead of reusing digests of unchanged files ($KZPROBE_CACHE_DIR)."
)


# Width of tables written to a pipe or file (no terminal to measure): wide enough that rows of
# `show` stay on one line for grep and less.
PIPE_WIDTH = 160
# Where `kzprobe scan` writes when nothing is configured (scan.settings.DEFAULT_OUTPUT_DIR).
DEFAULT_RESULTS = "results"


def _console() -> Console:
    """stdout for tables: no markup, emoji codes or highlighting of anything printed."""
    console = Console(markup=False, emoji=False, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


def _target_filter(categories: list[str], verdicts: list[str], targets: list[str]) -> TargetFilter:
    unknown = [verdict for verdict in verdicts if verdict not in v.VERDICTS]
    if unknown:
        raise BadInputError(f"unknown verdict {unknown[0]!r}; verdicts are {', '.join(v.VERDICTS)}")
    return TargetFilter(categories=tuple(categories), verdicts=tuple(verdicts), patterns=tuple(targets))


def _time_option(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value)
    except MomentError as error:
        raise BadInputError(f"{name}: {error}") from None


def _scan_filter(vantages: list[str], since: str | None, until: str | None) -> ScanFilter:
    return ScanFilter(vantages=tuple(vantages), since=_time_option(since, "--since"),
                      until=_time_option(until, "--until"))


def _dump_json(data: Any) -> None:
    # ensure_ascii: every control or bidi character in a report's strings is printed escaped.
    typer.echo(json.dumps(data, indent=2, ensure_ascii=True))


class _Problems:
    """Counts and prints the files skipped while reading many."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, problem: rr.ReportError) -> None:
        self.count += 1
        rr.print_problem(problem)


def _scans(
    paths: list[Path], strict: bool, scan_filter: ScanFilter, problems: _Problems, no_cache: bool,
    transform: Any = None, *, detail: bool = False,
) -> Iterator[Any]:
    """Digests (or transform(digest), made in the reading worker), --strict turned into BAD_INPUT."""
    cache = None if no_cache else open_cache()
    try:
        yield from map_scans(
            paths, transform, strict=strict, on_problem=problems, scan_filter=scan_filter, detail=detail, cache=cache
        )
    except rr.ReportError as error:
        raise BadInputError(f"{error} (--strict)") from None


def _no_reports(problems: _Problems, filtered: bool) -> BadInputError:
    if problems.count:
        return BadInputError(f"no readable report ({problems.count} file(s) skipped)")
    if filtered:
        return BadInputError("no report matches --vantage/--since/--until")
    return BadInputError("no report found (expected *.json reports or *.journal.jsonl journals)")


def _read_one(path: Path) -> ScanDigest:
    try:
        return read_scan(path)
    except rr.ReportError as error:
        raise BadInputError(str(error)) from None


# --- show ----------------------------------------------------------------------------------


@app.command()
def show(
    report: Path | None = typer.Argument(
        None, help="A report, a scan's .journal.jsonl, or a directory (its newest report). "
                   "Default: latest.json in the results directory."),
    json_out: bool = JSON_OUT,
    category: list[str] = CATEGORY,
    verdict: list[str] = VERDICT,
    target: list[str] = TARGET,
) -> None:
    """Show one report: vantage, connectivity, a row per target."""
    target_filter = _target_filter(category, verdict, target)
    scan = _read_one(_report_to_show(report))
    if json_out:
        _dump_json(scan_json(scan, target_filter))
    else:
        render_scan(scan, _console(), target_filter)


def _report_to_show(given: Path | None) -> Path:
    """The file `show` reads: the one given; a directory's newest report by scan time; else the
    results directory's latest.json (the configured output directory, else ./results)."""
    if given is None:
        directory = _results_directory()
        latest = directory / rr.LATEST_COPY
        if latest.is_file():
            return latest
        if not directory.is_dir():
            raise BadInputError(f"no report to show: {directory} does not exist; run `kzprobe scan` first, "
                                "or name a report or a directory")
        given = directory
    if not given.is_dir():
        return given
    problems = _Problems()
    found = rr.expand_report_paths([given], problems)
    if not found:
        raise BadInputError(f"no report in {given} (expected *.json reports or *.journal.jsonl journals)")
    readable = [key for key in map(scan_key, found) if key.known]
    if not readable:
        return found[-1]  # nothing has a readable header: reading it says what is wrong
    return Path(max(readable, key=lambda key: (key.started_at, key.path)).path)


def _results_directory() -> Path:
    from kzprobe.scan.settings import ConfigError, find_config_file, resolve_settings

    try:
        return resolve_settings({}, find_config_file(None)).output_dir
    except (ConfigError, OSError):
        return Path(DEFAULT_RESULTS)


# --- compare -------------------------------------------------------------------------------


@app.command()
def compare(
    a: Path = typer.Argument(..., metavar="A", help="The first report (e.g. one vantage, or the earlier day); "
                                                  "with --store, a scan id or a report's file name."),
    b: Path = typer.Argument(..., metavar="B", help="The second report."),
    show_all: bool = typer.Option(False, "--all", help="Also list the targets that did not change."),
    json_out: bool = JSON_OUT,
    category: list[str] = CATEGORY,
    verdict: list[str] = VERDICT,
    target: list[str] = TARGET,
    store: Path | None = STORE,
    engine: str = ENGINE,
) -> None:
    """What changed between two reports, target by target.

    Targets whose verdict, blocking layer or evidence differ between the two."""
    target_filter = _target_filter(category, verdict, target)
    if store is not None:
        with store_reading.opened(store, engine) as opened:
            scans = store_reading.one_scan(opened, str(a)), store_reading.one_scan(opened, str(b))
    else:
        scans = _read_one(a), _read_one(b)
    comparison = compare_scans(*scans, target_filter)
    if json_out:
        _dump_json(comparison_json(comparison, include_unchanged=show_all))
    else:
        render_comparison(comparison, _console(), include_unchanged=show_all)


# --- summary -------------------------------------------------------------------------------


@app.command()
def summary(
    paths: list[Path] | None = typer.Argument(None, metavar="FILES|DIR", help="Reports, or directories of reports."),
    csv_out: bool = typer.Option(False, "--csv", help="Print the full matrix (every scan a column) as CSV."),
    max_columns: int | None = typer.Option(
        None, "--max-columns", min=1,
        help="Scans shown as columns before they are grouped by period (default: what the terminal fits).",
    ),
    strict: bool = STRICT,
    category: list[str] = CATEGORY,
    verdict: list[str] = VERDICT,
    target: list[str] = TARGET,
    vantage: list[str] = VANTAGE,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    no_cache: bool = NO_CACHE,
    store: Path | None = STORE,
    engine: str = ENGINE,
) -> None:
    """A matrix of targets x scans, a cell per verdict.

    Scans are columns (vantage and time); beyond what fits, they are grouped by period."""
    target_filter = _target_filter(category, verdict, target)
    scan_filter = _scan_filter(vantage, since, until)
    paths = store_reading.check_sources(paths, store)
    with contextlib.ExitStack() as stack:
        if store is not None:
            opened = stack.enter_context(store_reading.opened(store, engine))
            source: Any = store_reading.summary_source(opened, scan_filter)
        else:
            problems = _Problems()
            source = SummaryMatrix()
            for scan in _scans(paths, strict, scan_filter, problems, no_cache):
                source.add(scan)
            if not source.scans:
                raise _no_reports(problems, scan_filter != ScanFilter())
        if csv_out:
            write_summary_csv(source, sys.stdout, target_filter)
        else:
            render_summary(source, _console(), target_filter, max_columns=max_columns)


# --- timeline ------------------------------------------------------------------------------


@app.command()
def timeline(
    paths: list[Path] | None = typer.Argument(None, metavar="DIR",
                                              help="Directories (or files) of reports, e.g. hourly scans."),
    json_out: bool = JSON_OUT,
    strict: bool = STRICT,
    category: list[str] = CATEGORY,
    target: list[str] = TARGET,
    vantage: list[str] = VANTAGE,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    no_cache: bool = NO_CACHE,
    store: Path | None = STORE,
    engine: str = ENGINE,
) -> None:
    """Periods of each state per target and vantage.

    Also the periods a vantage was offline or cut off from abroad."""
    target_filter = _target_filter(category, [], target)
    scan_filter = _scan_filter(vantage, since, until)
    paths = store_reading.check_sources(paths, store)
    if store is not None:
        with store_reading.opened(store, engine) as opened:
            result = store_reading.timeline(opened, scan_filter, target_filter)
    else:
        problems = _Problems()
        result = build_timeline(_scans(paths, strict, scan_filter, problems, no_cache), target_filter)
        if not result.vantages:
            raise _no_reports(problems, scan_filter != ScanFilter())
    if json_out:
        _dump_json(timeline_json(result))
    else:
        render_timeline(result, _console())


# --- export --------------------------------------------------------------------------------


@app.command()
def export(
    paths: list[Path] | None = typer.Argument(None, metavar="DIR", help="Directories (or files) of reports."),
    format: str = typer.Option("csv", "--format", "-f", help="csv, jsonl or parquet (with --output)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    strict: bool = STRICT,
    category: list[str] = CATEGORY,
    verdict: list[str] = VERDICT,
    target: list[str] = TARGET,
    vantage: list[str] = VANTAGE,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    no_cache: bool = NO_CACHE,
    store: Path | None = STORE,
    engine: str = ENGINE,
) -> None:
    """One flat row per target per scan (CSV, JSONL, Parquet).

    For pandas, DuckDB or a spreadsheet."""
    if format not in EXPORT_FORMATS:
        raise BadInputError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not {format!r}")
    if format == "parquet" and output is None:
        raise BadInputError("--format parquet writes a file: give --output FILE.parquet")
    target_filter = _target_filter(category, verdict, target)
    scan_filter = _scan_filter(vantage, since, until)
    paths = store_reading.check_sources(paths, store)
    problems = _Problems()
    with contextlib.ExitStack() as stack:
        opened = stack.enter_context(store_reading.opened(store, engine)) if store is not None else None
        scans = store_reading.summary_source(opened, scan_filter).count() if opened is not None else 0
        if format == "parquet":
            assert output is not None
            rows = _export_parquet(paths, opened, strict, scan_filter, target_filter, problems, no_cache, output)
        else:
            with _output(output) as stream:
                if opened is not None:
                    rows = write_export(store_reading.export_chunks(opened, scan_filter, target_filter, format),
                                        stream, format)
                else:
                    rows_of = functools.partial(format_rows, format=format, target_filter=target_filter)
                    rows = write_export(_scans(paths, strict, scan_filter, problems, no_cache, rows_of, detail=True),
                                        stream, format)
                    if rows.scans == 0:  # inside: an --output file is then left as it was
                        raise _no_reports(problems, scan_filter != ScanFilter())
        rows.scans = scans or rows.scans
    if output is not None:
        typer.echo(f"kzprobe: {rows.rows} rows from {rows.scans} scans written to {clean_text(str(output))}", err=True)


def _export_parquet(paths: list[Path], opened: Any, strict: bool, scan_filter: ScanFilter, target_filter: TargetFilter,
                    problems: _Problems, no_cache: bool, output: Path) -> ExportCount:
    if opened is not None:
        return store_reading.parquet_file(store_reading.export_batches(opened, scan_filter, target_filter), output)
    rows_of = functools.partial(parquet_rows, target_filter=target_filter)
    count = store_reading.parquet_file(_scans(paths, strict, scan_filter, problems, no_cache, rows_of, detail=True),
                                       output)
    if count.scans == 0:
        raise _no_reports(problems, scan_filter != ScanFilter())
    return count


# --- report (HTML) -------------------------------------------------------------------------


@app.command()
def report(
    paths: list[Path] | None = typer.Argument(None, metavar="FILES|DIR", help="Reports, or directories of reports."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML file to write."),
    title: str | None = typer.Option(None, "--title", help="The page's title (default: vantages and dates)."),
    strict: bool = STRICT,
    category: list[str] = CATEGORY,
    verdict: list[str] = VERDICT,
    target: list[str] = TARGET,
    vantage: list[str] = VANTAGE,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    no_cache: bool = NO_CACHE,
    store: Path | None = STORE,
    engine: str = ENGINE,
) -> None:
    """One HTML page of charts and tables to mail or publish."""
    target_filter = _target_filter(category, verdict, target)
    scan_filter = _scan_filter(vantage, since, until)
    paths = store_reading.check_sources(paths, store)
    problems = _Problems()
    picture = ReportPicture(target_filter=target_filter)
    if store is not None:
        with store_reading.opened(store, engine) as opened:
            picture.add_all(store_reading.digests(opened, scan_filter))
        if picture.empty:
            raise store_reading.no_scans(scan_filter != ScanFilter())
    else:
        picture.add_all(_scans(paths, strict, scan_filter, problems, no_cache))
    if picture.empty:
        raise _no_reports(problems, scan_filter != ScanFilter())
    filters = "; ".join(
        f"{name} {', '.join(values)}"
        for name, values in (("vantage", vantage), ("category", category), ("target", target), ("verdict", verdict),
                             ("since", [since] if since else []), ("until", [until] if until else []))
        if values
    )
    page = render_html(picture, generated_at=datetime.now(UTC), title=title,
                       files_skipped=problems.count, filters=filters)
    with _output(output) as stream:
        stream.write(page)
    grid = picture.grid
    typer.echo(
        f"kzprobe: {clean_text(str(output))} written ({len(page.encode('utf-8')) // 1024:,} KB): "
        f"{picture.sources.scans} scans "
        f"from {len(picture.sources.vantages)} vantage(s), {len(picture.shown_targets())} targets, one column per "
        f"{grid.resolution.name}",
        err=True,
    )


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(temporary, path)
    except OSError as error:
        raise CannotWriteError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        if temporary.exists():
            temporary.unlink()
