"""Fetch the intermediate a server forgot to send, the way browsers complete its chain.

Many servers send their certificate without the intermediate that links it to a root; browsers
load the page anyway (Chrome and Safari fetch the intermediate from the URL in the certificate's
Authority Information Access extension; Firefox ships the intermediates it knows). Without the
same, a site's own misconfiguration would read as an untrusted issuer - as interception - even
from the uncensored vantage. kzprobe fetches, only after a handshake failed verification with an
incomplete chain: over plain HTTP, through its own resolver and connections, at most two hops,
each reply and wait bounded (probes/limits.py), every fetch recorded (observations["aia"]).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpcore
from cryptography import x509

from kzprobe.probes import limits
from kzprobe.probes.certs import certificate_info, certificates_in, load_certificate, self_issued
from kzprobe.probes.connection import Connector, close_quietly
from kzprobe.probes.dns import DnsProbe
from kzprobe.probes.failures import BodyTooLarge, failure_from_exception
from kzprobe.report.observations import AiaObservation, CertificateInfo, elapsed_ms

_HEADERS = [(b"Accept", b"application/pkix-cert, application/pkcs7-mime, */*"), (b"Accept-Encoding", b"identity"),
            (b"Connection", b"close")]


def chain_top(chain: list[CertificateInfo]) -> CertificateInfo | None:
    """The last certificate of the sent chain that links to the leaf (by subject and issuer)."""
    if not chain:
        return None
    top, used = chain[0], {0}
    while len(used) < len(chain) and top["issuer"] != top["subject"]:
        following = next((i for i, c in enumerate(chain) if i not in used and c["subject"] == top["issuer"]), None)
        if following is None:
            break
        used.add(following)
        top = chain[following]
    return top


def _http_url(urls: list[str]) -> str | None:
    return next((u for u in urls if urlsplit(u).scheme.lower() == "http" and urlsplit(u).hostname), None)


def _is_intermediate(der: bytes) -> bool:
    """A CA certificate that is not a root: the only kind added to the completing store (a root
    fetched from a URL the server chose must never become trusted)."""
    cert = load_certificate(der)
    if cert is None or self_issued(cert):
        return False
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):  # no or malformed basic constraints: not a CA
        return False


async def fetch_intermediates(dns: DnsProbe, connector: Connector, chain: list[CertificateInfo], timeout: float,
                              record: Callable[[AiaObservation], None],
                              known_subject: Callable[[bytes], bool]) -> list[bytes]:
    """The intermediates (DER) fetched for a chain that came incomplete; [] when there is no
    http caIssuers URL or nothing usable came back. `known_subject` says whether an issuer
    name (DER) is a root of the trust store: then the chain is complete and no further hop is made."""
    top = chain_top(chain)
    url = _http_url(top.get("ca_issuers", [])) if top is not None else None
    for_sha = top["sha256"] if top is not None else ""
    fetched: list[bytes] = []
    for _ in range(limits.AIA_MAX_HOPS):
        if url is None:
            break
        observation, ders = await fetch_issuer(dns, connector, url, for_sha, timeout)
        record(observation)
        found = [der for der in ders if _is_intermediate(der) and der not in fetched]
        if not found:
            break
        fetched += found
        issuer = load_certificate(found[0])
        if issuer is None or known_subject(issuer.issuer.public_bytes()):
            break
        url = _http_url(_issuer_urls(found[0]))
        for_sha = observation["certificates"][0]["sha256"] if observation["certificates"] else ""
    return fetched


def _issuer_urls(der: bytes) -> list[str]:
    return certificate_info(der, issuers=True).get("ca_issuers", [])


def _addresses_in_order(addresses: list[str]) -> list[str]:
    v4 = [a for a in addresses if ipaddress.ip_address(a).version == 4]
    v6 = [a for a in addresses if ipaddress.ip_address(a).version == 6]
    return (v4[: limits.ADDRESSES_PER_FAMILY] + v6[: limits.ADDRESSES_PER_FAMILY])


async def fetch_issuer(dns: DnsProbe, connector: Connector, url: str, for_sha: str,
                       timeout: float) -> tuple[AiaObservation, list[bytes]]:
    """GET one caIssuers URL through kzprobe's resolver path; the certificates in the reply."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    observation = AiaObservation(url=url, for_certificate=for_sha, hostname=host, addresses=[], address=None,
                                 status=None, bytes=0, certificates=[], failure=None, duration_ms=0.0)
    start = time.monotonic()
    ders: list[bytes] = []
    try:
        async with asyncio.timeout(min(timeout, limits.AIA_MAX_SECONDS)):
            body = await _get(dns, connector, parts.port or 80, host,
                              (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), observation)
        if body is not None:
            ders = certificates_in(body)
            observation["certificates"] = [certificate_info(der) for der in ders]
    except Exception as exc:
        observation["failure"] = failure_from_exception(exc)
    observation["duration_ms"] = elapsed_ms(start)
    return observation, ders


async def _get(dns: DnsProbe, connector: Connector, port: int, host: str, target: str,
               observation: AiaObservation) -> bytes | None:
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        resolution = await dns.lookup(host)
        addresses = list(resolution["addresses"])
        if not addresses:
            observation["addresses"] = []
            observation["failure"] = resolution["failure"]
            return None
    observation["addresses"] = addresses
    stream = None
    for address in _addresses_in_order(addresses):
        tcp, stream = await connector.tcp_connect(host, address, port)
        observation["address"] = address
        if stream is not None:
            break
        observation["failure"] = tcp["failure"]
    if stream is None:
        return None
    observation["failure"] = None
    connection = httpcore.AsyncHTTP11Connection(origin=httpcore.Origin(b"http", host.encode("idna"), port),
                                                stream=stream)
    try:
        request = httpcore.Request(b"GET", httpcore.URL(scheme=b"http", host=host.encode("idna"), port=port,
                                                        target=target.encode("ascii", "replace")),
                                   headers=[(b"Host", host.encode("idna")), *_HEADERS])
        response = await connection.handle_async_request(request)
        observation["status"] = response.status
        body = b""
        try:
            async for part in response.aiter_stream():
                body += part
                if len(body) > limits.AIA_MAX_BYTES:
                    raise BodyTooLarge()
        finally:
            await response.aclose()
        observation["bytes"] = len(body)
        return body if response.status == 200 else None
    finally:
        await connection.aclose()
        await close_quietly(stream)
