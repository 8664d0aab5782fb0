"""The lab leaves nothing behind: no namespace, no /etc/netns entry, no file, no process.

Whatever ends it - the `with` block, an exception, Ctrl-C, SIGTERM, or SIGKILL followed by
`kzprobe lab clean` - for each way of making namespaces this machine allows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kzprobe.lab import Lab, availability, netns
from kzprobe.lab.scenarios import select

UNAVAILABLE = availability()
pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"network namespaces impossible here: {UNAVAILABLE}"),
]
BACKENDS = [b for b in ("ip", "unshare") if availability(b) is None]

# A lab in a process of its own, which the test then ends in various ways.
LAB_PROCESS = """
import sys, time
from kzprobe.lab import Lab
from kzprobe.lab.scenarios import select
with Lab(select(["tls-reset"]), cuts=["international"], backend=sys.argv[1]) as lab:
    names = [getattr(ns, "name") for ns in lab.namespaces.values()]
    holders = [str(ns.holder.pid) for ns in lab.namespaces.values() if hasattr(ns, "holder")]
    servers = [str(p.pid) for p in lab.servers.values()]
    print(lab.workdir, ",".join(names), ",".join(servers + holders), flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its reaper is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _leftovers(workdir: Path, names: list[str], pids: list[int]) -> list[str]:
    found = [n for n in names if n in netns.ip_netns_names() or (netns.ETC_NETNS / n).exists()]
    found += [str(workdir)] if workdir.exists() else []
    found += [f"process {p}" for p in pids if _alive(p)]
    return found


def _wait_clean(workdir: Path, names: list[str], pids: list[int], seconds: float = 5.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := _leftovers(workdir, names, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _start(backend: str) -> tuple[subprocess.Popen, Path, list[str], list[int]]:
    proc = subprocess.Popen([sys.executable, "-c", LAB_PROCESS, backend], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    assert len(line) == 3, "the lab process did not start"
    workdir, names, pids = Path(line[0]), line[1].split(","), [int(p) for p in line[2].split(",")]
    assert workdir.exists() and all(_alive(p) for p in pids)
    if backend == "ip":
        assert set(names) <= set(netns.ip_netns_names())
        assert all((netns.ETC_NETNS / n / "resolv.conf").exists() for n in names)
    return proc, workdir, names, pids


SIGNALS = [(b, s) for b in BACKENDS for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
           if b == "ip" or s != signal.SIGHUP]


@pytest.mark.parametrize("backend, how", SIGNALS, ids=[f"{b}-{s.name}" for b, s in SIGNALS])
def test_a_signalled_lab_takes_itself_down(backend, how):
    proc, workdir, names, pids = _start(backend)
    proc.send_signal(how)
    proc.wait(60)  # bounded: the servers' grace is 5 s in all; the rest is a loaded machine's slack
    assert _wait_clean(workdir, names, pids) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_lab_is_cleaned_by_lab_clean(backend):
    proc, workdir, names, pids = _start(backend)
    proc.kill()
    proc.wait(20)
    # Servers and holders die with their parent at once (PR_SET_PDEATHSIG) ...
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)
    # ... what is on disk stays until `kzprobe lab clean`. (Any lab built meanwhile on this
    # machine also cleans up after dead labs first, so which of them removed it is not asserted.)
    clean = subprocess.run([sys.executable, "-m", "kzprobe", "lab", "clean"], capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    assert _wait_clean(workdir, names, pids) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_exception_in_the_lab_still_takes_it_down(backend):
    with pytest.raises(RuntimeError, match="test failed"):
        with Lab(select(["tls-reset"]), backend=backend) as lab:
            workdir, names = lab.workdir, [ns.name for ns in lab.namespaces.values()]
            pids = [p.pid for p in lab.servers.values()]
            raise RuntimeError("test failed")
    assert _wait_clean(workdir, names, pids) == []
    assert netns.etc_netns_names() == [n for n in netns.etc_netns_names() if n not in names]


def test_a_failed_build_leaves_nothing(monkeypatch):
    lab = Lab(select(["tls-reset"]))
    monkeypatch.setattr(Lab, "_start_server", lambda self, plan: (_ for _ in ()).throw(OSError("no python")))
    with pytest.raises(OSError, match="no python"):
        with lab:
            pass
    names = [ns.name for ns in lab.namespaces.values()]
    assert names and _wait_clean(lab.workdir, names, []) == []


def test_clean_spares_labs_that_are_alive():
    with Lab(select(["tls-reset"])) as lab:
        removed = netns.clean()
        assert not any(n.name in removed for n in lab.namespaces.values())
        assert str(lab.workdir) not in removed and lab.workdir.exists()


@pytest.mark.skipif(availability("ip") is not None, reason="leftovers in /run/netns and /etc/netns need root")
def test_clean_removes_what_dead_labs_left_and_spares_live_ones(monkeypatch, tmp_path):
    # A prefix of its own, so that labs other processes build meanwhile leave these alone.
    monkeypatch.setattr(netns, "PREFIX", "kzlabtest")
    monkeypatch.setattr(netns.tempfile, "gettempdir", lambda: str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    names = {pid: f"kzlabtest-{pid}-1-inside" for pid in (dead.pid, os.getpid())}
    for name in names.values():
        subprocess.run(["ip", "netns", "add", name], check=True)
        (netns.ETC_NETNS / name).mkdir(parents=True)
        (netns.ETC_NETNS / name / "resolv.conf").write_text("nameserver 95.57.255.53\n")
        (tmp_path / f"kzlabtest-{name.split('-')[1]}-work").mkdir()
    try:
        removed = netns.clean()
        assert names[dead.pid] in removed and str(tmp_path / f"kzlabtest-{dead.pid}-work") in removed
        assert names[dead.pid] not in netns.ip_netns_names() and not (netns.ETC_NETNS / names[dead.pid]).exists()
        assert names[os.getpid()] in netns.ip_netns_names() and (tmp_path / f"kzlabtest-{os.getpid()}-work").exists()
    finally:
        netns.remove_ip_netns(names[os.getpid()])
    assert netns.ip_netns_names() == []  # with the test's prefix: none of its namespaces is left
