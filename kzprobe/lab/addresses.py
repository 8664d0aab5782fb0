"""The lab's address plan: which public-looking addresses stand for what, and why these.

Healthy sites must have ordinary public unicast addresses: loopback, private and documentation
ranges (127/8, 10/8, 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, …) are bogons, which is
what censors answer with, so a healthy site there would look blocked. The ranges below are
ordinary unicast space (a Kazakh-looking block for domestic hosting, a European hosting block for
international); they are only ever configured inside the lab's network namespaces, which have no
route out, so no packet to them can leave the machine. Sites get `.test` names (RFC 2606), which
exist nowhere else, so a lab report can never be mistaken for a measurement of a real site.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Final

# Sites hosted inside the country: the domestic baselines, the ISP's own servers and replicas.
# (95.56.0.0/14 is the kind of block a Kazakh incumbent announces.)
DOMESTIC_V4: Final = ipaddress.IPv4Network("95.57.0.0/16")
# Sites hosted abroad, reached over the international link that a shutdown cuts.
INTERNATIONAL_V4: Final = ipaddress.IPv4Network("88.198.0.0/16")
INTERNATIONAL_V6: Final = ipaddress.IPv6Network("2a01:4f8:c0de::/48")

# The ISP's resolver (the one resolv.conf names inside), which lies per scenario.
ISP_RESOLVER: Final = "95.57.255.53"
# The ISP's blockpage server, where lying DNS answers and blockpage redirects point. Not in
# kzprobe/data/fingerprints.yaml on purpose: the verdict must come from the page and the
# control, as it would for an ISP nobody has fingerprinted yet.
BLOCKPAGE_SERVER: Final = "95.57.255.80"
# A certificate authority's AIA server abroad, publishing the lab's intermediate for servers
# that omit it (pki.kzlab.test; lab/certs.py).
PKI_SERVER: Final = "88.198.255.80"
# An honest resolver abroad: the outside vantage's system resolver and the inside scan's
# --control-resolver. An international cut takes it away with the rest of the link.
HONEST_RESOLVER: Final = "88.198.255.53"

# An answer a lying resolver gives that is not the site's: a private address of the kind
# Kazakh and other ISPs point blocked names at (OONI's QA uses 10.10.34.35).
PRIVATE_ANSWER: Final = "10.10.34.35"

# A captive portal's gateway (the captive-portal network run): a private address, as the portals
# of hotels and cafés use; its resolver answers every name with it until the user logs in.
PORTAL_ADDRESS: Final = "10.66.0.1"

# Where packets that must vanish are sent: an on-link gateway on the lab's drop link whose
# MAC address belongs to nobody, so a SYN leaves and no answer ever comes back.
DROP_GATEWAY_V4: Final = "169.254.77.1"
DROP_GATEWAY_V6: Final = "fe80::77:1"
DROP_MAC: Final = "02:00:5e:77:00:01"

# Addresses handed out to sites start above .0.x, leaving room for the ISP's infrastructure in
# the last /24 of each pool.
_FIRST_SITE_OFFSET: Final = 256
_INFRASTRUCTURE_BLOCK: Final = 256


def site_addresses(pool: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Iterator[str]:
    """Successive addresses for sites in `pool`, skipping .0 and .255 so none looks odd."""
    last = pool.num_addresses - _INFRASTRUCTURE_BLOCK
    for offset in range(_FIRST_SITE_OFFSET, last):
        address = pool.network_address + offset
        if pool.version == 4 and int(address) & 0xFF in (0, 255):
            continue
        yield str(address)


def guard_allow() -> list[str]:
    """CIDRs the test network guard must allow for processes inside the lab (KZPROBE_GUARD_ALLOW).

    The lab's pools, plus the bogon a lying resolver returns (the probe may dial it; inside a
    namespace with no route out it goes nowhere) and the captive portal's address."""
    return [str(DOMESTIC_V4), str(INTERNATIONAL_V4), str(INTERNATIONAL_V6), f"{PRIVATE_ANSWER}/32",
            f"{PORTAL_ADDRESS}/32"]

