"""A page that arrived: reachable, or throttled? Throughput that means something.

A low rate alone is no evidence: a server can be slow for everyone (a small uplink, a backend
that renders slowly). So a rate far below the baselines', or a small page that took seconds, is
throttling only when something else says the path is to blame: the control scan's rate for the
same resource (or its copy of the page) much higher, or the name's own TLS handshake slow
against the baselines (handshakes.py; how OONI found Kazakhstan's 2022-23 throttling). A slow
handshake is throttling evidence by itself. A transfer that froze (stopped, connection open) is
throttling when the control got it whole; without a control it is inconclusive.
"""

from __future__ import annotations

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.conclusion import Verdict, inconclusive, reachable, throttled
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import ControlView
from kzprobe.analysis.explain import cite, sentence
from kzprobe.analysis.facts import TargetFacts
from kzprobe.analysis.handshakes import slow_handshake
from kzprobe.analysis.throughput import Throughput, describe, judge, judge_page, measure


def _rtt_ms(facts: TargetFacts, address: str | None) -> float | None:
    """The TCP connect to `address` for the final page's host: one round trip on this path."""
    final = facts.final_hop
    host = final.host if final is not None and final.host else facts.hostname
    durations = [t.duration_ms for t in facts.tcp_for(host) if t.ok and t.duration_ms is not None
                 and (address is None or t.address == address)]
    return min(durations) if durations else None


def _control_rate(view: ControlView, ours: Throughput) -> Throughput | None:
    """The live control's rate for the same resource when it says the path here is what is slow:
    measured long enough to judge, or a complete transfer too short to judge (a 100 KB page) whose
    rate, a lower bound of what its path carries, is at least twice ours (1 / SLOW_EVERYWHERE_RATIO).
    A stale control says how the site fared hours ago, not now."""
    measured = view.throughput() if view.usable and not view.stale else None
    if measured is None or measured.rate_kbps is None:
        return None
    if measured.judged:
        return measured
    theirs = measured.reference_kbps
    fast = measured.complete and ours.rate_kbps is not None and theirs is not None \
        and ours.rate_kbps <= th.SLOW_EVERYWHERE_RATIO * theirs
    return measured if fast else None


def reachable_or_throttled(facts: TargetFacts, view: ControlView, ctx: Context, index: int,
                           *clauses: str) -> Verdict:
    """Reachable - unless its throughput, its page's time or its handshake shows throttling."""
    handshake = slow_handshake(facts, ctx.handshake_ms, view.facts)
    reference, kind = ctx.connectivity.reference(index)
    label = f"the {kind} baselines' median" if kind else ""
    measured = measure(facts)
    evidence: list[str] = []
    found: list[str] = []
    noted = ""
    if measured is not None:
        control = view.throughput() if view.usable and not view.stale else None
        if measured.froze and (control is None or not control.complete):
            return inconclusive([view.reason, "throughput.freeze"], sentence(
                *clauses, f"{describe(measured) or 'its download'} then stopped after {measured.bytes:,} bytes with "
                          "the connection open",
                "without a control scan that fetched it whole, a freeze cannot be told from a server that hangs"))
        finding = judge(measured, reference, label, control)
        if finding is not None:
            corroborated = _control_rate(view, measured) is not None or handshake is not None \
                or "throughput.low" not in finding.evidence
            if corroborated:
                evidence += finding.evidence
                found.append(finding.explanation)
            else:
                noted = _uncorroborated(finding.explanation)
        else:
            noted = describe(measured)
    elif facts.final_hop is not None:
        final = facts.final_hop
        control_page = view.live_page if view.usable else None
        finding = judge_page(final, _rtt_ms(facts, final.address), reference, label, control_page)
        if finding is not None:
            if control_page is not None or handshake is not None:
                evidence += finding.evidence
                found.append(finding.explanation)
            else:
                noted = _uncorroborated(finding.explanation)
    if handshake is not None:
        evidence.append("throughput.slow_handshake")
        found.append(handshake.explanation)
    if evidence:
        return throttled(evidence, sentence(*clauses, *found))
    return reachable(sentence(*clauses, noted))


def _uncorroborated(finding: str) -> str:
    return (f"{finding}, but a low rate alone cannot tell a throttled path from a slow server: no control "
            "scan's rate for the same resource and no slow handshake for the name say it is the path")


def freeze_clause(url: str, status: int | None, received: int) -> str:
    """The words for a page that froze: it began, then nothing more came with the connection open."""
    return (f"the page {cite(url, 100)} began arriving ({status}) and stopped after {received:,} bytes: "
            "nothing more came for a whole timeout while the connection stayed open")
