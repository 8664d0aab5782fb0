"""TCP connect and TLS handshake to one resolved address, each recorded as an observation.

The connection that succeeds is handed on (as an httpcore stream) so that the HTTP request of
the same target reuses it: one handshake per address, not two.
"""

from __future__ import annotations

import ssl
import time

import httpcore
from httpcore._backends.anyio import AnyIOBackend

from kzprobe.report import vocabulary as v
from kzprobe.probes.failures import failure_from_exception
from kzprobe.report.observations import TcpObservation, TlsObservation
from kzprobe.probes.certs import peer_chain

# Failures that mean "this handshake finished, but the certificate is not acceptable".
VERIFICATION_FAILURES = {v.SSL_UNKNOWN_AUTHORITY, v.SSL_INVALID_HOSTNAME, v.SSL_INVALID_CERTIFICATE}

ALPN_PROTOCOLS = ["http/1.1"]


def make_tls_contexts(ca_file: str | None) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(verifying context: default trust store + ca_file, capturing context: no verification).

    Built once per scan: loading a trust store costs milliseconds that 1,000 targets would repeat.
    """
    verifying = ssl.create_default_context()
    if ca_file:
        verifying.load_verify_locations(cafile=ca_file)
    verifying.set_alpn_protocols(ALPN_PROTOCOLS)
    capturing = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    capturing.check_hostname = False
    capturing.verify_mode = ssl.CERT_NONE
    capturing.set_alpn_protocols(ALPN_PROTOCOLS)
    return verifying, capturing


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)


class Connector:
    """Opens recorded TCP connections and TLS sessions to explicit addresses."""

    def __init__(self, verifying: ssl.SSLContext | None, capturing: ssl.SSLContext | None, timeout: float,
                 ca_file: str | None = None) -> None:
        """Without contexts, make_tls_contexts(ca_file) builds them at the first use: loading
        the trust store takes tens of milliseconds the scan's first lookups need not wait for."""
        self._contexts = (verifying, capturing) if verifying is not None and capturing is not None else None
        self._ca_file = ca_file
        self.timeout = timeout
        self._backend = AnyIOBackend()

    def _built(self) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        if self._contexts is None:
            self._contexts = make_tls_contexts(self._ca_file)
        return self._contexts

    @property
    def verifying(self) -> ssl.SSLContext:
        return self._built()[0]

    @property
    def capturing(self) -> ssl.SSLContext:
        return self._built()[1]

    async def tcp_connect(
        self, hostname: str, address: str, port: int
    ) -> tuple[TcpObservation, httpcore.AsyncNetworkStream | None]:
        start = time.monotonic()
        try:
            stream = await self._backend.connect_tcp(address, port, timeout=self.timeout)
        except Exception as exc:
            return TcpObservation(hostname=hostname, address=address, port=port,
                                  failure=failure_from_exception(exc), duration_ms=_ms(start)), None
        return TcpObservation(hostname=hostname, address=address, port=port, failure=None,
                              duration_ms=_ms(start)), stream

    async def tls_handshake(
        self, stream: httpcore.AsyncNetworkStream, hostname: str, address: str, port: int, sni: str
    ) -> tuple[TlsObservation, httpcore.AsyncNetworkStream | None]:
        """Handshake with SNI and verification; on a certificate failure, capture the chain.

        A failed verification aborts the handshake before the chain can be read, so the chain
        is captured over a second, unverified connection to the same address (only then).
        """
        start = time.monotonic()
        try:
            tls_stream = await stream.start_tls(self.verifying, server_hostname=sni, timeout=self.timeout)
        except Exception as exc:
            failure = failure_from_exception(exc)
            duration = _ms(start)
            await close_quietly(stream)
            observation = _tls_observation(hostname, address, port, sni, failure, duration, None)
            if failure in VERIFICATION_FAILURES:
                observation.update(await self._capture_chain(hostname, address, port, sni))
            return observation, None
        ssl_object = tls_stream.get_extra_info("ssl_object")
        return _tls_observation(hostname, address, port, sni, None, _ms(start), ssl_object), tls_stream

    async def _capture_chain(self, hostname: str, address: str, port: int, sni: str) -> dict:
        _, stream = await self.tcp_connect(hostname, address, port)
        if stream is None:
            return {"handshake_completed": True}
        try:
            tls_stream = await stream.start_tls(self.capturing, server_hostname=sni, timeout=self.timeout)
        except Exception:
            await close_quietly(stream)
            return {"handshake_completed": True}
        ssl_object = tls_stream.get_extra_info("ssl_object")
        captured = _tls_observation(hostname, address, port, sni, None, 0.0, ssl_object)
        await close_quietly(tls_stream)
        return {key: captured[key] for key in ("version", "cipher", "alpn", "peer_chain")} | {
            "handshake_completed": True
        }


def _tls_observation(
    hostname: str, address: str, port: int, sni: str, failure: str | None, duration_ms: float,
    ssl_object: ssl.SSLObject | None,
) -> TlsObservation:
    cipher = ssl_object.cipher() if ssl_object is not None else None
    return TlsObservation(
        hostname=hostname, address=address, port=port, sni=sni, failure=failure,
        handshake_completed=ssl_object is not None,
        verified=ssl_object is not None and failure is None,
        version=ssl_object.version() if ssl_object is not None else None,
        cipher=cipher[0] if cipher else None,
        alpn=ssl_object.selected_alpn_protocol() if ssl_object is not None else None,
        peer_chain=peer_chain(ssl_object),
        duration_ms=duration_ms,
    )


async def close_quietly(stream: httpcore.AsyncNetworkStream) -> None:
    """Close a connection we are done with; one already broken may fail to close: nothing to record."""
    try:
        await stream.aclose()
    except Exception:
        pass
