"""Run the probes for many targets: bounded concurrency, a deadline per target, results streamed.

`run_scan` measures; it does not decide. Each measured result goes to `on_result` (the journal)
the moment it is complete; the caller analyses them all at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from kzprobe import limits
from kzprobe.observations import Observations
from kzprobe.probes.connection import Connector, make_tls_contexts
from kzprobe.probes.dns import DnsProbe, ResolverSpec
from kzprobe.probes.web import ProbeKit, measure_web_target
from kzprobe.scrub import Scrubber, local_public_addresses

if TYPE_CHECKING:
    from kzprobe.targets import Target

# After a stop request, targets already being measured get this long to finish before they
# are cut short (their partial observations are kept).
STOP_GRACE_S = 3.0


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ScanOptions:
    resolver: ResolverSpec
    control_resolver: ResolverSpec | None
    ca_file: str | None = None
    timeout: float = limits.DEFAULT_TIMEOUT_S
    concurrency: int = limits.DEFAULT_CONCURRENCY
    own_addresses: set[str] = field(default_factory=set)


def build_probe_kit(options: ScanOptions) -> ProbeKit:
    verifying, capturing = make_tls_contexts(options.ca_file)
    return ProbeKit(
        dns=DnsProbe(options.resolver, options.timeout),
        control_dns=DnsProbe(options.control_resolver, options.timeout) if options.control_resolver else None,
        connector=Connector(verifying, capturing, options.timeout),
        scrub=Scrubber(options.own_addresses | local_public_addresses()),
        timeout=options.timeout,
    )


def target_deadline(target: Target, timeout: float) -> float:
    deadline = limits.TARGET_DEADLINE_TIMEOUTS * timeout
    if target.download:
        deadline += limits.DOWNLOAD_MAX_SECONDS
    return deadline


async def measure_target(kit: ProbeKit, target: Target) -> dict:
    """One measured result: the target, its observations, when and how long."""
    started_at = utc_now()
    start = time.monotonic()
    observations: Observations = {}
    try:
        async with asyncio.timeout(target_deadline(target, kit.timeout)):
            if target.url:
                await measure_web_target(kit, target, observations)
    except TimeoutError:
        observations["deadline_exceeded"] = True  # type: ignore[typeddict-unknown-key]
    return {
        "target": target.to_dict(),
        "observations": observations,
        "started_at": started_at,
        "duration_ms": round((time.monotonic() - start) * 1000, 1),
    }


def scheduling_order(targets: Sequence[Target]) -> list[Target]:
    """Baselines first: connectivity and the throughput reference come from them."""
    return sorted(targets, key=lambda t: 0 if t.baseline else 1)


async def run_scan(
    kit: ProbeKit,
    targets: Sequence[Target],
    concurrency: int,
    on_result: Callable[[dict], None],
    stop: asyncio.Event | None = None,
) -> bool:
    """Measure every target; returns True when all were measured, False when stopped early."""
    stop = stop or asyncio.Event()
    queue: asyncio.Queue[Target] = asyncio.Queue()
    for target in scheduling_order(targets):
        queue.put_nowait(target)

    async def worker() -> None:
        while not stop.is_set():
            try:
                target = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            on_result(await measure_target(kit, target))

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(targets))))]
    all_done = asyncio.ensure_future(asyncio.gather(*workers))
    stop_wait = asyncio.create_task(stop.wait())
    await asyncio.wait({all_done, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if not all_done.done():
        await asyncio.wait({all_done}, timeout=STOP_GRACE_S)
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    stop_wait.cancel()
    if all_done.done() and not all_done.cancelled() and all_done.exception() is not None:
        raise all_done.exception()  # a bug, not a network failure: those are recorded
    return queue.empty() and not stop.is_set()
