"""How a response's bytes leave the lab's server: at once, paced by a policer, dripped by a slow
backend, or frozen by a censor after a few kilobytes with the connection held open.

A backend that renders slowly sends its head at once and then the body in pieces as it is made
(data flowing the whole time); a freeze (Russia's 2024 "16-20 KB" technique against foreign
hosting, net4people/bbs#490) passes the first bytes and then nothing, without closing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from kzprobe.lab.servers import middlebox

# Pieces a dripping body is sent in, evenly spread: enough that no wait between two comes near a
# probe's read timeout, few enough to cost nothing.
DRIP_PIECES: Final = 14
# How long a frozen connection is held open at most (any probe has given up long before).
FREEZE_HOLD_S: Final = 60.0
_FREEZE_POLL_S: Final = 0.25


async def send(writer: asyncio.StreamWriter, head: bytes, body: bytes, *, rate: int | None = None,
               burst: int | None = None, drip_s: float = 0.0, freeze_after: int | None = None) -> None:
    """Send `head` + `body` the way the network and the site say; returns when done (or given up)."""
    data = head + body
    if freeze_after is not None:
        writer.write(data[:freeze_after])
        await writer.drain()
        deadline = time.monotonic() + FREEZE_HOLD_S
        while not writer.is_closing() and time.monotonic() < deadline:
            await asyncio.sleep(_FREEZE_POLL_S)  # open and silent, until the client gives up
        return
    if drip_s and body:
        writer.write(head)
        await writer.drain()
        piece = max(1, -(-len(body) // DRIP_PIECES))
        for start in range(0, len(body), piece):
            await asyncio.sleep(drip_s / DRIP_PIECES)
            writer.write(body[start:start + piece])
            await writer.drain()
        return
    await middlebox.write_paced(writer, data, rate, burst)
