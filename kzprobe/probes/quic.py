"""A QUIC handshake (HTTP/3's transport) to a target's address, with the target's server name.

Browsers reach many sites over HTTP/3 first and fall back to TCP when UDP fails: a censor can
drop QUIC (all UDP/443 to an address, or the Initial packet naming a server: its keys derive
from the client's destination connection ID, RFC 9001 section 5.2, so any middlebox can read
the ClientHello) while TLS over TCP still works. Only targets marked `quic: true` are tried,
once, to the first address the TCP path used: a site without HTTP/3 would cost every scan a
timeout. The certificate is the TCP path's concern (verified there); here the handshake
completing with ALPN h3 is what is recorded. Nothing here decides: analysis/quic_rules.py does.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import TYPE_CHECKING, TypedDict

from aioquic.asyncio import connect
from aioquic.quic.configuration import QuicConfiguration

from kzprobe.probes.failures import failure_from_exception
from kzprobe.probes.session import pick_addresses
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import elapsed_ms

if TYPE_CHECKING:
    from kzprobe.probes.kit import ProbeKit
    from kzprobe.report.observations import Observations
    from kzprobe.targets import Target

# What HTTP/3 asks for in the handshake (RFC 9114 section 3.1).
QUIC_ALPN = "h3"


class QuicObservation(TypedDict):
    """One QUIC handshake (ALPN h3) to one address with the target's server name."""

    address: str
    port: int
    sni: str
    failure: str | None  # generic_timeout_error: no answer to the Initial; else how it ended
    handshake_completed: bool
    alpn: str | None  # what the server chose ("h3")
    duration_ms: float


async def quic_handshake(address: str, port: int, sni: str, timeout: float) -> QuicObservation:
    """Handshake once within `timeout` seconds and close; every failure becomes a string."""
    configuration = QuicConfiguration(is_client=True, alpn_protocols=[QUIC_ALPN], server_name=sni,
                                      verify_mode=ssl.CERT_NONE, idle_timeout=timeout)
    start = time.monotonic()
    failure: str | None = None
    alpn: str | None = None
    duration_ms: float | None = None
    try:
        async with asyncio.timeout(timeout):
            async with connect(address, port, configuration=configuration, wait_connected=True) as client:
                duration_ms = elapsed_ms(start)  # the handshake, not the close
                alpn = client._quic.tls.alpn_negotiated  # the one place aioquic exposes it
                client.close()
    except TimeoutError:
        failure = v.GENERIC_TIMEOUT
    except ConnectionError:
        # aioquic ends a handshake the server closed (a CONNECTION_CLOSE, a stateless reset)
        # with a bare ConnectionError: the server, or something in its place, said no.
        failure = v.CONNECTION_RESET
    except Exception as exc:
        failure = failure_from_exception(exc)
    return QuicObservation(address=address, port=port, sni=sni, failure=failure,
                           handshake_completed=failure is None, alpn=alpn,
                           duration_ms=duration_ms if duration_ms is not None else elapsed_ms(start))


async def measure_quic(kit: ProbeKit, target: Target, observations: Observations) -> None:
    """observations["quic"]: one handshake to the first address resolved, for a `quic: true`
    https target; nothing for others, or when no address was found."""
    if not getattr(target, "quic", False) or target.scheme != "https":  # stand-in targets have no quic
        return
    dns = observations.get("dns")
    addresses = pick_addresses(dns["addresses"]) if dns else []
    if not addresses:
        return
    observations["quic"] = [await quic_handshake(addresses[0], target.port, target.hostname, kit.timeout)]
