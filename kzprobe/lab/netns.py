"""Linux network namespaces for the lab: `ip netns` as root, `unshare` otherwise.

A namespace starts with nothing but a loopback that is down, no routes and no way out, which is
what makes the lab safe: whatever a scan inside tries, its packets cannot leave the machine.

Two ways to get one:
- root: `ip netns add kzlab-<pid>-<n>-<role>`, run with `ip netns exec` (which bind-mounts
  /etc/netns/<name>/resolv.conf over /etc/resolv.conf); removed with `ip netns del`.
- anyone else: `unshare --user --map-root-user --net --mount` starts a holder process that
  owns the namespaces and bind-mounts the lab's resolv.conf; commands enter them with
  `nsenter`. The namespaces disappear with the holder, so they cannot be left behind.
Every process the lab starts gets PR_SET_PDEATHSIG, so it dies with the lab's process even if
that one is killed outright; `kzprobe lab clean` removes what a killed root lab left in
/run/netns and /etc/netns.
"""

from __future__ import annotations

import ctypes
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from kzprobe.errors import KzprobeError

PREFIX: Final = "kzlab"
ETC_NETNS: Final = Path("/etc/netns")
_PR_SET_PDEATHSIG: Final = 1
_HOLDER_READY_S: Final = 10.0


class LabUnavailable(KzprobeError):
    """This machine cannot make network namespaces (the message says why)."""


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the lab's process dies, however it dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Namespace(Protocol):
    name: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` prefixed so that it runs inside the namespace."""

    def destroy(self) -> None:
        """Remove the namespace and anything of it on disk; safe to call twice."""


@dataclass
class IpNetns:
    """A named namespace made with `ip netns` (root)."""

    name: str

    @classmethod
    def create(cls, name: str, resolv_conf: str) -> IpNetns:
        _run(["ip", "netns", "add", name])
        namespace = cls(name)
        try:
            etc = ETC_NETNS / name
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "resolv.conf").write_text(resolv_conf, encoding="utf-8")
        except OSError:
            namespace.destroy()
            raise
        return namespace

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def destroy(self) -> None:
        remove_ip_netns(self.name)


@dataclass
class UserNetns:
    """A namespace owned by an `unshare` holder process (no root needed)."""

    name: str
    holder: subprocess.Popen
    resolv_conf_path: Path

    @classmethod
    def create(cls, name: str, resolv_conf: str) -> UserNetns:
        fd, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".resolv.conf")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(resolv_conf)
        os.chmod(path, 0o644)
        script = 'mount --bind "$1" /etc/resolv.conf 2>/dev/null; echo ready; exec sleep infinity'
        holder = subprocess.Popen(
            ["unshare", "--user", "--map-root-user", "--net", "--mount", "--propagation", "private",
             "sh", "-c", script, "sh", path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=die_with_parent, start_new_session=True,  # Ctrl-C at the terminal is not for it
        )
        namespace = cls(name, holder, Path(path))
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], _HOLDER_READY_S)
        line = holder.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            error = holder.stderr.read().decode(errors="replace") if holder.poll() is not None and holder.stderr else ""
            namespace.destroy()
            raise LabUnavailable(f"unshare could not create a namespace: {error.strip() or 'no answer'}")
        return namespace

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", f"--target={self.holder.pid}", "--user", "--net", "--mount",
                "--preserve-credentials", "--", *argv]

    def destroy(self) -> None:
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait()
        for stream in (self.holder.stdout, self.holder.stderr):
            if stream:
                stream.close()
        self.resolv_conf_path.unlink(missing_ok=True)


def _run(argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise LabUnavailable(f"{' '.join(argv[:4])}: {result.stderr.strip() or result.returncode}")
    return result


def is_root() -> bool:
    return os.geteuid() == 0


def backend_name(preferred: str | None = None) -> str:
    """'ip' (root) or 'unshare'; KZPROBE_LAB_BACKEND or `preferred` may force one."""
    choice = preferred or os.environ.get("KZPROBE_LAB_BACKEND") or ("ip" if is_root() else "unshare")
    if choice not in ("ip", "unshare"):
        raise LabUnavailable(f"unknown lab backend {choice!r} (ip or unshare)")
    return choice


def create(name: str, resolv_conf: str, backend: str) -> Namespace:
    return IpNetns.create(name, resolv_conf) if backend == "ip" else UserNetns.create(name, resolv_conf)


def availability(backend: str | None = None) -> str | None:
    """None when the lab can run here, else the reason it cannot (for a clear test skip)."""
    try:
        chosen = backend_name(backend)
    except LabUnavailable as exc:
        return str(exc)
    tools = ["ip", "nsenter", "unshare"] if chosen == "unshare" else ["ip"]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return f"missing command(s): {', '.join(missing)} (iproute2, util-linux)"
    if chosen == "ip":
        if not is_root():
            return "the ip backend needs root"
        return None
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return ("not root, and unprivileged user namespaces are not allowed here "
                f"(unshare -rn: {probe.stderr.strip() or probe.returncode})")
    return None


# -- leftovers of labs whose process died


def _owner_alive(name: str) -> bool:
    match = re.match(rf"^{re.escape(PREFIX)}-(\d+)-", name)
    if not match:
        return True  # not ours to judge
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ip_netns_names() -> list[str]:
    """Names of the lab's `ip netns` namespaces (all owners)."""
    if shutil.which("ip") is None:
        return []
    result = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(f"{PREFIX}-")]


def etc_netns_names() -> list[str]:
    try:
        return sorted(p.name for p in ETC_NETNS.iterdir() if p.name.startswith(f"{PREFIX}-"))
    except OSError:
        return []


def remove_ip_netns(name: str) -> None:
    """Delete a lab namespace and its /etc/netns directory; quiet if already gone."""
    if name in ip_netns_names():
        # Processes still inside keep nothing alive once the name is gone, but kill them anyway:
        # a lab's servers must not outlive it.
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError, PermissionError):
                pass
        for _ in range(20):
            if subprocess.run(["ip", "netns", "del", name], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
    shutil.rmtree(ETC_NETNS / name, ignore_errors=True)
    try:
        ETC_NETNS.rmdir()  # only when empty: /etc/netns existed only for the lab
    except OSError:
        pass


def clean(every: bool = False) -> list[str]:
    """Remove lab namespaces, /etc/netns entries and work directories of dead labs (all if `every`).

    Returns what was removed."""
    removed = []
    for name in sorted(set(ip_netns_names()) | set(etc_netns_names())):
        if every or not _owner_alive(name):
            remove_ip_netns(name)
            removed.append(name)
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}-*"):
        if every or not _owner_alive(path.name):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(str(path))
    return removed
