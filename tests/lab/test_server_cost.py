"""The lab's server made cheap per request without saying anything different.

The server shares the cores with the probe it serves, so it answers a plain DNS query from the
answer section it keeps per (name, type) instead of parsing and rendering with dnspython, and
builds TLS contexts and fixed pages before it reports ready. Each shortcut is held here to the
bytes the dnspython path (`reference_answer`) or the first-use path would have sent.
"""

from __future__ import annotations

import logging
import random
import time

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from kzprobe.lab import pages
from kzprobe.lab import site_spec as m
from kzprobe.lab.certs import CertificateFactory
from kzprobe.lab.serve import _LogFormatter
from kzprobe.lab.servers.dns import LabResolver, _plain_query
from kzprobe.lab.servers.web import WebServer, _http_date

TABLE = {
    "answer.kzlab.test": {"action": m.DNS_ANSWER, "a": ["88.198.1.1"], "aaaa": ["2a01:4f8:c0de::1"]},
    "other.kzlab.test": {"action": m.DNS_ANSWER, "a": ["88.198.1.2"], "aaaa": ["2a01:4f8:c0de::2"]},
    "spoof.kzlab.test": {"action": m.DNS_SPOOF, "a": ["127.0.0.1"], "aaaa": []},
    "nx.kzlab.test": {"action": m.DNS_NXDOMAIN, "a": [], "aaaa": []},
    "fail.kzlab.test": {"action": m.DNS_SERVFAIL, "a": [], "aaaa": []},
    "empty.kzlab.test": {"action": m.DNS_NO_ANSWER, "a": ["88.198.1.1"], "aaaa": []},
    "drop.kzlab.test": {"action": m.DNS_TIMEOUT, "a": [], "aaaa": []},
    "under_score-1.kzlab.test": {"action": m.DNS_ANSWER, "a": ["88.198.1.9"], "aaaa": []},
    # two addresses (one written twice): dnspython shuffles their order per reply
    "two.kzlab.test": {"action": m.DNS_ANSWER, "a": ["88.198.1.1", "88.198.1.2", "88.198.1.1"], "aaaa": []},
}
NAMES = [*TABLE, "unknown.kzlab.test", "AnSwEr.KzLab.TEST", "answer.kzlab.test.", "a" * 63 + ".kzlab.test"]
TYPES = ["A", "AAAA", "TXT", "MX", "ANY", "CNAME", "HTTPS", "PTR", 0, 65535]
# (what the client sends, make_query arguments, header flags)
SHAPES = [
    ("stub query, RD", {}, dns.flags.RD),
    ("no RD", {}, 0),
    ("CD and AD set (not echoed)", {}, dns.flags.RD | dns.flags.CD | dns.flags.AD),
    ("EDNS, default payload", {"use_edns": 0}, dns.flags.RD),
    ("EDNS 1232, DO bit", {"use_edns": 0, "payload": 1232, "want_dnssec": True}, dns.flags.RD),
    ("EDNS with an option (dnspython path)", {"use_edns": 0, "options": [dns.edns.GenericOption(12, b"")]},
     dns.flags.RD),
    ("EDNS payload below 512 (dnspython path)", {"use_edns": 0, "payload": 100}, dns.flags.RD),
]


def _query(name: str, rdtype, shape: dict, flags: int, query_id: int | None = None) -> bytes:
    query = dns.message.make_query(name, rdtype, **shape)
    query.flags = flags
    if query_id is not None:
        query.id = query_id
    return query.to_wire()


def _outcome(call, wire: bytes, seed: int):
    """What `call` does with `wire`: its reply, or the class of the exception it raised. The
    same seed for both paths, since dnspython shuffles several records with `random`."""
    random.seed(seed)
    try:
        return call(wire)
    except Exception as exc:  # noqa: BLE001 - the dnspython path's failures must be the same too
        return type(exc)


@pytest.mark.parametrize("label, shape, flags", SHAPES, ids=[s[0] for s in SHAPES])
def test_every_reply_is_the_dnspython_reply_byte_for_byte(label, shape, flags):
    resolver = LabResolver("127.0.0.1", TABLE, "test")
    for seed, (name, rdtype) in enumerate((n, t) for n in NAMES for t in TYPES):
        wire = _query(name, rdtype, shape, flags)
        for _ in range(2):  # first time worked out, then kept
            assert _outcome(resolver.answer, wire, seed) == _outcome(resolver.reference_answer, wire, seed), \
                (label, name, rdtype)


@pytest.mark.parametrize("name, rdtype, rcode, answers", [
    ("answer.kzlab.test", "A", dns.rcode.NOERROR, ["88.198.1.1"]),
    ("answer.kzlab.test", "AAAA", dns.rcode.NOERROR, ["2a01:4f8:c0de::1"]),
    ("spoof.kzlab.test", "A", dns.rcode.NOERROR, ["127.0.0.1"]),
    ("nx.kzlab.test", "A", dns.rcode.NXDOMAIN, []),
    ("unknown.kzlab.test", "AAAA", dns.rcode.NXDOMAIN, []),
    ("fail.kzlab.test", "A", dns.rcode.SERVFAIL, []),
    ("empty.kzlab.test", "A", dns.rcode.NOERROR, []),
])
def test_a_kept_reply_carries_each_querys_own_id_and_question(name, rdtype, rcode, answers):
    resolver = LabResolver("127.0.0.1", TABLE, "test")
    for query_id in (0, 1, 0x1234, 0xFFFF, 0x1234):
        wire = _query(name.upper() if query_id == 1 else name, rdtype, {}, dns.flags.RD, query_id)
        reply = dns.message.from_wire(resolver.answer(wire))
        assert reply.id == query_id
        assert reply.question == dns.message.from_wire(wire).question
        assert reply.question[0].name.to_text() == dns.message.from_wire(wire).question[0].name.to_text()  # case kept
        assert reply.rcode() == rcode
        assert [r.to_text() for rrset in reply.answer for r in rrset] == answers


def test_no_query_gets_another_querys_reply():
    resolver = LabResolver("127.0.0.1", TABLE, "test")
    asked = [(n, t, i) for i, (n, t) in enumerate((n, t) for n in ("answer.kzlab.test", "other.kzlab.test",
                                                                   "nx.kzlab.test") for t in ("A", "AAAA"))]
    for _ in range(3):  # interleaved, repeated: every reply is for its own name, type and ID
        for name, rdtype, query_id in asked:
            reply = dns.message.from_wire(resolver.answer(_query(name, rdtype, {}, dns.flags.RD, query_id)))
            assert (reply.id, reply.question[0].name.to_text(True), reply.question[0].rdtype) == \
                (query_id, name, dns.rdatatype.from_text(rdtype))
    a = dns.message.from_wire(resolver.answer(_query("answer.kzlab.test", "A", {}, dns.flags.RD)))
    b = dns.message.from_wire(resolver.answer(_query("other.kzlab.test", "A", {}, dns.flags.RD)))
    assert a.answer[0][0].to_text() == "88.198.1.1" and b.answer[0][0].to_text() == "88.198.1.2"


def test_a_dropped_name_stays_silent_every_time():
    resolver = LabResolver("127.0.0.1", TABLE, "test")
    for query_id in (1, 2, 1):
        assert resolver.answer(_query("drop.kzlab.test", "A", {}, dns.flags.RD, query_id)) is None


def test_several_addresses_still_come_in_a_new_order():
    resolver = LabResolver("127.0.0.1", TABLE, "test")
    orders = {tuple(r.to_text() for r in dns.message.from_wire(resolver.answer(
        _query("two.kzlab.test", "A", {}, dns.flags.RD))).answer[0]) for _ in range(64)}
    assert orders == {("88.198.1.1", "88.198.1.2"), ("88.198.1.2", "88.198.1.1")}


def test_mangled_queries_get_what_dnspython_gives_them():
    resolver = LabResolver("127.0.0.1", TABLE, "test")
    seeds = [_query(n, t, shape, dns.flags.RD) for n in ("answer.kzlab.test", "drop.kzlab.test", "x.kzlab.test")
             for t in ("A", "AAAA") for shape in ({}, {"use_edns": 0})]
    rng = random.Random(7)
    for i in range(5000):
        wire = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            if not wire:
                break
            where = rng.randrange(len(wire))
            if rng.random() < 0.7:
                wire[where] = rng.randrange(256)
            else:
                del wire[where:]
        assert _outcome(resolver.answer, bytes(wire), i) == _outcome(resolver.reference_answer, bytes(wire), i), \
            bytes(wire).hex()
    assert resolver.answer(b"") is None and resolver.answer(b"\x00\x01garbage") is None


@pytest.mark.parametrize("label, wire, plain", [
    ("stub query", _query("answer.kzlab.test", "A", {}, dns.flags.RD), True),
    ("EDNS without options", _query("answer.kzlab.test", "A", {"use_edns": 0}, dns.flags.RD), True),
    ("a response, not a query", _query("answer.kzlab.test", "A", {}, dns.flags.QR), False),
    ("compressed name", bytes.fromhex("1234010000010000000000000161c00c00010001"), False),
    ("a label of 64 bytes (a reserved label type)",
     bytes.fromhex("123401000001000000000000") + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01", False),
    ("escaped character in a label", _query("a\\.b.kzlab.test", "A", {}, dns.flags.RD), False),
    ("trailing bytes", _query("answer.kzlab.test", "A", {}, dns.flags.RD) + b"\x00", False),
    ("class CH", bytes.fromhex("12340100000100000000000001610000010003"), False),
])
def test_only_plain_queries_skip_dnspython(label, wire, plain):
    assert (_plain_query(wire) is not None) == plain


def test_every_question_is_still_logged(caplog):
    resolver = LabResolver("127.0.0.1", TABLE, "isp")
    with caplog.at_level(logging.INFO, logger="kzprobe.lab.dns"):
        for name in ("answer.kzlab.test", "answer.kzlab.test", "drop.kzlab.test", "Nx.kzlab.test"):
            resolver.answer(_query(name, "A", {}, dns.flags.RD))
        resolver.answer(_query("two.kzlab.test", "AAAA", {"use_edns": 0, "options": [dns.edns.GenericOption(12, b"")]},
                               dns.flags.RD))
    assert [r.getMessage() for r in caplog.records] == [
        "isp A answer.kzlab.test -> answer", "isp A answer.kzlab.test -> answer",
        "isp A drop.kzlab.test -> timeout", "isp A nx.kzlab.test -> nxdomain", "isp AAAA two.kzlab.test -> answer"]


def test_the_table_cannot_change_under_kept_replies():
    resolver = LabResolver("127.0.0.1", TABLE, "test")
    with pytest.raises(TypeError):
        resolver.records["answer.kzlab.test"] = {"action": m.DNS_NXDOMAIN, "a": [], "aaaa": []}  # type: ignore[index]


# -- web: built before ready, served as on first use


def _web(tmp_path) -> WebServer:
    factory = CertificateFactory(tmp_path)
    hosts = ["pass.kzlab.test", "mitm.kzlab.test", "reset.kzlab.test", "dynamic.kzlab.test"]
    for host in hosts:
        factory.leaf(host)
    factory.forged("mitm.kzlab.test")
    factory.leaf("blockpage.kzlab.test")

    def site(tls: str, page: str = m.PAGE_STANDARD) -> dict:
        return {"page": page, "https_redirect": False, "download_bytes": None, "tls": tls, "http": m.HTTP_PASS,
                "rate": None, "burst": None, "delay": 0}

    ports = [{"port": 80, "tls": False}, {"port": 443, "tls": True}]
    return WebServer({
        "listeners": [{"address": "127.0.0.1", "server": "site", "hosts": hosts, "ports": ports},
                      {"address": "127.0.0.2", "server": "blockpage", "hosts": [], "ports": ports}],
        "sites": {"pass.kzlab.test": site(m.TLS_PASS), "mitm.kzlab.test": site(m.TLS_MITM),
                  "reset.kzlab.test": site(m.TLS_RESET), "dynamic.kzlab.test": site(m.TLS_PASS, m.PAGE_DYNAMIC)},
        "blockpage_host": "blockpage.kzlab.test",
    }, tmp_path)


def test_tls_contexts_for_handshakes_that_happen_are_built_before_ready(tmp_path):
    web = _web(tmp_path)
    web._prepare()
    assert sorted(web._contexts) == sorted(str(tmp_path / name) for name in (
        "pass.kzlab.test.pem", "mitm.kzlab.test.qaznet.pem", "dynamic.kzlab.test.pem", "blockpage.kzlab.test.pem"))


def test_fixed_pages_are_built_before_ready_and_dynamic_ones_stay_fresh(tmp_path):
    web = _web(tmp_path)
    web._prepare()
    assert web._page(m.PAGE_STANDARD, "pass.kzlab.test") == pages.standard_page("pass.kzlab.test")
    assert sorted(web._pages) == ["mitm.kzlab.test", "pass.kzlab.test", "reset.kzlab.test"]
    assert web._page(m.PAGE_DYNAMIC, "dynamic.kzlab.test") != web._page(m.PAGE_DYNAMIC, "dynamic.kzlab.test")


def test_http_date_is_the_current_second():
    import email.utils

    before = email.utils.formatdate(time.time(), usegmt=True)
    date = _http_date()
    after = email.utils.formatdate(time.time(), usegmt=True)
    assert date in (before, after) and date.endswith(" GMT")


def test_log_lines_keep_the_standard_time_stamp():
    record = logging.LogRecord("kzprobe.lab.dns", logging.INFO, __file__, 1, "isp A x -> answer", None, None)
    fmt = "%(asctime)s inside %(message)s"
    ours = _LogFormatter(fmt)
    assert ours.format(record) == logging.Formatter(fmt).format(record)
    assert ours.format(record) == logging.Formatter(fmt).format(record)  # the second from the cache
