"""End to end in the lab: `kzprobe scan --tor-bootstrap` with the real tor daemon.

A private Tor network (tests/support/tor_network.py: three authorities, two relays, an obfs4
bridge, real tor processes) runs in the lab's outside namespace, where the control scan
bootstraps from it to 100 %, directly and through the bridge. The inside namespace (the censored
ISP) reaches the bridge over a link of its own, while every other address of the network is
routed to the lab's drop link (silence) - or, for the refusal rows, the authorities are at an
address of the vantage's own where nothing listens (RST). Every scan gets the network's
DirAuthority lines through the test-only KZPROBE_TOR_TORRC, so tor reaches lab addresses and
nothing else. Skipped without tor, tor-gencert and obfs4proxy (CI installs them, .ci/run), and
without root's named namespaces (the link between two of them).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kzprobe.errors import ExitCode
from kzprobe.lab import SCENARIOS, Lab, availability
from kzprobe.lab import addresses as a
from kzprobe.lab.netns import backend_name
from kzprobe.probes.tor_bootstrap import sweep_orphaned_directories
from kzprobe.scan.tor_bootstrap import TORRC_ENV
from tests.support.tor_network import (
    BRIDGE,
    NETWORK_CIDR,
    PrivateTorNetwork,
    processes_mentioning,
    program,
    tor_programs_missing,
    wait_for_processes,
)

UNAVAILABLE = availability() or tor_programs_missing() or (
    None if backend_name(None) == "ip" else "needs root's named network namespaces (a link joins two of them)")
pytestmark = [pytest.mark.lab, pytest.mark.skipif(UNAVAILABLE is not None, reason=f"{UNAVAILABLE}")]

BASELINES = tuple(s for s in SCENARIOS if s.id.startswith("baseline-"))
# The vantage's own address, on its drop link: tor told to use it as authority is refused (RST),
# and names it in its warnings, which the scan must scrub.
OWN_ADDRESS = "95.56.7.8"
# Authorities and fallback relays, as tor's defaults have both: tor asks each kind on a schedule
# of its own, backing off exponentially with jitter after each refusal; its tenth refusal, and
# with it its warning, came 10 to 34 s after the start in eight runs on this lab.
REFUSING = "".join(f"DirAuthority r{n} orport={442 + n} no-v2 v3ident={n:040d} {OWN_ADDRESS}:{79 + n} {n:040d}\n"
                   for n in (1, 2, 3)) + "".join(
    f"FallbackDir {OWN_ADDRESS}:{79 + n} orport={442 + n} id={n:040d}\n" for n in (4, 5, 6))
# The silent rows' bound: stuck at 5 % from the first second, ended by the bound. The control's
# bootstrap is compared only when it took at most half of it (TOR_BOOTSTRAP_CONTROL_SHARE): 3-6 s
# here, 12 s on a machine shared with two test suites. The refusal row runs as long anyway.
BOUND_S = 32
REFUSED_BOUND_S = 120  # the refusal row's: it ends before, on tor's own warning


@dataclass
class TorLab:
    lab: Lab
    directory: Path
    targets_with_bridge: Path
    network_torrc: Path
    refusing_torrc: Path

    def scan(self, name: str, role: str, *extra: str, torrc: Path | None = None, targets: Path | None = None,
             env: dict[str, str] | None = None) -> subprocess.Popen:
        output = self.directory / name / "report.json"
        output.parent.mkdir()
        argv = [sys.executable, "-m", "kzprobe", "scan", "--targets", str(targets or self.lab.targets_file),
                "--ca-file", str(self.lab.ca_file), "--timeout", "2.5", "--no-geo", "--vantage", name,
                "--control-resolver", "none", "--output", str(output), "--tor-bootstrap", *extra]
        settings = {TORRC_ENV: str(torrc or self.network_torrc), **(env or {})}
        return self.lab.popen(role, argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=self.lab.env(settings))

    def report(self, name: str) -> dict:
        return json.loads((self.directory / name / "report.json").read_text())


def _link_inside_to_the_bridge(lab: Lab) -> None:
    """A link from the inside namespace to the outside one that carries the bridge's address
    only; the rest of the private network goes to the inside's drop link (silence)."""
    outside, inside = lab.namespaces["outside"].name, lab.namespaces["inside"].name
    subprocess.run(["ip", "link", "add", "kztor0", "netns", outside, "type", "veth", "peer", "name", "kztor1",
                    "netns", inside], check=True)
    for role, commands in (
        ("outside", ["addr add 169.254.90.1/30 dev kztor0", "link set kztor0 up"]),
        ("inside", ["addr add 169.254.90.2/30 dev kztor1", "link set kztor1 up",
                    f"route add {BRIDGE}/32 via 169.254.90.1 dev kztor1",
                    f"route add {NETWORK_CIDR} via {a.DROP_GATEWAY_V4} dev kzdrop0 onlink",
                    f"addr add {OWN_ADDRESS}/32 dev kzdrop0"]),
    ):
        subprocess.run(lab.command(role, ["ip", "-batch", "-"]), input="\n".join(commands) + "\n", text=True,
                       check=True)


@pytest.fixture(scope="module")
def tor_lab(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tor-lab")
    guard_log = directory / "guard.log"
    with Lab(BASELINES, env={"KZPROBE_GUARD_LOG": str(guard_log)}) as lab:
        network = PrivateTorNetwork(directory / "network", lambda argv: lab.command("outside", argv), lab.env())
        try:
            network.start()
            _link_inside_to_the_bridge(lab)
            bridge = network.bridge
            assert bridge is not None
            listed = yaml.safe_load(lab.targets_file.read_text())
            listed["targets"].append({"id": "private-tor", "name": "the lab's private Tor network", "endpoints": [
                {"host": bridge.address, "port": bridge.port, "kind": "obfs4", "role": "bridge",
                 "fingerprint": bridge.fingerprint, "cert": bridge.cert}]})
            targets = directory / "targets-with-bridge.yaml"
            targets.write_text(yaml.safe_dump(listed, sort_keys=False))
            (directory / "network.torrc").write_text(network.client_torrc())
            (directory / "refusing.torrc").write_text(REFUSING)
            yield TorLab(lab, directory, targets, directory / "network.torrc", directory / "refusing.torrc")
        finally:
            network.close()
    assert not guard_log.exists() or not guard_log.read_text().strip(), guard_log.read_text()


@pytest.fixture(scope="module")
def reports(tor_lab):
    """The control scan outside, then five scans inside at once."""
    control = tor_lab.scan("outside", "outside", "--tor-bootstrap-timeout", "40", targets=tor_lab.targets_with_bridge)
    assert control.wait(120) == 0, control.stderr.read()
    control_file = str(tor_lab.directory / "outside" / "report.json")
    no_tor_path = tor_lab.directory / "bin"
    no_tor_path.mkdir()
    (no_tor_path / "ip").symlink_to(subprocess.run(["which", "ip"], capture_output=True, text=True).stdout.strip())
    started = time.monotonic()
    scans = {
        "blocked": tor_lab.scan("blocked", "inside", "--control", control_file, "--tor-bootstrap-timeout",
                                str(BOUND_S), targets=tor_lab.targets_with_bridge),
        "no-control": tor_lab.scan("no-control", "inside", "--tor-bootstrap-timeout", str(BOUND_S)),
        "refused": tor_lab.scan("refused", "inside", "--tor-bootstrap-timeout", str(REFUSED_BOUND_S),
                                torrc=tor_lab.refusing_torrc),
        "no-tor": tor_lab.scan("no-tor", "inside", env={"PATH": str(no_tor_path)}),
        "processes": tor_lab.scan("processes", "inside", "--control", control_file, "--processes", "2",
                                  "--tor-bootstrap-timeout", str(BOUND_S), targets=tor_lab.targets_with_bridge),
    }
    for name, scan in scans.items():
        assert scan.wait(180) == 0, (name, scan.stderr.read())
    return {"outside": tor_lab.report("outside"), **{name: tor_lab.report(name) for name in scans},
            "inside_s": time.monotonic() - started}


def _bootstrap(report: dict) -> dict:
    return next(r for r in report["results"] if r["target"]["id"] == "tor-bootstrap")


def _attempt(result: dict, path: str) -> dict:
    return next(a for a in result["observations"]["tor_bootstrap"]["attempts"] if a["path"] == path)


def test_the_control_bootstraps_the_private_network_directly_and_through_the_bridge(reports):
    result = _bootstrap(reports["outside"])
    assert (result["verdict"], result["parts"]) == ("reachable", {"direct": "ok", "obfs4": "ok"}), result["explanation"]
    direct, bridged = _attempt(result, "direct"), _attempt(result, "obfs4")
    assert (direct["progress"], direct["tag"], direct["ended"]) == (100, "done", "done")
    assert (bridged["progress"], bridged["client"], bridged["bridges"]) == (100, "obfs4proxy", 1)
    assert result["observations"]["tor_bootstrap"]["tor_version"]


def test_authorities_silent_inside_while_the_control_bootstrapped_is_blocked_the_bridge_named_as_the_way_around(
        reports):
    result = _bootstrap(reports["blocked"])
    assert (result["verdict"], result["blocking"], result["evidence"]) == ("blocked", "tcp", ["tor.bootstrap_stuck"])
    assert result["parts"] == {"direct": "blocked", "obfs4": "ok"}
    assert result["explanation"].startswith("Tor bootstrap partly blocked at tcp: the direct bootstrap stopped at 5 %")
    assert "the way around works" in result["explanation"]
    direct = _attempt(result, "direct")
    # Silence gives tor nothing to report: it waits, and the bound ends it.
    assert (direct["progress"], direct["tag"], direct["ended"]) == (5, "conn", "timeout")
    assert direct["duration_ms"] >= BOUND_S * 1000
    assert result["control"]["usable"] is True


def test_a_scan_in_measuring_processes_bootstraps_beside_them_alike(reports):
    report = reports["processes"]
    assert report["settings"]["processes"] == 2 and report["complete"] is True
    result = _bootstrap(report)
    assert (result["verdict"], result["blocking"], result["parts"]) == (
        "blocked", "tcp", {"direct": "blocked", "obfs4": "ok"}), result["explanation"]


def test_without_a_control_a_stuck_bootstrap_is_unclear_never_blocked(reports):
    result = _bootstrap(reports["no-control"])
    assert (result["verdict"], result["evidence"]) == ("inconclusive", ["tor.bootstrap_stuck", "control.missing"])
    assert result["parts"] == {"direct": "inconclusive", "obfs4": "untested"}
    assert _attempt(result, "obfs4")["detail"] == "no obfs4 bridges among the scan's targets"


def test_authorities_refusing_end_the_bootstrap_on_tors_own_warning_long_before_its_bound(reports):
    result = _bootstrap(reports["refused"])
    direct = _attempt(result, "direct")
    assert direct["ended"] == "stuck" and direct["problem"]["reason"] == "CONNECTREFUSED"
    assert direct["problem"]["recommendation"] == "warn" and direct["duration_ms"] < REFUSED_BOUND_S * 1000
    assert (result["verdict"], result["evidence"]) == ("inconclusive", ["tor.bootstrap_stuck", "control.missing"])


def test_tors_warnings_are_scrubbed_of_the_vantages_own_address(reports):
    result = _bootstrap(reports["refused"])
    warnings = " ".join(_attempt(result, "direct")["warnings"])
    assert "Problem bootstrapping" in warnings and "at [scrubbed]:" in warnings
    assert result["scrubbed"] >= 1
    assert OWN_ADDRESS not in json.dumps(reports["refused"])


def test_without_tor_on_the_path_the_bootstrap_is_recorded_as_not_run(reports):
    result = _bootstrap(reports["no-tor"])
    assert (result["verdict"], result["evidence"], result["parts"]) == (
        "inconclusive", ["tor.not_run"], {"direct": "untested", "obfs4": "untested"})
    assert result["explanation"] == ("Tor bootstrap not measured: no tor executable on the PATH "
                                     "(Debian: apt install tor).")
    assert reports["no-tor"]["complete"] is True


def test_the_bootstrap_runs_beside_the_scan_not_after_it(reports):
    # The inside scans ran at once; the longest is the refusal row, ended by tor's warning.
    assert reports["inside_s"] < REFUSED_BOUND_S
    for name in ("blocked", "no-control"):
        report = reports[name]
        bootstrap = _bootstrap(report)
        others = [r for r in report["results"] if r is not bootstrap]
        # Every other target finished while tor was still waiting out its bound.
        assert max(r["duration_ms"] for r in others) < bootstrap["duration_ms"]


@pytest.mark.parametrize("signum, exit_code", [
    (signal.SIGTERM, ExitCode.INTERRUPTED), (signal.SIGINT, ExitCode.INTERRUPTED), (signal.SIGKILL, -signal.SIGKILL),
], ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_no_tor_outlives_a_stopped_or_killed_scan(tor_lab, tmp_path, signum, exit_code):
    own_tmp = tmp_path / "scan-tmp"
    own_tmp.mkdir()
    scan = tor_lab.scan(f"killed-{signum}", "inside", "--tor-bootstrap-timeout", "120",
                        targets=tor_lab.targets_with_bridge, env={"TMPDIR": str(own_tmp)})
    # Two tors (direct, and through the bridge) and the second's obfs4 client, in its process group.
    running = wait_for_processes(str(own_tmp), ["tor", "tor", "obfs4proxy"])
    assert sorted(program(command) for pid, command in running if pid != scan.pid) == [
        "obfs4proxy", "tor", "tor"], running
    scan.send_signal(signum)
    assert scan.wait(30) == exit_code, scan.stderr.read()
    deadline = time.monotonic() + 5
    while processes_mentioning(str(own_tmp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(own_tmp)) == []
    if signum == signal.SIGKILL:  # a killed scan cannot remove tor's directories: the next attempt does
        assert len(list(own_tmp.glob("kzprobe-tor-*"))) == 2
        assert len(sweep_orphaned_directories(str(own_tmp))) == 2
    assert not list(own_tmp.glob("kzprobe-tor-*"))
    if signum != signal.SIGKILL:
        report = json.loads((tor_lab.directory / f"killed-{signum}" / "report.json").read_text())
        assert report["complete"] is False and "tor-bootstrap" not in {r["target"]["id"] for r in report["results"]}
