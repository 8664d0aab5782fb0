"""Turns for CPU work: how a scan's targets share one process.

A target mostly waits on the network (DNS, the TCP handshake) and now and then works the CPU
(the TLS handshake, HTTP, parsing). A blocked target's wait is long (a dropped SYN costs a full
timeout) and cheap; a healthy target's work is short and costly. So `run_scan` lets targets
start their waits well ahead (admission, parking) and bounds only the work: a target takes a
turn (`cpu_turn`) for its TLS and HTTP, at most `concurrency` turns at once, so that every
timing recorded inside a turn is the network's, not a queue in our own event loop.

A turn held longer than limits.ACTIVE_SLOT_S is usually a wait (a swallowed ClientHello): it
is given back, as the admission is. Work also waits while many lookups are queued behind a
resolver's limit (`Backlog`): answered sooner on a quiet event loop, they let the connections
ahead, a dropped SYN's wait among them, start sooner; the work is the same, only its order
changes. The time spent waiting for a turn, or for a slot under
another of the scan's own limits (a resolver's queries in flight), is recorded (`queued_ms`)
and does not count against the target's deadline: it is our queue, not the network's time.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar


class Backlog:
    """Lookups of a scan queued behind a resolver's limit, shared by its tickets. Turns for
    work wait while more than `limit` are queued: work makes the event loop slow to read
    answers, and every answer late is a connection started late."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queued = 0
        self.caught_up = asyncio.Event()
        self.caught_up.set()

    @asynccontextmanager
    async def queued_lookup(self) -> AsyncIterator[None]:
        self.queued += 1
        if self.queued > self.limit:
            self.caught_up.clear()
        try:
            yield
        finally:
            self.queued -= 1
            if self.queued <= self.limit:
                self.caught_up.set()


class Ticket:
    """One target's place in the scan: its admission (released when it parks or ends) and its
    turns. `admission` and `turns` are the scan's semaphores, shared by all tickets."""

    def __init__(self, admission: asyncio.Semaphore, turns: asyncio.Semaphore, park_after: float,
                 slot_s: float, backlog: Backlog | None = None) -> None:
        self.backlog = backlog
        self._admission = admission
        self._turns = turns
        self._slot_s = slot_s
        self._admitted = True
        self._loop = asyncio.get_running_loop()
        self._park = self._loop.call_later(park_after, self.release_admission)
        self.queued_s = 0.0
        self._waits = 0  # waits in our own queues in progress (a target's lookups wait side by side)
        self._waiting_since = 0.0
        self._paused_deadline: float | None = None
        self.deadline: asyncio.Timeout | None = None  # the target's; waiting for a turn extends it

    def release_admission(self) -> None:
        """Parked or finished: the next target may be admitted."""
        if self._admitted:
            self._admitted = False
            self._admission.release()

    @asynccontextmanager
    async def waiting(self) -> AsyncIterator[None]:
        """Inside: waiting in one of our own queues. Overlapping waits count once; their time is
        recorded and added to the deadline."""
        if self._waits == 0:
            self._waiting_since = time.monotonic()
            # The deadline stops while we wait (it must not fire meanwhile) and resumes after.
            self._paused_deadline = self.deadline.when() if self.deadline is not None else None
            if self._paused_deadline is not None:
                self._reschedule(None)
        self._waits += 1
        try:
            yield
        finally:
            self._waits -= 1
            if self._waits == 0:
                seconds = time.monotonic() - self._waiting_since
                self.queued_s += seconds
                if self._paused_deadline is not None:
                    self._reschedule(self._paused_deadline + seconds)

    def _reschedule(self, when: float | None) -> None:
        try:
            self.deadline.reschedule(when)  # type: ignore[union-attr]  # only called while a deadline is set
        except RuntimeError:  # the deadline has already fired or been left: nothing to move
            pass

    def finish(self) -> None:
        self._park.cancel()
        self.release_admission()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        # Waiting for a turn is not waiting on the network: the target keeps its admission,
        # so that no more targets are admitted than can soon take their turns.
        self._park.cancel()
        if self._turns.locked() or (self.backlog is not None and not self.backlog.caught_up.is_set()):
            async with self.waiting():
                if self.backlog is not None:
                    await self.backlog.caught_up.wait()
                await self._turns.acquire()
        else:
            await self._turns.acquire()
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                self._turns.release()
                self.release_admission()

        timer = self._loop.call_later(self._slot_s, give_back)
        try:
            yield
        finally:
            timer.cancel()
            give_back()


_ticket: ContextVar[Ticket | None] = ContextVar("kzprobe_ticket", default=None)


def current_ticket() -> Ticket | None:
    return _ticket.get()


def without_ticket() -> contextvars.Context:
    """A copy of the current context without the target's ticket: for work a target starts
    beside its own (the control resolver's lookup), whose waits are not the target's queue and
    must not pause its deadline."""
    context = contextvars.copy_context()
    context.run(_ticket.set, None)
    return context


def hold(ticket: Ticket) -> None:
    """Make `ticket` the current task's (run_scan sets it at the start of each target's task)."""
    _ticket.set(ticket)


@asynccontextmanager
async def queue_slot(slots: asyncio.Semaphore) -> AsyncIterator[None]:
    """Inside: a slot of `slots`, one of the scan's own limits; the wait for it is the current
    target's queue time (Ticket.queued)."""
    ticket = _ticket.get()
    if ticket is not None and slots.locked():
        async with ticket.waiting():
            if ticket.backlog is not None:
                async with ticket.backlog.queued_lookup():
                    await slots.acquire()
            else:
                await slots.acquire()
    else:
        await slots.acquire()
    try:
        yield
    finally:
        slots.release()


@asynccontextmanager
async def cpu_turn() -> AsyncIterator[None]:
    """Inside: the current target's turn for CPU work. Without a ticket (a probe run on its
    own, the sequential reference), there is nothing to wait for."""
    ticket = _ticket.get()
    if ticket is None:
        yield
        return
    async with ticket.turn():
        yield
