"""Special-purpose ("bogon") address blocks: where no public web site can be.

A resolver that answers a public name with 127.0.0.1, 10.10.34.35 or 0.0.0.0 is lying: censors
use such answers to make a name unreachable. The list is the one OONI uses (ipinfo.io's bogon
list, ooni/probe-cli internal/netxlite/bogon.go): every IANA special-purpose block, plus the 6to4 and
Teredo images of the IPv4 ones. A string that is not an address at all counts as a bogon too,
except "[scrubbed]": one of this machine's own addresses (kzprobe/report/scrub.py), which may be a
public one (a vantage that hosts a target), so it says nothing by itself.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Final

from kzprobe.report.scrub import SCRUBBED

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class SpecialBlock:
    network: str  # CIDR, or "not an address"
    label: str  # what the block is, for explanations

    @property
    def never_remote(self) -> bool:
        """Loopback, "this host", multicast, broadcast: no remote server is ever there."""
        return self.label in ("loopback", "this network", "unspecified", "multicast", "broadcast")


_V4: Final = (
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)
_V6: Final = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("100::/64", "discard-only"),
    ("2001:10::/28", "ORCHID"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
    # 6to4 (2002::/16) and Teredo (2001::/32) images of the special-purpose IPv4 blocks.
    ("2002::/24", "6to4 image of a special-purpose block"),
    ("2002:a00::/24", "6to4 image of a special-purpose block"),
    ("2002:7f00::/24", "6to4 image of a special-purpose block"),
    ("2002:a9fe::/32", "6to4 image of a special-purpose block"),
    ("2002:ac10::/28", "6to4 image of a special-purpose block"),
    ("2002:c000::/40", "6to4 image of a special-purpose block"),
    ("2002:c000:200::/40", "6to4 image of a special-purpose block"),
    ("2002:c0a8::/32", "6to4 image of a special-purpose block"),
    ("2002:c612::/31", "6to4 image of a special-purpose block"),
    ("2002:c633:6400::/40", "6to4 image of a special-purpose block"),
    ("2002:cb00:7100::/40", "6to4 image of a special-purpose block"),
    ("2002:e000::/20", "6to4 image of a special-purpose block"),
    ("2002:f000::/20", "6to4 image of a special-purpose block"),
    ("2002:ffff:ffff::/48", "6to4 image of a special-purpose block"),
    ("2001::/40", "Teredo image of a special-purpose block"),
    ("2001:0:a00::/40", "Teredo image of a special-purpose block"),
    ("2001:0:7f00::/40", "Teredo image of a special-purpose block"),
    ("2001:0:a9fe::/48", "Teredo image of a special-purpose block"),
    ("2001:0:ac10::/44", "Teredo image of a special-purpose block"),
    ("2001:0:c000::/56", "Teredo image of a special-purpose block"),
    ("2001:0:c000:200::/56", "Teredo image of a special-purpose block"),
    ("2001:0:c0a8::/48", "Teredo image of a special-purpose block"),
    ("2001:0:c612::/47", "Teredo image of a special-purpose block"),
    ("2001:0:c633:6400::/56", "Teredo image of a special-purpose block"),
    ("2001:0:cb00:7100::/56", "Teredo image of a special-purpose block"),
    ("2001:0:e000::/36", "Teredo image of a special-purpose block"),
    ("2001:0:f000::/36", "Teredo image of a special-purpose block"),
    ("2001:0:ffff:ffff::/64", "Teredo image of a special-purpose block"),
)

_BLOCKS: Final[tuple[tuple[IPNetwork, SpecialBlock], ...]] = tuple(
    (ipaddress.ip_network(cidr), SpecialBlock(cidr, label)) for cidr, label in _V4 + _V6
)
NOT_AN_ADDRESS: Final = SpecialBlock("not an address", "not an address")
# Addresses whose parse and classification are remembered: one scan meets each several times
# (DNS, control DNS, TCP, TLS, HTTP), and parsing them was a third of the analysis.
_REMEMBERED: Final = 16384


@functools.lru_cache(maxsize=_REMEMBERED)
def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None


@functools.lru_cache(maxsize=_REMEMBERED)
def special_block(text: str) -> SpecialBlock | None:
    """The special-purpose block `text` is in (first listed match), None for a public address
    and for this machine's own, scrubbed one."""
    if text == SCRUBBED:
        return None
    address = parse_address(text)
    if address is None:
        return NOT_AN_ADDRESS
    for network, block in _BLOCKS:
        if address.version == network.version and address in network:
            return block
    return None


def is_ipv6(text: str) -> bool:
    address = parse_address(text)
    return address is not None and address.version == 6


@functools.lru_cache(maxsize=_REMEMBERED)
def canonical_address(text: str) -> str:
    """One spelling per address ("0::1" and "::1" agree), so sets of addresses compare."""
    address = parse_address(text)
    return str(address) if address is not None else text.strip().lower()
