"""What the probes record: plain JSON-ready data, the contract between measurement and analysis.

Probes fill these in and never decide anything; analysis reads them (from a live scan or from a
saved report) and decides. Times are milliseconds as floats rounded to 0.1; addresses are
strings as written by `ipaddress`; every "failure" is None or a string from
vocabulary.FAILURES (or "unknown_failure: <text>"). Every string of a result, keys included,
is scrubbed of this machine's addresses as the result leaves measurement (report/scrub.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final, NotRequired, TypedDict

# A measured result, as the scan records it before any analysis (a journal's result line): the
# target, its observations (Observations below), when and how long, and the optional queue time
# and count of scrubbed addresses. The analysis adds the verdict fields; a re-analysis or a
# resumed scan starts again from these keys alone.
MEASURED_KEYS: Final = ("target", "observations", "started_at", "duration_ms", "queued_ms", "scrubbed")
# The keys every measured result has (queued_ms and scrubbed may be absent).
REQUIRED_MEASURED_KEYS: Final = MEASURED_KEYS[:4]


def measured_part(result: Mapping[str, Any]) -> dict[str, Any]:
    """The measured result inside a result of a report (its verdict fields left out)."""
    return {key: result[key] for key in MEASURED_KEYS if key in result}


def elapsed_ms(start: float) -> float:
    """Milliseconds since `start` (a time.monotonic() reading), to 0.1 ms: every `*_ms` field."""
    return round((time.monotonic() - start) * 1000, 1)


class DnsQuery(TypedDict):
    """One query of one record type to one resolver."""

    qtype: str  # "A" | "AAAA"
    rcode: str | None  # "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", … None when no reply
    answers: list[str]  # addresses of that type, in answer order
    cnames: list[str]  # CNAME chain targets seen in the answer
    failure: str | None
    duration_ms: float
    # Only when the query was asked more than once (probes/dns_retry.py): the earlier attempts,
    # in order, each of which failed with SERVFAIL, REFUSED or no reply. The fields above are
    # the last attempt's.
    failed_attempts: NotRequired[list[DnsAttempt]]


class DnsAttempt(TypedDict):
    """An attempt of a DNS query that failed and was asked again."""

    rcode: str | None  # "SERVFAIL", "REFUSED"; None when no reply came
    failure: str
    duration_ms: float
    waited_ms: float  # the pause before the next attempt was sent


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
    # Absent for the target's own connections; "neutral_sni" for the connection of a handshake
    # retried with a neutral name, "sni_confirm" for the real name tried again after that,
    # "control_address" for one to an address only the control resolver returned, "slow_check"
    # for a neutral name after a slow handshake (vocabulary.PURPOSES).
    purpose: NotRequired[str]


class CertificateInfo(TypedDict):
    subject: str  # RFC 4514 string, e.g. "CN=orda.kz"
    issuer: str
    sans: list[str]  # DNS names and IP addresses
    not_before: str  # ISO 8601 UTC
    not_after: str
    sha256: str  # hex of the DER
    # The leaf's key: SHA-256 of its SubjectPublicKeyInfo (DER), whatever certificate carries it.
    spki_sha256: NotRequired[str]
    # Where its issuer can be fetched (AIA caIssuers), recorded for chains that failed verification.
    ca_issuers: NotRequired[list[str]]


class PublicVerification(TypedDict):
    """For a pinned endpoint whose chain failed its pin: the same name verified the way every web
    target is (this system's trust store plus --ca-file), on the connection that captured the chain."""

    verified: bool  # the chain validated for the name
    failure: str | None  # how that verification (or its connection) failed; None when it validated
    root_store: NotRequired[str]  # when verified: "public", "ca_file" or "system_only", as TlsObservation's


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
    # As for TcpObservation: absent for the target's own handshakes, else why this one was made.
    purpose: NotRequired[str]
    # Whether the chain the server sent reached a root (sent, or in the trust store) without a
    # missing intermediate; None when it cannot be told. On a handshake made with
    # `intermediates_fetched`, whether the chain was complete with them.
    chain_complete: NotRequired[bool | None]
    # For a verified handshake: where the root that verified it comes from - "public" (Mozilla's
    # set: certifi or the operating system's package), "ca_file" (--ca-file) or "system_only"
    # (only this system trusts it: installed on it).
    root_store: NotRequired[str]
    # SHA-256 of the intermediates fetched through AIA that this handshake was verified with
    # (a retry after the server's chain came incomplete).
    intermediates_fetched: NotRequired[list[str]]
    # A pinned service endpoint's handshake that failed its pin (ssl_unknown_authority): whether
    # the chain the server sent validates for the name without the pin (probes/connection.py).
    public_verification: NotRequired[PublicVerification]


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
    # Only when time ended the body read: "idle" (no data for a whole --timeout while the
    # connection stayed open: a freeze) or "time_budget" (still arriving when the target's
    # deadline came); `failure` is then generic_timeout_error.
    body_stopped: NotRequired[str]


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


class HttpsCheckObservation(TypedDict, total=False):
    """The HTTPS twin of an http:// target: `url` (https://, same host and path) and what its
    fetch recorded, shaped as in Observations; DNS is the target's own lookup."""

    url: str
    tcp: list[TcpObservation]
    tls: list[TlsObservation]
    http: list[HttpObservation]
    redirect_dns: list[DnsObservation]
class AiaObservation(TypedDict):
    """One fetch of a missing issuer certificate from a URL in a certificate's Authority
    Information Access (caIssuers), after a handshake failed verification with an incomplete
    chain: through kzprobe's resolver and connections, plain HTTP, bounded (probes/limits.py)."""

    url: str
    for_certificate: str  # SHA-256 of the certificate whose issuer was asked for
    hostname: str
    addresses: list[str]  # what the probe's resolver answered for the URL's host
    address: str | None  # the address the request went to
    status: int | None
    bytes: int  # body bytes read (up to limits.AIA_MAX_BYTES)
    certificates: list[CertificateInfo]  # found in the body (DER, PEM or PKCS#7)
    failure: str | None
    duration_ms: float


class KeywordObservation(TypedDict):
    """One request or handshake of a keyword target, to one baseline's own address.

    The word goes in one place (`placement`): the URL path or the Host header of a plaintext
    HTTP request, or the TLS server name; its pair (`neutral` true) differs only by a neutral
    word of the same length. Nothing is resolved: the address is the baseline's own."""

    placement: str  # "path" | "host" | "sni" (vocabulary.KEYWORD_PLACEMENTS)
    neutral: bool  # the neutral twin, not the keyword
    word: str  # as sent: the IDNA label (host, sni) or the percent-encoded path segment
    baseline: str  # the baseline target's id whose address was used
    hostname: str  # the Host header (path, host) or the server name (sni) sent
    address: str
    port: int
    path: str  # the request path ("" for a handshake)
    failure: str | None  # at the TCP connect, the handshake or the request (`step` says which)
    step: str | None  # "tcp" | "tls" | "http" where it failed; None when it completed
    status: int | None  # HTTP status of the answer (path, host)
    location: str | None  # its Location header, if any
    body_length: int | None  # bytes of the answer's body read (at most limits.KEYWORD_READ_BYTES)
    body_sha256: str | None
    handshake_completed: bool  # sni: the handshake finished (the certificate is not checked)
    duration_ms: float
    # The word's request made once more, because the first looked caught (probes/keyword.py).
    again: NotRequired[bool]


class Observations(TypedDict, total=False):
    """Everything measured for one web target. Keys absent when that step did not run."""

    dns: DnsObservation  # the target's host through the probe's resolver
    control_dns: DnsObservation  # the same name through the control resolver
    tcp: list[TcpObservation]  # endpoint probes of the target host, then connections made by redirects
    tls: list[TlsObservation]
    http: list[HttpObservation]  # the redirect chain, in order
    redirect_dns: list[DnsObservation]  # resolutions of other hosts met in redirects
    # Those of them answered with an address that is not global, through the control resolver.
    control_redirect_dns: list[DnsObservation]
    download: DownloadObservation
    # For an http:// target: the same URL fetched over HTTPS, with its own connections and hops
    # (probes/https_check.py) - the site's own page, when TLS validates, to check the plain one.
    https_check: HttpsCheckObservation
    aia: list[AiaObservation]  # issuer certificates fetched for chains that came incomplete
    keyword: list[KeywordObservation]  # a keyword target's requests and handshakes (probes/keyword.py)
    # A service target's endpoint records (probes/service_endpoints.py, EndpointObservation),
    # the QUIC handshakes of an https target (probes/quic.py, QuicObservation) and the tor
    # daemon's bootstrap, the --tor-bootstrap result's only key (probes/tor_bootstrap.py,
    # TorBootstrapObservation): typed where they are made, in the probe layer above this module.
    endpoints: list[Any]
    quic: list[Any]
    tor_bootstrap: dict[str, Any]
    deadline_exceeded: bool  # the target's time ran out before every step had finished
