"""obfs4 bridges on loopback: the real obfs4 client (obfs4proxy or lyrebird) against the real
obfs4 server (obfs4proxy in server mode) and against a port that speaks something else.

Skipped where neither program is installed (Debian: `apt-get install obfs4proxy`); without them
a bridge's record must say that no client was found, which is tested always.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kzprobe.analysis.services import analyse_service
from kzprobe.probes import obfs4
from kzprobe.probes.dns import parse_resolver
from kzprobe.probes.service_endpoints import measure_endpoints
from kzprobe.report import vocabulary as v
from kzprobe.scan.run import ScanOptions, build_probe_kit
from kzprobe.targets import Endpoint, Target

BRIDGE = "127.0.0.34"
CERT = "qUVQ0srL1JI/vO6V6m/24anYXiJD3QP2HgzUKQtQ7GRqqUvs7P+tG43RtAqdhLOALP7DJQ"
SERVER = shutil.which("obfs4proxy")


def _kit():
    return build_probe_kit(ScanOptions(resolver=parse_resolver("127.0.0.1:9"), control_resolver=None,
                                       ca_file=None, timeout=3.0))


def _measure(port: int, cert: str) -> dict:
    observations: dict = {}
    target = Target(id="tor", url=None, endpoints=(Endpoint(BRIDGE, port, kind="obfs4", role="bridge", cert=cert),))
    asyncio.run(measure_endpoints(_kit(), target, observations))
    return observations["endpoints"][0]


@pytest.fixture
def obfs4_server(tmp_path: Path):
    """A real obfs4 bridge on loopback: (port, cert)."""
    if SERVER is None:
        pytest.skip("obfs4proxy is not installed")
    env = {"TOR_PT_MANAGED_TRANSPORT_VER": "1", "TOR_PT_STATE_LOCATION": str(tmp_path),
           "TOR_PT_SERVER_TRANSPORTS": "obfs4", "TOR_PT_SERVER_BINDADDR": f"obfs4-{BRIDGE}:0",
           "TOR_PT_ORPORT": "127.0.0.1:9", "PATH": os.environ.get("PATH", "")}
    process = subprocess.Popen([SERVER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port, cert = None, None
        assert process.stdout is not None
        for line in process.stdout:
            words = line.split()
            if words[:2] == ["SMETHOD", "obfs4"]:
                port = int(words[2].rpartition(":")[2])
                cert = words[3].removeprefix("ARGS:").split(",")[0].removeprefix("cert=")
            if words[:1] == ["SMETHODS"]:
                break
        assert port and cert
        yield port, cert
    finally:
        process.terminate()
        process.wait(5)


@pytest.fixture
def plain_port():
    """A port that accepts TCP and answers nothing obfs4 understands."""
    import socket

    listener = socket.socket()
    listener.bind((BRIDGE, 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def test_a_real_bridge_completes_the_obfs4_handshake(obfs4_server):
    port, cert = obfs4_server
    record = _measure(port, cert)
    assert record["tcp"][0]["failure"] is None
    assert record["obfs4"]["client"] in obfs4.OBFS4_CLIENTS and record["obfs4"]["failure"] is None
    result = {"target": {"id": "tor", "name": "Tor"}, "observations": {"endpoints": [record]}}
    assert analyse_service(result, None, v.ONLINE).to_dict()["verdict"] == v.REACHABLE


def test_a_port_that_is_no_obfs4_bridge_fails_the_handshake_after_tcp(obfs4_server, plain_port):
    record = _measure(plain_port, obfs4_server[1])
    assert record["tcp"][0]["failure"] is None
    assert record["obfs4"]["failure"] is not None
    # A control that completed the handshake makes the failure a block; no control: unclear.
    here = {"target": {"id": "tor", "name": "Tor"}, "observations": {"endpoints": [record]}}
    control = {"target": {"id": "tor"}, "observations": {"endpoints": [
        {**record, "obfs4": {"client": "obfs4proxy", "failure": None, "duration_ms": 5.0}}]}}
    assert analyse_service(here, None, v.ONLINE).to_dict()["verdict"] == v.INCONCLUSIVE
    blocked = analyse_service(here, control, v.ONLINE).to_dict()
    assert (blocked["verdict"], blocked["blocking"]) == (v.BLOCKED, "tls")
    assert blocked["endpoints"][0]["outcome"] == "tls.obfs4"


def test_without_a_client_a_bridge_is_tcp_only_and_says_so(monkeypatch, plain_port):
    monkeypatch.setenv("PATH", "/nonexistent")
    record = _measure(plain_port, CERT)
    assert record["obfs4"] == {"client": None}
    result = {"target": {"id": "tor", "name": "Tor"}, "observations": {"endpoints": [record]}}
    assert analyse_service(result, None, v.ONLINE).to_dict()["verdict"] == v.REACHABLE
