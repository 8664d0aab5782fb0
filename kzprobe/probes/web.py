"""Measure one web target: DNS (probe and control resolvers), TCP and TLS to each chosen
address, the HTTP redirect chain, and the download. Fills `observations` step by step, so that
a deadline cutting the target short still leaves everything measured until then."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncio
from dataclasses import dataclass

import httpx

from kzprobe.observations import Observations
from kzprobe.probes.connection import Connector
from kzprobe.probes.dns import DnsProbe
from kzprobe.probes.doh import DohClient
from kzprobe.probes.download import download
from kzprobe.probes.http import fetch_chain
from kzprobe.probes.session import SessionTransport, TargetSession, pick_addresses
from kzprobe.scrub import Scrubber

if TYPE_CHECKING:
    from kzprobe.targets import Target


@dataclass
class ProbeKit:
    """Everything probes share across a scan, built once: resolvers, TLS contexts, scrubber."""

    dns: DnsProbe
    control_dns: DnsProbe | None
    connector: Connector
    scrub: Scrubber
    timeout: float
    doh: DohClient | None = None  # the control resolver's HTTPS client, when it is DoH

    async def aclose(self) -> None:
        if self.doh is not None:
            await self.doh.aclose()


async def _probe_endpoint(kit: ProbeKit, session: TargetSession, hostname: str, address: str,
                          port: int, use_tls: bool) -> None:
    tcp, stream = await kit.connector.tcp_connect(hostname, address, port)
    session.record_tcp(tcp)
    if stream is None:
        return
    if use_tls:
        tls, stream = await kit.connector.tls_handshake(stream, hostname, address, port, hostname)
        session.record_tls(tls)
        if stream is None:
            return
    session.keep(stream, hostname, address, port, tls_done=use_tls)


async def measure_web_target(kit: ProbeKit, target: Target, observations: Observations) -> None:
    hostname, port = target.hostname, target.port
    session = TargetSession(kit.dns, kit.connector, observations)
    lookups = [kit.dns.lookup(hostname)]
    if kit.control_dns is not None:
        lookups.append(kit.control_dns.lookup(hostname))
    resolutions = await asyncio.gather(*lookups)
    observations["dns"] = resolutions[0]
    if len(resolutions) > 1:
        observations["control_dns"] = resolutions[1]
    session.remember_resolution(resolutions[0])
    addresses = pick_addresses(resolutions[0]["addresses"])
    if not addresses:
        return
    use_tls = target.scheme == "https"
    observations["tcp"], observations["tls"] = [], []
    try:
        # Endpoints are probed concurrently, then recorded in address order (stable reports).
        await asyncio.gather(*(_probe_endpoint(kit, session, hostname, a, port, use_tls) for a in addresses))
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
            await fetch_chain(client, target.url or "", observations, kit.scrub, kit.timeout)
            last = observations["http"][-1] if observations.get("http") else None
            if target.download and last is not None and last["status"] is not None:
                observations["download"] = await download(client, target.download, kit.timeout)
    finally:
        await session.close_kept()
