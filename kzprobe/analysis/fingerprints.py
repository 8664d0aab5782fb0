"""Known signs of censorship, as data: blockpage addresses, page patterns, redirect targets, CAs.

The list lives in kzprobe/data/fingerprints.yaml, every entry with its source. It is loaded once,
through the untrusted-YAML loader with a size cap, and validated field by field: a fingerprint
file may come from someone else, and a bad entry must fail loudly rather than match everything.
Patterns are plain text (contains / exact / prefix, case-insensitive), never regular
expressions, so a hostile file cannot make matching slow.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.addresses import canonical_address, parse_address
from kzprobe.analysis.facts import CertFact, HopFact
from kzprobe.analysis.names import host_key, url_host
from kzprobe.safe_yaml import YamlError, load_yaml

BUNDLED: Final = Path(__file__).resolve().parent.parent / "data" / "fingerprints.yaml"
FORMAT: Final = "kzprobe-fingerprints"

_ID: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")
_HEADER: Final = re.compile(r"^[a-z0-9-]{1,64}$")
_MATCHES: Final = ("contains", "exact", "prefix")
_ROLES: Final = ("interception", "national")
_DN_ATTRIBUTES: Final = ("CN", "O", "OU", "C", "L", "ST")


class FingerprintError(ValueError):
    """The fingerprint file is unreadable or an entry is invalid; lists every problem found."""


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class PagePattern:
    """Text that marks a response as a blockpage: in its body, its title or one header."""

    id: str
    where: str  # "body" | "title" | "header"
    header: str | None
    match: str
    pattern: str  # folded (case and whitespace)
    country: str | None
    source: str

    def matches(self, hop: HopFact) -> bool:
        if self.where == "body":
            haystack = hop.body
        elif self.where == "title":
            haystack = hop.title or ""
        else:
            haystack = hop.headers.get(self.header or "", "")
        text = _fold(haystack)
        if self.match == "exact":
            return text == self.pattern
        if self.match == "prefix":
            return text.startswith(self.pattern)
        return self.pattern in text

    @property
    def location(self) -> str:
        return f"header {self.header}" if self.where == "header" else self.where


@dataclass(frozen=True)
class BlockpageAddress:
    id: str
    address: str
    country: str | None
    source: str


@dataclass(frozen=True)
class RedirectTarget:
    """A host (and its subdomains) that censors redirect blocked requests to."""

    id: str
    host: str
    country: str | None
    source: str

    def matches(self, url: str) -> bool:
        host = url_host(url) or ""
        return host == self.host or host.endswith("." + self.host)


@dataclass(frozen=True)
class AuthorityPattern:
    """A certificate authority named in a chain: an interception root, or a national PKI."""

    id: str
    role: str  # "interception" | "national"
    names: tuple[tuple[str, str], ...]  # (attribute, folded value), all must match one DN
    compare: str  # "exact" | "prefix"
    sha256: frozenset[str]
    country: str | None
    source: str

    def matches(self, cert: CertFact) -> str | None:
        """What in `cert` matched: its hash, or the subject/issuer DN text; None if nothing."""
        if cert.sha256 and cert.sha256 in self.sha256:
            return f"SHA-256 {cert.sha256[:16]}…"
        if not self.names:
            return None
        for dn in (cert.issuer, cert.subject):
            if dn and self._names_match(parse_dn(dn)):
                return dn
        return None

    def _names_match(self, attributes: list[tuple[str, str]]) -> bool:
        for wanted_type, wanted_value in self.names:
            values = [_fold(value) for kind, value in attributes if kind == wanted_type]
            if self.compare == "prefix":
                ok = any(value.startswith(wanted_value) for value in values)
            else:
                ok = wanted_value in values
            if not ok:
                return False
        return True


@dataclass(frozen=True)
class ChainMatch:
    authority: AuthorityPattern
    matched: str  # the DN or hash that matched


@dataclass(frozen=True)
class Fingerprints:
    addresses: tuple[BlockpageAddress, ...] = ()
    pages: tuple[PagePattern, ...] = ()
    redirects: tuple[RedirectTarget, ...] = ()
    authorities: tuple[AuthorityPattern, ...] = ()

    def address(self, address: str) -> BlockpageAddress | None:
        key = canonical_address(address)
        return next((a for a in self.addresses if a.address == key), None)

    def page(self, hop: HopFact) -> PagePattern | None:
        return next((p for p in self.pages if p.matches(hop)), None)

    def redirect(self, url: str) -> RedirectTarget | None:
        return next((r for r in self.redirects if r.matches(url)), None)

    def authority(self, chain: tuple[CertFact, ...], role: str) -> ChainMatch | None:
        for cert in chain:
            for authority in self.authorities:
                if authority.role == role:
                    matched = authority.matches(cert)
                    if matched:
                        return ChainMatch(authority, matched)
        return None


# --- RFC 4514 distinguished names -------------------------------------------------------------

def _unescape(value: str) -> str:
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            pair = value[i + 1:i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            out.extend(value[i + 1].encode())
            i += 2
            continue
        out.extend(char.encode())
        i += 1
    return out.decode("utf-8", errors="replace")


def parse_dn(text: str) -> list[tuple[str, str]]:
    """(attribute, value) pairs of an RFC 4514 string such as "CN=Qaznet Trust Network,C=KZ"."""
    components, current, escaped = [], [], False
    for char in text[:4096]:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in ",+":
            components.append("".join(current))
            current = []
        else:
            current.append(char)
    components.append("".join(current))
    pairs = []
    for component in components:
        kind, sep, value = component.partition("=")
        if sep:
            pairs.append((kind.strip().upper(), _unescape(value.strip())))
    return pairs


# --- Loading and validation -------------------------------------------------------------------

class _Problems:
    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.name}: {where}: {message}")


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
    if None in (ident, source, location, pattern) or match not in _MATCHES:
        return None
    return PagePattern(ident, location, header, match, _fold(pattern), country, source)


def _address(where: str, entry: dict, problems: _Problems, seen: set[str]) -> BlockpageAddress | None:
    ident, country, source = _common(entry, where, {"address"}, problems, seen)
    address = _text(entry, "address", where, problems, limit=64)
    if address is not None and parse_address(address) is None:
        problems.add(where, f"{address!r} is not an IP address")
        return None
    if None in (ident, source, address):
        return None
    return BlockpageAddress(ident, canonical_address(address), country, source)


def _redirect(where: str, entry: dict, problems: _Problems, seen: set[str]) -> RedirectTarget | None:
    ident, country, source = _common(entry, where, {"host"}, problems, seen)
    host = _text(entry, "host", where, problems, limit=253)
    if host is not None and (" " in host or "/" in host or "." not in host):
        problems.add(where, f"{host!r} is not a host name")
        return None
    if None in (ident, source, host):
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
        names.append((kind, _fold(value)))
    hashes = entry.get("sha256", []) or []
    if not isinstance(hashes, list) or not all(isinstance(h, str) and _SHA256.match(h.lower()) for h in hashes):
        problems.add(where, "'sha256' must be a list of 64-hex-digit hashes")
        hashes = []
    if not names and not hashes:
        problems.add(where, "needs 'names' or 'sha256'")
    if None in (ident, source) or role not in _ROLES or compare not in ("exact", "prefix") \
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
             "certificate_authorities"}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        problems.add("header", "unknown section(s): " + ", ".join(unknown))
    seen: set[str] = set()
    readers = (
        ("blockpage_addresses", _address),
        ("page_patterns", _page_pattern),
        ("redirect_targets", _redirect),
        ("certificate_authorities", _authority),
    )
    sections = {key: tuple(item for item in (reader(where, entry, problems, seen)
                                             for where, entry in _entries(data, key, problems))
                           if item is not None)
                for key, reader in readers}
    if problems.items:
        raise FingerprintError("\n".join(problems.items))
    return Fingerprints(
        addresses=sections["blockpage_addresses"],
        pages=sections["page_patterns"],
        redirects=sections["redirect_targets"],
        authorities=sections["certificate_authorities"],
    )


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
