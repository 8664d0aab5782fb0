"""The verdict of the tor bootstrap result (`kzprobe scan --tor-bootstrap`), path by path.

Each path (tor's defaults, "direct"; the obfs4 bridges, "obfs4") is judged like a Tor endpoint,
against the control vantage's bootstrap of the same path (docs/methodology.md, "The tor
bootstrap"): done here is ok; stopped below 100 % ("stuck": tor recommended warning the user, or
no progress in its last TOR_BOOTSTRAP_STALL_S) where the control reached 100 % within half the
bound is blocked at the layer of the phase it stopped in; stopped from the control too is down;
without a usable control it is unclear (control.missing, control.stale, control.failed), never
blocked; still advancing when its time ran out is slow, unclear; tor missing or exiting by itself
measured nothing (tor.not_run). The result names each path's state in its "parts", and its
explanation says which path still works - a partial outage, named, like the messengers'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.conclusion import Verdict, blocked, down, inconclusive, reachable
from kzprobe.analysis.control import ControlView
from kzprobe.analysis.explain import sentence
from kzprobe.analysis.services.parts import PART_BLOCKED, PART_DOWN, PART_INCONCLUSIVE, PART_OK, PART_UNTESTED
from kzprobe.analysis.tor_bootstrap_facts import STUCK, TIMEOUT, AttemptFacts, BootstrapFacts, read_bootstrap
from kzprobe.report import vocabulary as v

STUCK_CODE: Final = "tor.bootstrap_stuck"
SLOW_CODE: Final = "tor.bootstrap_slow"
NOT_RUN_CODE: Final = "tor.not_run"
NAME: Final = "Tor bootstrap"

# The layer a stop in each stretch of phases shows, by percentage (probes/tor_log.PHASES): before
# 10 % (conn_done) no relay or bridge took a connection; from there to 75 % (enough_dirinfo) a
# relay took it and the handshake, or tor's traffic inside its TLS, did not get through; 76-84 %
# (ap_conn*) no relay took the connection for the first circuit; 85 % and on, its handshake or
# the circuit inside it did not complete.
_LAYERS: Final = ((10, "tcp"), (76, "tls"), (85, "tcp"), (101, "tls"))


@dataclass(frozen=True)
class BootstrapVerdict(Verdict):
    """A Verdict with each path's status, merged into the result as "parts" (like a service's)."""

    parts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "parts": dict(self.parts)}


@dataclass(frozen=True)
class PathJudgement:
    attempt: AttemptFacts
    status: str  # PART_* (analysis/services/parts.py)
    codes: tuple[str, ...]  # evidence for a path that did not get through
    clause: str  # what happened, as said in the explanation


def bootstrap_result(result: Any) -> BootstrapFacts | None:
    """The bootstrap facts of a result, or None: analysis/verdict.py dispatches on it."""
    return read_bootstrap(result)


def phase_layer(progress: int | None) -> str:
    """The blocking layer a bootstrap stopped at `progress` % shows."""
    return next(layer for bound, layer in _LAYERS if (progress or 0) < bound)


def _path_name(attempt: AttemptFacts) -> str:
    if attempt.path == "obfs4":
        return "the bootstrap through the obfs4 bridges" + (f" ({attempt.client})" if attempt.client else "")
    return "the direct bootstrap"


def _reached(attempt: AttemptFacts) -> str:
    if attempt.progress is None:
        return "no bootstrap progress at all"
    phase = f"{attempt.tag}: {attempt.summary}" if attempt.summary else str(attempt.tag)
    return f"{attempt.progress} % ({phase})"


def stalled(attempt: AttemptFacts, bound_s: float) -> bool:
    """Stopped, not slow: tor recommended a warning, or nothing advanced in the last stretch."""
    if attempt.ended == STUCK:
        return True
    if attempt.ended != TIMEOUT:
        return False
    quiet = attempt.duration_s - (attempt.last_progress_s or 0.0)
    return quiet >= min(th.TOR_BOOTSTRAP_STALL_S, bound_s / 3)


def _stop_clause(attempt: AttemptFacts, bound_s: float) -> str:
    said = f", tor reporting {attempt.problem}" if attempt.problem else ""
    if attempt.ended == STUCK:
        return (f"{_path_name(attempt)} stopped at {_reached(attempt)}: tor recommended a warning after "
                f"{attempt.duration_s:.1f} s{said}")
    return (f"{_path_name(attempt)} stopped at {_reached(attempt)}, no further for its last "
            f"{attempt.duration_s - (attempt.last_progress_s or 0.0):.0f} s of {bound_s:g} s{said}")


def _judge(attempt: AttemptFacts, control: AttemptFacts | None, control_reason: str | None,
           bound_s: float) -> PathJudgement:
    """One path here against the same path in the control (control_reason: why there is no
    usable control, as an evidence code; None when the control is usable)."""
    if not attempt.ran:
        why = attempt.detail or (f"tor exited with status {attempt.exit_code}" if attempt.exit_code is not None
                                 else "not run")
        return PathJudgement(attempt, PART_UNTESTED, (NOT_RUN_CODE,), f"{_path_name(attempt)} measured nothing ({why})")
    if attempt.done:
        return PathJudgement(attempt, PART_OK, (), f"{_path_name(attempt)} reached 100 % in {attempt.duration_s:.1f} s")
    if not stalled(attempt, bound_s):
        return PathJudgement(attempt, PART_INCONCLUSIVE, (SLOW_CODE,), (
            f"{_path_name(attempt)} was still advancing at {_reached(attempt)} when its {bound_s:g} s ran out: slow, "
            "not stopped"))
    stop = _stop_clause(attempt, bound_s)
    if control_reason is None and control is not None and control.ran:
        if control.done and control.duration_s <= th.TOR_BOOTSTRAP_CONTROL_SHARE * bound_s:
            return PathJudgement(attempt, PART_BLOCKED, (STUCK_CODE,),
                                 f"{stop}, while the control bootstrapped it to 100 % in {control.duration_s:.1f} s")
        if control.done:
            return PathJudgement(attempt, PART_INCONCLUSIVE, (STUCK_CODE, "control.failed"), (
                f"{stop}; the control needed {control.duration_s:.1f} s of its bound to bootstrap it, too long to "
                "tell a block from a slow path"))
        return PathJudgement(attempt, PART_DOWN, (STUCK_CODE,),
                             f"{stop}, and the control's stopped too, at {_reached(control)}")
    reason = control_reason or "control.missing"
    why = {"control.missing": "no control scan bootstrapped this path",
           "control.stale": "the control scan's bootstrap is too old to say it works now",
           "control.failed": "the control scan is unusable here"}.get(reason, "no usable control")
    return PathJudgement(attempt, PART_INCONCLUSIVE, (STUCK_CODE, reason), f"{stop}; {why}")


def _control_reason(view: ControlView, control: BootstrapFacts | None) -> str | None:
    """None when the control scan's bootstrap can be compared with; else the evidence code why not."""
    if view.stale:
        return "control.stale"
    if control is None:
        return "control.missing" if view.missing or view.problem is None else "control.failed"
    return None


def control_facts(view: ControlView, control: BootstrapFacts | None, control_verdict: Any) -> dict | None:
    """The control's bootstrap as recorded with the verdict; None without a control scan."""
    if control is None and view.missing:
        return None
    summary: dict[str, Any] = {
        "verdict": control_verdict if control_verdict in v.VERDICTS else None,
        "usable": control is not None and not view.stale,
        "attempts": [{"path": a.path, "progress": a.progress, "tag": a.tag, "ended": a.ended,
                      "duration_s": round(a.duration_s, 1)} for a in (control.attempts if control else ())],
    }
    if control is None and view.problem:
        summary["problem"] = view.problem
    if view.age_s is not None:
        summary.update(age_s=view.age_s, stale=view.stale)
    return summary


def bootstrap_verdict(facts: BootstrapFacts, control: BootstrapFacts | None, connectivity: str,
                      view: ControlView) -> tuple[Verdict, dict[str, str]]:
    """The verdict of a bootstrap result and each path's status (the result's "parts")."""
    bound_s = facts.timeout_s or max((a.duration_s for a in facts.attempts), default=0.0) or 1.0
    reason = _control_reason(view, control)
    judged = [_judge(a, control.attempt(a.path) if control else None, reason, bound_s) for a in facts.attempts]
    parts = {j.attempt.path: j.status for j in judged}
    working = [j for j in judged if j.status == PART_OK]
    failing = [j for j in judged if j.status not in (PART_OK, PART_UNTESTED)]
    if not working and not failing:
        details = {j.attempt.detail for j in judged}
        clauses = [f"{next(iter(details))}"] if len(details) == 1 and None not in details \
            else [j.clause for j in judged] or ["the record holds no attempt"]
        return inconclusive([NOT_RUN_CODE], sentence(f"{NAME} not measured: " + "; ".join(clauses))), parts
    if connectivity == v.CAPTIVE_PORTAL and not working:
        return inconclusive(["connectivity.captive_portal"], sentence(
            f"{NAME} unclear: this network is behind a captive portal (a login page answers for every site)",
            *(j.clause for j in failing))), parts
    if connectivity == v.INTERNATIONAL_CUT and not working:
        return blocked("network", ["connectivity.international_cut", *_codes(failing)], sentence(
            f"{NAME} cut off with the international link (only domestic baselines answered)",
            *(j.clause for j in failing))), parts
    stopped = [j for j in judged if j.status == PART_BLOCKED]
    if stopped:
        layer = phase_layer(stopped[0].attempt.progress)
        rest = [j.clause + (": the way around works" if j.status == PART_OK else "")
                for j in judged if j.status != PART_BLOCKED]
        return blocked(layer, _codes(stopped), sentence(
            f"{NAME} {'partly blocked' if working else 'blocked'} at {layer}: " + "; ".join(j.clause for j in stopped),
            *rest)), parts
    first = working[0] if working else failing[0]
    rest = [j.clause for j in judged if j is not first]
    if working:
        return reachable(sentence(f"{NAME} works: {first.clause}", *rest)), parts
    if all(j.status == PART_DOWN for j in failing):
        return down(_codes(failing), sentence(f"{NAME} fails from the control too: {first.clause}", *rest)), parts
    return inconclusive(_codes(failing), sentence(f"{NAME} unclear: {first.clause}", *rest)), parts


def judge_bootstrap(facts: BootstrapFacts, control_result: Any, connectivity: str,
                    view: ControlView) -> BootstrapVerdict:
    """The bootstrap result's verdict, with the control's bootstrap recorded beside it."""
    control = read_bootstrap(control_result)
    verdict, parts = bootstrap_verdict(facts, control, connectivity, view)
    control_verdict = control_result.get("verdict") if isinstance(control_result, dict) else None
    return BootstrapVerdict(verdict.verdict, verdict.blocking, verdict.evidence, verdict.explanation,
                            control_facts(view, control, control_verdict), verdict.failure_based, parts)


def _codes(judged: list[PathJudgement]) -> list[str]:
    return [code for j in judged for code in j.codes]
