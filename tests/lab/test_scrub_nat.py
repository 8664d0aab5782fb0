"""End to end behind an emulated NAT: a network that echoes the visitor's address everywhere it
can (tests/support/echo_site.py), scanned with the real CLI, and not one spelling of either of
this machine's addresses in anything kzprobe wrote or printed.

Two namespaces joined by a veth pair: "home" (the volunteer's machine, interface address
192.168.77.2 and fd77::2) and "net" (its ISP and the Internet: web servers, a resolver, an echo
server). The servers call the visitor by its interface address (what they see) and by a public
address a NAT would give it (95.56.7.8, 2a02:1234:abcd::5), which the network lookup learns from
the echo server (KZPROBE_GEO_ECHO) before the scan. Both are then scrubbed from the report, the
journal while the scan runs, --json on stdout, stderr, latest.json, the durations file, two
vantage runs' files (two measuring processes; the change feed), a resumed scan, and what
`show`, `analyse`, `export`, `summary`, `timeline`, `compare`, `changes` and `report` print or
write, the digest cache included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import trustme

from kzprobe.lab import netns
from kzprobe.report.scrub import SCRUBBED
from support.spellings import spellings

UNAVAILABLE = netns.availability("ip")
pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"the NAT lab needs `ip netns` (root): {UNAVAILABLE}"),
]

PUBLIC_V4, PUBLIC_V6 = "95.56.7.8", "2a02:1234:abcd::5"  # what the NAT makes of the visitor
HOME_V4, HOME_V6 = "192.168.77.2", "fd77::2"  # the visitor's interface
NET_V4, NET_V6 = "192.168.77.1", "fd77::1"
SITE, RESOLVER, ECHO = "88.198.77.10", "88.198.77.53", "88.198.77.54"
NEIGHBOURS = ("195.56.7.8", "95.56.7.88", "192.168.77.20", "2a02:1234:abcd::55")
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "kzprobe" / "data" / "report.schema.json").read_text())
ROOT = Path(__file__).resolve().parents[2]
TARGETS = """targets:
  - {id: echo, url: "https://echo.nat.test/"}
  - {id: plain, url: "http://plain.nat.test/"}
  - {id: self, url: "https://self.nat.test/"}
  - {id: slow, url: "https://slow.nat.test/"}
"""


class Nat:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.namespaces: dict[str, netns.Namespace] = {}
        self.server: subprocess.Popen | None = None
        self.guard_log = directory / "guard.log"

    def build(self) -> None:
        for role in ("home", "net"):
            self.namespaces[role] = netns.create(f"{netns.PREFIX}-{os.getpid()}-scrub-{role}",
                                                 f"nameserver {RESOLVER}\n", "ip")
        home, net = self.namespaces["home"].name, self.namespaces["net"].name
        subprocess.run(["ip", "link", "add", "kzhome0", "netns", home, "type", "veth", "peer", "name", "kznet0",
                        "netns", net], check=True)
        self.batch("home", ["link set lo up", "link set kzhome0 up", f"address add {HOME_V4}/24 dev kzhome0",
                            f"address add {HOME_V6}/64 dev kzhome0 nodad", f"route add default via {NET_V4}"])
        self.batch("net", ["link set lo up", "link set kznet0 up", f"address add {NET_V4}/24 dev kznet0",
                           f"address add {NET_V6}/64 dev kznet0 nodad",
                           *(f"address add {a}/32 dev lo" for a in (SITE, RESOLVER, ECHO))])
        ca = trustme.CA(organization_unit_name=f"issued to {PUBLIC_V4}")
        leaf = ca.issue_cert("echo.nat.test", "plain.nat.test", "slow.nat.test", "self.nat.test", PUBLIC_V4,
                             common_name=f"{PUBLIC_V4.replace('.', '-')}.visitor.nat.test",
                             organization_unit_name=f"seen from {HOME_V4}")
        ca.cert_pem.write_to_path(str(self.directory / "ca.pem"))
        leaf.private_key_pem.write_to_path(str(self.directory / "key.pem"))
        leaf.cert_chain_pems[0].write_to_path(str(self.directory / "cert.pem"))
        config = {"public_v4": PUBLIC_V4, "public_v6": PUBLIC_V6, "site": SITE, "dns": [RESOLVER, ECHO, NET_V6],
                  "self_name": "self.nat.test", "interface_v4": HOME_V4,
                  "certificate": str(self.directory / "cert.pem"), "key": str(self.directory / "key.pem")}
        (self.directory / "echo.json").write_text(json.dumps(config))
        self.server = subprocess.Popen(
            self.namespaces["net"].command([sys.executable, str(ROOT / "tests" / "support" / "echo_site.py"),
                                            str(self.directory / "echo.json")]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env(), preexec_fn=netns.die_with_parent)
        assert self.server.stdout is not None
        said = self.server.stdout.readline().strip()
        assert said == b"ready", self.server.stderr.read() if self.server.stderr else ""

    def batch(self, role: str, commands: list[str]) -> None:
        subprocess.run(self.namespaces[role].command(["ip", "-batch", "-"]), input="\n".join(commands) + "\n",
                       text=True, check=True)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(KZPROBE_GUARD_ALLOW=f"{SITE}/32,{RESOLVER}/32,{ECHO}/32,{HOME_V4}/32,{NET_V6}/128,{HOME_V6}/128",
                   KZPROBE_GUARD_LOG=str(self.guard_log), KZPROBE_CACHE_DIR=str(self.directory / "cache"),
                   KZPROBE_GEO_ECHO=f"{ECHO} myip.nat.test A, [{NET_V6}]:53 myip.nat.test AAAA")
        return env

    def kzprobe(self, *args: str, cwd: Path, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.namespaces["home"].command([sys.executable, "-m", "kzprobe", *args]),
                                cwd=cwd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=netns.die_with_parent, **kwargs)

    def close(self) -> None:
        if self.server is not None:
            self.server.kill()
            self.server.communicate()
        for namespace in self.namespaces.values():
            namespace.destroy()


def finished(process: subprocess.Popen, seconds: float = 90) -> tuple[str, str]:
    """stdout and stderr of a kzprobe command that must succeed."""
    stdout, stderr = process.communicate(timeout=seconds)
    assert process.returncode == 0, stderr.decode(errors="replace")
    return stdout.decode(), stderr.decode()


@pytest.fixture(scope="module")
def nat(tmp_path_factory):
    directory = tmp_path_factory.mktemp("scrub-lab")
    (directory / "targets.yaml").write_text(TARGETS)
    lab = Nat(directory)
    try:
        lab.build()
        yield lab
        guard = lab.guard_log.read_text() if lab.guard_log.exists() else ""
        assert not guard.strip(), guard
    finally:
        lab.close()


def scan_options(directory: Path) -> list[str]:
    return ["--targets", str(directory / "targets.yaml"), "--resolver", RESOLVER, "--control-resolver", RESOLVER,
            "--ca-file", str(directory / "ca.pem"), "--timeout", "6"]


@pytest.fixture(scope="module")
def written(nat):
    """Everything kzprobe wrote and printed behind the NAT: {name: text}, and two reports."""
    directory = nat.directory
    outputs: dict[str, str] = {}
    # One scan with --json; its journal is read while the slow target keeps it running.
    scan = nat.kzprobe("scan", *scan_options(directory), "--json", "--vantage", "nat-home", "--output",
                       str(directory / "once" / "scan.json"), cwd=directory)
    journal = directory / "once" / "scan.journal.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and journal_results(journal) < 3:
        time.sleep(0.1)
    outputs["journal while scanning"] = journal.read_text()
    outputs["scan --json stdout"], outputs["scan --json stderr"] = finished(scan)
    # A vantage run: configuration file, two measuring processes, latest.json, durations.
    vantage = directory / "vantage"
    vantage.mkdir()
    (vantage / "kzprobe.yaml").write_text(
        f"vantage: nat-vantage\noutput_dir: results\nresolver: {RESOLVER}\ncontrol_resolver: {RESOLVER}\n"
        f"targets: [{directory / 'targets.yaml'}]\nca_file: {directory / 'ca.pem'}\ntimeout: 6\nprocesses: 2\n"
        f"keep: 5\n")
    for run in ("first", "next"):  # the next run also writes a change record (feed, changes.jsonl)
        outputs[f"vantage {run} stdout"], outputs[f"vantage {run} stderr"] = finished(
            nat.kzprobe("scan", "--config", "kzprobe.yaml", cwd=vantage))
    results = vantage / "results"
    latest = results / "latest.json"
    for name, argv in {"show": ["show", str(latest)], "analyse": ["analyse", str(latest), "--json"],
                       "export csv": ["export", str(results), "--format", "csv"],
                       "export jsonl": ["export", str(results), "--format", "jsonl"],
                       "summary": ["summary", str(results)], "timeline": ["timeline", str(results)],
                       "compare": ["compare", *sorted(str(p) for p in results.glob("nat-vantage-*.json"))],
                       "changes": ["changes", str(results)],
                       "report": ["report", str(results), "--output", str(vantage / "page.html")]}.items():
        outputs[f"{name} stdout"], outputs[f"{name} stderr"] = finished(nat.kzprobe(*argv, cwd=vantage))
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.parent == directory or path.name == "guard.log":
            continue  # the lab's own files: targets, certificates, the echo site's configuration
        outputs[str(path.relative_to(directory))] = path.read_bytes().decode("utf-8", "replace")
    return outputs, json.loads((directory / "once" / "scan.json").read_text()), json.loads(latest.read_text())


def journal_results(journal: Path) -> int:
    try:
        return sum(1 for line in journal.read_text().splitlines() if '"type":"result"' in line)
    except OSError:
        return 0


def leaks(text: str) -> list[str]:
    """Spellings of this machine's addresses in `text` (any case), once the neighbouring
    addresses the pages also carry, which are not ours, are taken out."""
    text = text.lower()
    for neighbour in NEIGHBOURS:
        text = text.replace(neighbour, " ")
    every = [s for address in (PUBLIC_V4, PUBLIC_V6, HOME_V4, HOME_V6) for s in spellings(address)]
    return [s for s in every if s in text]


def test_the_lookup_learned_the_public_address_and_the_network(written):
    outputs, report, latest = written
    assert "network lookup" not in outputs["scan --json stderr"]
    assert report["vantage"] == {"name": "nat-home", "asn": "AS9198", "country": "KZ"}
    assert latest["vantage"]["asn"] == "AS9198"


def test_nothing_written_or_printed_holds_an_address_of_this_machine(written):
    outputs, _, _ = written
    assert {"journal while scanning", "scan --json stdout", "once/scan.json", "vantage/results/latest.json",
            "vantage/results/.kzprobe-durations.json", "vantage/results/changes.xml",
            "vantage/page.html", "export csv stdout", "show stdout"} <= set(outputs)
    assert any(name.startswith("cache") for name in outputs)  # the analysts' digest cache
    found = {name: leaks(text) for name, text in outputs.items()}
    assert {name: spelled for name, spelled in found.items() if spelled} == {}


@pytest.mark.parametrize("which", ["scan", "vantage"])
def test_every_place_the_address_was_echoed_says_scrubbed(written, which):
    _, report, latest = written
    document = report if which == "scan" else latest
    jsonschema.validate(document, SCHEMA)
    results = {r["target"]["id"]: r for r in document["results"]}
    echo = results["echo"]["observations"]
    first, second, last = echo["http"]
    assert first["location"] == "https://echo.nat.test/hop?ip=[scrubbed]&src=[scrubbed]"
    assert second["url"] == first["location"] and "ip=[scrubbed]" in second["location"]
    assert last["title"] == "Your IP: [scrubbed]"
    assert "Welcome, visitor from [scrubbed]." in last["body"] and "Seen from [scrubbed]." in last["body"]
    assert last["body_sha256"] is None  # the hash of a page that named the visitor is not kept
    assert last["headers"]["x-seen-[scrubbed]"] == "yes"
    assert last["headers"]["x-forwarded-for"] == "[scrubbed], [scrubbed]"
    assert last["headers"]["set-cookie"].startswith("visitor=[scrubbed];")
    assert echo["dns"]["queries"][0]["cnames"][0] == "[scrubbed].visitor.nat.test"
    leaf = echo["tls"][0]["peer_chain"][0]
    root = echo["tls"][0]["peer_chain"][-1]
    assert SCRUBBED in leaf["subject"] and SCRUBBED in leaf["sans"] and SCRUBBED in root["issuer"]
    for neighbour in NEIGHBOURS:  # addresses that contain ours are somebody else's
        assert neighbour in last["body"]
    assert results["self"]["observations"]["dns"]["addresses"] == [SCRUBBED]
    assert results["self"]["verdict"] != "blocked"  # its own address says nothing by itself
    assert document["scrubbed"] == sum(r.get("scrubbed", 0) for r in document["results"]) > 0
    assert all(r["scrubbed"] > 0 for r in document["results"] if r["target"]["id"] != "self")


def test_a_resumed_scan_scrubs_what_an_older_journal_kept(nat, written):
    """A journal written before an address was known (or by an older kzprobe) holds it raw; the
    scan that completes it scrubs every result again."""
    _, report, _ = written
    directory = nat.directory / "resume"
    directory.mkdir()
    header = {key: report[key] for key in ("format", "format_version", "scan_id", "started_at", "software",
                                           "vantage", "settings")}
    kept = []
    for result in report["results"]:
        result = {key: result[key] for key in ("target", "observations", "started_at", "duration_ms")}
        result["observations"]["http"] = [{**hop, "title": f"Your IP: {PUBLIC_V4}"}
                                          for hop in result["observations"].get("http", [])]
        kept.append(result)
    journal = directory / "scan.journal.jsonl"
    journal.write_text("".join(json.dumps({"type": kind, **record}) + "\n"
                               for kind, record in [("scan", header)] + [("result", r) for r in kept]))
    stdout, stderr = finished(nat.kzprobe("scan", *scan_options(nat.directory), "--resume", str(journal),
                                          cwd=directory))
    final = (directory / "scan.json").read_text()
    assert leaks(final) == [] and leaks(stdout + stderr) == []
    titles = [hop["title"] for r in json.loads(final)["results"] for hop in r["observations"].get("http", [])]
    assert titles and set(titles) == {"Your IP: [scrubbed]"}


def test_every_interface_address_is_known_and_loopbacks_are_not(tmp_path):
    """getifaddrs(3): secondary addresses too; the lab's public-looking addresses on loopback
    (servers, not this machine) left out. The fallback (ioctl, /proc) finds the primary ones."""
    namespace = netns.create(f"{netns.PREFIX}-{os.getpid()}-scrub-interfaces", "", "ip")
    try:
        commands = ["link set lo up", "address add 88.198.1.1/32 dev lo",
                    "link add kzdummy0 type veth peer name kzdummy1",
                    "link set kzdummy0 up", "address add 203.0.113.5/24 dev kzdummy0",
                    "address add 203.0.113.6/24 dev kzdummy0", "address add fd00:1::5/64 dev kzdummy0 nodad"]
        subprocess.run(namespace.command(["ip", "-batch", "-"]), input="\n".join(commands) + "\n", text=True,
                       check=True)
        code = ("import json; from kzprobe.probes import own_addresses as o; "
                "print(json.dumps([sorted(o.interface_addresses()), sorted(o._from_ioctl_and_proc())]))")
        found, fallback = json.loads(subprocess.run(namespace.command([sys.executable, "-c", code]), cwd=ROOT,
                                                    capture_output=True, text=True, check=True).stdout)
    finally:
        namespace.destroy()
    assert {"203.0.113.5", "203.0.113.6", "fd00:1::5"} <= set(found)
    assert all(a in ("203.0.113.5", "203.0.113.6", "fd00:1::5") or a.startswith("fe80:") for a in found)
    assert {"203.0.113.5", "fd00:1::5"} <= set(fallback) and "88.198.1.1" not in fallback
