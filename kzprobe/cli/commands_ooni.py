"""`kzprobe ooni import`: OONI measurements -> kzprobe reports (kzprobe.ooni, docs/ooni.md).

Thin: parse, call kzprobe.ooni.import_measurements, print the bad lines and a summary. File
names and reasons come from someone else's files: they are printed through kzprobe.text.clean_text.
"""

from __future__ import annotations

from pathlib import Path

import typer

from kzprobe.cli import app
from kzprobe.errors import ExitCode
from kzprobe.ooni import BadInput, ImportSummary, import_measurements
from kzprobe.ooni.limits import MAX_PROBLEMS_SHOWN
from kzprobe.text import clean_text

ooni_app = typer.Typer(
    help="Read OONI's measurements through kzprobe's rules (docs/ooni.md).",
    no_args_is_help=True, rich_markup_mode=None,
)
app.add_typer(ooni_app, name="ooni")


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{clean_text(name, 60)} {count:,}" for name,
                     count in sorted(counter.items(), key=lambda i: (-i[1], i[0])))


def summary_line(summary: ImportSummary, output: Path) -> str:
    """One line: what was read, imported, skipped and refused, and where the reports went."""
    parts = [f"{summary.read:,} measurements in {summary.files:,} files"]
    imported = sum(summary.imported.values())
    parts.append(f"{imported:,} imported" + (f" ({_counts(summary.imported)})" if imported else ""))
    skipped = sum(summary.other_tests.values())
    if skipped:
        parts.append(f"{skipped:,} skipped, tests kzprobe does not read ({_counts(summary.other_tests)})")
    unusable = sum(summary.unusable.values())
    if unusable:
        parts.append(f"{unusable:,} skipped, unusable ({_counts(summary.unusable)})")
    if summary.bad:
        parts.append(f"{summary.bad:,} malformed")
    merged = f", {summary.reports_merged:,} merged with earlier imports" if summary.reports_merged else ""
    parts.append(f"{summary.reports_written:,} reports in {clean_text(str(output), 200)}{merged}")
    return "kzprobe: " + "; ".join(parts)


@ooni_app.command("import")
def import_command(
    paths: list[Path] = typer.Argument(..., metavar="PATH...", help="OONI measurement files or directories "
                                       "(JSON or JSON Lines, gzip or not; directories are read recursively)."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for the kzprobe reports (created if needed)."),
    workers: int | None = typer.Option(None, "--workers", min=1, max=64,
                                       help="Processes to use (default: one per core; one for a small import)."),
) -> None:
    """Import OONI measurements as kzprobe reports, one per OONI report.

    Reads web_connectivity, telegram, whatsapp, signal and facebook_messenger measurements,
    offline, and judges them by kzprobe's rules. OONI's data is CC BY-NC-SA 4.0: credit OONI."""
    shown = 0

    def bad(problem: BadInput) -> None:
        nonlocal shown
        shown += 1
        if shown <= MAX_PROBLEMS_SHOWN:
            typer.echo(f"kzprobe: {clean_text(str(problem), 400)}", err=True)

    summary = import_measurements(paths, output, on_bad=bad, workers=workers)  # ReportWriteError: cannot write
    if summary.bad > MAX_PROBLEMS_SHOWN:
        typer.echo(f"kzprobe: ... and {summary.bad - MAX_PROBLEMS_SHOWN:,} more malformed lines or files", err=True)
    typer.echo(summary_line(summary, output), err=True)
    if summary.malformed:
        raise typer.Exit(ExitCode.BAD_INPUT)  # the malformed lines are listed above
