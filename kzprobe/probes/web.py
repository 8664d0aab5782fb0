"""Measure one web target: DNS (probe and control resolvers), TCP and TLS to each chosen
address, the HTTP redirect chain, and the download. Fills `observations` step by step, so that
a deadline cutting the target short still leaves everything measured until then.

When the local answer shares no address with the control resolver's and the target failed
here, the control's addresses are tried too, with the real name (purpose "control_address"):
a name that fails at the true address as well is not blocked by the resolver's answer (an
in-ISP CDN node behind an SNI filter is TLS blocking, not DNS)."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpcore
import httpx

from kzprobe.probes import limits
from kzprobe.probes.connection import close_quietly
from kzprobe.probes.download import download
from kzprobe.probes.http import fetch_chain
from kzprobe.probes.https_check import check_https_twin
from kzprobe.probes.kit import ProbeKit
from kzprobe.probes.quic import measure_quic
from kzprobe.probes.session import SessionTransport, TargetSession, pick_addresses
from kzprobe.probes.turns import cpu_turn, without_ticket
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import Observations, TcpObservation

if TYPE_CHECKING:
    from kzprobe.targets import Target


@dataclass(frozen=True)
class _Connection:
    stream: httpcore.AsyncNetworkStream | None  # None: the connection failed
    tcp: TcpObservation  # as recorded
    made_at: float  # time.monotonic()


async def _connect(kit: ProbeKit, session: TargetSession, hostname: str, address: str, port: int) -> _Connection:
    tcp, stream = await kit.connector.tcp_connect(hostname, address, port)
    session.record_tcp(tcp)
    return _Connection(stream, tcp, time.monotonic())


async def _fresh_if_idle(kit: ProbeKit, session: TargetSession, observations: Observations, made: _Connection,
                         hostname: str, address: str, port: int) -> httpcore.AsyncNetworkStream | None:
    """The connection, or a new one if it sat idle past limits.IDLE_CONNECTION_S waiting for a
    turn: a server or middlebox may close a connection that does not start its handshake at
    once, and that close would read as TLS blocking. The new connection's TCP result replaces
    the idle one's in the observations."""
    if made.stream is None or time.monotonic() - made.made_at <= limits.IDLE_CONNECTION_S:
        return made.stream
    await close_quietly(made.stream)
    recorded = observations.get("tcp", [])
    for index, tcp in enumerate(recorded):
        if tcp is made.tcp:
            del recorded[index]
            break
    tcp, stream = await kit.connector.tcp_connect(hostname, address, port)
    session.record_tcp(tcp)
    return stream


async def _secure(kit: ProbeKit, session: TargetSession, stream: httpcore.AsyncNetworkStream | None,
                  hostname: str, address: str, port: int, use_tls: bool) -> None:
    if stream is None:
        return
    if use_tls:
        stream = await session.handshake(stream, hostname, address, port, hostname)
        if stream is None:
            return
    session.keep(stream, hostname, address, port, tls_done=use_tls)


async def _first_connection(connecting: list[asyncio.Task]) -> bool:
    """Wait until one TCP connection is made (True), or every attempt has failed (False)."""
    pending = set(connecting)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if any(task.result().stream is not None for task in done):
            return True
    return False


async def _close_unclaimed(connecting: list[asyncio.Task], claimed: set[asyncio.Task]) -> None:
    """Connections made but never handed on (the target was cut short meanwhile)."""
    for task in connecting:
        task.cancel()
        if task in claimed or not task.done() or task.cancelled() or task.result().stream is None:
            continue
        await close_quietly(task.result().stream)


async def measure_web_target(kit: ProbeKit, target: Target, observations: Observations) -> None:
    hostname = target.hostname
    # The control resolver's answer is only compared with afterwards: it is awaited at the
    # end, and the connections start as soon as the measured resolver has answered.
    # Outside the target's ticket: its waits for a resolver slot are not the target's queue.
    control = asyncio.create_task(kit.control_dns.lookup(hostname), context=without_ticket()) \
        if kit.control_dns is not None else None
    try:
        observations["dns"] = await kit.dns.lookup(hostname)
        if control is not None:
            observations["control_dns"] = None  # type: ignore[typeddict-item]  # its place; filled below
        await _connect_and_fetch(kit, target, observations)
        await check_https_twin(kit, target, observations)  # http:// targets only
        await measure_quic(kit, target, observations)  # `quic: true` https targets only
    finally:
        if control is not None:
            if control.done() or not _cancelling():
                try:
                    observations["control_dns"] = await control
                except asyncio.CancelledError:
                    observations.pop("control_dns", None)
                    raise
            else:
                control.cancel()
                observations.pop("control_dns", None)
    await _try_control_addresses(kit, target, observations)
    await _ask_control_about_redirect_hosts(kit, observations)


def _not_global(address: str) -> bool:
    try:
        return not ipaddress.ip_address(address).is_global
    except ValueError:
        return True


async def _ask_control_about_redirect_hosts(kit: ProbeKit, observations: Observations) -> None:
    """Hosts met in redirects whose answer here held an address that is not global (private,
    loopback, reserved) are resolved again through the control resolver: a site that sends its
    visitors to a name it misconfigured for everyone is not lied about here. Nothing on the
    healthy path; at most limits.CONTROL_REDIRECT_LOOKUPS hosts."""
    if kit.control_dns is None:
        return
    hosts = [d["hostname"] for d in observations.get("redirect_dns", [])
             if any(_not_global(a) for a in d["addresses"])][: limits.CONTROL_REDIRECT_LOOKUPS]
    if hosts:
        observations["control_redirect_dns"] = list(
            await asyncio.gather(*(kit.control_dns.lookup(host) for host in dict.fromkeys(hosts))))


def _failed_here(target: Target, observations: Observations) -> bool:
    """No handshake with the name verified (https; the real name's second try after the SNI
    split counts), no page came back (http)."""
    if target.scheme == "https":
        return not any(t["verified"] for t in observations.get("tls", [])
                       if t["hostname"] == target.hostname and t.get("purpose", v.PURPOSE_SNI_CONFIRM) ==
                       v.PURPOSE_SNI_CONFIRM)
    return not any(hop["status"] is not None for hop in observations.get("http", []))


async def _try_control_addresses(kit: ProbeKit, target: Target, observations: Observations) -> None:
    """TCP (and, for https, TLS with the real name) to the addresses only the control resolver
    returned, after a failure here; nothing on the healthy path."""
    local, control = observations.get("dns"), observations.get("control_dns")
    if not local or not control or not local["addresses"] or not control["addresses"]:
        return
    if set(local["addresses"]) & set(control["addresses"]) or not _failed_here(target, observations):
        return
    hostname, port, use_tls = target.hostname, target.port, target.scheme == "https"

    async def attempt(address: str) -> None:
        tcp, stream = await kit.connector.tcp_connect(hostname, address, port)
        tcp["purpose"] = v.PURPOSE_CONTROL_ADDRESS
        observations.setdefault("tcp", []).append(tcp)
        if stream is None:
            return
        if not use_tls:
            await close_quietly(stream)
            return
        async with cpu_turn():
            tls, tls_stream = await kit.connector.tls_handshake(stream, hostname, address, port, hostname)
        tls["purpose"] = v.PURPOSE_CONTROL_ADDRESS
        observations.setdefault("tls", []).append(tls)
        if tls_stream is not None:
            await close_quietly(tls_stream)

    await asyncio.gather(*(attempt(a) for a in pick_addresses(control["addresses"])))


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _connect_and_fetch(kit: ProbeKit, target: Target, observations: Observations) -> None:
    hostname, port = target.hostname, target.port
    session = TargetSession(kit.dns, kit.connector, observations)
    session.remember_resolution(observations["dns"])
    addresses = pick_addresses(observations["dns"]["addresses"])
    if not addresses:
        return
    observations["tcp"], observations["tls"] = [], []
    # Every address is connected to at once; the CPU work (TLS, HTTP) waits for a turn
    # (turns.py), taken once a connection is made: a dropped SYN waits without holding one.
    connecting = [asyncio.create_task(_connect(kit, session, hostname, a, port)) for a in addresses]
    claimed: set[asyncio.Task] = set()
    try:
        connected = await _first_connection(connecting)
        async with cpu_turn() if connected else nullcontext():
            await _measure_connected(kit, target, session, observations, addresses, connecting, claimed)
    finally:
        await _close_unclaimed(connecting, claimed)
        await session.close_kept()


async def _measure_connected(kit: ProbeKit, target: Target, session: TargetSession, observations: Observations,
                             addresses: list[str], connecting: list[asyncio.Task],
                             claimed: set[asyncio.Task]) -> None:
    hostname, port = target.hostname, target.port
    use_tls = target.scheme == "https"

    async def secure(task: asyncio.Task, address: str) -> None:
        made = await task
        claimed.add(task)
        stream = await _fresh_if_idle(kit, session, observations, made, hostname, address, port)
        await _secure(kit, session, stream, hostname, address, port, use_tls)

    # Endpoints are probed concurrently, then recorded in address order (stable reports).
    await asyncio.gather(*(secure(task, a) for task, a in zip(connecting, addresses, strict=True)))
    order = {a: i for i, a in enumerate(addresses)}
    observations["tcp"].sort(key=lambda o: order.get(o["address"], 99))
    observations["tls"].sort(key=lambda o: order.get(o["address"], 99))
    await session.keep_first(addresses, hostname, port)
    if not session.has_kept(hostname, port):
        return
    timeout = httpx.Timeout(kit.timeout)
    # trust_env=False: a proxy from the environment would take requests off our resolver path.
    async with httpx.AsyncClient(transport=SessionTransport(session), timeout=timeout, trust_env=False,
                                 follow_redirects=False) as client:
        await fetch_chain(client, target.url or "", observations, kit.timeout)
        last = observations["http"][-1] if observations.get("http") else None
        if target.download and last is not None and last["status"] is not None:
            observations["download"] = await download(client, target.download, kit.timeout)
