"""Targets × scans: one compact cell per target per scan, and each scan's connectivity.

Memory: a scan is kept as one byte per target (an index into the states seen), not as its
report, so ten thousand scans of 600 targets take ~6 MB. A terminal shows as many scan columns
as its width allows (at most MAX_TABLE_COLUMNS): beyond that, scans are grouped by vantage and
the shortest period (day, week, month, year, all) that fits, each cell showing the most
frequent state. `--csv` gives the full matrix, one column per scan.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kzprobe.report import vocabulary as v
from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.reading import ScanDigest, iso
from kzprobe.analyst.safe_text import clean, csv_cell, safe
from kzprobe.analyst.style import (
    ABSENT_CELL,
    LEGEND,
    SEVERITY,
    compact,
    connectivity_style,
    state_of,
    state_style,
    verdict_of,
)

# Columns of a terminal table, whatever its width: beyond this a matrix is unreadable anyway.
MAX_TABLE_COLUMNS: Final = 16
# Characters a scan column takes (cells like "tls 27/48", headings like "almaty-vps"), and
# what the target and category columns leave of the width.
COLUMN_CHARS: Final = 13
# Asked for explicitly (--max-columns), a column may be as narrow as its widest cell ("ok 14/24")
# plus padding: headings name the date only where it changes, so they are no wider.
NARROWEST_COLUMN_CHARS: Final = 10
ROW_HEADING_CHARS: Final = 30
# States are stored as one byte each: index 0 means "not in this scan".
_MAX_STATES: Final = 255


@dataclass(frozen=True)
class ScanColumn:
    """What the matrix keeps of one scan besides its cells."""

    vantage: str
    started_at: datetime
    complete: bool
    connectivity: str | None
    cells: bytes  # one state index per target index; shorter when later targets are absent


class SummaryMatrix:
    """Accumulates scans (in any order) into a compact target × scan matrix."""

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
        column = ScanColumn(scan.vantage, scan.started_at, scan.complete, scan.connectivity, bytes(cells))
        self.scans.append(column)

    def _state(self, state: str) -> int:
        index = self._state_index.get(state)
        if index is None:
            if len(self.states) > _MAX_STATES:  # only a forged report could have this many
                raise ValueError("more than 255 distinct verdict/blocking states")
            index = self._state_index[state] = len(self.states)
            self.states.append(state)
        return index

    def ordered_scans(self) -> list[ScanColumn]:
        return sorted(self.scans, key=lambda scan: (scan.started_at, scan.vantage))

    def rows(self, target_filter: TargetFilter) -> list[int]:
        """Indexes of the targets to show: id/category filters, and a verdict seen in some scan."""
        chosen = []
        for index, (target_id, category) in enumerate(zip(self.target_ids, self.categories)):
            if not target_filter.accepts_target(target_id, category):
                continue
            if target_filter.accepts_verdicts(self._verdicts_seen[index]):
                chosen.append(index)
        return chosen

    def state(self, scan: ScanColumn, index: int) -> str | None:
        code = scan.cells[index] if index < len(scan.cells) else 0
        return self.states[code] if code else None


# --- column grouping -------------------------------------------------------------------------

_PERIODS: Final[dict[str, Callable[[datetime], str]]] = {
    "day": lambda t: t.strftime("%Y-%m-%d"),
    "week": lambda t: "{0}-W{1:02d}".format(*t.isocalendar()[:2]),
    "month": lambda t: t.strftime("%Y-%m"),
    "year": lambda t: t.strftime("%Y"),
    "all": lambda t: "all scans",
}


@dataclass
class ColumnGroup:
    vantage: str
    period: str  # "2022-01-05", "2022-W01", …; for ungrouped columns the scan time
    scans: list[ScanColumn]


def group_columns(scans: list[ScanColumn], max_columns: int) -> tuple[str, list[ColumnGroup]]:
    """('scan', one group per scan) when they fit, else the finest period that fits.

    Returns ('', []) when even one column per vantage is too many.
    """
    if len(scans) <= max_columns:
        return "scan", [ColumnGroup(s.vantage, _scan_time(s.started_at), [s]) for s in scans]
    for name, period_of in _PERIODS.items():
        groups: dict[tuple[str, str], ColumnGroup] = {}
        for scan in scans:
            key = (scan.vantage, period_of(scan.started_at))
            groups.setdefault(key, ColumnGroup(key[0], key[1], [])).scans.append(scan)
        if len(groups) <= max_columns:
            ordered = sorted(groups.values(), key=lambda g: (g.scans[0].started_at, g.vantage))
            return name, ordered
    return "", []


def _scan_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%MZ")


def dominant(states: Iterable[str]) -> tuple[str, int, int] | None:
    """(most frequent state, its count, scans with a state); ties go to the more severe state."""
    counts = Counter(states)
    if not counts:
        return None
    state, count = max(counts.items(), key=lambda item: (item[1], SEVERITY.get(verdict_of(item[0]), 0)))
    return state, count, sum(counts.values())


# --- terminal -------------------------------------------------------------------------------


def columns_that_fit(width: int) -> int:
    """How many scan columns a console `width` characters wide shows readably."""
    return max(1, min(MAX_TABLE_COLUMNS, (width - ROW_HEADING_CHARS) // COLUMN_CHARS))


def render_summary(
    matrix: SummaryMatrix, console: Console, target_filter: TargetFilter, *, max_columns: int | None = None
) -> None:
    """The matrix as a table; `max_columns` defaults to what the console's width fits, and is
    held to it: more columns than fit would fold every heading and cell into unreadable pieces."""
    fits = max(1, (console.width - ROW_HEADING_CHARS) // NARROWEST_COLUMN_CHARS) if max_columns else columns_that_fit(console.width)
    if max_columns is not None and max_columns > fits:
        console.print(Text(f"--max-columns {max_columns}: a {console.width}-character wide table shows {fits} "
                           "readably; widen the terminal (or set COLUMNS), or use --csv for every scan.", style="yellow"))
    max_columns = min(max_columns or fits, fits)
    scans = matrix.ordered_scans()
    grouping, groups = group_columns(scans, max_columns)
    vantages = sorted({scan.vantage for scan in scans})
    if not groups:
        console.print(
            Text(
                f"{len(scans)} scans from {len(vantages)} vantages: too many columns for a terminal even one per "
                f"vantage. Narrow with --vantage (or --since/--until), or use --csv for the full matrix.",
                style="yellow",
            )
        )
        return
    rows = matrix.rows(target_filter)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    longest = max((len(clean(matrix.labels[index], 30)) for index in rows), default=6)
    table.add_column("Target", no_wrap=True, min_width=max(longest, 6))
    table.add_column("Cat", no_wrap=True)
    status_line = any(not scan.complete for scan in scans)  # all headings keep the same height
    several = len(vantages) > 1
    for previous, group in zip([None, *groups], groups):
        # Never folded into 3-character pieces: a cell too narrow is cut with "…" instead.
        table.add_column(_heading(group, grouping, status_line, previous, several), no_wrap=True, overflow="ellipsis")
    table.add_row(Text("connectivity", style="italic"), Text(""), *[_connectivity_cell(g.scans) for g in groups])
    table.add_section()
    for index in rows:
        cells = [_state_cell(matrix, group.scans, index) for group in groups]
        table.add_row(safe(matrix.labels[index], max_chars=30), safe(matrix.categories[index], max_chars=6), *cells)
    console.print(table)
    if not rows:
        console.print(Text("No target matches the filters.", style="dim"))
    first, last = iso(scans[0].started_at), iso(scans[-1].started_at)
    where = f"vantage {clean(vantages[0], 40)}" if len(vantages) == 1 else f"{len(vantages)} vantages"
    console.print(Text(f"{len(rows)} targets × {len(scans)} scans from {where}, {first} to {last} (times UTC)."))
    if grouping not in ("scan", ""):
        console.print(
            Text(
                f"More than {max_columns} scans: columns group them by vantage and {grouping}; each cell is the "
                "most frequent state, with n/N when the scans disagree. --csv gives every scan; "
                "--vantage/--since/--until narrow the view.",
                style="yellow",
            )
        )
    console.print(Text(LEGEND, style="dim"))


def _heading(group: ColumnGroup, grouping: str, status_line: bool, previous: ColumnGroup | None,
             several_vantages: bool) -> Text:
    """Vantage, then the date (or period), then the time (or the number of scans), then (when
    some scan of the matrix is incomplete) INCOMPLETE or nothing. What the column before already
    says is left blank (one vantage: its name is under the table), so that headings stay short
    enough to read however many columns share the width."""
    show_vantage = several_vantages and (previous is None or previous.vantage != group.vantage)
    heading = safe(group.vantage, "bold", 24) if show_vantage else Text("")
    first_line = "\n" if several_vantages else ""
    if grouping == "scan":
        moment = group.scans[0].started_at
        before = previous.scans[0].started_at if previous is not None else None
        # Month and day fit a narrow column; the year is in the line under the table.
        day = f"{moment:%m-%d}" if before is None or before.date() != moment.date() or show_vantage else ""
        heading.append(f"{first_line}{day}\n{moment:%H:%M}")
    else:
        heading.append(f"{first_line}{group.period}\n{len(group.scans)} scans")
    incomplete = sum(1 for scan in group.scans if not scan.complete)
    if incomplete:
        heading.append("\nINCOMPLETE" if grouping == "scan" else f"\n{incomplete} INCOMPLETE", style="bold red")
    elif status_line:
        heading.append("\n")
    return heading


def _state_cell(matrix: SummaryMatrix, scans: list[ScanColumn], index: int) -> Text:
    found = dominant(state for state in (matrix.state(scan, index) for scan in scans) if state is not None)
    if found is None:
        return Text(ABSENT_CELL, style="dim")
    state, count, total = found
    label = compact(state) if count == total else f"{compact(state)} {count}/{total}"
    return Text(clean(label), style=state_style(state))


def _connectivity_cell(scans: list[ScanColumn]) -> Text:
    if len(scans) == 1:
        state = scans[0].connectivity
        label = {v.INTERNATIONAL_CUT: "CUT", v.OFFLINE: "OFFLINE", v.CAPTIVE_PORTAL: "PORTAL"}.get(state or "", state or "?")
        return Text(label, style=connectivity_style(state))
    counts = Counter(scan.connectivity for scan in scans)
    worst = [(name, label) for name, label in ((v.OFFLINE, "off"), (v.INTERNATIONAL_CUT, "cut"), (v.CAPTIVE_PORTAL, "portal"))
             if counts[name]]
    if not worst:
        return Text("online" if counts[v.ONLINE] == len(scans) else "?", style=connectivity_style(v.ONLINE))
    label = " ".join(f"{label} {counts[name]}" for name, label in worst) + f"/{len(scans)}"
    return Text(label, style=connectivity_style(worst[0][0]))


# --- CSV -------------------------------------------------------------------------------------


def write_summary_csv(matrix: SummaryMatrix, stream: TextIO, target_filter: TargetFilter) -> None:
    """The full matrix: one column per scan (in time order), one row per target.

    Header: target, category, then "vantage started_at" per scan. Two rows before the targets,
    named "(connectivity)" and "(complete)", give each scan's connectivity and completeness.
    Cells are states: "reachable", "blocked/tls", …; empty when the target is not in that scan.
    """
    scans = matrix.ordered_scans()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["target", "category", *_unique_labels(scans)])
    writer.writerow(["(connectivity)", "", *[scan.connectivity or "" for scan in scans]])
    writer.writerow(["(complete)", "", *["true" if scan.complete else "false" for scan in scans]])
    for index in matrix.rows(target_filter):
        writer.writerow(
            [csv_cell(matrix.target_ids[index]), csv_cell(matrix.categories[index])]
            + [matrix.state(scan, index) or "" for scan in scans]
        )


def _unique_labels(scans: list[ScanColumn]) -> list[str]:
    labels: list[str] = []
    seen: Counter[str] = Counter()
    for scan in scans:
        label = f"{clean(scan.vantage)} {iso(scan.started_at)}"
        seen[label] += 1
        labels.append(csv_cell(label if seen[label] == 1 else f"{label} #{seen[label]}"))  # type: ignore[arg-type]
    return labels
