"""The vantage's network - its ASN and country - learned over DNS, without storing its address.

A report says which network it measured from ("AS9198, KZ": the same block list looks different
from Kazakhtelecom and from a mobile operator) but never the volunteer's address (docs/architecture.md,
principle 6). Two steps, both plain DNS with a timeout:

1. Learn the public address from a DNS server that echoes the address a query came from:
   OpenDNS answers `myip.opendns.com` (A or AAAA), Google's authoritative servers answer
   `o-o.myaddr.l.google.com` TXT. Asked directly (not through a recursive resolver, which
   would echo its own address), so behind NAT this still finds the outside address.
2. Ask Team Cymru's IP-to-ASN zone (`<reversed address>.origin.asn.cymru.com` TXT, or
   `origin6` with reversed nibbles for IPv6) for "ASN | prefix | CC | registry | date", and
   keep ASN and country only.

The address is returned to the caller for the scrubber (a blockpage that echoes "your IP" must
not carry it into the report) and is not part of `fields()`. Any failure leaves asn and country
None: the report says "unknown", never a guess. Where an ISP transparently redirects port 53
to its own resolver (done in some networks), step 1 sees that resolver's address, which is in
the same ASN and country in practice.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import dns.asyncquery
import dns.asyncresolver
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from kzprobe.probes.dns import ResolverConfigError, ResolverSpec
from kzprobe.probes.failures import failure_from_exception
from kzprobe.report import vocabulary as v

# Per query; the whole lookup gets GEO_DEADLINE_QUERIES times that (two echo servers in turn,
# then Cymru, plus slack). Geo is metadata: it must never hold a scan back by more than seconds.
DEFAULT_GEO_TIMEOUT_S: Final = 3.0
GEO_DEADLINE_QUERIES: Final = 4
# Bounds on what a hostile or broken server can make us look at.
MAX_TXT_RECORDS: Final = 16
MAX_TXT_CHARS: Final = 512


@dataclass(frozen=True)
class EchoServer:
    """A DNS server that answers `name` with the address the query came from."""

    address: str  # an IP literal: asked directly, never through a resolver
    name: str
    rdtype: str  # "A" / "AAAA" (the answer is the address) or "TXT" (a string holding it)
    port: int = 53

    @property
    def family(self) -> int:
        return ipaddress.ip_address(self.address).version


# Tried in this order per address family until one answers. resolver1.opendns.com, then
# ns1.google.com; for IPv6 resolver1.ipv6-sandbox.opendns.com, then ns1.google.com's IPv6.
DEFAULT_ECHO_SERVERS: Final = (
    EchoServer("208.67.222.222", "myip.opendns.com", "A"),
    EchoServer("216.239.32.10", "o-o.myaddr.l.google.com", "TXT"),
    EchoServer("2620:0:ccc::2", "myip.opendns.com", "AAAA"),
    EchoServer("2001:4860:4802:32::a", "o-o.myaddr.l.google.com", "TXT"),
)


# The echo servers to ask instead, "ADDRESS[:PORT] NAME TYPE" separated by commas (an IPv6
# address with a port in brackets): a vantage that runs its own echo server, or a lab's.
ECHO_SERVERS_ENV: Final = "KZPROBE_GEO_ECHO"


def parse_echo_servers(text: str) -> tuple[EchoServer, ...]:
    """EchoServers from "208.67.222.222 myip.opendns.com A, [2620:0:ccc::2]:53 myip.opendns.com
    AAAA"; ValueError naming the entry that is not one."""
    servers = []
    for entry in (e.strip() for e in text.split(",")):
        fields = entry.split()
        if len(fields) != 3 or fields[2].upper() not in ("A", "AAAA", "TXT"):
            raise ValueError(f"{entry!r} is not 'ADDRESS[:PORT] NAME A|AAAA|TXT'")
        where, name, rdtype = fields[0], fields[1], fields[2].upper()
        port = 53
        match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?|([0-9.]+)(?::([0-9]{1,5}))?|([0-9A-Fa-f:]+)",
                             where)
        if match is None:
            raise ValueError(f"{entry!r}: {where!r} is not an address with an optional port")
        address = match.group(1) or match.group(3) or match.group(5)
        port = int(match.group(2) or match.group(4) or port)
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            raise ValueError(f"{entry!r}: {address!r} is not an IP address") from None
        if not 0 < port < 65536:
            raise ValueError(f"{entry!r}: port {port} is out of range")
        servers.append(EchoServer(address, name.rstrip("."), rdtype, port))
    return tuple(servers)


def configured_echo_servers(environ: Mapping[str, str]) -> tuple[EchoServer, ...]:
    """The echo servers of ECHO_SERVERS_ENV when it is set, else DEFAULT_ECHO_SERVERS."""
    text = environ.get(ECHO_SERVERS_ENV, "").strip()
    return parse_echo_servers(text) if text else DEFAULT_ECHO_SERVERS


@dataclass(frozen=True)
class CymruZones:
    """Team Cymru's IP-to-ASN zones (configurable so that tests can use a loopback server)."""

    ipv4: str = "origin.asn.cymru.com"
    ipv6: str = "origin6.asn.cymru.com"


CYMRU: Final = CymruZones()

# "TXT strings of a name" - the caller decides which resolver answers (see txt_lookup_via).
TxtLookup = Callable[[str], Awaitable[list[str]]]


@dataclass(frozen=True)
class VantageNetwork:
    """What is known of the vantage's network. Only `fields()` goes into a report."""

    asn: str | None  # "AS9198"
    country: str | None  # ISO 3166-1 alpha-2, "KZ"
    # For the scrubber only; never stored, never printed (repr=False).
    public_addresses: frozenset[str] = field(default=frozenset(), repr=False)
    failure: str | None = None  # why asn/country are unknown, for a warning line

    def fields(self) -> dict[str, str | None]:
        return {"asn": self.asn, "country": self.country}


@dataclass(frozen=True)
class CymruOrigin:
    asn: str
    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network
    country: str | None


# --- parsing (pure) -----------------------------------------------------------------------

_ASN_TOKEN = re.compile(r"^[0-9]{1,10}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_REGISTRY = re.compile(r"^[a-z]{0,16}$")
_DATE = re.compile(r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2})?$")
# ISO 3166 user-assigned codes (ZZ "unknown" and friends) say nothing about where we are.
_NOT_A_COUNTRY: Final = frozenset({"ZZ", "XX", "AA", "QM", "QZ"})


def parse_echoed_address(texts: Sequence[str], family: int) -> str | None:
    """The one public address of `family` among an echo server's answers, else None.

    Google's TXT answer may add an "edns0-client-subnet 1.2.3.0/24" string: only strings that
    are exactly an address count, and two different addresses are a contradiction (None)."""
    found: set[str] = set()
    for text in texts[:MAX_TXT_RECORDS]:
        try:
            address = ipaddress.ip_address(text.strip())
        except ValueError:
            continue
        if address.version == family:
            found.add(str(address))
    if len(found) != 1:
        return None
    address = ipaddress.ip_address(found.pop())
    if not address.is_global or address.is_multicast:
        return None  # a private or reserved "public address" means a middlebox answered
    return str(address)


def cymru_query_name(address: str, zones: CymruZones = CYMRU) -> str:
    """4.3.2.1.origin.asn.cymru.com for 1.2.3.4; 32 reversed nibbles + origin6 for IPv6."""
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return ".".join(reversed(str(ip).split("."))) + "." + zones.ipv4
    return ".".join(reversed(ip.exploded.replace(":", ""))) + "." + zones.ipv6


def parse_cymru_origin(text: str, address: str) -> CymruOrigin | None:
    """One Cymru answer, "9198 | 2.72.0.0/13 | KZ | ripencc | 2006-04-11", if every field is
    well-formed and the prefix contains `address`; None otherwise.

    Several origin ASNs ("15169 36040 | ...", a prefix announced by more than one AS) keep the
    first. An unknown or missing country keeps the ASN with country None."""
    if len(text) > MAX_TXT_CHARS:
        return None
    parts = [part.strip() for part in text.split("|")]
    if len(parts) != 5:
        return None
    asn_field, prefix_field, country_field, registry, allocated = parts
    tokens = asn_field.split()
    if not tokens or not all(_ASN_TOKEN.match(t) and 0 < int(t) < 2**32 for t in tokens):
        return None
    try:
        prefix = ipaddress.ip_network(prefix_field, strict=True)
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if prefix.version != ip.version or ip not in prefix:
        return None
    if not (_REGISTRY.match(registry) and _DATE.match(allocated)):
        return None
    if country_field and not _COUNTRY.match(country_field):
        return None
    country = country_field if country_field and country_field not in _NOT_A_COUNTRY else None
    return CymruOrigin(f"AS{int(tokens[0])}", prefix, country)


def best_origin(texts: Sequence[str], address: str) -> CymruOrigin | None:
    """The most specific well-formed origin among Cymru's answers (a more specific route wins,
    as it does in forwarding)."""
    origins = [o for o in (parse_cymru_origin(t, address) for t in texts[:MAX_TXT_RECORDS]) if o]
    if not origins:
        return None
    return max(origins, key=lambda o: o.prefix.prefixlen)  # max keeps the first of equals


# --- DNS (network) ------------------------------------------------------------------------


def _txt_strings(response: dns.message.Message, name: dns.name.Name) -> list[str]:
    texts: list[str] = []
    for rrset in response.answer:
        if rrset.name != name or rrset.rdtype != dns.rdatatype.TXT:
            continue
        for rdata in rrset:
            try:
                text = b"".join(rdata.strings).decode("ascii")
            except UnicodeDecodeError:
                continue
            if len(texts) < MAX_TXT_RECORDS and len(text) <= MAX_TXT_CHARS:
                texts.append(text)
    return texts


async def ask_echo_server(server: EchoServer, timeout: float) -> str | None:
    """Our public address of the server's family as it sees it, or None."""
    name = dns.name.from_text(server.name)
    rdtype = dns.rdatatype.from_text(server.rdtype)
    query = dns.message.make_query(name, rdtype)
    response = await dns.asyncquery.udp(query, server.address, timeout=timeout, port=server.port)
    if response.rcode() != dns.rcode.NOERROR:
        return None
    if server.rdtype == "TXT":
        texts = _txt_strings(response, name)
    else:
        texts = [rdata.address for rrset in response.answer
                 if rrset.name == name and rrset.rdtype == rdtype for rdata in rrset]
    return parse_echoed_address(texts, server.family)


def txt_lookup_via(spec: ResolverSpec, timeout: float) -> TxtLookup:
    """A TxtLookup through a resolver given like --resolver (system, IP[:PORT] or DoH)."""
    try:
        resolver = dns.asyncresolver.Resolver(configure=spec.kind == "system")
    except (dns.resolver.NoResolverConfiguration, OSError) as exc:
        raise ResolverConfigError(f"cannot read the system resolver configuration ({exc})") from exc
    if spec.kind == "dns":
        resolver.nameservers = [str(spec.address)]
        resolver.port = spec.port
    elif spec.kind == "doh":
        resolver.nameservers = [str(spec.url)]
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None

    async def lookup(name: str) -> list[str]:
        qname = dns.name.from_text(name)
        answer = await resolver.resolve(qname, "TXT", search=False, raise_on_no_answer=False)
        return _txt_strings(answer.response, answer.canonical_name) or _txt_strings(answer.response, qname)

    return lookup


async def _first_echo(servers: Sequence[EchoServer], timeout: float) -> tuple[str | None, str | None]:
    """(address, failure) from the first server of the list that echoes one."""
    failure = None
    for server in servers:
        try:
            address = await ask_echo_server(server, timeout)
        except Exception as exc:  # every failure only means "unknown"
            failure = failure_from_exception(exc)
            continue
        if address is not None:
            return address, None
        failure = "no usable address in the echo answer"
    return None, failure


async def _origin(txt_lookup: TxtLookup, address: str, zones: CymruZones) -> CymruOrigin | None:
    return best_origin(await txt_lookup(cymru_query_name(address, zones)), address)


async def lookup_network(
    txt_lookup: TxtLookup,
    *,
    echo_servers: Sequence[EchoServer] = DEFAULT_ECHO_SERVERS,
    zones: CymruZones = CYMRU,
    timeout: float = DEFAULT_GEO_TIMEOUT_S,
) -> VantageNetwork:
    """ASN and country of the network this runs on; (None, None) with a `failure` otherwise.

    IPv4 and IPv6 echo servers are asked at once; the ASN comes from the IPv4 address when
    there is one (both are in the same network in practice), else from the IPv6 one. Both
    addresses go to the scrubber. Never raises; returns within GEO_DEADLINE_QUERIES * timeout,
    with whatever was learned by then.
    """
    echoes = {
        family: asyncio.create_task(_first_echo([s for s in echo_servers if s.family == family], timeout))
        for family in (4, 6)
    }
    learned: dict[int, str] = {}
    origin: CymruOrigin | None = None
    failures: list[str] = []
    try:
        async with asyncio.timeout(GEO_DEADLINE_QUERIES * timeout):
            for family in (4, 6):
                address, why = await echoes[family]
                if address is None:
                    failures.append(why or f"no IPv{family} echo server")
                    continue
                learned[family] = address
                if origin is not None:
                    continue
                try:
                    origin = await _origin(txt_lookup, address, zones)
                except Exception as exc:  # every failure only means "unknown"
                    failures.append(failure_from_exception(exc))
                    continue
                if origin is None:
                    failures.append("no well-formed Team Cymru answer")
    except TimeoutError:
        failures.append(v.GENERIC_TIMEOUT)
    except Exception as exc:  # a library bug must not stop a scan over metadata
        failures.append(failure_from_exception(exc))
    finally:
        for task in echoes.values():
            task.cancel()
        await asyncio.gather(*echoes.values(), return_exceptions=True)
    addresses = frozenset(learned.values())
    if origin is not None:
        return VantageNetwork(origin.asn, origin.country, addresses)
    return VantageNetwork(None, None, addresses, failures[0] if failures else "unknown")
