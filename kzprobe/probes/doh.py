"""DNS over HTTPS (RFC 8484) through kzprobe's own connection path, for the control resolver.

The DoH server is reached like every other host: its name (if it has one) through the probe's
resolver, its connection through the Connector, its certificate verified against the trust store
plus --ca-file. Connections are kept alive and shared by all targets of a scan.
"""

from __future__ import annotations

import dns.message
import httpx

from kzprobe.probes.connection import Connector
from kzprobe.probes.dns import DnsProbe
from kzprobe.probes.session import SessionTransport, TargetSession

# A DNS message over HTTPS is small; anything bigger is not an answer.
MAX_DOH_RESPONSE_BYTES = 65535
# Connections kept open to the DoH server: enough for hundreds of targets in flight.
DOH_CONNECTIONS = 16


class DohError(Exception):
    """The DoH server answered, but not with a DNS message."""


class DohClient:
    def __init__(self, url: str, bootstrap: DnsProbe, connector: Connector, timeout: float) -> None:
        self.url = url
        session = TargetSession(bootstrap, connector, {}, recording=False)
        self._client = httpx.AsyncClient(
            transport=SessionTransport(session, max_connections=DOH_CONNECTIONS),
            timeout=httpx.Timeout(timeout), trust_env=False,  # no proxy may bypass the resolver path
        )

    async def exchange(self, query: dns.message.Message) -> dns.message.Message:
        query.id = 0  # RFC 8484 §4.1: cache-friendly
        response = await self._client.post(
            self.url, content=query.to_wire(),
            headers={"Content-Type": "application/dns-message", "Accept": "application/dns-message"},
        )
        if response.status_code != 200:
            raise DohError(f"DoH server answered HTTP {response.status_code}")
        body = response.content
        if len(body) > MAX_DOH_RESPONSE_BYTES:
            raise DohError("DoH response larger than a DNS message")
        try:
            return dns.message.from_wire(body)
        except Exception as exc:  # a malformed message is a protocol error, mapped by probes/failures.py
            raise DohError(f"DoH response is not a DNS message: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()
