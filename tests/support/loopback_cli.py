"""The real `kzprobe` command against loopback servers: a news site over HTTP and HTTPS, an IDN
host, a name that does not exist. Shared by the CLI tests and the measuring-process tests."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import trustme

from support.loopback import DnsTable, LoopbackServers

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "kzprobe" / "data" / "report.schema.json").read_text())
ADDRESS = "127.0.0.2"


def page(host: str, path: str):
    if path == "/slow-list":
        time.sleep(0.3)
    if path == "/moved":
        return 301, {"Location": "/"}, b""
    page = f"<html><title>{host} home</title><p>news</p></html>"
    return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()


def write_targets(directory: Path, servers: LoopbackServers, extra: str = "") -> Path:
    path = directory / "targets.yaml"
    path.write_text(f"""
targets:
  - url: https://news.test:{servers.https_port}/
  - id: news-http
    url: http://news.test:{servers.http_port}/moved
  - id: idn
    url: https://сайт.test:{servers.https_port}/
  - url: https://gone.test:{servers.https_port}/
{extra}""")
    return path


def kzprobe(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kzprobe", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, **kwargs)


def scan_args(directory: Path, servers: LoopbackServers, output: Path) -> list[str]:
    resolver = f"{ADDRESS}:{servers.dns_port}"
    return ["scan", "--targets", str(write_targets(directory, servers)), "--resolver", resolver,
            "--control-resolver", resolver, "--ca-file", str(directory / "ca.pem"), "--timeout", "2",
            "--output", str(output), "--vantage", "loopback-test", "--no-geo"]


def loopback_sites(directory: Path) -> Iterator[tuple[Path, LoopbackServers]]:
    """The servers, with their CA in `directory`/ca.pem, for as long as the generator runs."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("news.test", "xn--80aswg.test", ADDRESS).configure_cert(server_context)
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    table = DnsTable({"news.test": [ADDRESS], "xn--80aswg.test": [ADDRESS], "gone.test": "NXDOMAIN"})
    with LoopbackServers(ADDRESS, table, page, server_context) as servers:
        yield directory, servers
