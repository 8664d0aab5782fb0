"""Targets × scans: what `kzprobe summary` draws, as aggregates a renderer can take from anywhere.

A terminal shows as many scan columns as its width allows (at most MAX_TABLE_COLUMNS): beyond
that, scans are grouped by vantage and the shortest period (day, week, month, year, all) that
fits, each cell showing the most frequent state. The renderer (kzprobe.analyst.summary_render)
takes a SummarySource: the shape of the columns, the targets shown, and per target and column
the count of each state. SummaryMatrix is the source for report files, built scan by scan;
the store's source (kzprobe.analyst.store.summary_sql) answers the same three questions in SQL.

Memory (files): a scan is kept as one byte per target (an index into the states seen), not as
its report, so ten thousand scans of 600 targets take ~6 MB.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, NamedTuple, Protocol

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.reading import ScanDigest
from kzprobe.analyst.style import SEVERITY, state_of, verdict_of

# Columns of a terminal table, whatever its width: beyond this a matrix is unreadable anyway.
MAX_TABLE_COLUMNS: Final = 16
# States are stored as one byte each: index 0 means "not in this scan".
_MAX_STATES: Final = 255


@dataclass(frozen=True)
class ScanColumn:
    """What the matrix keeps of one scan besides its cells."""

    vantage: str
    started_at: datetime
    complete: bool
    connectivity: str | None
    cells: bytes = b""  # files: one state index per target index; shorter when later targets are absent


@dataclass
class ColumnGroup:
    """One column of the table: a scan, or the scans of a vantage in one period."""

    vantage: str
    period: str  # "2022-01-05", "2022-W01", …; for ungrouped columns the scan time
    first: datetime  # the first scan's start
    scans: int
    incomplete: int
    connectivity: Counter[str | None]
    members: list[ScanColumn] = field(default_factory=list, repr=False)  # files only


@dataclass
class SummaryShape:
    """The frame of the table: how many scans, from where and when, and the columns."""

    scans: int
    vantages: list[str]
    first: datetime | None
    last: datetime | None
    any_incomplete: bool
    grouping: str  # "scan", "day", "week", "month", "year", "all"; "" when nothing fits
    groups: list[ColumnGroup]


class SummaryTarget(NamedTuple):
    id: str
    category: str | None
    label: str  # as the table shows it (`keyword: WORD` for a keyword target)


class SummarySource(Protocol):
    """What a summary is drawn from (report files, or the store)."""

    def shape(self, max_columns: int) -> SummaryShape: ...

    def shown_targets(self, target_filter: TargetFilter) -> list[SummaryTarget]: ...

    def group_cells(self, shape: SummaryShape, targets: list[SummaryTarget]) -> list[list[Counter[str]]]: ...

    def all_scans(self) -> list[ScanColumn]: ...

    def scan_states(self, targets: list[SummaryTarget]) -> Iterator[list[str]]:
        """Per target, its state in each scan of all_scans() (in that order); "" where the
        target is not in the scan."""
        ...


PERIODS: Final[dict[str, Callable[[datetime], str]]] = {
    "day": lambda t: t.strftime("%Y-%m-%d"),
    "week": lambda t: "{}-W{:02d}".format(*t.isocalendar()[:2]),
    "month": lambda t: t.strftime("%Y-%m"),
    "year": lambda t: t.strftime("%Y"),
    "all": lambda t: "all scans",
}


def scan_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%MZ")


def dominant(counts: Counter[str]) -> tuple[str, int, int] | None:
    """(most frequent state, its count, scans with a state); ties go to the more severe state,
    then to the later name (a fixed order, whatever order the counts came in)."""
    if not counts:
        return None
    state, count = max(counts.items(), key=lambda item: (item[1], SEVERITY.get(verdict_of(item[0]), 0), item[0]))
    return state, count, sum(counts.values())


class SummaryMatrix:
    """Accumulates scans (in any order) into a compact target × scan matrix: the files' source."""

    def __init__(self) -> None:
        self.scans: list[ScanColumn] = []
        self.target_ids: list[str] = []
        self.labels: list[str] = []  # as the table shows them (`keyword: WORD` for a keyword target)
        self.categories: list[str | None] = []
        self._verdicts_seen: list[set[str]] = []  # per target, for --verdict
        self._target_index: dict[str, int] = {}
        self.states: list[str] = [""]  # index 0: absent
        self._state_index: dict[str, int] = {}

    def add(self, scan: ScanDigest) -> None:
        cells = bytearray(len(self.target_ids))
        for target in scan.targets:
            index = self._target_index.get(target.id)
            if index is None:
                index = self._target_index[target.id] = len(self.target_ids)
                self.target_ids.append(target.id)
                self.labels.append(target.label)
                self.categories.append(target.category)
                self._verdicts_seen.append(set())
                cells.append(0)
            cells[index] = self._state(state_of(target.verdict, target.blocking))
            if target.verdict is not None:
                self._verdicts_seen[index].add(target.verdict)
        self.scans.append(ScanColumn(scan.vantage, scan.started_at, scan.complete, scan.connectivity, bytes(cells)))

    def _state(self, state: str) -> int:
        index = self._state_index.get(state)
        if index is None:
            if len(self.states) > _MAX_STATES:  # only a forged report could have this many
                raise ValueError("more than 255 distinct verdict/blocking states")
            index = self._state_index[state] = len(self.states)
            self.states.append(state)
        return index

    def all_scans(self) -> list[ScanColumn]:
        return sorted(self.scans, key=lambda scan: (scan.started_at, scan.vantage))

    def shape(self, max_columns: int) -> SummaryShape:
        scans = self.all_scans()
        grouping, groups = group_columns(scans, max_columns)
        return SummaryShape(
            scans=len(scans), vantages=sorted({scan.vantage for scan in scans}),
            first=scans[0].started_at if scans else None, last=scans[-1].started_at if scans else None,
            any_incomplete=any(not scan.complete for scan in scans), grouping=grouping, groups=groups,
        )

    def shown_targets(self, target_filter: TargetFilter) -> list[SummaryTarget]:
        """The targets to show: id/category filters, and a verdict seen in some scan."""
        return [
            SummaryTarget(target_id, category, self.labels[index])
            for index, (target_id, category) in enumerate(zip(self.target_ids, self.categories, strict=True))
            if target_filter.accepts_target(target_id,
                                            category) and target_filter.accepts_verdicts(self._verdicts_seen[index])
        ]

    def group_cells(self, shape: SummaryShape, targets: list[SummaryTarget]) -> list[list[Counter[str]]]:
        return [
            [Counter(state for state in (self._state_at(scan, self._target_index[target.id]) for scan in group.members)
                     if state is not None) for group in shape.groups]
            for target in targets
        ]

    def scan_states(self, targets: list[SummaryTarget]) -> Iterator[list[str]]:
        scans = self.all_scans()
        for target in targets:
            index = self._target_index[target.id]
            yield [self.states[scan.cells[index] if index < len(scan.cells) else 0] for scan in scans]

    def _state_at(self, scan: ScanColumn, index: int) -> str | None:
        code = scan.cells[index] if index < len(scan.cells) else 0
        return self.states[code] if code else None


def group_columns(scans: list[ScanColumn], max_columns: int) -> tuple[str, list[ColumnGroup]]:
    """('scan', one group per scan) when they fit, else the finest period that fits.

    Returns ('', []) when even one column per vantage is too many.
    """
    if len(scans) <= max_columns:
        return "scan", [_group(s.vantage, scan_time(s.started_at), [s]) for s in scans]
    for name, period_of in PERIODS.items():
        members: dict[tuple[str, str], list[ScanColumn]] = {}
        for scan in scans:
            members.setdefault((scan.vantage, period_of(scan.started_at)), []).append(scan)
        if len(members) <= max_columns:
            groups = [_group(vantage, period, chosen) for (vantage, period), chosen in members.items()]
            return name, sorted(groups, key=lambda g: (g.first, g.vantage))
    return "", []


def _group(vantage: str, period: str, members: list[ScanColumn]) -> ColumnGroup:
    return ColumnGroup(
        vantage=vantage, period=period, first=members[0].started_at, scans=len(members),
        incomplete=sum(1 for scan in members if not scan.complete),
        connectivity=Counter(scan.connectivity for scan in members), members=members,
    )
