"""probes.dns.Question: the plain query kzprobe sends, built without a dnspython Message,
must be the bytes make_query builds and must accept exactly the replies is_response accepts."""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from kzprobe.probes.dns import Question

HOSTS = ["healthy-00001.bench.kzlab.test", "xn--80aaeiq2ahh.xn--p1ai", "orda.kz", "a.b"]


def pair(host: str, rdtype: int) -> tuple[Question, dns.message.Message]:
    question = Question.of(host, rdtype)
    message = dns.message.make_query(host, rdtype)
    message.id = question.qid
    return question, message


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("rdtype", [dns.rdatatype.A, dns.rdatatype.AAAA])
def test_the_query_is_the_bytes_make_query_sends(host, rdtype):
    question, message = pair(host, rdtype)
    assert question.wire == message.to_wire()
    assert question.message().to_wire() == message.to_wire()


def _reply(message: dns.message.Message, change) -> dns.message.Message:
    reply = dns.message.make_response(message)
    change(reply)
    return reply


def _other_question(reply: dns.message.Message) -> None:
    reply.question = dns.message.make_query("other.test", dns.rdatatype.A).question


def _no_question(rcode):
    def change(reply: dns.message.Message) -> None:
        reply.question = []
        reply.set_rcode(rcode)
    return change


@pytest.mark.parametrize("change, accepted", [
    pytest.param(lambda r: None, True, id="the answer"),
    pytest.param(lambda r: setattr(r, "id", r.id ^ 1), False, id="another id"),
    pytest.param(_other_question, False, id="another question (an injector's guess)"),
    pytest.param(lambda r: setattr(r, "flags", r.flags & ~dns.flags.QR), False, id="not a response"),
    pytest.param(_no_question(dns.rcode.SERVFAIL), True, id="SERVFAIL without question"),
    pytest.param(_no_question(dns.rcode.REFUSED), True, id="REFUSED without question"),
    pytest.param(_no_question(dns.rcode.NOERROR), False, id="NOERROR without question"),
])
@pytest.mark.parametrize("rdtype", [dns.rdatatype.A, dns.rdatatype.AAAA])
def test_replies_accepted_are_those_dnspython_accepts(change, accepted, rdtype):
    question, message = pair("orda.kz", rdtype)
    reply = _reply(message, change)
    assert question.answered_by(reply) is accepted
    assert message.is_response(reply) is accepted


def test_names_compare_without_case():
    question, _ = pair("orda.kz", dns.rdatatype.A)
    upper = dns.message.make_query("ORDA.KZ", dns.rdatatype.A)
    upper.id = question.qid
    assert question.answered_by(dns.message.make_response(upper))
