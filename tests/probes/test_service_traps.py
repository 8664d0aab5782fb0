"""Service endpoints that break for their own reasons, measured on loopback: what the probe records.

Two traps of issue 22 (docs/methodology.md): a handshake reset after the ClientHello gets the SNI
split (the same address with a neutral name, then the real name once more when that was
answered), and a pinned endpoint whose chain misses its pin records whether the chain validates
for the name without the pin (a service that moved to a public CA). Each row is one server
behaviour and what must be in the endpoint's record; the last tests feed the records to the
service analysis.
"""

from __future__ import annotations

import asyncio
import ssl

import pytest
import trustme

from kzprobe.analysis.services import analyse_service
from kzprobe.probes.dns import parse_resolver
from kzprobe.probes.service_endpoints import measure_endpoints
from kzprobe.report import vocabulary as v
from kzprobe.scan.run import ScanOptions, build_probe_kit
from kzprobe.targets import Endpoint, Target
from kzprobe.targets import bundled as targets_module
from support.sni_servers import SniServer

ADDRESS = "127.0.0.61"  # address literals with an explicit server name: no DNS needed
NAME = "chat.messenger.test"


@pytest.fixture
def cas(tmp_path, monkeypatch):
    """The service's pinned CA (shipped as kzprobe/data/cas/testpin.pem), a CA given with
    --ca-file (the public CA the service moved to, as far as the scan knows), and a CA nobody trusts."""
    pinned, public, unknown = (trustme.CA(organization_name=name)
                               for name in ("Pinned Messenger CA", "Public Test CA", "Unknown Gateway CA"))
    ca_dir = tmp_path / "cas"
    ca_dir.mkdir()
    pinned.cert_pem.write_to_path(str(ca_dir / "testpin.pem"))
    public.cert_pem.write_to_path(str(tmp_path / "public.pem"))
    monkeypatch.setattr(targets_module, "CA_DIR", ca_dir)
    return {"pinned": pinned, "public": public, "unknown": unknown, "ca_file": str(tmp_path / "public.pem")}


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(NAME).configure_cert(context)
    return context


def measure(server: SniServer, ca_file: str | None, *, pinned: bool = False, kind: str | None = None) -> dict:
    options = ScanOptions(resolver=parse_resolver("127.0.0.1:53"), control_resolver=None, ca_file=ca_file,
                          timeout=1.0)
    endpoint = Endpoint(ADDRESS, server.port, tls=True, sni=None if kind else NAME,
                        ca="testpin" if pinned else None, role="chat", kind=kind)
    observations: dict = {}
    asyncio.run(measure_endpoints(build_probe_kit(options), Target(id="m", url=None, endpoints=(endpoint,)),
                                  observations))
    return observations["endpoints"][0]


def purposes(record: dict, key: str) -> list[str | None]:
    return [o.get("purpose") for o in record[key]]


SPLIT_ROWS = [
    # id, names the server resets (None: every ClientHello), handshakes (purpose, failure), made
    ("name-reset-by-sni", [NAME], [(None, v.CONNECTION_RESET), ("neutral_sni", None),
                                   ("sni_confirm", v.CONNECTION_RESET)]),
    ("server-resets-every-clienthello", None, [(None, v.CONNECTION_RESET), ("neutral_sni", v.CONNECTION_RESET)]),
    ("healthy-server", [], [(None, None)]),
]


@pytest.mark.parametrize("row", SPLIT_ROWS, ids=[row[0] for row in SPLIT_ROWS])
def test_the_sni_split_after_a_reset(cas, row):
    _, names, expected = row
    with SniServer(ADDRESS, server_context(cas["public"]), names or (), reset_every_name=names is None) as server:
        record = measure(server, cas["ca_file"])
        hellos = server.hellos
    assert [(h.get("purpose"), h["failure"]) for h in record["tls_handshakes"]] == expected
    assert purposes(record, "tcp") == [p for p, _ in expected]  # one new connection per extra handshake
    assert hellos == len(expected)  # bounded: nothing more was sent
    for handshake in record["tls_handshakes"]:
        assert handshake["sni"] == ("example.com" if handshake.get("purpose") == "neutral_sni" else NAME)


def test_a_tor_or_port_gets_no_split(cas):
    # An OR port's name is random and its certificate never checked: a reset there is judged as it is.
    with SniServer(ADDRESS, server_context(cas["public"]), reset_every_name=True) as server:
        record = measure(server, None, kind="tor_or")
        hellos = server.hellos
    assert purposes(record, "tls_handshakes") == [None] and hellos == 1


PIN_ROWS = [
    # id, the CA whose certificate the server presents, public_verification expected (None: absent)
    ("the-pinned-ca", "pinned", None),
    ("a-ca-the-scan-trusts-the-service-moved", "public", {"verified": True, "failure": None, "root_store": "ca_file"}),
    ("a-ca-nobody-trusts", "unknown", {"verified": False, "failure": v.SSL_UNKNOWN_AUTHORITY}),
]


@pytest.mark.parametrize("row", PIN_ROWS, ids=[row[0] for row in PIN_ROWS])
def test_a_pinned_endpoint_records_whether_its_chain_validates_without_the_pin(cas, row):
    _, issuer, expected = row
    with SniServer(ADDRESS, server_context(cas[issuer])) as server:
        record = measure(server, cas["ca_file"], pinned=True)
        hellos = server.hellos
    [handshake] = record["tls_handshakes"]
    assert handshake.get("public_verification") == expected
    if expected is None:
        assert handshake["verified"] and hellos == 1
        return
    assert handshake["failure"] == v.SSL_UNKNOWN_AUTHORITY and handshake["handshake_completed"]
    organisation = {"public": "Public Test CA", "unknown": "Unknown Gateway CA"}[issuer]
    assert organisation in handshake["peer_chain"][0]["issuer"]  # the chain is recorded either way
    assert handshake["peer_chain"][0]["spki_sha256"]
    # Pinned, then the scan's own store: one more connection; a chain that fails it too, one more
    # without verification to capture it.
    assert hellos == (2 if expected["verified"] else 3)


@pytest.mark.parametrize("issuer, verdict, evidence", [
    ("public", v.INCONCLUSIVE, ["tls.pin_stale"]),
    # Valid nowhere, its root unknown here: a service moved to a root of its own looks the same;
    # without a control, unclear (docs/methodology.md, A stale pin is not interception).
    ("unknown", v.INCONCLUSIVE, ["tls.invalid_cert", "control.missing"]),
])
def test_the_records_judged_a_stale_pin_or_interception(cas, issuer, verdict, evidence):
    with SniServer(ADDRESS, server_context(cas[issuer])) as server:
        record = measure(server, cas["ca_file"], pinned=True)
    got = analyse_service({"target": {"id": "m", "name": "Messenger"}, "observations": {"endpoints": [record]}},
                          None, v.ONLINE).to_dict()
    assert (got["verdict"], got["evidence"]) == (verdict, evidence), got["explanation"]


@pytest.mark.parametrize("names, verdict, evidence", [
    ([NAME], v.BLOCKED, ["tls.reset", "tls.sni_filter"]),  # the neutral name passes: SNI filtering
    (None, v.INCONCLUSIVE, ["tls.reset", "control.missing"]),  # every name reset: the server or its address
])
def test_the_split_records_judged_without_a_control(cas, names, verdict, evidence):
    with SniServer(ADDRESS, server_context(cas["public"]), names or (), reset_every_name=names is None) as server:
        record = measure(server, cas["ca_file"])
    got = analyse_service({"target": {"id": "m", "name": "Messenger"}, "observations": {"endpoints": [record]}},
                          None, v.ONLINE).to_dict()
    assert (got["verdict"], got["evidence"]) == (verdict, evidence), got["explanation"]
