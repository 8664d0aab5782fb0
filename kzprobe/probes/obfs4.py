"""The obfs4 handshake to a bridge, through the real obfs4 client when one is installed.

A bridge that accepts TCP may still be blocked by a censor that recognises obfs4 (the 2015-2021
active-probing and entropy attacks); only obfs4 itself tells. kzprobe does not reimplement it:
when `obfs4proxy` (Debian's package) or `lyrebird` (its successor, what Tor Browser ships) is on
the PATH, it runs it as Tor would, a managed pluggable-transport client (Tor's pt-spec, version
1), and asks its SOCKS5 port to CONNECT to the bridge with the bridge's cert as arguments. The
client answers the CONNECT only after its obfs4 handshake with the bridge ended: success means
the handshake completed. Nothing is required: without a client the bridge is measured by TCP and
the record says no client was found. Detected at run time, never at install time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from typing import TypedDict

from kzprobe.probes.limits import OBFS4_CLIENT_START_SECONDS
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import elapsed_ms

# The clients tried, in order: lyrebird is obfs4proxy's maintained successor.
OBFS4_CLIENTS = ("lyrebird", "obfs4proxy")
# SOCKS5 reply codes (RFC 1928 section 6) as the failure the handshake ended with.
_SOCKS_FAILURES = {1: v.UNKNOWN_FAILURE_PREFIX + "obfs4 handshake failed", 3: v.NETWORK_UNREACHABLE,
                   4: v.HOST_UNREACHABLE, 5: v.CONNECTION_REFUSED, 6: v.GENERIC_TIMEOUT}


class Obfs4Handshake(TypedDict):
    client: str | None  # "lyrebird" or "obfs4proxy", None when neither is installed
    failure: str | None  # None: the handshake completed; absent-client and unusable-client cases say so
    duration_ms: float | None


def find_client() -> str | None:
    """The path of the first obfs4 client on the PATH, or None."""
    return next((path for path in (shutil.which(name) for name in OBFS4_CLIENTS) if path), None)


class ManagedClient:
    """A running obfs4 client and its SOCKS5 address, for one target's bridges."""

    def __init__(self, path: str, socks: tuple[str, int]) -> None:
        self.name = os.path.basename(path)
        self.socks = socks

    async def handshake(self, address: str, port: int, cert: str, timeout: float) -> Obfs4Handshake:
        """CONNECT through the client to address:port with `cert`; bounded by `timeout`."""
        start = time.monotonic()
        failure: str | None = None
        writer = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(*self.socks)
                failure = await _socks_connect(reader, writer, address, port, f"cert={cert};iat-mode=0")
        except TimeoutError:
            failure = v.GENERIC_TIMEOUT
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            failure = v.CONNECTION_RESET
        finally:
            if writer is not None:
                writer.close()
        return Obfs4Handshake(client=self.name, failure=failure,
                              duration_ms=elapsed_ms(start))


async def _socks_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str, port: int,
                         arguments: str) -> str | None:
    """SOCKS5 with username/password authentication carrying the transport's arguments (pt-spec
    3.5: the arguments as the user name, a single NUL as the password), then CONNECT."""
    writer.write(b"\x05\x01\x02")
    if await reader.readexactly(2) != b"\x05\x02":
        return v.UNKNOWN_FAILURE_PREFIX + "obfs4 client refused the transport arguments"
    user = arguments.encode()
    writer.write(b"\x01" + bytes([len(user)]) + user + b"\x01\x00")
    if (await reader.readexactly(2))[1] != 0:
        return v.UNKNOWN_FAILURE_PREFIX + "obfs4 client refused the transport arguments"
    ip = ipaddress.ip_address(address)
    kind = b"\x01" if ip.version == 4 else b"\x04"
    writer.write(b"\x05\x01\x00" + kind + ip.packed + port.to_bytes(2, "big"))
    reply = await reader.readexactly(2)
    return None if reply[1] == 0 else _SOCKS_FAILURES.get(reply[1], v.UNKNOWN_FAILURE_PREFIX + "obfs4 handshake failed")


@contextlib.asynccontextmanager
async def managed_client(path: str) -> AsyncIterator[ManagedClient | None]:
    """Run the client as a managed transport in its own temporary state directory; None when it
    does not announce an obfs4 SOCKS port within OBFS4_CLIENT_START_SECONDS. Stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="kzprobe-obfs4-") as state:
        env = {"PATH": os.environ.get("PATH", ""), "TOR_PT_MANAGED_TRANSPORT_VER": "1",
               "TOR_PT_STATE_LOCATION": state, "TOR_PT_CLIENT_TRANSPORTS": "obfs4",
               "TOR_PT_EXIT_ON_STDIN_CLOSE": "1"}
        process = await asyncio.create_subprocess_exec(
            path, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=env)
        try:
            try:
                socks = await asyncio.wait_for(_announced_socks(process), OBFS4_CLIENT_START_SECONDS)
            except TimeoutError:
                socks = None
            yield ManagedClient(path, socks) if socks is not None else None
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 2.0)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _announced_socks(process: asyncio.subprocess.Process) -> tuple[str, int] | None:
    """The address in "CMETHOD obfs4 socks5 127.0.0.1:PORT", read until "CMETHODS DONE"."""
    assert process.stdout is not None
    socks = None
    while line := (await process.stdout.readline()).decode(errors="replace").strip():
        words = line.split()
        if words[:3] == ["CMETHOD", "obfs4", "socks5"] and len(words) > 3:
            host, _, port = words[3].rpartition(":")
            socks = (host, int(port)) if port.isdigit() else None
        if words[:1] in (["CMETHODS"], ["CMETHOD-ERROR"], ["ENV-ERROR"], ["VERSION-ERROR"]):
            break
    return socks
