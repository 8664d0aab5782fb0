"""Asking a failed DNS query again: resolvers are allowed to be flaky.

An ISP resolver that answers SERVFAIL once (its own query upstream still in flight), refuses a
burst, or loses a packet is not a censor; read as a failure at once, it made a working name
"blocked/dns". So a query that failed with SERVFAIL, REFUSED or no reply is asked again, spaced
and bounded (probes/limits.py: DNS_ATTEMPTS, DNS_RETRY_WAITS_S, DNS_RETRY_BUDGET_TIMEOUTS), and
only the last attempt's outcome counts. Every earlier attempt stays in the observation
(`failed_attempts`), so a report shows how flaky the resolver was.

A healthy lookup costs nothing more: nothing is asked again after an answer, an NXDOMAIN or an
empty NOERROR (statements a resolver makes, not failures), and a query whose sibling (A beside
AAAA) has already brought addresses is left as it is: its failure no longer decides anything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

from kzprobe.probes import limits
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import DnsAttempt, DnsQuery

# Failures that say the resolver did not do its job this time, not what the name is.
RETRIED_FAILURES: Final = frozenset({v.DNS_SERVFAIL, v.DNS_REFUSED, v.DNS_TIMEOUT, v.GENERIC_TIMEOUT})

# One attempt of the query, waiting at most the given seconds for a reply.
Attempt = Callable[[float], Awaitable[DnsQuery]]


async def ask_until_answered(attempt: Attempt, timeout: float, answered: asyncio.Event | None = None) -> DnsQuery:
    """The query's last attempt, with the earlier failed ones in `failed_attempts`.

    `timeout` is the scan's per-operation timeout; `answered` is set by any query of the same
    lookup that brought addresses (this one included), and stops the retries of the others."""
    query = await attempt(timeout)
    _note_answer(query, answered)
    earlier: list[DnsAttempt] = []
    budget_ends = time.monotonic() + limits.DNS_RETRY_BUDGET_TIMEOUTS * timeout
    for wait in limits.DNS_RETRY_WAITS_S[: limits.DNS_ATTEMPTS - 1]:
        if query["failure"] not in RETRIED_FAILURES or time.monotonic() + wait >= budget_ends:
            break
        if await _sibling_answered_within(answered, wait):
            break
        earlier.append(DnsAttempt(rcode=query["rcode"], failure=str(query["failure"]),
                                  duration_ms=query["duration_ms"], waited_ms=round(wait * 1000, 1)))
        query = await attempt(min(timeout, budget_ends - time.monotonic()))
        _note_answer(query, answered)
    if earlier:
        query["failed_attempts"] = earlier
    return query


def _note_answer(query: DnsQuery, answered: asyncio.Event | None) -> None:
    if answered is not None and query["answers"]:
        answered.set()


async def _sibling_answered_within(answered: asyncio.Event | None, seconds: float) -> bool:
    """Wait `seconds` before the next attempt; True as soon as another query answered."""
    if answered is None:
        await asyncio.sleep(seconds)
        return False
    if answered.is_set():
        return True
    try:
        await asyncio.wait_for(answered.wait(), seconds)
    except TimeoutError:
        return False
    return True
