"""DNS probe: resolver specs, and answers/failures recorded from a loopback DNS server."""

import asyncio
import socket

import pytest

from kzprobe.report import vocabulary as v
from kzprobe.probes.dns import DnsProbe, ResolverConfigError, ResolverSpec, parse_control_resolver, parse_resolver
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
