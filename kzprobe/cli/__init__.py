"""The `kzprobe` command: a thin typer app. Each submodule registers its commands on `app`.

A command parses its options, calls one library function and renders what comes back; it
decides nothing. commands_scan (scan, analyse), commands_targets, commands_analyst (show,
compare, summary, timeline, export, report), commands_changes, commands_store (the store and
collect, with store_reading), commands_ooni, commands_lab and commands_vantage (config, cron).

Errors are turned into what the user sees in one place, `_Commands.invoke` below: a
KzprobeError (kzprobe/errors.py) prints its details and its message on stderr, and the command
exits with the error's exit code (documented in README.md). Commands raise; they never print
an error and exit themselves.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from kzprobe import __version__
from kzprobe.errors import KzprobeError
from kzprobe.text import clean_text

if TYPE_CHECKING:
    from typer._click.core import Context as ClickContext  # the context type TyperGroup.invoke takes


def report_error(error: KzprobeError) -> None:
    """An error as the user sees it: each detail on its own line, then `kzprobe: <message>`.
    Details and messages quote files and the network, so they are cleaned of control characters."""
    for detail in error.details:
        typer.echo(clean_text(detail), err=True)
    typer.echo(f"kzprobe: {clean_text(str(error))}", err=True)


class _Commands(TyperGroup):
    """The root group: every command and sub-command runs inside its `invoke`."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except KzprobeError as error:
            report_error(error)
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    cls=_Commands,
    name="kzprobe",
    help="Measure network interference - blocking, throttling, shutdowns - from where it runs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"kzprobe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """kzprobe: can people here reach it, and if not, how is it being stopped?"""


# Which module adds each command. `kzprobe X` imports only X's module (a vantage's hourly scan
# need not import the lab's catalogue or the analysts' readers); anything else (help, a typo)
# imports them all. tests/cli/test_commands.py checks this table against the commands.
COMMAND_MODULES: dict[str, str] = {
    "scan": "commands_scan", "analyse": "commands_scan",
    "targets": "commands_targets",
    "show": "commands_analyst", "compare": "commands_analyst", "summary": "commands_analyst",
    "timeline": "commands_analyst", "export": "commands_analyst", "report": "commands_analyst",
    "lab": "commands_lab",
    "config": "commands_vantage", "cron": "commands_vantage", "changes": "commands_changes",
    "ooni": "commands_ooni",
    "store": "commands_store", "collect": "commands_store",
}


def _register_commands(argv: list[str] | None = None) -> None:
    # Imported for their side effect: each module adds its commands to `app`.
    argv = sys.argv[1:] if argv is None else argv
    wanted = COMMAND_MODULES.get(argv[0]) if argv else None
    for module in dict.fromkeys(COMMAND_MODULES.values()):  # in the order `kzprobe --help` lists them
        if wanted is None or module == wanted:
            importlib.import_module(f"kzprobe.cli.{module}")


_register_commands()


def main() -> None:
    if sys.argv[1:2] != ["scan"]:
        app()
        return
    # A scan ends holding its whole report (tens of MB for a long list); freeing it object by
    # object at interpreter exit took a tenth of a second more. Everything is written and
    # closed by then (report, journal, latest.json, lock), so the process ends at once.
    # Commands that clean up at exit (the lab's namespaces) keep the normal exit.
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more can be said
            code = code or 1
    os._exit(code)
