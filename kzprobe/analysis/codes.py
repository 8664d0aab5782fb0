"""Failure strings (what a step recorded) to evidence codes (what the verdict cites), per layer.

A failure the vocabulary has no code for at that layer (a TLS alert, garbage where HTTP was
expected, an "unknown_failure: ...") counts as the layer's ".reset": the exchange was broken off.
The explanation always quotes the exact failure string, so nothing is hidden by the grouping.
"""

from __future__ import annotations

from typing import Final

from kzprobe.report import vocabulary as v

DNS: Final = {
    v.DNS_NXDOMAIN: "dns.nxdomain",
    v.DNS_NO_ANSWER: "dns.no_answer",
    v.DNS_SERVFAIL: "dns.servfail",
    v.DNS_REFUSED: "dns.refused",
    v.DNS_TIMEOUT: "dns.timeout",
    v.GENERIC_TIMEOUT: "dns.timeout",
}
# Resolver answers that state something (the name does not exist, has no address) rather
# than a resolver failing: a lie, not a symptom of a broken link.
DNS_STATEMENTS: Final = ("dns.nxdomain", "dns.no_answer")

TCP: Final = {
    v.CONNECTION_REFUSED: "tcp.refused",
    # ICMP unreachable on IPv4 is an active rejection too (routers and firewalls send it);
    # on IPv6 it means the vantage has no route, which facts.TcpFact.vantage_lacks_ipv6 drops.
    v.NETWORK_UNREACHABLE: "tcp.refused",
    v.HOST_UNREACHABLE: "tcp.refused",
    v.CONNECTION_RESET: "tcp.reset",
    v.GENERIC_TIMEOUT: "tcp.timeout",
}

TLS: Final = {
    v.CONNECTION_RESET: "tls.reset",
    v.EOF_ERROR: "tls.eof",
    v.GENERIC_TIMEOUT: "tls.timeout",
    v.SSL_FAILED_HANDSHAKE: "tls.reset",
    v.SSL_UNKNOWN_AUTHORITY: "tls.invalid_cert",
    v.SSL_INVALID_HOSTNAME: "tls.invalid_cert",
    v.SSL_INVALID_CERTIFICATE: "tls.invalid_cert",
}
# What a middlebox does right after the ClientHello when it filters by SNI
# (https://ooni.org/post/2024-kazakhstan-report/).
SNI_FILTER_FAILURES: Final = (v.CONNECTION_RESET, v.EOF_ERROR, v.GENERIC_TIMEOUT)

HTTP: Final = {
    v.CONNECTION_RESET: "http.reset",
    v.EOF_ERROR: "http.eof",
    v.GENERIC_TIMEOUT: "http.timeout",
    v.HTTP_PROTOCOL_ERROR: "http.reset",
    v.CONNECTION_REFUSED: "http.reset",
}

_TABLES: Final = {"dns": (DNS, "dns.servfail"), "tcp": (TCP, "tcp.reset"), "tls": (TLS, "tls.reset"),
                  "http": (HTTP, "http.reset")}


def evidence(layer: str, failure: str | None) -> str:
    """The evidence code for `failure` seen at `layer`."""
    table, fallback = _TABLES[layer]
    return table.get(failure or "", fallback)
