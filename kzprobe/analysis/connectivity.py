"""The scan's connectivity and throughput reference, from its baseline targets.

Baselines are targets that should always work (`baseline: domestic | international`). If an
international one answers, the vantage is online. If only domestic ones answer, the
international link is cut (Kazakhstan's international traffic crosses a few operators, and
January 2022 cut exactly that). If nothing answers at all, the vantage is offline, and no
failure in this scan can be blamed on a censor. If a captive portal answers for everything
(analysis/captive.py), nothing measured behind it is evidence either.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kzprobe.analysis.captive import find_portal
from kzprobe.analysis.facts import HopFact, TargetFacts
from kzprobe.analysis.throughput import from_download
from kzprobe.report import vocabulary as v

KINDS = ("international", "domestic")


@dataclass(frozen=True)
class Connectivity:
    state: str
    baselines: dict  # JSON-ready, for the report
    # Per baseline target (by result index): its kind and what its download says the link carries.
    figures: dict[int, tuple[str, float]] = field(default_factory=dict)

    def reference(self, index: int | None = None) -> tuple[float | None, str]:
        """Baseline throughput to compare result `index` with (never itself; every baseline when
        None), and which kind.

        International baselines first: most targets are abroad, and the international link is
        where throttling and congestion show. The median resists one odd baseline."""
        for kind in KINDS:
            values = [kbps for i, (k, kbps) in sorted(self.figures.items()) if k == kind and i != index]
            if values:
                return statistics.median(values), kind
        return None, ""


def _figure(facts: TargetFacts) -> float | None:
    if facts.download is None:
        return None
    measured = from_download(facts.download)
    return measured.reference_kbps if measured is not None else None


def assess_connectivity(results: list[TargetFacts],
                        is_blockpage: Callable[[HopFact], bool] = lambda hop: False,
                        outside_contact: str | None = None) -> Connectivity:
    """The scan's connectivity and baselines record. `is_blockpage` tells a fingerprinted
    blockpage (what a censor's blockpage server shows, never a portal).

    `outside_contact`: how the vantage is known to have reached the internet abroad during the
    scan by other means than its targets (an imported OONI report: its probe reached OONI's
    servers, which are outside the country). The scan is then `online` whatever its targets
    say, and the reason is recorded in the baselines."""
    by_kind: dict[str, dict[str, list[str]]] = {k: {"working": [], "failing": []} for k in KINDS}
    figures: dict[int, tuple[str, float]] = {}
    for index, facts in enumerate(results):
        if facts.baseline not in KINDS or facts.has_endpoints:
            continue
        by_kind[facts.baseline]["working" if facts.works else "failing"].append(facts.id or facts.url)
        figure = _figure(facts) if facts.works else None
        if figure:
            figures[index] = (facts.baseline, figure)
    intl, dom = by_kind["international"], by_kind["domestic"]
    anything_works = any(f.works for f in results)
    have_baselines = any(intl.values()) or any(dom.values())
    if intl["working"]:
        state = v.ONLINE
    elif dom["working"] and intl["failing"]:
        state = v.INTERNATIONAL_CUT
    elif anything_works or not results:
        state = v.ONLINE
    else:
        state = v.OFFLINE
    portal = find_portal(results, is_blockpage) if state != v.OFFLINE else None
    if portal is not None:
        state = v.CAPTIVE_PORTAL
    reference = Connectivity(state, {}, figures).reference()
    baselines: dict[str, Any] = {
        kind: {"tested": len(by_kind[kind]["working"]) + len(by_kind[kind]["failing"]),
               "working": by_kind[kind]["working"], "failing": by_kind[kind]["failing"]}
        for kind in KINDS
    }
    baselines["kilobytes_per_second"] = round(reference[0], 1) if reference[0] is not None else None
    baselines["reference"] = reference[1] or None
    baselines["throughput"] = {results[i].id or results[i].url: round(kbps, 1)
                               for i, (_, kbps) in sorted(figures.items())}
    if not have_baselines:
        baselines["note"] = "no baseline targets in this scan: connectivity inferred from all targets"
    if portal is not None:
        baselines["captive_portal"] = portal.to_dict()
    if outside_contact:
        state = v.ONLINE
        baselines["outside_contact"] = outside_contact
    return Connectivity(state, baselines, figures)
