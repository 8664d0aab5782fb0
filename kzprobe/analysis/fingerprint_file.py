"""Read and validate a fingerprint file: kzprobe/data/fingerprints.yaml (`bundled_fingerprints`),
or someone else's.

Loaded through the untrusted-YAML loader (no aliases, capped size and depth) and checked field
by field; every problem is collected and reported at once. A bad entry must fail loudly rather
than match everything (or nothing) in silence.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.addresses import canonical_address, parse_address
from kzprobe.analysis.fingerprints import (
    AuthorityPattern,
    BlockpageAddress,
    Fingerprints,
    PagePattern,
    RedirectTarget,
    RefusalPattern,
    fold,
)
from kzprobe.analysis.names import host_key
from kzprobe.errors import BadInputError
from kzprobe.safe_yaml import YamlError, load_yaml

FORMAT: Final = "kzprobe-fingerprints"
# The fingerprints shipped with kzprobe.
BUNDLED: Final = Path(__file__).resolve().parent.parent / "data" / "fingerprints.yaml"

_ID: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")
_HEADER: Final = re.compile(r"^[a-z0-9-]{1,64}$")
_MATCHES: Final = ("contains", "exact", "prefix")
_ROLES: Final = ("interception", "national")
_DN_ATTRIBUTES: Final = ("CN", "O", "OU", "C", "L", "ST")
_REFUSAL_KINDS: Final = ("challenge", "block")


class FingerprintError(BadInputError, ValueError):
    """The fingerprint file is unreadable or an entry is invalid; lists every problem found."""


class _Problems:
    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.name}: {where}: {message}")


_Entry = TypeVar("_Entry")  # one kind of fingerprint entry

def _text(entry: dict, key: str, where: str, problems: _Problems, *, required: bool = True,
          limit: int = th.FINGERPRINT_MAX_PATTERN_CHARS) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(where, f"'{key}' must be a non-empty string")
        return None
    if len(value) > limit:
        problems.add(where, f"'{key}' is longer than {limit} characters")
        return None
    return value.strip()


def _entries(data: dict, key: str, problems: _Problems) -> list[tuple[str, dict]]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(key, "must be a list")
        return []
    if len(value) > th.FINGERPRINTS_MAX_ENTRIES:
        problems.add(key, f"more than {th.FINGERPRINTS_MAX_ENTRIES} entries")
        return []
    out = []
    for index, entry in enumerate(value, 1):
        where = f"{key} entry {index}"
        if not isinstance(entry, dict):
            problems.add(where, "must be a mapping")
            continue
        out.append((where, entry))
    return out


def _common(entry: dict, where: str, allowed: set[str], problems: _Problems, seen: set[str]) -> tuple:
    unknown = sorted(str(k) for k in entry if k not in allowed | {"id", "country", "source", "note"})
    if unknown:
        problems.add(where, "unknown field(s): " + ", ".join(unknown))
    ident = _text(entry, "id", where, problems)
    if ident is not None:
        if not _ID.match(ident):
            problems.add(where, f"id {ident!r} must be a lower-case slug")
        elif ident in seen:
            problems.add(where, f"duplicate id {ident!r}")
        seen.add(ident)
    country = _text(entry, "country", where, problems, required=False, limit=2)
    source = _text(entry, "source", where, problems, limit=2000)
    _text(entry, "note", where, problems, required=False, limit=2000)
    return ident, country, source


def _page_pattern(where: str, entry: dict, problems: _Problems, seen: set[str]) -> PagePattern | None:
    ident, country, source = _common(entry, where, {"where", "match", "pattern"}, problems, seen)
    location = _text(entry, "where", where, problems)
    match = entry.get("match", "contains")
    pattern = _text(entry, "pattern", where, problems)
    header = None
    if location is not None:
        if location.startswith("header:"):
            header = location.partition(":")[2].strip().lower()
            if not _HEADER.match(header):
                problems.add(where, f"bad header name in {location!r}")
            location = "header"
        elif location not in ("body", "title"):
            problems.add(where, "'where' must be body, title or header:<name>")
    if match not in _MATCHES:
        problems.add(where, f"'match' must be one of {', '.join(_MATCHES)}")
    if ident is None or source is None or location is None or pattern is None or match not in _MATCHES:
        return None
    return PagePattern(ident, location, header, match, fold(pattern), country, source)


def _refusal(where: str, entry: dict, problems: _Problems, seen: set[str]) -> RefusalPattern | None:
    """A CDN's or firewall's refusal page: a page pattern, plus who refused, how, and with which
    statuses. Its source must be a public URL a reader can open."""
    page = _page_pattern(where, {k: v for k, v in entry.items() if k not in ("service", "kind", "status")},
                         problems, seen)
    service = _text(entry, "service", where, problems, limit=80)
    kind = entry.get("kind")
    if kind not in _REFUSAL_KINDS:
        problems.add(where, f"'kind' must be one of {', '.join(_REFUSAL_KINDS)}")
    statuses = entry.get("status", []) or []
    if not isinstance(statuses, list) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                 and 100 <= s <= 999 for s in statuses):
        problems.add(where, "'status' must be a list of HTTP status codes")
        statuses = []
    source = entry.get("source")
    if isinstance(source, str) and "https://" not in source:
        problems.add(where, "'source' must name a public https:// URL")
    if page is None or service is None or kind not in _REFUSAL_KINDS:
        return None
    return RefusalPattern(page, service, kind, frozenset(statuses))


def _address(where: str, entry: dict, problems: _Problems, seen: set[str]) -> BlockpageAddress | None:
    ident, country, source = _common(entry, where, {"address"}, problems, seen)
    address = _text(entry, "address", where, problems, limit=64)
    if address is not None and parse_address(address) is None:
        problems.add(where, f"{address!r} is not an IP address")
        return None
    if ident is None or source is None or address is None:
        return None
    return BlockpageAddress(ident, canonical_address(address), country, source)


def _redirect(where: str, entry: dict, problems: _Problems, seen: set[str]) -> RedirectTarget | None:
    ident, country, source = _common(entry, where, {"host"}, problems, seen)
    host = _text(entry, "host", where, problems, limit=253)
    if host is not None and (" " in host or "/" in host or "." not in host):
        problems.add(where, f"{host!r} is not a host name")
        return None
    if ident is None or source is None or host is None:
        return None
    return RedirectTarget(ident, host_key(host), country, source)


def _authority(where: str, entry: dict, problems: _Problems, seen: set[str]) -> AuthorityPattern | None:
    ident, country, source = _common(entry, where, {"role", "names", "compare", "sha256"}, problems, seen)
    role = entry.get("role")
    if role not in _ROLES:
        problems.add(where, f"'role' must be one of {', '.join(_ROLES)}")
    compare = entry.get("compare", "exact")
    if compare not in ("exact", "prefix"):
        problems.add(where, "'compare' must be exact or prefix")
    names: list[tuple[str, str]] = []
    raw_names = entry.get("names", {}) or {}
    if not isinstance(raw_names, dict):
        problems.add(where, "'names' must be a mapping of attribute to value")
        raw_names = {}
    for kind, value in raw_names.items():
        if kind not in _DN_ATTRIBUTES or not isinstance(value, str) or not value.strip() \
                or len(value) > th.FINGERPRINT_MAX_PATTERN_CHARS:
            problems.add(where, f"name {kind!r} must be one of {', '.join(_DN_ATTRIBUTES)} with a text value")
            continue
        names.append((kind, fold(value)))
    hashes = entry.get("sha256", []) or []
    if not isinstance(hashes, list) or not all(isinstance(h, str) and _SHA256.match(h.lower()) for h in hashes):
        problems.add(where, "'sha256' must be a list of 64-hex-digit hashes")
        hashes = []
    if not names and not hashes:
        problems.add(where, "needs 'names' or 'sha256'")
    if ident is None or source is None or role not in _ROLES or compare not in ("exact", "prefix") \
            or not (names or hashes):
        return None
    return AuthorityPattern(ident, role, tuple(names), compare, frozenset(h.lower() for h in hashes),
                            country, source)


def parse_fingerprints(data: Any, name: str = "fingerprints") -> Fingerprints:
    """Validate loaded YAML data; raises FingerprintError listing every problem."""
    problems = _Problems(name)
    if not isinstance(data, dict):
        raise FingerprintError(f"{name}: the file must be a mapping")
    if data.get("format") != FORMAT or data.get("version") != 1:
        problems.add("header", f"expected 'format: {FORMAT}' and 'version: 1'")
    known = {"format", "version", "blockpage_addresses", "page_patterns", "redirect_targets",
             "certificate_authorities", "site_refusals"}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        problems.add("header", "unknown section(s): " + ", ".join(unknown))
    seen: set[str] = set()

    def section(key: str, reader: Callable[[str, dict, _Problems, set[str]], _Entry | None]) -> tuple[_Entry, ...]:
        read = (reader(where, entry, problems, seen) for where, entry in _entries(data, key, problems))
        return tuple(item for item in read if item is not None)

    # In the file's order of sections, so that a duplicate id is named where it is repeated.
    addresses = section("blockpage_addresses", _address)
    pages = section("page_patterns", _page_pattern)
    redirects = section("redirect_targets", _redirect)
    authorities = section("certificate_authorities", _authority)
    refusals = section("site_refusals", _refusal)
    if problems.items:
        raise FingerprintError("\n".join(problems.items))
    return Fingerprints(addresses=addresses, pages=pages, redirects=redirects, authorities=authorities,
                        refusals=refusals)


def load_fingerprints(source: Path | str | bytes) -> Fingerprints:
    """Load and validate a fingerprint file (a Path) or its text."""
    name = str(source) if isinstance(source, Path) else "<fingerprints>"
    try:
        data = load_yaml(source, source_name=name, max_bytes=th.FINGERPRINTS_MAX_BYTES)
    except YamlError as exc:
        raise FingerprintError(str(exc)) from None
    return parse_fingerprints(data, name)


@functools.lru_cache(maxsize=1)
def bundled_fingerprints() -> Fingerprints:
    """The fingerprints shipped with kzprobe, loaded once per process."""
    return load_fingerprints(BUNDLED)
