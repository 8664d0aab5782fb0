"""Endpoint probe against real loopback servers: what each endpoint behaviour leaves in the record.

Each row is a way a service endpoint can behave (works, refuses, drops the SYN, swallows the
ClientHello, presents an interception chain to a pinned-CA endpoint) and what the probe must
record. A "dropped" endpoint is a listener whose accept queue is full: Linux then drops SYNs,
which is what a censor's blackhole looks like from the client.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import time

import pytest
import trustme

from kzprobe.probes.dns import parse_resolver
from kzprobe.probes.service_endpoints import ENDPOINT_OPERATIONS_AT_ONCE, measure_endpoints
from kzprobe.report import vocabulary as v
from kzprobe.scan.run import ScanOptions, build_probe_kit
from kzprobe.targets import Endpoint, Target
from kzprobe.targets import bundled as targets_module
from support.endpoint_servers import Server, blackhole, closed_port, hold_open, start_server
from support.loopback import DnsTable, LoopbackServers
from support.sni_servers import SniServer

DNS_ADDRESS = "127.0.0.20"
SERVICE = "127.0.0.21"  # the service's real servers (chain to the pinned CA)
INTERCEPTOR = "127.0.0.22"  # a middlebox with an interception root
CLOSED = "127.0.0.23"  # nothing listens: RST to the SYN
BLACKHOLE = "127.0.0.24"  # SYNs vanish
SWALLOW = "127.0.0.25"  # accepts TCP, never answers the ClientHello
PLAIN = "127.0.0.26"  # accepts TCP (a Telegram data centre, a WhatsApp chat port)

TABLE = DnsTable({
    "chat.signal.test": [SERVICE],
    "storage.signal.test": [INTERCEPTOR],
    "e1.whatsapp.test": [PLAIN],
    "e2.whatsapp.test": [BLACKHOLE],
    "blocked.whatsapp.test": "NXDOMAIN",
    "many.test": [PLAIN, "127.0.0.27", "127.0.0.28"],
})


@pytest.fixture(scope="module")
def dns_server():
    with LoopbackServers(DNS_ADDRESS, TABLE, lambda h, p: (200, {}, b""), None) as servers:
        yield servers


@pytest.fixture
def cas(tmp_path, monkeypatch):
    """A pinned service CA shipped as kzprobe/data/cas/testsignal.pem, and an interception CA."""
    service_ca = trustme.CA(organization_name="Signal Test Messenger")
    interception_ca = trustme.CA(organization_name="Qaznet Trust Network")
    ca_dir = tmp_path / "cas"
    ca_dir.mkdir()
    service_ca.cert_pem.write_to_path(str(ca_dir / "testsignal.pem"))
    interception_file = tmp_path / "interception.pem"
    interception_ca.cert_pem.write_to_path(str(interception_file))
    monkeypatch.setattr(targets_module, "CA_DIR", ca_dir)
    return service_ca, interception_ca, interception_file


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(context)
    return context


def kit_for(dns_server, timeout: float, ca_file: str | None = None):
    options = ScanOptions(resolver=parse_resolver(f"{DNS_ADDRESS}:{dns_server.dns_port}"),
                          control_resolver=None, ca_file=ca_file, timeout=timeout)
    return build_probe_kit(options)


def service(*endpoints: Endpoint) -> Target:
    return Target(id="messenger", url=None, endpoints=endpoints)


def measure(kit, target: Target) -> list[dict]:
    observations: dict = {}
    asyncio.run(_measure(kit, target, observations))
    return observations["endpoints"]


async def _measure(kit, target, observations) -> None:
    await measure_endpoints(kit, target, observations)


def run_with_servers(setup, kit, target_of) -> tuple[list[dict], dict]:
    """Start servers inside the probe's own event loop, measure, then stop them."""
    observations: dict = {}
    servers: dict = {}

    async def main() -> None:
        servers.update(await setup())
        await measure_endpoints(kit, target_of(servers), observations)
        await asyncio.sleep(0.1)  # let the servers see the client's close
        for server in servers.values():
            for handle in server.handles:
                handle.close()

    asyncio.run(main())
    return observations["endpoints"], servers


def test_pinned_ca_verifies_the_service_and_catches_interception(dns_server, cas):
    service_ca, interception_ca, interception_file = cas

    async def setup():
        return {
            "service": await start_server(SERVICE, server_context(service_ca, "chat.signal.test")),
            "interceptor": await start_server(INTERCEPTOR, server_context(interception_ca, "storage.signal.test")),
        }

    # The scan trusts the interception root (as if given with --ca-file): a pinned endpoint must not.
    kit = kit_for(dns_server, timeout=2.0, ca_file=str(interception_file))
    records, servers = run_with_servers(setup, kit, lambda s: service(
        Endpoint("chat.signal.test", s["service"].port, tls=True, ca="testsignal", role="chat"),
        Endpoint("storage.signal.test", s["interceptor"].port, tls=True, ca="testsignal", role="storage"),
    ))
    chat, storage = records
    assert chat["endpoint"] == f"chat.signal.test:{servers['service'].port}"
    assert chat["dns"]["addresses"] == [SERVICE] and chat["tcp"][0]["failure"] is None
    assert chat["tls_handshakes"][0]["verified"] and chat["tls_handshakes"][0]["failure"] is None
    assert chat["ca"] == "testsignal" and chat["sni"] == "chat.signal.test" and chat["role"] == "chat"
    handshake = storage["tls_handshakes"][0]
    assert handshake["failure"] == v.SSL_UNKNOWN_AUTHORITY and not handshake["verified"]
    assert handshake["handshake_completed"]
    assert any("Qaznet Trust Network" in cert["issuer"] for cert in handshake["peer_chain"])


def test_pinned_ca_refuses_a_chain_the_default_store_would_take(dns_server, cas):
    # A second bundle on disk that is *not* the pinned one: the service chain must fail against it.
    service_ca, interception_ca, _ = cas
    interception_ca.cert_pem.write_to_path(str(targets_module.CA_DIR / "other.pem"))

    async def setup():
        return {"service": await start_server(SERVICE, server_context(service_ca, "chat.signal.test"))}

    records, _ = run_with_servers(setup, kit_for(dns_server, 2.0), lambda s: service(
        Endpoint("chat.signal.test", s["service"].port, tls=True, ca="other"),
    ))
    assert records[0]["tls_handshakes"][0]["failure"] == v.SSL_UNKNOWN_AUTHORITY


def test_missing_pinned_bundle_is_recorded_not_raised(dns_server, cas):
    records = measure(kit_for(dns_server, 1.0), service(Endpoint(SERVICE, 443, tls=True, ca="nonexistent")))
    assert records[0]["failure"].startswith(v.UNKNOWN_FAILURE_PREFIX)
    assert "nonexistent" in records[0]["failure"] and str(targets_module.CA_DIR) not in records[0]["failure"]
    assert records[0]["tcp"] == []


@pytest.mark.parametrize("behaviour, tcp_failure, tls_failure", [
    ("refused", v.CONNECTION_REFUSED, None),
    ("dropped", v.GENERIC_TIMEOUT, None),
    ("swallowed ClientHello", None, v.GENERIC_TIMEOUT),
    ("plain TCP works", None, None),
])
def test_endpoint_behaviours(dns_server, behaviour, tcp_failure, tls_failure):
    async def setup():
        return {"swallow": await start_server(SWALLOW), "plain": await start_server(PLAIN)}

    with blackhole(BLACKHOLE) as dropped_port:
        def target(s):
            return service({
                "refused": Endpoint(CLOSED, closed_port(CLOSED)),
                "dropped": Endpoint(BLACKHOLE, dropped_port, role="datacenter"),
                "swallowed ClientHello": Endpoint(SWALLOW, s["swallow"].port, tls=True, sni="e1.whatsapp.test"),
                "plain TCP works": Endpoint(PLAIN, s["plain"].port, role="datacenter"),
            }[behaviour])

        records, _ = run_with_servers(setup, kit_for(dns_server, 0.5), target)
    record = records[0]
    assert record["dns"] is None  # IP literal: no resolution
    assert [t["failure"] for t in record["tcp"] if "purpose" not in t] == [tcp_failure]
    if tls_failure:
        assert record["tls_handshakes"][0]["failure"] == tls_failure
        assert record["tls_handshakes"][0]["sni"] == "e1.whatsapp.test"
        # The SNI split: the neutral name, swallowed too, and no second try of the real name.
        neutral = record["tls_handshakes"][1]
        assert (neutral["purpose"], neutral["sni"], neutral["failure"]) == ("neutral_sni", "example.com", tls_failure)
        assert [t.get("purpose") for t in record["tcp"]] == [None, "neutral_sni"]
        assert len(record["tls_handshakes"]) == 2
    else:
        assert record["tls_handshakes"] == []


def test_names_are_resolved_once_per_host_and_failures_recorded(dns_server):
    async def setup():
        return {"plain": await start_server(PLAIN)}

    records, servers = run_with_servers(setup, kit_for(dns_server, 1.0), lambda s: service(
        Endpoint("e1.whatsapp.test", s["plain"].port, role="chat"),
        Endpoint("e1.whatsapp.test", closed_port(PLAIN), role="chat"),
        Endpoint("blocked.whatsapp.test", 443, role="chat"),
        Endpoint("many.test", s["plain"].port),
    ))
    first, second, nxdomain, many = records
    assert first["dns"] is second["dns"]  # one resolution shared by both ports
    assert first["tcp"][0]["failure"] is None
    assert second["tcp"][0]["failure"] == v.CONNECTION_REFUSED
    assert nxdomain["dns"]["failure"] == v.DNS_NXDOMAIN and nxdomain["tcp"] == []
    # At most limits.ADDRESSES_PER_FAMILY addresses per family, in answer order.
    assert len(many["dns"]["addresses"]) == 3
    assert [t["address"] for t in many["tcp"]] == many["dns"]["addresses"][:2]


def test_ipv6_literal_endpoint(dns_server):
    async def setup():
        server = Server("::1")
        handle = await asyncio.start_server(lambda r, w: hold_open(server, r, w), "::1", 0)
        server.port = handle.sockets[0].getsockname()[1]
        server.handles.append(handle)
        return {"v6": server}

    try:
        records, servers = run_with_servers(setup, kit_for(dns_server, 1.0), lambda s: service(
            Endpoint("::1", s["v6"].port)))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    assert records[0]["endpoint"] == f"[::1]:{servers['v6'].port}"
    assert records[0]["dns"] is None and records[0]["tcp"][0]["failure"] is None


def test_many_endpoints_are_bounded_ordered_and_closed(dns_server):
    # 40 endpoints whose ClientHello is swallowed: all measured, never more than the bound open
    # at once, every record in target order, every connection closed by the probe; the SNI split
    # adds exactly one neutral-name connection per failed handshake (the neutral name is
    # swallowed too, so the real name is not tried again).
    count = 40

    async def setup():
        return {"swallow": await start_server(SWALLOW)}

    records, servers = run_with_servers(setup, kit_for(dns_server, 0.3), lambda s: service(
        *(Endpoint(SWALLOW, s["swallow"].port, tls=True, sni=f"e{i}.whatsapp.test") for i in range(count))))
    swallow = servers["swallow"]
    assert [r["sni"] for r in records] == [f"e{i}.whatsapp.test" for i in range(count)]
    handshakes = [r["tls_handshakes"][0] for r in records]
    assert all(h["failure"] == v.GENERIC_TIMEOUT and not h["handshake_completed"] for h in handshakes)
    assert all(h["duration_ms"] >= 250 for h in handshakes)  # each waited out its own timeout
    assert all([h.get("purpose") for h in r["tls_handshakes"]] == [None, "neutral_sni"] for r in records)
    assert swallow.opened == 2 * count
    assert swallow.most_open <= ENDPOINT_OPERATIONS_AT_ONCE
    assert swallow.closed_by_client == 2 * count and swallow.open_now == 0


def test_a_deadline_keeps_what_was_measured(dns_server):
    # One endpoint answers at once, one waits out its timeout: cut short in between, the
    # record of the first is complete and the second's unfinished step is absent.
    async def main():
        plain = await start_server(PLAIN)
        observations: dict = {}
        with blackhole(BLACKHOLE) as dropped_port:
            target = service(Endpoint(PLAIN, plain.port), Endpoint(BLACKHOLE, dropped_port))
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await measure_endpoints(kit_for(dns_server, 5.0), target, observations)
        for handle in plain.handles:
            handle.close()
        return observations["endpoints"]

    working, dropped = asyncio.run(main())
    assert working["tcp"][0]["failure"] is None
    assert dropped["tcp"] == []


def test_interception_measured_on_loopback_is_judged_tls_mitm(dns_server, cas):
    # The probe's records go straight into the service analysis: a Signal-like service whose
    # storage host sits behind an interception root. Its root unknown here (no fingerprint names
    # this test CA) and valid nowhere, only the control tells it from a service that moved to a
    # root of its own: unclear without one, blocked at tls (tls.mitm) against a control scan whose
    # storage host passed the pin; chat works either way.
    from kzprobe.analysis.services import analyse_service

    service_ca, interception_ca, _ = cas

    def measured(storage_ca: trustme.CA) -> list[dict]:
        async def setup():
            return {
                "service": await start_server(SERVICE, server_context(service_ca, "chat.signal.test")),
                "storage": await start_server(INTERCEPTOR, server_context(storage_ca, "storage.signal.test")),
            }

        # Address literals with SNI: a loopback DNS answer would itself read as a bogon (dns.bogon).
        records, _ = run_with_servers(setup, kit_for(dns_server, 2.0), lambda s: service(
            Endpoint(SERVICE, s["service"].port, tls=True, sni="chat.signal.test", ca="testsignal", role="chat"),
            Endpoint(INTERCEPTOR, s["storage"].port, tls=True, sni="storage.signal.test", ca="testsignal",
                     role="storage"),
        ))
        return records

    def judged(records: list[dict], control: list[dict] | None) -> dict:
        result = {"target": {"id": "signal", "name": "Signal"}, "observations": {"endpoints": records}}
        control_result = {"target": {"id": "signal"}, "observations": {"endpoints": control}} if control else None
        return analyse_service(result, control_result, v.ONLINE).to_dict()

    inside, outside = measured(interception_ca), measured(service_ca)
    for here, there in zip(inside, outside, strict=True):  # the servers' ports differ between the runs
        there.update(endpoint=here["endpoint"], port=here["port"])
    alone, controlled = judged(inside, None), judged(inside, outside)
    assert (alone["verdict"], alone["evidence"]) == ("inconclusive", ["tls.invalid_cert", "control.missing"])
    assert (controlled["verdict"], controlled["blocking"], controlled["evidence"]) == ("blocked", "tls", ["tls.mitm"])
    assert controlled["parts"] == {"chat": "ok", "storage": "blocked"}
    assert "Qaznet Trust Network" in controlled["explanation"]


def test_a_bundle_replaced_on_disk_is_loaded_afresh(tmp_path):
    from kzprobe.probes.service_endpoints import pinned_context

    path = tmp_path / "lab.pem"
    first, second = trustme.CA(), trustme.CA(organization_name="A longer organisation name")
    first.cert_pem.write_to_path(str(path))
    before = pinned_context(str(path))
    assert pinned_context(str(path)) is before  # cached
    second.cert_pem.write_to_path(str(path))
    assert pinned_context(str(path)) is not before


# --------------------------------------------------------------------------------------------
# Through the real CLI: `kzprobe scan` measures service targets and `kzprobe show` lists them.

CLI_WEB = "127.0.0.40"  # a working page (IP literal: its loopback address is not a DNS answer)
CLI_DCS = ("127.0.0.41", "127.0.0.42", "127.0.0.43")  # "data centres" whose SYNs vanish
CLI_SERVICE = "127.0.0.44"  # TLS service host, certificate from the scan's --ca-file
CLI_RESET = "127.0.0.45"  # resets the connection when any ClientHello arrives (the server refuses TLS)
CLI_SNI = "127.0.0.46"  # resets ClientHellos naming storage.messenger.test, serves the rest (SNI filtering)


async def _reset_on_hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
    writer.transport.abort()


def test_service_targets_through_the_cli(tmp_path, dns_server):
    import subprocess
    import sys
    import threading

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    loop = asyncio.new_event_loop()
    ports: dict[str, int] = {}

    async def start() -> None:
        for name, address, handler, tls in (
            ("service", CLI_SERVICE, None, server_context(ca, "chat.messenger.test")),
            ("reset", CLI_RESET, _reset_on_hello, None),
        ):
            holder = Server(address)
            handle = await asyncio.start_server(handler or (lambda r, w, s=holder: hold_open(s, r, w)), address, 0,
                                                ssl=tls)
            ports[name] = handle.sockets[0].getsockname()[1]

    thread = threading.Thread(target=lambda: (asyncio.set_event_loop(loop), loop.run_until_complete(start()),
                                              loop.run_forever()), daemon=True)
    thread.start()
    def page(host: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "text/html"}, b"<title>home</title><p>a working page</p>"

    with LoopbackServers(CLI_WEB, DnsTable({}), page, None) as web, \
            SniServer(CLI_SNI, server_context(ca, "chat.messenger.test"), ["storage.messenger.test"]) as sni, \
            blackhole(CLI_DCS[0]) as p0, blackhole(CLI_DCS[1]) as p1, blackhole(CLI_DCS[2]) as p2:
        for _ in range(100):
            if len(ports) == 2:
                break
            time.sleep(0.05)
        targets = tmp_path / "services.yaml"
        targets.write_text(f"""
targets:
  - id: page
    url: http://{CLI_WEB}:{web.http_port}/
  - id: telegram-lab
    name: Telegram (lab)
    endpoints:
      - {{host: {CLI_DCS[0]}, port: {p0}, role: datacenter}}
      - {{host: {CLI_DCS[1]}, port: {p1}, role: datacenter}}
      - {{host: {CLI_DCS[2]}, port: {p2}, role: datacenter}}
  - id: messenger-lab
    name: Messenger (lab)
    endpoints:
      - {{host: {CLI_SERVICE}, port: {ports['service']}, tls: true, sni: chat.messenger.test, role: chat}}
      - {{host: {CLI_SNI}, port: {sni.port}, tls: true, sni: storage.messenger.test, role: storage}}
  - id: refusing-lab
    name: Refusing (lab)
    endpoints:
      - {{host: {CLI_SERVICE}, port: {ports['service']}, tls: true, sni: chat.messenger.test, role: chat}}
      - {{host: {CLI_RESET}, port: {ports['reset']}, tls: true, sni: storage.messenger.test, role: storage}}
  - id: working-lab
    name: Working (lab)
    endpoints:
      - {{host: {CLI_SERVICE}, port: {ports['service']}, tls: true, sni: chat.messenger.test, role: chat}}
""")
        output = tmp_path / "report.json"
        common = dict(cwd=tmp_path, capture_output=True, text=True, timeout=60)
        scan = subprocess.run([sys.executable, "-m", "kzprobe", "scan", "--targets", str(targets),
                               "--resolver", f"{DNS_ADDRESS}:{dns_server.dns_port}", "--control-resolver", "none",
                               "--ca-file", str(tmp_path / "ca.pem"), "--timeout", "1", "--no-geo",
                               "--output", str(output)], **common)
        loop.call_soon_threadsafe(loop.stop)
    assert scan.returncode == 0, scan.stderr
    results = {r["target"]["id"]: r for r in json.loads(output.read_text())["results"]}

    telegram = results["telegram-lab"]
    assert (telegram["verdict"], telegram["blocking"], telegram["evidence"]) == ("blocked", "tcp", ["tcp.timeout"])
    assert "3/3 data-centre endpoints timed out at TCP connect" in telegram["explanation"]
    assert [e["tcp"][0]["failure"] for e in telegram["observations"]["endpoints"]] == [v.GENERIC_TIMEOUT] * 3

    # SNI filtering: the neutral name passes where the real name is reset, twice.
    messenger = results["messenger-lab"]
    assert (messenger["verdict"], messenger["blocking"], messenger["evidence"]) == \
        ("blocked", "tls", ["tls.reset", "tls.sni_filter"])
    assert "partly blocked at tls" in messenger["explanation"] and "chat works" in messenger["explanation"]
    chat, storage = messenger["observations"]["endpoints"]
    assert chat["tls_handshakes"][0]["verified"] and storage["tls_handshakes"][0]["failure"] == v.CONNECTION_RESET
    assert [h.get("purpose") for h in storage["tls_handshakes"]] == [None, "neutral_sni", "sni_confirm"]
    # A server resetting every ClientHello, the neutral name's too: no censor's SNI signature.
    refusing = results["refusing-lab"]
    assert (refusing["verdict"], refusing["evidence"]) == ("inconclusive", ["tls.reset", "control.missing"])
    assert "a neutral server name failed at the same address too" in refusing["explanation"]

    assert results["working-lab"]["verdict"] == "reachable"

    show = subprocess.run([sys.executable, "-m", "kzprobe", "show", str(output)], **common)
    assert show.returncode == 0, show.stderr
    for target_id in ("telegram-lab", "messenger-lab", "refusing-lab", "working-lab"):
        assert sum(target_id in line for line in show.stdout.splitlines()) == 1
