"""Turns for CPU work (kzprobe/turns.py) and the admission ahead of them (scan.run_scan).

A blocked target's wait is long and cheap, a healthy target's work short and costly: waits
start ahead, work takes turns, and the time a target queues behind the others is recorded
apart from its own and kept out of its deadline.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from kzprobe.probes.turns import Ticket, cpu_turn, current_ticket, hold, queue_slot
from kzprobe.scan import run as scan


def run(coro):
    return asyncio.run(coro)


def test_without_a_ticket_a_turn_is_not_waited_for():
    async def main():
        async with cpu_turn():
            return current_ticket()

    assert run(main()) is None


def test_a_target_queued_for_a_turn_keeps_its_admission_and_records_the_wait():
    async def main():
        admission, turns = asyncio.Semaphore(2), asyncio.Semaphore(1)
        await admission.acquire()
        await admission.acquire()
        first = Ticket(admission, turns, park_after=0.05, slot_s=10.0)
        second = Ticket(admission, turns, park_after=0.05, slot_s=10.0)
        order = []

        async def work(ticket, name, seconds):
            hold(ticket)
            async with cpu_turn():
                order.append(name)
                await asyncio.sleep(seconds)
            ticket.finish()

        one = asyncio.create_task(work(first, "first", 0.2))
        two = asyncio.create_task(work(second, "second", 0.0))
        await asyncio.sleep(0.1)  # beyond park_after: a queued target must not have parked
        admitted_while_queued = admission.locked()
        await asyncio.gather(one, two)
        return order, admitted_while_queued, first.queued_s, second.queued_s, admission.locked()

    order, admitted_while_queued, first_queued, second_queued, still_locked = run(main())
    assert order == ["first", "second"]
    assert admitted_while_queued  # both still hold their admission
    assert first_queued == 0.0 and 0.15 < second_queued < 0.5
    assert not still_locked  # finished tickets gave their admission back


def test_waiting_for_a_turn_does_not_count_against_the_deadline():
    # A target allowed 0.3 s that queues 0.4 s behind another and then needs 0.1 s finishes.
    async def main():
        admission, turns = asyncio.Semaphore(10), asyncio.Semaphore(1)
        blocker = Ticket(admission, turns, 1.0, 10.0)
        late = Ticket(admission, turns, 1.0, 10.0)

        async def hog():
            hold(blocker)
            async with cpu_turn():
                await asyncio.sleep(0.4)

        async def target():
            hold(late)
            async with asyncio.timeout(0.3) as deadline:
                late.deadline = deadline
                async with cpu_turn():
                    await asyncio.sleep(0.1)
            return "measured"

        hogging = asyncio.create_task(hog())
        await asyncio.sleep(0)
        outcome = await target()
        await hogging
        return outcome, late.queued_s

    outcome, queued = run(main())
    assert outcome == "measured" and queued > 0.3


def test_a_turn_held_past_the_slot_is_given_back():
    # A swallowed ClientHello waits inside its turn: after slot_s the next target may work.
    async def main():
        admission, turns = asyncio.Semaphore(10), asyncio.Semaphore(1)
        stuck = Ticket(admission, turns, 1.0, slot_s=0.1)
        other = Ticket(admission, turns, 1.0, slot_s=0.1)
        got_turn_at = {}
        start = time.monotonic()

        async def take(ticket, name, seconds):
            hold(ticket)
            async with cpu_turn():
                got_turn_at[name] = time.monotonic() - start
                await asyncio.sleep(seconds)

        await asyncio.gather(take(stuck, "stuck", 1.0), take(other, "other", 0.0))
        return got_turn_at

    got_turn_at = run(main())
    assert got_turn_at["stuck"] < 0.05 and 0.08 < got_turn_at["other"] < 0.5


def test_overlapping_waits_in_our_own_queues_count_once():
    async def main():
        admission, turns = asyncio.Semaphore(10), asyncio.Semaphore(1)
        ticket = Ticket(admission, turns, 1.0, 10.0)
        slots = asyncio.Semaphore(1)
        await slots.acquire()
        asyncio.get_running_loop().call_later(0.2, slots.release)

        async def lookup():
            hold(ticket)
            async with queue_slot(slots):
                await asyncio.sleep(0)

        # A and AAAA, probe and control resolver: four lookups wait side by side.
        await asyncio.gather(*(lookup() for _ in range(4)))
        return ticket.queued_s

    queued = run(main())
    assert 0.15 < queued < 0.4  # not four times the wait


# -- the scheduler: waits start ahead, work takes turns


def cpu(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:  # busy: the event loop can do nothing else meanwhile
        pass


@pytest.fixture
def fake_targets(monkeypatch):
    """Targets that first wait on the network (a dropped SYN waits long) and then work the CPU."""
    inside_turns = {"now": 0, "most": 0}

    async def measure(kit, target):
        start = time.monotonic()
        await asyncio.sleep(target.wait)  # DNS, TCP: no turn
        if target.work:
            async with cpu_turn():
                inside_turns["now"] += 1
                inside_turns["most"] = max(inside_turns["most"], inside_turns["now"])
                for _ in range(3):  # TLS, request, body: work between round trips
                    cpu(target.work / 3)
                    await asyncio.sleep(0)
                inside_turns["now"] -= 1
        ticket = current_ticket()
        result = {"target": {"id": target.id}, "observations": {},
                  "duration_ms": (time.monotonic() - start) * 1000}
        if ticket is not None and ticket.queued_s:
            result["queued_ms"] = ticket.queued_s * 1000
        return result

    monkeypatch.setattr(scan, "measure_target", measure)
    return inside_turns


def target(tid: str, wait: float, work: float) -> SimpleNamespace:
    return SimpleNamespace(id=tid, baseline=None, wait=wait, work=work)


def test_a_dropped_syn_late_in_the_list_waits_alongside_the_work(fake_targets):
    # 60 healthy targets of 10 ms CPU each (0.6 s of work), then one whose SYN is dropped (0.8 s).
    # Admitted ahead of the work, its wait overlaps it: the scan takes about the larger of the
    # two, not their sum.
    targets = [target(f"healthy-{i}", 0.005, 0.010) for i in range(60)] + [target("dropped", 0.8, 0.0)]
    results: list[dict] = []
    start = time.monotonic()
    assert run(scan.run_scan(None, targets, 4, results.append))
    wall = time.monotonic() - start
    assert len(results) == 61
    assert wall < 1.15, f"{wall:.2f} s: the dropped SYN waited after the work instead of alongside it"


def test_no_more_than_concurrency_targets_work_at_once_and_queueing_is_recorded(fake_targets):
    targets = [target(f"t{i}", 0.001, 0.006) for i in range(40)]
    results: list[dict] = []
    assert run(scan.run_scan(None, targets, 3, results.append))
    assert fake_targets["most"] <= 3
    queued = [r.get("queued_ms", 0.0) for r in results]
    assert max(queued) > 0  # 40 targets, 3 turns: most waited
    assert all(q <= r["duration_ms"] for q, r in zip(queued, results, strict=True))


def test_work_waits_while_many_lookups_are_queued_behind_a_resolver():
    # Lookups answered on a quiet event loop let connections (a dropped SYN's wait) start
    # sooner: a turn is not granted while more than the backlog's limit wait for a slot.
    from kzprobe.probes.turns import Backlog

    async def main():
        admission, turns, backlog = asyncio.Semaphore(100), asyncio.Semaphore(4), Backlog(limit=2)
        resolver = asyncio.Semaphore(1)
        events: list[str] = []

        async def lookup(i):
            hold(Ticket(admission, turns, 1.0, 10.0, backlog))
            async with queue_slot(resolver):
                await asyncio.sleep(0.01)
                events.append(f"lookup-{i}")

        async def work():
            worker = Ticket(admission, turns, 1.0, 10.0, backlog)
            hold(worker)
            async with cpu_turn():
                events.append("work")
            return worker.queued_s

        lookups = [asyncio.create_task(lookup(i)) for i in range(6)]
        await asyncio.sleep(0)  # all six queued: five behind the resolver's one slot
        queued = await work()
        await asyncio.gather(*lookups)
        return events, queued

    events, queued = run(main())
    # Five wait behind lookup-0; the turn comes once only 2 are left waiting: lookups 0-2
    # answered, lookup-3 sent, 4 and 5 queued.
    assert events.index("work") == 3 and queued > 0.02
