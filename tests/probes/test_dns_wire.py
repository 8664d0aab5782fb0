"""probes.dns_wire reads the common reply shape without dnspython; whatever it returns must be
what the dnspython path makes of the same bytes, on well-formed and on mutated replies."""

from __future__ import annotations

import ipaddress
import random

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from kzprobe.probes.dns import Question
from kzprobe.probes.dns_wire import read_reply


def dnspython_view(data: bytes, rdtype: int):
    """(id, flags, rcode, question, addresses of rdtype) as the dnspython path reads them."""
    message = dns.message.from_wire(data)
    addresses: list[str] = []
    for rrset in message.answer:
        for rdata in rrset:
            if rrset.rdtype == rdtype:
                addresses.append(str(ipaddress.ip_address(rdata.address)))
    question = [(q.name.canonicalize().to_wire(), q.rdtype, q.rdclass) for q in message.question]
    return message.id, message.flags, message.rcode(), question, addresses


def fast_view(data: bytes, rdtype: int):
    reply = read_reply(data)
    if reply is None:
        return None
    return reply.qid, reply.flags, reply.rcode, [reply.question], reply.addresses.get(rdtype, [])


def reply_for(host: str, rdtype: int, records: list[tuple[str, str, list[str]]], rcode=dns.rcode.NOERROR) -> bytes:
    query = dns.message.make_query(host, rdtype)
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    for owner, kind, values in records:
        response.answer.append(dns.rrset.from_text_list(owner.rstrip(".") + ".", 60, "IN", kind, values))
    return response.to_wire()


SHAPES = [
    ("one address", "orda.kz", dns.rdatatype.A, [("orda.kz", "A", ["10.1.2.3"])], True),
    ("several", "orda.kz", dns.rdatatype.A, [("orda.kz", "A", ["10.1.2.3", "10.1.2.4", "10.9.9.9"])], True),
    ("AAAA", "orda.kz", dns.rdatatype.AAAA, [("orda.kz", "AAAA", ["2001:db8::1", "::ffff:1.2.3.4"])], True),
    ("no answer", "orda.kz", dns.rdatatype.AAAA, [], True),
    ("NXDOMAIN", "gone.kz", dns.rdatatype.A, [], True),
    ("other owner", "orda.kz", dns.rdatatype.A, [("orda.kz", "A", ["10.1.1.1"]), ("x.orda.kz", "A", ["10.2.2.2"])],
     True),
    ("CNAME: dnspython reads it", "www.orda.kz", dns.rdatatype.A,
     [("www.orda.kz", "CNAME", ["orda.kz."]), ("orda.kz", "A", ["10.1.2.3"])], False),
]


@pytest.mark.parametrize("label, host, rdtype, records, fast", SHAPES, ids=[s[0] for s in SHAPES])
def test_common_replies_read_alike(label, host, rdtype, records, fast):
    rcode = dns.rcode.NXDOMAIN if label == "NXDOMAIN" else dns.rcode.NOERROR
    data = reply_for(host, rdtype, records, rcode)
    assert (read_reply(data) is not None) is fast
    if fast:
        assert fast_view(data, rdtype) == dnspython_view(data, rdtype)


def test_duplicates_and_interleaved_owners_keep_dnspython_s_grouping():
    # A, A (other owner), A again (first owner), a duplicate: dnspython groups by owner in
    # order of first appearance and drops the duplicate.
    base = dns.message.make_response(dns.message.make_query("orda.kz", dns.rdatatype.A))
    wire = bytearray(base.to_wire())
    records = []
    for owner, address in (("orda.kz", "10.0.0.1"), ("b.kz", "10.0.0.2"), ("orda.kz", "10.0.0.3"),
                           ("orda.kz", "10.0.0.1")):
        name = dns.name.from_text(owner).to_wire()
        records.append(name + bytes([0, 1, 0, 1, 0, 0, 0, 60, 0, 4]) + ipaddress.ip_address(address).packed)
    wire[6:8] = len(records).to_bytes(2, "big")
    data = bytes(wire) + b"".join(records)
    assert fast_view(data, dns.rdatatype.A) == dnspython_view(data, dns.rdatatype.A)
    assert fast_view(data, dns.rdatatype.A)[4] == ["10.0.0.1", "10.0.0.3", "10.0.0.2"]


def test_mutated_replies_are_read_alike_or_left_to_dnspython():
    rnd = random.Random(2022)
    seeds = [reply_for(host, rdtype, records) for _, host, rdtype, records, _ in SHAPES]
    compared = 0
    for _ in range(20_000):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 3)):
            kind = rnd.random()
            position = rnd.randrange(len(data))
            if kind < 0.6:
                data[position] = rnd.randrange(256)
            elif kind < 0.8:
                del data[position]
            else:
                data.insert(position, rnd.randrange(256))
        data = bytes(data)
        fast = fast_view(data, dns.rdatatype.A)
        if fast is None:
            continue
        try:
            slow = dnspython_view(data, dns.rdatatype.A)
        except Exception as exc:  # the fast reader must not accept what dnspython refuses
            raise AssertionError(f"dns_wire accepted a reply dnspython refuses ({exc!r}): {data.hex()}") from None
        assert fast == slow, data.hex()
        compared += 1
    assert compared > 1000  # the comparison was not vacuous


def test_a_question_matches_only_its_own_reply():
    question = Question.of("orda.kz", dns.rdatatype.A)
    query = dns.message.make_query("orda.kz", dns.rdatatype.A)
    query.id = question.qid
    response = dns.message.make_response(query)
    assert question.answered_by(read_reply(response.to_wire()))
    response.id ^= 1
    assert not question.answered_by(read_reply(response.to_wire()))
    other = dns.message.make_query("ORDA.KZ", dns.rdatatype.AAAA)
    other.id = question.qid
    assert not question.answered_by(read_reply(dns.message.make_response(other).to_wire()))
    upper = dns.message.make_query("ORDA.KZ", dns.rdatatype.A)
    upper.id = question.qid
    assert question.answered_by(read_reply(dns.message.make_response(upper).to_wire()))
