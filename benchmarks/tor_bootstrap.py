"""What `kzprobe scan --tor-bootstrap` adds to a scan's wall time, in the lab.

    sudo python benchmarks/tor_bootstrap.py          # about 3 minutes

Builds the lab's whole catalogue (docs/lab.md) and, inside the censored ISP's namespace, a
private Tor network (tests/support/tor_network.py: three authorities, two relays, an obfs4
bridge); then scans the catalogue from that namespace four times with the real CLI: without
the bootstrap; with it, tor reaching 100 % from the private network; with it, tor's authorities
silent (routed to the lab's drop link: the bootstrap runs to its bound, 90 s by default); with
it, tor's authorities and fallbacks refusing (it ends on tor's own warning). Prints each scan's
wall time and the bootstrap's own. Needs root (a named namespace), tor, tor-gencert and
obfs4proxy; nothing leaves the machine (the lab's namespaces have no route out).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kzprobe.lab import SCENARIOS, Lab, availability  # noqa: E402
from kzprobe.lab import addresses as a  # noqa: E402
from kzprobe.scan.tor_bootstrap import TORRC_ENV  # noqa: E402
from tests.support.tor_network import PrivateTorNetwork, tor_programs_missing  # noqa: E402

SILENT = ("88.198.255.121", "88.198.255.122", "88.198.255.123")  # routed to the drop link
OWN = "95.56.7.9"  # an address of the vantage's own where nothing listens


def _lines(addresses: list[str], fallbacks: bool) -> str:
    lines = [f"DirAuthority a{n} orport={442 + n} no-v2 v3ident={n:040d} {address}:{79 + n} {n:040d}"
             for n, address in enumerate(addresses[:3], 1)]
    if fallbacks:
        lines += [f"FallbackDir {addresses[-1]}:{79 + n} orport={442 + n} id={n:040d}" for n in (4, 5, 6)]
    return "\n".join(lines) + "\n"


def main() -> int:
    problem = availability() or tor_programs_missing()
    if problem:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kzprobe-tor-bench-") as work, Lab(SCENARIOS) as lab:
        directory = Path(work)
        network = PrivateTorNetwork(directory / "network", lambda argv: lab.command("inside", argv), lab.env())
        try:
            started = time.monotonic()
            network.start()
            print(f"private Tor network up in {time.monotonic() - started:.1f} s")
            batch = [f"route add {address}/32 via {a.DROP_GATEWAY_V4} dev kzdrop0 onlink" for address in SILENT]
            batch.append(f"addr add {OWN}/32 dev kzdrop0")
            subprocess.run(lab.command("inside", ["ip", "-batch", "-"]), input="\n".join(batch) + "\n", text=True,
                           check=True)
            hooks = {"reachable": network.client_torrc(), "silent": _lines(list(SILENT), False),
                     "refused": _lines([OWN], True)}
            runs = [("without --tor-bootstrap", None), ("tor reaches 100 %", "reachable"),
                    ("authorities silent", "silent"), ("authorities and fallbacks refusing", "refused")]
            for label, hook in runs:
                _scan(lab, directory, label, hook, hooks)
        finally:
            network.close()
    return 0


def _scan(lab: Lab, directory: Path, label: str, hook: str | None, hooks: dict[str, str]) -> None:
    output = directory / f"{hook or 'plain'}.json"
    argv = [sys.executable, "-m", "kzprobe", "scan", "--targets", str(lab.targets_file), "--ca-file",
            str(lab.ca_file), "--timeout", "2.5", "--no-geo", "--control-resolver", "none", "--output", str(output)]
    env = {}
    if hook is not None:
        torrc = directory / f"{hook}.torrc"
        torrc.write_text(hooks[hook])
        argv.append("--tor-bootstrap")
        env[TORRC_ENV] = str(torrc)
    started = time.monotonic()
    subprocess.run(lab.command("inside", argv), env=lab.env({**lab.role_env("inside"), **env}),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - started
    report = json.loads(output.read_text())
    results = report["results"]
    line = f"{label:38} {len(results):3} results  wall {wall:6.1f} s"
    bootstrap = next((r for r in results if r["target"]["id"] == "tor-bootstrap"), None)
    if bootstrap is not None:
        direct = bootstrap["observations"]["tor_bootstrap"]["attempts"][0]
        others = max(r["duration_ms"] for r in results if r is not bootstrap) / 1000
        line += (f"  bootstrap {direct['progress']} % ({direct['ended']}) in {direct['duration_ms'] / 1000:.1f} s;"
                 f" slowest target {others:.1f} s")
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
