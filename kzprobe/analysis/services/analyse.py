"""The entry point for analyse_scan: a service result (observations["endpoints"]) in, a
ServiceVerdict out (analysis/verdict.py dispatches such results here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kzprobe.analysis import explain
from kzprobe.analysis.conclusion import Verdict
from kzprobe.analysis.services.cut import Inside, with_the_cut
from kzprobe.analysis.services.judgement import front_end_member, judge_each, with_mass_failure
from kzprobe.analysis.services.members import Member
from kzprobe.analysis.services.outcomes import OK, UNTESTED_OUTCOMES
from kzprobe.analysis.services.records import read_endpoints, text
from kzprobe.analysis.services.service_verdict import service_verdict
from kzprobe.report import vocabulary as v


@dataclass(frozen=True)
class ServiceVerdict(Verdict):
    """A Verdict that also carries each endpoint's judged outcome and each part's status.

    `to_dict()` gives the web verdict's keys plus "endpoints" and "parts", which the report
    writer merges into the result like the others."""

    endpoints: tuple[dict, ...] = ()
    parts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = super().to_dict()
        data["endpoints"] = [dict(entry) for entry in self.endpoints]
        data["parts"] = dict(self.parts)
        return data


def _context_parts(context: Any) -> tuple[str, Any, str | None]:
    """(connectivity state, fingerprints, the root inspecting this machine's HTTPS) from
    analysis.context.Context, a state string, or a dict."""
    if isinstance(context, str):
        return (context if context in v.CONNECTIVITY else v.ONLINE), None, None
    getter = context.get if isinstance(context, dict) else lambda key: getattr(context, key, None)
    state = getter("connectivity")
    state = getattr(state, "state", state)  # analysis.connectivity.Connectivity, or its state
    root = getattr(getter("local_inspection"), "root", None)
    return (state if state in v.CONNECTIVITY else v.ONLINE), getter("fingerprints"), \
        root if isinstance(root, str) else None


def _control_summary(members: list[Member], control_result: Any, age_s: float | None,
                     stale: bool) -> dict | None:
    """What the control scan said about these endpoints (None without a control result), and
    its age at this measurement (analysis/control.py) when known."""
    if not isinstance(control_result, dict):
        return None
    measured = [m for m in members if m.control is not None and m.control not in UNTESTED_OUTCOMES]
    failing = [m for m in measured if m.control != OK]
    verdict = control_result.get("verdict")
    summary: dict[str, Any] = {
        "verdict": verdict if isinstance(verdict, str) and verdict in v.VERDICTS else None,
        "usable": bool(measured),
        "endpoints_measured": len(measured),
        "endpoints_ok": len(measured) - len(failing),
        "endpoints_failing": [{"endpoint": m.label, "outcome": m.control} for m in failing],
    }
    if age_s is not None:
        summary.update(age_s=age_s, stale=stale)
    return summary


def analyse_service(result: dict, control_result: dict | None, context: Any, *,
                    front_end: Any = None, control_age_s: float | None = None, control_stale: bool = False,
                    interference_elsewhere: bool = False,
                    judged: dict[int, list[Member]] | None = None, inside: Inside | None = None) -> ServiceVerdict:
    """The verdict of a service target (a result whose observations hold "endpoints").

    `control_result`: the same target's result in a usable control scan, or None.
    `context`: analysis.context.Context (best: its fingerprints are used), or the connectivity
    state string. `front_end`: the web rules' verdict (Verdict or dict) for the target's url,
    which analysis/verdict.py computes; None when the url was not measured. Returns a ServiceVerdict:
    `.to_dict()` has "verdict", "blocking", "evidence", "explanation", "control", plus
    "endpoints" (one judged entry per endpoint, the web front end last) and "parts".
    `control_age_s`, `control_stale`: the control's age at this measurement and whether it is
    past the bound (a stale control's successes prove nothing now). `interference_elsewhere`:
    another target of the scan is blocked or throttled on its own evidence, without which the
    mass-failure floor never calls a service blocked (parts.py, judgement.py). `judged`: the
    endpoints judged so far in this scan, by id of the result (analyse_scan judges a service
    twice; only mass failure can differ the second time). `inside`: why an endpoint is reached
    inside the country (analysis/domestic.py), for a scan whose international link is cut."""
    result = result if isinstance(result, dict) else {}
    target: dict[str, Any] = result["target"] if isinstance(result.get("target"), dict) else {}
    name = explain.cite(text(target.get("name"), 200) or text(target.get("id"), 200) or "this service", 60)
    state, fingerprints, local_root = _context_parts(context)
    each = judged.get(id(result)) if judged is not None else None
    if each is None:
        control_endpoints = read_endpoints(control_result.get("observations")) \
            if isinstance(control_result, dict) else None
        each = judge_each(read_endpoints(result.get("observations")), control_endpoints, fingerprints,
                          control_stale=control_stale, local_root=local_root)
        if judged is not None:
            judged[id(result)] = each
    members = with_mass_failure(each, state, interference_elsewhere)
    if state == v.INTERNATIONAL_CUT:
        members = with_the_cut(members, inside)
    if isinstance(front_end, Verdict):
        front_end = front_end.to_dict()
    if isinstance(front_end, dict):
        url = explain.cite(text(target.get("url"), 300) or "web front end", 120)
        members.append(front_end_member(url, front_end))
    verdict, parts = service_verdict(name, members, state, control_stale=control_stale)
    return ServiceVerdict(verdict.verdict, verdict.blocking, verdict.evidence, verdict.explanation,
                          _control_summary(members, control_result, control_age_s, control_stale),
                          verdict.failure_based, tuple(m.to_dict() for m in members), parts)
