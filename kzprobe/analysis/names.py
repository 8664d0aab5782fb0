"""Host names and URLs compared the way the network sees them: lower case, IDNA, no trailing dot.

Observations carry names as sent on the wire (punycode); target files and redirect Locations may
carry Unicode (IDN) or odd case. Every comparison of hosts in the analysis goes through here.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

import idna

# Re-exported: the analysis takes its host helpers from here.
from kzprobe.targets import is_ip_literal as is_ip_literal


@functools.lru_cache(maxsize=4096)
def host_key(name: str) -> str:
    """The wire form of a host name: lower case, IDNA (punycode) labels, no brackets or final dot.
    Cached: a scan names the same few hundred hosts in every step of every target."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    name = name.rstrip(".")
    try:
        name.encode("ascii")
        return name
    except UnicodeEncodeError:
        pass
    try:
        # The same IDNA 2008 / UTS 46 mapping as the targets' hostnames (kzprobe.targets), so
        # that names with ß or ς match the name the probe asked for.
        return idna.encode(name, uts46=True, std3_rules=False, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):  # not a valid IDN: compare it as written
        return name


@functools.lru_cache(maxsize=1024)
def url_host(url: str) -> str | None:
    """The host of an http(s) URL in wire form, None when there is none (cached, as host_key)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host_key(host) if host else None


def url_scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def url_path(url: str) -> str:
    """Host and path of a URL, query and fragment dropped: what a redirect points *at*."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return f"{host_key(parts.hostname or '')}{parts.path or '/'}"


def site_key(host: str) -> str:
    """A host without a leading "www.": sites answer on both and redirect between them."""
    return host[4:] if host.startswith("www.") else host
