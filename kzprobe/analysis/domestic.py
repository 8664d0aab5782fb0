"""During an international cut, which targets are reached inside the country?

The cut blames only what it cuts. When only the domestic baselines answer, a site abroad that
fails is blocked by the cut (blocking "network"); a site reached inside the country keeps the
verdict of its own failure - SNI filtering or a refusal is still blocking, whatever the link
abroad does. "Reached inside the country" is decided from what the report holds, strongest first:

1. the target is a domestic baseline (its list marks it domestic);
2. one of its addresses is in the same routed network - the same /24 (IPv4) or /48 (IPv6), the
   longest prefixes the Internet's routers accept (RFC 7454 section 6.1.3) - as an address that
   answered during the cut: the same operator's network, on the same side of the cut;
3. its name is under the country's code top-level domain (.kz, .қаз) *and* one of its addresses
   is in the same /16 (/32 for IPv6) as an address that answered: the ccTLD alone is a weak hint
   (many .kz sites are hosted abroad), so it only widens the network match of rule 2.

"Answered during the cut" means an HTTP response came from the address, or a domestic baseline
connected to it. A TCP connect alone does not count: a cut that lets handshakes through and
silences what follows looks, at a site abroad, exactly like a connect and then silence.

A target not known to be domestic is blamed on the cut only when what failed was silence
(timeouts, unreachables): a cut drops packets, it does not answer them. A failure that is an
answer from the far end - a refusal (an RST to the SYN), a reset, a close or a TLS alert after the
ClientHello, a reset request, or a neutral-name handshake that got an answer (the SNI split) -
proves the path to the server works, so the cut does not explain it (path_answered).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from kzprobe.analysis.explain import cite, quote
from kzprobe.analysis.facts import TargetFacts
from kzprobe.report import vocabulary as v

# The routed prefixes (RFC 7454 section 6.1.3: longer ones are commonly filtered, so one /24 or
# /48 is announced by one network); the wider IPv4 prefix a ccTLD name may match.
SAME_NETWORK_V4: Final = 24
SAME_NETWORK_V6: Final = 48
WIDER_NETWORK_V4: Final = 16
WIDER_NETWORK_V6: Final = 32
# The country's code top-level domains, in wire form: .kz and .қаз (xn--80ao21a).
DOMESTIC_TLDS: Final = ("kz", "xn--80ao21a")
# Failures after the ClientHello (or of a request) that are an answer from the far end, not silence.
_ANSWERED_AFTER_HELLO: Final = (v.CONNECTION_RESET, v.EOF_ERROR, v.SSL_FAILED_HANDSHAKE)


@dataclass(frozen=True)
class Answered:
    """Addresses that answered in this scan, each with the target it answered for."""

    by_address: dict[str, str]

    @classmethod
    def of(cls, results: list[TargetFacts]) -> Answered:
        answered: dict[str, str] = {}
        for facts in results:
            name = facts.id or facts.url
            for hop in facts.http:
                if hop.responded and hop.address:
                    answered.setdefault(hop.address, name)
            if facts.baseline == "domestic":
                for attempt in facts.tcp:
                    if attempt.ok:
                        answered.setdefault(attempt.address, name)
        return cls(answered)


def _network(address: str, v4: int, v6: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return ipaddress.ip_network(f"{ip}/{v4 if ip.version == 4 else v6}", strict=False)


def _neighbour(addresses: list[str], answered: Answered, v4: int, v6: int) -> tuple[str, str, str] | None:
    """(our address, an answered address in its network, that address's target), or None."""
    networks: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, tuple[str, str]] = {}
    for other, target in answered.by_address.items():
        network = _network(other, v4, v6)
        if network is not None:
            networks.setdefault(network, (other, target))
    for address in addresses:
        network = _network(address, v4, v6)
        if network is not None and network in networks:
            other, target = networks[network]
            return address, other, target
    return None


def reached_inside(facts: TargetFacts, answered: Answered) -> str | None:
    """Why the target is reached inside the country, in words; None when nothing says so."""
    if facts.baseline == "domestic":
        return "it is a domestic baseline"
    addresses = list(dict.fromkeys([*(facts.dns.addresses if facts.dns else ()), *(t.address for t in facts.tcp)]))
    return reached_inside_at(facts.hostname, addresses, answered)


def reached_inside_at(hostname: str, addresses: list[str], answered: Answered) -> str | None:
    """Why a host at these addresses is reached inside the country (rules 2 and 3 above), in
    words; None when nothing says so. For a target, and for a service's endpoint."""
    close = _neighbour(addresses, answered, SAME_NETWORK_V4, SAME_NETWORK_V6)
    if close is not None:
        return (f"{cite(close[0], 45)} is in the same routed network as {cite(close[1], 45)} "
                f"({cite(close[2], 60)}), which answered during the cut")
    if hostname.rsplit(".", 1)[-1] in DOMESTIC_TLDS:
        wide = _neighbour(addresses, answered, WIDER_NETWORK_V4, WIDER_NETWORK_V6)
        if wide is not None:
            return (f"the name is under the country's domain and {cite(wide[0], 45)} is in the same wider "
                    f"network (/16, or /32 for IPv6) as {cite(wide[1], 45)} ({cite(wide[2], 60)}), which "
                    "answered during the cut")
    return None


def path_answered(facts: TargetFacts) -> str | None:
    """Why the path to the target's server works although the target failed, in words; None when
    every failure was silence (what a cut of the international link causes)."""
    for attempt in facts.tcp:
        if attempt.failure == v.CONNECTION_REFUSED:
            return (f"TCP to {cite(attempt.address, 45)} was refused (an RST answered the SYN), so the path to the "
                    "server works")
    for handshake in facts.tls:
        if handshake.purpose == v.PURPOSE_NEUTRAL_SNI and handshake.answered:
            return (f"a handshake naming {quote(handshake.sni or 'a neutral name')} got an answer from "
                    f"{cite(handshake.address, 45)}, so the path to the server works")
    for handshake in facts.tls:
        if not handshake.completed and handshake.failure in _ANSWERED_AFTER_HELLO:
            return (f"the TLS handshake with {cite(handshake.address, 45)} was answered after the ClientHello "
                    f"({cite(handshake.failure)}), so the path to the server works")
    for hop in facts.http:
        if hop.failure in (v.CONNECTION_RESET, v.EOF_ERROR):
            return (f"the request to {cite(hop.url, 100)} was answered with {cite(hop.failure)}, so the path to "
                    "the server works")
    return None


def silent_failures(facts: TargetFacts) -> str:
    """The silent failures the cut is blamed for, in words (at most a few)."""
    seen = [*(f"TCP to {cite(t.address, 45)}: {cite(t.failure)}" for t in facts.tcp if t.failure),
            *(f"TLS with {cite(t.address, 45)}: {cite(t.failure)}" for t in facts.tls if t.failure and not t.completed),
            *(f"the request to {cite(h.url, 100)}: {cite(h.failure)}" for h in facts.http if h.failure)]
    if not seen and facts.dns is not None and facts.dns.failure:
        seen.append(f"DNS for {cite(facts.hostname, 100)}: {cite(facts.dns.failure)}")
    return ", ".join(list(dict.fromkeys(seen))[:4]) or "no answer"
