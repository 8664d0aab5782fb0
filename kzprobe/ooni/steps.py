"""One OONI event of each kind (a DNS query, a TCP connect, a TLS handshake, an HTTP request)
as the kzprobe observation it is (kzprobe/observations.py, docs/report-format.md).

OONI's data formats (ooni/spec data-formats/df-001 httpt, df-002 dnst, df-005 tcpconnect,
df-006 tlshandshake) record the same steps kzprobe's probes do, with different field names:
an answer's address sits in `ipv4`/`ipv6`, a connect's result in `status`, a handshake's
endpoint in `address` as "ip:port", a body may be base64. Nothing here decides anything.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from typing import Any, Final
from urllib.parse import urljoin

from kzprobe.analysis.names import host_key
from kzprobe.ooni import fields as f
from kzprobe.ooni.failures import kzprobe_failure
from kzprobe.ooni.limits import MAX_CERTIFICATES, MAX_HEADERS, MAX_URL_CHARS, RECORDED_BODY_BYTES
from kzprobe.probes.body import charset_of, title_of
from kzprobe.probes.certs import certificate_info
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import (
    CertificateInfo,
    DnsObservation,
    DnsQuery,
    HttpObservation,
    TcpObservation,
    TlsObservation,
)

# DNS rcodes by number (RFC 1035 4.1.1, RFC 2136): the ones a resolver answers with.
_RCODES: Final = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
_VERIFICATION_FAILURES: Final = (v.SSL_UNKNOWN_AUTHORITY, v.SSL_INVALID_HOSTNAME, v.SSL_INVALID_CERTIFICATE)
_MAX_HEADER_VALUE_CHARS: Final = 2048


_NO_TYPE: Final = object()


def _answers(query: dict) -> dict[str, list[str]]:
    """The query's A, AAAA and CNAME answers, read in one pass. An address answer without an
    answer_type counts by its field (ipv4: A, ipv6: AAAA)."""
    v4: list[str] = []
    v6: list[str] = []
    cnames: list[str] = []
    for answer in f.objects(query.get("answers"), 64):
        kind = answer.get("answer_type", _NO_TYPE)
        if kind == "A" or kind is _NO_TYPE:
            value = f.address(answer.get("ipv4"))
            if value is not None:
                v4.append(value)
        if kind == "AAAA" or kind is _NO_TYPE:
            value = f.address(answer.get("ipv6"))
            if value is not None:
                v6.append(value)
        elif kind == "CNAME" and isinstance(answer.get("hostname"), str):
            cnames.append(host_key(answer["hostname"][:260]))
    return {"A": v4, "AAAA": v6, "CNAME": cnames}


def _dns_queries(query: dict, duration: float) -> list[DnsQuery]:
    """kzprobe's A and AAAA queries for one OONI query (getaddrinfo's ANY becomes both)."""
    qtype = query.get("query_type")
    kinds = ["A", "AAAA"] if qtype == "ANY" else [qtype] if qtype in ("A", "AAAA") else []
    if not kinds:
        return []
    rcode = f.integer(query.get("rcode"))
    failure = kzprobe_failure(query.get("failure"))
    answers = _answers(query)
    code = _RCODES.get(rcode) if rcode is not None else None
    found: list[DnsQuery] = [{"qtype": kind, "rcode": code, "answers": list(answers[kind]),
                              "cnames": list(answers["CNAME"]), "failure": failure, "duration_ms": duration}
                             for kind in kinds]
    return found


def dns_observation(queries: list[dict], hostname: str, resolver: str) -> DnsObservation | None:
    """One resolution of `hostname` from OONI's queries for it (A, AAAA, or getaddrinfo's ANY)."""
    if not queries or any(_unreadable_failure(q.get("failure")) for q in queries):
        return None
    durations = [f.duration_ms(q) for q in queries]
    records = [q for query, duration in zip(queries, durations, strict=True) for q in _dns_queries(query, duration)]
    addresses = list(dict.fromkeys([a for q in records if q["qtype"] == "A" for a in q["answers"]]
                                   + [a for q in records if q["qtype"] == "AAAA" for a in q["answers"]]))
    failure = None
    if not addresses:
        # The A query's failure first: an AAAA "no answer" is normal for an IPv4-only name.
        failures = [kzprobe_failure(q.get("failure")) for q in queries]
        ordered = [fl for q, fl in zip(queries, failures, strict=True) if q.get("query_type") != "AAAA"] + failures
        failure = next((fl for fl in ordered if fl), None)
        if failure is None:
            # No address and no failure: the answers are missing or unreadable, which says
            # nothing about the name (an empty answer is recorded as dns_no_answer).
            return None
    return DnsObservation(hostname=host_key(hostname), resolver=resolver, addresses=addresses, failure=failure,
                          queries=records, duration_ms=max(durations))


def _unreadable_failure(value: object) -> bool:
    """A failure field that is neither null nor a string: the event cannot be read, and must not
    be taken for a failure (a corrupt record would read as blocking)."""
    return value is not None and value is not False and not isinstance(value, str)


def tcp_observation(entry: dict, hostname: str, notes: f.Notes | None = None) -> TcpObservation | None:
    address, port = f.address(entry.get("ip")), f.integer(entry.get("port"))
    status = f.mapping(entry.get("status"))
    if address is None or port is None or not 0 < port < 65536 or _unreadable_failure(status.get("failure")):
        if notes is not None:
            notes.add("tcp_connect", "a connect without a readable address, port or failure")
        return None
    failure = kzprobe_failure(status.get("failure"))
    if failure is None and status.get("success") is False:
        failure = f"{v.UNKNOWN_FAILURE_PREFIX}connect failed without a failure string"
    observation: TcpObservation = {"hostname": host_key(hostname), "address": address, "port": port, "failure": failure,
                                   "duration_ms": f.duration_ms(entry)}
    return observation


def _chain(entry: dict, where: str, notes: f.Notes) -> list[CertificateInfo]:
    chain = []
    for index, item in enumerate(f.items(entry.get("peer_certificates"), MAX_CERTIFICATES)):
        data = item.get("data") if isinstance(item, dict) else None
        try:
            der = base64.b64decode(data, validate=True) if isinstance(data, str) else None
        except (binascii.Error, ValueError):
            der = None
        if not der:
            notes.add(f"{where}.peer_certificates[{index}]", "not a base64 certificate")
            continue
        chain.append(_certificate(der))
    return chain


@functools.lru_cache(maxsize=4096)
def _certificate_cached(der: bytes) -> tuple[tuple[str, Any], ...]:
    return tuple(certificate_info(der).items())


def _certificate(der: bytes) -> CertificateInfo:
    """certificate_info, parsed once per certificate: a site's chain repeats in every
    measurement of it, and parsing DER is most of a handshake's conversion."""
    info = dict(_certificate_cached(der))
    info["sans"] = list(info["sans"])
    return info  # type: ignore[return-value]  # the cached dict has every CertificateInfo key


def tls_observation(entry: dict, hostname: str | None, where: str, notes: f.Notes,
                    fallback: tuple[str, int] | None = None) -> TlsObservation | None:
    """One handshake; `fallback` is its endpoint when OONI did not record one (older engines)
    and only one connection could have carried it."""
    target = f.endpoint(entry.get("address")) or fallback
    if target is None or _unreadable_failure(entry.get("failure")):
        notes.add(where, "a TLS handshake without a readable ip:port address or failure")
        return None
    sni = f.text(entry.get("server_name"), 260) or hostname or ""
    failure = kzprobe_failure(entry.get("failure"))
    return TlsObservation(
        hostname=host_key(hostname or sni), address=target[0], port=target[1], sni=sni, failure=failure,
        handshake_completed=failure is None or failure in _VERIFICATION_FAILURES,
        verified=failure is None and entry.get("no_tls_verify") is not True,
        version=f.text(entry.get("tls_version"), 40) or None, cipher=f.text(entry.get("cipher_suite"), 80) or None,
        alpn=f.text(entry.get("negotiated_protocol"), 40) or None, peer_chain=_chain(entry, where, notes),
        duration_ms=f.duration_ms(entry),
    )


def _headers(response: dict, where: str, notes: f.Notes) -> dict[str, str]:
    pairs: list[tuple[Any, Any]] = []
    listed = response.get("headers_list")
    if isinstance(listed, list):
        pairs = [(p[0], p[1]) for p in f.items(listed, MAX_HEADERS * 4) if isinstance(p, list) and len(p) == 2]
    else:
        pairs = list(f.mapping(response.get("headers")).items())[: MAX_HEADERS * 4]
    headers: dict[str, str] = {}
    for name, value in pairs:
        if not isinstance(name, str) or name.lower() in headers or len(headers) >= MAX_HEADERS:
            continue
        raw = f.binary_data(value, f"{where}.headers[{name[:40]}]", notes)
        if raw is not None:
            headers[name.lower()[:200]] = raw.decode("utf-8", errors="replace")[:_MAX_HEADER_VALUE_CHARS]
    return headers


def _body_bytes(value: Any, where: str, notes: f.Notes) -> tuple[bytes | None, bool]:
    """(the body's bytes, as fields.binary_data reads them; whether they are the UTF-8 of a
    string with no lone surrogate, which decodes back to that very string)."""
    if isinstance(value, str):
        try:
            return value.encode("utf-8"), True
        except UnicodeEncodeError:
            return value.encode("utf-8", errors="surrogatepass"), False
    return f.binary_data(value, where, notes), False


def http_observation(entry: dict, where: str, notes: f.Notes,
                     address_hint: tuple[str, int] | None = None) -> HttpObservation | None:
    """One request of OONI's `requests` list; None without a URL."""
    request, response = f.mapping(entry.get("request")), f.mapping(entry.get("response"))
    url = f.text(request.get("url"), MAX_URL_CHARS)
    if not url or _unreadable_failure(entry.get("failure")):
        notes.add(where, "a request without a readable URL or failure")
        return None
    code = f.integer(response.get("code"))
    status = code if code is not None and 100 <= code <= 999 else None
    headers = _headers(response, f"{where}.response", notes) if response else {}
    location = headers.get("location") if status is not None and 300 <= status < 400 else None
    if location:
        try:
            location = urljoin(url, location)
        except ValueError:
            pass
    recorded = response.get("body")
    body, exact = _body_bytes(recorded, f"{where}.response.body", notes) if response else (None, False)
    head = body[:RECORDED_BODY_BYTES] if body else b""
    charset = charset_of(headers.get("content-type", ""), head)
    # The text kept is the head decoded; for a UTF-8 page recorded whole as text, the very string
    # OONI recorded (decoding its UTF-8 again gives it back, at a cost of ~1 ms per MB).
    text = recorded if isinstance(recorded, str) and exact and charset == "utf-8" and len(head) == len(body or b"") \
        else head.decode(charset, errors="replace")
    endpoint = f.endpoint(entry.get("address")) or address_hint
    return HttpObservation(
        url=url, method=f.text(request.get("method"), 16) or "GET",
        address=endpoint[0] if endpoint else None, port=endpoint[1] if endpoint else None,
        status=status, headers=headers, location=location,
        body_length=len(body) if body is not None else None,
        body_sha256=hashlib.sha256(body).hexdigest() if body is not None else None,
        body_truncated=response.get("body_is_truncated") is True,
        body=text,
        title=title_of(head, charset) if head else None,
        body_read_ms=None, failure=kzprobe_failure(entry.get("failure")),
        timings={"dns_ms": None, "connect_ms": None, "tls_ms": None, "first_byte_ms": None,
                 "total_ms": f.duration_ms(entry)},
    )
