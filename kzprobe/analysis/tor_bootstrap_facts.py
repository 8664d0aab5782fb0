"""A tor bootstrap record (observations["tor_bootstrap"], probes/tor_bootstrap.py) read as typed
facts: untrusted like every observation, from this scan or from someone else's report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from kzprobe.analysis.explain import cite

# Attempts read per record (the probe makes one per path, two paths), phases per attempt.
_MAX_ATTEMPTS: Final = 4
_MAX_PHASES: Final = 128
# The probe's path names and endings (probes/tor_bootstrap.py); analysis does not import probes.
DIRECT: Final = "direct"
OBFS4: Final = "obfs4"
DONE: Final = "done"
STUCK: Final = "stuck"
TIMEOUT: Final = "timeout"
EXITED: Final = "tor_exited"
NOT_RUN: Final = "not_run"
_ENDINGS: Final = (DONE, STUCK, TIMEOUT, EXITED, NOT_RUN)


@dataclass(frozen=True)
class AttemptFacts:
    path: str
    client: str | None
    progress: int | None  # highest percentage reached
    tag: str | None
    summary: str | None
    ended: str
    duration_s: float
    last_progress_s: float | None  # when the highest percentage was first reported
    problem: str | None  # tor's last bootstrap problem, "Connection refused, CONNECTREFUSED"
    detail: str | None  # why it was not run, or the warning tor exited on
    exit_code: int | None

    @property
    def done(self) -> bool:
        return self.ended == DONE and self.progress == 100

    @property
    def ran(self) -> bool:
        """tor ran and measured the network (not: missing, or exited by itself)."""
        return self.ended in (DONE, STUCK, TIMEOUT)


@dataclass(frozen=True)
class BootstrapFacts:
    tor_version: str | None
    timeout_s: float | None
    attempts: tuple[AttemptFacts, ...]

    def attempt(self, path: str) -> AttemptFacts | None:
        return next((a for a in self.attempts if a.path == path), None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
        return None
    return float(value)


def _text(value: Any, limit: int) -> str | None:
    return cite(value, limit) if isinstance(value, str) and value else None


def _last_progress_s(phases: Any, best: int | None) -> float | None:
    """When the highest percentage was first reported, in seconds since tor started."""
    if best is None or not isinstance(phases, list):
        return None
    for phase in phases[:_MAX_PHASES]:
        if isinstance(phase, dict) and phase.get("progress") == best:
            at = _number(phase.get("at_ms"))
            return at / 1000 if at is not None else None
    return None


def _problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    words = [w for w in (_text(value.get("warning"), 80), _text(value.get("reason"), 40)) if w]
    return ", ".join(words) or None


def _attempt(record: Any) -> AttemptFacts | None:
    if not isinstance(record, dict) or record.get("path") not in (DIRECT, OBFS4):
        return None
    progress = record.get("progress")
    progress = progress if isinstance(progress, int) and not isinstance(progress, bool) and 0 <= progress <= 100 \
        else None
    ended = found if isinstance(found := record.get("ended"), str) and found in _ENDINGS else NOT_RUN
    exit_code = record.get("exit_code")
    return AttemptFacts(
        path=record["path"], client=_text(record.get("client"), 40), progress=progress,
        tag=_text(record.get("tag"), 40), summary=_text(record.get("summary"), 120), ended=ended,
        duration_s=(_number(record.get("duration_ms")) or 0.0) / 1000,
        last_progress_s=_last_progress_s(record.get("phases"), progress), problem=_problem(record.get("problem")),
        detail=_text(record.get("detail"), 200),
        exit_code=exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
    )


def read_bootstrap(result: Any) -> BootstrapFacts | None:
    """The bootstrap facts of a result; None when it holds no tor bootstrap record."""
    observations = result.get("observations") if isinstance(result, dict) else None
    record = observations.get("tor_bootstrap") if isinstance(observations, dict) else None
    if not isinstance(record, dict):
        return None
    attempts = record.get("attempts")
    items = attempts[:_MAX_ATTEMPTS] if isinstance(attempts, list) else []
    first: dict[str, AttemptFacts] = {}  # the first attempt per path
    for attempt in (_attempt(item) for item in items):
        if attempt is not None:
            first.setdefault(attempt.path, attempt)
    return BootstrapFacts(tor_version=_text(record.get("tor_version"), 40),
                          timeout_s=_number(record.get("timeout_s")), attempts=tuple(first.values()))
