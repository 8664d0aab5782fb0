"""A private Tor network for the tor bootstrap's tests, and a look for tor processes left behind.

The network is built as Tor's own test networks are (chutney, github.com/torproject/chutney:
networks/basic-min, networks/bridges-obfs4 and torrc_templates/): three directory authorities
(keys from tor-gencert), two exit relays and one obfs4 bridge (tor's BridgeRelay with obfs4proxy
as its server transport), every one a real tor process with TestingTorNetwork's fast voting,
all on lab addresses inside one of the lab's namespaces (no route out). A client given
`client_torrc()` (TestingTorNetwork and the DirAuthority lines) bootstraps from it in seconds;
the bridge's obfs4 line comes from the cert obfs4proxy writes at start-up.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Lab addresses nothing else uses: the infrastructure /24 of the lab's international pool
# (kzprobe/lab/addresses.py), .101-.106.
AUTHORITIES = ("88.198.255.101", "88.198.255.102", "88.198.255.103")
RELAYS = ("88.198.255.104", "88.198.255.105")
BRIDGE = "88.198.255.106"
NETWORK_CIDR = "88.198.255.96/28"  # all of them, for a route that drops them
OR_PORT, DIR_PORT, OBFS4_PORT = 443, 80, 4443
# How long the network may take to publish a consensus (it takes ~5 s on a quiet machine).
READY_S = 45.0

_FAST_VOTING = """TestingTorNetwork 1
PathsNeededToBuildCircuits 0.67
TestingDirAuthVoteExit *
TestingDirAuthVoteHSDir *
TestingDirAuthVoteGuard *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
SocksPort 0
ShutdownWaitLength 0
AssumeReachable 1
ContactInfo kzprobe-lab@kzlab.test
"""
_AUTHORITY = """AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval 5
TestingV3AuthInitialVoteDelay 2
TestingV3AuthInitialDistDelay 2
V3AuthVotingInterval 10
V3AuthVoteDelay 2
V3AuthDistDelay 2
ExitPolicy reject *:*
"""


def tor_programs_missing() -> str | None:
    """Why a private network cannot be built here, or None."""
    missing = [name for name in ("tor", "tor-gencert", "obfs4proxy") if shutil.which(name) is None]
    return f"not installed: {', '.join(missing)} (Debian: apt-get install tor obfs4proxy)" if missing else None


@dataclass(frozen=True)
class PrivateBridge:
    address: str
    port: int
    fingerprint: str
    cert: str


class PrivateTorNetwork:
    """Start with start(); stop with close(). `command(argv)` makes argv run inside the namespace."""

    def __init__(self, directory: Path, command: Callable[[list[str]], list[str]], env: dict[str, str]) -> None:
        self.directory = directory
        self.command = command  # argv -> argv run inside the namespace
        self.env = env
        self.processes: list[subprocess.Popen] = []
        self.authority_lines = ""
        self.bridge: PrivateBridge | None = None

    def start(self) -> None:
        for address in (*AUTHORITIES, *RELAYS, BRIDGE):
            subprocess.run(self.command(["ip", "addr", "add", f"{address}/32", "dev", "lo"]), check=True)
        nodes = [(f"auth{i}", a, "authority") for i, a in enumerate(AUTHORITIES, 1)] + \
            [(f"relay{i}", a, "relay") for i, a in enumerate(RELAYS, 1)] + [("bridge", BRIDGE, "bridge")]
        fingerprints = {name: self._identity(name, address, kind) for name, address, kind in nodes}
        self.authority_lines = "".join(
            f"DirAuthority {name} orport={OR_PORT} no-v2 v3ident={self._v3ident(name)} {address}:{DIR_PORT} "
            f"{fingerprints[name]}\n" for name, address, kind in nodes if kind == "authority")
        for name, address, kind in nodes:
            self._launch(name, address, kind)
        self.bridge = PrivateBridge(BRIDGE, OBFS4_PORT, fingerprints["bridge"], self._bridge_cert())
        self._wait_for_consensus()

    def client_torrc(self) -> str:
        """What a client needs to bootstrap from this network and no other."""
        return "TestingTorNetwork 1\n" + self.authority_lines

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _node(self, name: str) -> Path:
        return self.directory / name

    def _identity(self, name: str, address: str, kind: str) -> str:
        """Make the node's keys; its relay identity fingerprint."""
        node = self._node(name)
        (node / "keys").mkdir(parents=True, mode=0o700)
        node.chmod(0o700)
        if kind == "authority":
            keys = node / "keys"
            subprocess.run(["tor-gencert", "--create-identity-key", "--passphrase-fd", "0", "-i",
                            str(keys / "authority_identity_key"), "-s", str(keys / "authority_signing_key"),
                            "-c", str(keys / "authority_certificate"), "-m", "12", "-a", f"{address}:{DIR_PORT}"],
                           input=b"\n", check=True, capture_output=True)
        listed = subprocess.run(["tor", "--ignore-missing-torrc", "-f", "/dev/null", "--orport", "1",
                                 "--datadirectory", str(node), "--list-fingerprint"],
                                capture_output=True, text=True, check=True).stdout
        return "".join(listed.strip().splitlines()[-1].split()[1:])

    def _v3ident(self, name: str) -> str:
        certificate = (self._node(name) / "keys" / "authority_certificate").read_text()
        return next(line.split()[1] for line in certificate.splitlines() if line.startswith("fingerprint"))

    def _launch(self, name: str, address: str, kind: str) -> None:
        node = self._node(name)
        torrc = _FAST_VOTING + (f"DataDirectory {node}\nNickname {name}\nAddress {address}\n"
                                f"ORPort {address}:{OR_PORT}\nLog notice file {node}/notice.log\n")
        if kind == "authority":
            torrc += f"DirPort {address}:{DIR_PORT}\n" + _AUTHORITY
        elif kind == "relay":
            torrc += f"DirPort {address}:{DIR_PORT}\nExitRelay 1\nExitPolicy accept *:*\nExitPolicyRejectPrivate 0\n"
        else:
            torrc += (f"BridgeRelay 1\nPublishServerDescriptor 0\nBridgeRecordUsageByCountry 0\nExtORPort auto\n"
                      f"ServerTransportPlugin obfs4 exec {shutil.which('obfs4proxy')}\n"
                      f"ServerTransportListenAddr obfs4 {address}:{OBFS4_PORT}\n")
        torrc += self.authority_lines
        (node / "torrc").write_text(torrc)
        self.processes.append(subprocess.Popen(
            self.command(["tor", "-f", str(node / "torrc"), "--defaults-torrc", os.devnull]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env,
            preexec_fn=_die_with_parent))

    def _bridge_cert(self) -> str:
        line_file = self._node("bridge") / "pt_state" / "obfs4_bridgeline.txt"
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if line_file.exists():
                for line in line_file.read_text().splitlines():
                    if line.startswith("Bridge obfs4") and "cert=" in line:
                        return line.split("cert=", 1)[1].split()[0]
            time.sleep(0.2)
        raise RuntimeError("the private bridge wrote no obfs4 bridge line")

    def _wait_for_consensus(self) -> None:
        """Until every authority serves a published consensus that lists every relay: a client
        asking sooner gets 404 and backs off for many seconds (tor's download schedule)."""
        relays = len(AUTHORITIES) + len(RELAYS)
        files = [self._node(f"auth{i}") / "cached-microdesc-consensus" for i in range(1, len(AUTHORITIES) + 1)]
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            listed = [sum(1 for line in f.read_text(errors="replace").splitlines() if line.startswith("r "))
                      if f.exists() else 0 for f in files]
            if min(listed) >= relays:
                return
            time.sleep(0.3)
        log = self._node("auth1") / "notice.log"
        raise RuntimeError(f"the private Tor network published no full consensus within {READY_S:g} s: "
                           f"{log.read_text(errors='replace')[-2000:] if log.exists() else 'no log'}")


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """(pid, command line) of every process whose command line or environment holds `text` (a
    test's own temporary directory: tor's torrc path is in its command line, its obfs4 client's
    state directory in its environment)."""
    found = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes() if needle not in cmdline else b""
        except OSError:  # gone, or not ours to read
            continue
        if needle in cmdline or needle in environ:
            found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


def program(command: str) -> str:
    """The program's name in a command line ("tor" for "/usr/bin/tor -f ...")."""
    return Path(command.split(" ", 1)[0]).name


def wait_for_processes(text: str, programs: Sequence[str], seconds: float = 30.0) -> list[tuple[int, str]]:
    """The processes mentioning `text` once every program in `programs` is among them as often as
    it is listed (["tor", "tor"]: two tors), or when `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        found = processes_mentioning(text)
        names = [program(command) for _, command in found]
        if all(names.count(name) >= list(programs).count(name) for name in programs) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
