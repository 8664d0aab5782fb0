"""A small client run inside the lab's namespaces: what curl would show, as JSON.

    python tests/support/lab_client.py < checks.json > results.json

Reads a JSON list of checks, runs them concurrently, prints one result per check in order.
Checks: {"op": "resolve", "name", "server"?, "qtype"?}, {"op": "connect", "address", "port"},
{"op": "tls", "address", "sni", "ca", "port"?}, {"op": "http", "address", "port", "host", "path",
"tls"?, "ca"?, "seconds"?}. Used by tests/lab/test_topology.py to check the servers and the
topology before (and independently of) kzprobe's own probes.
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.resolver

TIMEOUT_S = 1.0  # connect, handshake, DNS: what the timeout rows wait for
READ_TIMEOUT_S = 3.0  # HTTP reads: longer than the slow site's delay


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "verify_failed"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, (TimeoutError, socket.timeout, dns.exception.Timeout)):
        return "timeout"
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)) or "EOF" in str(exc):
        return "eof"
    if isinstance(exc, OSError) and exc.errno in (101, 113):
        return "unreachable"
    return f"error: {exc!r}"


def resolve(check: dict) -> dict:
    server = check.get("server") or dns.resolver.Resolver().nameservers[0]  # resolv.conf inside
    query = dns.message.make_query(check["name"], check.get("qtype", "A"))
    try:
        reply = dns.query.udp(query, server, timeout=TIMEOUT_S)
    except Exception as exc:
        return {"outcome": _outcome(exc), "server": server}
    answers = [r.to_text() for rrset in reply.answer for r in rrset]
    return {"outcome": dns.rcode.to_text(reply.rcode()), "answers": answers, "server": server}


def _connect(address: str, port: int) -> socket.socket:
    return socket.create_connection((address, port), timeout=TIMEOUT_S)


def connect(check: dict) -> dict:
    try:
        _connect(check["address"], check["port"]).close()
    except Exception as exc:
        return {"outcome": _outcome(exc)}
    return {"outcome": "ok"}


def tls(check: dict) -> dict:
    context = ssl.create_default_context(cafile=check["ca"])
    try:
        with context.wrap_socket(_connect(check["address"], check.get("port", 443)), server_hostname=check["sni"]) as s:
            return {"outcome": "ok", "issuer": dict(x[0] for x in s.getpeercert()["issuer"])}
    except ssl.SSLCertVerificationError as exc:
        # Look again without verification, to see who issued what the server sent.
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
        with insecure.wrap_socket(_connect(check["address"], check.get("port", 443)),
                                  server_hostname=check["sni"]) as s:
            der = s.getpeercert(binary_form=True)
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        return {"outcome": "verify_failed", "verify_code": exc.verify_code,
                "issuer": cert.issuer.rfc4514_string(), "subject": cert.subject.rfc4514_string(),
                "exponent": getattr(cert.public_key().public_numbers(), "e", None)}
    except Exception as exc:
        return {"outcome": _outcome(exc)}


def http(check: dict) -> dict:
    started = time.monotonic()
    try:
        sock = _connect(check["address"], check["port"])
        if check.get("tls"):
            sock = ssl.create_default_context(cafile=check["ca"]).wrap_socket(sock, server_hostname=check["host"])
        sock.settimeout(READ_TIMEOUT_S)
        request = f"GET {check['path']} HTTP/1.1\r\nHost: {check['host']}\r\nUser-Agent: lab-test\r\n\r\n"
        sock.sendall(request.encode())
        data = b""
        first_byte = None
        deadline = started + check.get("seconds", 5.0)
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            if first_byte is None:
                first_byte = time.monotonic()
            data += chunk
        sock.close()
    except Exception as exc:
        return {"outcome": _outcome(exc)}
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    elapsed = time.monotonic() - (first_byte or started)
    return {
        "outcome": "ok", "status": int(lines[0].split()[1]), "headers": headers,
        "body": body[:4096].decode("utf-8", "replace"), "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "first_byte_s": round((first_byte or time.monotonic()) - started, 3),
        "bytes_per_s": round(len(body) / elapsed) if elapsed > 0 else None,
    }


OPS = {"resolve": resolve, "connect": connect, "tls": tls, "http": http}


def main() -> None:
    checks = json.load(sys.stdin)
    with ThreadPoolExecutor(max_workers=max(1, len(checks))) as pool:
        results = list(pool.map(lambda c: OPS[c["op"]](c), checks))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
