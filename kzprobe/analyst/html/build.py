"""`kzprobe report`: many reports folded, scan by scan, into what one HTML page shows.

The page (kzprobe.analyst.html.page) needs the grids of targets × time (grid), the per-network
table (networks) and the sources (sources). A ReportPicture feeds every scan to all three and is
then dropped: the scans themselves are never kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.html.grid import TargetInfo, TimeGrid
from kzprobe.analyst.html.networks import NetworkTable
from kzprobe.analyst.html.sources import Sources
from kzprobe.analyst.reading import ScanDigest, TargetDigest


@dataclass
class ReportPicture:
    """Everything the HTML report shows, accumulated from scans in time order."""

    target_filter: TargetFilter = field(default_factory=TargetFilter)
    grid: TimeGrid = field(default_factory=TimeGrid)
    networks: NetworkTable = field(default_factory=NetworkTable)
    sources: Sources = field(default_factory=Sources)

    def add(self, scan: ScanDigest) -> None:
        accepts = self._accepts if self.target_filter.active else None
        self.sources.add(scan)
        self.grid.add(scan, accepts)
        self.networks.add(scan, accepts)

    def add_all(self, scans: Iterable[ScanDigest]) -> ReportPicture:
        for scan in scans:
            self.add(scan)
        self.grid.finish()
        return self

    def _accepts(self, target: TargetDigest) -> bool:
        return self.target_filter.accepts_target(target.id, target.category)

    def shown_targets(self) -> list[TargetInfo]:
        """The targets drawn: by id and category, and (with --verdict) seen with that verdict."""
        return self.grid.ordered_targets(lambda info: self.target_filter.accepts_verdicts(info.verdicts))

    @property
    def empty(self) -> bool:
        return self.sources.scans == 0
