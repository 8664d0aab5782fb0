"""One target's measurement session: its resolutions, its connections and what they recorded.

httpx connects through `SessionBackend`, so every connection an HTTP request makes (redirects
included) goes to an address kzprobe resolved itself and lands in the target's observations.
Every TLS handshake of the target goes through `TargetSession.handshake`, which also makes what a
failure calls for, and only then: the SNI split (a failure after the ClientHello is tried once
more to the same address with a neutral name, then once more with the real name when the neutral
one was answered), the completion of a chain the server sent without its intermediate (AIA), and
after a chain from an untrusted issuer, the neutral name's chain checked for trust at the same
address; and after a slow handshake, one with the neutral name to the same address.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import ipaddress
import ssl
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpcore
import httpx

from kzprobe.probes import limits
from kzprobe.probes.aia import chain_top, fetch_intermediates
from kzprobe.probes.connection import Connector, close_quietly
from kzprobe.probes.dns import DnsProbe
from kzprobe.probes.failures import RecordedFailure
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import AiaObservation, DnsObservation, Observations, TcpObservation, TlsObservation

# Failures after the ClientHello that SNI filtering causes - and a server refusing every
# ClientHello too: the neutral-name retry tells them apart (Kazakhstan's DPI resets,
# closes or silences the handshake by the server name).
SNI_SPLIT_FAILURES = frozenset({v.CONNECTION_RESET, v.EOF_ERROR, v.GENERIC_TIMEOUT})

# httpcore asks which async library runs by importing sniffio for every lock, event and
# cancellation shield it makes, several per request. sniffio is not installed with kzprobe, and
# Python does not remember a failed import: each ask searched sys.path again (~0.1 ms, about
# 0.6 ms of CPU per target). A None entry in sys.modules makes the same ImportError immediate.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]  # None marks a module as missing


def pick_addresses(addresses: list[str]) -> list[str]:
    """At most limits.ADDRESSES_PER_FAMILY of each family, IPv4 first, answer order kept."""
    v4 = [a for a in addresses if ipaddress.ip_address(a).version == 4]
    v6 = [a for a in addresses if ipaddress.ip_address(a).version == 6]
    return v4[: limits.ADDRESSES_PER_FAMILY] + v6[: limits.ADDRESSES_PER_FAMILY]


class _Stream(httpcore.AsyncNetworkStream):
    """A connection opened by the session; remembers its address and records its handshake."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, session: TargetSession, hostname: str,
                 address: str, port: int, tls_done: bool) -> None:
        self._inner = inner
        self._session = session
        self.hostname, self.address, self.port = hostname, address, port
        self._tls_done = tls_done

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        if self._tls_done:  # handed over by the endpoint probe, already encrypted
            return self
        tls_stream = await self._session.handshake(self._inner, self.hostname, self.address, self.port,
                                                   server_hostname or self.hostname)
        if tls_stream is None:
            raise RecordedFailure(str(self._session.last_tls_failure))
        return _Stream(tls_stream, self._session, self.hostname, self.address, self.port, tls_done=True)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class SessionBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, session: TargetSession) -> None:
        self._session = session

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        return await self._session.open_stream(host, port)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("kzprobe connects to resolved addresses only")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


class SessionTransport(httpx.AsyncBaseTransport):
    """httpx transport over an httpcore pool whose only way out is the session's backend."""

    def __init__(self, session: TargetSession, max_connections: int = 4) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=session.connector.verifying, max_connections=max_connections, http1=True, http2=False,
            retries=0, network_backend=SessionBackend(session),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions,
        )
        response = await self._pool.handle_async_request(core_request)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_ResponseStream(response.stream), extensions=response.extensions)

    async def aclose(self) -> None:
        await self._pool.aclose()


class TargetSession:
    """Shared by the probes of one target; appends everything to `observations` as it happens."""

    def __init__(self, dns: DnsProbe, connector: Connector, observations: Observations, *,
                 recording: bool = True) -> None:
        self.dns = dns
        self.connector = connector
        self.observations = observations
        self.recording = recording  # False for long-lived helpers (DoH) whose records nobody reads
        self._resolved: dict[str, DnsObservation] = {}
        self._kept: dict[tuple[str, int], _Stream] = {}
        self._probing: list[_Stream] = []
        self._split: set[tuple[str, int]] = set()  # (address, port) already retried with the neutral name
        self._slow_checked: set[tuple[str, int]] = set()  # (address, port) already checked after a slow handshake
        self._cert_checked: set[tuple[str, int]] = set()  # (address, port) whose neutral chain was checked for trust
        self._fetching: dict[str, asyncio.Task[list[bytes]]] = {}  # sha256 of a chain's top -> its AIA fetch
        self._completed: dict[str, list[bytes]] = {}  # host -> intermediates its chain verified with
        self.last_tls_failure: str | None = None

    def remember_resolution(self, observation: DnsObservation) -> None:
        self._resolved[observation["hostname"]] = observation

    def record_tcp(self, observation: TcpObservation) -> None:
        if not self.recording:
            return
        self.observations.setdefault("tcp", []).append(observation)

    def record_tls(self, observation: TlsObservation) -> None:
        if not self.recording:
            return
        self.observations.setdefault("tls", []).append(observation)

    def record_aia(self, observation: AiaObservation) -> None:
        if self.recording:
            self.observations.setdefault("aia", []).append(observation)

    async def handshake(self, stream: httpcore.AsyncNetworkStream, hostname: str, address: str, port: int,
                        sni: str) -> httpcore.AsyncNetworkStream | None:
        """The TLS handshake of one of the target's connections, recorded; None when it failed.

        After a failure, and only then: a reset, close or silence after the ClientHello is tried
        once more to the same address with limits.NEUTRAL_SNI (recorded, purpose "neutral_sni")
        and, when that name was answered, with the real name once more (purpose "sni_confirm",
        handed on when it verifies), and a chain that came without its intermediate is completed
        through AIA and verified again on a new connection, which is handed on when it verifies.
        After a validated handshake of limits.SLOW_HANDSHAKE_CHECK_MS or more, and only then: one
        handshake with the neutral name to the same address (purpose "slow_check"). After a chain
        from an untrusted issuer that AIA did not complete, and only then: one handshake with the
        neutral name to the same address, its chain verified for any name (purpose "cert_check"):
        a middlebox that replaces the chains of listed names passes the neutral one to the server."""
        fetched = self._completed.get(hostname)
        context = self.connector.completing.with_intermediates(fetched) if fetched else None
        observation, tls_stream = await self.connector.tls_handshake(stream, hostname, address, port, sni, context)
        if fetched:
            observation["intermediates_fetched"] = [hashlib.sha256(der).hexdigest() for der in fetched]
        self.record_tls(observation)
        self.last_tls_failure = observation["failure"]
        if not self.recording:
            return tls_stream
        if tls_stream is not None:
            slow = observation["duration_ms"] >= limits.SLOW_HANDSHAKE_CHECK_MS
            if slow and (address, port) not in self._slow_checked:
                self._slow_checked.add((address, port))
                await self._neutral(hostname, address, port, v.PURPOSE_SLOW_CHECK)
            return tls_stream
        if observation["failure"] in SNI_SPLIT_FAILURES and (address, port) not in self._split:
            self._split.add((address, port))
            neutral = await self._neutral(hostname, address, port, v.PURPOSE_NEUTRAL_SNI)
            if neutral is not None and (neutral["handshake_completed"] or neutral["failure"] == v.SSL_FAILED_HANDSHAKE):
                return await self._confirm(hostname, address, port, sni)
        elif observation["failure"] == v.SSL_UNKNOWN_AUTHORITY:
            completed = None
            if observation.get("chain_complete") is False and not fetched:
                completed = await self._complete_chain(observation, hostname, address, port, sni)
            if completed is None and (address, port) not in self._cert_checked:
                self._cert_checked.add((address, port))
                tcp, check = await self.connector.trust_check(hostname, address, port, limits.NEUTRAL_SNI)
                self.record_tcp(tcp)
                if check is not None:
                    self.record_tls(check)
            return completed
        return None

    async def _neutral(self, hostname: str, address: str, port: int, purpose: str) -> TlsObservation | None:
        tcp, neutral = await self.connector.neutral_handshake(hostname, address, port, limits.NEUTRAL_SNI, purpose)
        self.record_tcp(tcp)
        if neutral is not None:
            self.record_tls(neutral)
        return neutral

    async def _confirm(self, hostname: str, address: str, port: int, sni: str) -> httpcore.AsyncNetworkStream | None:
        """The address answered the neutral name: the real name once more, so that one flaky
        failure is not read as a filter on the name. Handed on when it verifies."""
        tcp, tls, stream = await self.connector.confirming_handshake(hostname, address, port, sni)
        self.record_tcp(tcp)
        if tls is not None:
            self.record_tls(tls)
            self.last_tls_failure = tls["failure"]
        return stream

    async def _complete_chain(self, observation: TlsObservation, hostname: str, address: str, port: int,
                              sni: str) -> httpcore.AsyncNetworkStream | None:
        top = chain_top(observation["peer_chain"])
        key = top["sha256"] if top is not None else ""
        if key not in self._fetching:  # one fetch per chain, shared by the addresses serving it
            self._fetching[key] = asyncio.ensure_future(fetch_intermediates(
                self.dns, self.connector, observation["peer_chain"], self.connector.timeout, self.record_aia,
                self.connector.knows_root_named))
        intermediates = await self._fetching[key]
        if not intermediates:
            return None
        tcp, tls, stream = await self.connector.completing_handshake(hostname, address, port, sni, intermediates)
        self.record_tcp(tcp)
        if tls is not None:
            self.record_tls(tls)
            self.last_tls_failure = tls["failure"]
        if stream is not None:
            self._completed[hostname] = intermediates  # later connections to it verify with them
        return stream

    def keep(self, stream: httpcore.AsyncNetworkStream, hostname: str, address: str, port: int,
             tls_done: bool) -> None:
        """Offer a probed connection to the next HTTP request for (hostname, port)."""
        self._probing.append(_Stream(stream, self, hostname, address, port, tls_done))

    async def keep_first(self, addresses: list[str], hostname: str, port: int) -> None:
        """Of several probed connections to (hostname, port), keep the first address's; close the rest.

        `keep` is called as endpoint probes finish, in any order; only one connection is handed
        to HTTP so that the request goes to the first working address in answer order."""
        kept = [s for s in self._probing if s.hostname == hostname and s.port == port]
        kept.sort(key=lambda s: addresses.index(s.address) if s.address in addresses else 99)
        if kept:
            self._kept[(hostname, port)] = kept[0]
        self._probing = [s for s in self._probing if s not in kept]
        for spare in kept[1:]:
            await close_quietly(spare)

    def has_kept(self, hostname: str, port: int) -> bool:
        return (hostname, port) in self._kept

    async def close_kept(self) -> None:
        for stream in [*self._kept.values(), *self._probing]:
            await close_quietly(stream)
        self._kept.clear()
        self._probing.clear()

    async def resolve(self, hostname: str) -> DnsObservation:
        if hostname not in self._resolved:
            observation = await self.dns.lookup(hostname)
            self._resolved[hostname] = observation
            if self.recording:
                self.observations.setdefault("redirect_dns", []).append(observation)
        return self._resolved[hostname]

    async def open_stream(self, host: str, port: int) -> httpcore.AsyncNetworkStream:
        hostname = host.lower()
        kept = self._kept.pop((hostname, port), None)
        if kept is not None:
            return kept
        resolution = await self.resolve(hostname)
        if not resolution["addresses"]:
            raise RecordedFailure(str(resolution["failure"]))
        failure = None
        for address in pick_addresses(resolution["addresses"]):
            observation, stream = await self.connector.tcp_connect(hostname, address, port)
            self.record_tcp(observation)
            if stream is not None:
                return _Stream(stream, self, hostname, address, port, tls_done=False)
            failure = observation["failure"]
        raise RecordedFailure(str(failure))



