"""Many sites at once, for benchmarks: N scenarios in a given mix of the catalogue's behaviours.

    generate_scenarios(1000, {"healthy": 0.8, "tcp-syn-dropped": 0.1, "tls-reset": 0.1})

Each kind is "healthy" (an HTTPS site nobody touches) or the id of a catalogue scenario, whose
conditions and expectation the generated sites copy under their own names. One server process
per namespace serves them all, so a thousand sites cost a few seconds to build.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from kzprobe.lab import site_spec as m
from kzprobe.lab.scenarios import LAB_DOMAIN, scenario_by_id
from kzprobe.lab.site_spec import Expectation, Scenario, Site
from kzprobe.report import vocabulary as v

HEALTHY = "healthy"


def _counts(n: int, mix: Mapping[str, float]) -> dict[str, int]:
    """Split n by the shares in `mix` (largest remainder), so the counts add up to n exactly."""
    total = sum(mix.values())
    if total <= 0 or any(share < 0 for share in mix.values()):
        raise ValueError("mix: shares must be non-negative and not all zero")
    exact = {kind: n * share / total for kind, share in mix.items()}
    counts = {kind: int(x) for kind, x in exact.items()}
    by_remainder = sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)
    for kind in by_remainder[: n - sum(counts.values())]:
        counts[kind] += 1
    return counts


def _template(kind: str) -> Scenario:
    if kind == HEALTHY:
        return Scenario(HEALTHY, "healthy HTTPS site", Site(host=f"{HEALTHY}.{LAB_DOMAIN}"), m.HONEST,
                        Expectation(v.REACHABLE))
    catalogue = scenario_by_id()
    if kind not in catalogue:
        raise KeyError(f"unknown kind {kind!r}: 'healthy' or a scenario id ({', '.join(catalogue)})")
    return catalogue[kind]


def generate_scenarios(n: int, mix: Mapping[str, float]) -> list[Scenario]:
    """n scenarios named <kind>-<number>.bench.kzlab.test, in the proportions of `mix`."""
    scenarios: list[Scenario] = []
    for kind, count in _counts(n, mix).items():
        template = _template(kind)
        for i in range(count):
            sid = f"{kind}-{i:05d}"
            site = dataclasses.replace(template.site, host=f"{sid}.bench.{LAB_DOMAIN}", baseline=None)
            scenarios.append(dataclasses.replace(template, id=sid, site=site))
    return scenarios
