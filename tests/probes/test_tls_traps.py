"""The probe side of issue 22's TLS items, on loopback: what every handshake records (leaf key,
completeness, the root's origin), the SNI split, chain completion through AIA (bounded), and the
control resolver's addresses - each extra step only after a failure, recorded."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import certifi
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from kzprobe.analysis import thresholds
from kzprobe.lab.certs import INTERMEDIATE_FILE, CertificateFactory
from kzprobe.lab.servers.clienthello import server_name
from kzprobe.probes import limits
from kzprobe.probes.certs import certificates_in
from kzprobe.probes.connection import Connector
from kzprobe.probes.session import TargetSession
from kzprobe.probes.trust import CA_FILE, PUBLIC, SYSTEM_ONLY, RootOrigins
from kzprobe.probes.web import ProbeKit, measure_web_target
from kzprobe.report.scrub import Scrubber
from support.loopback import DnsTable, LoopbackServers

HOST = "news.test"


class TlsServer:
    """A blocking TLS server on loopback in a thread. `closes(sni)` says which ClientHellos it
    closes (FIN) before answering - a middlebox by name, or a server refusing every name."""

    def __init__(self, context: ssl.SSLContext, closes=lambda sni: False, address: str = "127.0.0.1",
                 delay_s: float = 0.0) -> None:
        self.context, self.closes, self.delay_s = context, closes, delay_s
        self.listener = socket.create_server((address, 0))
        self.address, self.port = address, self.listener.getsockname()[1]
        self.names: list[str | None] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            hello = conn.recv(16384, socket.MSG_PEEK)
            sni = server_name(hello)
            self.names.append(sni)
            if self.closes(sni):
                conn.recv(len(hello))
                conn.close()
                return
            time.sleep(self.delay_s)  # a server slow to handshake, for every name
            with self.context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            conn.close()

    def close(self) -> None:
        self.listener.close()


class FileServer:
    """Plain HTTP on loopback serving one body at any path (an AIA server)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                self.requests += 1
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(self.body)
                             + self.body)


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


def served_context(authority: trustme.CA, host: str = HOST) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(host).configure_cert(context)
    return context


def handshake(connector: Connector, server, host: str = HOST, times: int = 1) -> tuple[dict, list]:
    """`times` handshakes through one target session; (observations, streams handed on)."""
    observations: dict = {}
    session = TargetSession(None, connector, observations)  # type: ignore[arg-type]

    async def main():
        streams = []
        for _ in range(times):
            _, stream = await connector.tcp_connect(host, server.address, server.port)
            streams.append(await session.handshake(stream, host, server.address, server.port, host))
        for stream in streams:
            if stream is not None:
                await stream.aclose()
        return streams

    return observations, asyncio.run(main())


def test_a_healthy_handshake_records_the_leaf_key_a_complete_chain_and_the_root_s_origin(ca):
    authority, path = ca
    server = TlsServer(served_context(authority))
    try:
        observations, streams = handshake(Connector(None, None, 2.0, ca_file=str(path)), server)
    finally:
        server.close()
    [tls] = observations["tls"]
    assert streams[0] is not None and tls["verified"] and tls["failure"] is None
    assert tls["chain_complete"] is True and tls["root_store"] == CA_FILE
    leaf = x509.load_pem_x509_certificate(authority.issue_cert(HOST).cert_chain_pems[0].bytes())
    assert len(tls["peer_chain"][0]["spki_sha256"]) == 64
    assert tls["peer_chain"][0]["issuer"] == leaf.issuer.rfc4514_string()
    # Nothing else on the healthy path: one connection, one handshake, no retry, no fetch.
    assert "tcp" not in observations and "aia" not in observations and server.names == [HOST]


@pytest.mark.parametrize("closes, neutral_passes", [
    (lambda sni: sni == HOST, True),  # a censor filtering the name
    (lambda sni: True, False),  # a server refusing every ClientHello
], ids=["filtered_by_name", "server_closes_every_clienthello"])
def test_a_failure_after_the_clienthello_is_retried_once_with_the_neutral_name(ca, closes, neutral_passes):
    authority, path = ca
    server = TlsServer(served_context(authority), closes)
    try:
        observations, streams = handshake(Connector(None, None, 2.0, ca_file=str(path)), server, times=2)
    finally:
        server.close()
    assert streams == [None, None]
    own = [t for t in observations["tls"] if "purpose" not in t]
    neutral = [t for t in observations["tls"] if t.get("purpose") == "neutral_sni"]
    confirm = [t for t in observations["tls"] if t.get("purpose") == "sni_confirm"]
    assert [t["failure"] for t in own] == ["eof_error", "eof_error"]
    assert len(neutral) == 1, "once per address, however many handshakes failed there"
    assert neutral[0]["sni"] == limits.NEUTRAL_SNI and neutral[0]["address"] == server.address
    assert neutral[0]["handshake_completed"] is neutral_passes and neutral[0]["verified"] is False
    # The real name once more only when the neutral name was answered: it fails again here.
    assert [(t["sni"], t["failure"]) for t in confirm] == ([(HOST, "eof_error")] if neutral_passes else [])
    assert [t.get("purpose") for t in observations["tcp"]] == (
        ["neutral_sni", "sni_confirm"] if neutral_passes else ["neutral_sni"])
    expected = [HOST, limits.NEUTRAL_SNI, *([HOST] if neutral_passes else []), HOST]
    assert sorted(map(str, server.names)) == sorted(expected)


def test_a_real_name_that_fails_once_is_tried_again_after_the_neutral_name_and_handed_on(ca):
    authority, path = ca
    closed: list[str] = []

    def closes_once(sni):  # a flaky server: the first ClientHello is closed, then all is well
        if closed:
            return False
        closed.append(sni)
        return True

    server = TlsServer(served_context(authority), closes_once)
    try:
        observations, streams = handshake(Connector(None, None, 2.0, ca_file=str(path)), server)
    finally:
        server.close()
    assert streams[0] is not None, "the second try with the real name is handed on to HTTP"
    assert [(t.get("purpose"), t["sni"], t["failure"], t["verified"]) for t in observations["tls"]] == [
        (None, HOST, "eof_error", False), ("neutral_sni", limits.NEUTRAL_SNI, None, False),
        ("sni_confirm", HOST, None, True)]
    assert server.names == [HOST, limits.NEUTRAL_SNI, HOST]


def test_a_slow_validated_handshake_is_followed_by_one_neutral_name_handshake(ca, monkeypatch):
    authority, path = ca
    monkeypatch.setattr(limits, "SLOW_HANDSHAKE_CHECK_MS", 150.0)
    server = TlsServer(served_context(authority), delay_s=0.2)
    try:
        observations, streams = handshake(Connector(None, None, 2.0, ca_file=str(path)), server, times=2)
    finally:
        server.close()
    assert all(s is not None for s in streams)
    checks = [t for t in observations["tls"] if t.get("purpose") == "slow_check"]
    assert len(checks) == 1, "once per address"
    assert checks[0]["sni"] == limits.NEUTRAL_SNI and checks[0]["handshake_completed"]
    assert checks[0]["duration_ms"] >= 150.0, "the server is slow for the neutral name too"
    assert [t.get("purpose") for t in observations["tcp"]] == ["slow_check"]
    assert sorted(map(str, server.names)) == sorted([HOST, HOST, limits.NEUTRAL_SNI])


def test_the_probe_checks_slow_handshakes_from_where_the_analysis_calls_them_slow():
    assert limits.SLOW_HANDSHAKE_CHECK_MS == thresholds.SLOW_HANDSHAKE_MIN_MS


def test_a_certificate_failure_is_not_split_but_its_neutral_chain_is_checked_for_trust_once(ca):
    authority, _ = ca
    server = TlsServer(served_context(authority))
    try:
        observations, _ = handshake(Connector(None, None, 2.0), server, times=2)  # the CA is not trusted
    finally:
        server.close()
    own = [t for t in observations["tls"] if "purpose" not in t]
    assert [t["failure"] for t in own] == ["ssl_unknown_authority"] * 2 and own[0]["handshake_completed"]
    assert own[0]["chain_complete"] is False  # the leaf's issuer is neither sent nor trusted here
    assert "ca_issuers" not in own[0]["peer_chain"][0]  # trustme names no AIA: nothing to fetch
    # No SNI split (the server answered); one trust check of a neutral name's chain per address:
    # the server's own chain, untrusted here too.
    [check] = [t for t in observations["tls"] if t.get("purpose") == "cert_check"]
    assert (check["sni"], check["failure"], check["handshake_completed"], check["verified"]) == (
        limits.NEUTRAL_SNI, "ssl_unknown_authority", True, False)
    assert "aia" not in observations and [t.get("purpose") for t in observations["tcp"]] == ["cert_check"]


def test_a_chain_replaced_for_the_name_only_shows_in_the_neutral_name_s_trusted_chain(ca, tmp_path):
    """An interceptor that picks names: the name gets a forged chain from a root not trusted here,
    a neutral name passes to the server, whose own chain is trusted."""
    authority, path = ca
    forged = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA(organization_name="Interceptor").issue_cert(HOST).configure_cert(forged)
    real = served_context(authority, limits.NEUTRAL_SNI)

    def by_name(sock, name, _context):
        sock.context = forged if name == HOST else real

    real.sni_callback = by_name
    server = TlsServer(real)
    try:
        observations, streams = handshake(Connector(None, None, 2.0, ca_file=str(path)), server)
    finally:
        server.close()
    assert streams == [None]
    own, check = observations["tls"]
    assert own["failure"] == "ssl_unknown_authority" and "Interceptor" in own["peer_chain"][0]["issuer"]
    assert check["purpose"] == "cert_check" and check["verified"] and check["root_store"] == CA_FILE
    assert check["peer_chain"][0]["issuer"] != own["peer_chain"][0]["issuer"]


@pytest.fixture()
def incomplete_site(tmp_path):
    """A server sending its leaf alone; its AIA names a loopback URL publishing the intermediate."""
    factory = CertificateFactory(tmp_path)
    aia = FileServer(b"")
    pair = factory.leaf(HOST, "no_intermediate_aia", f"http://127.0.0.1:{aia.port}/{INTERMEDIATE_FILE}")
    aia.body = (tmp_path / INTERMEDIATE_FILE).read_bytes()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.chain, pair.key)
    server = TlsServer(context)
    yield factory, server, aia
    server.close()
    aia.listener.close()


def test_an_incomplete_chain_is_completed_through_aia_and_handed_on(incomplete_site):
    factory, server, aia = incomplete_site
    connector = Connector(None, None, 2.0, ca_file=str(factory.ca_file))
    observations, streams = handshake(connector, server, times=2)
    assert streams[0] is not None and streams[1] is not None
    first, completed, later = observations["tls"]
    assert first["failure"] == "ssl_unknown_authority" and first["chain_complete"] is False
    assert completed["verified"] and completed["intermediates_fetched"] == [
        hashlib.sha256(aia.body).hexdigest()] and completed["root_store"] == CA_FILE
    # Later connections to the host verify with the fetched intermediate at once.
    assert later["verified"] and later["intermediates_fetched"] == completed["intermediates_fetched"]
    [fetch] = observations["aia"]
    assert fetch["status"] == 200 and fetch["address"] == "127.0.0.1" and fetch["failure"] is None
    assert fetch["certificates"][0]["subject"] == "CN=kzprobe lab Issuing CA" and aia.requests == 1


def test_an_aia_reply_past_its_bound_is_not_used(incomplete_site):
    factory, server, aia = incomplete_site
    aia.body = b"\x30" * (limits.AIA_MAX_BYTES + 1)
    observations, streams = handshake(Connector(None, None, 2.0, ca_file=str(factory.ca_file)), server)
    assert streams == [None]
    [fetch] = observations["aia"]
    assert fetch["failure"] == "body_too_large" and fetch["certificates"] == []
    # No second handshake with the real name without an intermediate; only the neutral trust check.
    assert [t.get("purpose") for t in observations["tls"]] == [None, "cert_check"]


def interceptor_leaf_naming_its_root(directory: Path, aia_url: str) -> tuple[Path, Path, bytes]:
    """(chain, key, root DER): a leaf issued straight by an untrusted root, its AIA naming that root."""
    import datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Interceptor Root")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name).public_key(root_key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
            .issuer_name(root_name).public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(aia_url))]), critical=False)
            .sign(root_key, hashes.SHA256()))
    chain, key = directory / "forged.pem", directory / "forged.key"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return chain, key, root.public_bytes(serialization.Encoding.DER)


def test_a_root_fetched_through_aia_is_never_trusted(tmp_path, ca):
    """An interceptor naming its own root in AIA must not make its chain validate."""
    _, path = ca
    aia = FileServer(b"")
    chain, key, root = interceptor_leaf_naming_its_root(tmp_path, f"http://127.0.0.1:{aia.port}/root.der")
    aia.body = root
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    server = TlsServer(context)
    try:
        observations, streams = handshake(Connector(None, None, 2.0, ca_file=str(path)), server)
    finally:
        server.close()
        aia.listener.close()
    assert streams == [None] and aia.requests == 1
    assert observations["aia"][0]["certificates"][0]["subject"] == "CN=Interceptor Root"
    assert [t["verified"] for t in observations["tls"]] == [False, False]  # the name's, the neutral trust check's


def test_certificates_in_reads_der_pem_and_pkcs7(ca):
    authority, _ = ca
    pem = authority.cert_pem.bytes()
    cert = x509.load_pem_x509_certificate(pem)
    der = cert.public_bytes(serialization.Encoding.DER)
    bundle = pkcs7.serialize_certificates([cert], serialization.Encoding.DER)
    for body in (der, pem, bundle, pkcs7.serialize_certificates([cert], serialization.Encoding.PEM)):
        assert certificates_in(body) == [der]
    assert certificates_in(b"<html>not a certificate</html>") == []


def test_root_origins_tell_public_ca_file_and_installed_roots_apart(ca, tmp_path):
    authority, path = ca
    origins = RootOrigins(str(path))
    text = certifi.contents()
    first = text[text.index("-----BEGIN CERTIFICATE-----"):text.index("-----END CERTIFICATE-----")]
    public_root = ssl.PEM_cert_to_DER_cert(first + "-----END CERTIFICATE-----\n")
    installed = CertificateFactory(tmp_path).ca_file.read_bytes()
    assert origins.origin(public_root) == PUBLIC
    assert origins.origin(ssl.PEM_cert_to_DER_cert(authority.cert_pem.bytes().decode())) == CA_FILE
    assert origins.origin(ssl.PEM_cert_to_DER_cert(installed.decode())) == SYSTEM_ONLY


# -- the control resolver's addresses, after a failure only


class Resolver:
    def __init__(self, name: str, addresses: list[str]) -> None:
        self.name, self.addresses = name, addresses

    async def lookup(self, hostname: str) -> dict:
        return {"hostname": hostname, "resolver": self.name, "addresses": self.addresses, "failure": None,
                "queries": [], "duration_ms": 1.0}


def measured(connector: Connector, local: list[str], control: list[str], port: int) -> dict:
    kit = ProbeKit(dns=Resolver("isp", local), control_dns=Resolver("control", control),  # type: ignore[arg-type]
                   connector=connector, scrub=Scrubber(set()), timeout=2.0)
    target = SimpleNamespace(hostname=HOST, port=port, scheme="https", url=f"https://{HOST}:{port}/", download=None)
    observations: dict = {}
    asyncio.run(measure_web_target(kit, target, observations))
    return observations


@pytest.fixture()
def site(ca):
    authority, path = ca
    servers = LoopbackServers("127.0.0.1", DnsTable(), lambda host, p: (200, {}, b"<title>news</title>"),
                              served_context(authority))
    with servers:
        yield Connector(None, None, 2.0, ca_file=str(path)), servers.https_port


def test_a_site_that_works_is_not_tried_at_the_control_s_addresses(site):
    connector, port = site
    observations = measured(connector, ["127.0.0.1"], ["127.0.0.2"], port)  # a CDN answering by region
    assert observations["http"][-1]["status"] == 200
    assert [t.get("purpose") for t in observations["tcp"] + observations["tls"]] == [None, None]


def test_a_failure_with_another_answer_is_tried_at_the_control_s_addresses(site):
    connector, port = site
    observations = measured(connector, ["127.0.0.3"], ["127.0.0.1"], port)  # nothing listens on .3
    extra = [t for t in observations["tcp"] if t.get("purpose") == "control_address"]
    assert [t["address"] for t in extra] == ["127.0.0.1"] and extra[0]["failure"] is None
    [handshake_there] = [t for t in observations["tls"] if t.get("purpose") == "control_address"]
    assert handshake_there["verified"] and handshake_there["sni"] == HOST


def test_a_failure_where_the_answers_agree_tries_nothing_more(site):
    connector, port = site
    observations = measured(connector, ["127.0.0.3"], ["127.0.0.3"], port)
    assert not any(t.get("purpose") for t in observations["tcp"])


def test_a_root_the_operating_system_s_package_ships_is_public(tmp_path, monkeypatch):
    """Distributions keep roots Mozilla dropped, still behind real sites: public, not installed."""
    from kzprobe.probes import trust

    shipped = CertificateFactory(tmp_path / "shipped").ca_file
    package = tmp_path / "mozilla"
    package.mkdir()
    (package / "Old_Root.crt").write_bytes(shipped.read_bytes())
    monkeypatch.setattr(trust, "OS_PUBLIC_ROOT_LOCATIONS", (str(package),))
    added_by_someone = CertificateFactory(tmp_path / "added").ca_file
    origins = RootOrigins(None)
    assert origins.origin(ssl.PEM_cert_to_DER_cert(shipped.read_text())) == PUBLIC
    assert origins.origin(ssl.PEM_cert_to_DER_cert(added_by_someone.read_text())) == SYSTEM_ONLY
