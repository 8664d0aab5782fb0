"""What every probe of a scan shares, built once (scan/run.py build_probe_kit): the resolvers,
the connector with its TLS contexts, the scrubber, the timeout. Its own module, so that the
probes that take it (web, https_check, service_endpoints) need not import each other."""

from __future__ import annotations

from dataclasses import dataclass

from kzprobe.probes.connection import Connector
from kzprobe.probes.dns import DnsProbe
from kzprobe.probes.doh import DohClient
from kzprobe.report.scrub import Scrubber


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
