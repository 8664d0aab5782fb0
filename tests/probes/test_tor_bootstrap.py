"""The tor bootstrap probe with the real tor daemon, on loopback (probes/tor_bootstrap.py).

tor is given directory authorities on 127.0.0.x where nothing listens (a DirAuthority line
replaces every built-in authority and fallback relay, tor's src/app/config/config.c
consider_adding_dir_servers) and may reach loopback only (ReachableAddresses): it connects,
is refused, and never gets past 5 %. Skipped where tor is not installed (Debian: apt-get install
tor); CI installs it (.ci/run). The end-to-end tests through `kzprobe scan`, against a private
Tor network in the lab, are tests/lab/test_tor_bootstrap.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kzprobe.probes import tor_bootstrap as tb
from tests.support.tor_network import processes_mentioning, wait_for_processes

TOR = shutil.which("tor")
needs_tor = pytest.mark.skipif(TOR is None, reason="tor is not installed (Debian: apt-get install tor)")

# Authorities on loopback where nothing listens; tor may reach loopback only.
LOOPBACK_AUTHORITIES = "TestingTorNetwork 1\nReachableAddresses accept 127.0.0.0/8, reject *:*\n" + "".join(
    f"DirAuthority a{n} orport=443 no-v2 v3ident={n:040d} 127.0.0.{n + 1}:80 {n:040d}\n" for n in (1, 2, 3))


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own temporary directory for the probe's (tempfile's) directories."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def test_without_tor_on_the_path_nothing_is_run_and_the_record_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    record = asyncio.run(tb.measure_tor_bootstrap(30.0, [tb.Bridge("88.198.255.106", 443, None, "x")]))
    assert record["tor_version"] is None and record["timeout_s"] == 30.0
    assert [(a["path"], a["ended"], a["detail"]) for a in record["attempts"]] == [
        ("direct", "not_run", "no tor executable on the PATH (Debian: apt install tor)"),
        ("obfs4", "not_run", "no tor executable on the PATH (Debian: apt install tor)")]


def test_the_torrc_opens_no_port_and_keeps_everything_in_its_directory():
    bridge = tb.Bridge("88.198.255.106", 4443, "D5E19625C52612780BB3DA6AAB52BF145266D734", "Q2VydA")
    config = tb.torrc("/tmp/kzprobe-tor-x", tb.OBFS4, "DirAuthority a ...", [bridge], "/usr/bin/obfs4proxy")
    lines = config.splitlines()
    assert "SocksPort 0" in lines and not any(line.startswith(("ControlPort", "ORPort", "DNSPort")) for line in lines)
    assert "DataDirectory /tmp/kzprobe-tor-x/data" in lines
    assert f"__OwningControllerProcess {os.getpid()}" in lines
    assert "ClientTransportPlugin obfs4 exec /usr/bin/obfs4proxy" in lines and "UseBridges 1" in lines
    assert "Bridge obfs4 88.198.255.106:4443 D5E19625C52612780BB3DA6AAB52BF145266D734 cert=Q2VydA iat-mode=0" in lines
    assert lines[-1] == "DirAuthority a ..."
    forged = tb.Bridge("88.198.255.106", 4443, None, "Q2VydA\nSocksPort 9050")
    assert "SocksPort 9050" not in tb.torrc("/tmp/kzprobe-tor-x", tb.OBFS4, "", [forged], "/usr/bin/obfs4proxy")
    direct = tb.torrc("/tmp/kzprobe-tor-x", tb.DIRECT).splitlines()
    assert not any(line.startswith(("UseBridges", "Bridge ", "ClientTransportPlugin")) for line in direct)


@needs_tor
def test_a_bootstrap_that_gets_nowhere_ends_at_its_bound_and_leaves_nothing_behind(private_tmp, tmp_path,
                                                                                   monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    attempt = asyncio.run(tb.run_attempt(str(TOR), tb.DIRECT, 4.0, extra_torrc=LOOPBACK_AUTHORITIES))
    assert attempt["ended"] == "timeout" and attempt["progress"] == 5 and attempt["tag"] == "conn"
    assert attempt["summary"] == "Connecting to a relay"
    assert [p["tag"] for p in attempt["phases"]] == ["starting", "conn"]
    assert attempt["duration_ms"] >= 4000
    assert list(private_tmp.iterdir()) == []  # its directory (data, torrc) removed
    assert list(home.iterdir()) == []  # nothing in ~/.tor
    assert processes_mentioning(str(private_tmp)) == []


@needs_tor
def test_tor_refusing_its_configuration_is_recorded_as_tor_exited(private_tmp):
    # The loopback authorities too: were the option ever accepted, tor still could not leave loopback.
    refused = LOOPBACK_AUTHORITIES + "NoSuchOption 1\n"
    attempt = asyncio.run(tb.run_attempt(str(TOR), tb.DIRECT, 30.0, extra_torrc=refused))
    assert attempt["ended"] == "tor_exited" and attempt["exit_code"] not in (None, 0)
    assert attempt["progress"] is None and attempt["duration_ms"] < 30000
    assert attempt["detail"] and "NoSuchOption" in " ".join(attempt["warnings"])


@needs_tor
def test_a_cancelled_bootstrap_kills_tor(private_tmp):
    async def cancel_when_tor_runs() -> list:
        task = asyncio.create_task(tb.run_attempt(str(TOR), tb.DIRECT, 60.0, extra_torrc=LOOPBACK_AUTHORITIES))
        found = await asyncio.to_thread(wait_for_processes, str(private_tmp), ["tor"])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return found

    running = asyncio.run(cancel_when_tor_runs())
    assert any("tor" in command for _, command in running), running
    assert processes_mentioning(str(private_tmp)) == []
    assert list(private_tmp.iterdir()) == []


@needs_tor
def test_the_version_is_the_installed_tors():
    version = asyncio.run(tb.read_version(str(TOR)))
    assert version is not None and version.count(".") >= 2


def _attempt_directory(parent, name: str, owner: str | None):
    directory = parent / f"{tb.TOR_DIRECTORY_PREFIX}{name}"
    (directory / "data").mkdir(parents=True)
    if owner is not None:
        (directory / "kzprobe-owner").write_text(owner)
    return directory


def test_the_directories_of_killed_scans_are_swept_and_the_others_kept(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    me = tb._process_identity(os.getpid())
    assert me is not None and me.startswith(f"{os.getpid()} ")
    started, recycled_pid = me.split()[1], f"{os.getpid()} {int(me.split()[1]) + 1}"
    killed = _attempt_directory(tmp_path, "killed", f"{gone.pid} {started}")
    recycled = _attempt_directory(tmp_path, "recycled", recycled_pid)  # the PID now names another process
    running = _attempt_directory(tmp_path, "running", me)
    starting = _attempt_directory(tmp_path, "starting", None)
    other = tmp_path / "kzprobe-other"
    other.mkdir()
    (other / "kzprobe-owner").write_text(f"{gone.pid} {started}")
    assert sorted(tb.sweep_orphaned_directories(str(tmp_path))) == sorted([killed.name, recycled.name])
    assert not killed.exists() and not recycled.exists()
    assert running.exists() and starting.exists() and other.exists()


def test_sweeping_a_missing_directory_removes_nothing(tmp_path):
    assert tb.sweep_orphaned_directories(str(tmp_path / "absent")) == []
