"""Bootstrap the real tor daemon, directly and through the obfs4 bridges, and record how far it got.

The Tor target's endpoints (probes/tor_endpoints.py) say whether the authorities and bridges
answer; only tor itself says whether a client gets through the whole bootstrap: consensus,
descriptors, a first circuit, from relays well beyond the listed ones. This is OONI's vanilla_tor
measurement (github.com/ooni/spec, nettests/ts-016-vanilla-tor.md): run tor with a fresh data
directory, follow its "Bootstrapped N% (tag): summary" log lines, stop at 100 % or at a bound.

Run with care for the volunteer's machine: tor is found on the PATH at run time (absent: the
record says so, never an error); each attempt runs in a temporary directory of its own (data,
torrc, HOME), removed afterwards, so nothing reaches ~/.tor (a scan killed outright cannot
remove its own: the next attempt removes every such directory whose scan is gone); no SocksPort or ControlPort is
opened (kzprobe never uses the circuits); tor runs in a process group of its own, which is
killed as a whole (its obfs4 client with it) at the end, on timeout and on cancellation; and it
dies with the scan even when the scan is killed outright (PR_SET_PDEATHSIG, and tor's own
__OwningControllerProcess watch). An attempt also ends when tor itself recommends warning the
user (a bootstrap problem repeated 10 times in one phase without progress): that is where Tor
Browser stops a bootstrap and reports the error (gitlab.torproject.org/tpo/applications/
tor-browser, toolkit/components/tor-launcher/TorProvider.sys.mjs and TorBootstrapRequest.sys.mjs).
Nothing here decides anything: analysis/tor_bootstrap_rules.py reads these records.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypedDict

from kzprobe.probes import tor_log
from kzprobe.probes.limits import (
    TOR_PROGRESS_KEPT,
    TOR_STOP_SECONDS,
    TOR_VERSION_SECONDS,
    TOR_WARNING_CHARS,
    TOR_WARNINGS_KEPT,
)
from kzprobe.probes.obfs4 import find_client
from kzprobe.report.observations import elapsed_ms
from kzprobe.text import clean_text

# The paths tried: tor's defaults (authorities and fallback relays), and the obfs4 bridges.
DIRECT: Final = "direct"
OBFS4: Final = "obfs4"
PATHS: Final = (DIRECT, OBFS4)
# How an attempt ended.
ENDED_DONE: Final = "done"  # 100 %
ENDED_STUCK: Final = "stuck"  # tor recommended warning the user (see the module's docstring)
ENDED_TIMEOUT: Final = "timeout"  # the bound came first
ENDED_EXITED: Final = "tor_exited"  # tor exited by itself (a configuration it refused, a crash)
ENDED_NOT_RUN: Final = "not_run"  # tor, an obfs4 client or bridges missing: nothing measured
ENDINGS: Final = (ENDED_DONE, ENDED_STUCK, ENDED_TIMEOUT, ENDED_EXITED, ENDED_NOT_RUN)

_PR_SET_PDEATHSIG: Final = 1  # prctl(2)
# Each attempt's own directory in the temporary directory, and the file in it naming its scan.
TOR_DIRECTORY_PREFIX: Final = "kzprobe-tor-"
_OWNER_FILE: Final = "kzprobe-owner"
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class PhaseReached(TypedDict):
    progress: int
    tag: str
    at_ms: float  # since tor was started


class BootstrapProblem(TypedDict):
    """tor's last "Problem bootstrapping" line (probes/tor_log.py)."""

    progress: int
    tag: str
    warning: str
    reason: str
    count: int
    recommendation: str


class TorAttempt(TypedDict):
    """One bootstrap of tor by one path, from start to end."""

    path: str  # DIRECT or OBFS4
    client: str | None  # the obfs4 client tor ran ("lyrebird", "obfs4proxy"); None for DIRECT
    bridges: int  # bridge lines given (0 for DIRECT)
    progress: int | None  # the highest percentage reached; None when tor never reported one
    tag: str | None  # its phase tag ("requesting_descriptors")
    summary: str | None  # its summary ("Asking for relay descriptors")
    phases: list[PhaseReached]  # every progress line, in order (at most limits.TOR_PROGRESS_KEPT)
    problem: BootstrapProblem | None
    warnings: list[str]  # tor's warnings and errors, distinct, at most limits.TOR_WARNINGS_KEPT
    warnings_omitted: int  # further warnings (repeats included)
    ended: str  # ENDINGS
    exit_code: int | None  # tor's own exit status when it exited by itself
    detail: str | None  # why it was not run, or what tor said when it exited by itself
    duration_ms: float


class TorBootstrapObservation(TypedDict):
    """observations["tor_bootstrap"]: the tor found, the bound, and one attempt per path."""

    tor_version: str | None  # None when no tor was found (or it did not tell its version)
    timeout_s: float
    attempts: list[TorAttempt]


@dataclass(frozen=True)
class Bridge:
    """An obfs4 bridge as a Bridge line needs it (from a target's obfs4 endpoint)."""

    address: str
    port: int
    fingerprint: str | None
    cert: str

    @property
    def safe(self) -> bool:
        """Every field one word of printable ASCII: nothing can end its torrc line early (the
        target files check these fields already; this is the torrc's own guard)."""
        fields = (self.address, self.cert, self.fingerprint or "x")
        return all(field.isascii() and field.isprintable() and not any(c.isspace() for c in field)
                   for field in fields) and 0 < self.port < 65536

    def line(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        fingerprint = f" {self.fingerprint}" if self.fingerprint else ""
        return f"obfs4 {host}:{self.port}{fingerprint} cert={self.cert} iat-mode=0"


def find_tor() -> str | None:
    """The path of `tor` on the PATH, or None."""
    return shutil.which("tor")


def not_run(path: str, detail: str, client: str | None = None, bridges: int = 0) -> TorAttempt:
    """The record of a path that could not be tried, and why."""
    return TorAttempt(path=path, client=client, bridges=bridges, progress=None, tag=None, summary=None, phases=[],
                      problem=None, warnings=[], warnings_omitted=0, ended=ENDED_NOT_RUN, exit_code=None,
                      detail=detail, duration_ms=0.0)


async def measure_tor_bootstrap(timeout: float, bridges: Sequence[Bridge], extra_torrc: str = "",
                                tor: str | None = None, obfs4_client: str | None = None) -> TorBootstrapObservation:
    """Bootstrap tor directly and, when bridges and an obfs4 client are at hand, through the
    bridges, both at once, each within `timeout` seconds. `extra_torrc` is appended to every
    torrc (the lab's test networks: their DirAuthority lines). `tor` and `obfs4_client` default to
    what the PATH has."""
    tor = tor or find_tor()
    if tor is None:
        missing = "no tor executable on the PATH (Debian: apt install tor)"
        return TorBootstrapObservation(tor_version=None, timeout_s=timeout,
                                       attempts=[not_run(DIRECT, missing), not_run(OBFS4, missing)])
    version = await read_version(tor)
    client = obfs4_client or find_client()
    runs = [run_attempt(tor, DIRECT, timeout, extra_torrc=extra_torrc)]
    if not bridges:
        runs.append(_finished(not_run(OBFS4, "no obfs4 bridges among the scan's targets")))
    elif client is None:
        runs.append(_finished(not_run(OBFS4, "no obfs4 client (lyrebird or obfs4proxy) on the PATH",
                                      bridges=len(bridges))))
    else:
        runs.append(run_attempt(tor, OBFS4, timeout, extra_torrc=extra_torrc, bridges=bridges, client=client))
    attempts = await asyncio.gather(*runs)
    return TorBootstrapObservation(tor_version=version, timeout_s=timeout, attempts=list(attempts))


async def _finished(attempt: TorAttempt) -> TorAttempt:
    return attempt


async def read_version(tor: str) -> str | None:
    """tor's version from `tor --version`, or None when it does not say within the bound."""
    try:
        process = await asyncio.create_subprocess_exec(
            tor, "--version", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True, preexec_fn=_child_setup)
    except OSError:
        return None
    try:
        output, _ = await asyncio.wait_for(process.communicate(), TOR_VERSION_SECONDS)
    except TimeoutError:
        output = b""
    finally:
        await _stop(process)
    return tor_log.tor_version(output[:1000].decode(errors="replace"))


def torrc(directory: str, path: str, extra_torrc: str = "", bridges: Sequence[Bridge] = (),
          client: str | None = None) -> str:
    """The configuration of one attempt: its own data directory, no ports, notice log on stdout;
    for OBFS4 the bridges through the client; then `extra_torrc`."""
    lines = [
        f"DataDirectory {os.path.join(directory, 'data')}",
        "SocksPort 0",  # no port: kzprobe builds no connection through tor
        "Log notice stdout",
        "SafeLogging 1",  # tor's default, said: addresses in its own messages are "[scrubbed]"
        "AvoidDiskWrites 1",
        # tor exits when this process does, should everything else fail (checked every 15 s).
        f"__OwningControllerProcess {os.getpid()}",
    ]
    if path == OBFS4:
        lines += ["UseBridges 1", f"ClientTransportPlugin obfs4 exec {client}"]
        lines += [f"Bridge {bridge.line()}" for bridge in bridges if bridge.safe]
    return "\n".join(lines) + "\n" + (extra_torrc.rstrip("\n") + "\n" if extra_torrc.strip() else "")


class _Follower:
    """What an attempt has seen of tor's log so far."""

    def __init__(self) -> None:
        self.best: tor_log.Progress | None = None
        self.phases: list[PhaseReached] = []
        self.problem: tor_log.Problem | None = None
        self.warnings: list[str] = []
        self.seen: set[str] = set()
        self.omitted = 0
        self.last_warning = ""

    def read(self, text: str, at_ms: float) -> str | None:
        """Take one log line; ENDED_DONE or ENDED_STUCK when it ends the attempt."""
        line = tor_log.parse_line(text)
        if line is None:
            return None
        progress = tor_log.bootstrap_progress(line.message)
        if progress is not None:
            if len(self.phases) < TOR_PROGRESS_KEPT:
                self.phases.append(PhaseReached(progress=progress.progress, tag=progress.tag, at_ms=at_ms))
            if self.best is None or progress.progress >= self.best.progress:
                self.best = progress
            return ENDED_DONE if progress.progress == tor_log.DONE else None
        if tor_log.is_warning(line):
            self._warning(line.message)
        problem = tor_log.bootstrap_problem(line.message)
        if problem is not None:
            self.problem = problem
            if problem.recommendation == "warn":
                return ENDED_STUCK
        return None

    def _warning(self, message: str) -> None:
        text = clean_text(message, TOR_WARNING_CHARS)
        # A repeated problem differs only by its count: counted, not kept again.
        key = "".join("#" if ch.isdigit() else ch for ch in text)
        self.last_warning = text
        if key in self.seen or len(self.warnings) >= TOR_WARNINGS_KEPT:
            self.omitted += 1
            return
        self.seen.add(key)
        self.warnings.append(text)

    def record(self, path: str, client: str | None, bridges: int, ended: str, exit_code: int | None,
               detail: str | None, duration_ms: float) -> TorAttempt:
        problem = None
        if self.problem is not None:
            p = self.problem
            problem = BootstrapProblem(progress=p.progress, tag=p.tag, warning=clean_text(p.warning, 200),
                                       reason=p.reason, count=p.count, recommendation=p.recommendation)
        best = self.best
        return TorAttempt(
            path=path, client=client, bridges=bridges, progress=best.progress if best else None,
            tag=best.tag if best else None, summary=clean_text(best.summary, 200) if best else None,
            phases=self.phases, problem=problem, warnings=self.warnings, warnings_omitted=self.omitted,
            ended=ended, exit_code=exit_code, detail=detail, duration_ms=duration_ms)


async def run_attempt(tor: str, path: str, timeout: float, *, extra_torrc: str = "",
                      bridges: Sequence[Bridge] = (), client: str | None = None) -> TorAttempt:
    """Run tor once by `path` until it reports 100 %, recommends a warning, exits, or `timeout`
    seconds pass; then stop its process group and remove its directory."""
    client_name = os.path.basename(client) if client else None
    sweep_orphaned_directories(tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix=TOR_DIRECTORY_PREFIX, ignore_cleanup_errors=True) as directory:
        with open(os.path.join(directory, _OWNER_FILE), "w", encoding="ascii") as owner:
            owner.write(_process_identity(os.getpid()) or "")
        config = os.path.join(directory, "torrc")
        defaults = os.path.join(directory, "torrc-defaults")  # empty: no system-wide defaults
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(torrc(directory, path, extra_torrc, bridges, client))
        open(defaults, "w").close()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": directory, "LC_ALL": "C"}
        start = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                tor, "-f", config, "--defaults-torrc", defaults, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=directory,
                start_new_session=True, preexec_fn=_child_setup)
        except OSError as exc:
            return not_run(path, f"tor could not be started: {clean_text(exc.strerror or exc, 200)}",
                           client_name, len(bridges))
        follower = _Follower()
        ended, exit_code = ENDED_TIMEOUT, None
        try:
            ended = await _follow(process, follower, start, timeout)
            if ended == ENDED_EXITED:
                exit_code = await process.wait()
        finally:
            await _stop(process)
        detail = (follower.last_warning or None) if ended == ENDED_EXITED else None
        return follower.record(path, client_name, len(bridges), ended, exit_code, detail, elapsed_ms(start))


def _process_identity(pid: int) -> str | None:
    """'PID START' for a running process (START: its start time in clock ticks since boot, from
    /proc, so that a recycled PID is not taken for the scan that wrote it); None when no such
    process runs. Without /proc, the PID alone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        # Field 22 (starttime), counted after the command name, which is in parentheses.
        return f"{pid} {stat[stat.rindex(b')') + 2:].split()[19].decode()}"
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return str(pid)


def sweep_orphaned_directories(parent: str) -> list[str]:
    """Remove this user's tor attempt directories in `parent` whose scan is gone (killed outright:
    SIGKILL, a power cut); the names removed. A directory whose owner file is missing or unreadable
    is left alone: it may belong to an attempt that is just starting."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(TOR_DIRECTORY_PREFIX):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            with open(os.path.join(entry.path, _OWNER_FILE), encoding="ascii") as handle:
                owner = handle.read(64).strip()
        except OSError:
            continue
        pid = owner.split(" ", 1)[0]
        if not pid.isdigit() or _process_identity(int(pid)) == owner:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.name)
    return removed


async def _follow(process: asyncio.subprocess.Process, follower: _Follower, start: float, timeout: float) -> str:
    """Read tor's log until the attempt ends; how it ended."""
    assert process.stdout is not None
    while True:
        remaining = timeout - (time.monotonic() - start)
        if remaining <= 0:
            return ENDED_TIMEOUT
        try:
            raw = await asyncio.wait_for(process.stdout.readline(), remaining)
        except TimeoutError:
            return ENDED_TIMEOUT
        except ValueError:  # a line over the reader's limit: dropped (tor's are short)
            continue
        if not raw:
            return ENDED_EXITED
        ended = follower.read(raw.decode(errors="replace"), elapsed_ms(start))
        if ended is not None:
            return ended


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the process group, SIGKILL to whatever of it is left after a grace."""
    if process.returncode is None:
        _signal_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), TOR_STOP_SECONDS)
    _signal_group(process.pid, signal.SIGKILL)  # tor's own children (its obfs4 client) too
    if process.returncode is None:
        await process.wait()


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def _child_setup() -> None:
    """preexec_fn: tor is killed when the thread that started it dies, however it dies; and the
    stop signals a scan blocks in its threads are unblocked again for tor."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
