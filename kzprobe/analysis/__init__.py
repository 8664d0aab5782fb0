"""Analysis: observations, controls and baselines in; verdicts out. Pure and deterministic.

No network, no clock, no randomness: the same results and control give the same verdicts, so a
saved report can be re-analysed offline with new fingerprints or a new control scan. The rules,
their order and every threshold are written down in docs/methodology.md.

    analyse_scan(results, control_report) -> ScanAnalysis(connectivity, baselines, verdicts)
    analyse_report(report, control_report) -> a new report with every verdict recomputed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kzprobe.report import vocabulary as v
from kzprobe.analysis.connectivity import assess_connectivity
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import ControlScan
from kzprobe.analysis.facts import read_result
from kzprobe.analysis.fingerprint_file import FingerprintError, load_fingerprints
from kzprobe.analysis.fingerprints import Fingerprints, bundled_fingerprints
from kzprobe.analysis.verdict import learn_blockpage_addresses, target_verdict

__all__ = [
    "ScanAnalysis",
    "analyse_scan",
    "analyse_report",
    "FingerprintError",
    "Fingerprints",
    "bundled_fingerprints",
    "load_fingerprints",
]

VERDICT_FIELDS = ("verdict", "blocking", "evidence", "explanation", "control")


@dataclass
class ScanAnalysis:
    connectivity: str  # online | international_cut | offline
    baselines: dict  # which baselines worked, and the baseline throughput figure
    verdicts: list[dict]  # same order as the results: {"verdict", "blocking", "evidence", "explanation", "control"}


def analyse_scan(results: list[dict], control_report: dict | None, *,
                 fingerprints: Fingerprints | None = None, outside_contact: str | None = None) -> ScanAnalysis:
    """Verdicts for measured results (or a saved report's results, whose old verdicts are ignored).

    `control_report` is a whole report from an uncensored vantage, or None. `fingerprints`
    defaults to kzprobe/data/fingerprints.yaml. `outside_contact` says how the vantage is known
    to have been online besides its targets (analysis/connectivity.py), None for a scan."""
    raw = results if isinstance(results, list) else []
    facts = [read_result(r) for r in raw]
    connectivity = assess_connectivity(facts, outside_contact)
    control = ControlScan(control_report)
    views = [control.view(f) for f in facts]
    ctx = Context(fingerprints or bundled_fingerprints(), connectivity)
    ctx = Context(ctx.fingerprints, connectivity, learn_blockpage_addresses(facts, views, ctx))
    verdicts = [
        target_verdict(f, i, views[i], ctx, raw[i], None if control.problem else control.raw_result(f)).to_dict()
        for i, f in enumerate(facts)
    ]
    return ScanAnalysis(connectivity.state, connectivity.baselines, verdicts)


def summarise(verdicts: list[dict]) -> dict[str, int]:
    counts = {verdict: 0 for verdict in v.VERDICTS}
    for item in verdicts:
        if item.get("verdict") in counts:
            counts[item["verdict"]] += 1
    return counts


def analyse_report(report: dict, control_report: dict | None, *,
                   fingerprints: Fingerprints | None = None) -> dict:
    """A new report dict: connectivity, baselines, summary and every result's verdict recomputed.

    The input is not modified; results that are not objects are dropped (they cannot be analysed
    or shown)."""
    results = [r for r in report.get("results", []) if isinstance(r, dict)] \
        if isinstance(report.get("results"), list) else []
    baselines = report.get("baselines") if isinstance(report.get("baselines"), dict) else {}
    contact = baselines.get("outside_contact")
    analysis = analyse_scan(results, control_report, fingerprints=fingerprints,
                            outside_contact=contact[:300] if isinstance(contact, str) and contact else None)
    new: dict[str, Any] = dict(report)
    new["connectivity"] = analysis.connectivity
    new["baselines"] = analysis.baselines
    new["summary"] = summarise(analysis.verdicts)
    new["results"] = [_merged(result, verdict) for result, verdict in zip(results, analysis.verdicts)]
    return new


def _merged(result: dict, verdict: dict) -> dict:
    """The result with its verdict fields replaced, in the report's field order."""
    merged: dict[str, Any] = {"target": result.get("target")}
    merged.update(verdict)
    merged.update({key: value for key, value in result.items() if key not in merged})
    return merged
