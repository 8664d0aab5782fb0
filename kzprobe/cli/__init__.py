"""The `kzprobe` command: a thin typer app. Each submodule registers its commands on `app`."""

from __future__ import annotations

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
    app()
