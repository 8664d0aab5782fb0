"""`kzprobe targets`: list and validate target files.

Thin: kzprobe.targets loads and judges; this module parses options and renders. Everything
shown comes from files, so it is cleaned of control characters and wrapped in rich Text (never
read as markup).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kzprobe.cli import app
from kzprobe.docs_links import doc_path
from kzprobe.errors import BadInputError
from kzprobe.targets import (
    CATEGORIES,
    Target,
    TargetFile,
    TargetFileError,
    bundled_target_files,
    load_target_files,
)
from kzprobe.text import clean_text

targets_app = typer.Typer(
    help="Inspect and check target lists.\n\nThe bundled ones, or your own YAML or Citizen Lab CSV.",
    short_help="Inspect and check target lists.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(targets_app, name="targets")


def _out() -> Console:
    # Piped output (a file, a CI log) gets a wide table rather than rich's 80 columns.
    return Console(markup=False, highlight=False, width=shutil.get_terminal_size((160, 24)).columns)


@targets_app.command("list")
def list_targets(
    targets: Annotated[
        list[Path] | None,
        typer.Option("--targets", "-t", metavar="FILE", help="Target file (YAML or Citizen Lab CSV); "
                     "repeat for several. Default: the bundled lists."),
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option("--category", "-c", metavar="CODE",
                     help="Only this Citizen Lab category code (e.g. NEWS); repeatable."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the targets as JSON instead of a table.")
    ] = False,
) -> None:
    """List targets: id, name, category, URL, sources."""
    codes = _category_codes(category or [])
    files = _load_or_exit(_display_paths(targets or bundled_target_files()), strict=False)
    selected = [t for f in files for t in f.targets if not codes or t.category in codes]
    if as_json:
        typer.echo(json.dumps([t.to_dict() for t in selected], indent=2, ensure_ascii=True))
        return
    rows = [(target.id, target.name or "", target.category or "", _where(target), target.baseline or "",
             str(len(target.sources))) for target in selected]
    caption = _short(_caption(files, selected, codes), _bundled_names())
    console = _out()
    if not console.is_terminal:
        # Piped (grep, a file, a spreadsheet): plain columns, one target a line, nothing folded.
        sys.stdout.write(_plain_columns(LIST_COLUMNS, rows) + caption + "\n")
        return
    table = Table(title=None, caption=caption, show_lines=False)
    for header in LIST_COLUMNS:
        # A URL is never split (it must stay copyable); a long name is cut short instead.
        table.add_column(header, no_wrap=header in ("id", "url", "category"), overflow="ellipsis",
                         justify="right" if header == "sources" else "left", ratio=2 if header == "name" else None)
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    console.print(table)


LIST_COLUMNS = ("id", "name", "category", "url", "baseline", "sources")


def _plain_columns(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    cleaned = [tuple(clean_text(value) for value in row) for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cleaned) for i in range(len(headers))]
    return "".join("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip() + "\n"
                   for row in cleaned)


@targets_app.command("validate")
def validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Target files to check. Default: the bundled lists, with the strict rules.",
                       show_default=False, metavar="FILE"),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Apply the bundled-list rules: every entry needs id, name, category "
                     "and sources (document, reports, date)."),
    ] = False,
) -> None:
    """Check target files: a line per problem.

    Or a one-line summary when all is well."""
    if not files:
        paths, strict = _display_paths(bundled_target_files()), True
    else:
        paths = _display_paths(files)
    loaded = _load_or_exit(paths, strict=strict)
    total = sum(len(f.targets) for f in loaded)
    names = _bundled_names()
    counts = ", ".join(f"{_short(f.name, names)}: {len(f.targets)}" for f in loaded)
    rules = "strict rules" if strict else "user rules"
    noun = "file" if len(loaded) == 1 else "files"
    typer.echo(clean_text(f"OK: {total} targets in {len(loaded)} {noun} ({counts}); {rules}"))


def _load_or_exit(paths: list[str], *, strict: bool) -> list[TargetFile]:
    try:
        return load_target_files(paths, strict=strict)
    except TargetFileError as error:
        names = _bundled_names()
        files = len({problem.file for problem in error.problems})
        count = len(error.problems)
        raise BadInputError(
            f"{count} problem{'s' if count != 1 else ''} in {files} file{'s' if files != 1 else ''}; "
            f"the format is described in {doc_path('targets.md')}",
            details=[_short(str(problem), names) for problem in error.problems],
        ) from error


def _category_codes(values: list[str]) -> set[str]:
    codes = {value.strip().upper() for value in values}
    unknown = sorted(code for code in codes if code not in CATEGORIES)
    if unknown:
        shown = ", ".join(clean_text(repr(code)) for code in unknown)
        known = ", ".join(sorted(CATEGORIES))
        raise BadInputError(f"unknown category {shown}; known: {known}")
    return codes


def _display_paths(paths: list[Path]) -> list[str]:
    """Paths as the user will recognise them: relative to the current directory when inside it."""
    cwd = Path.cwd()
    shown = []
    for path in paths:
        try:
            shown.append(str(path.resolve().relative_to(cwd)) if path.is_absolute() else str(path))
        except ValueError:
            shown.append(str(path))
    return shown


def _bundled_names() -> dict[str, str]:
    """The bundled lists' paths as loaded -> the short name a user knows them by (kz.yaml), so
    that an installed kzprobe does not print paths inside site-packages."""
    return {shown: Path(shown).name for shown in _display_paths(bundled_target_files()) if Path(shown).is_absolute()}


def _short(text: str, names: dict[str, str]) -> str:
    for path, short in names.items():
        text = text.replace(path, short)
    return text


def _where(target: Target) -> str:
    if target.keyword is not None:
        return target.label
    if target.url and target.endpoints:
        return f"{target.url} (+{len(target.endpoints)} endpoints)"
    if target.url:
        return target.url
    return f"{len(target.endpoints)} endpoints"


def _caption(files: list[TargetFile], selected: list[Target], codes: set[str]) -> str:
    total = sum(len(f.targets) for f in files)
    noun = "file" if len(files) == 1 else "files"
    shown = f"{len(selected)} of {total} targets" if codes else f"{total} targets"
    return clean_text(f"{shown} from {len(files)} {noun}: {', '.join(f.name for f in files)}")


def _cell(value: str) -> Text:
    return Text(clean_text(value))
