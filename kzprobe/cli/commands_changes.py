"""`kzprobe changes DIR`: the change history of a results directory (its changes.jsonl), newest
last, as the vantages recorded it after each complete scan.

The directory may be anyone's (synced from a vantage, downloaded): every line is checked before
use and every string is cleaned before it reaches the terminal (kzprobe.text.clean_text).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from kzprobe.cli import app
from kzprobe.cli.moments import MomentError, parse_moment
from kzprobe.errors import BadInputError
from kzprobe.text import clean_text
from kzprobe.vantage.alerts.history import HISTORY_NAME, read_history, record_time

# Colours of the kinds of change (the same meaning as a verdict's colour elsewhere).
_KIND_STYLES = {"newly_blocked": "bold red", "layer_changed": "red", "verdict_changed": "yellow",
                "newly_reachable": "green", "evidence_changed": "", "unstable": "yellow", "stable_again": "cyan"}


def _history_file(path: Path) -> Path:
    return path / HISTORY_NAME if path.is_dir() else path


def _only_targets(record: dict[str, Any], patterns: list[str]) -> dict[str, Any] | None:
    changes = [c for c in record["changes"] if any(fnmatchcase(c["target"], p) for p in patterns)]
    return {**record, "changes": changes, "connectivity": None} if changes else None


def render_record(record: dict[str, Any], console: Console) -> None:
    vantage = record["vantage"]
    network = ", ".join(clean_text(x) for x in (vantage.get("asn"), vantage.get("country")) if isinstance(x, str))
    head = Text(record_time(record).strftime("%Y-%m-%d %H:%M") + "Z  ", style="bold")
    head.append(clean_text(vantage["name"], max_chars=64) + (f" ({network})" if network else ""), style="bold")
    console.print(head)
    connectivity = record.get("connectivity")
    if connectivity:
        console.print(Text("  " + clean_text(connectivity["summary"]), style="bold yellow"))
    for change in record["changes"]:
        line = Text("  ")
        line.append(clean_text(change["summary"]), style=_KIND_STYLES.get(change["kind"], ""))
        console.print(line)
        if isinstance(change.get("explanation"), str) and change["explanation"]:
            console.print(Text("    kzprobe: " + clean_text(change["explanation"]), style="dim"))
    if isinstance(record.get("omitted"), int) and record["omitted"] > 0:
        console.print(Text(f"  … and {record['omitted']} more target(s): see the report", style="dim"))
    for note in record.get("notes") or []:
        console.print(Text("  " + clean_text(note), style="yellow"))


@app.command()
def changes(
    directory: Path = typer.Argument(..., metavar="DIR", help="A results directory (or its changes.jsonl)."),
    since: str | None = typer.Option(None, "--since",
                                     help="Only changes seen since: a time ago (7d, 12h, 2w) or ISO 8601."),
    vantage: list[str] = typer.Option([], "--vantage", help="Only this vantage's changes (repeatable)."),
    target: list[str] = typer.Option([], "--target", "-t",
                                     help="Only this target id; shell patterns work (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the change records as JSON Lines."),
) -> None:
    """A results directory's change history, scan after scan."""
    path = _history_file(directory)
    if not directory.exists():
        raise BadInputError(f"{directory}: no such file or directory")
    try:
        moment = parse_moment(since) if since else None
    except MomentError as exc:
        raise BadInputError(f"--since: {exc}") from None
    if not path.exists():
        typer.echo(f"No change records in {clean_text(str(directory))} yet: {HISTORY_NAME} is written when a complete "
                   "scan differs from the previous one (with notify: feed, the default).")
        return
    try:
        history = read_history(path, since=moment, vantages=vantage)
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    records = history.records
    if target:
        records = [r for r in (_only_targets(record, target) for record in records) if r is not None]
    if history.skipped:
        typer.echo(f"kzprobe: skipped {history.skipped} line(s) of {clean_text(str(path))} that are not change records",
                   err=True)
    if history.truncated:
        typer.echo(f"kzprobe: {clean_text(str(path))} is larger than kzprobe reads: only its newest records are shown",
                   err=True)
    if as_json:
        for record in records:
            # ensure_ascii: control or bidi characters in someone else's file are printed escaped.
            typer.echo(json.dumps(record, ensure_ascii=True, separators=(",", ":")))
        return
    # soft_wrap: a change is one line however long, for grep and for the terminal to wrap.
    console = Console(markup=False, emoji=False, highlight=False, soft_wrap=True)
    for record in records:
        render_record(record, console)
    span = f" since {moment.strftime('%Y-%m-%d %H:%M')}Z" if moment else ""
    console.print(Text(f"{len(records)} change record(s){span} in {clean_text(str(path))}", style="bold"))
