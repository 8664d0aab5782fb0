"""A resolver for the lab's names, over UDP and TCP: honest, or lying per name like an ISP's.

Each resolver holds a table name -> record ({"action", "a", "aaaa"}) written by the plan:
"answer" and "spoof" answer the listed addresses, "nxdomain", "servfail" and "no_answer" answer
with that outcome, "timeout" drops the query, "flaky" answers SERVFAIL to every other query for
the name and type (the first, the third, ...) and the addresses to the rest. Names outside the
table do not exist - unless the resolver has a default record, which answers every other name
(a captive portal's resolver sends every name to the portal).

The lab's server shares the cores with the probe it serves, so its CPU slows what the probe
measures: a scan asks each resolver thousands of queries, and parsing and rendering each with
dnspython costs ~0.1 ms. So a plain query - one question of class IN, its name written out,
at most an EDNS record without options, as stub resolvers send - is read and answered here
(~5 us): the query's ID, RD flag and question, then the answer section kept per (name, type)
(the table is fixed for the life of the lab), byte for byte what dnspython sends
(`reference_answer`; tests/lab/test_server_cost.py compares the two on every shape). Anything
else takes the dnspython path, and so do answers of several addresses, whose order dnspython
shuffles per reply as resolvers do.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import struct
import types
from collections.abc import Mapping
from typing import Any, Final, NamedTuple, cast

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from kzprobe.lab import site_spec as m

log = logging.getLogger("kzprobe.lab.dns")

TTL: Final = 60
# A TCP client may send several queries on one connection; bound them and the idle wait.
_TCP_QUERIES_PER_CONNECTION: Final = 32
_TCP_IDLE_S: Final = 10.0
_MAX_MESSAGE: Final = 4096
# Questions whose replies are kept. A lab has a few names per site; the bound only stops a
# client asking endless names that do not exist from growing the server.
_KEPT_QUESTIONS: Final = 1 << 16
# UDP receive buffer of a resolver socket: a scan's burst of queries waits in the kernel while
# the server is busy instead of being dropped (which the probe would record as a DNS timeout).
# The kernel caps SO_RCVBUF at net.core.rmem_max; SO_RCVBUFFORCE (root) is not capped.
UDP_RECEIVE_BUFFER: Final = 4 * 1024 * 1024
_SO_RCVBUFFORCE: Final = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux's value

# -- the wire format of a plain query (RFC 1035 4.1, RFC 6891 6.1)
_HEADER: Final = struct.Struct("!6H")  # id, flags, qdcount, ancount, nscount, arcount
_TYPE_CLASS: Final = struct.Struct("!2H")
_QR: Final = 0x8000
_OPCODE: Final = 0x7800
_RD: Final = 0x0100
_RA: Final = 0x0080
_MAX_LABEL: Final = 63
_MAX_NAME: Final = 255
_CLASSIC_UDP: Final = 512  # the smallest reply size a client may advertise (RFC 6891 6.2.5)
# Labels dnspython prints as they are (no escapes), so the table key is just their text.
_PLAIN_LABEL: Final = re.compile(rb"[A-Za-z0-9_-]+")
# A resource record after its owner name: type, class, TTL, rdlength (for EDNS's OPT record:
# type, UDP payload size, extended rcode/version/flags, rdlength).
_RR_FIXED: Final = struct.Struct("!HHIH")
_OWNER_IS_QUESTION: Final = b"\xc0\x0c"  # a compression pointer to the question's name, at offset 12
_RCODES: Final = {m.DNS_NXDOMAIN: dns.rcode.NXDOMAIN, m.DNS_SERVFAIL: dns.rcode.SERVFAIL}
_ADDRESS_KEYS: Final[dict[int, str]] = {dns.rdatatype.A: "a", dns.rdatatype.AAAA: "aaaa"}
# dnspython's EDNS reply (make_response): root name, OPT, payload 8192, version 0, no flags or options.
_OPT_REPLY: Final = b"\x00" + _RR_FIXED.pack(dns.rdatatype.OPT, 8192, 0, 0)


def _rdtype(value: int) -> dns.rdatatype.RdataType:
    """A type number read off the wire, typed as dnspython's enum: its functions take any number
    (unknown ones are TYPEn), so no conversion that could fail on an unknown type."""
    return cast(dns.rdatatype.RdataType, value)


class _Reply(NamedTuple):
    """What a resolver says to one question, without the query's own bytes."""

    silent: bool  # a dropped query: no reply
    rcode: int
    ancount: int
    answers: bytes | None  # the answer section, owners compressed to the question (offset 12);
    # None: rendered per query by dnspython (several records, in a new order each time)
    log_line: str


class _PlainQuery(NamedTuple):
    id: int
    rd: int  # the query's RD bit, which the reply copies
    question: bytes  # the question section as sent (case kept)
    name: str  # lower case, no final dot: the table key
    rdtype: int
    edns: bool


class LabResolver:
    """Answers queries for the names in `records`; everything else is NXDOMAIN."""

    def __init__(self, address: str, records: dict[str, dict], label: str, default: dict | None = None) -> None:
        self.address = address
        # Read-only: replies worked out once are kept for the life of the lab.
        self.records = types.MappingProxyType({name.lower().rstrip("."): record for name, record in records.items()})
        self.default = types.MappingProxyType(dict(default)) if default else None
        self.label = label
        self._replies: dict[tuple[str, int], _Reply] = {}
        self._flaky_asked: dict[tuple[str, int], int] = {}  # queries so far per (name, type) of a flaky name
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    def answer(self, wire: bytes) -> bytes | None:
        """The reply to one query message, or None to stay silent (dropped or malformed).

        Every question is logged: the log is the lab user's view of what the resolver was asked."""
        query = _plain_query(wire)
        if query is None:
            return self.reference_answer(wire)
        if self._flaky_fails(query.name, query.rdtype):
            return b"".join((_HEADER.pack(query.id, _QR | query.rd | _RA | dns.rcode.SERVFAIL, 1, 0, 0,
                                          int(query.edns)),
                             query.question, _OPT_REPLY if query.edns else b""))
        reply = self._reply(query.name, query.rdtype)
        if reply.answers is None and not reply.silent:
            return self.reference_answer(wire, flaky_checked=True)
        log.info("%s", reply.log_line)
        if reply.silent:
            return None
        # At most 12 + 259 + 28 + 11 bytes: within the 512 any client takes.
        assert reply.answers is not None  # None answers were rendered by dnspython above
        return b"".join((
            _HEADER.pack(query.id, _QR | query.rd | _RA | reply.rcode, 1, reply.ancount, 0, int(query.edns)),
            query.question, reply.answers, _OPT_REPLY if query.edns else b""))

    def _reply(self, name: str, rdtype: int) -> _Reply:
        key = (name, rdtype)
        reply = self._replies.get(key)
        if reply is None:
            reply = self._work_out(name, rdtype)
            if len(self._replies) < _KEPT_QUESTIONS:
                self._replies[key] = reply
        return reply

    def _work_out(self, name: str, rdtype: int) -> _Reply:
        """The reply to (name, rdtype), as `_render` decides it, without the query's bytes."""
        action = self._action(name)
        line = f"{self.label} {dns.rdatatype.to_text(_rdtype(rdtype))} {name} -> {action}"
        if action == m.DNS_TIMEOUT:
            return _Reply(True, 0, 0, b"", line)
        if action in (m.DNS_NXDOMAIN, m.DNS_SERVFAIL):
            return _Reply(False, _RCODES[action], 0, b"", line)
        key = _ADDRESS_KEYS.get(rdtype)
        answering = action in (m.DNS_ANSWER, m.DNS_SPOOF, m.DNS_FLAKY)
        addresses = self._record(name).get(key, []) if key and answering else []
        if not addresses:
            return _Reply(False, dns.rcode.NOERROR, 0, b"", line)
        try:  # dnspython's own parsing and wire form of each address (from_text_list does the same)
            # to_wire() without a file returns the bytes (typed Optional for the file form)
            rdatas = {cast(bytes, dns.rdata.from_text(dns.rdataclass.IN, _rdtype(rdtype), address).to_wire())
                      for address in addresses}
        except dns.exception.DNSException:
            rdatas = set()  # the dnspython path fails on it as it always has
        if len(rdatas) != 1:
            return _Reply(False, dns.rcode.NOERROR, len(rdatas), None, line)
        rdata = rdatas.pop()
        answer = _OWNER_IS_QUESTION + _RR_FIXED.pack(rdtype, dns.rdataclass.IN, TTL, len(rdata)) + rdata
        return _Reply(False, dns.rcode.NOERROR, 1, answer, line)

    def _record(self, name: str) -> Mapping[str, Any]:
        return self.records.get(name) or self.default or {}

    def _action(self, name: str) -> str:
        record = self._record(name)
        return record["action"] if record else m.DNS_NXDOMAIN

    def _flaky_fails(self, name: str, rdtype: int) -> bool:
        """For a flaky name: whether this query is one of those that get SERVFAIL (logged)."""
        if self._action(name) != m.DNS_FLAKY:
            return False
        asked = self._flaky_asked.get((name, rdtype), 0)
        self._flaky_asked[(name, rdtype)] = asked + 1
        if asked % 2 == 0:
            log.info("%s %s %s -> flaky: servfail", self.label, dns.rdatatype.to_text(_rdtype(rdtype)), name)
            return True
        return False

    def reference_answer(self, wire: bytes, *, flaky_checked: bool = False) -> bytes | None:
        """The reply as dnspython parses the query and renders the answer: for any query that is
        not plain, and the reference the plain-query path must equal. `flaky_checked`: the plain
        path has already counted this query of a flaky name."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if query.flags & dns.flags.QR or len(query.question) != 1:
            return None
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if not flaky_checked and self._flaky_fails(name, question.rdtype):
            response = dns.message.make_response(query)
            response.flags |= dns.flags.RA
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        log.info("%s %s %s -> %s", self.label, dns.rdatatype.to_text(question.rdtype), name, self._action(name))
        return self._render(query)

    def _render(self, query: dns.message.Message) -> bytes | None:
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        record = self._record(name) or None
        action = self._action(name)
        if action == m.DNS_TIMEOUT:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if action == m.DNS_NXDOMAIN:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif action == m.DNS_SERVFAIL:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif action in (m.DNS_ANSWER, m.DNS_SPOOF, m.DNS_FLAKY) and record is not None:
            key = _ADDRESS_KEYS.get(question.rdtype)
            addresses = record.get(key, []) if key else []
            if addresses:
                response.answer.append(dns.rrset.from_text_list(
                    question.name, TTL, "IN", question.rdtype, addresses))
        return response.to_wire()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        resolver = self

        class _Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = cast(asyncio.DatagramTransport, transport)  # a datagram endpoint's

            def datagram_received(self, data: bytes, addr: tuple) -> None:
                reply = resolver.answer(data[:_MAX_MESSAGE])
                if reply is not None:
                    self.transport.sendto(reply, addr)

        self._udp, _ = await loop.create_datagram_endpoint(_Udp, local_addr=(self.address, 53))
        _enlarge_receive_buffer(self._udp.get_extra_info("socket"))
        self._tcp = await asyncio.start_server(self._serve_tcp, self.address, 53)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(_TCP_QUERIES_PER_CONNECTION):
                length = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), _TCP_IDLE_S), "big")
                wire = await asyncio.wait_for(reader.readexactly(length), _TCP_IDLE_S)
                reply = self.answer(wire)
                if reply is None:
                    continue  # a dropped query: the client times out
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()


def _plain_query(wire: bytes) -> _PlainQuery | None:
    """The query if it has the plain shape stub resolvers send, else None (dnspython decides).

    Plain: a standard query (QR 0, opcode QUERY) with one question of class IN whose name is
    written out label by label (no compression) in letters, digits, '-' and '_', nothing in the
    answer and authority sections, and at most an EDNS version 0 record without options."""
    if len(wire) < _HEADER.size:
        return None
    query_id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
    if flags & (_QR | _OPCODE) or qdcount != 1 or ancount or nscount or arcount > 1:
        return None
    labels = []
    pos = _HEADER.size
    while True:
        if pos >= len(wire):
            return None
        length = wire[pos]
        if length == 0:
            pos += 1
            break
        if length > _MAX_LABEL:  # a compression pointer or an extended label type
            return None
        label = wire[pos + 1 : pos + 1 + length]
        if len(label) != length or not _PLAIN_LABEL.fullmatch(label):
            return None
        labels.append(label)
        pos += 1 + length
    if not labels or pos - _HEADER.size > _MAX_NAME or pos + _TYPE_CLASS.size > len(wire):
        return None
    rdtype, rdclass = _TYPE_CLASS.unpack_from(wire, pos)
    if rdclass != dns.rdataclass.IN or rdtype == dns.rdatatype.OPT:
        return None
    pos += _TYPE_CLASS.size
    question = wire[_HEADER.size : pos]
    if arcount:
        if len(wire) != pos + 1 + _RR_FIXED.size or wire[pos] != 0:
            return None
        opt_type, payload, ttl, rdlength = _RR_FIXED.unpack_from(wire, pos + 1)
        # ttl: extended rcode (8 bits), version (8 bits), flags (16 bits, e.g. DO, not echoed)
        # (a payload below 512 makes dnspython refuse to render: that stays dnspython's to do)
        if opt_type != dns.rdatatype.OPT or ttl >> 16 or rdlength or payload < _CLASSIC_UDP:
            return None
    elif len(wire) != pos:
        return None
    return _PlainQuery(query_id, flags & _RD, question, b".".join(labels).decode("ascii").lower(), rdtype,
                       bool(arcount))


def _enlarge_receive_buffer(sock: socket.socket | None) -> None:
    """UDP_RECEIVE_BUFFER for `sock`: forced past net.core.rmem_max when we may (root), else as
    much as the kernel allows; the default (~200 KB) is kept if neither works."""
    if sock is None:
        return
    for option in (_SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, UDP_RECEIVE_BUFFER)
            return
        except OSError:
            continue
