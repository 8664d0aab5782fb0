"""Resolvers are allowed to be flaky: SERVFAIL, REFUSED and silence are asked again, spaced and
bounded, every attempt recorded; a healthy lookup asks nothing more (counted, not timed)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter

import dns.message
import dns.rcode
import dns.rrset
import pytest

from kzprobe.probes import limits
from kzprobe.probes.dns import DnsProbe, parse_resolver
from kzprobe.report import vocabulary as v
from support.loopback import DnsTable, LoopbackServers


class ScriptedTable(DnsTable):
    """Answers per (name, type) from a script: the n-th query gets the n-th entry (the last one
    repeats): an address list, "NXDOMAIN", "SERVFAIL", "REFUSED", "" for no address, or "DROP"
    for no reply at all."""

    def __init__(self, scripts: dict[tuple[str, str], list]) -> None:
        super().__init__({})
        self.scripts = scripts
        self.asked: Counter = Counter()
        self._lock = threading.Lock()

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        qtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            n = self.asked[(name, qtype)]
            self.asked[(name, qtype)] += 1
        script = self.scripts.get((name, qtype), [""])
        entry = script[min(n, len(script) - 1)]
        if entry == "DROP":
            return None  # type: ignore[return-value]  # the UDP server sends nothing for None
        reply = dns.message.make_response(query)
        if isinstance(entry, str) and entry:
            reply.set_rcode(dns.rcode.from_text(entry))
        elif entry:
            reply.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", qtype, entry))
        return reply.to_wire()


def _lookup(scripts: dict, name: str, timeout: float = 2.0) -> tuple[dict, Counter, float]:
    table = ScriptedTable(scripts)
    with LoopbackServers("127.0.0.3", table, lambda h, p: (200, {}, b""), None) as servers:
        probe = DnsProbe(parse_resolver(f"127.0.0.3:{servers.dns_port}"), timeout)
        start = time.monotonic()
        observation = asyncio.run(probe.lookup(name))
        return observation, table.asked, time.monotonic() - start


def _query(observation: dict, qtype: str) -> dict:
    return next(q for q in observation["queries"] if q["qtype"] == qtype)


WAITS_MS = [round(w * 1000, 1) for w in limits.DNS_RETRY_WAITS_S]


@pytest.mark.parametrize("name, script, addresses, failure, earlier", [
    ("servfail_once_then_the_answer", ["SERVFAIL", ["127.0.0.5"]], ["127.0.0.5"], None, ["SERVFAIL"]),
    ("refused_once_then_the_answer", ["REFUSED", ["127.0.0.5"]], ["127.0.0.5"], None, ["REFUSED"]),
    ("servfail_twice_then_the_answer", ["SERVFAIL", "SERVFAIL", ["127.0.0.5"]], ["127.0.0.5"], None,
     ["SERVFAIL", "SERVFAIL"]),
    ("servfail_every_time_counts_after_the_last_attempt", ["SERVFAIL"], [], v.DNS_SERVFAIL,
     ["SERVFAIL"] * (limits.DNS_ATTEMPTS - 1)),
])
def test_a_failed_query_is_asked_again(name, script, addresses, failure, earlier):
    observation, asked, _ = _lookup({("flaky.test", "A"): script, ("flaky.test", "AAAA"): [""]}, "flaky.test")
    assert observation["addresses"] == addresses and observation["failure"] == failure
    a = _query(observation, "A")
    attempts = a.get("failed_attempts", [])
    assert [attempt["rcode"] for attempt in attempts] == earlier
    assert [attempt["waited_ms"] for attempt in attempts] == WAITS_MS[: len(earlier)]
    assert all(attempt["failure"] in (v.DNS_SERVFAIL, v.DNS_REFUSED) for attempt in attempts)
    assert asked[("flaky.test", "A")] == len(earlier) + 1
    assert asked[("flaky.test", "AAAA")] == 1  # NOERROR without an address is an answer


@pytest.mark.parametrize("name, a, aaaa", [
    ("healthy_answer", [["127.0.0.5"]], [["::1"]]),
    ("nxdomain_is_a_statement_not_a_failure", ["NXDOMAIN"], ["NXDOMAIN"]),
    ("empty_noerror_is_a_statement_not_a_failure", [""], [""]),
])
def test_answers_and_statements_are_asked_once(name, a, aaaa):
    observation, asked, _ = _lookup({("site.test", "A"): a, ("site.test", "AAAA"): aaaa}, "site.test")
    assert sum(asked.values()) == 2
    assert not any("failed_attempts" in q for q in observation["queries"])


def test_a_query_whose_sibling_brought_addresses_is_not_asked_again():
    observation, asked, _ = _lookup({("v4.test", "A"): [["127.0.0.6"]], ("v4.test", "AAAA"): ["SERVFAIL"]}, "v4.test")
    assert observation["addresses"] == ["127.0.0.6"] and observation["failure"] is None
    assert asked[("v4.test", "AAAA")] == 1


def test_a_silent_resolver_is_asked_once_more_within_one_more_timeout():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.4", 0))
        probe = DnsProbe(parse_resolver(f"127.0.0.4:{silent.getsockname()[1]}"), 1.0)
        start = time.monotonic()
        observation = asyncio.run(probe.lookup("site.test"))
        elapsed = time.monotonic() - start
    assert observation["failure"] == v.DNS_TIMEOUT
    for query in observation["queries"]:
        assert [a["failure"] for a in query["failed_attempts"]] == [v.DNS_TIMEOUT]
        assert query["failure"] == v.DNS_TIMEOUT
    # The first attempt's timeout, then at most the retry budget (one timeout) more.
    assert elapsed < 1.0 * (1 + limits.DNS_RETRY_BUDGET_TIMEOUTS) + 0.5


@pytest.mark.parametrize("name, script, sends", [
    # Issue 22, fourth round: "fails twice, then answers" with losses rather than SERVFAIL. A query
    # is resent within its attempt (every third of the timeout), so two lost datagrams cost no
    # attempt; a SERVFAIL and then a lost datagram cost one.
    ("lost_twice_then_the_answer", ["DROP", "DROP", ["127.0.0.5"]], 3),
    ("servfail_then_lost_then_the_answer", ["SERVFAIL", "DROP", ["127.0.0.5"]], 3),
])
def test_a_resolver_that_loses_queries_is_answered_in_the_end(name, script, sends):
    observation, asked, _ = _lookup({("lossy.test", "A"): script, ("lossy.test", "AAAA"): [""]}, "lossy.test",
                                    timeout=0.6)
    assert observation["addresses"] == ["127.0.0.5"] and observation["failure"] is None
    assert asked[("lossy.test", "A")] == sends


def test_retries_are_bounded_in_count_and_spaced():
    observation, asked, elapsed = _lookup({("down.test", "A"): ["SERVFAIL"], ("down.test", "AAAA"): ["SERVFAIL"]},
                                          "down.test")
    assert asked[("down.test", "A")] == asked[("down.test", "AAAA")] == limits.DNS_ATTEMPTS
    assert elapsed >= sum(limits.DNS_RETRY_WAITS_S[: limits.DNS_ATTEMPTS - 1])
    assert observation["failure"] == v.DNS_SERVFAIL
