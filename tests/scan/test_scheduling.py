"""The scheduler: timeouts must not starve healthy targets; a stop keeps what was measured."""

import asyncio
import time
from types import SimpleNamespace

import pytest

from kzprobe.scan import run as scan


def fake_targets(slow: int, fast: int, baselines: int = 0):
    targets = [SimpleNamespace(id=f"slow{i}", baseline=None, delay=1.5) for i in range(slow)]
    targets += [SimpleNamespace(id=f"fast{i}", baseline=None, delay=0.01) for i in range(fast)]
    targets += [SimpleNamespace(id=f"base{i}", baseline="domestic", delay=0.01) for i in range(baselines)]
    return targets


@pytest.fixture
def fake_measure(monkeypatch):
    started: list[str] = []

    async def measure(kit, target):
        started.append(target.id)
        await asyncio.sleep(target.delay)
        return {"target": {"id": target.id}, "observations": {}}

    monkeypatch.setattr(scan, "measure_target", measure)
    monkeypatch.setattr(scan.limits, "ACTIVE_SLOT_S", 0.2)
    return started


def run(targets, concurrency, stop_after=None):
    results = []

    async def main():
        stop = asyncio.Event()
        if stop_after is not None:
            asyncio.get_running_loop().call_later(stop_after, stop.set)
        return await scan.run_scan(None, targets, concurrency, results.append, stop)

    start = time.monotonic()
    complete = asyncio.run(main())
    return complete, results, time.monotonic() - start


def test_waiting_targets_step_aside_for_healthy_ones(fake_measure):
    # 8 targets that wait 1.5 s each with 4 slots: one after another in slots would take 3 s+;
    # parked after 0.2 s they all finish in about one wait.
    complete, results, wall = run(fake_targets(slow=8, fast=40), concurrency=4)
    assert complete and len(results) == 48
    assert wall < 2.4
    fast_done = [i for i, r in enumerate(results) if r["target"]["id"].startswith("fast")]
    assert max(fast_done) < 40  # every healthy target finished before the slow ones


def test_in_flight_targets_are_capped(fake_measure, monkeypatch):
    monkeypatch.setattr(scan.scan_limits, "PARKED_FACTOR", 2)
    complete, results, wall = run(fake_targets(slow=8, fast=0), concurrency=2)
    # at most 4 in flight: two rounds of 1.5 s
    assert complete and len(results) == 8 and 2.9 < wall < 4.5


def test_baselines_are_measured_first(fake_measure):
    run(fake_targets(slow=0, fast=10, baselines=3), concurrency=1)
    assert fake_measure[:3] == ["base0", "base1", "base2"]


def test_stop_keeps_finished_results_and_reports_incomplete(fake_measure, monkeypatch):
    monkeypatch.setattr(scan, "STOP_GRACE_S", 0.1)
    targets = fake_targets(slow=0, fast=5) + fake_targets(slow=4, fast=200)
    complete, results, wall = run(targets, concurrency=1, stop_after=0.3)
    assert not complete
    assert 5 <= len(results) < 209
    assert wall < 1.5
