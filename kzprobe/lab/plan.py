"""From scenarios to namespaces: which addresses each one has, what vanishes, what its servers do.

Pure: the same scenarios give the same plan. Each namespace plays one network - the outside
vantage, the censored ISP, or the ISP with its international link (or everything) cut - and
gets an address on its loopback for every address that answers there, a route into the drop
link for every address whose packets must vanish, and the serve.py configuration that makes
its resolvers and web servers behave as the scenarios say.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from kzprobe.lab import addresses as a
from kzprobe.lab import site_spec as m
from kzprobe.lab.site_spec import Conditions, Scenario

OUTSIDE: Final = "outside"
INSIDE: Final = "inside"
CUT_INTERNATIONAL: Final = "international"
CUT_EVERYTHING: Final = "everything"
# Not a cut of the link: a captive portal holds the network (everything beyond it vanishes, its
# resolver answers every name with the portal's address, its server answers every request).
CUT_PORTAL: Final = "portal"
# A captive portal that leaves DNS alone: its gateway takes every connection to any address, and
# answers every plain-HTTP request with its own login page (no redirect).
CUT_PORTAL_PAGE: Final = "portal-page"
# Not the network at all: an antivirus on the user's machine re-signs every TLS connection that
# completes with its own root, installed in the machine's trust store (Lab.role_env).
CUT_INSPECTION: Final = "inspection"
CUTS: Final = (CUT_INTERNATIONAL, CUT_EVERYTHING, CUT_PORTAL, CUT_PORTAL_PAGE, CUT_INSPECTION)

BLOCKPAGE_HOST: Final = "blockpage.isp.kzlab.test"
# The portal's login host: its certificate is the one every TLS handshake behind the portal meets.
PORTAL_HOST: Final = "login.wifi.kzlab.test"
PKI_HOST: Final = "pki.kzlab.test"
DROP_LINK: Final = "kzdrop0"
# Every site answers plain HTTP on 80 and TLS on 443.
SITE_PORTS: Final = ({"port": 80, "tls": False}, {"port": 443, "tls": True})
_DROP_PEER: Final = "kzdrop1"


def inside_role(cut: str | None) -> str:
    """The name of the censored ISP's namespace with `cut` ("inside-international"), or "inside"."""
    return INSIDE if cut is None else f"{INSIDE}-{cut}"


@dataclass(frozen=True)
class SiteAddresses:
    v4: tuple[str, ...]
    v6: tuple[str, ...]
    replica: str | None  # a domestic replica, answered only by a lying resolver (DNS_SPOOF @replica)

    @property
    def all(self) -> tuple[str, ...]:
        return self.v4 + self.v6 + ((self.replica,) if self.replica else ())


@dataclass(frozen=True)
class Allocation:
    """Every lab address: per site, and per service endpoint host (scenario id, host)."""

    sites: dict[str, SiteAddresses]
    endpoints: dict[tuple[str, str], str]


def allocate(scenarios: Sequence[Scenario]) -> Allocation:
    """Addresses from each hosting pool, in order: one per site (plus IPv6 and a replica when
    the site has them), one per endpoint host."""
    pools = {
        m.DOMESTIC: a.site_addresses(a.DOMESTIC_V4),
        m.INTERNATIONAL: a.site_addresses(a.INTERNATIONAL_V4),
    }
    v6_pool = a.site_addresses(a.INTERNATIONAL_V6)
    sites: dict[str, SiteAddresses] = {}
    endpoints: dict[tuple[str, str], str] = {}
    for scenario in scenarios:
        site = scenario.site
        if site.host in sites or any(alias in sites for alias in site.aliases):
            raise ValueError(f"lab: two sites named {site.host}")
        sites[site.host] = SiteAddresses(
            v4=(next(pools[site.hosting]),),
            v6=(next(v6_pool),) if site.ipv6 else (),
            replica=next(pools[m.DOMESTIC]) if site.replica else None,
        )
        for alias in site.aliases:  # served at the same addresses
            sites[alias] = sites[site.host]
        for endpoint in scenario.endpoints:
            key = (scenario.id, endpoint.host)
            if key not in endpoints:
                endpoints[key] = next(pools[endpoint.hosting])
    return Allocation(sites, endpoints)


@dataclass(frozen=True)
class NamespacePlan:
    """One namespace: its loopback addresses, what vanishes, its resolver and its servers."""

    role: str  # "outside", "inside", "inside-international", "inside-everything"
    resolver: str  # the nameserver of its resolv.conf
    local: tuple[str, ...]  # addresses on lo
    dropped: tuple[str, ...]  # CIDRs routed to the drop link, where every packet vanishes
    config: dict  # serve.py configuration, without the paths the lab adds

    def ip_batch(self) -> str:
        """Commands for `ip -batch -` that give the namespace its addresses and its drop link."""
        lines = ["link set lo up"]
        for address in self.local:
            prefix = 32 if ipaddress.ip_address(address).version == 4 else 128
            lines.append(f"address add {address}/{prefix} dev lo")
        lines += [
            f"link add {DROP_LINK} type veth peer name {_DROP_PEER}",
            f"link set {DROP_LINK} up",
            f"link set {_DROP_PEER} up",
            # A neighbour that does not exist: frames go out on the link and nobody takes them.
            f"neigh add {a.DROP_GATEWAY_V4} lladdr {a.DROP_MAC} dev {DROP_LINK} nud permanent",
            f"neigh add {a.DROP_GATEWAY_V6} lladdr {a.DROP_MAC} dev {DROP_LINK} nud permanent",
        ]
        for cidr in self.dropped:
            if ipaddress.ip_network(cidr).version == 4:
                lines.append(f"route add {cidr} via {a.DROP_GATEWAY_V4} dev {DROP_LINK} onlink")
            else:
                lines.append(f"route add {cidr} via {a.DROP_GATEWAY_V6} dev {DROP_LINK} onlink")
        return "\n".join(lines) + "\n"


def _network(address: str) -> str:
    ip = ipaddress.ip_address(address)
    return f"{address}/{32 if ip.version == 4 else 128}"


def _cut_networks(cut: str | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    if cut == CUT_INTERNATIONAL:
        return [a.INTERNATIONAL_V4, a.INTERNATIONAL_V6]
    if cut in (CUT_EVERYTHING, CUT_PORTAL):
        return [a.INTERNATIONAL_V4, a.INTERNATIONAL_V6, a.DOMESTIC_V4]
    return []


def _dns_record(conditions: Conditions, where: SiteAddresses) -> dict:
    """A resolver's table entry for a site under `conditions`."""
    if conditions.dns == m.DNS_SPOOF:
        answers = []
        for item in conditions.spoofed:
            if item == m.SPOOF_BLOCKPAGE:
                answers.append(a.BLOCKPAGE_SERVER)
            elif item == m.SPOOF_REPLICA:
                if where.replica is None:
                    raise ValueError("lab: a @replica answer needs a site with replica=True")
                answers.append(where.replica)
            else:
                answers.append(str(ipaddress.ip_address(item)))
        v4 = [x for x in answers if ipaddress.ip_address(x).version == 4]
        v6 = [x for x in answers if ipaddress.ip_address(x).version == 6]
        return {"action": m.DNS_SPOOF, "a": v4, "aaaa": v6}
    return {"action": conditions.dns, "a": list(where.v4), "aaaa": list(where.v6)}


def plan_namespace(role: str, scenarios: Sequence[Scenario], allocation: Allocation,
                   cut: str | None = None) -> NamespacePlan:
    """The plan of the outside vantage (role OUTSIDE) or of the censored ISP (INSIDE, maybe cut)."""
    if role not in (OUTSIDE, INSIDE) or (cut is not None and (role != INSIDE or cut not in CUTS)):
        raise ValueError(f"lab: no namespace {role!r} with cut {cut!r}")
    cut_networks = _cut_networks(cut)

    def is_cut(address: str) -> bool:
        return any(ipaddress.ip_address(address) in net for net in cut_networks)

    local: list[str] = []
    dropped: list[str] = []
    listeners: dict[str, dict] = {}
    sites: dict[str, dict] = {}
    honest: dict[str, dict] = {BLOCKPAGE_HOST: {"action": m.DNS_ANSWER, "a": [a.BLOCKPAGE_SERVER], "aaaa": []},
                               PKI_HOST: {"action": m.DNS_ANSWER, "a": [a.PKI_SERVER], "aaaa": []}}
    isp: dict[str, dict] = dict(honest)
    keywords: list[dict] = []  # the censor's keyword rules: every plaintext request, every ClientHello

    for scenario in scenarios:
        site = scenario.site
        here = scenario.inside if role == INSIDE else scenario.outside
        site_where = allocation.sites[site.host]
        honest[site.host] = _dns_record(scenario.outside, site_where)
        isp[site.host] = _dns_record(scenario.inside, site_where)
        sites[site.host] = {
            "page": site.page, "https_redirect": site.redirects_to_https, "download_bytes": site.download_bytes,
            "tls": m.TLS_PASS if here.keyword and here.keyword_at == m.KEYWORD_IN_SNI else here.tls,
            "http": m.HTTP_PASS if here.keyword else here.http, "rate": here.rate_bytes_per_s,
            "burst": here.burst_bytes, "delay": here.delay_s, "site": here.site, "redirect_to": here.redirect_to,
            "drip": here.drip_s, "freeze": here.freeze_after, "tls_delay": here.tls_delay_s,
            "paths": page_paths(scenario), "tls_any_name": here.tls_any_name,
            "tls_delay_any_name": here.tls_delay_any_name_s, "quic": here.quic,
        }
        if here.keyword:
            keywords.append({"keyword": here.keyword.lower(), "at": here.keyword_at, "action": here.http,
                             "tls": here.tls, "redirect_to": here.redirect_to})
        for alias in site.aliases:
            honest[alias] = isp[alias] = {"action": m.DNS_ANSWER, "a": list(site_where.v4), "aaaa": list(site_where.v6)}
            sites[alias] = {"page": m.PAGE_OTHER, "https_redirect": False, "download_bytes": None,
                            "tls": m.TLS_PASS, "http": m.HTTP_PASS, "rate": None, "burst": None, "delay": 0.0,
                            "site": m.SITE_PAGE, "redirect_to": None, "drip": 0.0, "freeze": None, "tls_delay": 0.0,
                            "paths": ["/"]}
        for name in site.unrouted_aliases:  # an intranet name, private for every resolver: nothing listens
            honest[name] = isp[name] = {"action": m.DNS_ANSWER, "a": [a.PRIVATE_ANSWER], "aaaa": []}
        for address in site_where.all:
            is_local = _place_address(address, here.path, is_cut, local, dropped)
            if is_local and here.path == m.PATH_OPEN:  # refused: the address is here, nothing listens
                listener = listeners.setdefault(address, {"address": address, "server": "site", "hosts": [],
                                                          "ports": list(SITE_PORTS)})
                listener["hosts"] += [site.host, *site.aliases]
                if site.quic:
                    listener["quic"] = True  # UDP 443 too (servers/quic.py)
        _plan_endpoints(role, scenario, allocation, is_cut, honest, isp, local, dropped, listeners)

    resolvers = []
    infrastructure = [(a.HONEST_RESOLVER, "honest", honest)]
    if role == INSIDE:
        infrastructure.append((a.ISP_RESOLVER, "isp", isp))
    for address, label, records in infrastructure:
        if cut == CUT_PORTAL and address == a.ISP_RESOLVER:
            local.append(address)
            resolvers.append(_portal_resolver(address, records))
        elif not is_cut(address):
            local.append(address)
            resolvers.append({"address": address, "label": label, "records": records})
    if not is_cut(a.BLOCKPAGE_SERVER) and cut != CUT_PORTAL_PAGE:
        local.append(a.BLOCKPAGE_SERVER)
        listeners[a.BLOCKPAGE_SERVER] = {"address": a.BLOCKPAGE_SERVER, "server": "blockpage", "hosts": [],
                                         "ports": list(SITE_PORTS)}
    if not is_cut(a.PKI_SERVER) and cut != CUT_PORTAL_PAGE:
        local.append(a.PKI_SERVER)
        listeners[a.PKI_SERVER] = {"address": a.PKI_SERVER, "server": "pki", "hosts": [PKI_HOST],
                                   "ports": [{"port": 80, "tls": False}]}

    dropped = [str(net) for net in cut_networks] + dropped
    if cut == CUT_PORTAL_PAGE:
        # The portal's gateway takes every connection, whatever the address: nothing vanishes, and
        # nothing but the portal answers on the sites' ports (its listeners take any address).
        local += [address for where in allocation.sites.values() for address in where.all]
        local += list(allocation.endpoints.values())
        dropped, listeners = [], {}
    name = role if cut is None else inside_role(cut)
    config = {
        "role": name,
        "resolvers": resolvers,
        "web": {"listeners": list(listeners.values()), "sites": sites, "blockpage_host": BLOCKPAGE_HOST,
                "keywords": keywords, "inspection": cut == CUT_INSPECTION},
    }
    if cut == CUT_PORTAL:
        local.append(a.PORTAL_ADDRESS)
        config["portal"] = {"address": a.PORTAL_ADDRESS, "host": PORTAL_HOST}
    elif cut == CUT_PORTAL_PAGE:
        config["portal"] = {"address": None, "host": PORTAL_HOST}
    return NamespacePlan(
        role=name,
        resolver=a.ISP_RESOLVER if role == INSIDE else a.HONEST_RESOLVER,
        local=tuple(dict.fromkeys(local)),
        dropped=tuple(dict.fromkeys(dropped)),
        config=config,
    )


def _portal_resolver(address: str, records: dict) -> dict:
    """The ISP's resolver while the portal holds the network: every name, known or not, answers
    the portal's address (the address records are kept only to list the names)."""
    portal = {"action": m.DNS_SPOOF, "a": [a.PORTAL_ADDRESS], "aaaa": []}
    return {"address": address, "label": "portal", "records": dict.fromkeys(records, portal), "default": portal}


def page_paths(scenario: Scenario) -> list[str]:
    """Where the site serves its page: "/", the target's path, and the paths on its own host that
    its redirects (in either network) lead to."""
    paths = ["/", scenario.site.path]
    for conditions in (scenario.inside, scenario.outside):
        target = urlsplit(conditions.redirect_to or "")
        if target.hostname == scenario.site.host:
            paths.append(target.path or "/")
    return list(dict.fromkeys(paths))


def _place_address(address: str, path: str, is_cut: Callable[[str], bool], local: list[str],
                   dropped: list[str]) -> bool:
    """Add a site's or endpoint's address to the namespace: nothing when the cut takes it, a drop
    route when `path` drops its packets, else a local address. True when it is local."""
    if is_cut(address):
        return False
    if path == m.PATH_DROP:
        dropped.append(_network(address))
        return False
    local.append(address)
    return True


def _plan_endpoints(role: str, scenario: Scenario, allocation: Allocation, is_cut, honest: dict, isp: dict,
                    local: list[str], dropped: list[str], listeners: dict[str, dict]) -> None:
    """A service's endpoints: resolver entries for named hosts, one listener port per endpoint.

    The middlebox behaviour travels with the port (an endpoint is often an address literal, so
    there may be no SNI to key it on)."""
    drops: dict[str, set[bool]] = {}
    for endpoint in scenario.endpoints:
        here = endpoint.inside if role == INSIDE else endpoint.outside
        address = allocation.endpoints[(scenario.id, endpoint.host)]
        drops.setdefault(address, set()).add(here.path == m.PATH_DROP)
        if not endpoint.literal:
            family = ipaddress.ip_address(address).version
            where = SiteAddresses(v4=(address,) if family == 4 else (), v6=(address,) if family == 6 else (),
                                  replica=None)
            honest[endpoint.host] = _dns_record(endpoint.outside, where)
            isp[endpoint.host] = _dns_record(endpoint.inside, where)
        if not _place_address(address, here.path, is_cut, local, dropped):
            continue
        listener = listeners.setdefault(address, {"address": address, "server": "endpoint", "hosts": [], "ports": []})
        if not endpoint.literal and endpoint.host not in listener["hosts"]:
            listener["hosts"].append(endpoint.host)
        if here.path == m.PATH_OPEN:
            listener["ports"].append({
                "port": endpoint.port, "tls": endpoint.tls, "certificate": endpoint_certificate_name(endpoint, address),
                # Its own certificate comes from the lab's service CA (site_spec.PIN_HELD).
                "pinned": endpoint.pin == m.PIN_HELD,
                "middlebox": {"tls": here.tls, "http": here.http, "rate": here.rate_bytes_per_s,
                              "burst": here.burst_bytes, "delay": here.delay_s,
                              # A named endpoint is filtered by the name its ClientHello carries;
                              # tls_any_name: every ClientHello to the port, whatever it names.
                              "names": [] if endpoint.literal else [endpoint.host],
                              "tls_any_name": here.tls_any_name},
            })
    conflicting = [address for address, kinds in drops.items() if len(kinds) > 1]
    if conflicting:
        raise ValueError(f"lab: {scenario.id}: endpoints at {conflicting[0]} disagree on dropping the address")


def endpoint_certificate_name(endpoint: m.EndpointBehaviour, address: str) -> str:
    """The name its certificate is for: the host name, or the address of a literal endpoint."""
    return address if endpoint.literal else endpoint.host
