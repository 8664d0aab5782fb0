"""`kzprobe summary` on a terminal and as CSV, drawn from a SummarySource (files or the store).

The renderer sees aggregates only: the columns' shape, the targets shown, and per target and
column the count of each state, so that a store of fifty million rows is drawn from a few
thousand numbers computed where the rows are.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from typing import Final, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kzprobe.analyst.export import csv_cell
from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.quick_table import quick
from kzprobe.analyst.reading import iso
from kzprobe.analyst.style import ABSENT_CELL, LEGEND, compact, connectivity_style, safe, state_style
from kzprobe.analyst.summary import MAX_TABLE_COLUMNS, ColumnGroup, ScanColumn, SummarySource, dominant
from kzprobe.report import vocabulary as v
from kzprobe.text import clean_text

# Characters a scan column takes (cells like "tls 27/48", headings like "almaty-vps"), and
# what the target and category columns leave of the width.
COLUMN_CHARS: Final = 13
# Asked for explicitly (--max-columns), a column may be as narrow as its widest cell ("ok 14/24")
# plus padding: headings name the date only where it changes, so they are no wider.
NARROWEST_COLUMN_CHARS: Final = 10
ROW_HEADING_CHARS: Final = 30
# What makes the csv module quote a cell (delimiter, quote, line ends): a state never has it
# (verdicts and layers are words), and a row of states without it is written joined, as the csv
# module would write it, in a fraction of the time (`summary --csv` of 10,000 scans: 800,000 cells).
_CSV_SPECIAL: Final = re.compile(r'[,"\r\n]')


def columns_that_fit(width: int) -> int:
    """How many scan columns a console `width` characters wide shows readably."""
    return max(1, min(MAX_TABLE_COLUMNS, (width - ROW_HEADING_CHARS) // COLUMN_CHARS))


def render_summary(
    source: SummarySource, console: Console, target_filter: TargetFilter, *, max_columns: int | None = None
) -> None:
    """The matrix as a table; `max_columns` defaults to what the console's width fits, and is
    held to it: more columns than fit would fold every heading and cell into unreadable pieces."""
    fits = (max(1, (console.width - ROW_HEADING_CHARS) // NARROWEST_COLUMN_CHARS) if max_columns
            else columns_that_fit(console.width))
    if max_columns is not None and max_columns > fits:
        console.print(Text(f"--max-columns {max_columns}: a {console.width}-character wide table shows {fits} "
                           "readably; widen the terminal (or set COLUMNS), or use --csv for every scan.",
                           style="yellow"))
    max_columns = min(max_columns or fits, fits)
    shape = source.shape(max_columns)
    groups = shape.groups
    if not groups:
        console.print(
            Text(
                f"{shape.scans} scans from {len(shape.vantages)} vantages: too many columns for a terminal even one "
                "per "
                f"vantage. Narrow with --vantage (or --since/--until), or use --csv for the full matrix.",
                style="yellow",
            )
        )
        return
    targets = source.shown_targets(target_filter)
    cells = source.group_cells(shape, targets)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    longest = max((len(clean_text(target.label, 30)) for target in targets), default=6)
    table.add_column("Target", no_wrap=True, min_width=max(longest, 6))
    table.add_column("Cat", no_wrap=True)
    several = len(shape.vantages) > 1
    for previous, group in zip([None, *groups], groups, strict=False):  # each group with the one before
        # Never folded into 3-character pieces: a cell too narrow is cut with "…" instead.
        heading = _heading(group, shape.grouping, shape.any_incomplete, previous, several)
        table.add_column(heading, no_wrap=True, overflow="ellipsis")
    table.add_row(Text("connectivity", style="italic"), Text(""), *[_connectivity_cell(g) for g in groups])
    table.add_section()
    for target, row in zip(targets, cells, strict=True):
        table.add_row(safe(target.label, max_chars=30), safe(target.category, max_chars=6),
                      *[_state_cell(c) for c in row])
    console.print(quick(table))
    if not targets:
        console.print(Text("No target matches the filters.", style="dim"))
    first, last = iso(shape.first), iso(shape.last)
    where = (f"vantage {clean_text(shape.vantages[0], 40)}" if len(shape.vantages) == 1
             else f"{len(shape.vantages)} vantages")
    console.print(Text(f"{len(targets)} targets × {shape.scans} scans from {where}, {first} to {last} (times UTC)."))
    if shape.grouping not in ("scan", ""):
        console.print(
            Text(
                f"More than {max_columns} scans: columns group them by vantage and {shape.grouping}; each cell is the "
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
        moment = group.first
        before = previous.first if previous is not None else None
        # Month and day fit a narrow column; the year is in the line under the table.
        day = f"{moment:%m-%d}" if before is None or before.date() != moment.date() or show_vantage else ""
        heading.append(f"{first_line}{day}\n{moment:%H:%M}")
    else:
        heading.append(f"{first_line}{group.period}\n{group.scans} scans")
    if group.incomplete:
        heading.append("\nINCOMPLETE" if grouping == "scan" else f"\n{group.incomplete} INCOMPLETE", style="bold red")
    elif status_line:
        heading.append("\n")
    return heading


def _state_cell(counts: Counter[str]) -> Text:
    found = dominant(counts)
    if found is None:
        return Text(ABSENT_CELL, style="dim")
    state, count, total = found
    label = compact(state) if count == total else f"{compact(state)} {count}/{total}"
    return Text(clean_text(label), style=state_style(state))


def _connectivity_cell(group: ColumnGroup) -> Text:
    counts = group.connectivity
    if group.scans == 1:
        state = next(iter(counts))
        names = {v.INTERNATIONAL_CUT: "CUT", v.OFFLINE: "OFFLINE", v.CAPTIVE_PORTAL: "PORTAL"}
        label = names.get(state or "", state or "?")
        return Text(label, style=connectivity_style(state))
    severe = ((v.OFFLINE, "off"), (v.INTERNATIONAL_CUT, "cut"), (v.CAPTIVE_PORTAL, "portal"))
    worst = [(name, label) for name, label in severe if counts[name]]
    if not worst:
        return Text("online" if counts[v.ONLINE] == group.scans else "?", style=connectivity_style(v.ONLINE))
    label = " ".join(f"{label} {counts[name]}" for name, label in worst) + f"/{group.scans}"
    return Text(label, style=connectivity_style(worst[0][0]))


def write_summary_csv(source: SummarySource, stream: TextIO, target_filter: TargetFilter) -> None:
    """The full matrix: one column per scan (in time order), one row per target.

    Header: target, category, then "vantage started_at" per scan. Two rows before the targets,
    named "(connectivity)" and "(complete)", give each scan's connectivity and completeness.
    Cells are states: "reachable", "blocked/tls", …; empty when the target is not in that scan.
    """
    scans = source.all_scans()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["target", "category", *_unique_labels(scans)])
    writer.writerow(["(connectivity)", "", *[scan.connectivity or "" for scan in scans]])
    writer.writerow(["(complete)", "", *["true" if scan.complete else "false" for scan in scans]])
    targets = source.shown_targets(target_filter)
    for target, states in zip(targets, source.scan_states(targets), strict=True):
        cells = [csv_cell(target.id), csv_cell(target.category)]
        if any(_CSV_SPECIAL.search(state) for state in set(states)):
            writer.writerow(cells + states)
        else:  # the usual row: a state per scan, thousands of words that need no quoting
            head = io.StringIO()
            csv.writer(head, lineterminator="").writerow(cells)
            stream.write(",".join([head.getvalue(), *states]) + "\n")


def _unique_labels(scans: list[ScanColumn]) -> list[str]:
    labels: list[str] = []
    seen: Counter[str] = Counter()
    vantages: dict[str, str] = {}  # a few vantages, thousands of scans: each name cleaned once
    for scan in scans:
        vantage = vantages.get(scan.vantage)
        if vantage is None:
            vantage = vantages[scan.vantage] = clean_text(scan.vantage)
        label = f"{vantage} {iso(scan.started_at)}"
        seen[label] += 1
        labels.append(str(csv_cell(label if seen[label] == 1 else f"{label} #{seen[label]}")))
    return labels
