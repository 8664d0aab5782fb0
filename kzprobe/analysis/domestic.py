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
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from kzprobe.analysis.explain import cite
from kzprobe.analysis.facts import TargetFacts

# The routed prefixes (RFC 7454 section 6.1.3: longer ones are commonly filtered, so one /24 or
# /48 is announced by one network); the wider IPv4 prefix a ccTLD name may match.
SAME_NETWORK_V4: Final = 24
SAME_NETWORK_V6: Final = 48
WIDER_NETWORK_V4: Final = 16
WIDER_NETWORK_V6: Final = 32
# The country's code top-level domains, in wire form: .kz and .қаз (xn--80ao21a).
DOMESTIC_TLDS: Final = ("kz", "xn--80ao21a")


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
    networks = {}
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
    close = _neighbour(addresses, answered, SAME_NETWORK_V4, SAME_NETWORK_V6)
    if close is not None:
        return (f"{cite(close[0], 45)} is in the same routed network as {cite(close[1], 45)} "
                f"({cite(close[2], 60)}), which answered during the cut")
    if facts.hostname.rsplit(".", 1)[-1] in DOMESTIC_TLDS:
        wide = _neighbour(addresses, answered, WIDER_NETWORK_V4, WIDER_NETWORK_V6)
        if wide is not None:
            return (f"the name is under the country's domain and {cite(wide[0], 45)} is in the same wider "
                    f"network (/16, or /32 for IPv6) as {cite(wide[1], 45)} ({cite(wide[2], 60)}), which "
                    "answered during the cut")
    return None
