"""TCP connect and TLS handshake to one resolved address, each recorded as an observation.

The connection that succeeds is handed on (as an httpcore stream) so that the HTTP request of
the same target reuses it: one handshake per address, not two. The handshakes made only after a
failure live here too: the chain capture (verification failed; for a pinned service endpoint,
first on a connection verified without the pin), the neutral-name retry (the handshake failed
after the ClientHello), the retry with fetched intermediates (the chain came incomplete) and the
neutral name's chain checked for trust (the chain came from an untrusted issuer).
"""

from __future__ import annotations

import hashlib
import ssl
import time
from typing import TypedDict

import httpcore
from httpcore._backends.anyio import AnyIOBackend

from kzprobe.probes.certs import ISSUER_NOT_FOUND_CODES, Chain, read_captured, read_verified
from kzprobe.probes.failures import certificate_verify_code, failure_from_exception
from kzprobe.probes.trust import ALPN_PROTOCOLS, CompletingContext, RootOrigins, make_tls_contexts, root_subjects
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import (
    CertificateInfo,
    PublicVerification,
    TcpObservation,
    TlsObservation,
    elapsed_ms,
)

__all__ = ["ALPN_PROTOCOLS", "Connector", "VERIFICATION_FAILURES", "close_quietly", "make_tls_contexts"]

# Failures that mean "this handshake finished, but the certificate is not acceptable".
VERIFICATION_FAILURES = {v.SSL_UNKNOWN_AUTHORITY, v.SSL_INVALID_HOSTNAME, v.SSL_INVALID_CERTIFICATE}


class CapturedChain(TypedDict, total=False):
    """What a second, unverified handshake adds to a failed verification's observation: the
    chain the server sent (empty when that handshake could not be made)."""

    version: str | None
    cipher: str | None
    alpn: str | None
    peer_chain: list[CertificateInfo]
    chain_complete: bool | None
    handshake_completed: bool


class Connector:
    """Opens recorded TCP connections and TLS sessions to explicit addresses."""

    def __init__(self, verifying: ssl.SSLContext | None, capturing: ssl.SSLContext | None, timeout: float,
                 ca_file: str | None = None, public: Connector | None = None) -> None:
        """Without contexts, make_tls_contexts(ca_file) builds them at the first use: loading
        the trust store takes tens of milliseconds the scan's first lookups need not wait for.
        `public`: for a connector verifying against a pinned CA, the scan's own connector, which
        verifies a chain that failed the pin the way every web target's is (verified_capture)."""
        self._public = public
        self._contexts = (verifying, capturing) if verifying is not None and capturing is not None else None
        # A verifying context given from outside (an endpoint's pinned CA) trusts what it was
        # given: where its roots come from is not the question this records.
        self._records_root_origin = self._contexts is None
        self._ca_file = ca_file
        self.timeout = timeout
        self._backend = AnyIOBackend()
        self.root_origins = RootOrigins(ca_file)
        self.completing = CompletingContext(ca_file)
        self._root_subjects: set[bytes] | None = None
        self._any_name: ssl.SSLContext | None = None  # the verifying store, any name (trust_check)

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

    def knows_root_named(self, name: bytes) -> bool:
        """A root of the verifying store has this subject (DER): a chain reaching it is complete."""
        if self._root_subjects is None:
            self._root_subjects = root_subjects(self.verifying)
        return name in self._root_subjects

    async def tcp_connect(
        self, hostname: str, address: str, port: int
    ) -> tuple[TcpObservation, httpcore.AsyncNetworkStream | None]:
        start = time.monotonic()
        try:
            stream = await self._backend.connect_tcp(address, port, timeout=self.timeout)
        except Exception as exc:
            return TcpObservation(hostname=hostname, address=address, port=port,
                                  failure=failure_from_exception(exc), duration_ms=elapsed_ms(start)), None
        return TcpObservation(hostname=hostname, address=address, port=port, failure=None,
                              duration_ms=elapsed_ms(start)), stream

    async def tls_handshake(
        self, stream: httpcore.AsyncNetworkStream, hostname: str, address: str, port: int, sni: str,
        context: ssl.SSLContext | None = None,
    ) -> tuple[TlsObservation, httpcore.AsyncNetworkStream | None]:
        """Handshake with SNI and verification; on a certificate failure, capture the chain.

        A failed verification aborts the handshake before the chain can be read, so the chain
        is captured over a second, unverified connection to the same address (only then).
        `context` replaces the verifying context (a pinned CA, or the completing context)."""
        start = time.monotonic()
        try:
            tls_stream = await stream.start_tls(context or self.verifying, server_hostname=sni, timeout=self.timeout)
        except Exception as exc:
            failure = failure_from_exception(exc)
            duration = elapsed_ms(start)
            await close_quietly(stream)
            observation = _tls_observation(hostname, address, port, sni, failure, duration, None)
            if failure in VERIFICATION_FAILURES:
                captured = None
                if failure == v.SSL_UNKNOWN_AUTHORITY and self._public is not None:
                    captured, observation["public_verification"] = await self._public.verified_capture(
                        hostname, address, port, sni)
                if captured is None:
                    captured = await self._capture_chain(hostname, address, port, sni, certificate_verify_code(exc))
                observation.update(captured)
            return observation, None
        ssl_object = tls_stream.get_extra_info("ssl_object")
        chain, root = read_verified(ssl_object)
        observation = _tls_observation(hostname, address, port, sni, None, elapsed_ms(start), ssl_object, chain)
        if root is not None and self._records_root_origin:
            observation["root_store"] = self.root_origins.origin(root)
        return observation, tls_stream

    async def _capture_chain(self, hostname: str, address: str, port: int, sni: str,
                             verify_code: int | None) -> CapturedChain:
        _, stream = await self.tcp_connect(hostname, address, port)
        if stream is None:
            return CapturedChain(handshake_completed=True)
        try:
            tls_stream = await stream.start_tls(self.capturing, server_hostname=sni, timeout=self.timeout)
        except Exception:
            await close_quietly(stream)
            return CapturedChain(handshake_completed=True)
        ssl_object = tls_stream.get_extra_info("ssl_object")
        chain = read_captured(ssl_object, verify_code)
        captured = _tls_observation(hostname, address, port, sni, None, 0.0, ssl_object, chain)
        await close_quietly(tls_stream)
        return CapturedChain(version=captured["version"], cipher=captured["cipher"], alpn=captured["alpn"],
                             peer_chain=captured["peer_chain"], chain_complete=captured["chain_complete"],
                             handshake_completed=True)

    async def verified_capture(self, hostname: str, address: str, port: int,
                               sni: str) -> tuple[CapturedChain | None, PublicVerification]:
        """After a pinned CA refused a chain: the chain captured on a new connection verified
        against this connector's store (the system's plus --ca-file), and whether it validated
        for the name and through which root's origin. A chain that does not validate is not
        captured here (None): the unverified capture follows, as for any failed verification.
        One handshake when a service moved to a public CA (a stale pin), two under interception."""
        tcp, stream = await self.tcp_connect(hostname, address, port)
        if stream is None:
            return None, PublicVerification(verified=False, failure=tcp["failure"])
        try:
            tls_stream = await stream.start_tls(self.verifying, server_hostname=sni, timeout=self.timeout)
        except Exception as exc:
            await close_quietly(stream)
            return None, PublicVerification(verified=False, failure=failure_from_exception(exc))
        ssl_object = tls_stream.get_extra_info("ssl_object")
        chain, root = read_verified(ssl_object)
        captured = _tls_observation(hostname, address, port, sni, None, 0.0, ssl_object, chain)
        await close_quietly(tls_stream)
        verification = PublicVerification(verified=True, failure=None)
        if root is not None:
            verification["root_store"] = self.root_origins.origin(root)
        return CapturedChain(version=captured["version"], cipher=captured["cipher"], alpn=captured["alpn"],
                             peer_chain=captured["peer_chain"], chain_complete=captured.get("chain_complete"),
                             handshake_completed=True), verification

    async def neutral_handshake(self, hostname: str, address: str, port: int, sni: str,
                                purpose: str = v.PURPOSE_NEUTRAL_SNI) -> tuple[TcpObservation, TlsObservation | None]:
        """The SNI split (and the slow-handshake check): a new connection to the same address, a
        handshake naming `sni` (a neutral name) without verification. Whether (and how fast) the
        address answers TLS at all is the question; the name it serves does not matter."""
        tcp, stream = await self.tcp_connect(hostname, address, port)
        tcp["purpose"] = purpose
        if stream is None:
            return tcp, None
        start = time.monotonic()
        try:
            tls_stream = await stream.start_tls(self.capturing, server_hostname=sni, timeout=self.timeout)
        except Exception as exc:
            await close_quietly(stream)
            observation = _tls_observation(hostname, address, port, sni, failure_from_exception(exc),
                                           elapsed_ms(start), None)
        else:
            observation = _tls_observation(hostname, address, port, sni, None, elapsed_ms(start), None)
            observation["handshake_completed"] = True  # verified stays False: nothing was verified
            await close_quietly(tls_stream)
        observation["purpose"] = purpose
        return tcp, observation

    async def trust_check(self, hostname: str, address: str, port: int,
                          sni: str) -> tuple[TcpObservation, TlsObservation | None]:
        """After a chain from an untrusted issuer (purpose "cert_check"): a new connection to the
        same address, a handshake naming `sni` (a neutral name), its chain verified against this
        connector's store whatever name it is for. A middlebox that replaces the chains of the
        names on its list passes a name it does not list to the server, whose own chain comes
        back; a server whose own chain is untrusted (a private CA) sends the same untrusted one."""
        tcp, stream = await self.tcp_connect(hostname, address, port)
        tcp["purpose"] = v.PURPOSE_CERT_CHECK
        if stream is None:
            return tcp, None
        if self._any_name is None:
            context, _ = make_tls_contexts(self._ca_file)
            context.check_hostname = False  # the chain's trust is the question, not the name it is for
            self._any_name = context
        start = time.monotonic()
        try:
            tls_stream = await stream.start_tls(self._any_name, server_hostname=sni, timeout=self.timeout)
        except Exception as exc:
            await close_quietly(stream)
            observation = _tls_observation(hostname, address, port, sni, failure_from_exception(exc),
                                           elapsed_ms(start), None)
            observation["handshake_completed"] = observation["failure"] in VERIFICATION_FAILURES
        else:
            ssl_object = tls_stream.get_extra_info("ssl_object")
            chain, root = read_verified(ssl_object)
            observation = _tls_observation(hostname, address, port, sni, None, elapsed_ms(start), ssl_object, chain)
            if root is not None:
                observation["root_store"] = self.root_origins.origin(root)
            await close_quietly(tls_stream)
        observation["purpose"] = v.PURPOSE_CERT_CHECK
        return tcp, observation

    async def confirming_handshake(
        self, hostname: str, address: str, port: int, sni: str,
    ) -> tuple[TcpObservation, TlsObservation | None, httpcore.AsyncNetworkStream | None]:
        """The real name once more on a new connection, verified as usual (purpose "sni_confirm"):
        after the neutral name was answered, a filter on the name fails it again, a server that
        failed once by chance passes it."""
        tcp, stream = await self.tcp_connect(hostname, address, port)
        tcp["purpose"] = v.PURPOSE_SNI_CONFIRM
        if stream is None:
            return tcp, None, None
        observation, tls_stream = await self.tls_handshake(stream, hostname, address, port, sni)
        observation["purpose"] = v.PURPOSE_SNI_CONFIRM
        return tcp, observation, tls_stream

    async def completing_handshake(
        self, hostname: str, address: str, port: int, sni: str, intermediates: list[bytes],
    ) -> tuple[TcpObservation, TlsObservation | None, httpcore.AsyncNetworkStream | None]:
        """A new connection verified with the intermediates fetched through AIA added to the
        store, as a browser completes a chain its server sent without them."""
        tcp, stream = await self.tcp_connect(hostname, address, port)
        if stream is None:
            return tcp, None, None
        context = self.completing.with_intermediates(intermediates)
        start = time.monotonic()
        fetched = [hashlib.sha256(der).hexdigest() for der in intermediates]
        try:
            tls_stream = await stream.start_tls(context, server_hostname=sni, timeout=self.timeout)
        except Exception as exc:
            await close_quietly(stream)
            observation = _tls_observation(hostname, address, port, sni, failure_from_exception(exc),
                                           elapsed_ms(start), None)
            code = certificate_verify_code(exc)
            observation["handshake_completed"] = observation["failure"] in VERIFICATION_FAILURES
            observation["chain_complete"] = None if code is None else code not in ISSUER_NOT_FOUND_CODES
            observation["intermediates_fetched"] = fetched
            return tcp, observation, None
        ssl_object = tls_stream.get_extra_info("ssl_object")
        chain, root = read_verified(ssl_object)
        observation = _tls_observation(hostname, address, port, sni, None, elapsed_ms(start), ssl_object, chain)
        observation["chain_complete"] = True
        observation["intermediates_fetched"] = fetched
        if root is not None:
            observation["root_store"] = self.root_origins.origin(root)
        return tcp, observation, tls_stream


def _tls_observation(
    hostname: str, address: str, port: int, sni: str, failure: str | None, duration_ms: float,
    ssl_object: ssl.SSLObject | None, chain: Chain | None = None,
) -> TlsObservation:
    cipher = ssl_object.cipher() if ssl_object is not None else None
    observation = TlsObservation(
        hostname=hostname, address=address, port=port, sni=sni, failure=failure,
        handshake_completed=ssl_object is not None,
        verified=ssl_object is not None and failure is None,
        version=ssl_object.version() if ssl_object is not None else None,
        cipher=cipher[0] if cipher else None,
        alpn=ssl_object.selected_alpn_protocol() if ssl_object is not None else None,
        peer_chain=chain.infos if chain is not None else [],
        duration_ms=duration_ms,
    )
    if chain is not None:
        observation["chain_complete"] = chain.complete
    return observation


async def close_quietly(stream: httpcore.AsyncNetworkStream) -> None:
    """Close a connection we are done with; one already broken may fail to close: nothing to record."""
    try:
        await stream.aclose()
    except Exception:
        pass
