"""Keyword targets in a scan: measured last, on the baselines the scan just reached.

A keyword target has no site of its own (targets/keywords.py): its word is sent to a baseline
that answered in this scan, at the address it answered from, so that a failure beside a working
neutral twin can only be the word's doing. Which baselines answered is read from their
observations (facts, not verdicts): a plaintext HTTP answer for the path and Host placements, a
completed handshake for the server name. Only scans with keyword targets pay for any of this.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from kzprobe.probes.keyword import KeywordBase, measure_keyword
from kzprobe.probes.kit import ProbeKit
from kzprobe.report.observations import Observations, elapsed_ms
from kzprobe.scan import limits as scan_limits
from kzprobe.scan.run import utc_now
from kzprobe.targets import Target


def _answered(result: dict, scheme: str) -> KeywordBase | None:
    """The baseline's address that answered over `scheme` in this scan, or None."""
    target = result.get("target") or {}
    hostname, url = target.get("hostname"), target.get("url") or ""
    observations = result.get("observations") or {}
    if not hostname or not target.get("baseline") or not url.startswith(f"{scheme}://"):
        return None
    if scheme == "https":
        for tls in observations.get("tls") or []:
            if tls.get("hostname") == hostname and "purpose" not in tls and tls.get("handshake_completed") \
                    and tls.get("failure") is None:
                return KeywordBase(target["id"], hostname, tls["address"], tls.get("port"))
        return None
    hops = observations.get("http") or []
    if not hops or hops[0].get("status") is None:
        return None
    for tcp in observations.get("tcp") or []:
        if tcp.get("hostname") == hostname and "purpose" not in tcp and tcp.get("failure") is None:
            return KeywordBase(target["id"], hostname, tcp["address"], tcp.get("port"))
    return None


def keyword_bases(results: Sequence[dict]) -> tuple[KeywordBase | None, KeywordBase | None]:
    """(plain, tls): the first baseline, in list order, that answered plaintext HTTP (an https
    one's address on port 80 when no http:// baseline did), and the first whose TLS handshake
    completed."""
    plain = next((b for r in results if (b := _answered(r, "http")) is not None), None)
    tls = next((b for r in results if (b := _answered(r, "https")) is not None), None)
    if plain is None and tls is not None:  # an https baseline's address, on the plaintext port
        plain = KeywordBase(tls.target_id, tls.hostname, tls.address)
    return plain, tls


def keyword_deadline(timeout: float) -> float:
    """Three rounds at most (neutral, keyword, the caught keyword requests once more), each a
    connect, a handshake or request, and a read."""
    return scan_limits.TARGET_DEADLINE_TIMEOUTS * timeout


async def _measure(kit: ProbeKit, target: Target, plain: KeywordBase | None, tls: KeywordBase | None) -> dict:
    started_at, start = utc_now(), time.monotonic()
    observations: Observations = {}
    assert target.keyword is not None
    try:
        async with asyncio.timeout(keyword_deadline(kit.timeout)):
            await measure_keyword(kit.connector, target.keyword, plain, tls, observations)
    except TimeoutError:
        observations["deadline_exceeded"] = True
    result = {"target": target.to_dict(), "observations": observations, "started_at": started_at,
              "duration_ms": elapsed_ms(start)}
    return kit.scrub.result(result)


def measure_keyword_targets(kit: ProbeKit, targets: Sequence[Target], measured: Sequence[dict],
                            on_result: Callable[[dict], None]) -> None:
    """Measure every keyword target (all at once: a handful of connections each) on the bases
    found in `measured`; each result goes to `on_result` as it completes."""
    plain, tls = keyword_bases(measured)

    async def main() -> None:
        try:
            for done in asyncio.as_completed([_measure(kit, t, plain, tls) for t in targets]):
                on_result(await done)
        finally:
            await kit.aclose()

    asyncio.run(main())
