"""`kzprobe compare`: two scans side by side, as a table or JSON.

Two vantages at the same hour show where blocking differs (one ISP blocks, another does not);
one vantage on two days shows when it started or stopped. The comparison itself
(kzprobe.report.compare) is the one a vantage's change record uses; this module adds the
analysts' filters and renders it.
"""

from __future__ import annotations

from typing import Any, Final

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.reading import ScanDigest, TargetDigest
from kzprobe.analyst.render import scan_line
from kzprobe.analyst.style import safe, state_of, state_style
from kzprobe.report import compare as report_compare
from kzprobe.report.compare import Comparison, TargetChange
from kzprobe.text import clean_text

_STATUS_LABELS: Final = {"changed": "changed", "only_a": "only in A", "only_b": "only in B", "unchanged": "unchanged"}


def compare_scans(a: ScanDigest, b: ScanDigest,
                  target_filter: TargetFilter = TargetFilter()) -> Comparison[ScanDigest, TargetDigest]:
    """Match the two scans' targets by id and classify each (filters: either side may match)."""
    return report_compare.compare_scans(a, b, lambda change: _accepted(change, target_filter))


def _accepted(change: TargetChange[TargetDigest], target_filter: TargetFilter) -> bool:
    sides = [side for side in (change.a, change.b) if side is not None]
    return any(target_filter.accepts_target(s.id, s.category) for s in sides) and target_filter.accepts_verdicts(
        s.verdict for s in sides
    )


def comparison_json(
    comparison: Comparison[ScanDigest, TargetDigest], *, include_unchanged: bool = False
) -> dict[str, Any]:
    """JSON-ready comparison (`kzprobe compare --json`); counts always include the unchanged."""
    return {
        "a": comparison.a.header(),
        "b": comparison.b.header(),
        "counts": comparison.counts(),
        "notes": comparison.notes(),
        "targets": [
            {
                "target": change.id,
                "category": change.category,
                "status": change.status,
                "changed": list(change.changed),
                "a": _side_json(change.a),
                "b": _side_json(change.b),
            }
            for change in comparison.targets
            if include_unchanged or change.status != "unchanged"
        ],
    }


def _side_json(side: TargetDigest | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {
        "verdict": side.verdict,
        "blocking": side.blocking,
        "evidence": list(side.evidence),
        "explanation": side.explanation,
    }


def render_comparison(
    comparison: Comparison[ScanDigest, TargetDigest], console: Console, *, include_unchanged: bool = False
) -> None:
    for name, scan in (("A", comparison.a), ("B", comparison.b)):
        console.print(Text.assemble(Text(f"{name}  ", style="bold"), scan_line(scan)))
    for note in comparison.notes():
        console.print(Text(note, style="yellow"))
    counts = comparison.counts()
    hidden = "" if include_unchanged or not counts["unchanged"] else " (hidden; --all shows them)"
    console.print(
        Text(
            f"{counts['changed']} changed · {counts['only_a']} only in A · {counts['only_b']} only in B · "
            f"{counts['unchanged']} unchanged{hidden}",
            style="bold",
        )
    )
    shown = [c for c in comparison.targets if include_unchanged or c.status != "unchanged"]
    if not shown:
        console.print(Text("No target differs between A and B.", style="green"))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Target", no_wrap=True)
    table.add_column("Category")
    table.add_column("Status")
    table.add_column("A", overflow="fold")
    table.add_column("B", overflow="fold")
    table.add_column("What changed")
    for change in shown:
        table.add_row(
            safe(_label(change), max_chars=40),
            safe(change.category),
            Text(_STATUS_LABELS[change.status], style="bold" if change.status == "changed" else ""),
            _side_text(change.a),
            _side_text(change.b),
            Text(", ".join(change.changed)),
        )
    console.print(table)


def _side_text(side: TargetDigest | None) -> Text:
    if side is None:
        return Text("-", style="dim")
    state = state_of(side.verdict, side.blocking)
    text = Text(clean_text(state), style=state_style(state))
    if side.evidence:
        text.append(" " + clean_text(", ".join(side.evidence)), style="dim")
    return text


def _label(change: Any) -> str:
    """The Target cell: `keyword: WORD` for a keyword target (from either side), else the id."""
    side = change.b or change.a
    return side.label if side is not None and hasattr(side, "label") else change.id
