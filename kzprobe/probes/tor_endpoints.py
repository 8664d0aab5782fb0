"""The Tor kinds of service endpoint: an OR port's TLS, a directory port's document, a bridge.

service_endpoints.py measures every endpoint's TCP connect; for the Tor kinds (targets
ENDPOINT_KINDS) it hands the open connection here. An OR port speaks TLS with a self-signed,
short-lived certificate that no trust store knows: the handshake completing is what a Tor client
needs, so the certificate is never checked, and the server name sent is a random www.<x>.com as
Tor's own client sends (src/lib/tls/tortls_openssl.c, crypto_random_hostname), so that a censor
matching Tor's shape meets it. A directory port answers plain HTTP: one GET of the authority's
own descriptor (/tor/server/authority, a few kilobytes beginning "router "), bounded in size
and time. A bridge is TCP only, unless obfs4proxy or lyrebird is installed (probes/obfs4.py).
Nothing here decides anything: analysis/services/ reads these records.
"""

from __future__ import annotations

import secrets
import ssl
import string
import time
from typing import Final, NotRequired, TypedDict

import httpcore

from kzprobe.probes.failures import failure_from_exception
from kzprobe.probes.limits import TOR_DIRECTORY_READ_BYTES
from kzprobe.report.observations import elapsed_ms

# The document asked of a directory port: the authority's own server descriptor, small (a few
# KB) and served by every authority (Tor's dir-spec, section "Downloading server descriptors").
DIRECTORY_PATH: Final = "/tor/server/authority"
# A descriptor begins with its "router" line (dir-spec, "Server descriptor format").
DESCRIPTOR_START: Final = b"router "

_HOSTNAME_ALPHABET: Final = string.ascii_lowercase + "234567"


class DirectoryFetch(TypedDict):
    """One HTTP GET of a directory port's small document, over the endpoint's TCP connection."""

    address: str
    port: int
    path: str
    status: int | None  # HTTP status code; None when no status line arrived
    bytes: int  # body bytes read (at most limits.TOR_DIRECTORY_READ_BYTES)
    tor_document: bool  # the body begins like a Tor descriptor ("router ")
    failure: str | None  # how the exchange failed (reset, timeout, eof), None when an answer came
    duration_ms: float
    truncated: NotRequired[bool]  # the answer went on past the read bound


def tor_like_server_name() -> str:
    """A server name shaped like the ones Tor's client sends: www.<4-25 base32 letters>.com."""
    length = 4 + secrets.randbelow(22)
    return "www." + "".join(secrets.choice(_HOSTNAME_ALPHABET) for _ in range(length)) + ".com"


def unverified_context() -> ssl.SSLContext:
    """TLS that completes with any certificate: an OR port's is self-signed by design."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def fetch_directory_document(stream: httpcore.AsyncNetworkStream, address: str, port: int,
                                   timeout: float) -> DirectoryFetch:
    """GET DIRECTORY_PATH over an open connection; read the head and at most the bound of the body.

    The whole exchange shares one deadline of `timeout` seconds: a trickling answer is cut there
    (and recorded as a timeout only when no status line came)."""
    start = time.monotonic()
    host = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    request = (f"GET {DIRECTORY_PATH} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: kzprobe\r\n"
               "Connection: close\r\n\r\n").encode()
    received = b""
    failure: str | None = None
    try:
        await stream.write(request, timeout=timeout)
        limit = TOR_DIRECTORY_READ_BYTES + 4096  # the head, then the body's bound
        while len(received) < limit:
            remaining = timeout - (time.monotonic() - start)
            if remaining <= 0:
                raise TimeoutError
            chunk = await stream.read(limit - len(received), timeout=remaining)
            if not chunk:
                break
            received += chunk
    except Exception as exc:
        failure = failure_from_exception(exc)
    status, body = _parse_answer(received)
    record = DirectoryFetch(
        address=address, port=port, path=DIRECTORY_PATH, status=status, bytes=len(body),
        tor_document=body.startswith(DESCRIPTOR_START), duration_ms=elapsed_ms(start),
        # An answer already complete enough to judge is not a failure: the bound cut it.
        failure=None if status is not None and (failure is None or len(body) > 0) else (failure or "eof_error"),
    )
    if len(body) > TOR_DIRECTORY_READ_BYTES:
        record["bytes"] = TOR_DIRECTORY_READ_BYTES
        record["truncated"] = True
    return record


def _parse_answer(received: bytes) -> tuple[int | None, bytes]:
    """(status, body) of an HTTP/1.x answer; (None, b"") when no status line came."""
    head, separator, body = received.partition(b"\r\n\r\n")
    first = head.split(b"\r\n", 1)[0].split()
    if not separator and len(first) < 2:
        return None, b""
    if len(first) < 2 or not first[0].startswith(b"HTTP/1.") or not first[1].isdigit():
        return None, b""
    return int(first[1]), body
