"""Targets × time per vantage, folded while the reports stream past: the cells of the HTML report.

A cell is one target at one vantage over one period (an hour, a day or a week): how many scans
saw each state, and for each state the latest evidence and explanation. Scans arrive in time
order (kzprobe.analyst.streaming), so the period is chosen as the span grows: hours while the
reports cover at most HOURLY_SPAN, then the hour cells are folded into days; when the cells
would pass MAX_CELLS, days are folded into weeks, and at weeks new cells are refused and counted
(the page says so). Memory holds the cells, never the reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple

from kzprobe.analyst.reading import ScanDigest, TargetDigest
from kzprobe.analyst.style import SEVERITY, state_of, verdict_of

# Hour columns while the reports span at most two weeks (336 columns, 3 px each still fits a
# screen): the hours of a shutdown stay visible. Longer spans get day columns.
HOURLY_SPAN: Final = timedelta(days=14)
# Cells of all grids and connectivity bands together. A year of daily cells of 100 targets from
# 3 vantages is 110,000; each costs a few hundred bytes of memory and at most a few dozen bytes
# of page, so the page and the process stay small whatever the reports hold.
MAX_CELLS: Final = 200_000
# Explanations are cut here in the page: a hostile report cannot make one cell megabytes.
MAX_EXPLANATION_CHARS: Final = 400
MAX_EVIDENCE_CODES: Final = 8


class Resolution(NamedTuple):
    """A column's period: `seconds` long, starting `offset` seconds after a multiple of it."""

    name: str
    seconds: int
    offset: int

    def bucket(self, moment: datetime) -> int:
        return int((moment.timestamp() - self.offset) // self.seconds)

    def start(self, bucket: int) -> datetime:
        return datetime.fromtimestamp(bucket * self.seconds + self.offset, tz=UTC)


HOUR: Final = Resolution("hour", 3600, 0)
DAY: Final = Resolution("day", 86400, 0)
WEEK: Final = Resolution("week", 7 * 86400, 4 * 86400)  # weeks start on Monday; 5 Jan 1970 was one
COARSER: Final = {HOUR: DAY, DAY: WEEK}


class StateTally:
    """How many scans of a cell saw one state, and what the latest of them said."""

    __slots__ = ("count", "latest", "evidence", "explanation")

    def __init__(self) -> None:
        self.count = 0
        self.latest: datetime | None = None
        self.evidence: tuple[str, ...] = ()
        self.explanation: str | None = None

    def add(self, moment: datetime, evidence: tuple[str, ...], explanation: str | None, count: int = 1) -> None:
        self.count += count
        if self.latest is None or moment >= self.latest:
            self.latest = moment
            self.evidence = evidence[:MAX_EVIDENCE_CODES]
            self.explanation = explanation[:MAX_EXPLANATION_CHARS] if explanation else None


class Cell:
    """One target at one vantage over one period (or one vantage's connectivity over it)."""

    __slots__ = ("states", "incomplete", "first", "last")

    def __init__(self, moment: datetime) -> None:
        self.states: dict[str, StateTally] = {}
        self.incomplete = 0
        self.first = moment
        self.last = moment

    def add(self, state: str, moment: datetime, complete: bool, evidence: tuple[str, ...] = (),
            explanation: str | None = None) -> None:
        tally = self.states.get(state)
        if tally is None:
            tally = self.states[state] = StateTally()
        # StateTally.add, inlined: this runs once per target per scan.
        tally.count += 1
        if tally.latest is None or moment >= tally.latest:
            tally.latest = moment
            tally.evidence = evidence[:MAX_EVIDENCE_CODES]
            tally.explanation = explanation[:MAX_EXPLANATION_CHARS] if explanation else None
        if not complete:
            self.incomplete += 1
        if moment > self.last:  # scans come in time order: the common case
            self.last = moment
        elif moment < self.first:
            self.first = moment

    def merge(self, other: Cell) -> None:
        for state, theirs in other.states.items():
            tally = self.states.get(state)
            if tally is None:
                tally = self.states[state] = StateTally()
            assert theirs.latest is not None
            tally.add(theirs.latest, theirs.evidence, theirs.explanation, theirs.count)
        self.incomplete += other.incomplete
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)

    @property
    def scans(self) -> int:
        return sum(tally.count for tally in self.states.values())

    def dominant(self) -> str:
        """The most frequent state; ties go to the more severe one (as in `kzprobe summary`)."""
        return max(self.states.items(), key=lambda item: (item[1].count, SEVERITY.get(verdict_of(item[0]), 0)))[0]


Cells = dict[int, Cell]  # bucket -> cell


@dataclass
class TargetInfo:
    index: int
    id: str
    name: str | None
    category: str | None
    url: str | None
    verdicts: set[str] = field(default_factory=set)


@dataclass
class VantageGrid:
    """One vantage's connectivity band and its targets' rows."""

    name: str
    connectivity: Cells = field(default_factory=dict)
    rows: dict[int, Cells] = field(default_factory=dict)  # target index -> cells


class TimeGrid:
    """Accumulates scans into cells per vantage, target and period (see the module's docstring)."""

    def __init__(self, max_cells: int = MAX_CELLS, hourly_span: timedelta = HOURLY_SPAN) -> None:
        self.max_cells = max_cells
        self.hourly_span = hourly_span
        self.resolution = HOUR
        self.vantages: dict[str, VantageGrid] = {}
        self.targets: dict[str, TargetInfo] = {}
        self.cells = 0
        self.refused = 0  # results not drawn: the grid was full at its coarsest period
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.folded_for_cells = False  # a coarser period was chosen for the cap, not the span

    def add(self, scan: ScanDigest, accepts: Callable[[TargetDigest], bool] | None = None) -> None:
        """Fold one scan in; `accepts` chooses its targets (None: all)."""
        moment = scan.started_at
        self.first = moment if self.first is None else min(self.first, moment)
        self.last = moment if self.last is None else max(self.last, moment)
        self._keep_within_bounds()
        bucket = self.resolution.bucket(moment)
        grid = self.vantages.get(scan.vantage)
        if grid is None:
            grid = self.vantages[scan.vantage] = VantageGrid(scan.vantage)
        band = self._cell(grid.connectivity, bucket, moment)
        if band is not None:
            band.add(scan.connectivity or "unknown", moment, scan.complete)
        # The loop runs for every target of every scan (800,000 times for 10,000 reports): the
        # common path (a known target, an existing cell) makes as few calls as it can.
        rows, known, complete = grid.rows, self.targets, scan.complete
        for target in scan.targets:
            if accepts is not None and not accepts(target):
                continue
            info = known.get(target.id)
            if info is None:
                if self._full():
                    self.refused += 1
                    continue
                info = known[target.id] = TargetInfo(len(known), target.id, target.name, target.category, target.url)
            else:  # the latest scan's description of the target
                info.name, info.category, info.url = target.name or info.name, target.category, target.url
            verdict = target.verdict
            if verdict is not None:
                info.verdicts.add(verdict)
            cells = rows.get(info.index)
            if cells is None:
                cells = rows[info.index] = {}
            cell = cells.get(bucket) or self._cell(cells, bucket, moment)
            if cell is None:
                self.refused += 1
                continue
            cell.add(state_of(verdict, target.blocking), moment, complete, target.evidence, target.explanation)

    def finish(self) -> None:
        """Apply the bounds once more after the last scan."""
        self._keep_within_bounds()

    def _full(self) -> bool:
        return self.cells >= self.max_cells and self.resolution not in COARSER

    def _cell(self, cells: Cells, bucket: int, moment: datetime) -> Cell | None:
        cell = cells.get(bucket)
        if cell is None:
            if self._full():
                return None
            cell = cells[bucket] = Cell(moment)
            self.cells += 1
        return cell

    def _keep_within_bounds(self) -> None:
        if self.first is None or self.last is None:  # no scan yet
            return
        while self.resolution is HOUR and self.last - self.first > self.hourly_span:
            self._fold(DAY)
        while self.cells > self.max_cells and self.resolution in COARSER:
            self._fold(COARSER[self.resolution])
            self.folded_for_cells = True

    def _fold(self, coarser: Resolution) -> None:
        """Merge every cell into the cell of the coarser period that holds it."""
        finer = self.resolution
        self.resolution = coarser
        self.cells = 0
        for grid in self.vantages.values():
            grid.connectivity = self._folded(grid.connectivity, finer, coarser)
            grid.rows = {index: self._folded(cells, finer, coarser) for index, cells in grid.rows.items()}

    def _folded(self, cells: Cells, finer: Resolution, coarser: Resolution) -> Cells:
        folded: Cells = {}
        for bucket in sorted(cells):
            cell = cells[bucket]
            target = coarser.bucket(finer.start(bucket))
            if target in folded:
                folded[target].merge(cell)
            else:
                folded[target] = cell
                self.cells += 1
        return folded

    # --- what the charts read ---------------------------------------------------------------

    def span(self) -> tuple[int, int]:
        """The first and last bucket of all grids (the shared time axis)."""
        assert self.first is not None and self.last is not None
        return self.resolution.bucket(self.first), self.resolution.bucket(self.last)

    def ordered_targets(self, accepts: Callable[[TargetInfo], bool] = lambda info: True) -> list[TargetInfo]:
        """Targets in the order they first appeared (the order of the scanned lists)."""
        return [info for info in self.targets.values() if accepts(info)]


class Run(NamedTuple):
    """Consecutive periods of a row where the same states were seen, the same one most often."""

    first_bucket: int
    length: int
    dominant: str
    mixed: bool  # more than one state was seen
    cells: tuple[Cell, ...]

    def totals(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for cell in self.cells:
            for state, tally in cell.states.items():
                counts[state] = counts.get(state, 0) + tally.count
        return dict(sorted(counts.items(), key=lambda item: -item[1]))

    def latest(self, state: str) -> StateTally | None:
        """The tally of `state` in the latest cell that saw it (its evidence and explanation)."""
        for cell in reversed(self.cells):
            if state in cell.states:
                return cell.states[state]
        return None


def runs(cells: Cells) -> Iterator[Run]:
    """The runs of a row, in time order; a period without a scan ends a run."""
    current: list[Cell] = []
    start = previous = 0
    key: tuple[str, frozenset[str]] | None = None
    for bucket in sorted(cells):
        cell = cells[bucket]
        cell_key = (cell.dominant(), frozenset(cell.states))
        if current and (bucket != previous + 1 or cell_key != key):
            yield _run(start, current, key)
            current = []
        if not current:
            start, key = bucket, cell_key
        current.append(cell)
        previous = bucket
    if current:
        yield _run(start, current, key)


def _run(start: int, cells: list[Cell], key: tuple[str, frozenset[str]] | None) -> Run:
    assert key is not None
    return Run(start, len(cells), key[0], len(key[1]) > 1, tuple(cells))
