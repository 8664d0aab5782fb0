"""Captive portals and walled gardens: a network that answers for everything until you log in.

A hotel's, café's or airport's network holds every new device at a login page: its resolver
answers every name with the portal's one address, its gateway answers every plain-HTTP request
with a redirect to the login page, and every TLS handshake reaches the portal's own certificate
(RFC 8952, the captive portal architecture; https://en.wikipedia.org/wiki/Captive_portal lists
the DNS and HTTP redirect methods). Read target by target, that is the picture of a censor: a
lying resolver, redirects to another host, certificates for the wrong name. Read as a whole it is
none: nothing measured behind a portal says anything about blocking.

Some portals leave DNS alone and answer every plain-HTTP request themselves, with their own
login page and a 200 (or 511, RFC 6585 section 6) instead of a redirect; browsers detect them so,
by the login page (2xx, 3xx or 511) a probe URL gets instead of its empty 204 (Chrome's captive
portal detection design, docs/methodology.md). Read target by target, that is one unknown page per
http:// site.

A scan is behind a portal when all of these hold:

1. a portal shows: one address that at least CAPTIVE_MIN_NAMES distinct names resolved to and
   nothing else, or one host that the plain-HTTP requests of at least CAPTIVE_MIN_NAMES distinct
   targets were redirected to, or one page (the same body, or the same title and a length within
   CAPTIVE_PAGE_LENGTH_SLACK) that answered the first plain-HTTP request of at least
   CAPTIVE_MIN_NAMES distinct hosts, from the addresses their names resolved to;
2. the reference targets - the baselines, or every web target when the scan has none - do not
   work on their own: none completed a TLS handshake validated for its name or got a page that
   did not come through the portal (its address, its redirect host); or, in a walled garden
   that lets a few through, more than half of them went through the portal;
3. no TLS handshake with the portal address (or an address that served the portal's page)
   validated for a name the portal answered for - a target's own name (a real server hosting
   many names proves its certificates; a portal cannot; its own login host, reached by its
   redirect, may well have a real certificate and proves nothing);
4. nothing the portal served is a fingerprinted blockpage (that is a censor's blockpage server).

Condition 2 is what keeps a censor's lying resolver, which points many blocked names at one
blockpage server, from reading as a portal - and a censor's blockpage, one page for many hosts
too, from reading as a portal's page: the baselines work there, on their own addresses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.explain import addresses, cite, quote
from kzprobe.analysis.facts import HopFact, TargetFacts
from kzprobe.analysis.names import url_host


@dataclass(frozen=True)
class PortalPage:
    """The one page a portal answered plain-HTTP requests with, for many hosts."""

    title: str | None
    body_length: int
    hosts: tuple[str, ...]  # the hosts it answered for
    addresses: frozenset[str]  # where it came from (the hosts' own addresses)


@dataclass(frozen=True)
class Portal:
    """What the portal looks like in this scan: its address, its redirect host and/or its page."""

    address: str | None  # the one address names resolved to
    host: str | None  # the one host plain-HTTP requests were redirected to
    names: tuple[str, ...]  # the names sent there (resolved to the address, redirected, or answered its page)
    baselines: tuple[str, ...]  # reference targets that went through it
    page: PortalPage | None = None  # the one page plain-HTTP requests got instead of their own

    def to_dict(self) -> dict:
        record: dict[str, Any] = {"address": self.address, "redirect_host": self.host, "names": len(self.names),
                                  "baselines_through_it": list(self.baselines)}
        if self.page is not None:
            record["page"] = {"title": self.page.title, "body_length": self.page.body_length,
                              "hosts": len(self.page.hosts)}
        return record


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


def _first_page(facts: TargetFacts) -> HopFact | None:
    """The page the target's own first plain-HTTP request got, when it was answered with one
    (not a redirect) from an address its name resolved to."""
    first = facts.http[0] if facts.http else None
    if first is None or first.scheme != "http" or first.host != facts.hostname or first.is_redirect:
        return None
    if first.status is None or not (200 <= first.status < 300 or first.status == th.CAPTIVE_PORTAL_STATUS):
        return None
    if not first.body_length or (facts.dns is not None and first.address not in facts.dns.addresses):
        return None
    return first


def _slack(length: int) -> float:
    """How far two lengths of one portal page may differ: a portal echoes the URL it stopped in
    its page, so its bodies differ by a few bytes from host to host."""
    return max(th.CAPTIVE_PAGE_LENGTH_SLACK_BYTES, th.CAPTIVE_PAGE_LENGTH_SLACK * length)


def _groups(pages: list[tuple[str, HopFact]]) -> list[list[tuple[str, HopFact]]]:
    """Candidate groups of one page: identical bodies, and per title (case and spaces folded) the
    runs of lengths within the slack of their longest. Linear in the pages but for the sort."""
    by_body: dict[str, list[tuple[str, HopFact]]] = {}
    by_title: dict[str, list[tuple[str, HopFact]]] = {}
    for host, page in pages:
        if not page.truncated:  # the body itself as the key: equal bodies, one group (no hash to compute)
            by_body.setdefault(page.body, []).append((host, page))
        title = " ".join((page.title or "").split()).casefold()
        if title:
            by_title.setdefault(title, []).append((host, page))
    groups = list(by_body.values())
    for same_title in by_title.values():
        same_title.sort(key=lambda item: item[1].body_length or 0)
        start = 0
        for end, (_, page) in enumerate(same_title):
            longest = page.body_length or 0
            while longest - (same_title[start][1].body_length or 0) > _slack(longest):
                start += 1
            groups.append(same_title[start:end + 1])
    return groups


def _shared_page(web: list[TargetFacts]) -> PortalPage | None:
    """The page that answered the first plain-HTTP request of the most distinct hosts, when at
    least CAPTIVE_MIN_NAMES of them (ties: the group found first); None otherwise."""
    pages = [(facts.hostname, page) for facts in web if (page := _first_page(facts)) is not None]
    best: list[tuple[str, HopFact]] = []
    for group in _groups(pages):
        if len({h for h, _ in group}) > len({h for h, _ in best}):
            best = group
    hosts = tuple(sorted({h for h, _ in best}))
    if len(hosts) < th.CAPTIVE_MIN_NAMES:
        return None
    first = best[0][1]
    return PortalPage(first.title, first.body_length or 0, hosts, frozenset(p.address for _, p in best if p.address))


def _proves_a_target(results: list[TargetFacts], addresses: frozenset[str]) -> bool:
    """A TLS handshake with a target's own name validated at one of `addresses`: a real server
    that holds the names sent there. A portal's own login host validating there proves nothing
    (portals send users to an HTTPS login page under a name of their own, with a real
    certificate for it): only the names the portal answered for count."""
    return any(t.ok and t.address in addresses for f in results if not f.host_is_ip for t in f.tls_for(f.hostname))


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
    page = _shared_page(web)
    if page is not None and _proves_a_target(results, page.addresses):
        page = None  # real servers that prove the names they host, serving one site's page (mirrors)
    if address is None and host is None and page is None:
        return None

    def through_portal(facts: TargetFacts) -> bool:
        if address is not None and (facts.dns is not None and facts.dns.addresses == (address,)
                                    or any(hop.address == address for hop in facts.http)):
            return True
        if page is not None and facts.hostname in page.hosts:
            return True
        return host is not None and any(hop.host == host or url_host(hop.location or "") == host for hop in facts.http)

    def works_on_its_own(facts: TargetFacts) -> bool:
        if any(t.ok for t in facts.tls_for(facts.hostname)):
            return True
        return facts.works and not through_portal(facts)

    if address is not None and _proves_a_target(results, frozenset((address,))):
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
    if page is not None:
        names |= set(page.hosts)
    return Portal(address, host, tuple(sorted(names)), tuple(f.id or f.url for f in through), page)


def portal_clause(portal: dict | None) -> str:
    """The portal in words, from the connectivity's baselines record (`captive_portal`)."""
    if not isinstance(portal, dict):
        return "this network answers every site itself"
    parts = []
    if portal.get("address"):
        parts.append(f"{portal.get('names')} names resolved to {addresses([str(portal['address'])])} alone")
    if portal.get("redirect_host"):
        parts.append(f"plain-HTTP requests were redirected to {cite(str(portal['redirect_host']), 80)}")
    page = portal.get("page")
    if isinstance(page, dict):
        title = f" titled {quote(str(page['title']), 80)}" if page.get("title") else ""
        parts.append(f"the plain-HTTP requests of {page.get('hosts')} sites were each answered with the same "
                     f"page{title}, not their own")
    return " and ".join(parts) or "this network answers every site itself"
