"""What the HTML report was made from: vantages, scans, span, software, and imported data with
its licence. The page states all of it up front, so a reader can check and credit it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from kzprobe.analyst.reading import Provenance, ScanDigest

# Scan ids listed in the page (each vantage's first and last are always shown); beyond, a count.
MAX_LISTED_SCAN_IDS: Final = 2_000
# Distinct values kept of things that should barely vary (software versions, a vantage's ASNs).
MAX_DISTINCT: Final = 16


@dataclass
class VantageSource:
    name: str
    asns: Counter[str] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)
    scans: int = 0
    incomplete: int = 0
    from_journals: int = 0
    first: datetime | None = None
    last: datetime | None = None
    first_scan_id: str | None = None
    last_scan_id: str | None = None

    def add(self, scan: ScanDigest) -> None:
        self.scans += 1
        self.incomplete += 0 if scan.complete else 1
        self.from_journals += 1 if scan.from_journal else 0
        _count(self.asns, scan.asn)
        _count(self.countries, scan.country)
        if self.first is None or scan.started_at < self.first:
            self.first, self.first_scan_id = scan.started_at, scan.scan_id
        if self.last is None or scan.started_at >= self.last:
            self.last, self.last_scan_id = scan.started_at, scan.scan_id


@dataclass
class Sources:
    vantages: dict[str, VantageSource] = field(default_factory=dict)
    software: Counter[str] = field(default_factory=Counter)
    imported: Counter[Provenance] = field(default_factory=Counter)  # scans per source and licence
    scan_ids: list[tuple[str, str]] = field(default_factory=list)  # (vantage, scan id), the first ones
    scans: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, scan: ScanDigest) -> None:
        self.scans += 1
        vantage = self.vantages.get(scan.vantage)
        if vantage is None:
            vantage = self.vantages[scan.vantage] = VantageSource(scan.vantage)
        vantage.add(scan)
        _count(self.software, scan.software or "unknown software")
        if scan.provenance is not None and (scan.provenance in self.imported or len(self.imported) < MAX_DISTINCT):
            self.imported[scan.provenance] += 1
        if scan.scan_id is not None and len(self.scan_ids) < MAX_LISTED_SCAN_IDS:
            self.scan_ids.append((scan.vantage, scan.scan_id))
        self.first = scan.started_at if self.first is None else min(self.first, scan.started_at)
        self.last = scan.started_at if self.last is None else max(self.last, scan.started_at)

    def licences(self) -> list[str]:
        """The licences the page must carry (of imported data), without repeats."""
        return sorted({p.licence for p in self.imported if p.licence})


def _count(counter: Counter[str], value: str | None) -> None:
    if value is not None and (value in counter or len(counter) < MAX_DISTINCT):
        counter[value] += 1
