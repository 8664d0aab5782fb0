"""The report's charts as inline SVG, and what the page's script shows when one is pointed at.

Every chart shares one time axis (same first column, same column width), so the vantages'
grids and the targets' timelines line up on the page and in a downloaded picture. A row is
drawn as runs (consecutive periods with the same states, kzprobe.analyst.html.grid.runs): one
<path> per look and chart, not one element per cell, so a year of hourly scans stays a few MB.
The details of each run (counts, evidence, the latest explanation) go into the page's JSON,
indexed by chart and row; the script finds the run under the pointer from its coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any, Final

from kzprobe.analyst.html.grid import Cells, Resolution, Run, TargetInfo, VantageGrid, runs
from kzprobe.analyst.html.markup import esc, plain
from kzprobe.analyst.html.palette import Look, connectivity_look, state_look

LABEL_WIDTH: Final = 170  # the row labels left of the first column
ROW_STEP: Final = 14  # a row's height and the gap below it
ROW_HEIGHT: Final = 12
MIN_CHART_WIDTH: Final = 720  # room for the source stamp
MIN_TICK_SPACING: Final = 52  # pixels between time labels
MIN_LABEL_WIDTH: Final = 22  # runs at least this wide carry their label
ROW_LABEL_CHARS: Final = 28
_TITLE_Y: Final = 14
_AXIS_Y: Final = 32


class Strings:
    """The page's strings, each once: the JSON refers to them by index."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def ref(self, value: object) -> int:
        """The index of `value` made plain (kzprobe.analyst.html.markup), or -1 for None."""
        if value is None:
            return -1
        text = plain(value)
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self.values)
            self.values.append(text)
        return found


@dataclass(frozen=True)
class Axis:
    """The shared time axis: `columns` periods of `resolution` from bucket `first`."""

    resolution: Resolution
    first: int
    columns: int
    cell_width: int

    @classmethod
    def fitting(cls, resolution: Resolution, first: int, last: int, width: int = 1000) -> Axis:
        columns = last - first + 1
        return cls(resolution, first, columns, max(3, min(24, width // columns)))

    @property
    def width(self) -> int:
        return max(MIN_CHART_WIDTH, LABEL_WIDTH + self.columns * self.cell_width + 12)

    def x(self, bucket: int) -> int:
        return LABEL_WIDTH + (bucket - self.first) * self.cell_width

    def ticks(self) -> list[tuple[int, str]]:
        """(x, label) at the boundaries of the finest calendar unit whose labels do not crowd."""
        starts = [self.resolution.start(self.first + column) for column in range(self.columns + 1)]
        for key, fmt in _TICK_LEVELS:
            columns = [c for c in range(1, self.columns) if key(starts[c]) != key(starts[c - 1])]
            gaps = [b - a for a, b in pairwise(columns)] or [self.columns]
            if columns and min(gaps) * self.cell_width >= MIN_TICK_SPACING:
                return [(LABEL_WIDTH + c * self.cell_width, starts[c].strftime(fmt)) for c in columns]
        return []


_TICK_LEVELS: Final[list[tuple[Callable[[datetime], Hashable], str]]] = [
    (lambda d: d.date(), "%d %b"),
    (lambda d: d.isocalendar()[:2], "%d %b"),
    (lambda d: (d.year, d.month), "%b %Y"),
    (lambda d: (d.year, (d.month - 1) // 3), "%b %Y"),
    (lambda d: d.year, "%Y"),
]


@dataclass
class _Canvas:
    """Paths per look, labels and markers of one chart, drawn as few elements as possible."""

    axis: Axis
    paths: dict[str, list[str]] = field(default_factory=dict)
    marks: dict[str, list[str]] = field(default_factory=dict)
    label_boxes: dict[str, list[str]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    lanes: list[str] = field(default_factory=list)

    def lane(self, y: int) -> None:
        """The background of a row: what shows where no scan saw the target."""
        width = self.axis.columns * self.axis.cell_width
        self.lanes.append(f"M{LABEL_WIDTH} {y}h{width}v{ROW_HEIGHT}h-{width}z")

    def run(self, run: Run, y: int, look: Look) -> None:
        x, width = self.axis.x(run.first_bucket), run.length * self.axis.cell_width
        self.paths.setdefault(look.key, []).append(f"M{x} {y}h{width}v{ROW_HEIGHT}h-{width}z")
        if run.mixed:  # some scans saw another state: a corner mark, explained in the legend
            self.marks.setdefault(look.key, []).append(f"M{x} {y}h3v3h-3z")
        if width >= MIN_LABEL_WIDTH:
            # A plain box of the base colour behind the label: it reads over any pattern.
            box = min(width - 2, len(look.label) * 6 + 4)
            left = x + (width - box) // 2
            self.label_boxes.setdefault(look.key, []).append(f"M{left} {y + 1}h{box}v{ROW_HEIGHT - 2}h-{box}z")
            self.labels.append(
                f'<text class="label t-{look.key}" x="{x + width // 2}" '
                f'y="{y + ROW_HEIGHT - 3}">{esc(look.label)}</text>'
            )

    def svg(self) -> str:
        shapes = [f'<path class="lane" d="{"".join(self.lanes)}"/>'] if self.lanes else []
        shapes += [f'<path class="f-{key}" d="{"".join(d)}"/>' for key, d in self.paths.items()]
        shapes += [f'<path class="i-{key}" d="{"".join(d)}"/>' for key, d in self.marks.items()]
        shapes += [f'<path class="b-{key}" d="{"".join(d)}"/>' for key, d in self.label_boxes.items()]
        return "".join(shapes) + "".join(self.labels)


@dataclass
class ChartPage:
    """What the page gets from the charts: SVG texts, and the JSON the script reads."""

    strings: Strings = field(default_factory=Strings)
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)


def vantage_chart(page: ChartPage, chart_id: str, grid: VantageGrid, targets: list[TargetInfo], axis: Axis,
                  title: str, stamp: list[str]) -> tuple[str, dict[int, int]]:
    """The connectivity band and the targets × time grid of one vantage; also each target's row
    number (for the timelines, which point at these rows)."""
    canvas = _Canvas(axis)
    rows: list[dict[str, Any]] = []
    row_labels: list[str] = []
    y = _AXIS_Y + 8
    band = _runs_json(page, grid.connectivity, None, canvas, y)
    rows.append({"y": y, "k": "c", "v": page.strings.ref(grid.name), "r": band})
    row_labels.append(_row_label("connectivity", y, italic=True))
    y += ROW_STEP + 6
    row_of: dict[int, int] = {}
    for info in targets:
        cells = grid.rows.get(info.index)
        if not cells:
            continue
        row_of[info.index] = len(rows)
        rows.append({"y": y, "k": "t", "t": info.index, "v": page.strings.ref(grid.name),
                     "r": _runs_json(page, cells, info, canvas, y)})
        row_labels.append(_row_label(info.id, y))
        y += ROW_STEP
    page.charts[chart_id] = {"rows": rows}
    return _frame(chart_id, axis, title, stamp, y, row_labels, canvas), row_of


def target_chart(page: ChartPage, chart_id: str, sources: list[tuple[str, str, int, Cells]], axis: Axis,
                 title: str, stamp: list[str]) -> str:
    """One target across vantages: one row per vantage (`sources`: vantage name, the chart id and
    row of the target in that vantage's grid, its cells). The details stay in the grid's rows."""
    canvas = _Canvas(axis)
    rows: list[dict[str, Any]] = []
    row_labels: list[str] = []
    y = _AXIS_Y + 8
    for vantage, vantage_chart_id, row, cells in sources:
        canvas.lane(y)
        for run in runs(cells):
            canvas.run(run, y, state_look(run.dominant))
        rows.append({"y": y, "ref": [vantage_chart_id, row]})
        row_labels.append(_row_label(vantage, y))
        y += ROW_STEP
    page.charts[chart_id] = {"rows": rows}
    return _frame(chart_id, axis, title, stamp, y, row_labels, canvas)


def _runs_json(page: ChartPage, cells: Cells, info: TargetInfo | None, canvas: _Canvas, y: int) -> list[list[Any]]:
    """Draw the runs of a row and return their details: [column, length, [state, count, …]
    (the run's state first),
    incomplete scans, first scan, last scan (epoch s), evidence, explanation, its scan time]."""
    strings = page.strings
    found = []
    canvas.lane(y)
    for run in runs(cells):
        look = state_look(run.dominant) if info is not None else connectivity_look(run.dominant)
        canvas.run(run, y, look)
        counts: list[int] = []
        totals = run.totals()
        for state in [run.dominant, *(state for state in totals if state != run.dominant)]:
            counts += [strings.ref(state), totals[state]]
        latest = run.latest(run.dominant) if info is not None else None
        found.append([
            run.first_bucket - canvas.axis.first, run.length, counts,
            sum(cell.incomplete for cell in run.cells),
            int(run.cells[0].first.timestamp()), int(run.cells[-1].last.timestamp()),
            strings.ref(" ".join(latest.evidence)) if latest and latest.evidence else -1,
            strings.ref(latest.explanation) if latest else -1,
            int(latest.latest.timestamp()) if latest and latest.latest else 0,
        ])
    return found


def _row_label(text: str, y: int, italic: bool = False) -> str:
    style = ' font-style="italic"' if italic else ""
    return f'<text x="4" y="{y + ROW_HEIGHT - 2}"{style}>{esc(text, ROW_LABEL_CHARS)}</text>'


def _frame(chart_id: str, axis: Axis, title: str, stamp: list[str], bottom: int, row_labels: list[str],
           canvas: _Canvas) -> str:
    width = axis.width
    height = bottom + 8 + 13 * len(stamp)
    ticks = axis.ticks()
    tick_path = "".join(f"M{x} {_AXIS_Y + 3}V{bottom}" for x, _ in ticks)
    parts = [
        f'<svg class="kz" data-chart="{esc(chart_id)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text class="title" x="4" y="{_TITLE_Y}">{esc(title)}</text>',
        f'<path class="tick" d="{tick_path}"/>' if tick_path else "",
        "".join(f'<text class="axis" x="{x + 2}" y="{_AXIS_Y}">{esc(label)}</text>' for x, label in ticks),
        "".join(row_labels),
        canvas.svg(),
        "".join(
            f'<text class="stamp" x="4" y="{bottom + 14 + 13 * number}">{esc(line)}</text>'
            for number, line in enumerate(stamp)
        ),
        "</svg>",
    ]
    return "".join(parts)
