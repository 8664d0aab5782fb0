"""`kzprobe lab`: see every kind of interference happen, on one machine, without a censor.

Thin: the library (kzprobe.lab) builds, scans and compares; this module parses and renders.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kzprobe.cli import app
from kzprobe.errors import BadInputError, ExitCode
from kzprobe.lab import NETWORK_RUNS, Lab, LabUnavailable, availability, netns
from kzprobe.lab.addresses import HONEST_RESOLVER
from kzprobe.lab.plan import CUTS, OUTSIDE, inside_role
from kzprobe.lab.runner import DEFAULT_TIMEOUT_S, LabRunResult, run_lab, scenario_table
from kzprobe.lab.scenarios import select
from kzprobe.text import clean_text

lab_app = typer.Typer(
    help="An emulated censored network on this machine.\n\nBuilt from network namespaces; nothing leaves them.",
    short_help="An emulated censored network on this machine.",
    no_args_is_help=True, rich_markup_mode=None,
)
app.add_typer(lab_app, name="lab")

# Piped output (a README, a CI log) gets a wide table rather than rich's 80 columns.
_out = Console(markup=False, highlight=False, width=shutil.get_terminal_size((160, 24)).columns)
_err = Console(stderr=True, markup=False, highlight=False)
SHELL_SIDES = (inside_role(None), OUTSIDE, *(inside_role(cut) for cut in CUTS))


def _text(value: object) -> Text:
    return Text(clean_text(str(value)))


def _table(headers: list[str], id_widths: list[int]) -> Table:
    """A plain table whose first columns (names a user types back) keep their full width."""
    table = Table(box=None, pad_edge=False)
    for i, header in enumerate(headers):
        width = id_widths[i] if i < len(id_widths) else None
        table.add_column(header, overflow="fold", no_wrap=width is not None, min_width=width)
    return table


def _check_available() -> None:
    reason = availability()
    if reason:
        raise LabUnavailable(f"cannot build the lab here: {reason}")


def _selected(ids: list[str] | None):
    try:
        return select(ids)
    except KeyError as exc:
        raise BadInputError(f"unknown scenario(s): {exc.args[0]} (see `kzprobe lab list`)") from None


@lab_app.command("list")
def lab_list(as_json: bool = typer.Option(False, "--json", help="Print the scenarios as JSON.")) -> None:
    """Every scenario and what kzprobe must conclude.

    What the censored network does to each site, and the verdict expected from it."""
    rows = scenario_table(select(None))
    runs = [{"id": r.id, "summary": r.summary, "scenarios": list(r.scenario_ids), "connectivity": r.connectivity,
             "also_without_control": bool(r.no_control)}
            for r in NETWORK_RUNS]
    if as_json:
        typer.echo(json.dumps({"scenarios": rows, "network_runs": runs}, indent=2, ensure_ascii=False))
        return
    table = _table(["scenario", "inside the censored ISP", "outside", "kzprobe must say", "without a control scan"],
                   [max(len(row["id"]) for row in rows)])
    for row in rows:
        expect = row["expect"] + (f" (pending: {row['pending']})" if row["pending"] else "")
        table.add_row(_text(row["id"]), _text(row["inside"]), _text(row["outside"]), _text(expect),
                      _text(row["expect_without_control"] or ""))
    _out.print(table)
    _out.print()
    for run in runs:
        also = " (also scanned without a control scan)" if run["also_without_control"] else ""
        _out.print(_text(f"network run {run['id']}: {run['summary']} -> connectivity {run['connectivity']}{also}"))


@lab_app.command("run")
def lab_run(
    scenario: list[str] = typer.Option(None, "--scenario", "-s",
                                       help="Only this scenario or network run (repeatable)."),
    timeout: float = typer.Option(DEFAULT_TIMEOUT_S, "--timeout", min=0.5, help="Per-operation timeout of the scans."),
    output: Path = typer.Option(None, "--output", help="Keep the scan reports in this directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Build the lab, scan it, check the verdicts.

    Scans from outside (the control) and inside, and compares with the expectations.

    Exits 1 when any scenario's verdict, blocking layer or key evidence differs."""
    _check_available()
    _selected(scenario)
    result = run_lab(scenario or None, timeout=timeout, output_dir=output,
                     progress=lambda line: _err.print(_text(line)))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        _render(result)
    if output:
        _err.print(_text(f"reports kept in {output}"))
    raise typer.Exit(ExitCode.OK if result.ok else ExitCode.FAILED)


def _render(result: LabRunResult) -> None:
    for scan in result.scans:
        if scan.returncode != 0:
            _err.print(_text(f"{scan.name} scan exited {scan.returncode}: {scan.stderr.strip()[-800:]}"))
    table = _table(["run", "scenario", "expected", "actual", ""],
                   [max((len(c.run) for c in result.comparisons), default=3),
                    max((len(c.subject) for c in result.comparisons), default=8)])
    for c in result.comparisons:
        status = "ok" if c.matches else ("MISMATCH (pending)" if c.pending else "MISMATCH")
        table.add_row(_text(c.run), _text(c.subject), _text(c.expected), _text(c.actual), _text(status))
    _out.print(table)
    mismatches = [c for c in result.comparisons if not c.matches]
    _out.print()
    if not mismatches:
        _out.print(_text(f"all {len(result.comparisons)} expectations met"))
    else:
        _out.print(_text(f"{len(result.comparisons) - len(mismatches)} of {len(result.comparisons)} expectations met; "
                         f"{len(mismatches)} mismatch:"))
    for c in mismatches:
        line = f"{c.run} {c.subject}: {'; '.join(c.problems)}"
        if c.pending:
            line += f" (pending: {c.pending})"
        _out.print(Text("  ") + _text(line))
        if c.explanation:
            _out.print(Text("    kzprobe said: ") + _text(c.explanation))


def _shell_child() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the lab ignores Ctrl-C meanwhile; the shell must not
    netns.die_with_parent()


@lab_app.command("shell")
def lab_shell(
    side: str = typer.Option("inside", "--side", help=f"Which network: {', '.join(SHELL_SIDES)}."),
    scenario: list[str] = typer.Option(None, "--scenario", "-s", help="Only these scenarios (repeatable)."),
) -> None:
    """A shell inside the censored network.

    Or another side of it, to poke at it with curl and dig."""
    if side not in SHELL_SIDES:
        raise BadInputError(f"--side must be one of {', '.join(SHELL_SIDES)}")
    _check_available()
    scenarios = _selected(scenario)
    cuts = [side.split("-", 1)[1]] if side.startswith("inside-") else []
    shell = os.environ.get("SHELL") or shutil.which("bash") or "/bin/sh"
    with Lab(scenarios, cuts=cuts) as lab:
        example = next((s for s in scenarios if s.id == "tls-reset"), scenarios[0])
        _err.print(_text(f"kzprobe lab: a shell in the '{side}' network. Exit the shell to take the lab down."))
        hints = [
            f"lab CA (for curl --cacert, kzprobe --ca-file): $KZLAB_CA = {lab.ca_file}",
            f"targets file: $KZLAB_TARGETS = {lab.targets_file}",
            f"server log: {lab.workdir}/{side}.log",
            f"try: curl -v --cacert $KZLAB_CA {example.site.url}",
            "     kzprobe scan --targets $KZLAB_TARGETS --ca-file $KZLAB_CA --no-geo "
            f"--control-resolver {HONEST_RESOLVER}:53 --output /tmp/lab-report.json",
        ]
        for hint in hints:  # the lab's own words and paths: Text prints them literally
            _err.print(Text("  " + hint))
        env = lab.env({"KZLAB_CA": str(lab.ca_file), "KZLAB_TARGETS": str(lab.targets_file),
                       "PS1": f"(kzlab {side}) \\w \\$ ", **lab.role_env(side)})
        # Ctrl-C belongs to the shell (to stop a curl), not to the lab around it.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            code = subprocess.run(lab.command(side, [shell, "-i"]), env=env, preexec_fn=_shell_child).returncode
        finally:
            signal.signal(signal.SIGINT, previous)
    raise typer.Exit(code)


@lab_app.command("clean")
def lab_clean(every: bool = typer.Option(False, "--all",
                                         help="Also remove labs whose process is still running.")) -> None:
    """Remove what killed labs left behind.

    kzlab-* namespaces, /etc/netns/kzlab-*, work directories."""
    removed = netns.clean(every=every)
    for item in removed:
        _out.print(_text(f"removed {item}"))
    if not removed:
        _out.print("nothing to clean")
