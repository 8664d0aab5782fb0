"""The vantage's ASN and country over DNS: an echo server for the public address, Team Cymru's
zone for its origin. Answers come from a loopback DNS server started per test (never the real
services: the network guard fails a test that tries); every bad answer leaves the fields null."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from kzprobe.probes.dns import ResolverSpec
from kzprobe.vantage.geo import (
    DEFAULT_ECHO_SERVERS,
    ECHO_SERVERS_ENV,
    GEO_DEADLINE_QUERIES,
    CymruZones,
    EchoServer,
    VantageNetwork,
    best_origin,
    configured_echo_servers,
    cymru_query_name,
    lookup_network,
    parse_cymru_origin,
    parse_echoed_address,
    txt_lookup_via,
)

ZONES = CymruZones(ipv4="origin.asn.test", ipv6="origin6.asn.test")
HOME_V4 = "2.72.1.1"  # what the echo server "sees": a Kazakhtelecom address
HOME_V6 = "2a01:4f8::1"
KZ_ORIGIN = "9198 | 2.72.0.0/13 | KZ | ripencc | 2006-04-11"
V4_NAME = "1.1.72.2.origin.asn.test"
V6_NAME = cymru_query_name(HOME_V6, ZONES)


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize("address, name", [
    ("2.72.1.1", "1.1.72.2.origin.asn.cymru.com"),
    ("2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.origin6.asn.cymru.com"),
])
def test_cymru_query_names(address, name):
    assert cymru_query_name(address) == name


@pytest.mark.parametrize("text, expected", [
    (KZ_ORIGIN, ("AS9198", "2.72.0.0/13", "KZ")),
    ("9198|2.72.0.0/13|KZ|ripencc|2006-04-11", ("AS9198", "2.72.0.0/13", "KZ")),
    ("9198 | 2.72.0.0/13 | KZ | ripencc | ", ("AS9198", "2.72.0.0/13", "KZ")),  # no allocation date
    ("15169 36040 | 2.72.0.0/16 | US | arin | 2000-03-30", ("AS15169", "2.72.0.0/16", "US")),  # two origins
    ("9198 | 2.72.0.0/13 | ZZ | ripencc | 2006-04-11", ("AS9198", "2.72.0.0/13", None)),  # "unknown"
    ("9198 | 2.72.0.0/13 |  | ripencc | 2006-04-11", ("AS9198", "2.72.0.0/13", None)),
    ("4200000000 | 2.72.0.0/13 | KZ | ripencc | 2006-04-11", ("AS4200000000", "2.72.0.0/13", "KZ")),
])
def test_good_cymru_answers(text, expected):
    origin = parse_cymru_origin(text, HOME_V4)
    assert (origin.asn, str(origin.prefix), origin.country) == expected


@pytest.mark.parametrize("text, why", [
    ("", "empty"),
    ("hello", "not the format"),
    ("9198 | 2.72.0.0/13 | KZ | ripencc", "four fields"),
    ("9198 | 2.72.0.0/13 | KZ | ripencc | 2006-04-11 | extra", "six fields"),
    ("AS9198 | 2.72.0.0/13 | KZ | ripencc | 2006-04-11", "ASN with a prefix"),
    ("0 | 2.72.0.0/13 | KZ | ripencc | 2006-04-11", "ASN zero"),
    ("4294967296 | 2.72.0.0/13 | KZ | ripencc | 2006-04-11", "ASN beyond 32 bits"),
    (" | 2.72.0.0/13 | KZ | ripencc | 2006-04-11", "no ASN"),
    ("9198 | 8.8.8.0/24 | KZ | ripencc | 2006-04-11", "prefix not holding the address"),
    ("9198 | 2.72.0.1/13 | KZ | ripencc | 2006-04-11", "host bits set"),
    ("9198 | 2001:db8::/32 | KZ | ripencc | 2006-04-11", "other family"),
    ("9198 | 2.72.0.0/13 | Kazakhstan | ripencc | 2006-04-11", "country not a code"),
    ("9198 | 2.72.0.0/13 | kz | ripencc | 2006-04-11", "lower-case code"),
    ("9198 | 2.72.0.0/13 | KZ | RIPE NCC | 2006-04-11", "registry not a word"),
    ("9198 | 2.72.0.0/13 | KZ | ripencc | yesterday", "date not a date"),
    ("9198 | 2.72.0.0/13 | \x1b[31mKZ | ripencc | 2006-04-11", "escape sequence"),
    ("9198 | 2.72.0.0/13 | KZ | ripencc | 2006-04-11" + " " * 600, "too long"),
])
def test_garbage_cymru_answers(text, why):
    assert parse_cymru_origin(text, HOME_V4) is None, why


def test_the_most_specific_prefix_wins():
    texts = ["9198 | 2.72.0.0/13 | KZ | ripencc | 2006-04-11",
             "garbage",
             "48503 | 2.72.1.0/24 | KZ | ripencc | 2010-01-01"]
    assert best_origin(texts, HOME_V4).asn == "AS48503"


@pytest.mark.parametrize("texts, family, expected", [
    ([HOME_V4], 4, HOME_V4),
    ([HOME_V4, "edns0-client-subnet 2.72.1.0/24"], 4, HOME_V4),  # Google adds the ECS it saw
    ([HOME_V4, HOME_V4], 4, HOME_V4),
    ([HOME_V4, "2.72.9.9"], 4, None),  # two answers contradict each other
    (["192.168.1.5"], 4, None),  # a private "public address": a middlebox answered
    (["100.64.0.1"], 4, None),  # carrier-grade NAT space
    (["127.0.0.1"], 4, None),
    ([HOME_V6], 4, None),  # wrong family for the transport
    ([HOME_V6], 6, HOME_V6),
    (["not an address"], 4, None),
    ([], 4, None),
])
def test_echoed_addresses(texts, family, expected):
    assert parse_echoed_address(texts, family) == expected


def test_the_address_is_never_part_of_what_is_stored_or_printed():
    network = VantageNetwork("AS9198", "KZ", frozenset({HOME_V4}))
    assert network.fields() == {"asn": "AS9198", "country": "KZ"}
    assert HOME_V4 not in repr(network)


def test_default_echo_servers_are_literals_of_both_families():
    assert {server.family for server in DEFAULT_ECHO_SERVERS} == {4, 6}
    for server in DEFAULT_ECHO_SERVERS:
        ipaddress.ip_address(server.address)


# --- a loopback DNS server with TXT ------------------------------------------------------


class TableDns(asyncio.DatagramProtocol):
    """Answers (name, type) from a table: a list of values, an rcode name, "drop" (silence) or
    "garbage" (bytes that are not DNS). Unlisted names are NXDOMAIN."""

    def __init__(self, table: dict) -> None:
        self.table = table
        self.asked: list[tuple[str, str]] = []

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        query = dns.message.from_wire(data)
        question = query.question[0]
        qtype = dns.rdatatype.to_text(question.rdtype)
        key = (question.name.to_text().rstrip(".").lower(), qtype)
        self.asked.append(key)
        entry = self.table.get(key, "NXDOMAIN")
        if entry == "drop":
            return
        if entry == "garbage":
            self.transport.sendto(b"\x12\x34not dns at all", addr)
            return
        reply = dns.message.make_response(query)
        if isinstance(entry, str):
            reply.set_rcode(dns.rcode.from_text(entry))
        else:
            values = [f'"{value}"' for value in entry] if qtype == "TXT" else entry
            reply.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", qtype, values))
        self.transport.sendto(reply.to_wire(), addr)


async def start_dns(table: dict, host: str) -> tuple[asyncio.DatagramTransport, TableDns, int]:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(lambda: TableDns(table), local_addr=(host, 0))
    return transport, server, transport.get_extra_info("sockname")[1]


def run_lookup(v4_echo: dict, v6_echo: dict, cymru: dict, *, timeout: float = 1.0,
               two_v4_servers: bool = False) -> tuple[VantageNetwork, list, float]:
    """lookup_network against loopback servers: an IPv4 echo server on 127.0.0.1 (OpenDNS style,
    then a Google-style TXT one when `two_v4_servers`), an IPv6 one on ::1, a resolver for Cymru."""

    async def main():
        v4, v4_server, v4_port = await start_dns(v4_echo, "127.0.0.1")
        v6, v6_server, v6_port = await start_dns(v6_echo, "::1")
        resolver, resolver_server, resolver_port = await start_dns(cymru, "127.0.0.1")
        servers = [EchoServer("127.0.0.1", "myip.opendns.test", "A", v4_port)]
        if two_v4_servers:
            servers.append(EchoServer("127.0.0.1", "o-o.myaddr.google.test", "TXT", v4_port))
        servers.append(EchoServer("::1", "myip.opendns.test", "AAAA", v6_port))
        started = time.monotonic()
        try:
            network = await lookup_network(
                txt_lookup_via(ResolverSpec("dns", address="127.0.0.1", port=resolver_port), timeout),
                echo_servers=servers, zones=ZONES, timeout=timeout,
            )
        finally:
            for transport in (v4, v6, resolver):
                transport.close()
        asked = v4_server.asked + v6_server.asked + resolver_server.asked
        return network, asked, time.monotonic() - started

    return asyncio.run(main())


V4_ECHO = {("myip.opendns.test", "A"): [HOME_V4]}
V6_ECHO = {("myip.opendns.test", "AAAA"): [HOME_V6]}
NO_V6 = {("myip.opendns.test", "AAAA"): "REFUSED"}
CYMRU_KZ = {(V4_NAME, "TXT"): [KZ_ORIGIN]}


@pytest.mark.parametrize("v4_echo, v6_echo, cymru, asn, country, addresses", [
    # The usual vantage: IPv4 only, Kazakhtelecom.
    (V4_ECHO, NO_V6, CYMRU_KZ, "AS9198", "KZ", {HOME_V4}),
    # Dual stack: the ASN from IPv4, both addresses for the scrubber.
    (V4_ECHO, V6_ECHO, CYMRU_KZ, "AS9198", "KZ", {HOME_V4, HOME_V6}),
    # IPv6 only: the origin6 zone with reversed nibbles.
    ({}, V6_ECHO, {(V6_NAME, "TXT"): ["24940 | 2a01:4f8::/32 | DE | ripencc | 2007-11-05"]}, "AS24940", "DE",
     {HOME_V6}),
    # IPv4's Cymru answer is garbage, IPv6's is good: the second family is tried.
    (V4_ECHO, V6_ECHO, {(V4_NAME, "TXT"): ["garbage"],
                        (V6_NAME, "TXT"): ["24940 | 2a01:4f8::/32 | DE | ripencc | 2007-11-05"]}, "AS24940", "DE",
                        {HOME_V4, HOME_V6}),
    # Cymru answers garbage / a prefix elsewhere / NXDOMAIN / SERVFAIL: unknown, but the address
    # is still known to the scrubber.
    (V4_ECHO, NO_V6, {(V4_NAME, "TXT"): ["hello world"]}, None, None, {HOME_V4}),
    (V4_ECHO, NO_V6, {(V4_NAME, "TXT"): ["15169 | 8.8.8.0/24 | US | arin | 1992-12-01"]}, None, None, {HOME_V4}),
    (V4_ECHO, NO_V6, {}, None, None, {HOME_V4}),
    (V4_ECHO, NO_V6, {(V4_NAME, "TXT"): "SERVFAIL"}, None, None, {HOME_V4}),
    # The echo server answers a private address (a middlebox), or nothing usable.
    ({("myip.opendns.test", "A"): ["10.1.2.3"]}, NO_V6, CYMRU_KZ, None, None, set()),
    ({("myip.opendns.test", "A"): "NXDOMAIN"}, NO_V6, CYMRU_KZ, None, None, set()),
    ({("myip.opendns.test", "A"): "garbage"}, NO_V6, CYMRU_KZ, None, None, set()),
])
def test_lookup_table(v4_echo, v6_echo, cymru, asn, country, addresses):
    network, _, _ = run_lookup(v4_echo, v6_echo, cymru)
    assert (network.asn, network.country) == (asn, country)
    assert network.public_addresses == addresses
    assert (network.failure is None) == (asn is not None)


def test_the_second_echo_server_is_asked_when_the_first_fails():
    echo = {("myip.opendns.test", "A"): "SERVFAIL",
            ("o-o.myaddr.google.test", "TXT"): [HOME_V4, "edns0-client-subnet 2.72.1.0/24"]}
    network, asked, _ = run_lookup(echo, NO_V6, CYMRU_KZ, two_v4_servers=True)
    assert network.fields() == {"asn": "AS9198", "country": "KZ"}
    assert ("o-o.myaddr.google.test", "TXT") in asked


def test_the_first_good_echo_server_is_enough():
    echo = {**V4_ECHO, ("o-o.myaddr.google.test", "TXT"): [HOME_V4]}
    _, asked, _ = run_lookup(echo, NO_V6, CYMRU_KZ, two_v4_servers=True)
    assert ("o-o.myaddr.google.test", "TXT") not in asked


def test_silent_servers_time_out_and_leave_the_fields_null():
    timeout = 0.3
    network, _, elapsed = run_lookup({("myip.opendns.test", "A"): "drop"},
                                     {("myip.opendns.test", "AAAA"): "drop"}, CYMRU_KZ, timeout=timeout)
    assert network.fields() == {"asn": None, "country": None}
    assert network.failure in ("dns_timeout_error", "generic_timeout_error")
    assert elapsed < GEO_DEADLINE_QUERIES * timeout + 0.5


def test_a_silent_cymru_resolver_keeps_the_deadline():
    timeout = 0.3
    network, _, elapsed = run_lookup(V4_ECHO, {("myip.opendns.test", "AAAA"): "drop"},
                                     {(V4_NAME, "TXT"): "drop"}, timeout=timeout)
    assert network.fields() == {"asn": None, "country": None}
    assert network.public_addresses == {HOME_V4}
    assert elapsed < GEO_DEADLINE_QUERIES * timeout + 0.5


def test_a_slow_ipv6_echo_does_not_cost_the_ipv4_answer():
    """IPv6 packets silently dropped (a common broken setup): the ASN still comes from IPv4."""
    network, _, _ = run_lookup(V4_ECHO, {("myip.opendns.test", "AAAA"): "drop"}, CYMRU_KZ, timeout=0.3)
    assert network.fields() == {"asn": "AS9198", "country": "KZ"}


# --- other echo servers (KZPROBE_GEO_ECHO) ------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("208.67.222.222 myip.opendns.com A", (EchoServer("208.67.222.222", "myip.opendns.com", "A"),)),
    ("10.0.0.53:5353 o-o.myaddr.test. txt", (EchoServer("10.0.0.53", "o-o.myaddr.test", "TXT", 5353),)),
    ("[fd77::1]:53 myip.nat.test AAAA, 2620:0:ccc::2 myip.opendns.com AAAA",
     (EchoServer("fd77::1", "myip.nat.test", "AAAA"), EchoServer("2620:0:ccc::2", "myip.opendns.com", "AAAA"))),
])
def test_echo_servers_from_the_environment(text, expected):
    assert configured_echo_servers({ECHO_SERVERS_ENV: text}) == expected


@pytest.mark.parametrize("text, complaint", [
    ("208.67.222.222 myip.opendns.com", "ADDRESS[:PORT] NAME"),
    ("208.67.222.222 myip.opendns.com MX", "ADDRESS[:PORT] NAME"),
    ("resolver1.opendns.com myip.opendns.com A", "not an address"),
    ("208.67.222.256 myip.opendns.com A", "not an IP address"),
    ("208.67.222.222:70000 myip.opendns.com A", "out of range"),
])
def test_a_bad_echo_server_entry_is_named(text, complaint):
    with pytest.raises(ValueError, match=re.escape(complaint)):
        configured_echo_servers({ECHO_SERVERS_ENV: text})


def test_without_the_variable_the_public_echo_servers_are_asked():
    assert configured_echo_servers({}) == DEFAULT_ECHO_SERVERS
    assert configured_echo_servers({ECHO_SERVERS_ENV: "  "}) == DEFAULT_ECHO_SERVERS
