"""A vantage point's settings: defaults < configuration file < command line, each value with
the place it came from.

A vantage point runs `kzprobe scan` unattended for months, so its settings live in a YAML file
rather than in a crontab line. The file is found in one documented order (`--config FILE`, else
`./kzprobe.yaml`, else the user's XDG configuration directory); a flag given on the command line
overrides the file. Every problem in the file and on the command line is collected and reported
at once, naming the file and the key, so that a bad file fails loudly on the first manual run
instead of silently on the hundredth cron run.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from kzprobe.scan import limits
from kzprobe.probes.dns import (
    DEFAULT_CONTROL_RESOLVER,
    ResolverConfigError,
    parse_control_resolver,
    parse_resolver,
)
from kzprobe.safe_yaml import YamlError, load_yaml

# The file looked for in the working directory, and the one in the user's config directory.
LOCAL_CONFIG_NAME: Final = "kzprobe.yaml"
USER_CONFIG_PARTS: Final = ("kzprobe", "config.yaml")

# A vantage name goes into every report and every file name, so it is kept to a safe slug.
VANTAGE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
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


class ConfigError(ValueError):
    """The configuration cannot be used; `problems` lists every reason, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Bad(ValueError):
    """A value check failed; the message completes "KEY: ..."."""


def _show(value: object) -> str:
    """A value quoted for an error message: repr escapes control characters; long ones are cut."""
    text = repr(str(value) if isinstance(value, Path) else value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- value checks: (value, directory relative paths are based on) -> normalised value ------


def _vantage(value: object, base: Path) -> str:
    if not isinstance(value, str) or not VANTAGE_NAME.match(value):
        raise _Bad("letters, digits, '.', '_' and '-' only, starting with a letter or digit, "
                   f"at most 64 characters (no personal data); not {_show(value)}")
    return value


def _path(value: object, base: Path) -> Path:
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"must be a file or directory path, not {_show(value)}")
    if "\n" in value or "\x00" in value:
        raise _Bad(f"a path cannot contain line breaks or NUL, not {_show(value)}")
    # Joined, not resolved: a symlinked directory keeps the name its owner gave it.
    return base / Path(value).expanduser()


def _existing_file(value: object, base: Path) -> Path:
    path = _path(value, base)
    if not path.is_file():
        raise _Bad(f"{'is not a regular file' if path.exists() else 'no such file'}: {path}")
    return path


def _targets(value: object, base: Path) -> tuple[Path | str, ...]:
    items = [value] if isinstance(value, (str, Path)) else value
    if not isinstance(items, (list, tuple)):
        raise _Bad(f"must be a list of target files, e.g. [targets/kz.yaml], not {_show(value)}")
    if not items:
        raise _Bad("lists no files (leave the key out to scan the bundled lists)")
    problems = []
    paths = []
    for index, item in enumerate(items, start=1):
        try:
            paths.append(_target_list_url(item) if _is_url(item) else _existing_file(item, base))
        except _Bad as bad:
            problems.append(f"file {index}: {bad}")
    if problems:
        raise _Bad("; ".join(problems))
    return tuple(paths)


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


def _target_list_url(value: str) -> str:
    """A target list on the web: HTTPS only (a list fetched in clear could be swapped on the way)."""
    text = value.strip()
    if not text.lower().startswith("https://"):
        raise _Bad(f"a target list by URL must be https://, not {_show(text)}")
    if len(text) > 2048 or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise _Bad(f"not a usable URL: {_show(text)}")
    return text


def _output_dir(value: object, base: Path) -> Path:
    path = _path(value, base)
    if path.exists() and not path.is_dir():
        raise _Bad(f"exists and is not a directory: {path}")
    return path


def _resolver(value: object, base: Path) -> str | None:
    if not isinstance(value, str):
        raise _Bad(f"must be IP, IP:PORT, [IPv6]:PORT, an https DoH URL or 'system', not {_show(value)}")
    text = value.strip()
    if text.lower() == "system":
        return None
    try:
        parse_resolver(text)
    except ResolverConfigError as exc:
        raise _Bad(str(exc)) from None
    return text


def _control_resolver(value: object, base: Path) -> str:
    if not isinstance(value, str):
        raise _Bad(f"must be IP, IP:PORT, an https DoH URL or 'none', not {_show(value)}")
    text = value.strip()
    try:
        parse_control_resolver(text)
    except ResolverConfigError as exc:
        raise _Bad(str(exc)) from None
    return "none" if text.lower() == "none" else text


def _control(value: object, base: Path) -> str:
    """A control scan: an http(s) URL as given, or a file path (it may not exist yet: an outside
    vantage's latest.json may be synced here later; `scan` says so if it is missing)."""
    if isinstance(value, str):
        scheme = urlsplit(value.strip()).scheme.lower()
        if scheme in ("http", "https"):
            if not urlsplit(value.strip()).hostname:
                raise _Bad(f"URL has no host: {_show(value)}")
            return value.strip()
        if scheme and len(scheme) > 1:  # "C:" would be a drive, not a scheme, elsewhere
            raise _Bad(f"only http(s) URLs or file paths, not {_show(value)}")
    return str(_path(value, base))


def _number(low: float, high: float, unit: str) -> Callable[[object, Path], float]:
    def check(value: object, base: Path) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low < value <= high:
            raise _Bad(f"must be a number of {unit} above {low:g} and at most {high:g}, not {_show(value)}")
        return float(value)
    return check


def _integer(low: int, high: int, what: str) -> Callable[[object, Path], int]:
    def check(value: object, base: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Bad(f"must be a whole number of {what} from {low} to {high}, not {_show(value)}")
        return value
    return check


def _boolean(value: object, base: Path) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"must be true or false, not {_show(value)}")
    return value


@dataclass(frozen=True)
class _Setting:
    check: Callable[[object, Path], Any]
    default: Any
    nullable: bool  # may the file say `key: null` (back to "none")?
    meaning: str


# The table of every setting. Its order is the order `config show` prints.
SETTINGS: Final[dict[str, _Setting]] = {
    "vantage": _Setting(_vantage, DEFAULT_VANTAGE, False, "name of this vantage point, in reports and file names"),
    "targets": _Setting(_targets, None, True, "target files (none: the bundled lists)"),
    "output_dir": _Setting(_output_dir, DEFAULT_OUTPUT_DIR, False, "directory of reports, journals and latest.json"),
    "resolver": _Setting(_resolver, None, True, "resolver measured (none: the system's)"),
    "control_resolver": _Setting(_control_resolver, DEFAULT_CONTROL_RESOLVER, False, "uncensored resolver, or 'none'"),
    "control": _Setting(_control, None, True, "control scan from an uncensored vantage (file or URL)"),
    "ca_file": _Setting(_existing_file, None, True, "extra trusted CA certificates (PEM)"),
    "timeout": _Setting(_number(0, MAX_TIMEOUT_S, "seconds"), limits.DEFAULT_TIMEOUT_S, False, "seconds per network operation"),
    "concurrency": _Setting(_integer(1, limits.MAX_CONCURRENCY, "targets"), limits.DEFAULT_CONCURRENCY, False, "targets measured at once"),
    "processes": _Setting(_integer(0, limits.MAX_PROCESSES, "processes"), 0, False,
                          "measuring processes (0: one per core, for lists of 2,000 targets or more)"),
    "keep": _Setting(_integer(1, MAX_KEEP_SCANS, "scans"), None, True, "complete scans kept (none: all)"),
    "keep_days": _Setting(_integer(1, MAX_KEEP_DAYS, "days"), None, True, "days complete scans are kept (none: forever)"),
    "geo": _Setting(_boolean, True, False, "look up the network's ASN and country"),
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
        name = key if isinstance(key, str) else _show(key)
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
        except _Bad as bad:
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
    config_file: Path | None
    sources: Mapping[str, str]

    def source(self, name: str) -> str:
        return self.sources[name]

    def values(self) -> dict[str, Any]:
        """Setting name -> JSON-ready value, in the table's order."""
        return {name: _json_ready(getattr(self, name)) for name in SETTINGS}

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
        return _integer(1, MAX_KEEP_SCANS, "scans")(value, Path()), None
    match = _KEEP_FLAG.match(value.strip().lower()) if isinstance(value, str) else None
    if match is None:
        raise _Bad(f"must be a number of scans (48), of days (30d) or 'all', not {_show(value)}")
    if match["all"]:
        return None, None
    if match["days"]:
        return None, _integer(1, MAX_KEEP_DAYS, "days")(int(match["days"]), Path())
    return _integer(1, MAX_KEEP_SCANS, "scans")(int(match["scans"]), Path()), None


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _command_line_values(cli: Mapping[str, object | None], cwd: Path,
                         problems: list[ConfigProblem]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in cli.items():
        if value is None or name in RETENTION_KEYS:
            continue
        if name == "targets" and isinstance(value, (list, tuple)) and not value:
            continue  # typer gives [] for a repeatable option never used
        try:
            values[name] = SETTINGS[name].check(value, cwd)
        except _Bad as bad:
            problems.append(ConfigProblem(FROM_COMMAND_LINE, _flag(name), str(bad)))
    keep, keep_days = cli.get("keep"), cli.get("keep_days")
    if keep is None and keep_days is None:
        return values
    try:
        scans, days = parse_keep_flag(keep) if keep is not None else (None, None)
        if keep_days is not None:
            if days is not None:
                raise _Bad("give the days once: --keep Nd or --keep-days N")
            days = SETTINGS["keep_days"].check(keep_days, cwd)
        # One policy: a command line naming either replaces both values of the file.
        values["keep"], values["keep_days"] = scans, days
    except _Bad as bad:
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

