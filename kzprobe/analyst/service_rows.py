"""Service targets (messengers) in one line: how many endpoints fail, at which step, where.

A messenger is tested through many endpoints (Telegram's data centres, WhatsApp's e1…e16) and
its result's observations hold `endpoints`: a list of {endpoint, dns, tcp, tls[, http]} objects.
Analysts need "3/16 endpoints fail: tcp.timeout on 149.154.167.51:443, …", not 16 rows.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kzprobe.analyst.measures import NO_IPV6_FAILURES, an_object, integer, is_ipv6, objects, text
from kzprobe.report import vocabulary as v

# Steps of an endpoint probe, in the order they run: the first that failed is the one shown,
# each with the record keys that hold its attempts (the probe writes "tls_handshakes", and a Tor
# directory port's GETs as "directory"; older fixtures wrote "tls" and "http").
_STEPS = (("dns", ("dns",)), ("tcp", ("tcp",)), ("tls", ("tls_handshakes", "tls")), ("http", ("directory", "http")))
# Failure string -> the short name used after the step, like the evidence codes ("tcp.timeout").
_SHORT_FAILURES = {
    v.DNS_NXDOMAIN: "nxdomain",
    v.DNS_NO_ANSWER: "no_answer",
    v.DNS_SERVFAIL: "servfail",
    v.DNS_REFUSED: "refused",
    v.DNS_TIMEOUT: "timeout",
    v.CONNECTION_REFUSED: "refused",
    v.CONNECTION_RESET: "reset",
    v.GENERIC_TIMEOUT: "timeout",
    v.EOF_ERROR: "eof",
    v.NETWORK_UNREACHABLE: "unreachable",
    v.HOST_UNREACHABLE: "unreachable",
    v.SSL_INVALID_HOSTNAME: "invalid_hostname",
    v.SSL_UNKNOWN_AUTHORITY: "unknown_authority",
    v.SSL_INVALID_CERTIFICATE: "invalid_cert",
    v.SSL_FAILED_HANDSHAKE: "failed_handshake",
    v.HTTP_PROTOCOL_ERROR: "protocol_error",
    v.BODY_TOO_LARGE: "body_too_large",
    v.TOO_MANY_REDIRECTS: "too_many_redirects",
}
# Failing endpoints named in the one-line description; the count says how many there are.
SHOWN_FAILURES = 3


class EndpointFailure(NamedTuple):
    code: str  # "tcp.timeout"
    where: str  # "149.154.167.51:443", or the host name when its resolution failed


class EndpointSummary(NamedTuple):
    total: int
    failing: tuple[EndpointFailure, ...]

    def describe(self, shown: int = SHOWN_FAILURES) -> str:
        """'3/16 endpoints fail: tcp.timeout on 149.154.167.51:443, …' or 'all 16 endpoints work'."""
        if not self.failing:
            return f"all {self.total} endpoints work"
        named = ", ".join(f"{f.code} on {f.where}" for f in self.failing[:shown])
        more = ", …" if len(self.failing) > shown else ""
        return f"{len(self.failing)}/{self.total} endpoints fail: {named}{more}"


def summarise_endpoints(observations: Any) -> EndpointSummary | None:
    """The endpoint summary of a service target's observations; None for a web target."""
    if not isinstance(observations, dict) or not isinstance(observations.get("endpoints"), list):
        return None
    entries = objects(observations["endpoints"])
    failing = tuple(f for f in (_endpoint_failure(entry) for entry in entries) if f is not None)
    return EndpointSummary(total=len(entries), failing=failing)


def _endpoint_failure(entry: dict[str, Any]) -> EndpointFailure | None:
    endpoint = an_object(entry.get("endpoint"))
    host = text(endpoint.get("host")) or "?"
    port = integer(endpoint.get("port"))
    for step, keys in _STEPS:
        recorded = next((objects(entry[key]) for key in keys if isinstance(entry.get(key), (list, dict))), [])
        # The SNI split's connections and handshakes (a "purpose") are not the endpoint's own: a
        # neutral name answered proves nothing works; only the real name's second try can.
        attempts = [a for a in recorded if "purpose" not in a]
        if not attempts:
            continue
        if any(attempt.get("failure") is None for attempt in attempts) or any(
                a.get("purpose") == v.PURPOSE_SNI_CONFIRM and a.get("failure") is None for a in recorded):
            continue
        chosen = _telling_attempt(attempts)
        failure = chosen.get("failure")
        if not isinstance(failure, str):
            continue
        return EndpointFailure(code=f"{step}.{_short(failure)}", where=_where(chosen, step, host, port))
    return None


def _telling_attempt(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """The first failed attempt that is not an IPv6 "no route" (the vantage lacks IPv6)."""
    for attempt in attempts:
        address = text(attempt.get("address"))
        if not (is_ipv6(address) and attempt.get("failure") in NO_IPV6_FAILURES):
            return attempt
    return attempts[0]


def _short(failure: str) -> str:
    if failure.startswith(v.UNKNOWN_FAILURE_PREFIX):
        return "unknown"
    return _SHORT_FAILURES.get(failure, failure[:40])


def _where(attempt: dict[str, Any], step: str, host: str, port: int | None) -> str:
    if step == "dns":
        return text(attempt.get("hostname")) or host
    address = text(attempt.get("address"))
    port = integer(attempt.get("port")) or port
    if address is None:
        return host if port is None else f"{host}:{port}"
    shown = f"[{address}]" if is_ipv6(address) else address
    return shown if port is None else f"{shown}:{port}"
