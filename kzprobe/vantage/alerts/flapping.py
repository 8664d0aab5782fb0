"""The flapping rule: a subject (a target, or a vantage's connectivity) whose state changed
FLAP_CHANGES times within its last `window` complete scans is unstable; its changes are then
not reported one by one, until it has held one state for a whole window.

Pure: a Track is what a vantage remembers of a subject between scans, and `step` adds one scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Final, Literal

from kzprobe.vantage.alerts.limits import FLAP_CHANGES

# What to say about a subject after a scan.
Decision = Literal["none", "report", "unstable", "suppressed", "stable_again"]
REPORT: Final = "report"  # an ordinary change: report it
UNSTABLE: Final = "unstable"  # this change made it unstable: say so, once
SUPPRESSED: Final = "suppressed"  # changed while unstable: not reported
STABLE_AGAIN: Final = "stable_again"  # held one state for a whole window: say so, once
NONE: Final = "none"  # no change


@dataclass(frozen=True)
class Track:
    """A subject's states in its last complete scans (oldest first, at most a window), and
    whether it is unstable now."""

    states: tuple[str, ...]
    unstable: bool = False

    def to_json(self) -> dict:
        return {"states": list(self.states), "unstable": self.unstable}

    @classmethod
    def from_json(cls, data: object) -> Track | None:
        """A track read back from the state file; None when it is not one."""
        if not isinstance(data, dict):
            return None
        states, unstable = data.get("states"), data.get("unstable")
        if (
            not isinstance(states, list)
            or not all(isinstance(s, str) for s in states)
            or not isinstance(unstable, bool)
        ):
            return None
        return cls(tuple(states), unstable)


def changes_in(states: tuple[str, ...]) -> int:
    """How many times the state changed along `states`."""
    return sum(1 for before, after in pairwise(states) if before != after)


def step(track: Track | None, state: str, window: int) -> tuple[Track, Decision]:
    """The track after one more scan in `state`, and what to say about it."""
    if track is None or not track.states:
        return Track((state,)), NONE
    changed = track.states[-1] != state
    states = (track.states + (state,))[-window:]
    if track.unstable:
        if len(states) == window and len(set(states)) == 1:
            return Track(states, unstable=False), STABLE_AGAIN
        return Track(states, unstable=True), SUPPRESSED if changed else NONE
    if changed and changes_in(states) >= FLAP_CHANGES:
        return Track(states, unstable=True), UNSTABLE
    return Track(states), REPORT if changed else NONE
