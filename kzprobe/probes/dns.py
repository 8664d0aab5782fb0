"""DNS probe: A and AAAA through one configured resolver, recorded as a DnsObservation.

kzprobe resolves every name itself (docs/architecture.md, principle 2) so that the report says which
addresses each later step used, and so that the censor's resolver is measured, not bypassed.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import re
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from kzprobe.errors import BadInputError
from kzprobe.probes import limits
from kzprobe.probes.dns_retry import ask_until_answered
from kzprobe.probes.dns_wire import Reply, read_reply
from kzprobe.probes.failures import failure_from_exception
from kzprobe.probes.turns import queue_slot
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import DnsObservation, DnsQuery, elapsed_ms

# Default control resolver: DNS over HTTPS to an address literal, so that reaching it needs no
# (possibly censored) name resolution first.
DEFAULT_CONTROL_RESOLVER = "https://1.1.1.1/dns-query"

# When several queries fail, the overall failure is the most telling one.
_FAILURE_PRIORITY = [v.DNS_NXDOMAIN, v.DNS_SERVFAIL, v.DNS_REFUSED, v.DNS_TIMEOUT]


DohExchange = Callable[[dns.message.Message], Awaitable[dns.message.Message]]


class ResolverConfigError(BadInputError, ValueError):
    """The resolver given (or the system's configuration) cannot be used."""


@dataclass(frozen=True)
class ResolverSpec:
    """Where to send DNS queries: the system configuration, a plain DNS server, or DoH."""

    kind: str  # "system" | "dns" | "doh"
    address: str | None = None
    port: int = 53
    url: str | None = None

    def describe(self) -> str:
        if self.kind == "doh":
            return str(self.url)
        if self.kind == "dns":
            host = f"[{self.address}]" if ":" in str(self.address) else str(self.address)
            return f"{host}:{self.port}"
        return "system"


SYSTEM_RESOLVER = ResolverSpec("system")


def parse_resolver(text: str) -> ResolverSpec:
    """Parse `IP`, `IP:PORT`, `[IPv6]:PORT` or an https DoH URL."""
    text = text.strip()
    if text.startswith("https://"):
        parts = urlsplit(text)
        if not parts.hostname:
            raise ResolverConfigError(f"DoH resolver URL has no host: {text!r}")
        return ResolverSpec("doh", url=text)
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ResolverConfigError(f"not IP[:PORT]: {text!r}")
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = _port(port_text, text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ResolverConfigError(f"resolver must be an IP address, IP:PORT or https URL, not {text!r}") from None
    return ResolverSpec("dns", address=host, port=port)


def parse_control_resolver(text: str) -> ResolverSpec | None:
    """Like parse_resolver, plus "none" to measure without a control resolver."""
    if text.strip().lower() == "none":
        return None
    return parse_resolver(text)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ResolverConfigError(f"bad port in resolver {whole!r}")
    return int(text)


class DnsProbe:
    """A resolver configured once per scan; `lookup` records one hostname's resolution."""

    def __init__(self, spec: ResolverSpec, timeout: float, doh_exchange: DohExchange | None = None,
                 queries_in_flight: int = limits.DNS_QUERIES_IN_FLIGHT) -> None:
        """`doh_exchange` sends one DNS message to the DoH server (probes/doh.py); needed for DoH.
        `queries_in_flight`: this process's share of limits.DNS_QUERIES_IN_FLIGHT."""
        self.spec = spec
        self.queries_in_flight = max(1, queries_in_flight)
        if spec.kind == "doh" and doh_exchange is None:
            raise ResolverConfigError("a DoH resolver needs an HTTPS client (probes.doh.DohClient)")
        self._doh_exchange = doh_exchange
        try:
            resolver = dns.asyncresolver.Resolver(configure=spec.kind == "system")
        except (dns.resolver.NoResolverConfiguration, OSError) as exc:
            raise ResolverConfigError(
                f"cannot read the system resolver configuration ({exc}); pass --resolver IP[:PORT]"
            ) from exc
        if spec.kind == "dns":
            resolver.nameservers = [str(spec.address)]
            resolver.port = spec.port
        elif spec.kind == "doh":
            resolver.nameservers = ["127.0.0.1"]  # unused: DoH goes through doh_exchange
        if not resolver.nameservers:
            raise ResolverConfigError("the system resolver configuration names no server; pass --resolver")
        # The resolver object holds the configuration (servers, port); queries are sent by
        # _udp_exchange, which resends a lost one within the timeout.
        resolver.cache = None
        self._resolver = resolver
        self._timeout = timeout
        self._queries_in_flight: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self.description = spec.describe() if spec.kind != "system" else (
            "system (" + ", ".join(str(ns) for ns in resolver.nameservers) + ")"
        )

    async def lookup(self, hostname: str) -> DnsObservation:
        start = time.monotonic()
        try:
            literal = ipaddress.ip_address(hostname.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            return DnsObservation(hostname=hostname, resolver="literal", addresses=[str(literal)],
                                  failure=None, queries=[], duration_ms=0.0)
        answered = asyncio.Event()  # set by the first query to bring addresses (dns_retry.py)
        queries = await asyncio.gather(self._query(hostname, "A", answered), self._query(hostname, "AAAA", answered))
        addresses: list[str] = []
        for query in queries:
            for address in query["answers"]:
                if address not in addresses:
                    addresses.append(address)
        failure = None
        if not addresses:
            failures = [q["failure"] for q in queries if q["failure"]]
            failure = next((f for f in _FAILURE_PRIORITY if f in failures), None)
            failure = failure or next((f for f in failures if f != v.DNS_NO_ANSWER), v.DNS_NO_ANSWER)
        return DnsObservation(hostname=hostname, resolver=self.description, addresses=addresses,
                              failure=failure, queries=list(queries), duration_ms=elapsed_ms(start))

    async def _exchange(self, hostname: str, rdtype: dns.rdatatype.RdataType,
                        timeout: float) -> dns.message.Message | Reply:
        """One question answered within `timeout`. DoH is asked once per attempt: the resolver
        object would retry a DoH server it cannot reach until its lifetime ends, for every name
        of the scan (the DoH client's own timeout is the scan's; a retry may have less)."""
        if self._doh_exchange is not None:
            async with asyncio.timeout(timeout if timeout < self._timeout else None):
                return await self._doh_exchange(dns.message.make_query(hostname, rdtype))
        return await self._udp_exchange(Question.of(hostname, rdtype), timeout)

    async def _udp_exchange(self, query: Question, timeout: float) -> dns.message.Message | Reply:
        """Plain DNS as a stub resolver does it: one socket per server, the same query resent
        every timeout/3 to the servers in turn, the first matching reply taken (a late reply to
        an earlier send still counts); TCP when the reply is truncated. A lost packet costs a
        third of the timeout, not the answer. A datagram from another address, one that does
        not parse, or a reply to another question is ignored, as an on-path injector's
        malformed packet must not end the wait for the real answer."""
        loop = asyncio.get_running_loop()
        servers = [(_canonical(str(ns)), self._resolver.port) for ns in self._resolver.nameservers]
        wire = query.wire
        deadline = time.monotonic() + timeout
        interval = timeout / _RESENDS_PER_TIMEOUT
        sockets: dict[int, socket.socket] = {}
        unusable: dict[int, OSError] = {}  # servers the network refused to reach: not retried
        try:
            attempt = 0
            while time.monotonic() < deadline and len(unusable) < len(servers):
                index = attempt % len(servers)
                attempt += 1
                if index in unusable:
                    continue
                address, port = servers[index]
                family = dns.inet.af_for_address(address)
                destination = dns.inet.low_level_address_tuple((address, port), family)
                try:
                    if index not in sockets:
                        sock = socket.socket(family, socket.SOCK_DGRAM)
                        sock.setblocking(False)
                        sockets[index] = sock
                    sock = sockets[index]
                    await loop.sock_sendto(sock, wire, destination)
                    reply = await _receive_reply(loop, sock, destination, query,
                                                 min(deadline, time.monotonic() + interval))
                except OSError as exc:  # unreachable, or refused (ICMP): that server is out
                    unusable[index] = exc
                    continue
                if reply is None:
                    continue
                if isinstance(reply, str) or reply.flags & dns.flags.TC:  # str: TRUNCATED
                    return await dns.asyncquery.tcp(query.message(), address, port=port,
                                                    timeout=max(0.1, deadline - time.monotonic()))
                return reply
        finally:
            for sock in sockets.values():
                sock.close()
        if len(unusable) == len(servers):
            raise next(iter(unusable.values()))
        raise dns.exception.Timeout(timeout=timeout)

    def _query_slots(self) -> asyncio.Semaphore:
        """self.queries_in_flight for this resolver, per event loop (a kit may serve two)."""
        loop = asyncio.get_running_loop()
        if self._queries_in_flight is None or self._queries_in_flight[0] is not loop:
            self._queries_in_flight = (loop, asyncio.Semaphore(self.queries_in_flight))
        return self._queries_in_flight[1]

    async def _query(self, hostname: str, qtype: str, answered: asyncio.Event | None = None) -> DnsQuery:
        """The query, asked again after a SERVFAIL, REFUSED or silence (dns_retry.py). Each
        attempt takes a slot of its own: a retry waiting out its pause holds none."""
        async def attempt(timeout: float) -> DnsQuery:
            # The wait for a slot is not the resolver's time: the query's clock starts after it.
            async with queue_slot(self._query_slots()):
                return await self._timed_query(hostname, qtype, timeout)
        return await ask_until_answered(attempt, self._timeout, answered)

    async def _timed_query(self, hostname: str, qtype: str, timeout: float) -> DnsQuery:
        start = time.monotonic()
        rdtype = dns.rdatatype.from_text(qtype)
        try:
            response = await self._exchange(hostname, rdtype, timeout)
        except Exception as exc:  # every failure is data
            failure = failure_from_exception(exc)
            rcode = "NXDOMAIN" if failure == v.DNS_NXDOMAIN else _rcode_of_failure(exc)
            return DnsQuery(qtype=qtype, rcode=rcode, answers=[], cnames=[],
                            failure=failure, duration_ms=elapsed_ms(start))
        answers: list[str] = []
        cnames: list[str] = []
        if isinstance(response, Reply):  # read by dns_wire: addresses only
            answers = response.addresses.get(rdtype, [])[: limits.MAX_DNS_ANSWERS]
            rcode = dns.rcode.to_text(dns.rcode.Rcode.make(response.rcode))
        else:
            for rrset in response.answer:
                for rdata in rrset:
                    if rrset.rdtype == rdtype and len(answers) < limits.MAX_DNS_ANSWERS:
                        answers.append(str(ipaddress.ip_address(rdata.address)))
                    elif rrset.rdtype == dns.rdatatype.CNAME and len(cnames) < limits.MAX_DNS_ANSWERS:
                        cnames.append(str(rdata.target).rstrip("."))
            rcode = dns.rcode.to_text(response.rcode())
        answered_failure = None if answers else _RCODE_FAILURES.get(rcode, v.DNS_NO_ANSWER)
        return DnsQuery(qtype=qtype, rcode=rcode, answers=answers, cnames=cnames, failure=answered_failure,
                        duration_ms=elapsed_ms(start))


class Question:
    """One plain query (recursion desired, no EDNS: what dnspython's make_query sends), built
    without a Message object: a scan sends four per target, and building Messages was a tenth
    of the probe's CPU on a large list."""

    def __init__(self, qid: int, hostname: str, rdtype: int) -> None:
        self.qid = qid
        self.hostname = hostname
        self.rdtype = rdtype
        name_wire = _plain_name_wire(hostname)
        if name_wire is None:  # escapes, or anything unusual: dnspython's reading of the text
            name_wire = self.name.to_wire(canonicalize=False) or b""
        header = struct.pack("!HHHHHH", qid, dns.flags.RD, 1, 0, 0, 0)
        self.wire = header + name_wire + struct.pack("!HH", rdtype, dns.rdataclass.IN)
        # As dns_wire.Reply has it: (lower-case wire name, type, class).
        self.question = (name_wire.lower(), rdtype, dns.rdataclass.IN)

    @classmethod
    def of(cls, hostname: str, rdtype: int) -> Question:
        return cls(int.from_bytes(os.urandom(2), "big"), hostname, rdtype)

    @functools.cached_property
    def name(self) -> dns.name.Name:
        return dns.name.from_text(self.hostname)

    def message(self) -> dns.message.Message:
        """The same question as a dnspython Message (for the TCP retry of a truncated reply)."""
        query = dns.message.make_query(self.name, dns.rdatatype.RdataType.make(self.rdtype))
        query.id = self.qid
        return query

    def answered_by(self, reply: dns.message.Message | Reply) -> bool:
        """Whether `reply` answers this query: dnspython's Message.is_response for it."""
        if isinstance(reply, Reply):
            return bool(reply.flags & dns.flags.QR) and reply.qid == self.qid and \
                dns.opcode.from_flags(reply.flags) == 0 and reply.question == self.question
        if not reply.flags & dns.flags.QR or reply.id != self.qid or dns.opcode.from_flags(reply.flags) != 0:
            return False
        if not reply.question:
            return reply.rcode() in _REPLIES_WITHOUT_QUESTION
        return all(rrset.name == self.name and rrset.rdtype == self.rdtype and rrset.rdclass == dns.rdataclass.IN
                   for rrset in reply.question)


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?")


def _plain_name_wire(hostname: str) -> bytes | None:
    """The wire form of a host name of letters, digits, '-' and '_' (what kzprobe's targets
    hold, IDNs in punycode), as dns.name.from_text makes it; None for any other text."""
    if len(hostname) > 253 or not _PLAIN_NAME.fullmatch(hostname):
        return None
    labels = hostname.rstrip(".").encode("ascii").split(b".")
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\0"


# Replies that may leave out the question (dnspython accepts them as responses too).
_REPLIES_WITHOUT_QUESTION = frozenset({dns.rcode.FORMERR, dns.rcode.SERVFAIL, dns.rcode.NOTIMP, dns.rcode.REFUSED})


# A reply to our query, cut short (TC) so that it does not even parse: asked again over TCP.
TRUNCATED: Final = "truncated"


def _truncated_reply_to(query: Question, data: bytes) -> bool:
    if len(data) < 12:
        return False
    qid, flags = struct.unpack_from("!HH", data)
    return qid == query.qid and bool(flags & dns.flags.QR) and bool(flags & dns.flags.TC)


def _canonical(address: str) -> str:
    """The address as the kernel reports a sender ("0:0:0:0:0:0:0:1" -> "::1"), so that replies
    from it are recognised."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


async def _receive_reply(loop: asyncio.AbstractEventLoop, sock: socket.socket, source: tuple,
                         query: Question, until: float) -> dns.message.Message | Reply | str | None:
    """The first reply to `query` from `source` before `until` (monotonic), or None."""
    while (left := until - time.monotonic()) > 0:
        try:
            async with asyncio.timeout(left):
                data, sender = await loop.sock_recvfrom(sock, _MAX_UDP_MESSAGE)
        except TimeoutError:
            return None
        if sender[:2] != source[:2]:
            continue
        reply: dns.message.Message | Reply | None = read_reply(data)  # the common shape, read fast
        if reply is None:  # else dnspython reads it
            try:
                reply = dns.message.from_wire(data)
            except Exception:  # malformed: not the answer, unless it says it was cut short
                if _truncated_reply_to(query, data):
                    return TRUNCATED
                continue
        if query.answered_by(reply):
            return reply
    return None


# Largest UDP reply read (EDNS allows up to 64 KB; without EDNS a resolver sends 512 bytes).
_MAX_UDP_MESSAGE = 65535

# How many times a query is sent per --timeout when no reply comes (the resolver may be far).
_RESENDS_PER_TIMEOUT = 3

# A reply without addresses, by its rcode (DoH replies carry the rcode instead of raising).
_RCODE_FAILURES = {"NXDOMAIN": v.DNS_NXDOMAIN, "SERVFAIL": v.DNS_SERVFAIL, "REFUSED": v.DNS_REFUSED}


def _rcode_of_failure(exc: BaseException) -> str | None:
    errors = getattr(exc, "kwargs", {}).get("errors") or []
    for *_, response in errors:
        if response is not None and hasattr(response, "rcode"):
            return dns.rcode.to_text(response.rcode())
    return None
