"""Registrable domains: which hosts belong to one site, by the Public Suffix List.

A site redirects within itself all the time - `site.kz` to `www.site.kz/ru/`, `m.site.kz`,
`login.site.kz` - and those redirects say nothing about a censor. What counts as "itself" is the
registrable domain (the public suffix plus one label: `site.com.kz`, not `com.kz`; `a.github.io`,
not `github.io`), read from the list the `publicsuffixlist` package bundles (publicsuffix.org's
list, ICANN and private sections). It is read from the package's own copy, never fetched: the
analysis stays offline and deterministic, and it is loaded only when a rule needs it (about
0.15 s, once per process).
"""

from __future__ import annotations

import functools

from kzprobe.analysis.names import host_key, is_ip_literal


@functools.lru_cache(maxsize=1)
def _suffix_list():
    from publicsuffixlist import PublicSuffixList  # a 0.15 s load: only when a rule needs it

    return PublicSuffixList()


@functools.lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """The registrable domain of `host` (wire form); the host itself for an address, a bare
    public suffix or a name the list cannot place."""
    name = host_key(host)
    if not name or is_ip_literal(name):
        return name
    return _suffix_list().privatesuffix(name) or name


def same_site(first: str | None, second: str | None) -> bool:
    """Both hosts belong to one registrable domain (one site, by the public suffix list)."""
    if not first or not second:
        return False
    return registrable_domain(first) == registrable_domain(second)
