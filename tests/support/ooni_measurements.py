"""Hand-made OONI measurements for the import tests, shaped as ooni/spec describes them.

Each builder returns one measurement as OONI publishes it (data-formats/df-000 envelope; the
test_keys of nettests/ts-017 web_connectivity 0.4 and 0.5, ts-020 telegram, ts-018 whatsapp,
ts-029 signal, ts-019 facebook_messenger): 0.5 events tagged "classic"/"depth=N" with
transaction ids, 0.4 ones untagged, requests newest first, the test helper's control with
"ip:port" keys, bodies as text or base64, certificates as base64 DER. Addresses are public-
looking strings (documentation ranges would read as special-purpose answers); nothing here is
ever contacted. Certificates are made here, with an EC key, once per test session.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

START = "2024-03-01 10:00:00"
ORDA = "185.98.5.151"  # the site's address, as its resolver and OONI's test helper see it
ELSEWHERE = "104.21.64.1"  # another address of a CDN-hosted site
BOGON = "10.10.34.35"
NEWS_PAGE = ("<!DOCTYPE html><html><head><title>Orda.kz - новости Казахстана</title></head><body>"
             + "<p>Последние новости Казахстана и мира, аналитика и мнения.</p>" * 40 + "</body></html>")
NEWS_TITLE = "Orda.kz - новости Казахстана"


@functools.lru_cache(maxsize=8)
def certificate(subject: str, issuer: str) -> str:
    """A base64 DER certificate for `subject` (CN) signed in the name of `issuer` (CN)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key()).serial_number(1000)
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


def measurement(test_name: str, test_keys: dict | None, *, input: str | None = None, version: str = "0.4.3",
                report_id: str = "20240301T100000Z_webconnectivity_KZ_9198_n1_AbCdEfGhIjKlMnOp",
                uid: str | None = "20240301100001.123456_KZ_webconnectivity_0123456789abcdef",
                start: str = START, asn: str = "AS9198", cc: str = "KZ", probe_ip: str = "127.0.0.1",
                runtime: float = 1.5) -> dict[str, Any]:
    """The envelope (df-000) around `test_keys`."""
    data = {
        "annotations": {"engine_name": "ooniprobe-engine", "platform": "android"},
        "data_format_version": "0.2.0", "input": input, "measurement_start_time": start,
        "probe_asn": asn, "probe_cc": cc, "probe_ip": probe_ip, "probe_network_name": "JSC Kazakhtelecom",
        "report_id": report_id, "resolver_asn": "AS9198", "resolver_ip": "92.47.0.10",
        "resolver_network_name": "JSC Kazakhtelecom", "software_name": "ooniprobe-android",
        "software_version": "3.21.0",
        "test_helpers": {"backend": {"address": "https://2.th.ooni.org", "type": "https"}},
        "test_keys": test_keys, "test_name": test_name, "test_runtime": runtime,
        "test_start_time": start, "test_version": version,
    }
    if uid is not None:
        data["measurement_uid"] = uid
    return data


# --- events (df-002, df-005, df-006, df-001) ----------------------------------------------


def query(hostname: str, addresses: list[str], *, engine: str = "system", qtype: str = "A",
          failure: str | None = None, tags: list[str] | None = None, tid: int | None = None,
          resolver: str = "", t0: float = 0.001, t: float = 0.045) -> dict[str, Any]:
    answers = [{"answer_type": "AAAA" if ":" in a else "A", "ipv6" if ":" in a else "ipv4": a,
                "asn": 9198, "as_org_name": "JSC Kazakhtelecom", "ttl": None} for a in addresses]
    event = {"answers": answers or None, "engine": engine, "failure": failure, "hostname": hostname,
             "query_type": qtype, "resolver_hostname": None, "resolver_port": None, "resolver_address": resolver,
             "t0": t0, "t": t}
    if tags is not None:
        event["tags"] = tags
    if tid is not None:
        event["transaction_id"] = tid
    return event


def connect(ip: str, port: int, failure: str | None = None, *, tags: list[str] | None = None,
            tid: int | None = None, t0: float = 0.05, t: float | None = None) -> dict[str, Any]:
    event = {"ip": ip, "port": port, "status": {"blocked": False, "failure": failure, "success": failure is None},
             "t0": t0, "t": t if t is not None else (t0 + 10.0 if failure == "generic_timeout_error" else t0 + 0.04)}
    if tags is not None:
        event["tags"] = tags
    if tid is not None:
        event["transaction_id"] = tid
    return event


def handshake(address: str, server_name: str, failure: str | None = None, *, certs: list[str] | None = None,
              tags: list[str] | None = None, tid: int | None = None, t0: float = 0.1) -> dict[str, Any]:
    ok = failure is None
    event = {"network": "tcp", "address": address, "cipher_suite": "TLS_AES_128_GCM_SHA256" if ok else "",
             "failure": failure, "negotiated_protocol": "h2" if ok else "", "no_tls_verify": False,
             "peer_certificates": [{"data": c, "format": "base64"} for c in (certs or [])] or None,
             "server_name": server_name, "t0": t0, "t": t0 + (10.0 if failure == "generic_timeout_error" else 0.12),
             "tls_version": "TLSv1.3" if ok else ""}
    if tags is not None:
        event["tags"] = tags
    if tid is not None:
        event["transaction_id"] = tid
    return event


def request(url: str, *, code: int = 200, body: Any = NEWS_PAGE, failure: str | None = None,
            headers: list[list[str]] | None = None, address: str | None = None, tags: list[str] | None = None,
            tid: int | None = None, truncated: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"body": body, "body_is_truncated": truncated, "code": code,
                                "headers_list": headers if headers is not None else [
                                    ["Content-Type", "text/html; charset=utf-8"], ["Server", "nginx"]]}
    response["headers"] = {name: value for name, value in response["headers_list"]}
    event: dict[str, Any] = {"failure": failure, "request": {
        "body": "", "body_is_truncated": False, "headers_list": [["Host", url.split("/")[2]]], "method": "GET",
        "tor": {"exit_ip": None, "exit_name": None, "is_tor": False}, "x_transport": "tcp", "url": url},
        "response": response if code else {"body": None, "code": 0, "headers_list": None, "headers": None},
        "t0": 0.2, "t": 0.6}
    if address is not None:
        event["address"], event["network"] = address, "tcp"
    if tags is not None:
        event["tags"] = tags
    if tid is not None:
        event["transaction_id"] = tid
    return event


def control(addrs: list[str], tcp: dict[str, str | None], *, tls: dict[str, str | None] | None = None,
            status: int = 200, title: str = NEWS_TITLE, length: int = len(NEWS_PAGE.encode()),
            http_failure: str | None = None, dns_failure: str | None = None) -> dict[str, Any]:
    """The test helper's answer: `tcp` and `tls` map "ip:port" to a failure (None: it worked)."""
    data: dict[str, Any] = {
        "tcp_connect": {key: {"status": failure is None, "failure": failure} for key, failure in tcp.items()},
        "http_request": {"body_length": length if not http_failure else -1, "failure": http_failure,
                         "title": title if not http_failure else "", "status_code": status if not http_failure else -1,
                         "headers": {"Content-Type": "text/html; charset=utf-8", "Server": "nginx"}},
        "dns": {"failure": dns_failure, "addrs": addrs},
    }
    if tls is not None:
        data["tls_handshake"] = {key: {"server_name": "orda.kz", "status": failure is None, "failure": failure}
                                 for key, failure in tls.items()}
    return data


def web_keys(*, queries: list, tcp: list, tls: list, requests: list, control_data: dict | None,
             blocking: Any, accessible: Any, control_failure: str | None = None, **extra: Any) -> dict[str, Any]:
    keys = {"agent": "redirect", "client_resolver": "92.47.0.10", "queries": queries, "tcp_connect": tcp,
            "tls_handshakes": tls, "requests": requests, "network_events": extra.pop("network_events", None),
            "control": control_data, "control_failure": control_failure, "blocking": blocking,
            "accessible": accessible}
    keys.update(extra)
    return keys


CLASSIC = ["classic", "tcptls_experiment", "depth=0", "fetch_body=true"]
