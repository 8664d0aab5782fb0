"""URLs and hosts as kzprobe asks for them: http(s) URLs split and checked, hosts in IDNA or IP form.

Everything raises ValueError with a message written for whoever edits the target file.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, urlsplit

import idna

from kzprobe.targets.limits import MAX_URL_CHARS
from kzprobe.targets.messages import show_value

_LABEL_RE: Final = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# Second-level labels under which a country code hands out names (orda.com.kz): used to
# approximate "same site" without shipping the Public Suffix List.
_GENERIC_SECOND_LEVEL: Final = frozenset({"com", "net", "org", "gov", "edu", "ac", "co", "mil"})


@dataclass(frozen=True)
class _UrlParts:
    scheme: str
    hostname: str  # normalized: IDNA lower case, or an IP address without brackets
    port: int


@functools.lru_cache(maxsize=4096)
def url_parts(url: str) -> _UrlParts:
    """The parts of an http(s) URL, or ValueError with a message for the user.

    Cached: a scan asks each target for its hostname, port and scheme many times.
    """
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"longer than {MAX_URL_CHARS} characters")
    for char in url:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            kind = "whitespace" if char.isspace() else "a control or formatting character"
            raise ValueError(f"contains {kind} (U+{ord(char):04X}); percent-encode it or remove it")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise ValueError(f"not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not url.lower().startswith(f"{scheme}://"):
        raise ValueError("not an http(s) URL (it must start with http:// or https://)")
    if not parts.netloc:
        raise ValueError("has no host")
    if "@" in parts.netloc:
        raise ValueError("contains a user name or password; they would be sent to whoever answers")
    return _UrlParts(scheme, _split_netloc_host(parts), _split_netloc_port(parts, scheme))


def _split_netloc_host(parts: SplitResult) -> str:
    netloc = parts.netloc
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise ValueError("has an unclosed '[' in its host")
        return normalize_host(netloc[: end + 1])
    host = netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
    if not host:
        raise ValueError("has no host")
    return normalize_host(host)


def _split_netloc_port(parts: SplitResult, scheme: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if port is None:
        return 443 if scheme == "https" else 80
    if port == 0:
        raise ValueError("has port 0; a port is a number from 1 to 65535")
    return port


def normalize_host(host: str) -> str:
    """A host as kzprobe asks for it: IDNA (punycode) lower case, or a canonical IP address.

    Accepts names (Unicode ones too: пример.kz -> xn--e1afmkfd.kz), IPv4 addresses and IPv6
    addresses in brackets or bare. Raises ValueError with a message for the user.
    """
    if host.startswith("[") or ":" in host:
        inner = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if "%" in inner:
            raise ValueError("an IPv6 zone (%…) is not allowed in a host")
        try:
            return ipaddress.IPv6Address(inner).compressed
        except ValueError:
            raise ValueError(f"{show_value(host)} is not a valid IPv6 address") from None
    name = host[:-1] if host.endswith(".") else host
    if not name:
        raise ValueError("has an empty host")
    if name.isascii():
        name = name.lower()
    else:
        try:
            name = idna.encode(name, uts46=True, std3_rules=False, transitional=False).decode("ascii").lower()
        except (idna.IDNAError, UnicodeError, ValueError) as error:
            raise ValueError(f"the host {show_value(host)} cannot be encoded as IDNA: {error}") from None
    labels = name.split(".")
    if all(label.isdigit() for label in labels if label) or labels[-1].isdigit():
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise ValueError(f"{show_value(host)} is neither a valid IPv4 address nor a domain name") from None
    if len(name) > 253:
        raise ValueError("the host name is longer than 253 characters")
    for label in labels:
        if not _LABEL_RE.match(label):
            raise ValueError(f"the host {show_value(host)} has an invalid label {show_value(label)}")
        if label.startswith("xn--"):
            try:
                label[4:].encode("ascii").decode("punycode")
            except UnicodeError:
                message = f"the host {show_value(host)} has an invalid punycode label {show_value(label)}"
                raise ValueError(message) from None
    return name


@functools.lru_cache(maxsize=4096)
def is_ip_literal(host: str) -> bool:
    """True for a host written as an IPv4 or IPv6 address (without brackets) rather than a name.
    Cached: the analysis asks it of the same few hosts for every endpoint and hop."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def registrable_site(host: str) -> str:
    """The registrable part of a host, approximately: orda.kz for www.orda.kz, x.com.kz for a.x.com.kz."""
    if is_ip_literal(host):
        return host
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SECOND_LEVEL else 2
    return ".".join(labels[-keep:])
