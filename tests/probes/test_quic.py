"""QUIC on loopback: the probe's handshake against the lab's own QUIC server and its censor.

The lab's server (kzprobe/lab/servers/quic.py) drops what the censor's rule names: every
datagram to the address, or the connections whose Initial names a site (read by decrypting the
Initial with keys derived from its destination connection ID, as any middlebox can).
"""

from __future__ import annotations

import asyncio

import pytest
import trustme
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

from kzprobe.lab.servers.quic import initial_server_name, serve_quic
from kzprobe.probes.quic import quic_handshake
from kzprobe.report import vocabulary as v

ADDRESS = "127.0.0.33"
BLOCKED, OTHER = "blocked.kzlab.test", "other.kzlab.test"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    directory = tmp_path_factory.mktemp("quic-cert")
    leaf = trustme.CA().issue_cert(BLOCKED, OTHER)
    leaf.cert_chain_pems[0].write_to_path(str(directory / "chain.pem"))
    leaf.private_key_pem.write_to_path(str(directory / "key.pem"))
    return str(directory / "chain.pem"), str(directory / "key.pem")


# A handshake expected to time out waits briefly; one expected to complete has ample time, so
# that a loaded machine (CI runs the suite on two cores) cannot turn a slow handshake into a
# timeout and a wrong verdict on the test.
EXPECTED_TIMEOUT_WAIT, EXPECTED_SUCCESS_WAIT = 1.0, 15.0


def _handshakes(certificate, drop_all: bool, drop_names: frozenset[str], outcomes: dict[str, str | None]) -> list[dict]:
    async def main() -> list[dict]:
        transport = await serve_quic(ADDRESS, *certificate, drop_all, drop_names)
        try:
            return [await quic_handshake(ADDRESS, 443, name,
                                         EXPECTED_SUCCESS_WAIT if expected is None else EXPECTED_TIMEOUT_WAIT)
                    for name, expected in outcomes.items()]
        finally:
            transport.close()

    return asyncio.run(main())


@pytest.mark.parametrize("drop_all, drop_names, outcomes", [
    (False, frozenset(), {BLOCKED: None, OTHER: None}),
    (True, frozenset(), {BLOCKED: v.GENERIC_TIMEOUT, OTHER: v.GENERIC_TIMEOUT}),
    (False, frozenset({BLOCKED}), {BLOCKED: v.GENERIC_TIMEOUT, OTHER: None}),
], ids=["honest", "udp-443-dropped", "initial-dropped-by-name"])
def test_quic_handshake_against_the_censor(certificate, drop_all, drop_names, outcomes):
    observed = _handshakes(certificate, drop_all, drop_names, outcomes)
    assert {o["sni"]: o["failure"] for o in observed} == outcomes
    for o in observed:
        assert o["handshake_completed"] is (o["failure"] is None)
        assert o["alpn"] == ("h3" if o["failure"] is None else None)


def test_a_middlebox_reads_the_server_name_of_a_quic_initial():
    client = QuicConnection(configuration=QuicConfiguration(is_client=True, alpn_protocols=["h3"], server_name=OTHER))
    client.connect((ADDRESS, 443), now=0.0)
    [(datagram, _)] = client.datagrams_to_send(now=0.0)
    assert initial_server_name(datagram) == OTHER
    assert initial_server_name(datagram[:40]) is None  # cut short: nothing to decrypt
    assert initial_server_name(b"\x40" + bytes(60)) is None  # a short-header packet
