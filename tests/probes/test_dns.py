"""DNS probe: resolver specs, answers and failures recorded from loopback DNS servers, and
resolvers that misbehave (a lost datagram, a truncated reply, a reply from another port)."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time

import dns.flags
import dns.message
import dns.rdatatype
import dns.rrset
import pytest

from kzprobe.probes.dns import DnsProbe, ResolverConfigError, ResolverSpec, parse_control_resolver, parse_resolver
from kzprobe.report import vocabulary as v
from support.flaky_servers import ADDRESS as FLAKY_ADDRESS
from support.flaky_servers import FlakyServers
from support.loopback import DnsTable, LoopbackServers


@pytest.mark.parametrize("text, spec", [
    ("192.0.2.53", ResolverSpec("dns", address="192.0.2.53", port=53)),
    ("192.0.2.53:5353", ResolverSpec("dns", address="192.0.2.53", port=5353)),
    ("2001:db8::53", ResolverSpec("dns", address="2001:db8::53", port=53)),
    ("[2001:db8::53]:5353", ResolverSpec("dns", address="2001:db8::53", port=5353)),
    ("https://dns.example/dns-query", ResolverSpec("doh", url="https://dns.example/dns-query")),
])
def test_resolver_specs(text, spec):
    assert parse_resolver(text) == spec


@pytest.mark.parametrize("text", ["dns.example", "1.2.3.4:0", "1.2.3.4:99999", "[::1]x", "https://", "1.2.3"])
def test_bad_resolver_specs_are_refused(text):
    with pytest.raises(ResolverConfigError):
        parse_resolver(text)


def test_control_resolver_none():
    assert parse_control_resolver("none") is None


TABLE = DnsTable({
    "site.test": ["127.0.0.5", "::1"],
    "blocked.test": "NXDOMAIN",
    "broken.test": "SERVFAIL",
    "v4only.test": ["127.0.0.6"],
    "xn--e1afmkfd.test": ["127.0.0.7"],  # пример.test
})


@pytest.fixture(scope="module")
def servers():
    with LoopbackServers("127.0.0.3", TABLE, lambda h, p: (200, {}, b""), None) as s:
        yield s


def lookup(servers, name, timeout=2.0):
    probe = DnsProbe(parse_resolver(f"127.0.0.3:{servers.dns_port}"), timeout)
    return asyncio.run(probe.lookup(name))


@pytest.mark.parametrize("name, addresses, failure", [
    ("site.test", ["127.0.0.5", "::1"], None),
    ("v4only.test", ["127.0.0.6"], None),
    ("xn--e1afmkfd.test", ["127.0.0.7"], None),
    ("blocked.test", [], v.DNS_NXDOMAIN),
    ("broken.test", [], v.DNS_SERVFAIL),
    ("unknown.test", [], v.DNS_NXDOMAIN),
])
def test_lookup_records_answers_and_failures(servers, name, addresses, failure):
    observation = lookup(servers, name)
    assert observation["addresses"] == addresses
    assert observation["failure"] == failure
    assert {q["qtype"] for q in observation["queries"]} == {"A", "AAAA"}


def test_nxdomain_rcode_is_recorded(servers):
    assert {q["rcode"] for q in lookup(servers, "blocked.test")["queries"]} == {"NXDOMAIN"}


def test_silent_resolver_is_a_dns_timeout():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.4", 0))
        probe = DnsProbe(parse_resolver(f"127.0.0.4:{silent.getsockname()[1]}"), 1.0)
        observation = asyncio.run(probe.lookup("site.test"))
    assert observation["failure"] == v.DNS_TIMEOUT and observation["addresses"] == []


def test_address_literal_skips_dns(servers):
    observation = lookup(servers, "192.0.2.10")
    assert observation["resolver"] == "literal" and observation["addresses"] == ["192.0.2.10"]


# --- resolvers that misbehave ----------------------------------------------------------------

def test_one_lost_dns_packet_is_not_a_dns_timeout():
    with FlakyServers() as servers:
        probe = DnsProbe(ResolverSpec("dns", address=FLAKY_ADDRESS, port=servers.dns_port), timeout=1.0)
        observation = asyncio.run(probe.lookup("site.test"))
    assert observation["addresses"] == [FLAKY_ADDRESS], observation


def _reply(wire: bytes, answers: int = 1) -> dns.message.Message:
    query = dns.message.from_wire(wire)
    reply = dns.message.make_response(query)
    if query.question[0].rdtype == dns.rdatatype.A:
        reply.answer.append(dns.rrset.from_text_list(query.question[0].name, 60, "IN", "A",
                                                     [f"127.0.1.{i}" for i in range(1, answers + 1)]))
    return reply


class _OddResolver:
    """A UDP (and TCP, same port) DNS server on loopback that misbehaves in one `mode` way."""

    def __init__(self, mode: str, address: str = "127.0.0.34") -> None:
        self.mode = mode
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((address, 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket()
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((address, self.port))
        self.tcp.listen(8)
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # another port, same address
        self.other.bind((address, 0))
        self.tcp_queries = 0
        self.sends: dict[bytes, int] = {}
        for job in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=job, daemon=True).start()
        self.resolver = parse_resolver(f"{address}:{self.port}")

    def _serve_udp(self) -> None:
        while True:
            try:
                data, peer = self.udp.recvfrom(4096)
            except OSError:
                return
            seen = self.sends[data] = self.sends.get(data, 0) + 1
            if self.mode == "truncated_mid_record":  # TC set, the datagram cut inside the answers
                reply = _reply(data, 40)
                reply.flags |= dns.flags.TC
                self.udp.sendto(reply.to_wire()[:100], peer)
            elif self.mode == "truncated_empty":  # TC set, the question only (what BIND sends)
                reply = dns.message.make_response(dns.message.from_wire(data))
                reply.flags |= dns.flags.TC
                self.udp.sendto(reply.to_wire(), peer)
            elif self.mode == "spoofed_port_first":
                self.other.sendto(_reply(data, 3).to_wire(), peer)  # right id, wrong source port
                time.sleep(0.05)
                self.udp.sendto(_reply(data).to_wire(), peer)
            elif self.mode == "answers_the_resend_only" and seen >= 2:
                self.udp.sendto(_reply(data).to_wire(), peer)
            elif self.mode == "answers_after_the_resend" and seen == 1:
                threading.Timer(0.45, self.udp.sendto, (_reply(data).to_wire(), peer)).start()

    def _serve_tcp(self) -> None:
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                self.tcp_queries += 1
                size = struct.unpack("!H", conn.recv(2))[0]
                data = b""
                while len(data) < size:
                    data += conn.recv(size - len(data))
                wire = _reply(data, 40).to_wire()
                conn.sendall(struct.pack("!H", len(wire)) + wire)

    def close(self) -> None:
        for sock in (self.udp, self.tcp, self.other):
            sock.close()


@pytest.fixture
def odd_resolver(request):
    server = _OddResolver(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("odd_resolver, answers", [
    ("truncated_empty", 32),           # TC with the question only: asked again over TCP (capped at 32)
    ("spoofed_port_first", 1),         # a reply from another port is not the resolver's
    ("answers_the_resend_only", 1),    # the first datagram lost: the resend (timeout/3) answered
    ("answers_after_the_resend", 1),   # the reply to the first send arrives after the resend: it counts
], indirect=["odd_resolver"])
def test_a_resolver_that_misbehaves_is_still_read_right(odd_resolver, answers):
    observation = asyncio.run(DnsProbe(odd_resolver.resolver, 0.9).lookup("site.test"))
    assert observation["failure"] is None
    assert len(observation["addresses"]) == answers


# A TC reply cut inside a record was once dropped as malformed (a timeout).
@pytest.mark.parametrize("odd_resolver", ["truncated_mid_record"], indirect=True)
def test_a_reply_truncated_inside_a_record_is_asked_again_over_tcp(odd_resolver):
    observation = asyncio.run(DnsProbe(odd_resolver.resolver, 0.9).lookup("site.test"))
    assert odd_resolver.tcp_queries >= 1
    assert observation["failure"] is None and len(observation["addresses"]) == 32


@pytest.fixture(scope="module")
def ipv6_dns():
    with LoopbackServers("::1", DnsTable({"site.test": ["127.0.0.5"]}), lambda h, p: (200, {}, b""), None) as servers:
        yield servers


def _lookup_via(address: str, port: int) -> dict:
    return asyncio.run(DnsProbe(parse_resolver(f"[{address}]:{port}"), 0.6).lookup("site.test"))


def test_an_ipv6_resolver_written_short_answers(ipv6_dns):
    assert _lookup_via("::1", ipv6_dns.dns_port)["addresses"] == ["127.0.0.5"]


# The sender's address was once compared as text with the --resolver spelling.
@pytest.mark.parametrize("written", ["0:0:0:0:0:0:0:1", "0::1", "0000::0001"])
def test_an_ipv6_resolver_written_in_another_form_answers(ipv6_dns, written):
    observation = _lookup_via(written, ipv6_dns.dns_port)
    assert observation["failure"] is None and observation["addresses"] == ["127.0.0.5"]
