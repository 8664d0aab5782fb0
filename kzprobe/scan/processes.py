"""Measure a scan in several processes, so that a long list uses every core.

One process measuring a thousand targets is CPU-bound: TLS handshakes, DNS messages and HTTP
parsing cost a few milliseconds per target, and Python runs them on one core. Here the parent
forks `processes` measuring processes, deals them the targets in scheduling order (each gets
its share of the slow ones and of the baselines), and each streams every measured result back
over a pipe as the journal line it makes. The parent writes the journal and keeps the results,
as one process does; it relays SIGINT/SIGTERM to its measuring processes, which keep what they
measured, so a stopped scan can be resumed the same way.

`process_count` decides how many: one per usable core, but one process per
TARGETS_PER_PROCESS targets at most (a short list is network-bound, not CPU-bound).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import signal
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from kzprobe.errors import KzprobeError
from kzprobe.report.write import result_line
from kzprobe.scan import limits
from kzprobe.scan.run import (
    STOP_GRACE_S,
    STOP_SIGNALS,
    ScanOptions,
    build_probe_kit,
    measure_with_signals,
    scheduling_order,
)

if TYPE_CHECKING:
    from kzprobe.targets import Target

# Fewest targets worth a measuring process of their own. Each process has its own heap, and a
# list must be long for one core to be the limit: in the 1,000-site lab (benchmarks/) two
# measuring processes saved 4 % of the scan's time and took the probe from 165 MB to 244 MB
# (over the 200 MB it may use there); at 2,000 sites they saved 10 %.
TARGETS_PER_PROCESS = 1000
# A measuring process's exit status: all its targets measured, or stopped early.
_FINISHED, _STOPPED, _CRASHED = 0, 3, 70
# After a stop, a measuring process that has not exited this long after its grace is killed.
_KILL_AFTER_S = STOP_GRACE_S + 5.0
_PR_SET_PDEATHSIG = 1  # prctl(2)
# Bytes a measuring process may write before the parent reads them (a result is ~30 KB).
_PIPE_BYTES = 1 << 20

Record = Callable[[dict, "str | None"], None]


class MeasuringProcessError(KzprobeError, RuntimeError):
    """A measuring process failed (a bug, not a network failure): its traceback is on stderr."""


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def process_count(requested: int, targets: int, cores: int | None = None) -> int:
    """Measuring processes for `targets`: `requested` if not 0 (never more than targets), else
    one per core and per TARGETS_PER_PROCESS targets. 1 means: measure in this process."""
    if not hasattr(os, "fork"):
        return 1
    if requested > 0:
        return max(1, min(requested, targets, limits.MAX_PROCESSES))
    cores = usable_cores() if cores is None else cores
    return max(1, min(cores, targets // TARGETS_PER_PROCESS, limits.MAX_PROCESSES))


def deal(targets: Sequence[Target], processes: int, timeout: float,
         previous_ms: Mapping[str, float] | None) -> list[list[Target]]:
    """The targets dealt in scheduling order, one to each process in turn: every process gets
    its share of the baselines and of the targets expected to run longest."""
    order = scheduling_order(targets, timeout, previous_ms)
    return [order[i::processes] for i in range(processes)]


def measure_in_processes(options: ScanOptions, targets: Sequence[Target], concurrency: int, record: Record,
                         previous_ms: Mapping[str, float] | None, processes: int,
                         forked: Callable[[], None] | None = None) -> bool:
    """Measure `targets` in `processes` forked processes; `record(result, journal_line)` is
    called in this process for each result as it arrives. True when every target was measured;
    False when stopped by SIGINT/SIGTERM. Raises MeasuringProcessError when one failed, and
    whatever `record` raised (the others are stopped first). `forked` is called once every
    process is forked: work of this process's own threads starts there, never before a fork
    (a thread holding a lock at the fork would leave it held in the child)."""
    options = dataclasses.replace(options, processes=processes)
    per_process = max(1, math.ceil(concurrency / processes))
    children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    sys.stdout.flush()
    sys.stderr.flush()
    # A stop requested while forking waits until every process can act on it (_collect and
    # each measuring process unblock these once their handlers are in place).
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        for share in deal(targets, processes, options.timeout, previous_ms):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the measuring process: never returns
                os.close(read_end)
                for _, other in children:
                    os.close(other)
                _measuring_process(options, share, per_process, write_end, previous_ms)
            os.close(write_end)
            children.append((pid, read_end))
        if forked is not None:
            forked()
    except BaseException:
        _kill([pid for pid, _ in children])
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        raise
    try:
        return asyncio.run(_collect(children, record))
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _measuring_process(options: ScanOptions, targets: list[Target], concurrency: int, out_fd: int,
                       previous_ms: Mapping[str, float] | None) -> None:
    status = _CRASHED
    scrub = None
    try:
        _die_with_parent()
        _widen_pipe(out_fd)
        out = os.fdopen(out_fd, "w", encoding="utf-8")

        def send(result: dict) -> None:
            out.write(result_line(result))
            out.flush()

        kit = build_probe_kit(options)
        scrub = kit.scrub
        status = _FINISHED if measure_with_signals(kit, targets, concurrency, send, previous_ms) else _STOPPED
        out.close()
    except BaseException:
        report = traceback.format_exc()  # a bug's message may quote what a server sent
        sys.stderr.write(scrub(report) if scrub is not None else report)
    finally:
        sys.stderr.flush()
        os._exit(status)


def _widen_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError):
        pass  # the default pipe size only means the parent reads more often


def _die_with_parent() -> None:
    """If the parent dies (SIGKILL, no chance to relay a stop), this process is sent SIGTERM:
    it stops as if asked, instead of measuring on unseen and holding the output lock."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the parent's own stop still reaches it
    if os.getppid() == 1:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _kill(pids: list[int], signum: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


async def _collect(children: list[tuple[int, int]], record: Record) -> bool:
    """Read every measuring process's results until each has exited; their exit statuses say
    whether all was measured."""
    loop = asyncio.get_running_loop()
    stopping = False
    failures: list[BaseException] = []
    kill_timer: asyncio.TimerHandle | None = None
    running = {pid for pid, _ in children}  # not yet reaped: only these may be signalled

    def stop() -> None:
        nonlocal stopping, kill_timer
        if stopping:
            return
        stopping = True
        _kill(sorted(running), signal.SIGTERM)
        kill_timer = loop.call_later(_KILL_AFTER_S, lambda: _kill(sorted(running)))

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    async def follow(pid: int, fd: int) -> int:
        ended = loop.create_future()
        pending = bytearray()

        def readable() -> None:
            try:
                chunk = os.read(fd, _PIPE_BYTES)
            except BlockingIOError:
                return
            except OSError as exc:  # treated as the end of its output
                chunk = b""
                failures.append(exc)
            if not chunk:
                loop.remove_reader(fd)
                ended.set_result(None)
                return
            pending.extend(chunk)
            end = pending.rfind(b"\n")
            if end < 0:
                return
            # Split on newline bytes only: a line's JSON carries U+2028 and the like raw
            # (ensure_ascii=False), which str.splitlines would also break on.
            lines = bytes(pending[:end]).split(b"\n")
            del pending[: end + 1]
            for raw in lines:
                if failures:  # stopping: what still arrives cannot be kept
                    continue
                try:
                    line = raw.decode("utf-8") + "\n"
                    result = json.loads(line)
                    del result["type"]
                except (ValueError, KeyError, TypeError):  # a bug in the measuring process
                    failures.append(MeasuringProcessError(f"a measuring process sent an unreadable result: "
                                                          f"{raw[:80]!r}"))
                    stop()
                    return
                try:
                    record(result, line)
                except BaseException as exc:  # the journal could not be written: stop the scan
                    failures.append(exc)
                    stop()
                    return

        os.set_blocking(fd, False)
        loop.add_reader(fd, readable)
        try:
            await ended
        finally:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        running.discard(pid)
        return os.waitstatus_to_exitcode(status)

    try:
        statuses = await asyncio.gather(*(follow(pid, fd) for pid, fd in children))
    finally:
        if kill_timer is not None:
            kill_timer.cancel()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    if failures:
        raise failures[0]
    crashed = [s for s in statuses if s not in (_FINISHED, _STOPPED)]
    if crashed and not stopping:
        raise MeasuringProcessError(f"a measuring process failed (exit status {crashed[0]}); see its error above")
    return not stopping and all(s == _FINISHED for s in statuses)
