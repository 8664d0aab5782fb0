"""Small asyncio servers on loopback for end-to-end tests of the real CLI: a DNS server that
answers from a table, and HTTP/HTTPS servers whose pages are given per Host header."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import dns.message
import dns.rcode
import dns.rrset


@dataclass
class DnsTable:
    """name -> list of addresses, or an rcode name ("NXDOMAIN", "SERVFAIL")."""

    records: dict[str, list[str] | str] = field(default_factory=dict)

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        reply = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        entry = self.records.get(name, "NXDOMAIN")
        if isinstance(entry, str):
            reply.set_rcode(dns.rcode.from_text(entry))
            return reply.to_wire()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        matching = [a for a in entry if (":" in a) == (rdtype == "AAAA")]
        if rdtype in ("A", "AAAA") and matching:
            reply.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rdtype, matching))
        return reply.to_wire()


class _DnsUdp(asyncio.DatagramProtocol):
    def __init__(self, table: DnsTable) -> None:
        self.table = table

    def connection_made(self, transport):  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        reply = self.table.answer(data)
        if reply is not None:  # None: the query is dropped (a resolver that lost it)
            self.transport.sendto(reply, addr)


class Drip(bytes):
    """A body sent `chunk` bytes at a time, `delay` seconds apart: a slow server that never
    stalls long enough for a read timeout."""

    chunk: int = 1
    delay: float = 0.2

    def __new__(cls, data: bytes, chunk: int = 1, delay: float = 0.2) -> Drip:
        made = super().__new__(cls, data)
        made.chunk, made.delay = chunk, delay
        return made


Page = Callable[[str, str], tuple[int, dict[str, str], bytes]]  # (host, path) -> status, headers, body


async def _serve_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, page: Page,
                      table: DnsTable) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            request_body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "POST" and path == "/dns-query":  # DNS over HTTPS, RFC 8484
                status, extra, body = 200, {"Content-Type": "application/dns-message"}, table.answer(request_body)
            else:
                status, extra, body = page(headers.get("host", "").split(":")[0], path)
            out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"] + [f"{k}: {v}" for k, v in extra.items()]
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + (b"" if isinstance(body, Drip) else body))
            await writer.drain()
            if isinstance(body, Drip):
                for start in range(0, len(body), body.chunk):
                    await asyncio.sleep(body.delay)
                    writer.write(body[start:start + body.chunk])
                    await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, IndexError):
        pass
    finally:
        writer.close()


class LoopbackServers:
    """Runs the servers in a background thread's event loop for the duration of a test."""

    def __init__(self, address: str, table: DnsTable, page: Page, ssl_context: ssl.SSLContext | None) -> None:
        self.address, self.table, self.page, self.ssl_context = address, table, page, ssl_context
        self.dns_port = self.http_port = self.https_port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        transport, _ = await self._loop.create_datagram_endpoint(lambda: _DnsUdp(self.table),
                                                                 local_addr=(self.address, 0))
        self.dns_port = transport.get_extra_info("sockname")[1]
        http = await asyncio.start_server(lambda r, w: _serve_http(r, w, self.page, self.table), self.address, 0)
        self.http_port = http.sockets[0].getsockname()[1]
        if self.ssl_context is not None:
            https = await asyncio.start_server(lambda r, w: _serve_http(r, w, self.page, self.table), self.address, 0,
                                               ssl=self.ssl_context)
            self.https_port = https.sockets[0].getsockname()[1]

    def __enter__(self) -> LoopbackServers:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
