"""A result's observations read once into small typed records, whatever the input looks like.

Results come from this scan or from report files other people wrote: any field may be missing,
of the wrong type or oversized. Reading them here, once, with every field checked, lets the
rules below work on plain records and never crash on a hostile report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from kzprobe.analysis.addresses import canonical_address, is_ipv6
from kzprobe.analysis.names import host_key, is_ip_literal, url_host, url_scheme
from kzprobe.report import vocabulary as v
from kzprobe.report.fields import MAX_TEXT_CHARS as MAX_FIELD_CHARS
from kzprobe.report.fields import integer as _int
from kzprobe.report.fields import items as _list
from kzprobe.report.fields import mapping as _dict
from kzprobe.report.fields import number as _num
from kzprobe.report.fields import text as _str

# Download samples read; the probe keeps at most limits.DOWNLOAD_MAX_SAMPLES (200).
MAX_SAMPLES: Final = 2_000
# Text read per body: the probe records 64 KiB.
MAX_BODY_CHARS: Final = 128 * 1024

_VANTAGE_LACKS_ROUTE: Final = (v.NETWORK_UNREACHABLE, v.HOST_UNREACHABLE)
_INFINITY: Final = float("inf")
_Fact = TypeVar("_Fact")


def _duration(value: Any) -> float | None:
    number = _num(value)
    return number if number is not None and number >= 0 else None


def _failure(value: Any) -> str | None:
    text = _str(value, 300)
    return text or None


@dataclass(frozen=True)
class DnsFact:
    hostname: str
    resolver: str
    addresses: tuple[str, ...]
    failure: str | None
    duration_ms: float | None = None


@dataclass(frozen=True)
class TcpFact:
    hostname: str
    address: str
    failure: str | None
    port: int | None = None  # None in reports that did not record it
    duration_ms: float | None = None
    purpose: str | None = None  # None: the target's own connection; else vocabulary.PURPOSES

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def vantage_lacks_ipv6(self) -> bool:
        """An IPv6 connect that never left the machine: the vantage has no IPv6 route."""
        return is_ipv6(self.address) and self.failure in _VANTAGE_LACKS_ROUTE


@dataclass(frozen=True)
class CertFact:
    subject: str
    issuer: str
    sha256: str
    spki_sha256: str = ""  # the leaf's key, when recorded
    not_before: str = ""  # its validity period, ISO 8601 ("" when not recorded)
    not_after: str = ""


@dataclass(frozen=True)
class TlsFact:
    hostname: str
    address: str
    failure: str | None
    completed: bool
    verified: bool
    chain: tuple[CertFact, ...]
    duration_ms: float | None = None
    purpose: str | None = None  # None: the target's own handshake; else vocabulary.PURPOSES
    sni: str = ""  # the server name sent, when recorded
    chain_complete: bool | None = None  # None: not recorded, or it could not be told
    root_store: str | None = None  # "public" | "ca_file" | "system_only" for a verified handshake
    intermediates_fetched: tuple[str, ...] = ()  # verified with these AIA intermediates
    version: str | None = None  # "TLSv1.3", when it completed
    # A pinned endpoint's handshake that failed its pin: whether the chain validated for the name
    # without it (TlsObservation public_verification), and through which root's origin.
    public_verified: bool = False
    public_root_store: str | None = None

    @property
    def ok(self) -> bool:
        """The handshake completed and the chain validated for the name."""
        return self.failure is None and self.verified and self.completed

    @property
    def answered(self) -> bool:
        """The server answered the ClientHello in TLS: a completed handshake, or an alert."""
        return self.completed or self.failure == v.SSL_FAILED_HANDSHAKE


@dataclass(frozen=True)
class HopFact:
    url: str
    host: str | None
    scheme: str
    address: str | None
    status: int | None
    headers: dict[str, str]
    location: str | None
    body_length: int | None
    body: str
    title: str | None
    truncated: bool
    body_read_ms: float | None
    failure: str | None
    port: int | None = None  # the port the request went to: the URL's, or its scheme's
    first_byte_ms: float | None = None  # from sending the request to the response's first byte
    total_ms: float | None = None  # the whole hop, or how long it waited before failing
    # Why a body read ended early: "idle" (no data for a whole --timeout while the connection
    # stayed open) or "time_budget" (still flowing when the target's time ran out); None otherwise.
    stopped: str | None = None

    @property
    def responded(self) -> bool:
        return self.status is not None

    @property
    def is_redirect(self) -> bool:
        return self.status is not None and 300 <= self.status < 400 and bool(self.location)


@dataclass(frozen=True)
class DownloadFact:
    url: str
    status: int | None
    bytes: int
    duration_ms: float
    first_byte_ms: float | None
    samples: tuple[tuple[float, int], ...]  # (ms since the request, cumulative bytes)
    longest_stall_ms: float
    complete: bool
    failure: str | None
    kilobytes_per_second: float | None = None  # as the probe worked it out (after the warm-up)


@dataclass(frozen=True)
class AiaFact:
    """A fetch of a missing issuer certificate (observations["aia"])."""

    url: str
    failure: str | None
    status: int | None
    subjects: tuple[str, ...]  # of the certificates that came back
    certificates: tuple[CertFact, ...] = ()  # the same certificates (subject and issuer)


@dataclass(frozen=True)
class TargetFacts:
    """One result as the rules see it."""

    id: str
    url: str
    hostname: str
    scheme: str
    baseline: str | None
    has_endpoints: bool
    deadline_exceeded: bool
    dns: DnsFact | None
    control_dns: DnsFact | None
    tcp: tuple[TcpFact, ...]
    tls: tuple[TlsFact, ...]
    http: tuple[HopFact, ...]
    redirect_dns: tuple[DnsFact, ...]
    download: DownloadFact | None
    raw_target: dict = field(compare=False, repr=False)
    # For an http:// target: the same URL fetched over HTTPS (observations["https_check"]), as
    # facts of their own (its host, TCP, TLS, hops); None when not measured.
    https_check: TargetFacts | None = None
    measured_at: str | None = None  # the result's started_at, as recorded (ISO 8601)
    aia: tuple[AiaFact, ...] = ()
    # Hosts met in redirects whose answer here was not global, through the control resolver.
    control_redirect_dns: tuple[DnsFact, ...] = ()

    @property
    def host_is_ip(self) -> bool:
        return is_ip_literal(self.hostname)

    def tcp_for(self, host: str) -> list[TcpFact]:
        """The connections to `host`'s own addresses (not the extra ones made after a failure)."""
        return [t for t in self.tcp if t.hostname == host and t.purpose is None]

    def tls_for(self, host: str) -> list[TlsFact]:
        """The handshakes naming `host` at its own addresses (not the extra ones made after a
        failure), with the real name's second try after the SNI split: verified like the first,
        it is one more try of the target's own, and handed on to HTTP when it works."""
        return [t for t in self.tls if t.hostname == host and t.purpose in (None, v.PURPOSE_SNI_CONFIRM)]

    def extra_tcp(self, host: str, purpose: str) -> list[TcpFact]:
        """Connections made for `host` after a failure, for `purpose` (vocabulary.PURPOSES)."""
        return [t for t in self.tcp if t.hostname == host and t.purpose == purpose]

    def extra_tls(self, host: str, purpose: str) -> list[TlsFact]:
        """Handshakes made for `host` after a failure, for `purpose` (vocabulary.PURPOSES)."""
        return [t for t in self.tls if t.hostname == host and t.purpose == purpose]

    def resolution_for(self, host: str) -> DnsFact | None:
        if host == self.hostname:
            return self.dns
        return next((d for d in self.redirect_dns if d.hostname == host), None)

    @property
    def final_hop(self) -> HopFact | None:
        """The last hop of the redirect chain when it brought a response."""
        return self.http[-1] if self.http and self.http[-1].responded else None

    @property
    def works(self) -> bool:
        """Something answered over HTTP: the path to the target carries traffic."""
        return any(hop.responded for hop in self.http)


def read_dns(value: Any) -> DnsFact | None:
    """One DNS observation (of a target, or of a service endpoint: services/records.py)."""
    if not value or not isinstance(value, dict):
        return None
    data = value
    listed = data.get("addresses")
    addresses = tuple(dict.fromkeys([canonical_address(a) for a in listed[:64] if isinstance(a, str) and a.strip()])) \
        if listed and isinstance(listed, list) else ()
    failure = _failure(data.get("failure"))
    if not addresses and failure is None:
        failure = v.DNS_NO_ANSWER  # an empty answer with no failure recorded says the same
    return DnsFact(host_key(_str(data.get("hostname")) or ""), _str(data.get("resolver"), 200) or "",
                   addresses, failure, _duration(data.get("duration_ms")))


def read_tcp(value: Any) -> TcpFact | None:
    """One TCP connect observation (of a target, or of a service endpoint). The most read fact (a
    service's endpoints hold a hundred): each field checked inline, as fields.py's readers would."""
    if not isinstance(value, dict):
        return None
    address = value.get("address")
    if not isinstance(address, str) or not address:
        return None
    hostname, port, failure = value.get("hostname"), value.get("port"), value.get("failure")
    duration, purpose = value.get("duration_ms"), value.get("purpose")
    return TcpFact(host_key(hostname[:MAX_FIELD_CHARS] if isinstance(hostname, str) else ""),
                   canonical_address(address[:100]),
                   (failure[:300] or None) if isinstance(failure, str) else None,
                   port if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536 else None,
                   duration if type(duration) is float and 0 <= duration < _INFINITY else _duration(duration),
                   (purpose[:40] or None) if isinstance(purpose, str) else None)


def _cert(value: Any) -> CertFact:
    data = _dict(value)
    return CertFact(_str(data.get("subject")) or "", _str(data.get("issuer")) or "",
                    (_str(data.get("sha256"), 128) or "").lower(), (_str(data.get("spki_sha256"), 128) or "").lower(),
                    _str(data.get("not_before"), 40) or "", _str(data.get("not_after"), 40) or "")


def _purpose(value: Any) -> str | None:
    """Why an extra connection was made; an unknown purpose is still not the target's own."""
    text = _str(value, 40)
    return text if text else None


def read_tls(value: Any) -> TlsFact | None:
    """One TLS handshake observation (of a target, or of a service endpoint)."""
    data = _dict(value)
    address = _str(data.get("address"), 100)
    if not address:
        return None
    failure = _failure(data.get("failure"))
    completed = data.get("handshake_completed")
    return TlsFact(
        hostname=host_key(_str(data.get("hostname")) or _str(data.get("sni")) or ""),
        address=canonical_address(address),
        failure=failure,
        completed=completed is True or (completed is None and failure is None),
        verified=data.get("verified") is True,
        chain=tuple(_cert(c) for c in _list(data.get("peer_chain"), 16)),
        duration_ms=_duration(data.get("duration_ms")),
        purpose=_purpose(data.get("purpose")),
        sni=_str(data.get("sni"), 300) or "",
        chain_complete=complete if isinstance(complete := data.get("chain_complete"), bool) else None,
        root_store=_str(data.get("root_store"), 40),
        intermediates_fetched=tuple(
            h for h in (_str(x, 128) for x in _list(data.get("intermediates_fetched"), 16)) if h),
        version=_str(data.get("version"), 40),
        public_verified=_dict(data.get("public_verification")).get("verified") is True,
        public_root_store=_str(_dict(data.get("public_verification")).get("root_store"), 40),
    )


def _url_port(url: str) -> int | None:
    """The port a request for `url` goes to: explicit, else the scheme's."""
    try:
        parts = urlsplit(url)
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None


def read_hop(value: Any) -> HopFact | None:
    """One HTTP request of a redirect chain."""
    data = _dict(value)
    url = _str(data.get("url"))
    if not url:
        return None
    status = _int(data.get("status"))
    address = _str(data.get("address"), 100)
    headers = {k.lower(): val[:MAX_FIELD_CHARS] for k, val in list(_dict(data.get("headers")).items())[:128]
               if isinstance(k, str) and isinstance(val, str)}
    body_length = _int(data.get("body_length"))
    return HopFact(
        url=url,
        host=url_host(url),
        scheme=url_scheme(url),
        address=canonical_address(address) if address else None,
        port=_url_port(url),
        status=status if status is not None and 100 <= status <= 999 else None,
        headers=headers,
        location=_str(data.get("location")),
        body_length=body_length if body_length is not None and body_length >= 0 else None,
        body=_str(data.get("body"), MAX_BODY_CHARS) or "",
        title=_str(data.get("title"), 1000),
        truncated=data.get("body_truncated") is True,
        body_read_ms=_num(data.get("body_read_ms")),
        failure=_failure(data.get("failure")),
        first_byte_ms=_duration(_dict(data.get("timings")).get("first_byte_ms")),
        total_ms=_duration(_dict(data.get("timings")).get("total_ms")),
        stopped=_stopped(data.get("body_stopped")),
    )


def _stopped(value: Any) -> str | None:
    return value if value in ("idle", "time_budget") else None


def read_download(value: Any) -> DownloadFact | None:
    """The throughput test's download."""
    data = _dict(value)
    if not data:
        return None
    samples = []
    for item in _list(data.get("samples"), MAX_SAMPLES):
        sample = _dict(item)
        t, b = _num(sample.get("t_ms")), _int(sample.get("bytes"))
        if t is not None and b is not None and t >= 0 and b >= 0:
            samples.append((t, b))
    samples.sort()
    return DownloadFact(
        url=_str(data.get("url")) or "",
        status=_int(data.get("status")),
        bytes=max(_int(data.get("bytes")) or 0, 0),
        duration_ms=max(_num(data.get("duration_ms")) or 0.0, 0.0),
        first_byte_ms=_num(data.get("first_byte_ms")),
        samples=tuple(samples),
        longest_stall_ms=max(_num(data.get("longest_stall_ms")) or 0.0, 0.0),
        complete=data.get("complete") is True,
        failure=_failure(data.get("failure")),
        kilobytes_per_second=_num(data.get("kilobytes_per_second")),
    )


def _aia(value: Any) -> AiaFact | None:
    data = _dict(value)
    url = _str(data.get("url"))
    if not url:
        return None
    certificates = tuple(_cert(c) for c in _list(data.get("certificates"), 16))
    return AiaFact(url, _failure(data.get("failure")), _int(data.get("status")),
                   tuple(c.subject for c in certificates), certificates)


def read_all(value: Any, reader: Callable[[Any], _Fact | None]) -> tuple[_Fact, ...]:
    """The items of an observation list that `reader` can read, at most MAX_ITEMS."""
    if not value or not isinstance(value, list):
        return ()
    return tuple([item for item in map(reader, _list(value)) if item is not None])


def _https_check(value: Any, dns: DnsFact | None, target: dict) -> TargetFacts | None:
    """The HTTPS twin of an http:// target: its own connections and hops, the target's lookup."""
    data = _dict(value)
    url = _str(data.get("url")) or ""
    if not url or url_scheme(url) != "https":
        return None
    return TargetFacts(
        id="", url=url, hostname=url_host(url) or "", scheme="https", baseline=None, has_endpoints=False,
        deadline_exceeded=False, dns=dns, control_dns=None,
        tcp=read_all(data.get("tcp"), read_tcp), tls=read_all(data.get("tls"), read_tls),
        http=read_all(data.get("http"), read_hop),
        redirect_dns=read_all(data.get("redirect_dns"), read_dns), download=None, raw_target=target,
    )


def read_result(result: Any) -> TargetFacts:
    """The facts of one measured (or reported) result; old verdict fields are ignored."""
    data = _dict(result)
    target = _dict(data.get("target"))
    observations = _dict(data.get("observations"))
    url = _str(target.get("url")) or ""
    hostname = host_key(_str(target.get("hostname")) or url_host(url) or "")
    baseline = _str(target.get("baseline"))
    dns = read_dns(observations.get("dns"))
    return TargetFacts(
        id=_str(target.get("id"), 200) or "",
        url=url,
        hostname=hostname,
        scheme=url_scheme(url),
        baseline=baseline if baseline in ("domestic", "international") else None,
        has_endpoints="endpoints" in observations or (bool(_list(target.get("endpoints"))) and not url),
        deadline_exceeded=observations.get("deadline_exceeded") is True,
        dns=dns,
        control_dns=read_dns(observations.get("control_dns")),
        tcp=read_all(observations.get("tcp"), read_tcp),
        tls=read_all(observations.get("tls"), read_tls),
        http=read_all(observations.get("http"), read_hop),
        redirect_dns=read_all(observations.get("redirect_dns"), read_dns),
        download=read_download(observations.get("download")),
        raw_target=target,
        https_check=_https_check(observations.get("https_check"), dns, target),
        measured_at=_str(data.get("started_at"), 64),
        aia=read_all(observations.get("aia"), _aia),
        control_redirect_dns=read_all(observations.get("control_redirect_dns"), read_dns),
    )
