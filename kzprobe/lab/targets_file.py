"""The lab's targets file: an ordinary kzprobe target list of the scenarios' sites.

`kzprobe scan` reads it like any user's file; nothing in it is special to the lab except that
every name is under .test and exists only inside the lab's namespaces.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from kzprobe.lab import pages
from kzprobe.lab.plan import Allocation
from kzprobe.lab.site_spec import LAB_SERVICE_CA, EndpointBehaviour, Scenario

_HEADER = ("# Written by kzprobe lab: every site below exists only inside the lab's network\n"
           "# namespaces (.test names, lab addresses); scanning it anywhere else finds nothing.\n")


def targets_yaml(scenarios: Sequence[Scenario], allocation: Allocation) -> str:
    """One target per scenario: id, url, name (the summary), download, baseline and endpoints
    (an address-literal endpoint as the address `allocation` gave it)."""
    entries: list[dict[str, object]] = []
    for scenario in scenarios:
        site = scenario.site
        if site.keyword is not None:  # a word, tried on the scan's baselines: no url of its own
            entries.append({"id": scenario.id, "keyword": site.keyword, "name": scenario.summary})
            continue
        entry: dict[str, object] = {"id": scenario.id, "url": site.url, "name": scenario.summary}
        if site.download_bytes:
            entry["download"] = f"{site.scheme}://{site.host}{pages.DOWNLOAD_PATH}"
        if site.baseline:
            entry["baseline"] = site.baseline
        if site.quic:
            entry["quic"] = True
        if scenario.endpoints:
            entry["endpoints"] = [_endpoint(scenario, e, allocation) for e in scenario.endpoints]
        entries.append(entry)
    return _HEADER + yaml.safe_dump({"targets": entries}, allow_unicode=True, sort_keys=False)


def _endpoint(scenario: Scenario, endpoint: EndpointBehaviour, allocation: Allocation) -> dict:
    host = allocation.endpoints[(scenario.id, endpoint.host)] if endpoint.literal else endpoint.host
    item: dict[str, object] = {"host": host, "port": endpoint.port}
    if endpoint.tls and endpoint.kind != "tor_or":  # a Tor OR port is TLS by its kind
        item["tls"] = True
    if endpoint.role:
        item["role"] = endpoint.role
    if endpoint.kind:
        item["kind"] = endpoint.kind
    if endpoint.pin:
        item["ca"] = LAB_SERVICE_CA
    return item
