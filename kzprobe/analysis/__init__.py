"""Analysis: observations, controls and baselines in; verdicts out. Pure and deterministic.

No network, no clock, no randomness: the same results and control give the same verdicts, so a
saved report can be re-analysed offline with new fingerprints or a new control scan. The rules,
their order and every threshold are written down in docs/methodology.md.

    analyse_scan(results, control_report) -> ScanAnalysis(connectivity, baselines, verdicts)
    analyse_report(report, control_report) -> a new report with every verdict recomputed

A result is read once into typed facts (facts.py); the baselines give the connectivity
(connectivity.py, with captive.py); inspection.py finds a root re-signing the whole scan's HTTPS
(an antivirus or a proxy on this machine or its network); the control scan is matched per target
(control.py); then verdict.py applies
the rules in order: dns_rules, transport_rules (TCP, TLS), http_rules (with pages.py comparing
pages), throughput; services/ judges messengers. Fingerprints are data (fingerprint_file.py
reads kzprobe/data/fingerprints.yaml, fingerprints.py matches); every number is in
thresholds.py; explanations are built from explain.py's pieces. docs/architecture.md follows a
target through them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kzprobe.analysis.connectivity import assess_connectivity
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import ControlScan
from kzprobe.analysis.domestic import Answered
from kzprobe.analysis.facts import read_result
from kzprobe.analysis.fingerprint_file import FingerprintError, bundled_fingerprints, load_fingerprints
from kzprobe.analysis.fingerprints import Fingerprints
from kzprobe.analysis.handshakes import baseline_handshake_ms
from kzprobe.analysis.inspection import find_local_inspection
from kzprobe.analysis.quic_rules import quic_verdict
from kzprobe.analysis.verdict import learn_blockpage_addresses, own_interference, target_verdict
from kzprobe.report import vocabulary as v

__all__ = [
    "ScanAnalysis",
    "analyse_scan",
    "analyse_report",
    "FingerprintError",
    "Fingerprints",
    "bundled_fingerprints",
    "load_fingerprints",
]

@dataclass
class ScanAnalysis:
    connectivity: str  # online | international_cut | offline | captive_portal
    baselines: dict  # which baselines worked, and the baseline throughput figure
    verdicts: list[dict]  # same order as the results: {"verdict", "blocking", "evidence", "explanation", "control"}


def analyse_scan(results: list[dict], control_report: dict | None, *,
                 fingerprints: Fingerprints | None = None, control_max_age_s: float | None = None,
                 outside_contact: str | None = None) -> ScanAnalysis:
    """Verdicts for measured results (or a saved report's results, whose old verdicts are ignored).

    `control_report` is a whole report from an uncensored vantage, or None. `fingerprints`
    defaults to kzprobe/data/fingerprints.yaml. `control_max_age_s`: how far apart the control's
    measurement and this one may be for the control to be live (thresholds.CONTROL_MAX_AGE_S).
    `outside_contact` says how the vantage is known to have been online besides its targets
    (analysis/connectivity.py), None for a scan."""
    raw = results if isinstance(results, list) else []
    facts = [read_result(r) for r in raw]
    fingerprints = fingerprints or bundled_fingerprints()
    connectivity = assess_connectivity(facts, lambda hop: fingerprints.page(hop) is not None, outside_contact)
    control = ControlScan(control_report, control_max_age_s)
    views = [control.view(f) for f in facts]
    ctx = Context(fingerprints, connectivity)
    inspection = find_local_inspection(facts, fingerprints)
    if inspection is not None:
        # Recorded with the baselines, beside a captive portal: a fact about the vantage, not a target.
        connectivity = replace(connectivity, baselines={**connectivity.baselines,
                                                        "local_inspection": inspection.to_dict()})
    ctx = Context(ctx.fingerprints, connectivity, learn_blockpage_addresses(facts, views, ctx),
                  baseline_handshake_ms(facts), inspection)
    answered = Answered.of(facts)
    endpoints_judged: dict = {}  # a service is judged twice: its endpoints once

    def verdict(i: int, interference_elsewhere: bool = False) -> dict:
        control_result = None if control.problem else control.raw_result(facts[i])
        judged = target_verdict(facts[i], i, views[i], ctx, raw[i], control_result, answered=answered,
                                interference_elsewhere=interference_elsewhere, judged=endpoints_judged).to_dict()
        # QUIC is judged beside the target's verdict, never into it (analysis/quic_rules.py).
        quic = quic_verdict(raw[i], control_result, connectivity.state)
        if quic is not None:
            judged["quic"] = quic
        return judged

    # A scan of the service alone (an imported OONI messenger measurement) has nothing else to
    # compare with: the shape of its failures decides, as in OONI's own rule.
    if len(facts) == 1 and facts[0].has_endpoints:
        return ScanAnalysis(connectivity.state, connectivity.baselines, [verdict(0, interference_elsewhere=True)])
    verdicts = [verdict(i) for i in range(len(facts))]
    # Services are judged again once the scan's other verdicts are known: their mass-failure
    # floor calls a service blocked only where something else in the scan is (verdict.py).
    wrong = [i for i, item in enumerate(verdicts) if own_interference(item)]
    for i, f in enumerate(facts):
        if f.has_endpoints and any(j != i for j in wrong):
            verdicts[i] = verdict(i, interference_elsewhere=True)
    return ScanAnalysis(connectivity.state, connectivity.baselines, verdicts)


def summarise(verdicts: list[dict]) -> dict[str, int]:
    counts = {verdict: 0 for verdict in v.VERDICTS}
    for item in verdicts:
        if item.get("verdict") in counts:
            counts[item["verdict"]] += 1
    return counts


def analyse_report(report: dict, control_report: dict | None, *,
                   fingerprints: Fingerprints | None = None, control_max_age_s: float | None = None) -> dict:
    """A new report dict: connectivity, baselines, summary and every result's verdict recomputed.

    The input is not modified; results that are not objects are dropped (they cannot be analysed
    or shown). Without `control_max_age_s`, the bound the scan recorded in its settings is used
    (the default bound for reports that recorded none), so a re-analysis judges as the scan did."""
    results = [r for r in report.get("results", []) if isinstance(r, dict)] \
        if isinstance(report.get("results"), list) else []
    if control_max_age_s is None:
        control_max_age_s = recorded_control_max_age(report)
    baselines = found if isinstance(found := report.get("baselines"), dict) else {}
    contact = baselines.get("outside_contact")
    analysis = analyse_scan(results, control_report, fingerprints=fingerprints, control_max_age_s=control_max_age_s,
                            outside_contact=contact[:300] if isinstance(contact, str) and contact else None)
    new: dict[str, Any] = dict(report)
    new["connectivity"] = analysis.connectivity
    new["baselines"] = analysis.baselines
    new["summary"] = summarise(analysis.verdicts)
    new["results"] = [_merged(result, verdict) for result, verdict in zip(results, analysis.verdicts, strict=True)]
    return new


def recorded_control_max_age(report: dict) -> float | None:
    """The control age bound a report's scan was made with (settings.control_max_age_s), if any."""
    settings = report.get("settings") if isinstance(report, dict) else None
    value = settings.get("control_max_age_s") if isinstance(settings, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        return None
    return float(value)


def _merged(result: dict, verdict: dict) -> dict:
    """The result with its verdict fields replaced, in the report's field order."""
    merged: dict[str, Any] = {"target": result.get("target")}
    merged.update(verdict)
    merged.update({key: value for key, value in result.items() if key not in merged})
    return merged
