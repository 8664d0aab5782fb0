"""Measuring one web target (probes/web.py): a slow control resolver (DoH across a throttled
international link) does not hold up the measurement, a redirect survives the server closing a
kept-alive connection, and a connection that sat idle waiting for its turn is replaced before
its handshake."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import trustme

from kzprobe.probes.dns import ResolverSpec
from kzprobe.probes.web import ProbeKit, measure_web_target
from kzprobe.report.scrub import Scrubber
from kzprobe.scan.run import ScanOptions, build_probe_kit, measure_target
from kzprobe.targets import targets_from_urls
from support.flaky_servers import ADDRESS as FLAKY_ADDRESS
from support.flaky_servers import FlakyServers
from support.loopback import DnsTable, LoopbackServers


def resolution(hostname: str, resolver: str) -> dict:
    return {"hostname": hostname, "resolver": resolver, "addresses": ["127.0.0.1"], "failure": None,
            "queries": [], "duration_ms": 1.0}


class Resolver:
    def __init__(self, name: str, delay: float) -> None:
        self.name, self.delay, self.answered_at = name, delay, None

    async def lookup(self, hostname: str) -> dict:
        await asyncio.sleep(self.delay)
        self.answered_at = time.monotonic()
        return resolution(hostname, self.name)


class RefusingConnector:
    """Every connection refused: the measurement ends after TCP."""

    def __init__(self) -> None:
        self.connected_at = None

    async def tcp_connect(self, hostname, address, port):
        self.connected_at = time.monotonic()
        return {"hostname": hostname, "address": address, "port": port, "failure": "connection_refused_error",
                "duration_ms": 0.1}, None


def kit(control_delay: float) -> tuple[ProbeKit, Resolver, RefusingConnector]:
    control, connector = Resolver("control", control_delay), RefusingConnector()
    return ProbeKit(dns=Resolver("measured", 0.0), control_dns=control, connector=connector,
                    scrub=Scrubber(set()), timeout=2.0), control, connector


def target() -> SimpleNamespace:
    return SimpleNamespace(hostname="orda.kz", port=443, scheme="https", url="https://orda.kz/", download=None)


def test_connections_do_not_wait_for_the_control_resolver():
    probe_kit, control, connector = kit(control_delay=0.3)
    observations: dict = {}
    asyncio.run(measure_web_target(probe_kit, target(), observations))
    assert connector.connected_at < control.answered_at - 0.2
    assert observations["control_dns"]["resolver"] == "control"
    assert list(observations)[:3] == ["dns", "control_dns", "tcp"]  # the usual order


def test_a_target_cut_short_keeps_no_half_control_answer():
    probe_kit, _, _ = kit(control_delay=5.0)
    observations: dict = {}

    async def cut_short():
        try:
            async with asyncio.timeout(0.2):
                await measure_web_target(probe_kit, target(), observations)
        except TimeoutError:
            pass

    asyncio.run(cut_short())
    assert "control_dns" not in observations and observations["dns"]["resolver"] == "measured"


# --- a server closing a kept-alive connection as the next request arrives -------------------

def test_a_redirect_on_a_connection_the_server_closed_is_retried_on_a_new_one():
    with FlakyServers() as servers:
        servers.seen.update({("site.test.", 1), ("site.test.", 28)})  # no DNS losses here
        kit = build_probe_kit(ScanOptions(ResolverSpec("dns", address=FLAKY_ADDRESS, port=servers.dns_port), None,
                                          timeout=2.0))
        target = targets_from_urls([f"http://site.test:{servers.http_port}/"])[0]
        result = asyncio.run(measure_target(kit, target))
    hops = result["observations"]["http"]
    assert [h["status"] for h in hops] == [302, 200], [(h["url"], h["status"], h["failure"]) for h in hops]


# --- connected ahead, TLS in a turn: the connection waits idle meanwhile ----------------------

QUEUE_ADDRESS = "127.0.0.31"
IDLE_S = 2.5      # the server's handshake timeout: no byte within IDLE_S after accept, it closes
PAGE_DELAY_S = 0.4  # a healthy but not fast site: each answer takes this long


class _HandshakeTimeoutServer:
    """HTTPS on loopback that closes a connection on which the client sent nothing for IDLE_S
    (what servers and load balancers do to connections that never start their handshake)."""

    def __init__(self, names: list[str], directory: Path) -> None:
        ca = trustme.CA()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*names).configure_cert(self.context)
        ca.cert_pem.write_to_path(str(directory / "ca.pem"))
        self.idle_closes = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((QUEUE_ADDRESS, 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(IDLE_S)
        try:
            conn.recv(1, socket.MSG_PEEK)
        except (TimeoutError, OSError):
            self.idle_closes += 1
            conn.close()
            return
        conn.settimeout(10)
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                time.sleep(PAGE_DELAY_S)
                body = b"<html><title>home</title><p>news</p></html>"
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(body) + body)
        except (OSError, ssl.SSLError):
            pass

    def close(self) -> None:
        self.listener.close()


# A connection made ahead once sat idle for the whole queue of turns, a server's
# handshake timeout closed it, and the healthy site read as "blocked at tls". Connections idle
# past limits.IDLE_CONNECTION_S are now replaced before their handshake (probes/web.py).
def test_healthy_sites_behind_a_queue_are_not_reported_blocked(tmp_path):
    names = [f"s{i}.test" for i in range(12)]  # the last ones queue for longer than IDLE_S
    server = _HandshakeTimeoutServer(names, tmp_path)
    try:
        with LoopbackServers(QUEUE_ADDRESS, DnsTable({n: [QUEUE_ADDRESS] for n in names}), lambda h, p: (200, {}, b""),
                             None) as dns_server:
            (tmp_path / "t.yaml").write_text(
                "targets:\n" + "".join(f"  - url: https://{n}:{server.port}/\n" for n in names))
            resolver = f"{QUEUE_ADDRESS}:{dns_server.dns_port}"
            proc = subprocess.run(
                [sys.executable, "-m", "kzprobe", "scan", "--targets", str(tmp_path / "t.yaml"),
                 "--resolver", resolver, "--control-resolver", resolver, "--ca-file", str(tmp_path / "ca.pem"),
                 "--timeout", "5", "--concurrency", "1", "--output", str(tmp_path / "r.json"),
                 "--vantage", "v", "--no-geo"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    wrong = {r["target"]["id"]: (r["verdict"], r["blocking"]) for r in report["results"] if r["verdict"] != "reachable"}
    assert wrong == {}
    for result in report["results"]:  # a replaced connection leaves one TCP result, the fresh one's
        assert len(result["observations"]["tcp"]) == 1 and result["observations"]["tcp"][0]["failure"] is None
