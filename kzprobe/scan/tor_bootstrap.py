"""The Tor bootstrap beside a scan (`kzprobe scan --tor-bootstrap`): started with the scan, in a
thread of its own, so that its minute or so overlaps the targets' measurement instead of adding
to it; its result joins the report as one more result, under the target id TOR_BOOTSTRAP_ID.

The bootstrap is outside every target's deadline and has its own bound (the setting
tor_bootstrap_timeout). A stopped scan (Ctrl-C, SIGTERM, also while only the bootstrap is left)
stops it at once - tor's whole process group is killed (probes/tor_bootstrap.py) - and records
nothing of it, so that `kzprobe scan --resume` runs it again. The result passes the scan's scrub
boundary like every measured result: tor's warnings may quote addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from kzprobe.probes.tor_bootstrap import Bridge, measure_tor_bootstrap
from kzprobe.report.observations import Observations, elapsed_ms
from kzprobe.scan.run import STOP_SIGNALS, utc_now
from kzprobe.targets import Target, is_ip_literal

# The id of the bootstrap's result: reserved (a target list may not use it with --tor-bootstrap).
TOR_BOOTSTRAP_ID: Final = "tor-bootstrap"
# For the lab's tests only: a file whose lines are added to every bootstrap's torrc (the test
# network's DirAuthority lines, so that tor reaches lab addresses and nothing else).
TORRC_ENV: Final = "KZPROBE_TOR_TORRC"
# A torrc addition is a few lines; a larger file is a mistake.
_TORRC_MAX_BYTES: Final = 64 * 1024
# How often the scan's main thread looks up from waiting for the bootstrap (to run signal handlers).
_WAIT_STEP_S: Final = 0.2


def bootstrap_target() -> Target:
    """The result's target: no URL, no endpoints; category ANON like the Tor target."""
    return Target(id=TOR_BOOTSTRAP_ID, url=None, name="Tor bootstrap (the tor daemon)", category="ANON")


def scan_bridges(targets: Sequence[Target]) -> list[Bridge]:
    """The obfs4 bridges among the scan's targets' endpoints (the bundled Tor target's by default),
    each once, in list order; only those at an IP address, as a Bridge line needs."""
    bridges: dict[tuple[str, int], Bridge] = {}
    for target in targets:
        for endpoint in target.endpoints:
            if endpoint.kind == "obfs4" and endpoint.cert and is_ip_literal(endpoint.host):
                bridges.setdefault((endpoint.host, endpoint.port),
                                   Bridge(endpoint.host, endpoint.port, endpoint.fingerprint, endpoint.cert))
    return list(bridges.values())


def torrc_addition(environ: Mapping[str, str]) -> str:
    """The test-only torrc lines named by TORRC_ENV ("" without it); ValueError when unreadable."""
    path = environ.get(TORRC_ENV, "")
    if not path:
        return ""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_TORRC_MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > _TORRC_MAX_BYTES:
        raise ValueError(f"{path} is over {_TORRC_MAX_BYTES // 1024} KB")
    return data.decode("utf-8", errors="replace")


class TorBootstrapRun:
    """One bootstrap in a background thread: start(), then wait() for its result, or stop()."""

    def __init__(self, timeout: float, bridges: Sequence[Bridge], scrub: Callable[[dict], dict],
                 extra_torrc: str = "") -> None:
        self.timeout = timeout
        self.bridges = list(bridges)
        self.extra_torrc = extra_torrc
        self._scrub = scrub
        self._thread = threading.Thread(target=self._run, name="kzprobe-tor-bootstrap", daemon=True)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._stopped = False
        self._result: dict | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start the thread with the stop signals blocked in it: they are the main thread's to
        handle (the measuring processes and the scan's own handlers rely on it)."""
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self._thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def stop(self) -> None:
        """End the bootstrap now (tor killed); its result is dropped. Safe from any thread."""
        with self._lock:
            self._stopped = True
            if self._loop is not None and self._task is not None:
                with contextlib.suppress(RuntimeError):  # the loop already closed: nothing runs
                    self._loop.call_soon_threadsafe(self._task.cancel)

    def wait(self) -> dict | None:
        """The measured result once the bootstrap has ended (within its bound); None when it was
        stopped, by stop() or by SIGINT/SIGTERM arriving while this waits."""
        interrupted = False

        def on_signal(signum: int, frame: object) -> None:
            nonlocal interrupted
            interrupted = True
            self.stop()

        handlers = {}
        if threading.current_thread() is threading.main_thread():
            handlers = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
        try:
            while self._thread.is_alive():
                self._thread.join(_WAIT_STEP_S)
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        if interrupted or self._stopped:
            return None
        if self._error is not None:
            raise self._error
        return self._scrub(self._result) if self._result is not None else None

    def _run(self) -> None:
        try:
            self._result = asyncio.run(self._main())
        except asyncio.CancelledError:
            self._result = None
        except BaseException as exc:  # a bug: raised in the scan's thread by wait()
            self._error = exc

    async def _main(self) -> dict | None:
        with self._lock:
            if self._stopped:
                return None
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
        started_at, start = utc_now(), time.monotonic()
        observations: Observations = {
            "tor_bootstrap": dict(await measure_tor_bootstrap(self.timeout, self.bridges, self.extra_torrc))}
        return {"target": bootstrap_target().to_dict(), "observations": observations,
                "started_at": started_at, "duration_ms": elapsed_ms(start)}
