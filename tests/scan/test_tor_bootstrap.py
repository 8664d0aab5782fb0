"""The tor bootstrap beside a scan (scan/tor_bootstrap.py) and its options: bridges taken from the
targets, the test-only torrc file, the run in its thread, and what the CLI says and refuses. The
bootstrap with tor itself is in tests/probes/test_tor_bootstrap.py and tests/lab/."""

from __future__ import annotations

from pathlib import Path

import pytest

from kzprobe.errors import ExitCode
from kzprobe.scan.tor_bootstrap import TORRC_ENV, TorBootstrapRun, scan_bridges, torrc_addition
from kzprobe.targets import Endpoint, Target, bundled_target_files, load_targets
from tests.support.reports import cli

CERT = "bjRaMrr1BRiAW8IE9U5z27fQaYgOhX1UCmOpg2pFpoMvo6ZgQMzLsaTzzQNTlm7hNcb+Sg"


def test_the_bundled_tor_targets_default_bridges_are_the_bootstraps():
    bridges = scan_bridges(load_targets(bundled_target_files()))
    assert len(bridges) == 11
    assert bridges[0].line() == (
        "obfs4 192.95.36.142:443 CDF2E852BF539B82BD10E27E9115A31734E378C2 "
        "cert=qUVQ0srL1JI/vO6V6m/24anYXiJD3QP2HgzUKQtQ7GRqqUvs7P+tG43RtAqdhLOALP7DJQ iat-mode=0")


def test_bridges_are_the_obfs4_endpoints_with_a_cert_at_an_address_each_once():
    bridge = Endpoint("88.198.255.106", 4443, kind="obfs4", role="bridge", cert=CERT)
    targets = [Target(id="a", url=None, endpoints=(bridge, Endpoint("88.198.255.107", 443, kind="obfs4"),
                                                   Endpoint("88.198.255.101", 443, kind="tor_or"),
                                                   Endpoint("bridge.kzlab.test", 443, kind="obfs4", cert=CERT))),
               Target(id="b", url=None, endpoints=(bridge,))]
    assert [b.line() for b in scan_bridges(targets)] == [f"obfs4 88.198.255.106:4443 cert={CERT} iat-mode=0"]


def test_the_test_only_torrc_comes_from_its_file(tmp_path):
    assert torrc_addition({}) == ""
    lines = tmp_path / "network.torrc"
    lines.write_text("TestingTorNetwork 1\n")
    assert torrc_addition({TORRC_ENV: str(lines)}) == "TestingTorNetwork 1\n"
    with pytest.raises(ValueError, match="cannot read"):
        torrc_addition({TORRC_ENV: str(tmp_path / "missing")})
    lines.write_bytes(b"#" * (64 * 1024 + 1))
    with pytest.raises(ValueError, match="over 64 KB"):
        torrc_addition({TORRC_ENV: str(lines)})


def test_without_tor_the_run_gives_a_result_that_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    run = TorBootstrapRun(60.0, [], scrub=lambda result: {**result, "scrubbed_by": "the scan"})
    run.start()
    result = run.wait()
    assert result is not None and result["scrubbed_by"] == "the scan"
    assert result["target"] == {"id": "tor-bootstrap", "name": "Tor bootstrap (the tor daemon)", "category": "ANON"}
    record = result["observations"]["tor_bootstrap"]
    assert [a["ended"] for a in record["attempts"]] == ["not_run", "not_run"] and record["timeout_s"] == 60.0


def test_a_run_stopped_before_it_starts_gives_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    run = TorBootstrapRun(60.0, [], scrub=lambda result: result)
    run.stop()
    run.start()
    assert run.wait() is None


def _targets(tmp_path: Path, ident: str = "local-site") -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(f"targets:\n  - {{id: {ident}, url: 'http://127.0.0.2:9/'}}\n")
    return path


def test_the_option_says_what_it_reaches():
    assert "relays beyond the listed endpoints" in " ".join(cli("scan", "--help").stdout.split())


def test_a_dry_run_says_the_bootstrap_would_run(tmp_path):
    got = cli("scan", "--dry-run", "--targets", _targets(tmp_path), "--tor-bootstrap", "--tor-bootstrap-timeout", 40)
    assert got.exit_code == 0
    assert "and the tor daemon bootstrapped (up to 40 s)" in got.stderr


def test_a_target_may_not_take_the_bootstraps_id(tmp_path):
    got = cli("scan", "--targets", _targets(tmp_path, "tor-bootstrap"), "--tor-bootstrap", "--no-geo",
              "--control-resolver", "none", "--output-dir", tmp_path / "out")
    assert got.exit_code == ExitCode.BAD_INPUT
    assert "target id 'tor-bootstrap' is the --tor-bootstrap result's own" in got.stderr
    assert not (tmp_path / "out").exists()


def test_an_unreadable_test_torrc_stops_the_scan_before_its_journal(tmp_path, monkeypatch):
    monkeypatch.setenv(TORRC_ENV, str(tmp_path / "missing.torrc"))
    got = cli("scan", "--targets", _targets(tmp_path), "--tor-bootstrap", "--no-geo", "--control-resolver", "none",
              "--output-dir", tmp_path / "out")
    assert got.exit_code == ExitCode.BAD_INPUT and f"{TORRC_ENV}: cannot read" in got.stderr
    assert not list((tmp_path / "out").glob("*.journal.jsonl"))
