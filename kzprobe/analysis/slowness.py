"""A timeout here, a success in the control: blocking, or a site as slow as the timeout?

A censor's silence lasts forever; a slow server's only a little longer than the control needed.
When the control itself needed at least SLOW_CONTROL_SHARE of the time this scan waited before
giving up (a server answering after 0.99 s against a 1 s timeout, a path whose round trip is
close to it), both scans ran the same race and only one of them won: the verdict is
inconclusive, not blocked.
"""

from __future__ import annotations

from collections.abc import Iterable

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.conclusion import Verdict, inconclusive
from kzprobe.analysis.control import ControlView
from kzprobe.analysis.explain import sentence
from kzprobe.analysis.facts import HopFact
from kzprobe.analysis.names import url_path


def as_slow_in_the_control(waited_ms: Iterable[float | None], control_ms: Iterable[float | None]) -> float | None:
    """The control's fastest success (ms) when it took at least SLOW_CONTROL_SHARE of the
    longest wait here (and SLOW_PATH_MIN_MS: a faster success is fast on any path); None when
    the control was clearly faster, or a duration is missing."""
    waits = [w for w in waited_ms if w]
    successes = [c for c in control_ms if c is not None]
    if not waits or not successes:
        return None
    fastest = min(successes)
    return fastest if fastest >= max(th.SLOW_PATH_MIN_MS, th.SLOW_CONTROL_SHARE * max(waits)) else None


def budget_race(hop: HopFact, view: ControlView) -> float | None:
    """For a page still arriving when the target's time ran out here (`body_stopped`
    "time_budget"): the control's complete fetch of the same path (first byte to last, in ms) when
    it took at least SLOW_CONTROL_SHARE of the time this hop waited - a server dripping its page
    for everyone, which the control fetched just inside its own time and this scan just outside.
    None otherwise: another stop (a freeze, a stall: silences no server drips), or a control
    clearly faster."""
    if hop.stopped != "time_budget" or view.facts is None:
        return None
    control_ms = [h.total_ms for h in view.facts.http
                  if h.responded and not h.failure and url_path(h.url) == url_path(hop.url)]
    return as_slow_in_the_control([hop.total_ms], control_ms)


def slow_site(evidence: list[str] | tuple[str, ...], said: str, step: str, control_ms: float,
              waited_ms: float) -> Verdict:
    """Inconclusive: the step timed out here, and the control needed about as long to do it."""
    return inconclusive(list(evidence), sentence(
        said, f"the control scan's {step} took {control_ms:,.0f} ms itself, about as long as this scan waited "
              f"({waited_ms:,.0f} ms): the site is as slow as the timeout, which is no sign of a censor "
              "(a longer --timeout would tell)"), failure_based=True)
