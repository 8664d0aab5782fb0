"""`kzprobe config show` and `kzprobe cron`: a vantage point's effective settings and schedule."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import typer

from kzprobe.cli import app
from kzprobe.docs_links import doc_path
from kzprobe.errors import BadInputError
from kzprobe.scan.settings import (
    FROM_DEFAULT,
    LOCAL_CONFIG_NAME,
    ConfigError,
    EffectiveSettings,
    find_config_file,
    resolve_settings,
    user_config_file,
)
from kzprobe.text import clean_text
from kzprobe.vantage.alerts.settings import describe as describe_alerts
from kzprobe.vantage.cron import DEFAULT_EVERY_MINUTES, plan_schedule
from kzprobe.vantage.durations import describe_duration

config_app = typer.Typer(
    name="config",
    help="Show where kzprobe's settings come from.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(config_app, name="config")

# How `config show` prints a setting left unset: what "none" means for it.
_UNSET_MEANS = {
    "targets": "(the bundled lists)",
    "resolver": "(the system's resolver)",
    "control": "(none)",
    "ca_file": "(none)",
    "keep": "(all scans)",
    "keep_days": "(no age limit)",
    "notify": "none (no change records)",
    "webhook_secret_file": "(none: webhook POSTs are not signed)",
}


def _say(message: str) -> None:
    """One line on stderr, control characters removed (values come from files)."""
    typer.echo("kzprobe: " + clean_text(message), err=True)


def _settings_or_exit(config: Path | None, flags: dict[str, object | None]) -> EffectiveSettings:
    try:
        return resolve_settings(flags, find_config_file(config))
    except ConfigError as exc:
        raise BadInputError(f"{len(exc.problems)} problem(s) in the configuration", details=exc.details) from exc


def _display(name: str, value: Any) -> str:
    if value is None or (name == "notify" and not value):
        return _UNSET_MEANS.get(name, "(none)")
    if isinstance(value, list):
        return ", ".join(clean_text(str(item)) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "control_max_age":
        return describe_duration(value)
    return clean_text(str(value))


def render_settings(settings: EffectiveSettings) -> str:
    """The human table of `config show`: setting, value, where it came from."""
    if settings.config_file is not None:
        head = f"configuration file: {clean_text(str(settings.config_file))}"
    else:
        looked = [f"./{LOCAL_CONFIG_NAME}"] + ([str(user_config_file())] if user_config_file() else [])
        head = "configuration file: none found (looked for " + " and ".join(looked) + ")"
    rows = [(name, _display(name, value), settings.source(name)) for name, value in settings.values().items()]
    width = max(len(name) for name, _, _ in rows) + 2
    value_width = min(48, max(len(value) for _, value, _ in rows))
    lines = [head, ""]
    lines += [f"{name:<{width}}{value:<{value_width}}  {clean_text(source)}" for name, value, source in rows]
    return "\n".join(lines) + "\n"


@config_app.command("show")
def config_show(
    config: Path | None = typer.Option(None, "--config",
                                       help="Configuration file (default: ./kzprobe.yaml, else "
                                            "~/.config/kzprobe/config.yaml)."),
    as_json: bool = typer.Option(False, "--json", help="Print the settings and their sources as JSON."),
    vantage: str | None = typer.Option(None, "--vantage", help="Override: vantage name."),
    targets: list[Path] = typer.Option([], "--targets", "-t", help="Override: target file; repeatable."),
    output_dir: Path | None = typer.Option(None, "--output-dir", help="Override: output directory."),
    resolver: str | None = typer.Option(None, "--resolver", help="Override: resolver measured."),
    control_resolver: str | None = typer.Option(None, "--control-resolver", help="Override: control resolver."),
    control: str | None = typer.Option(None, "--control", help="Override: control scan (file or URL)."),
    ca_file: Path | None = typer.Option(None, "--ca-file", help="Override: extra CA certificates."),
    timeout: float | None = typer.Option(None, "--timeout", help="Override: seconds per network operation."),
    concurrency: int | None = typer.Option(None, "--concurrency", help="Override: targets measured at once."),
    processes: int | None = typer.Option(None, "--processes", help="Override: measuring processes (0: one per core)."),
    keep: str | None = typer.Option(None, "--keep", help="Override retention: N scans, Nd days, or all."),
    geo: bool | None = typer.Option(None, "--geo/--no-geo", help="Override: look up ASN and country."),
    notify: list[str] = typer.Option([], "--notify", help="Override: feed, a webhook URL, or none; repeatable."),
    control_max_age: str | None = typer.Option(None, "--control-max-age",
                                               help="Override: how old a control may be (90m, 3h, 1d)."),
) -> None:
    """The effective settings and where each came from.

    Each value with its source: default, file or flag.

    The override flags are those of `kzprobe scan`: give them to see what a scan with them
    would use."""
    flags: dict[str, object | None] = {
        "vantage": vantage, "targets": targets, "output_dir": output_dir, "resolver": resolver,
        "control_resolver": control_resolver, "control": control, "ca_file": ca_file,
        "timeout": timeout, "concurrency": concurrency, "processes": processes, "keep": keep, "geo": geo,
        "notify": notify,
        "control_max_age": control_max_age,
    }
    settings = _settings_or_exit(config, flags)
    if as_json:
        sys.stdout.write(json.dumps(settings.to_dict(), ensure_ascii=False, indent=1) + "\n")
    else:
        sys.stdout.write(render_settings(settings))


@app.command()
def cron(
    config: Path | None = typer.Option(None, "--config",
                                       help="Configuration file the schedule runs with (default: as for scan)."),
    every: int = typer.Option(DEFAULT_EVERY_MINUTES, "--every",
                              help="Minutes between scans: divides an hour, or a day in whole hours."),
    log: Path | None = typer.Option(None, "--log",
                                    help="Log file for the cron line (default: ~/.local/state/kzprobe/<vantage>.log)."),
    only: str | None = typer.Option(None, "--only", help="Print just one piece, bare: cron, service or timer."),
    vantage: str | None = typer.Option(None, "--vantage",
                                       help="Vantage name for the scans (with --output-dir, when there is no "
                                            "configuration file)."),
    output_dir: Path | None = typer.Option(None, "--output-dir",
                                           help="Where the scans write (with --vantage, when there is no "
                                                "configuration file)."),
) -> None:
    """Print a crontab line and systemd units for unattended scans."""
    if only not in (None, "cron", "service", "timer"):
        raise BadInputError("--only: one of cron, service, timer")
    settings = _settings_or_exit(config, {"vantage": vantage, "output_dir": output_dir})
    if settings.config_file is None and (vantage is None or output_dir is None):
        raise BadInputError("no configuration file found: an unattended vantage needs one (see "
                            f"{doc_path('vantage-point.md')}), or both --vantage NAME and --output-dir DIR, so "
                            "that its scans are not filed under 'local' in whatever directory cron starts in")
    pinned = [*(["--vantage", vantage] if vantage else []),
              *(["--output-dir", str(settings.output_dir.absolute())] if output_dir else [])]
    workdir = Path.cwd()
    plan = plan_schedule(settings.vantage, settings.config_file, workdir, every=every,
                         log_file=log.absolute() if log else None, scan_flags=pinned)
    if settings.config_file is not None and output_dir is None and settings.source("output_dir") == FROM_DEFAULT:
        _say(f"output_dir is not set in {settings.config_file}: the schedule writes into "
             f"{settings.output_dir} (its working directory); set it to be sure manual runs agree")
    if only is None:
        plan = dataclasses.replace(plan, notes=tuple(f"After each complete scan: {line}."
                                                      for line in describe_alerts(settings.alerts())))
    text = {"cron": plan.crontab + "\n", "service": plan.service, "timer": plan.timer}.get(only or "", None)
    sys.stdout.write(text if text is not None else plan.render())
