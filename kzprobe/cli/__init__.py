"""The `kzprobe` command: a thin typer app. Each submodule registers its commands on `app`."""

from __future__ import annotations

import os
import sys

import typer

from kzprobe import __version__

app = typer.Typer(
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


def _register_commands(argv: list[str] | None = None) -> None:
    # Imported for their side effect: each module adds its commands to `app`.
    argv = sys.argv[1:] if argv is None else argv
    from kzprobe.cli import commands_scan  # noqa: F401
    if argv[:1] == ["scan"]:
        # The command a vantage point runs every hour needs only its own module; the others'
        # imports (the lab's catalogue, the analysts' readers) would only delay its start.
        return
    from kzprobe.cli import commands_targets  # noqa: F401
    from kzprobe.cli import commands_analyst  # noqa: F401
    from kzprobe.cli import commands_lab  # noqa: F401
    from kzprobe.cli import commands_vantage  # noqa: F401


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
