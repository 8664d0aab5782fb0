"""Loopback listeners for the endpoint probe's tests: one that counts connections and never
answers (a swallowed ClientHello, a plain TCP service), a port whose SYNs are dropped (a censor's
blackhole: a full accept queue makes Linux drop them), and a port where nothing listens."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Server:
    """A loopback listener that counts connections, the most open at once, and how many the
    client closed."""

    address: str
    port: int = 0
    opened: int = 0
    open_now: int = 0
    most_open: int = 0
    closed_by_client: int = 0
    handles: list = field(default_factory=list)


async def hold_open(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read and never answer, until the client goes away."""
    server.opened += 1
    server.open_now += 1
    server.most_open = max(server.most_open, server.open_now)
    try:
        while await reader.read(4096):
            pass
        server.closed_by_client += 1
    except (ConnectionError, ssl.SSLError):
        server.closed_by_client += 1
    finally:
        server.open_now -= 1
        writer.close()


async def start_server(address: str, tls: ssl.SSLContext | None = None) -> Server:
    server = Server(address)
    handle = await asyncio.start_server(lambda r, w: hold_open(server, r, w), address, 0, ssl=tls)
    server.port = handle.sockets[0].getsockname()[1]
    server.handles.append(handle)
    return server


@contextmanager
def blackhole(address: str) -> Iterator[int]:
    """A port whose SYNs are dropped: listen(0) with its one queue slot already taken."""
    listener = socket.socket()
    listener.bind((address, 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection((address, port))
    try:
        yield port
    finally:
        filler.close()
        listener.close()


def closed_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]
