"""OONI's control (test_keys.control, the test helper's view of the same URL from outside the
country) as a kzprobe control result: what kzprobe's analysis compares the probe's steps with.

The test helper (ooni/spec ts-017, "control request and response"; ooni/probe-cli
internal/oohelperd) resolves the name, connects to every address the probe and it resolved,
makes TLS handshakes on 443 (Web Connectivity 0.5 only), and fetches the URL, following
redirects. It reports the outcome of each, a page's status, length, title and headers, but no
body, no timings and no redirect chain: the control result below holds exactly that.
"""

from __future__ import annotations

from typing import Any

from kzprobe.analysis.names import host_key
from kzprobe.ooni import fields as f
from kzprobe.ooni.failures import kzprobe_failure, test_helper_dns_failure
from kzprobe.ooni.fields import url_port
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import DnsObservation, HttpObservation, Observations, TcpObservation, TlsObservation

TEST_HELPER = "OONI test helper"


def _dns(control: dict, hostname: str) -> DnsObservation | None:
    dns = control.get("dns")
    if not isinstance(dns, dict):
        return None
    # The helper lists CNAME targets among the addresses in old versions: only addresses count.
    addresses = list(dict.fromkeys(a for a in (f.address(x) for x in f.items(dns.get("addrs"), 64)) if a))
    failure = test_helper_dns_failure(dns.get("failure"))
    if not addresses and failure is None:
        failure = v.DNS_NO_ANSWER  # the helper's empty answer (its dns_no_answer, ooni/probe#1707)
    return DnsObservation(hostname=hostname, resolver=TEST_HELPER, addresses=addresses,
                          failure=failure if not addresses else None, queries=[], duration_ms=0.0)


def _status_failure(entry: dict) -> str | None:
    failure = kzprobe_failure(entry.get("failure"))
    if failure is None and entry.get("status") is not True:
        failure = f"{v.UNKNOWN_FAILURE_PREFIX}the test helper reported no success"
    return failure


def _tcp(control: dict, hostname: str, port: int | None) -> list[TcpObservation]:
    """The helper's connects on the URL's port: it also tries 443 for an http:// URL (and 80
    for https:// in some versions), which says nothing about the port the page is served on."""
    found = []
    for key, entry in list(f.mapping(control.get("tcp_connect")).items())[:64]:
        target = f.endpoint(key)
        if target is not None and isinstance(entry, dict) and target[1] == port:
            found.append(TcpObservation(hostname=hostname, address=target[0], port=target[1],
                                        failure=_status_failure(entry), duration_ms=0.0))
    return found


def _tls(control: dict, hostname: str) -> list[TlsObservation]:
    found = []
    for key, entry in list(f.mapping(control.get("tls_handshake")).items())[:64]:
        target = f.endpoint(key)
        if target is None or not isinstance(entry, dict):
            continue
        failure = _status_failure(entry)
        sni = f.text(entry.get("server_name"), 260) or hostname
        found.append(TlsObservation(
            hostname=hostname, address=target[0], port=target[1], sni=sni, failure=failure,
            handshake_completed=failure is None, verified=failure is None, version=None, cipher=None,
            alpn=None, peer_chain=[], duration_ms=0.0))
    return found


def _http(control: dict, url: str) -> HttpObservation | None:
    request = control.get("http_request")
    if not isinstance(request, dict):
        return None
    code = f.integer(request.get("status_code"))
    status = code if code is not None and 100 <= code <= 999 else None
    length = f.integer(request.get("body_length"))
    failure = kzprobe_failure(request.get("failure"))
    if status is None and failure is None:
        failure = f"{v.UNKNOWN_FAILURE_PREFIX}the test helper got no response"
    headers = {name.lower()[:200]: value[:2048] for name, value in list(f.mapping(request.get("headers")).items())[:64]
               if isinstance(name, str) and isinstance(value, str)}
    return HttpObservation(
        url=url, method="GET", address=None, port=None, status=status, headers=headers, location=None,
        body_length=length if length is not None and length >= 0 and status is not None else None,
        body_sha256=None, body_truncated=False, body="", title=f.text(request.get("title"), 1000) or None,
        body_read_ms=None, failure=failure,
        timings={"dns_ms": None, "connect_ms": None, "tls_ms": None, "first_byte_ms": None, "total_ms": 0.0})


def control_observations(test_keys: dict, url: str, hostname: str) -> Observations | None:
    """The control's observations for the measured URL; None when the helper gave none
    (`control_failure`: it could not be reached, or answered nothing usable)."""
    control = test_keys.get("control")
    if not isinstance(control, dict) or test_keys.get("control_failure") not in (None, ""):
        return None
    host = host_key(hostname)
    observations: Observations = {}
    dns = _dns(control, host)
    if dns is not None:
        observations["dns"] = dns
    tcp = _tcp(control, host, url_port(url))
    if tcp:
        observations["tcp"] = tcp
    tls = _tls(control, host)
    if tls:
        observations["tls"] = tls
    http = _http(control, url)
    if http is not None:
        observations["http"] = [http]
    return observations if observations else None


def control_failure(test_keys: dict) -> Any:
    """OONI's control_failure, for provenance."""
    value = test_keys.get("control_failure")
    return value[:300] if isinstance(value, str) else None
