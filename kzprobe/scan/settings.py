"""A scan's settings: defaults < configuration file < command line, each value with the place
it came from (`kzprobe config show` prints them).

A vantage point runs `kzprobe scan` unattended for months, so its settings live in a YAML file
rather than in a crontab line. The file is found in one documented order (`--config FILE`, else
`./kzprobe.yaml`, else the user's XDG configuration directory); a flag given on the command line
overrides the file. Every problem in the file and on the command line is collected and reported
at once, naming the file and the key, so that a bad file fails loudly on the first manual run
instead of silently on the hundredth cron run.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from kzprobe.analysis.thresholds import CONTROL_MAX_AGE_S
from kzprobe.errors import BadInputError
from kzprobe.probes.dns import DEFAULT_CONTROL_RESOLVER
from kzprobe.safe_yaml import YamlError, load_yaml
from kzprobe.scan import limits
from kzprobe.vantage import setting_values as sv
from kzprobe.vantage.alerts import limits as alert_limits
from kzprobe.vantage.alerts.settings import DEFAULT_NOTIFY, FEED, AlertSettings
from kzprobe.vantage.alerts.webhook import redact_url
from kzprobe.vantage.durations import DurationError, parse_duration
from kzprobe.vantage.setting_values import BadValue, show_value

# The file looked for in the working directory, and the one in the user's config directory.
LOCAL_CONFIG_NAME: Final = "kzprobe.yaml"
USER_CONFIG_PARTS: Final = ("kzprobe", "config.yaml")

DEFAULT_VANTAGE: Final = "local"
DEFAULT_OUTPUT_DIR: Final = "results"

# Per-operation timeout ceiling: beyond five minutes a probe is waiting on a dead link, and a
# scan of hundreds of targets would outlast its hourly slot.
MAX_TIMEOUT_S: Final = 300.0
# A configuration file holds a dozen settings (a few hundred bytes, a few KB with a long
# targets list); a larger one is a mistake or an attack, refused unread rather than parsed on
# every hourly run (a 4 MB flow list cost ~6.5 s and ~220 MB before the YAML value budget).
MAX_CONFIG_BYTES: Final = 64 * 1024
# Retention bounds: sanity caps that catch a typo (keep: 10000000000), not policy.
MAX_KEEP_SCANS: Final = 1_000_000
MAX_KEEP_DAYS: Final = 36_500

# Where a value came from, as `config show` prints it.
FROM_DEFAULT: Final = "default"
FROM_COMMAND_LINE: Final = "command line"

# The retention pair is one policy: a command line giving either replaces both file values.
RETENTION_KEYS: Final = ("keep", "keep_days")
# `--keep` text: "48" (scans), "30d" (days) or "all" (delete nothing).
_KEEP_FLAG = re.compile(r"^(?:(?P<scans>[0-9]+)|(?P<days>[0-9]+)d|(?P<all>all))$")


@dataclass(frozen=True)
class ConfigProblem:
    """One bad key or value: `source` is a file path or "command line"."""

    source: str
    key: str | None
    message: str

    def __str__(self) -> str:
        if self.key is None:
            return f"{self.source}: {self.message}"
        return f"{self.source}: {self.key}: {self.message}"


class ConfigError(BadInputError, ValueError):
    """The configuration cannot be used; `problems` lists every reason, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems), details=[str(p) for p in problems])


def _duration(value: object, base: Path) -> float:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise sv.BadValue(str(exc)) from None


@dataclass(frozen=True)
class _Setting:
    check: Callable[[object, Path], Any]
    default: Any
    nullable: bool  # may the file say `key: null` (back to "none")?
    meaning: str


# The table of every setting. Its order is the order `config show` prints.
SETTINGS: Final[dict[str, _Setting]] = {
    "vantage": _Setting(sv.vantage_name, DEFAULT_VANTAGE, False,
                        "name of this vantage point, in reports and file names"),
    "targets": _Setting(sv.target_files, None, True, "target files (none: the bundled lists)"),
    "output_dir": _Setting(sv.output_directory, DEFAULT_OUTPUT_DIR, False,
                           "directory of reports, journals and latest.json"),
    "resolver": _Setting(sv.resolver, None, True, "resolver measured (none: the system's)"),
    "control_resolver": _Setting(sv.control_resolver, DEFAULT_CONTROL_RESOLVER, False,
                                 "uncensored resolver, or 'none'"),
    "control": _Setting(sv.control, None, True, "control scan from an uncensored vantage (file or URL)"),
    "ca_file": _Setting(sv.existing_file, None, True, "extra trusted CA certificates (PEM)"),
    "timeout": _Setting(sv.number(0, MAX_TIMEOUT_S, "seconds"), limits.DEFAULT_TIMEOUT_S, False,
                        "seconds per network operation"),
    "concurrency": _Setting(sv.integer(1, limits.MAX_CONCURRENCY, "targets"), limits.DEFAULT_CONCURRENCY, False,
                            "targets measured at once"),
    "processes": _Setting(sv.integer(0, limits.MAX_PROCESSES, "processes"), 0, False,
                          "measuring processes (0: one per core, for lists of 2,000 targets or more)"),
    "keep": _Setting(sv.integer(1, MAX_KEEP_SCANS, "scans"), None, True, "complete scans kept (none: all)"),
    "keep_days": _Setting(sv.integer(1, MAX_KEEP_DAYS, "days"), None, True,
                          "days complete scans are kept (none: forever)"),
    "geo": _Setting(sv.boolean, True, False, "look up the network's ASN and country"),
    "control_max_age": _Setting(_duration, CONTROL_MAX_AGE_S, False,
                                "how far apart a control scan and this one may be for the control to be live"),
    "tor_bootstrap": _Setting(sv.boolean, False, False,
                              "also bootstrap the tor daemon, directly and through the obfs4 bridges (it reaches "
                              "Tor relays beyond the listed endpoints)"),
    "tor_bootstrap_timeout": _Setting(sv.number(0, limits.MAX_TOR_BOOTSTRAP_TIMEOUT_S, "seconds"),
                                      limits.DEFAULT_TOR_BOOTSTRAP_TIMEOUT_S, False,
                                      "seconds the tor bootstrap may take, beside the scan"),
    "notify": _Setting(sv.notify, DEFAULT_NOTIFY, False,
                       "where change records go: feed, https webhook URLs (none: nowhere)"),
    "webhook_secret_file": _Setting(sv.secret_file, None, True,
                                    "file of the secret that signs webhook POSTs (HMAC-SHA256)"),
    "webhook_timeout": _Setting(sv.number(0, alert_limits.MAX_WEBHOOK_TIMEOUT_S, "seconds"),
                                alert_limits.DEFAULT_WEBHOOK_TIMEOUT_S, False, "seconds per webhook POST"),
    "webhook_retries": _Setting(sv.integer(0, alert_limits.MAX_WEBHOOK_RETRIES, "retries"),
                                alert_limits.DEFAULT_WEBHOOK_RETRIES, False, "retries of a failed POST within a scan"),
    "flap_scans": _Setting(sv.integer(alert_limits.MIN_FLAP_SCANS, alert_limits.MAX_FLAP_SCANS, "scans"),
                           alert_limits.DEFAULT_FLAP_SCANS, False,
                           f"scans in which {alert_limits.FLAP_CHANGES} changes make a target unstable"),
}


# --- finding and loading the file --------------------------------------------------------


def user_config_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """$XDG_CONFIG_HOME/kzprobe/config.yaml, else ~/.config/kzprobe/config.yaml.

    The XDG Base Directory specification says a relative $XDG_CONFIG_HOME is invalid and
    must be ignored."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg).joinpath(*USER_CONFIG_PARTS)
    home = env.get("HOME")
    if not home:
        try:
            home = str(Path.home())
        except RuntimeError:  # no HOME and no passwd entry (a bare container)
            return None
    return Path(home, ".config", *USER_CONFIG_PARTS)


def find_config_file(explicit: Path | None = None, *, cwd: Path | None = None,
                     environ: Mapping[str, str] | None = None) -> Path | None:
    """The configuration file to use, or None: `explicit` (whether or not it exists: loading it
    then says it is missing), else ./kzprobe.yaml, else the user's config file, if present."""
    here = Path.cwd() if cwd is None else cwd
    if explicit is not None:
        return explicit if explicit.is_absolute() else here / explicit
    local = here / LOCAL_CONFIG_NAME
    if local.is_file():
        return local
    user = user_config_file(environ)
    if user is not None and user.is_file():
        return user
    return None


def load_config(path: Path) -> dict[str, Any]:
    """The settings a configuration file gives, checked and normalised (paths made absolute
    relative to the file's directory); ConfigError listing every problem otherwise."""
    source = str(path)
    try:
        document = load_yaml(path, source_name=source, max_bytes=MAX_CONFIG_BYTES)
    except YamlError as exc:
        where = f"line {exc.line}: " if exc.line is not None else ""
        raise ConfigError([ConfigProblem(source, None, where + exc.message)]) from None
    if document is None:
        return {}  # an empty file: every value from the defaults
    if not isinstance(document, dict):
        raise ConfigError([ConfigProblem(source, None, "must be a mapping of settings (key: value), "
                                                       f"not a {type(document).__name__}")])
    base = path.parent if path.parent.is_absolute() else Path.cwd() / path.parent
    values: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    for key, value in document.items():
        name = key if isinstance(key, str) else show_value(key)
        setting = SETTINGS.get(name)
        if setting is None:
            problems.append(ConfigProblem(source, name, "unknown key" + _did_you_mean(name)))
            continue
        if value is None:
            if setting.nullable:
                values[name] = None
            else:
                problems.append(ConfigProblem(source, name, "needs a value (leave the key out for the default)"))
            continue
        try:
            values[name] = setting.check(value, base)
        except BadValue as bad:
            problems.append(ConfigProblem(source, name, str(bad)))
    if problems:
        raise ConfigError(problems)
    return values


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name.lower().replace("-", "_"), list(SETTINGS), n=1)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return " (known keys: " + ", ".join(SETTINGS) + ")"


# --- merging ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveSettings:
    """The settings a scan runs with; `sources[name]` says where each value came from."""

    vantage: str
    targets: tuple[Path | str, ...] | None  # files, or https URLs of lists
    output_dir: Path
    resolver: str | None
    control_resolver: str
    control: str | None
    ca_file: Path | None
    timeout: float
    concurrency: int
    processes: int
    keep: int | None
    keep_days: int | None
    geo: bool
    control_max_age: float  # seconds
    tor_bootstrap: bool
    tor_bootstrap_timeout: float  # seconds
    notify: tuple[str, ...]
    webhook_secret_file: Path | None
    webhook_timeout: float
    webhook_retries: int
    flap_scans: int
    config_file: Path | None
    sources: Mapping[str, str]

    def source(self, name: str) -> str:
        return self.sources[name]

    def alerts(self) -> AlertSettings:
        """What the alerts of a complete scan do (kzprobe.vantage.alerts)."""
        return AlertSettings.from_notify(self.notify, secret_file=self.webhook_secret_file,
                                         webhook_timeout=self.webhook_timeout,
                                         webhook_retries=self.webhook_retries, flap_scans=self.flap_scans)

    def values(self) -> dict[str, Any]:
        """Setting name -> JSON-ready value, in the table's order. Webhook URLs are shown with
        their path hidden: it often holds the receiver's token (kzprobe.vantage.alerts.webhook)."""
        values = {name: _json_ready(getattr(self, name)) for name in SETTINGS}
        values["notify"] = [d if d == FEED else redact_url(d) for d in self.notify]
        return values

    def to_dict(self) -> dict[str, Any]:
        """What `config show --json` prints."""
        return {
            "config_file": str(self.config_file) if self.config_file else None,
            "settings": {name: {"value": value, "source": self.sources[name]}
                         for name, value in self.values().items()},
        }


def _json_ready(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_json_ready(item) for item in value]
    return value


def parse_keep_flag(value: object) -> tuple[int | None, int | None]:
    """`--keep` as (scans, days): "48" -> (48, None), "30d" -> (None, 30), "all" -> (None, None)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return sv.integer(1, MAX_KEEP_SCANS, "scans")(value, Path()), None
    match = _KEEP_FLAG.match(value.strip().lower()) if isinstance(value, str) else None
    if match is None:
        raise BadValue(f"must be a number of scans (48), of days (30d) or 'all', not {show_value(value)}")
    if match["all"]:
        return None, None
    if match["days"]:
        return None, sv.integer(1, MAX_KEEP_DAYS, "days")(int(match["days"]), Path())
    return sv.integer(1, MAX_KEEP_SCANS, "scans")(int(match["scans"]), Path()), None


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _command_line_values(cli: Mapping[str, object | None], cwd: Path,
                         problems: list[ConfigProblem]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in cli.items():
        if value is None or name in RETENTION_KEYS:
            continue
        if name in ("targets", "notify") and isinstance(value, (list, tuple)) and not value:
            continue  # typer gives [] for a repeatable option never used
        try:
            values[name] = SETTINGS[name].check(value, cwd)
        except BadValue as bad:
            problems.append(ConfigProblem(FROM_COMMAND_LINE, _flag(name), str(bad)))
    keep, keep_days = cli.get("keep"), cli.get("keep_days")
    if keep is None and keep_days is None:
        return values
    try:
        scans, days = parse_keep_flag(keep) if keep is not None else (None, None)
        if keep_days is not None:
            if days is not None:
                raise BadValue("give the days once: --keep Nd or --keep-days N")
            days = SETTINGS["keep_days"].check(keep_days, cwd)
        # One policy: a command line naming either replaces both values of the file.
        values["keep"], values["keep_days"] = scans, days
    except BadValue as bad:
        problems.append(ConfigProblem(FROM_COMMAND_LINE, "--keep", str(bad)))
    return values


def resolve_settings(cli: Mapping[str, object | None], config_path: Path | None,
                     *, cwd: Path | None = None) -> EffectiveSettings:
    """Defaults, overridden by the configuration file (if any), overridden by the flags given.

    `cli` maps setting names (the keys of SETTINGS) to flag values; None means "not given".
    `cli["keep"]` takes the `--keep` text ("48", "30d", "all"). Relative paths on the command
    line are relative to `cwd`, those in the file to the file's directory; the results are
    absolute so that cron, which starts in $HOME, finds the same files.
    """
    unknown = set(cli) - set(SETTINGS)
    if unknown:
        raise TypeError(f"resolve_settings: not settings: {', '.join(sorted(unknown))}")
    here = Path.cwd() if cwd is None else cwd
    values: dict[str, Any] = {name: setting.default for name, setting in SETTINGS.items()}
    sources = {name: FROM_DEFAULT for name in SETTINGS}
    values["output_dir"] = here / DEFAULT_OUTPUT_DIR
    problems: list[ConfigProblem] = []
    if config_path is not None:
        try:
            from_file = load_config(config_path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            from_file = {}
        for name, value in from_file.items():
            values[name] = value
            sources[name] = f"config {config_path}"
    from_flags = _command_line_values(cli, here, problems)
    for name, value in from_flags.items():
        values[name] = value
        sources[name] = FROM_COMMAND_LINE
    if problems:
        raise ConfigError(problems)
    return EffectiveSettings(**values, config_file=config_path, sources=sources)

