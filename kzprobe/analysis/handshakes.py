"""Slow TLS handshakes for one name: how Kazakhstan's 2022-23 throttling showed.

OONI found www.azattyq.org and others throttled from September 2022 by their handshakes: more
than 2 s to complete (daily medians often above 4 s) while a baseline on the same CDN, often the
same address, stayed normal (ooni.org/post/2023-throttling-kz-elections). A handshake moves a
nearly constant number of bytes, so its time is a fixed-size speed test that needs no control: a
handshake is slow when it took SLOW_HANDSHAKE_MIN_MS or more, SLOW_HANDSHAKE_BASELINE_RATIO times
the median of the scan's baselines (same link, same moment) and SLOW_HANDSHAKE_RTT_RATIO round
trips (the TCP connect to the same address). With a control scan, a control that needed about as
long for the same name (a server slow for everyone) clears it. Without a control's handshake for
the name, the probe's neutral-name handshake to the same address after the slow one (purpose
"slow_check") decides: fast, the name is what is held back; slow too, or not recorded, the server
may be slow for every name and nothing is called.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.facts import TargetFacts, TlsFact
from kzprobe.report import vocabulary as v


@dataclass(frozen=True)
class SlowHandshake:
    address: str
    handshake_ms: float
    connect_ms: float | None
    reference_ms: float
    control_ms: float | None  # the control's fastest handshake for the name, when it has one
    neutral_ms: float | None = None  # the neutral name's handshake to the same address, without a control

    @property
    def explanation(self) -> str:
        rtt = f", {self.handshake_ms / self.connect_ms:,.0f} times the TCP connect to it" \
            if self.connect_ms else ""
        control = f"; the control completed it in {self.control_ms:,.0f} ms" if self.control_ms is not None else ""
        if self.neutral_ms is not None:
            control += (f"; a handshake naming a neutral name at the same address took {self.neutral_ms:,.0f} ms, "
                        "so the server is not slow for every name")
        return (f"the TLS handshake with {self.address} took {self.handshake_ms:,.0f} ms, "
                f"{self.handshake_ms / self.reference_ms:,.1f} times the baselines' median "
                f"({self.reference_ms:,.0f} ms){rtt}{control}")


def _validated(facts: TargetFacts) -> list[TlsFact]:
    return [t for t in facts.tls_for(facts.hostname) if t.ok and t.duration_ms is not None]


def baseline_handshake_ms(results: Sequence[TargetFacts]) -> float | None:
    """The median validated handshake of the scan's baselines with their own names, None without
    one: the same link's normal handshake time."""
    durations = [min(t.duration_ms or 0.0 for t in attempts)  # never None: _validated keeps timed ones
                 for f in results if f.baseline and not f.has_endpoints and (attempts := _validated(f))]
    return statistics.median(durations) if durations else None


def slow_handshake(facts: TargetFacts, reference_ms: float | None,
                   control: TargetFacts | None) -> SlowHandshake | None:
    """The target's handshake was slow by the rule above; None when it was not (or cannot be told:
    no validated handshake, no baseline to compare with). The fastest address decides: one quick
    handshake says the name is not held back."""
    if reference_ms is None or facts.baseline:
        return None
    attempts = _validated(facts)
    if not attempts:
        return None
    fastest = min(attempts, key=lambda t: t.duration_ms or 0.0)
    took = fastest.duration_ms or 0.0
    connects = [t.duration_ms for t in facts.tcp_for(facts.hostname)
                if t.ok and t.address == fastest.address and t.duration_ms is not None]
    connect_ms = min(connects) if connects else None
    if took < th.SLOW_HANDSHAKE_MIN_MS or took < th.SLOW_HANDSHAKE_BASELINE_RATIO * reference_ms:
        return None
    if connect_ms is not None and took < th.SLOW_HANDSHAKE_RTT_RATIO * connect_ms:
        return None
    theirs = [t.duration_ms for t in control.tls_for(facts.hostname) if t.ok and t.duration_ms is not None] \
        if control is not None else []
    if theirs:
        control_ms = min(theirs)
        if control_ms >= th.SLOW_EVERYWHERE_RATIO * took:
            return None  # the control waited about as long: the server is slow, not the path
        return SlowHandshake(fastest.address, took, connect_ms, reference_ms, control_ms)
    neutral_ms = neutral_handshake_ms(facts, fastest.address)
    if neutral_ms is None or neutral_ms >= th.SLOW_HANDSHAKE_MIN_MS or neutral_ms >= th.SLOW_EVERYWHERE_RATIO * took:
        return None  # no neutral handshake, or it was slow too: the server may be slow for every name
    return SlowHandshake(fastest.address, took, connect_ms, reference_ms, None, neutral_ms)


def neutral_handshake_ms(facts: TargetFacts, address: str) -> float | None:
    """The fastest completed neutral-name handshake to `address` made after the slow one
    (purpose "slow_check"), None when none was recorded or none completed."""
    checks = [t.duration_ms for t in facts.extra_tls(facts.hostname, v.PURPOSE_SLOW_CHECK)
              if t.address == address and t.completed and t.duration_ms is not None]
    return min(checks) if checks else None
