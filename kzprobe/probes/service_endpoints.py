"""Measure a service's endpoints (a messenger's data centres, chat and registration hosts).

A messenger is not a web page: people are cut off when its service endpoints are, even if its
web front end loads. For each endpoint of a target this probe records, in target order, the
resolution of its host (skipped for IP literals), a TCP connect to each chosen address and, for
`tls: true` endpoints, a TLS handshake with SNI. An endpoint with a pinned CA (Signal's service
hosts chain to Signal's own root) is verified against that CA alone, so that a chain from an
interception root fails with ssl_unknown_authority and is recorded, together with whether the
chain validates for the name without the pin (a service that moved to a public CA, where the pin
is stale). A handshake reset, closed or silenced after the ClientHello gets the SNI split, as a
web target's does (probes/session.py): the same address with a neutral name, then the real name
once more when that was answered. The Tor kinds (an OR port's unverified TLS, a directory port's
document, an obfs4 bridge) take the connection over in probes/tor_endpoints.py and get no split:
an OR port's name is random and an obfs4 handshake has none. Nothing here decides anything:
analysis/services/ reads these records.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
from typing import TYPE_CHECKING, Final, NotRequired, TypedDict

import httpcore

from kzprobe.probes import limits, obfs4, tor_endpoints
from kzprobe.probes.connection import ALPN_PROTOCOLS, Connector, close_quietly
from kzprobe.probes.session import SNI_SPLIT_FAILURES, pick_addresses
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import DnsObservation, Observations, TcpObservation, TlsObservation
from kzprobe.targets import is_ip_literal

if TYPE_CHECKING:
    from kzprobe.probes.kit import ProbeKit
    from kzprobe.targets import Endpoint, Target

# Connection attempts (and host resolutions) in flight at once for one target. WhatsApp alone
# has 34 endpoints with up to 4 addresses each: opened all at once that is over 100 sockets
# from one target, which file-descriptor budgets and ISP-side connection-rate limits punish
# (a rate limit would itself look like blocking). 16 keeps a fully blocked WhatsApp (32
# connects that each wait out the timeout) within about two timeouts.
ENDPOINT_OPERATIONS_AT_ONCE: Final = 16


class EndpointObservation(TypedDict):
    """Everything measured for one endpoint of a service target."""

    endpoint: str  # "host:port", IPv6 literals in brackets
    host: str  # IDNA lower-case name, or an IP address
    port: int
    role: str | None  # "chat", "registration", "datacenter", … (targets.ENDPOINT_ROLES)
    tls: bool  # a TLS handshake was part of the test
    sni: str | None  # the server name sent (the endpoint's sni, else its host); None without TLS
    ca: str | None  # name of the pinned CA bundle verified against, None for the default store
    dns: DnsObservation | None  # None for IP literals: no resolution
    control_dns: DnsObservation | None  # the same name through the control resolver, when one is set
    # One per chosen address, in address order; then the SNI split's connections (with a "purpose").
    tcp: list[TcpObservation]
    # One per address whose TCP connect worked; then the SNI split's handshakes (with a "purpose").
    tls_handshakes: list[TlsObservation]
    failure: str | None  # the endpoint could not be measured at all (its pinned CA is unusable)
    kind: NotRequired[str]  # targets.ENDPOINT_KINDS, when the endpoint has one
    directory: NotRequired[list[tor_endpoints.DirectoryFetch]]  # tor_dir: one per connected address
    obfs4: NotRequired[dict]  # obfs4: which client was found, and its handshake when it ran


def endpoint_label(host: str, port: int) -> str:
    """'host:port', with an IPv6 address in brackets so the port stays readable."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def pinned_context(ca_path: str) -> ssl.SSLContext:
    """A verifying context that trusts the one CA bundle at ca_path and nothing else.

    Built once per bundle and kept (once per scan, not once per endpoint); a bundle replaced
    on disk (a lab regenerating its CA at the same path) is loaded afresh."""
    status = os.stat(ca_path)
    return _pinned_context(ca_path, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=32)
def _pinned_context(ca_path: str, mtime_ns: int, size: int) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, hostname checked
    context.load_verify_locations(cafile=ca_path)
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    return context


def _connector_for(kit: ProbeKit, endpoint: Endpoint) -> Connector:
    """The kit's connector, one verifying against the endpoint's pinned CA only, or for a Tor
    OR port one that completes with any certificate."""
    if endpoint.kind == "tor_or":
        context = tor_endpoints.unverified_context()
        return Connector(context, context, kit.timeout)
    if endpoint.ca is None or endpoint.ca_file is None:
        return kit.connector
    return Connector(pinned_context(str(endpoint.ca_file)), kit.connector.capturing, kit.timeout,
                     public=kit.connector)


def _new_record(endpoint: Endpoint) -> EndpointObservation:
    if endpoint.kind == "tor_or":
        sni: str | None = tor_endpoints.tor_like_server_name()
    else:
        sni = (endpoint.sni or endpoint.host) if endpoint.tls else None
    record = EndpointObservation(
        endpoint=endpoint_label(endpoint.host, endpoint.port), host=endpoint.host, port=endpoint.port,
        role=endpoint.role, tls=endpoint.tls, sni=sni, ca=endpoint.ca, dns=None, control_dns=None,
        tcp=[], tls_handshakes=[], failure=None,
    )
    if endpoint.kind is not None:
        record["kind"] = endpoint.kind
    if endpoint.kind == "tor_dir":
        record["directory"] = []
    return record


class _Resolutions:
    """One resolution per host name per target, shared by its endpoints (e1.whatsapp.net:443
    and :5222 ask once), each holding an operation slot while it runs."""

    def __init__(self, kit: ProbeKit, slots: asyncio.Semaphore, group: asyncio.TaskGroup) -> None:
        self._kit, self._slots, self._group = kit, slots, group
        self._tasks: dict[str, asyncio.Task[tuple[DnsObservation, DnsObservation | None]]] = {}

    def of(self, host: str) -> asyncio.Task[tuple[DnsObservation, DnsObservation | None]]:
        if host not in self._tasks:
            self._tasks[host] = self._group.create_task(self._resolve(host))
        return self._tasks[host]

    async def _resolve(self, host: str) -> tuple[DnsObservation, DnsObservation | None]:
        async with self._slots:
            lookups = [self._kit.dns.lookup(host)]
            if self._kit.control_dns is not None:
                lookups.append(self._kit.control_dns.lookup(host))
            found = await asyncio.gather(*lookups)
        return found[0], (found[1] if len(found) > 1 else None)


async def _connect(connector: Connector, record: EndpointObservation, address: str,
                   slots: asyncio.Semaphore) -> None:
    """TCP connect to one address, then the TLS handshake when the endpoint uses TLS; closed after."""
    host, port = record["host"], record["port"]
    async with slots:
        tcp, stream = await connector.tcp_connect(host, address, port)
        record["tcp"].append(tcp)
        if stream is None:
            return
        try:
            if record["tls"]:
                # tls_handshake closes the TCP stream itself when the handshake fails.
                handshake, stream = await connector.tls_handshake(stream, host, address, port, str(record["sni"]))
                if record.get("kind") == "tor_or":
                    handshake["verified"] = False  # completed with the certificate never checked
                record["tls_handshakes"].append(handshake)
                if stream is None and _splits(record, handshake):
                    stream = await _sni_split(connector, record, address)
            elif record.get("kind") == "tor_dir":
                fetch = await tor_endpoints.fetch_directory_document(stream, address, port, connector.timeout)
                record["directory"].append(fetch)
        finally:
            if stream is not None:
                await close_quietly(stream)


def _splits(record: EndpointObservation, handshake: TlsObservation) -> bool:
    """A failure after the ClientHello that the SNI split can tell apart (not a Tor OR port's)."""
    return (handshake["failure"] in SNI_SPLIT_FAILURES and record.get("kind") is None
            and record["sni"] != limits.NEUTRAL_SNI)


async def _sni_split(connector: Connector, record: EndpointObservation,
                     address: str) -> httpcore.AsyncNetworkStream | None:
    """The same address with limits.NEUTRAL_SNI (purpose "neutral_sni"); when the server answered
    it (a completed handshake or an alert), the real name once more (purpose "sni_confirm"), so
    that one flaky failure is not read as a filter. Recorded in the endpoint's lists; the real
    name's stream when that second try validated."""
    host, port = record["host"], record["port"]
    tcp, neutral = await connector.neutral_handshake(host, address, port, limits.NEUTRAL_SNI)
    record["tcp"].append(tcp)
    if neutral is None:
        return None
    record["tls_handshakes"].append(neutral)
    if not (neutral["handshake_completed"] or neutral["failure"] == v.SSL_FAILED_HANDSHAKE):
        return None
    tcp, again, stream = await connector.confirming_handshake(host, address, port, str(record["sni"]))
    record["tcp"].append(tcp)
    if again is not None:
        record["tls_handshakes"].append(again)
    return stream


async def _measure_endpoint(kit: ProbeKit, endpoint: Endpoint, record: EndpointObservation,
                            resolutions: _Resolutions, slots: asyncio.Semaphore) -> None:
    try:
        connector = _connector_for(kit, endpoint)
    except (OSError, ssl.SSLError, ValueError):  # a pinned bundle missing or not PEM
        # Not a network failure; the path is left out (it may name the volunteer's home).
        record["failure"] = f"{v.UNKNOWN_FAILURE_PREFIX}pinned CA bundle {endpoint.ca!r} cannot be loaded"
        return
    if is_ip_literal(endpoint.host):
        addresses = [endpoint.host]
    else:
        resolved, record["control_dns"] = await resolutions.of(endpoint.host)
        record["dns"] = resolved
        addresses = pick_addresses(resolved["addresses"])
    async with asyncio.TaskGroup() as group:
        for address in addresses:
            group.create_task(_connect(connector, record, address, slots))
    # Attempts finish in any order; reports list them in address order, the endpoint's own first
    # and the SNI split's after them (each address's in the order made: the sort is stable).
    order = {address: index for index, address in enumerate(addresses)}
    record["tcp"].sort(key=lambda o: ("purpose" in o, order.get(o["address"], len(order))))
    record["tls_handshakes"].sort(key=lambda o: ("purpose" in o, order.get(o["address"], len(order))))
    if "directory" in record:
        record["directory"].sort(key=lambda o: order.get(o["address"], len(order)))


async def measure_endpoints(kit: ProbeKit, target: Target, observations: Observations) -> None:
    """Fill observations["endpoints"]: one EndpointObservation per endpoint, in target order.

    The records are in place from the start and filled as steps finish, so a target deadline
    cutting the measurement short keeps every step measured until then (a step still running
    is simply absent). Every operation is bounded by kit.timeout through the DNS probe and the
    connector."""
    records = [_new_record(endpoint) for endpoint in target.endpoints]
    observations["endpoints"] = records
    slots = asyncio.Semaphore(ENDPOINT_OPERATIONS_AT_ONCE)
    async with asyncio.TaskGroup() as group:
        resolutions = _Resolutions(kit, slots, group)
        for endpoint, record in zip(target.endpoints, records, strict=True):
            group.create_task(_measure_endpoint(kit, endpoint, record, resolutions, slots))
    await _obfs4_handshakes(kit, target, records, slots)


async def _obfs4_handshakes(kit: ProbeKit, target: Target, records: list[EndpointObservation],
                            slots: asyncio.Semaphore) -> None:
    """For the obfs4 bridges whose TCP connect worked: the obfs4 handshake through the real
    client when one is installed (probes/obfs4.py); else each bridge's record says none was."""
    bridges = [(e, r) for e, r in zip(target.endpoints, records, strict=True) if e.kind == "obfs4" and e.cert]
    if not bridges:
        return
    path = obfs4.find_client()
    if path is None:
        for _endpoint, record in bridges:
            record["obfs4"] = {"client": None}
        return
    async with obfs4.managed_client(path) as client:
        async def one(endpoint: Endpoint, record: EndpointObservation) -> None:
            if client is None:
                record["obfs4"] = {"client": os.path.basename(path),
                                   "failure": f"{v.UNKNOWN_FAILURE_PREFIX}the obfs4 client did not start"}
                return
            address = next((t["address"] for t in record["tcp"] if t["failure"] is None), None)
            if address is None:
                return  # TCP already failed: nothing to shake hands with
            async with slots:
                record["obfs4"] = dict(await client.handshake(address, endpoint.port, str(endpoint.cert), kit.timeout))

        await asyncio.gather(*(one(e, r) for e, r in bridges))



