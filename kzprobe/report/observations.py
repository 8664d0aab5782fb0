"""What the probes record: plain JSON-ready data, the contract between measurement and analysis.

Probes fill these in and never decide anything; analysis reads them (from a live scan or from a
saved report) and decides. Times are milliseconds as floats rounded to 0.1; addresses are
strings as written by `ipaddress`; every "failure" is None or a string from
vocabulary.FAILURES (or "unknown_failure: <text>"). Every string of a result, keys included,
is scrubbed of this machine's addresses as the result leaves measurement (report/scrub.py).
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class DnsQuery(TypedDict):
    """One query of one record type to one resolver."""

    qtype: str  # "A" | "AAAA"
    rcode: str | None  # "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", … None when no reply
    answers: list[str]  # addresses of that type, in answer order
    cnames: list[str]  # CNAME chain targets seen in the answer
    failure: str | None
    duration_ms: float


class DnsObservation(TypedDict):
    """Resolution of one hostname (A and AAAA, asked concurrently) through one resolver."""

    hostname: str  # as asked on the wire (IDNA, punycode), lower case
    resolver: str  # "system" (with the servers used), "IP:PORT" or a DoH URL
    addresses: list[str]  # A then AAAA answers, deduplicated; [] on failure
    failure: str | None  # None when any address came back; else the most telling query failure
    queries: list[DnsQuery]
    duration_ms: float


class TcpObservation(TypedDict):
    """One TCP connect to one resolved address."""

    hostname: str  # the name this address was resolved for
    address: str
    port: int
    failure: str | None
    duration_ms: float


class CertificateInfo(TypedDict):
    subject: str  # RFC 4514 string, e.g. "CN=orda.kz"
    issuer: str
    sans: list[str]  # DNS names and IP addresses
    not_before: str  # ISO 8601 UTC
    not_after: str
    sha256: str  # hex of the DER


class TlsObservation(TypedDict):
    """One TLS handshake with SNI over a fresh TCP connection to one address.

    A handshake that completes but whose certificate fails verification has the verification
    failure string (ssl_unknown_authority, ssl_invalid_hostname, ssl_invalid_certificate),
    `handshake_completed` true, and the chain the server sent.
    """

    hostname: str
    address: str
    port: int
    sni: str
    failure: str | None
    handshake_completed: bool
    verified: bool  # chain and hostname validated against the trust store (+ --ca-file)
    version: str | None  # "TLSv1.3"
    cipher: str | None
    alpn: str | None
    peer_chain: list[CertificateInfo]  # leaf first, as sent by the server
    duration_ms: float


class HttpTimings(TypedDict):
    dns_ms: float | None  # resolution of this hop's host (None when reused)
    connect_ms: float | None  # TCP connect (None when the connection was reused)
    tls_ms: float | None
    first_byte_ms: float | None  # from sending the request to the first response byte
    total_ms: float


class HttpObservation(TypedDict):
    """One HTTP request/response: one hop of a redirect chain."""

    url: str
    method: str
    address: str | None  # the resolved address the request went to
    port: int | None
    status: int | None
    headers: dict[str, str]  # response headers, names lower case, values as text
    location: str | None  # absolute redirect target when status is 3xx
    body_length: int | None  # decoded bytes read (up to the cap)
    body_sha256: str | None
    body_truncated: bool  # the cap stopped the read before the end
    body: str  # first 64 KiB of the decoded body as text, "" when none
    title: str | None  # <title>, whitespace collapsed, control characters removed
    body_read_ms: float | None  # from first byte to the end of the body read
    failure: str | None
    timings: HttpTimings
    # Only when a first attempt on a connection reused from the previous hop failed before any
    # response byte (the server closed it as the request went out): that attempt's failure.
    # This hop is then the second attempt, on a new connection.
    retried_after: NotRequired[str]


class DownloadSample(TypedDict):
    t_ms: float  # since the request was sent
    bytes: int  # cumulative body bytes at t_ms


class DownloadObservation(TypedDict):
    """A timed fetch of a target's larger resource, for throughput."""

    url: str
    address: str | None
    status: int | None
    bytes: int
    duration_ms: float  # from request to last byte (or to the failure)
    first_byte_ms: float | None
    kilobytes_per_second: float | None  # bytes/1000 over the body transfer time (first byte to last)
    samples: list[DownloadSample]  # at most limits.DOWNLOAD_MAX_SAMPLES, evenly thinned
    longest_stall_ms: float  # longest gap between two received chunks
    complete: bool  # the whole resource (or the byte budget) was read
    failure: str | None


class Observations(TypedDict, total=False):
    """Everything measured for one web target. Keys absent when that step did not run."""

    dns: DnsObservation  # the target's host through the probe's resolver
    control_dns: DnsObservation  # the same name through the control resolver
    tcp: list[TcpObservation]  # endpoint probes of the target host, then connections made by redirects
    tls: list[TlsObservation]
    http: list[HttpObservation]  # the redirect chain, in order
    redirect_dns: list[DnsObservation]  # resolutions of other hosts met in redirects
    download: DownloadObservation
