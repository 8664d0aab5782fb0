"""Exception -> failure string: the only place that knows the exception types of the libraries.

Probes catch broadly and call `failure_from_exception`; everything downstream sees only the
closed vocabulary of vocabulary.FAILURES (or "unknown_failure: <text>").
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Iterator

import anyio
import dns.exception
import dns.rcode
import dns.resolver
import httpcore
import httpx

from kzprobe.report import vocabulary as v


class BodyTooLarge(Exception):
    """Raised by the body reader when a response exceeds the wire or decoded-bytes cap."""


class RecordedFailure(Exception):
    """A step failed and its failure string is already known (recorded in an observation)."""

    def __init__(self, failure: str) -> None:
        super().__init__(failure)
        self.failure = failure


class TooManyRedirects(Exception):
    """Raised by the HTTP probe when a redirect chain is longer than limits.MAX_REDIRECTS."""


# OpenSSL X509 verify codes (include/openssl/x509_vfy.h) that mean "who signed this is not
# trusted here" - the signature of interception by an unknown root.
_UNKNOWN_AUTHORITY_CODES = {2, 18, 19, 20, 21, 27, 32}
_HOSTNAME_MISMATCH_CODE = 62

_ERRNO_FAILURES: dict[int | None, str] = {
    errno.ECONNREFUSED: v.CONNECTION_REFUSED,
    errno.ECONNRESET: v.CONNECTION_RESET,
    errno.EPIPE: v.CONNECTION_RESET,
    errno.ECONNABORTED: v.CONNECTION_RESET,
    errno.ETIMEDOUT: v.GENERIC_TIMEOUT,
    errno.ENETUNREACH: v.NETWORK_UNREACHABLE,
    errno.EHOSTUNREACH: v.HOST_UNREACHABLE,
    errno.EADDRNOTAVAIL: v.NETWORK_UNREACHABLE,
}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from, innermost last, without cycles."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup) and current.exceptions:
            current = current.exceptions[0]
        else:
            current = current.__cause__ or current.__context__


def _dns_failure(exc: BaseException) -> str | None:
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return v.DNS_NXDOMAIN
    if isinstance(exc, dns.resolver.NoAnswer):
        return v.DNS_NO_ANSWER
    if isinstance(exc, dns.resolver.NoNameservers):
        rcodes = {
            response.rcode()
            for *_, response in (exc.kwargs.get("errors") or [])
            if response is not None and hasattr(response, "rcode")
        }
        if rcodes and rcodes <= {dns.rcode.REFUSED}:
            return v.DNS_REFUSED
        if rcodes:
            return v.DNS_SERVFAIL
        # No server answered at all. When the network said why (unreachable, refused), say
        # that; otherwise the resolver could not be reached in time.
        network = {_ERRNO_FAILURES.get(error.errno) for _, _, _, error, _ in
                   (exc.kwargs.get("errors") or []) if isinstance(error, OSError)}
        if len(network) == 1 and None not in network:
            return network.pop()
        return v.DNS_TIMEOUT
    if isinstance(exc, dns.exception.Timeout):
        return v.DNS_TIMEOUT
    return None


def _ssl_failure(exc: BaseException) -> str | None:
    if isinstance(exc, (ssl.SSLWantReadError, ssl.SSLWantWriteError)):
        # "Waiting for more bytes": left in the context of a handshake that timed out, not a failure.
        return None
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if code == _HOSTNAME_MISMATCH_CODE:
            return v.SSL_INVALID_HOSTNAME
        if code in _UNKNOWN_AUTHORITY_CODES:
            return v.SSL_UNKNOWN_AUTHORITY
        return v.SSL_INVALID_CERTIFICATE
    if isinstance(exc, ssl.CertificateError):
        return v.SSL_INVALID_HOSTNAME
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return v.EOF_ERROR
    if isinstance(exc, ssl.SSLError):
        reason = (getattr(exc, "reason", None) or "").upper()
        if "UNEXPECTED_EOF" in reason:
            return v.EOF_ERROR
        return v.SSL_FAILED_HANDSHAKE
    return None


def certificate_verify_code(exc: BaseException) -> int | None:
    """OpenSSL's verify code (x509_vfy.h) when `exc` is, or wraps, a failed certificate
    verification: it says whether the chain's issuer was missing or the root untrusted."""
    for item in _chain(exc):
        if isinstance(item, ssl.SSLCertVerificationError):
            code = getattr(item, "verify_code", None)
            return code if isinstance(code, int) else None
    return None


def failure_from_exception(exc: BaseException) -> str:
    """Map any exception raised while measuring to one failure string."""
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, RecordedFailure):
            return item.failure
    # Most specific first: DNS and TLS verdicts, then OS errors, then library wrappers.
    for item in chain:
        failure = _dns_failure(item) or _ssl_failure(item)
        if failure:
            return failure
    for item in chain:
        if isinstance(item, BodyTooLarge):
            return v.BODY_TOO_LARGE
        if isinstance(item, (TooManyRedirects, httpx.TooManyRedirects)):
            return v.TOO_MANY_REDIRECTS
        if isinstance(item, ConnectionRefusedError):
            return v.CONNECTION_REFUSED
        if isinstance(item, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return v.CONNECTION_RESET
        if isinstance(item, OSError) and item.errno in _ERRNO_FAILURES:
            return _ERRNO_FAILURES[item.errno]
    for item in chain:
        if isinstance(item, (TimeoutError, httpcore.TimeoutException, httpx.TimeoutException)):
            return v.GENERIC_TIMEOUT
        if isinstance(item, (anyio.EndOfStream, EOFError)):
            return v.EOF_ERROR
        if isinstance(item, (anyio.BrokenResourceError, anyio.ClosedResourceError)):
            return v.CONNECTION_RESET
        if isinstance(item, (httpcore.RemoteProtocolError, httpx.RemoteProtocolError)):
            text = str(item).lower()
            if "without sending" in text or "disconnected" in text or "peer closed" in text:
                return v.EOF_ERROR
            return v.HTTP_PROTOCOL_ERROR
        if isinstance(item, (httpcore.ProtocolError, httpx.ProtocolError, httpx.DecodingError)):
            return v.HTTP_PROTOCOL_ERROR
    text = " ".join(str(exc).split())[:200] or type(exc).__name__
    return f"{v.UNKNOWN_FAILURE_PREFIX}{text}"
