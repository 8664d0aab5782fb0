"""What a censor's box does to a connection: reset it, close it, swallow it, or slow it down.

The lab has no box in the path: the server that owns an address acts for it, at the moment a
middlebox would (after the ClientHello, after the HTTP request), with the same packets on the
wire - an RST (SO_LINGER 0), a FIN, or silence.

Like Kazakhstan's DPI, the censor keys TLS on the server name the ClientHello carries, at any
address (a site's own, a CDN node's, another site's): the same address with a neutral name
passes. A rule for every name at one address (a censor blocking the address, or a server that
refuses every ClientHello) comes first.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from pathlib import Path
from typing import Any, Final

from kzprobe.lab import site_spec as m

# Russia's Twitter policer let ~16 KB through at line rate before holding the flow to its
# rate (Xue et al., IMC 2021, https://censoredplanet.org/throttling); the lab's throttler does the same.
THROTTLE_BURST_BYTES: Final = 16 * 1024
# The throttled stream is sent in slices this many times per second: smooth enough that
# a sampler at 50 ms sees a steady rate, coarse enough to cost nothing.
THROTTLE_SLICES_PER_S: Final = 8
# How long a swallowed connection is held open before the lab lets go of it (any probe
# has given up long before).
SWALLOW_HOLD_S: Final = 120.0
_LINGER_RESET: Final = struct.pack("ii", 1, 0)


def reset(sock: Any) -> None:
    """Close with an RST instead of a FIN (SO_LINGER on, zero timeout). `sock`: a socket, or
    asyncio's view of one (a transport's "socket" extra)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    except OSError:
        pass


def reset_transport(transport: asyncio.WriteTransport) -> None:
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


def tls_rules(sites: dict[str, dict], sni: str | None, port: dict) -> dict | None:
    """The rules that apply to a ClientHello naming `sni` at a listener.

    An endpoint's port rule applies to an address literal's every connection (it has no name to
    key on) and to a named endpoint's only when the ClientHello names it; a site's rule follows
    its name wherever it is sent."""
    rules = port.get("middlebox")
    if rules is not None:
        names = rules.get("names")
        return rules if not names or sni in names else None
    return sites.get(sni or "")


def tls_action(rules: dict | None, at_address: dict | None) -> str:
    """TLS_PASS, TLS_RESET, TLS_FIN, TLS_SWALLOW or an interception, for one ClientHello: what
    is done to every name at this address first, then what is done to the name it carries."""
    if at_address is not None and at_address.get("tls_any_name", m.TLS_PASS) != m.TLS_PASS:
        return at_address["tls_any_name"]
    return rules["tls"] if rules else m.TLS_PASS


# The certificate files an interceptor presents, by kind (lab/certs.py writes them).
_FORGED_SUFFIX: Final = {m.TLS_MITM: "qaznet", m.TLS_MITM_INSTALLED: "installed", m.TLS_MITM_ISCA: "isca",
                          m.TLS_MITM_UNKNOWN: "unknown", m.TLS_MITM_LOCAL: "antivirus"}


def certificate_files(certs_dir: Path, name: str, action: str, pinned: bool = False) -> tuple[Path, Path]:
    """(chain, key): an interceptor's forged chain for `name`, or the name's own certificate (from
    the lab's service CA for an endpoint `pinned` to it, lab/certs.py pinned_leaf)."""
    suffix = _FORGED_SUFFIX.get(action)
    if suffix is not None:
        return certs_dir / f"{name}.{suffix}.pem", certs_dir / f"{name}.{suffix}.key"
    return certs_dir / (f"{name}.pinned.pem" if pinned else f"{name}.pem"), certs_dir / "leaf.key"
