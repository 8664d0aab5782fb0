"""Endpoint kinds in target files (tor_or, tor_dir, obfs4) and the bundled Tor list."""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

import pytest

from kzprobe.targets import TargetFileError, bundled_target_files, load_targets

CERT = "qUVQ0srL1JI/vO6V6m/24anYXiJD3QP2HgzUKQtQ7GRqqUvs7P+tG43RtAqdhLOALP7DJQ"
FINGERPRINT = "CDF2E852BF539B82BD10E27E9115A31734E378C2"


def _load(tmp_path: Path, endpoint: str):
    path = tmp_path / "list.yaml"
    path.write_text(textwrap.dedent(f"- id: svc\n  endpoints: [{endpoint}]\n"), encoding="utf-8")
    return load_targets([path])


@pytest.mark.parametrize("endpoint, kind, tls", [
    ("{host: 192.0.2.1, port: 443, kind: tor_or}", "tor_or", True),
    ("{host: 192.0.2.1, port: 80, kind: tor_dir, fingerprint: " + FINGERPRINT + "}", "tor_dir", False),
    ("{host: 192.0.2.1, port: 443, kind: obfs4, cert: '" + CERT + "'}", "obfs4", False),
    ("{host: 192.0.2.1, port: 443}", None, False),
], ids=["or-port-is-tls", "directory", "bridge", "no-kind"])
def test_endpoint_kinds_load(tmp_path: Path, endpoint: str, kind: str | None, tls: bool) -> None:
    [target] = _load(tmp_path, endpoint)
    assert (target.endpoints[0].kind, target.endpoints[0].tls) == (kind, tls)
    assert target.to_dict()["endpoints"][0].get("kind") == kind


@pytest.mark.parametrize("endpoint, field, message", [
    ("{host: 192.0.2.1, port: 443, kind: tor}", "endpoints[1].kind", "not one of"),
    ("{host: 192.0.2.1, port: 443, kind: tor_or, sni: www.x.com}", "endpoints[1].kind", "takes no 'ca' or 'sni'"),
    ("{host: 192.0.2.1, port: 80, kind: tor_dir, tls: true}", "endpoints[1].tls", "must not be true"),
    ("{host: 192.0.2.1, port: 443, cert: '" + CERT + "'}", "endpoints[1].cert", "only for kind 'obfs4'"),
    ("{host: 192.0.2.1, port: 443, kind: obfs4, cert: 'short'}", "endpoints[1].cert", "base64"),
    ('{host: 192.0.2.1, port: 443, kind: obfs4, cert: "' + CERT + '\\nSocksPort 9050"}', "endpoints[1].cert",
     "base64"),
    ('{host: 192.0.2.1, port: 443, kind: obfs4, cert: "' + CERT + '\\n"}', "endpoints[1].cert", "base64"),
    ("{host: 192.0.2.1, port: 443, kind: tor_or, fingerprint: abc}", "endpoints[1].fingerprint", "40 upper-case"),
    ("{host: 192.0.2.1, port: 443, fingerprint: " + FINGERPRINT + "}", "endpoints[1].fingerprint", "Tor kind"),
], ids=["unknown-kind", "or-port-with-sni", "directory-with-tls", "cert-without-obfs4", "bad-cert",
        "cert-with-a-torrc-line", "cert-with-a-final-newline", "bad-fingerprint", "fingerprint-without-kind"])
def test_endpoint_kind_problems(tmp_path: Path, endpoint: str, field: str, message: str) -> None:
    with pytest.raises(TargetFileError) as caught:
        _load(tmp_path, endpoint)
    [problem] = caught.value.problems
    assert problem.field == field and message in problem.message


def test_the_bundled_tor_list_is_authorities_and_bridges_by_address() -> None:
    [path] = [p for p in bundled_target_files() if p.name == "tor.yaml"]
    [target] = load_targets([path], strict=True)
    assert (target.id, target.category, target.url) == ("tor", "ANON", None)
    kinds = [e.kind for e in target.endpoints]
    # Eight v3 directory authorities, each an OR port and a directory port; Tor Browser's obfs4 bridges.
    assert (kinds.count("tor_or"), kinds.count("tor_dir"), kinds.count("obfs4")) == (8, 8, 11)
    assert all(ipaddress.ip_address(e.host).version == 4 for e in target.endpoints)
    assert all(e.fingerprint for e in target.endpoints)
    assert all(e.cert for e in target.endpoints if e.kind == "obfs4")
    for kind in ("tor_or", "tor_dir"):  # every authority has both ports
        assert {e.host for e in target.endpoints if e.kind == kind} == {
            e.host for e in target.endpoints if e.kind == "tor_or"}
    documents = " ".join(str(s["document"]) for s in target.sources)
    assert "src/app/config/auth_dirs.inc" in documents and "pt_config.json" in documents
    assert "3cb6a690be60fcdab60130402ff88dcfc0657596" in documents


@pytest.mark.parametrize("entry, quic, problem", [
    ("{url: 'https://x.kz/', quic: true}", True, None),
    ("{url: 'https://x.kz/'}", False, None),
    ("{url: 'http://x.kz/', quic: true}", None, "needs an https 'url'"),
    ("{url: 'https://x.kz/', quic: 'yes'}", None, "must be true or false"),
], ids=["https", "unmarked", "plain-http", "not-a-boolean"])
def test_quic_marks_https_targets_only(tmp_path: Path, entry: str, quic: bool | None, problem: str | None) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(f"- {entry}\n", encoding="utf-8")
    if problem is None:
        [target] = load_targets([path])
        assert target.quic is quic and ("quic" in target.to_dict()) is quic
        return
    with pytest.raises(TargetFileError) as caught:
        load_targets([path])
    [found] = caught.value.problems
    assert found.field == "quic" and problem in found.message
