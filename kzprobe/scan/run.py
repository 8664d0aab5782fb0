"""Run the probes for many targets: bounded concurrency, a deadline per target, results streamed.

`run_scan` measures; it does not decide. Each measured result goes to `on_result` (the journal)
the moment it is complete; the caller analyses them all at the end. `measure_target` is where a
result leaves measurement: it is scrubbed of this machine's addresses there, so that nothing
downstream (journal, measuring-process pipe, analysis, report, output) ever sees them.
"""

from __future__ import annotations

import asyncio
import gc
import math
import signal
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kzprobe.probes import limits
from kzprobe.probes.connection import Connector
from kzprobe.probes.dns import DnsProbe, ResolverSpec
from kzprobe.probes.doh import DohClient
from kzprobe.probes.kit import ProbeKit
from kzprobe.probes.own_addresses import interface_addresses
from kzprobe.probes.service_endpoints import ENDPOINT_OPERATIONS_AT_ONCE, measure_endpoints
from kzprobe.probes.turns import Backlog, Ticket, current_ticket, hold
from kzprobe.probes.web import measure_web_target
from kzprobe.report.observations import Observations, elapsed_ms
from kzprobe.report.scrub import Scrubber
from kzprobe.scan import limits as scan_limits

if TYPE_CHECKING:
    from kzprobe.targets import Target

# The signals that stop a scan: new work ends, what was measured is kept.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


# After a stop request, targets already being measured get this long to finish before they
# are cut short (their partial observations are kept).
STOP_GRACE_S = 3.0

# Container allocations between two young-generation passes of Python's cyclic garbage
# collector while a scan runs (Python's default: 700). A target allocates tens of thousands of
# objects, and the default let collections, with the full passes they lead to over every result
# kept so far, take a tenth of the probe's CPU in a 1,000-target lab scan; at 10,000 it is a
# thirtieth, for a few more megabytes of garbage waiting at most.
GC_YOUNG_ALLOCATIONS = 10_000


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ScanOptions:
    resolver: ResolverSpec
    control_resolver: ResolverSpec | None
    ca_file: str | None = None
    timeout: float = scan_limits.DEFAULT_TIMEOUT_S
    concurrency: int = scan_limits.DEFAULT_CONCURRENCY
    # This machine's addresses learned from the network (the echo of the network lookup, geo.py);
    # its interfaces' addresses are added when the probe kit is built.
    own_addresses: set[str] = field(default_factory=set)
    # Processes measuring this scan together (scan/processes.py): each keeps its share of the
    # limits that hold for the whole scan (a resolver's queries in flight).
    processes: int = 1


def build_probe_kit(options: ScanOptions) -> ProbeKit:
    if options.ca_file:
        # Checked now, so that a file that is not PEM certificates stops the scan before it
        # starts; the trust store itself is loaded at the first handshake (Connector).
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=options.ca_file)
    connector = Connector(None, None, options.timeout, ca_file=options.ca_file)
    dns_share = limits.DNS_QUERIES_IN_FLIGHT // max(1, options.processes)
    dns = DnsProbe(options.resolver, options.timeout, queries_in_flight=dns_share)
    control_dns = doh = None
    if options.control_resolver is not None:
        exchange = None
        if options.control_resolver.kind == "doh":
            doh = DohClient(str(options.control_resolver.url), dns, connector, options.timeout)
            exchange = doh.exchange
        control_dns = DnsProbe(options.control_resolver, options.timeout, exchange, dns_share)
    return ProbeKit(
        dns=dns,
        control_dns=control_dns,
        connector=connector,
        scrub=Scrubber(options.own_addresses | interface_addresses()),
        timeout=options.timeout,
        doh=doh,
    )


def target_deadline(target: Target, timeout: float) -> float:
    deadline = scan_limits.TARGET_DEADLINE_TIMEOUTS * timeout
    if target.download:
        deadline += limits.DOWNLOAD_MAX_SECONDS
    if getattr(target, "quic", False):
        deadline += timeout  # the QUIC handshake runs after the web steps (probes/quic.py)
    if target.endpoints:
        # Endpoints are measured a bounded number at a time; each round may wait out a timeout.
        rounds = math.ceil(2 * len(target.endpoints) / ENDPOINT_OPERATIONS_AT_ONCE)
        deadline += rounds * timeout
        if any(getattr(e, "kind", None) == "obfs4" and getattr(e, "cert", None) for e in target.endpoints):
            # The obfs4 handshakes run after the connects, through a client that starts first.
            deadline += timeout + limits.OBFS4_CLIENT_START_SECONDS
    return deadline


async def measure_target(kit: ProbeKit, target: Target) -> dict:
    """One measured result: the target, its observations, when and how long; scrubbed of this
    machine's addresses (report/scrub.py)."""
    started_at = utc_now()
    start = time.monotonic()
    observations: Observations = {}
    ticket = current_ticket()
    try:
        async with asyncio.timeout(target_deadline(target, kit.timeout)) as deadline:
            if ticket is not None:
                ticket.deadline = deadline  # waiting for a turn (probes/turns.py) extends it
            steps = []
            if target.url:
                steps.append(measure_web_target(kit, target, observations))
            if target.endpoints:
                steps.append(measure_endpoints(kit, target, observations))
            await asyncio.gather(*steps)
    except TimeoutError:
        observations["deadline_exceeded"] = True
    result = {
        "target": target.to_dict(),
        "observations": observations,
        "started_at": started_at,
        "duration_ms": elapsed_ms(start),
    }
    if ticket is not None and ticket.queued_s:
        # Part of duration_ms spent waiting for a turn for CPU work (probes/turns.py): our queue, not the network.
        result["queued_ms"] = round(ticket.queued_s * 1000, 1)
    return kit.scrub.result(result)


def measure_with_signals(kit: ProbeKit, targets: Sequence[Target], concurrency: int,
                         on_result: Callable[[dict], None], previous_ms: Mapping[str, float] | None = None) -> bool:
    """run_scan in a new event loop, until done or SIGINT/SIGTERM: a stop ends new work and
    keeps what was measured (False). The signals are unblocked once handled (a measuring
    process is forked with them blocked, scan/processes.py)."""

    async def main() -> bool:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            try:
                loop.add_signal_handler(signum, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        try:
            return await run_scan(kit, targets, concurrency, on_result, stop, previous_ms)
        finally:
            await kit.aclose()

    return asyncio.run(main())


def scheduling_order(targets: Sequence[Target], timeout: float = scan_limits.DEFAULT_TIMEOUT_S,
                     previous_ms: Mapping[str, float] | None = None) -> list[Target]:
    """Baselines first: connectivity and the throughput reference come from them. Then the
    targets expected to run longest, list order kept among equals (longest-first scheduling):
    started last, a target that waits out a timeout keeps the scan running alone for that long
    after everything else has finished; started first, it waits while the rest is measured.

    Expected length: how long the target took in the previous scan of this vantage
    (`previous_ms`: target id -> duration_ms; a target it lacks counts as the median), then how
    long the target may take at most (its deadline: a download, a service's many endpoints)."""
    previous_ms = previous_ms or {}
    known = sorted(previous_ms[t.id] for t in targets if t.id in previous_ms)
    typical = known[(len(known) - 1) // 2] if known else 0.0  # the lower median

    def longest_first(target: Target) -> tuple[int, float, float]:
        took = previous_ms.get(target.id, typical)
        # Stand-ins without a download or endpoints field (tests) are plain targets.
        may_take = target_deadline(target, timeout) if hasattr(target, "download") else 0.0
        return (0 if target.baseline else 1, -took, -may_take)

    return sorted(targets, key=longest_first)


def in_flight_cap(concurrency: int) -> int:
    """How many targets may be in flight at once, parked ones included, within open-file limits."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = hard if hard != resource.RLIM_INFINITY else 65536
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    except (ImportError, ValueError, OSError):
        soft = 1024
    by_files = max(1, (int(soft) - scan_limits.RESERVED_FILES) // scan_limits.FILES_PER_TARGET)
    return max(1, min(concurrency * scan_limits.PARKED_FACTOR, by_files))


def admission_cap(concurrency: int) -> int:
    """How many targets may be admitted and not parked at once: resolving and connecting ahead
    of their turns (probes/turns.py), waiting for one, or having one."""
    return max(1, concurrency * scan_limits.AHEAD_FACTOR)


async def run_scan(
    kit: ProbeKit,
    targets: Sequence[Target],
    concurrency: int,
    on_result: Callable[[dict], None],
    stop: asyncio.Event | None = None,
    previous_ms: Mapping[str, float] | None = None,
) -> bool:
    """Measure every target; returns True when all were measured, False when stopped early.

    At most `concurrency` targets do CPU work (TLS, HTTP) at once, each in a turn (probes/turns.py).
    Up to admission_cap(concurrency) targets are admitted ahead of their turns: they resolve
    and connect meanwhile, so that a dropped SYN starts its wait early instead of trailing after
    everything else. A target still resolving or connecting after limits.ACTIVE_SLOT_S is
    usually waiting out a timeout: it parks (gives its admission to the next target) and
    finishes in the background, so blocked targets cannot starve healthy ones. In-flight
    targets, parked ones included, are capped by in_flight_cap. `previous_ms` (target id ->
    duration_ms in this vantage's previous scan) starts the targets that took longest first
    (scheduling_order), and those that took longer than limits.ACTIVE_SLOT_S parked.
    """
    with fewer_gc_passes():
        return await _run_scan(kit, targets, concurrency, on_result, stop, previous_ms)


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Young-generation collections every GC_YOUNG_ALLOCATIONS allocations while inside."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], GC_YOUNG_ALLOCATIONS), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


async def _run_scan(
    kit: ProbeKit,
    targets: Sequence[Target],
    concurrency: int,
    on_result: Callable[[dict], None],
    stop: asyncio.Event | None,
    previous_ms: Mapping[str, float] | None,
) -> bool:
    stop = stop or asyncio.Event()
    admission = asyncio.Semaphore(admission_cap(concurrency))
    turns = asyncio.Semaphore(concurrency)
    backlog = Backlog(concurrency)
    in_flight = asyncio.Semaphore(in_flight_cap(concurrency))
    running: set[asyncio.Task] = set()
    failures: list[BaseException] = []
    previous = previous_ms or {}
    pending = deque(scheduling_order(targets, getattr(kit, "timeout", scan_limits.DEFAULT_TIMEOUT_S), previous))

    def start(target: Target) -> None:
        # A target that waited out a timeout in the previous scan is parked from the start.
        waited_before = previous.get(target.id, 0.0) >= limits.ACTIVE_SLOT_S * 1000
        ticket = Ticket(admission, turns, 0.0 if waited_before else limits.ACTIVE_SLOT_S, limits.ACTIVE_SLOT_S,
                        backlog)

        async def measure() -> dict:
            hold(ticket)
            return await measure_target(kit, target)

        def finished(task: asyncio.Task) -> None:
            running.discard(task)
            ticket.finish()
            in_flight.release()
            if task.cancelled():
                return
            if (error := task.exception()) is not None:
                failures.append(error)  # a bug, not a network failure
                stop.set()
                return
            try:
                on_result(task.result())
            except BaseException as exc:  # the journal could not be written: stop the scan
                failures.append(exc)
                stop.set()

        task = asyncio.create_task(measure())
        running.add(task)
        task.add_done_callback(finished)

    async def feed() -> None:
        while pending and not stop.is_set():
            await in_flight.acquire()
            await admission.acquire()
            if stop.is_set():
                admission.release()
                in_flight.release()
                return
            start(pending.popleft())

    feeder = asyncio.create_task(feed())
    stop_wait = asyncio.create_task(stop.wait())
    await asyncio.wait({feeder, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if not stop.is_set():
        while running and not stop.is_set():
            await asyncio.wait(set(running) | {stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if stop.is_set():
        feeder.cancel()
        if running:
            await asyncio.wait(set(running), timeout=STOP_GRACE_S)
        for task in list(running):
            task.cancel()
        await asyncio.gather(*running, feeder, return_exceptions=True)
    stop_wait.cancel()
    if failures:
        raise failures[0]
    return not pending and not running and not stop.is_set()
