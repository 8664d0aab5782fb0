"""Captive portals and walled gardens: a network that answers for everything until you log in.

A hotel's, café's or airport's network holds every new device at a login page: its resolver
answers every name with the portal's one address, its gateway answers every plain-HTTP request
with a redirect to the login page, and every TLS handshake reaches the portal's own certificate
(RFC 8952, the captive portal architecture; https://en.wikipedia.org/wiki/Captive_portal lists
the DNS and HTTP redirect methods). Read target by target, that is the picture of a censor: a
lying resolver, redirects to another host, certificates for the wrong name. Read as a whole it is
none: nothing measured behind a portal says anything about blocking.

A scan is behind a portal when all of these hold:

1. a portal shows: one address that at least CAPTIVE_MIN_NAMES distinct names resolved to and
   nothing else, or one host that the plain-HTTP requests of at least CAPTIVE_MIN_NAMES distinct
   targets were redirected to;
2. the reference targets - the baselines, or every web target when the scan has none - do not
   work on their own: none completed a TLS handshake validated for its name or got a page that
   did not come through the portal (its address, its redirect host); or, in a walled garden
   that lets a few through, more than half of them went through the portal;
3. no TLS handshake with the portal address validated for any name (a real server hosting many
   names proves its certificates; a portal cannot);
4. nothing the portal served is a fingerprinted blockpage (that is a censor's blockpage server).

Condition 2 is what keeps a censor's lying resolver, which points many blocked names at one
blockpage server, from reading as a portal: the baselines work there, on their own addresses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.explain import addresses, cite
from kzprobe.analysis.facts import HopFact, TargetFacts
from kzprobe.analysis.names import url_host


@dataclass(frozen=True)
class Portal:
    """What the portal looks like in this scan: its address and/or its redirect host."""

    address: str | None  # the one address names resolved to
    host: str | None  # the one host plain-HTTP requests were redirected to
    names: tuple[str, ...]  # the names sent there (resolved to the address, or redirected)
    baselines: tuple[str, ...]  # reference targets that went through it

    def to_dict(self) -> dict:
        return {"address": self.address, "redirect_host": self.host, "names": len(self.names),
                "baselines_through_it": list(self.baselines)}

    def describe(self) -> str:
        """E.g. '12 names resolved to 10.77.0.1 and plain-HTTP requests were redirected to login.wifi'."""
        parts = []
        if self.address:
            parts.append(f"{len(self.names)} names resolved to {cite(self.address, 45)} alone")
        if self.host:
            parts.append(f"plain-HTTP requests were redirected to {cite(self.host, 80)}")
        return " and ".join(parts)


def _dominant(counts: Counter) -> tuple[Any, int]:
    """The most frequent key (ties: the smallest, for a deterministic answer) and its count."""
    if not counts:
        return None, 0
    best = max(counts.values())
    return min(k for k, n in counts.items() if n == best), best


def _sole_address_names(results: list[TargetFacts]) -> dict[str, set[str]]:
    """Address -> the distinct names whose every resolution answered that address alone."""
    answers: dict[str, set[tuple[str, ...]]] = {}
    for facts in results:
        for dns in (facts.dns, *facts.redirect_dns):
            if dns is not None and dns.hostname and dns.addresses and not facts.host_is_ip:
                answers.setdefault(dns.hostname, set()).add(dns.addresses)
    names: dict[str, set[str]] = {}
    for name, seen in answers.items():
        if len(seen) == 1 and len(next(iter(seen))) == 1:
            names.setdefault(next(iter(seen))[0], set()).add(name)
    return names


def _redirect_host(facts: TargetFacts) -> str | None:
    """Where the target's own first plain-HTTP request was redirected, when to another host."""
    first = facts.http[0] if facts.http else None
    if first is None or first.scheme != "http" or not first.is_redirect or first.host != facts.hostname:
        return None
    host = url_host(first.location or "")
    return host if host and host != facts.hostname else None


def find_portal(results: list[TargetFacts], is_blockpage: Callable[[HopFact], bool]) -> Portal | None:
    """The captive portal this scan is behind, or None (the module docstring gives the rule).

    `is_blockpage` says whether a page matches a blockpage fingerprint."""
    web = [f for f in results if not f.has_endpoints and f.url]
    references = [f for f in web if f.baseline] or web
    if not references:
        return None
    by_address = _sole_address_names(results)
    address, resolved = _dominant(Counter({a: len(n) for a, n in by_address.items()}))
    redirected: dict[str, set[str]] = {}
    for facts in web:
        host = _redirect_host(facts)
        if host:
            redirected.setdefault(host, set()).add(facts.hostname)
    host, sent = _dominant(Counter({h: len(n) for h, n in redirected.items()}))
    address = address if resolved >= th.CAPTIVE_MIN_NAMES else None
    host = host if sent >= th.CAPTIVE_MIN_NAMES else None
    if address is None and host is None:
        return None

    def through_portal(facts: TargetFacts) -> bool:
        if address is not None and (facts.dns is not None and facts.dns.addresses == (address,)
                                    or any(hop.address == address for hop in facts.http)):
            return True
        return host is not None and any(hop.host == host or url_host(hop.location or "") == host for hop in facts.http)

    def works_on_its_own(facts: TargetFacts) -> bool:
        if any(t.ok for t in facts.tls_for(facts.hostname)):
            return True
        return facts.works and not through_portal(facts)

    if address is not None and any(t.ok and t.address == address for f in results for t in f.tls):
        return None  # a real server that proves the names it hosts
    for facts in web:
        if through_portal(facts) and any(hop.responded and is_blockpage(hop) for hop in facts.http):
            return None  # a censor's blockpage server, not a login page
    through = [f for f in references if through_portal(f)]
    working = [f for f in references if works_on_its_own(f)]
    # A censor leaves the baselines alone; a walled garden may let a few through, but most of
    # them going through the portal is no censor's doing.
    if working and 2 * len(through) <= len(references):
        return None
    names = set(by_address.get(address, set())) if address else set()
    if host:
        names |= redirected[host]
    return Portal(address, host, tuple(sorted(names)), tuple(f.id or f.url for f in through))


def portal_clause(portal: dict | None) -> str:
    """The portal in words, from the connectivity's baselines record (`captive_portal`)."""
    if not isinstance(portal, dict):
        return "this network answers every site itself"
    parts = []
    if portal.get("address"):
        parts.append(f"{portal.get('names')} names resolved to {addresses([str(portal['address'])])} alone")
    if portal.get("redirect_host"):
        parts.append(f"plain-HTTP requests were redirected to {cite(str(portal['redirect_host']), 80)}")
    return " and ".join(parts) or "this network answers every site itself"
