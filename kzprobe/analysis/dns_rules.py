"""DNS: did the resolver tell the truth about the target's name?

A failure (NXDOMAIN, no answer, SERVFAIL, timeout) is blocking when a control resolves the name,
and the site's own problem when the control fails the same way. An answer is consistent when
a control returned the same address, or when a TLS handshake to it validates for the name (CDN
replicas differ by region). Otherwise it is a lie - a special-purpose address, a blockpage
server, or just another address - unless what it served is the control's page (a transparent
proxy answering for everything is not blocking).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from kzprobe.analysis import codes
from kzprobe.analysis.addresses import special_block
from kzprobe.analysis.conclusion import Verdict, blocked, down, inconclusive
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import ControlView, dns_failure_is_definitive
from kzprobe.analysis.explain import addresses, cite, quote, sentence
from kzprobe.analysis.facts import TargetFacts, TcpFact, TlsFact
from kzprobe.analysis.pages import compare_pages
from kzprobe.analysis.transport_rules import sni_filtered_at
from kzprobe.report import vocabulary as v
from kzprobe.report.scrub import SCRUBBED

RESOLVES, BROKEN, UNKNOWN = "resolves", "broken", "unknown"


@dataclass(frozen=True)
class DnsControl:
    """What the controls say about the name: it resolves (to these), is broken everywhere, or unknown."""

    state: str
    addresses: tuple[str, ...]
    failure: str | None  # the control's failure when BROKEN
    source: str  # "the control resolver" / "the control scan", for explanations
    reason: str  # evidence code when no control can decide


def dns_control(facts: TargetFacts, view: ControlView) -> DnsControl:
    """The live control resolver first (same moment), then the control scan (maybe an hour old)."""
    known: list[str] = []
    resolver = facts.control_dns
    scan = view.facts.dns if view.facts is not None else None
    if resolver is not None:
        known += resolver.addresses
    if scan is not None:
        known += _foreign(scan.addresses)
    if view.facts is not None:  # addresses the control scan reached with a valid certificate
        known += _foreign(t.address for t in view.facts.tls_for(facts.hostname) if t.ok)
    known_addresses = tuple(dict.fromkeys(known))
    reason = "control.failed" if resolver is not None or not view.missing else "control.missing"
    if view.stale and resolver is None:  # traps-scan (issue 22, item 11): a stale scan is no live control
        reason = "control.stale"
    for source, observation in (("the control resolver", resolver), ("the control scan", scan)):
        if observation is None:
            continue
        if source == "the control scan" and view.stale:
            # Hours apart, it cannot say the name resolves now, nor that it fails now (its
            # addresses still count above, as addresses the name has had).
            continue
        if observation.addresses:
            return DnsControl(RESOLVES, known_addresses, None, source, reason)
        if dns_failure_is_definitive(observation.failure):
            return DnsControl(BROKEN, known_addresses, observation.failure, source, reason)
    return DnsControl(UNKNOWN, known_addresses, None, "", reason)


def _nowhere(answers: Iterable[str]) -> bool:
    """Every address is one no remote server is ever at (loopback, "this network", multicast,
    broadcast), and there is at least one."""
    blocks = [special_block(a) for a in answers]
    return bool(blocks) and all(block is not None and block.never_remote for block in blocks)


def _foreign(addresses: Iterable[str]) -> list[str]:
    """Addresses from the control scan, another vantage: its "[scrubbed]" is its own address,
    not this machine's, and agrees with nothing here."""
    return [a for a in addresses if a != SCRUBBED]


@dataclass(frozen=True)
class AddressCheck:
    address: str
    kind: str  # "consistent" | "blockpage" | "bogon" | "unknown"
    detail: str  # why, in words


def check_address(address: str, facts: TargetFacts, control: DnsControl, ctx: Context,
                  host: str | None = None) -> AddressCheck:
    """How `address`, answered for `host` (the target's own name by default), stands."""
    if address in control.addresses:
        return AddressCheck(address, "consistent", f"{control.source} returned it too")
    if ctx.host_authenticated(facts, host or facts.hostname, address):
        return AddressCheck(address, "consistent", "TLS to it validates for the name")
    twin = facts.https_check
    if twin is not None and ctx.host_authenticated(twin, host or facts.hostname, address):
        # An http:// target's HTTPS fetch connects to the addresses this lookup gave: a handshake
        # validated there proves the address as the target's own would (a CDN's regional edge).
        return AddressCheck(address, "consistent", "TLS to it validates for the name (the site's HTTPS fetch)")
    blockpage = ctx.blockpage_address(address)
    if blockpage and not _served_its_own_page(address, host or facts.hostname, facts, ctx):
        return AddressCheck(address, "blockpage", blockpage)
    block = special_block(address)
    if block is not None:
        # A network that really serves the name from this kind of block (an intranet, a lab)
        # makes the block normal for it; loopback and the like never are.
        in_same_block = any(special_block(a) == block for a in control.addresses)
        if block.never_remote or not in_same_block:
            return AddressCheck(address, "bogon", f"a special-purpose ({block.label}) address")
    return AddressCheck(address, "unknown", "an address no control returned")


def _served_its_own_page(address: str, host: str, facts: TargetFacts, ctx: Context) -> bool:
    """An address learned as a blockpage server in this scan that served this name a page no
    fingerprint matches: a transparent proxy that answers most names with their own page and
    only some with a blockpage. Being a blockpage server for another name is no lie about this
    one; the page decides (with the control's, or inconclusive without it). Addresses in the
    fingerprints file stay blockpage servers whatever they serve."""
    if ctx.fingerprints.address(address) is not None:
        return False
    final = facts.final_hop
    return final is not None and final.address == address and final.host == host \
        and ctx.fingerprints.page(final) is None


def _failed_lookup(facts: TargetFacts, control: DnsControl, view: ControlView) -> Verdict:
    failure = facts.dns.failure if facts.dns else None
    code = codes.evidence("dns", failure)
    said = f"the resolver answered {cite(failure)} for {facts.hostname}"
    if control.state == RESOLVES:
        return blocked("dns", [code], sentence(said, f"{control.source} resolved it to {addresses(control.addresses)}"),
                       failure_based=code not in codes.DNS_STATEMENTS)
    if control.state == BROKEN:
        return down([code], sentence(said, f"{control.source} got {cite(control.failure)} too: "
                                           "the name does not resolve anywhere"))
    why = view.problem or "no control resolver answered"
    if facts.control_dns is not None and facts.control_dns.failure:
        why = f"the control resolver failed too ({cite(facts.control_dns.failure)}) and {why}"
    return inconclusive([control.reason, code], sentence(said, f"{why}, so a blocked name cannot be told "
                                                               "from a dead one"), failure_based=True)


def _what_the_addresses_gave(facts: TargetFacts, suspicious: list[str], view: ControlView,
                             ctx: Context) -> tuple[list[str], list[str], bool]:
    """Evidence, clauses, and whether any of it is a positive sign (not just a failure)."""
    evidence: list[str] = []
    clauses: list[str] = []
    positive = False
    host = facts.hostname
    for attempt in facts.tls_for(host):
        if attempt.address not in suspicious:
            continue
        interception = ctx.fingerprints.authority(attempt.chain, "interception")
        if interception is None and not attempt.failure:
            continue
        code = "tls.mitm" if interception else codes.evidence("tls", attempt.failure)
        evidence.append(code)
        positive = positive or code in ("tls.mitm", "tls.invalid_cert")
        clauses.append(f"TLS to {cite(attempt.address)} was intercepted ({quote(interception.matched)})"
                       if interception else f"TLS to {cite(attempt.address)} failed with {cite(attempt.failure)}")
        break
    failed_tcp = [t for t in facts.tcp_for(host) if t.address in suspicious and not t.ok]
    if not evidence and failed_tcp and not any(t.ok for t in facts.tcp_for(host) if t.address in suspicious):
        evidence.append(codes.evidence("tcp", failed_tcp[0].failure))
        clauses.append(f"TCP to {cite(failed_tcp[0].address)} failed with {cite(failed_tcp[0].failure)}")
    final = facts.final_hop
    if final is not None and final.address in suspicious:
        pattern = ctx.fingerprints.page(final)
        if pattern is not None:
            evidence.append("http.blockpage")
            clauses.append(f"it served a page matching blockpage fingerprint {pattern.id}")
            positive = True
        elif view.live_page is not None:
            comparison = compare_pages(final, view.live_page)
            if comparison.same is False:
                evidence.append("http.diff")
                clauses.append(f"it served a different page ({comparison.reason})")
                positive = True
    return evidence, clauses, positive


def _served_the_real_page(facts: TargetFacts, suspicious: list[str], view: ControlView, ctx: Context) -> bool:
    """A lying-looking answer that led to the control's own page over plain HTTP: a proxy or a
    replica, not a block. (Over HTTPS the handshake decides: an interceptor relays the real page.)"""
    final = facts.final_hop
    if final is None or final.scheme != "http" or final.address not in suspicious \
            or ctx.fingerprints.page(final) is not None:
        return False
    return view.final_hop is not None and compare_pages(final, view.final_hop).same is True


def dns_verdict(facts: TargetFacts, view: ControlView, ctx: Context) -> Verdict | None:
    """A verdict when DNS decides the target's fate; None to let the later steps decide."""
    if facts.host_is_ip or facts.dns is None:
        return None
    control = dns_control(facts, view)
    if not facts.dns.addresses:
        return _failed_lookup(facts, control, view)
    if control.state == RESOLVES and _nowhere(facts.dns.addresses) and _nowhere(control.addresses) \
            and not any(t.ok for t in facts.tcp_for(facts.hostname)):
        return down(["dns.bogon"], sentence(
            f"the resolver answered {facts.hostname} with {addresses(facts.dns.addresses)}, and "
            f"{control.source} with {addresses(control.addresses)}",
            "the name points at no remote server anywhere (a misconfigured name), and nothing answered there: "
            "nothing can reach it"))
    checks = [check_address(a, facts, control, ctx) for a in facts.dns.addresses]
    if any(c.kind == "consistent" for c in checks):
        return None
    suspicious = [c.address for c in checks]
    lies = [c for c in checks if c.kind in ("blockpage", "bogon")]
    answered = f"the resolver answered {facts.hostname} with {addresses(suspicious)}"
    if control.state == BROKEN:
        if any(c.kind == "blockpage" for c in checks):
            bp = next(c for c in checks if c.kind == "blockpage")
            return blocked("dns", ["dns.blockpage_ip"], sentence(
                answered, f"{cite(bp.address)} is {bp.detail}",
                f"{control.source} got {cite(control.failure)}: the name exists nowhere else"))
        return down([codes.evidence("dns", control.failure)], sentence(
            f"{control.source} got {cite(control.failure)} for {facts.hostname}: the name does not exist",
            f"the local resolver's answer ({addresses(suspicious)}) leads to no server that proves it holds the name"))
    kinds = {c.kind for c in checks}
    evidence = [code for kind, code in (("blockpage", "dns.blockpage_ip"), ("bogon", "dns.bogon")) if kind in kinds]
    if control.state == RESOLVES:
        evidence.append("dns.inconsistent")
    if not evidence or _served_the_real_page(facts, suspicious, view, ctx):
        return None
    extra, clauses, positive = _what_the_addresses_gave(facts, suspicious, view, ctx)
    if "dns.blockpage_ip" not in evidence and not any(_nowhere([c.address]) for c in lies) \
            and control_addresses_outcome(facts)[0] == FAILS and sni_filtered_at(facts, facts.hostname, suspicious):
        # An in-ISP node at a private address (a cache the ISP runs inside its own network) where a
        # live TLS server cuts only the name, and the name cut at the control resolver's addresses
        # too: the answer is not what stops it, the filter on the name is (the TLS rules say so).
        return None
    if evidence == ["dns.inconsistent"]:
        if any(ctx.locally_inspected(t) for t in facts.tls_for(facts.hostname) if t.address in suspicious):
            # Software on this machine re-signs every site: whether that address holds the name's key
            # cannot be seen from here, and the TLS rules say so (analysis/inspection.py).
            return None
        at_control, clause = control_addresses_outcome(facts)
        if at_control == FAILS:
            return None  # the name fails at the control's addresses too: the answer is not what stops it
        if at_control is None and sni_filtered_at(facts, facts.hostname, suspicious):
            return None  # a live TLS server there cuts only the name: SNI filtering, the TLS rules say so
        if at_control == WORKS:
            clauses.append(clause)
            positive = True
    reasons = [f"{cite(c.address)} is {c.detail}" for c in lies[:2]]
    if control.state == RESOLVES:
        reasons.append(f"{control.source} returned {addresses(control.addresses)}")
    only_inconsistent = evidence == ["dns.inconsistent"]
    if only_inconsistent and not positive and facts.final_hop is not None:
        # A page came back from an address the control does not know, and nothing shows it is
        # not the site: a transparent proxy or a replica cannot be ruled out without the
        # control's page.
        return inconclusive([view.reason, "dns.inconsistent"], sentence(
            answered, *reasons, f"the page it served cannot be compared ({view.problem or 'no control page'})"))
    return blocked("dns", evidence + extra, sentence(answered, *reasons, *clauses, _local_filter_clause(facts)),
                   failure_based=only_inconsistent and not positive)


_RESOLVER_ADDRESS: Final = re.compile(r"[0-9A-Fa-f:.]{2,45}")


def _local_filter_clause(facts: TargetFacts) -> str:
    """When the answer is one no remote server is ever at (0.0.0.0, 127.0.0.1, ::), what ad
    blockers and parental-control DNS answer, and the resolver asked sits on this machine or its
    local network: the answer may be that filter's, not the ISP's. The verdict stands (a lie is a
    lie, and the resolver is the one users here get); the explanation says how to tell."""
    if facts.dns is None or not _nowhere(facts.dns.addresses):
        return ""
    found = []
    for text in _RESOLVER_ADDRESS.findall(facts.dns.resolver):
        try:
            found.append(ipaddress.ip_address(text.strip("[]")))
        except ValueError:
            continue
    if not found or not all(a.is_private or a.is_loopback for a in found):
        return ""
    return (f"the resolver asked ({cite(facts.dns.resolver, 80)}) is on this machine or its local network, "
            "where an ad blocker, a router's or a parental-control filter answers so too: scan again with "
            "--resolver set to the ISP's own resolver to tell whose answer this is")


WORKS, FAILS = "works", "fails"


def control_addresses_outcome(facts: TargetFacts) -> tuple[str | None, str]:
    """How the name fared here at the addresses only the control resolver returned (tried by the
    probe after a failure): WORKS (TLS validated, or for http TCP connected where the answer's
    addresses did not), FAILS (it failed there too), or None (not tried, or no comparison)."""
    host = facts.hostname
    tcp = facts.extra_tcp(host, v.PURPOSE_CONTROL_ADDRESS)
    if not tcp:
        return None, ""
    tried = addresses([t.address for t in tcp])
    if facts.scheme == "https":
        handshakes = facts.extra_tls(host, v.PURPOSE_CONTROL_ADDRESS)
        if any(t.ok for t in handshakes):
            return WORKS, (f"TLS for {host} to {tried}, which the control resolver returned, validated from here: "
                           "the resolver's answer is what kept the site away")
        steps: list[TlsFact | TcpFact] = [*handshakes, *tcp]
        failures = ", ".join(dict.fromkeys(cite(t.failure) for t in steps if t.failure))
        return FAILS, f"the name fails at {tried} too ({failures})"
    if any(t.ok for t in tcp) and not any(t.ok for t in facts.tcp_for(host)):
        return WORKS, (f"TCP to {tried}, which the control resolver returned, connected from here: "
                       "the resolver's answer is what kept the site away")
    if not any(t.ok for t in tcp):
        return FAILS, f"TCP to {tried} failed too"
    return None, ""


@dataclass(frozen=True)
class RedirectLie:
    """The resolver lied about a host met in a redirect: why, and the addresses it answered."""

    evidence: list[str]
    reasons: list[str]
    addresses: tuple[str, ...]


def redirect_host_lie(facts: TargetFacts, host: str, view: ControlView, ctx: Context, *,
                      authentic_redirect: bool) -> RedirectLie | None:
    """The DNS rules for a host the site's own redirect led to (not the target's name).

    Only for a redirect the site itself made - one over TLS validated for the site
    (`authentic_redirect`), or one the control scan's chain took too - since a censor's own
    redirect to its blockpage server (maybe on a private address) is an HTTP block, not a DNS
    one. A known blockpage answer is a lie by itself; a special-purpose answer when a control (the
    control scan following the same redirect, or the control resolver asked about the host after
    such an answer) resolved the host elsewhere; another address when the control scan resolved
    the host elsewhere, got a page there, and no TLS handshake to it proved it holds the host's key."""
    resolution = facts.resolution_for(host)
    if host == facts.hostname or resolution is None or not resolution.addresses:
        return None
    control_facts = view.facts
    control_took_it = control_facts is not None and any(hop.host == host for hop in control_facts.http)
    if not (authentic_redirect or control_took_it):
        return None
    control_resolution = control_facts.resolution_for(host) if control_took_it and control_facts else None
    resolver = next((d for d in facts.control_redirect_dns if d.hostname == host), None)
    if any(d is not None and not d.addresses for d in (control_resolution, resolver)):
        return None  # a control could not resolve it either: the later rules decide
    known = _foreign(control_resolution.addresses if control_resolution else ())
    if control_took_it and control_facts is not None:
        known += _foreign(t.address for t in control_facts.tls_for(host) if t.ok)
    known += resolver.addresses if resolver is not None else ()
    source = "the control resolver" if resolver is not None and not control_took_it else "the control scan"
    control = DnsControl(RESOLVES if known else UNKNOWN, tuple(dict.fromkeys(known)), None, source, view.reason)
    checks = [check_address(a, facts, control, ctx, host) for a in resolution.addresses]
    if any(c.kind == "consistent" for c in checks):
        return None
    kinds = {c.kind for c in checks}
    # A special-purpose answer for a host no control resolved is no lie by itself: the site may
    # send its visitors to a name it misconfigured for everyone (an intranet name, 127.0.0.1).
    # Only a control that resolved the host elsewhere makes it one; a known blockpage address
    # always is.
    lying_kinds = (("blockpage", "dns.blockpage_ip"), ("bogon", "dns.bogon")) if control.state == RESOLVES \
        else (("blockpage", "dns.blockpage_ip"),)
    evidence = [code for kind, code in lying_kinds if kind in kinds]
    if control.state == RESOLVES:
        evidence.append("dns.inconsistent")
    control_got_there = control_facts is not None and any(
        hop.host == host and hop.responded for hop in control_facts.http)
    if not evidence or (evidence == ["dns.inconsistent"] and not control_got_there):
        return None  # another address alone says nothing when the control did not get a page there
    reasons = [f"{cite(c.address)} is {c.detail}" for c in checks
               if c.kind == "blockpage" or (c.kind == "bogon" and "dns.bogon" in evidence)][:2]
    if control.state == RESOLVES:
        how = "following the same redirect, " if source == "the control scan" else ""
        reasons.append(f"{source}, {how}resolved {host} to {addresses(control.addresses)}")
    return RedirectLie(evidence, reasons, resolution.addresses)
