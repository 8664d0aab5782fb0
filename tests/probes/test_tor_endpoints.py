"""Tor endpoint kinds against real loopback servers: what each behaviour leaves in the record, and
what the service analysis makes of it.

An OR port presents a certificate no trust store knows (Tor's are self-signed): the handshake
completing is the test. A directory port answers a GET of the authority's descriptor: a Tor
descriptor, a block page, a reset, or an answer that never ends (bounded). A bridge is TCP.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable

import pytest
import trustme

from kzprobe.analysis.services import analyse_service
from kzprobe.probes.dns import parse_resolver
from kzprobe.probes.limits import TOR_DIRECTORY_READ_BYTES
from kzprobe.probes.service_endpoints import measure_endpoints
from kzprobe.probes.tor_endpoints import DIRECTORY_PATH, tor_like_server_name
from kzprobe.report import vocabulary as v
from kzprobe.scan.run import ScanOptions, build_probe_kit
from kzprobe.targets import Endpoint, Target

ADDRESS = "127.0.0.31"
DESCRIPTOR = b"router moria1 128.31.0.34 9201 0 9231\nplatform Tor\n"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _kit(timeout: float = 1.5):
    # Every endpoint here is an address literal: the resolver is never asked.
    options = ScanOptions(resolver=parse_resolver("127.0.0.1:9"), control_resolver=None, ca_file=None,
                          timeout=timeout)
    return build_probe_kit(options)


def _answer(status: str, body: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(f"GET {DIRECTORY_PATH} HTTP/1.0\r\n".encode())
        writer.write(f"HTTP/1.0 {status}\r\nContent-Type: text/plain\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()
    return handler


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, as a DPI box does."""
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _reset_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    _reset(writer)


async def _endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.0 200 OK\r\n\r\n")
    try:
        while True:
            writer.write(DESCRIPTOR * 512)
            await writer.drain()
    except (ConnectionError, OSError):
        pass


async def _reset_on_hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1)
    _reset(writer)


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(4096):
        pass
    writer.close()


def _self_signed_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    trustme.CA(organization_name="Tor relay").issue_cert("www.relay.net").configure_cert(context)
    return context


def _measure(kind: str, handler: Handler, tls: ssl.SSLContext | None = None) -> dict:
    """One endpoint of `kind` at a loopback server running `handler`; its record."""
    observations: dict = {}

    async def main() -> None:
        server = await asyncio.start_server(handler, ADDRESS, 0, ssl=tls)
        port = server.sockets[0].getsockname()[1]
        role = {"tor_or": "relay", "tor_dir": "directory", "obfs4": "bridge"}[kind]
        target = Target(id="tor", url=None, endpoints=(Endpoint(ADDRESS, port, tls=kind == "tor_or", kind=kind,
                                                                role=role),))
        await measure_endpoints(_kit(), target, observations)
        server.close()

    asyncio.run(main())
    return observations["endpoints"][0]


def _verdict(record: dict) -> dict:
    result = {"target": {"id": "tor", "name": "Tor"}, "observations": {"endpoints": [record]}}
    return analyse_service(result, None, v.ONLINE).to_dict()


def test_an_or_port_with_a_certificate_no_store_knows_completes_and_works():
    record = _measure("tor_or", _hold, _self_signed_context())
    handshake = record["tls_handshakes"][0]
    assert (handshake["failure"], handshake["handshake_completed"], handshake["verified"]) == (None, True, False)
    assert re.fullmatch(r"www\.[a-z2-7]{4,25}\.com", record["sni"])
    assert _verdict(record)["verdict"] == v.REACHABLE


def test_an_or_port_reset_at_the_client_hello_is_blocked_by_its_signature():
    record = _measure("tor_or", _reset_on_hello, None)
    assert record["tls_handshakes"][0]["failure"] == v.CONNECTION_RESET
    verdict = _verdict(record)
    assert (verdict["verdict"], verdict["blocking"], verdict["evidence"]) == (v.BLOCKED, "tls", ["tls.reset"])


@pytest.mark.parametrize("handler, status, tor_document, failure, outcome", [
    (_answer("200 OK", DESCRIPTOR), 200, True, None, "ok"),
    (_answer("200 OK", b"<html>Access to this resource is restricted</html>"), 200, False, None, "http.not_tor"),
    (_answer("404 Not Found", b"nothing here"), 404, False, None, "http.not_tor"),
    (_reset_after_request, None, False, v.CONNECTION_RESET, "http.reset"),
], ids=["descriptor", "blockpage", "not-found", "reset-after-request"])
def test_directory_port_answers(handler, status, tor_document, failure, outcome):
    record = _measure("tor_dir", handler)
    fetch = record["directory"][0]
    assert (fetch["status"], fetch["tor_document"], fetch["failure"]) == (status, tor_document, failure)
    assert record["tls_handshakes"] == []
    assert _verdict(record)["endpoints"][0]["outcome"] == outcome


def test_directory_answers_without_a_control_are_never_blocked_alone():
    # A reset after the request, or another page, is evidence but no proof without a control.
    for handler in (_reset_after_request, _answer("200 OK", b"<html>blocked</html>")):
        assert _verdict(_measure("tor_dir", handler))["verdict"] == v.INCONCLUSIVE


def test_an_endless_directory_answer_is_read_up_to_its_bound():
    fetch = _measure("tor_dir", _endless)["directory"][0]
    assert (fetch["status"], fetch["bytes"], fetch.get("truncated"), fetch["tor_document"]) == (
        200, TOR_DIRECTORY_READ_BYTES, True, True)


def test_a_bridge_is_measured_by_tcp_alone():
    record = _measure("obfs4", _hold)
    assert record["kind"] == "obfs4" and record["tcp"][0]["failure"] is None
    assert record["tls_handshakes"] == [] and "directory" not in record
    assert _verdict(record)["verdict"] == v.REACHABLE


def test_tor_like_server_names_vary_like_tors_own():
    names = {tor_like_server_name() for _ in range(20)}
    assert len(names) > 1
    assert all(re.fullmatch(r"www\.[a-z2-7]{4,25}\.com", name) for name in names)
