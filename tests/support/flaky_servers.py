"""Loopback servers that misbehave the way real networks do: a DNS server that loses the first
query for each question, an HTTP server that closes a kept-alive connection as the next request
arrives on it."""

from __future__ import annotations

import asyncio
import threading

import dns.message
import dns.rdatatype
import dns.rrset

ADDRESS = "127.0.0.3"


class FlakyServers:
    """A DNS server that drops the first query for each question, and an HTTP server that
    answers the first request on a connection with a redirect to the same origin, then closes
    the kept-alive connection when the next request arrives on it (the keep-alive race every
    HTTP/1.1 client meets: the server's idle timer and the client's request cross)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.seen: set[tuple[str, int]] = set()
        self.dns_port = self.http_port = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        servers = self

        class Dns(asyncio.DatagramProtocol):
            def connection_made(self, transport):  # type: ignore[override]
                self.transport = transport

            def datagram_received(self, data, addr):  # type: ignore[override]
                query = dns.message.from_wire(data)
                question = query.question[0]
                key = (question.name.to_text(), question.rdtype)
                if key not in servers.seen:  # lost on the way, as UDP may be
                    servers.seen.add(key)
                    return
                reply = dns.message.make_response(query)
                if dns.rdatatype.to_text(question.rdtype) == "A":
                    reply.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "A", [ADDRESS]))
                self.transport.sendto(reply.to_wire(), addr)

        transport, _ = await self.loop.create_datagram_endpoint(Dns, local_addr=(ADDRESS, 0))
        self.dns_port = transport.get_extra_info("sockname")[1]
        server = await asyncio.start_server(self._http, ADDRESS, 0)
        self.http_port = server.sockets[0].getsockname()[1]

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.split(b" ")[1] == b"/":
                writer.write(b"HTTP/1.1 302 Found\r\nLocation: /home\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                # The next request on this connection arrives just as the server gives up on
                # it (its keep-alive time is over): read, and close without an answer.
                await reader.readuntil(b"\r\n\r\n")
                return
            body = b"<html><title>Home</title></html>"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> FlakyServers:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
