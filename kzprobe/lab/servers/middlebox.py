"""What a censor's box does to a connection: reset it, close it, swallow it, or slow it down.

The lab has no box in the path: the server that owns an address acts for it, at the moment a
middlebox would (after the ClientHello, after the HTTP request), with the same packets on the
wire - an RST (SO_LINGER 0), a FIN, or silence.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Final

# Russia's Twitter policer let ~16 KB through at line rate before holding the flow to its
# rate (research/throttling-shutdowns.md, 1.1); the lab's throttler does the same.
THROTTLE_BURST_BYTES: Final = 16 * 1024
# The throttled stream is sent in slices this many times per second: smooth enough that
# a sampler at 50 ms sees a steady rate, coarse enough to cost nothing.
THROTTLE_SLICES_PER_S: Final = 8
# How long a swallowed connection is held open before the lab lets go of it (any probe
# has given up long before).
SWALLOW_HOLD_S: Final = 120.0
_LINGER_RESET: Final = struct.pack("ii", 1, 0)


def reset(sock: socket.socket | object) -> None:
    """Close with an RST instead of a FIN (SO_LINGER on, zero timeout)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)  # type: ignore[attr-defined]
    except OSError:
        pass


def reset_transport(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        reset(sock)
    transport.abort()


async def swallow(conn: socket.socket) -> None:
    """Read and discard whatever the client sends, never answer, until it gives up."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + SWALLOW_HOLD_S
    try:
        while (left := deadline - time.monotonic()) > 0:
            data = await asyncio.wait_for(loop.sock_recv(conn, 65536), left)
            if not data:
                break
    except (TimeoutError, OSError):
        pass
    finally:
        conn.close()


async def write_paced(writer: asyncio.StreamWriter, data: bytes, rate_bytes_per_s: int | None,
                      burst_bytes: int | None = None) -> None:
    """Send `data`; throttled: a burst (`burst_bytes`, default THROTTLE_BURST_BYTES), then
    slices at `rate_bytes_per_s`."""
    if not rate_bytes_per_s:
        writer.write(data)
        await writer.drain()
        return
    burst = burst_bytes or THROTTLE_BURST_BYTES
    writer.write(data[:burst])
    await writer.drain()
    slice_bytes = max(1, rate_bytes_per_s // THROTTLE_SLICES_PER_S)
    interval = 1 / THROTTLE_SLICES_PER_S
    next_at = time.monotonic()
    for start in range(burst, len(data), slice_bytes):
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        writer.write(data[start : start + slice_bytes])
        await writer.drain()
