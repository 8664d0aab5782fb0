"""What each setting of a vantage may be: one check per kind of value, taking the value and the
directory relative paths are based on, returning the normalised value or raising BadValue.

Kept apart from config.py (finding, loading and merging the settings) so that the table of
settings there reads as a table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from kzprobe.probes.dns import ResolverConfigError, parse_control_resolver, parse_resolver
from kzprobe.vantage.alerts import settings as alerts

# A vantage name goes into every report and every file name, so it is kept to a safe slug.
VANTAGE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class BadValue(ValueError):
    """A value check failed; the message completes "KEY: ..."."""


def show_value(value: object) -> str:
    """A value quoted for an error message: repr escapes control characters; long ones are cut."""
    text = repr(str(value) if isinstance(value, Path) else value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- value checks: (value, directory relative paths are based on) -> normalised value ------


def vantage_name(value: object, base: Path) -> str:
    if not isinstance(value, str) or not VANTAGE_NAME.match(value):
        raise BadValue("letters, digits, '.', '_' and '-' only, starting with a letter or digit, "
                       f"at most 64 characters (no personal data); not {show_value(value)}")
    return value


def path_value(value: object, base: Path) -> Path:
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise BadValue(f"must be a file or directory path, not {show_value(value)}")
    if "\n" in value or "\x00" in value:
        raise BadValue(f"a path cannot contain line breaks or NUL, not {show_value(value)}")
    # Joined, not resolved: a symlinked directory keeps the name its owner gave it.
    return base / Path(value).expanduser()


def existing_file(value: object, base: Path) -> Path:
    path = path_value(value, base)
    if not path.is_file():
        raise BadValue(f"{'is not a regular file' if path.exists() else 'no such file'}: {path}")
    return path


def target_files(value: object, base: Path) -> tuple[Path | str, ...]:
    items = [value] if isinstance(value, (str, Path)) else value
    if not isinstance(items, (list, tuple)):
        raise BadValue(f"must be a list of target files, e.g. [targets/kz.yaml], not {show_value(value)}")
    if not items:
        raise BadValue("lists no files (leave the key out to scan the bundled lists)")
    problems = []
    paths = []
    for index, item in enumerate(items, start=1):
        try:
            paths.append(target_list_url(item) if is_url(item) else existing_file(item, base))
        except BadValue as bad:
            problems.append(f"file {index}: {bad}")
    if problems:
        raise BadValue("; ".join(problems))
    return tuple(paths)


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


def target_list_url(value: str) -> str:
    """A target list on the web: HTTPS only (a list fetched in clear could be swapped on the way)."""
    text = value.strip()
    if not text.lower().startswith("https://"):
        raise BadValue(f"a target list by URL must be https://, not {show_value(text)}")
    if len(text) > 2048 or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise BadValue(f"not a usable URL: {show_value(text)}")
    return text


def output_directory(value: object, base: Path) -> Path:
    path = path_value(value, base)
    if path.exists() and not path.is_dir():
        raise BadValue(f"exists and is not a directory: {path}")
    return path


def resolver(value: object, base: Path) -> str | None:
    if not isinstance(value, str):
        raise BadValue(f"must be IP, IP:PORT, [IPv6]:PORT, an https DoH URL or 'system', not {show_value(value)}")
    text = value.strip()
    if text.lower() == "system":
        return None
    try:
        parse_resolver(text)
    except ResolverConfigError as exc:
        raise BadValue(str(exc)) from None
    return text


def control_resolver(value: object, base: Path) -> str:
    if not isinstance(value, str):
        raise BadValue(f"must be IP, IP:PORT, an https DoH URL or 'none', not {show_value(value)}")
    text = value.strip()
    try:
        parse_control_resolver(text)
    except ResolverConfigError as exc:
        raise BadValue(str(exc)) from None
    return "none" if text.lower() == "none" else text


def control(value: object, base: Path) -> str:
    """A control scan: an http(s) URL as given, or a file path (it may not exist yet: an outside
    vantage's latest.json may be synced here later; `scan` says so if it is missing)."""
    if isinstance(value, str):
        scheme = urlsplit(value.strip()).scheme.lower()
        if scheme in ("http", "https"):
            if not urlsplit(value.strip()).hostname:
                raise BadValue(f"URL has no host: {show_value(value)}")
            return value.strip()
        if scheme and len(scheme) > 1:  # "C:" would be a drive, not a scheme, elsewhere
            raise BadValue(f"only http(s) URLs or file paths, not {show_value(value)}")
    return str(path_value(value, base))


def number(low: float, high: float, unit: str) -> Callable[[object, Path], float]:
    def check(value: object, base: Path) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low < value <= high:
            raise BadValue(f"must be a number of {unit} above {low:g} and at most {high:g}, not {show_value(value)}")
        return float(value)
    return check


def integer(low: int, high: int, what: str) -> Callable[[object, Path], int]:
    def check(value: object, base: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise BadValue(f"must be a whole number of {what} from {low} to {high}, not {show_value(value)}")
        return value
    return check


def boolean(value: object, base: Path) -> bool:
    if not isinstance(value, bool):
        raise BadValue(f"must be true or false, not {show_value(value)}")
    return value


def notify(value: object, base: Path) -> tuple[str, ...]:
    """Where change records go: 'feed', https webhook URLs, or 'none'."""
    try:
        return alerts.check_notify(value)
    except ValueError as exc:
        raise BadValue(str(exc)) from None


def secret_file(value: object, base: Path) -> Path:
    """A file holding the webhooks' shared secret, readable by its owner only."""
    path = path_value(value, base)
    try:
        return alerts.check_secret_file(path)
    except ValueError as exc:
        raise BadValue(str(exc)) from None
