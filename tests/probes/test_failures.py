"""The one mapping from exceptions to failure strings (vocabulary.FAILURES)."""

import errno
import ssl

import anyio
import dns.exception
import dns.message
import dns.rcode
import dns.resolver
import httpcore
import httpx
import pytest

from kzprobe.probes.failures import BodyTooLarge, RecordedFailure, TooManyRedirects, failure_from_exception
from kzprobe.report import vocabulary as v


def wrapped(outer: type[Exception], inner: BaseException) -> Exception:
    """An exception raised `from` another, as httpcore and httpx do."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer("wrapper") from exc
    except Exception as exc:
        return exc


def cert_error(code: int) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_code = code
    return exc


def servfail_error(rcode: int) -> dns.resolver.NoNameservers:
    query = dns.message.make_query("example.kz", "A")
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    return dns.resolver.NoNameservers(request=query, errors=[("192.0.2.1", False, 53, "x", response)])


@pytest.mark.parametrize("exception, failure", [
    pytest.param(dns.resolver.NXDOMAIN(), v.DNS_NXDOMAIN, id="nxdomain"),
    pytest.param(dns.resolver.NoAnswer(), v.DNS_NO_ANSWER, id="no-answer"),
    pytest.param(servfail_error(dns.rcode.SERVFAIL), v.DNS_SERVFAIL, id="servfail"),
    pytest.param(servfail_error(dns.rcode.REFUSED), v.DNS_REFUSED, id="refused"),
    pytest.param(dns.resolver.NoNameservers(request=dns.message.make_query("example.kz", "A"), errors=[]),
                 v.DNS_TIMEOUT, id="no-server-answered"),
    pytest.param(dns.resolver.NoNameservers(request=dns.message.make_query("example.kz", "A"), errors=[
        ("192.0.2.1", False, 53, OSError(errno.ENETUNREACH, "unreachable"), None)]),
        v.NETWORK_UNREACHABLE, id="resolver-unreachable"),
    pytest.param(dns.resolver.LifetimeTimeout(timeout=1.0, errors=[]), v.DNS_TIMEOUT, id="dns-lifetime"),
    pytest.param(dns.exception.Timeout(), v.DNS_TIMEOUT, id="dns-timeout"),
    pytest.param(ConnectionRefusedError(), v.CONNECTION_REFUSED, id="refused-connect"),
    pytest.param(ConnectionResetError(), v.CONNECTION_RESET, id="reset"),
    pytest.param(BrokenPipeError(), v.CONNECTION_RESET, id="broken-pipe"),
    pytest.param(OSError(errno.ENETUNREACH, "unreachable"), v.NETWORK_UNREACHABLE, id="net-unreachable"),
    pytest.param(OSError(errno.EHOSTUNREACH, "unreachable"), v.HOST_UNREACHABLE, id="host-unreachable"),
    pytest.param(TimeoutError(), v.GENERIC_TIMEOUT, id="timeout"),
    pytest.param(cert_error(62), v.SSL_INVALID_HOSTNAME, id="cert-hostname"),
    pytest.param(cert_error(20), v.SSL_UNKNOWN_AUTHORITY, id="cert-unknown-issuer"),
    pytest.param(cert_error(19), v.SSL_UNKNOWN_AUTHORITY, id="cert-self-signed-in-chain"),
    pytest.param(cert_error(10), v.SSL_INVALID_CERTIFICATE, id="cert-expired"),
    pytest.param(ssl.SSLEOFError(8, "EOF"), v.EOF_ERROR, id="tls-eof"),
    pytest.param(ssl.SSLError(1, "handshake failure"), v.SSL_FAILED_HANDSHAKE, id="tls-alert"),
    pytest.param(anyio.EndOfStream(), v.EOF_ERROR, id="anyio-eof"),
    pytest.param(anyio.BrokenResourceError(), v.CONNECTION_RESET, id="anyio-broken"),
    pytest.param(httpcore.RemoteProtocolError("Server disconnected without sending a response."), v.EOF_ERROR,
                 id="http-no-response"),
    pytest.param(httpcore.RemoteProtocolError("illegal status line"), v.HTTP_PROTOCOL_ERROR, id="http-garbage"),
    pytest.param(httpcore.ReadTimeout("read"), v.GENERIC_TIMEOUT, id="http-read-timeout"),
    pytest.param(httpx.TooManyRedirects("many"), v.TOO_MANY_REDIRECTS, id="httpx-redirects"),
    pytest.param(TooManyRedirects(), v.TOO_MANY_REDIRECTS, id="redirects"),
    pytest.param(BodyTooLarge(), v.BODY_TOO_LARGE, id="body-too-large"),
    pytest.param(RecordedFailure(v.CONNECTION_RESET), v.CONNECTION_RESET, id="already-recorded"),
])
def test_exception_maps_to_failure_string(exception, failure):
    assert failure_from_exception(exception) == failure


@pytest.mark.parametrize("exception, failure", [
    pytest.param(wrapped(httpcore.ConnectError, ConnectionRefusedError()), v.CONNECTION_REFUSED,
                 id="connect-wraps-refused"),
    pytest.param(wrapped(httpcore.ReadError, ConnectionResetError()), v.CONNECTION_RESET, id="read-wraps-reset"),
    pytest.param(wrapped(httpcore.ConnectError, cert_error(20)), v.SSL_UNKNOWN_AUTHORITY, id="connect-wraps-cert"),
    pytest.param(wrapped(httpcore.ConnectTimeout, TimeoutError()), v.GENERIC_TIMEOUT, id="connect-timeout"),
    pytest.param(wrapped(httpcore.ConnectError, anyio.EndOfStream()), v.EOF_ERROR, id="connect-wraps-eof"),
])
def test_wrapped_exception_maps_to_its_cause(exception, failure):
    assert failure_from_exception(exception) == failure


def test_handshake_timeout_is_not_read_as_a_handshake_failure():
    # anyio raises the timeout while handling the SSLWantReadError of the pending handshake.
    try:
        try:
            raise ssl.SSLWantReadError(2, "The operation did not complete (read)")
        except ssl.SSLError:
            raise TimeoutError()  # noqa: B904  # the implicit context chain is what anyio makes
    except TimeoutError as exc:
        timeout = exc
    assert failure_from_exception(wrapped(httpcore.ConnectTimeout, timeout)) == v.GENERIC_TIMEOUT


def test_unknown_exception_keeps_a_short_single_line_text():
    failure = failure_from_exception(ValueError("weird\nthing " + "x" * 500))
    assert failure.startswith(v.UNKNOWN_FAILURE_PREFIX)
    assert "\n" not in failure and len(failure) < 260


def test_every_known_failure_is_in_the_vocabulary():
    for failure in (v.DNS_NXDOMAIN, v.CONNECTION_RESET, v.SSL_UNKNOWN_AUTHORITY, v.BODY_TOO_LARGE):
        assert failure in v.FAILURES
