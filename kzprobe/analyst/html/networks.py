"""What is blocked how, per network (ASN): the table a reader compares operators with.

For each ASN and target: how many scans saw each state, the evidence codes behind the states
that are not "reachable", and when those were first and last seen. Folded scan by scan; the
number of (network, target) entries is capped so that hostile reports cannot grow it unbounded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from kzprobe.analyst.reading import ScanDigest, TargetDigest
from kzprobe.analyst.style import SEVERITY, state_of, verdict_of
from kzprobe.report import vocabulary as v

# (network, target) entries kept: 100 networks × 500 targets. Beyond, new entries are counted
# and the page says how many were left out.
MAX_ENTRIES: Final = 50_000
# Distinct evidence codes kept per entry (the vocabulary has about 30; a forged report more).
MAX_CODES: Final = 32
UNKNOWN_NETWORK: Final = "unknown network"


@dataclass
class NetworkEntry:
    """One target as seen from one network, over every scan read."""

    target: str
    category: str | None
    states: Counter[str] = field(default_factory=Counter)
    evidence: Counter[str] = field(default_factory=Counter)  # of the states that are not "reachable"
    first_trouble: datetime | None = None
    last_trouble: datetime | None = None

    @property
    def scans(self) -> int:
        return sum(self.states.values())

    @property
    def troubled(self) -> int:
        """Scans in which the target was anything but reachable (or unjudged)."""
        return sum(count for state, count in self.states.items() if verdict_of(state) in _TROUBLE)

    def ranked_states(self) -> list[tuple[str, int]]:
        """States by count, the severe first among equals."""
        return sorted(self.states.items(), key=lambda item: (-item[1], -SEVERITY.get(verdict_of(item[0]), 0), item[0]))


_TROUBLE: Final = frozenset(verdict for verdict in v.VERDICTS if verdict != v.REACHABLE)


@dataclass
class Network:
    asn: str
    vantages: set[str] = field(default_factory=set)
    countries: set[str] = field(default_factory=set)
    scans: int = 0
    entries: dict[str, NetworkEntry] = field(default_factory=dict)

    def troubled(self) -> list[NetworkEntry]:
        """Targets not reachable in some scan, the most often troubled first."""
        found = [entry for entry in self.entries.values() if entry.troubled]
        return sorted(found, key=lambda entry: (-entry.troubled / entry.scans, -entry.troubled, entry.target))


class NetworkTable:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.networks: dict[str, Network] = {}
        self.max_entries = max_entries
        self.entries = 0
        self.refused = 0

    def add(self, scan: ScanDigest, accepts: Callable[[TargetDigest], bool] | None = None) -> None:
        """Fold one scan in; `accepts` chooses its targets (None: all)."""
        asn = scan.asn or UNKNOWN_NETWORK
        network = self.networks.get(asn)
        if network is None:
            network = self.networks[asn] = Network(asn)
        if len(network.vantages) < 64:
            network.vantages.add(scan.vantage)
        if scan.country and len(network.countries) < 16:
            network.countries.add(scan.country)
        network.scans += 1
        for target in scan.targets:
            if accepts is not None and not accepts(target):
                continue
            entry = network.entries.get(target.id)
            if entry is None:
                if self.entries >= self.max_entries:
                    self.refused += 1
                    continue
                entry = network.entries[target.id] = NetworkEntry(target.id, target.category)
                self.entries += 1
            state = state_of(target.verdict, target.blocking)
            entry.states[state] += 1
            if verdict_of(state) in _TROUBLE:
                for code in target.evidence:
                    if code in entry.evidence or len(entry.evidence) < MAX_CODES:
                        entry.evidence[code] += 1
                moment = scan.started_at
                entry.first_trouble = moment if entry.first_trouble is None else min(entry.first_trouble, moment)
                entry.last_trouble = moment if entry.last_trouble is None else max(entry.last_trouble, moment)

    def ordered(self) -> list[Network]:
        """Known ASNs in numeric order (AS9198 before AS21299), the unknown network last."""
        def key(network: Network) -> tuple[bool, int, str]:
            digits = network.asn[2:] if network.asn[:2].upper() == "AS" else ""
            return network.asn == UNKNOWN_NETWORK, int(digits) if digits.isdigit() else 0, network.asn

        return sorted(self.networks.values(), key=key)
