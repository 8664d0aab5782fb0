"""A resolver for the lab's names, over UDP and TCP: honest, or lying per name like an ISP's.

Each resolver holds a table name -> record ({"action", "a", "aaaa"}) written by the plan:
"answer" and "spoof" answer the listed addresses, "nxdomain", "servfail" and "no_answer" answer
with that outcome, "timeout" drops the query. Names outside the table do not exist.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from kzprobe.lab import model as m

log = logging.getLogger("kzprobe.lab.dns")

TTL: Final = 60
# A TCP client may send several queries on one connection; bound them and the idle wait.
_TCP_QUERIES_PER_CONNECTION: Final = 32
_TCP_IDLE_S: Final = 10.0
_MAX_MESSAGE: Final = 4096


class LabResolver:
    """Answers queries for the names in `records`; everything else is NXDOMAIN."""

    def __init__(self, address: str, records: dict[str, dict], label: str) -> None:
        self.address = address
        self.records = {name.lower().rstrip("."): record for name, record in records.items()}
        self.label = label
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    def answer(self, wire: bytes) -> bytes | None:
        """The reply to one query message, or None to stay silent (dropped or malformed)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if query.flags & dns.flags.QR or len(query.question) != 1:
            return None
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        record = self.records.get(name)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        action = record["action"] if record else m.DNS_NXDOMAIN
        log.info("%s %s %s -> %s", self.label, dns.rdatatype.to_text(question.rdtype), name, action)
        if action == m.DNS_TIMEOUT:
            return None
        if action == m.DNS_NXDOMAIN:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif action == m.DNS_SERVFAIL:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif action in (m.DNS_ANSWER, m.DNS_SPOOF) and record is not None:
            key = {dns.rdatatype.A: "a", dns.rdatatype.AAAA: "aaaa"}.get(question.rdtype)
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
                self.transport = transport  # type: ignore[assignment]

            def datagram_received(self, data: bytes, addr: tuple) -> None:
                reply = resolver.answer(data[:_MAX_MESSAGE])
                if reply is not None:
                    self.transport.sendto(reply, addr)  # type: ignore[attr-defined]

        self._udp, _ = await loop.create_datagram_endpoint(_Udp, local_addr=(self.address, 53))
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
