"""Two scans side by side: which targets changed verdict, blocking layer or evidence.

Two vantages at the same hour show where blocking differs (one ISP blocks, another does not);
one vantage on two days shows when it started or stopped. Targets are matched by id. Evidence
is compared as a set: the same facts listed in another order are not a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.reading import ScanDigest, TargetDigest
from kzprobe.analyst.render import scan_line
from kzprobe.analyst.safe_text import clean, safe
from kzprobe.analyst.style import connectivity_label, state_of, state_style

Status = Literal["changed", "only_a", "only_b", "unchanged"]
STATUSES: Final = ("changed", "only_a", "only_b", "unchanged")
_STATUS_LABELS: Final = {"changed": "changed", "only_a": "only in A", "only_b": "only in B", "unchanged": "unchanged"}


@dataclass(frozen=True)
class TargetChange:
    id: str
    category: str | None
    status: Status
    a: TargetDigest | None
    b: TargetDigest | None
    changed: tuple[str, ...]  # of "verdict", "blocking", "evidence"


@dataclass(frozen=True)
class Comparison:
    a: ScanDigest
    b: ScanDigest
    targets: tuple[TargetChange, ...]  # changed, only in A, only in B, unchanged; report order within

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for change in self.targets:
            counts[change.status] += 1
        return counts

    def notes(self) -> list[str]:
        """What a reader must know before trusting the differences."""
        notes = []
        if self.a.scan_id is not None and self.a.scan_id == self.b.scan_id:
            notes.append("A and B are the same scan (same scan_id).")
        if self.a.connectivity != self.b.connectivity:
            notes.append(
                f"Connectivity differs ({connectivity_label(self.a.connectivity)} in A, "
                f"{connectivity_label(self.b.connectivity)} in B): changes may come from that, "
                "not from blocking of each target."
            )
        for name, scan in (("A", self.a), ("B", self.b)):
            if not scan.complete:
                notes.append(f"{name} is INCOMPLETE: targets missing from it show as only in the other.")
        return notes


def compare_scans(a: ScanDigest, b: ScanDigest, target_filter: TargetFilter = TargetFilter()) -> Comparison:
    """Match the two scans' targets by id and classify each (filters: either side may match)."""
    in_b = {target.id: target for target in b.targets}
    in_a = {target.id: target for target in a.targets}
    changes: list[TargetChange] = []
    for target in a.targets:
        changes.append(_change(target.id, target, in_b.get(target.id)))
    for target in b.targets:
        if target.id not in in_a:
            changes.append(_change(target.id, None, target))
    kept = [c for c in changes if _accepted(c, target_filter)]
    order = {status: rank for rank, status in enumerate(STATUSES)}
    kept.sort(key=lambda change: order[change.status])  # stable: report order within a status
    return Comparison(a=a, b=b, targets=tuple(kept))


def _accepted(change: TargetChange, target_filter: TargetFilter) -> bool:
    sides = [side for side in (change.a, change.b) if side is not None]
    return any(target_filter.accepts_target(s.id, s.category) for s in sides) and target_filter.accepts_verdicts(
        s.verdict for s in sides
    )


def _change(target_id: str, a: TargetDigest | None, b: TargetDigest | None) -> TargetChange:
    category = (a or b).category if (a or b) else None
    if a is None or b is None:
        return TargetChange(target_id, category, "only_b" if a is None else "only_a", a, b, ())
    changed = tuple(
        name
        for name, differs in (
            ("verdict", a.verdict != b.verdict),
            ("blocking", a.blocking != b.blocking),
            ("evidence", set(a.evidence) != set(b.evidence)),
        )
        if differs
    )
    return TargetChange(target_id, category, "changed" if changed else "unchanged", a, b, changed)


def comparison_json(comparison: Comparison, *, include_unchanged: bool = False) -> dict[str, Any]:
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


def render_comparison(comparison: Comparison, console: Console, *, include_unchanged: bool = False) -> None:
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
            safe(change.id, max_chars=40),
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
    text = Text(clean(state), style=state_style(state))
    if side.evidence:
        text.append(" " + clean(", ".join(side.evidence)), style="dim")
    return text
