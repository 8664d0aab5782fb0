"""One report as a human table (`kzprobe show`, and the end of `kzprobe scan`), or as JSON.

The header says where and when the scan ran and whether it is complete; an incomplete scan is
announced in red before and after the table, so nobody reads a partial list as the whole story.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.reading import ScanDigest, TargetDigest, digest_report, iso
from kzprobe.analyst.style import (
    INCOMPLETE_STYLE,
    UNANALYSED,
    connectivity_label,
    connectivity_style,
    safe,
    state_style,
)
from kzprobe.report import read as rr
from kzprobe.report import vocabulary as v
from kzprobe.text import clean_text

# Column widths a table keeps readable in: long ids and explanations are shortened with "…".
MAX_ID_CHARS = 40
MAX_EXPLANATION_CHARS = 240
# Below this console width the table has no room for explanations: each target takes two lines.
NARROW_WIDTH = 110


def render_report(report: dict[str, Any], console: Console) -> None:
    """Print a report (from report.read, or just written by a scan) as a human table.

    The report is checked first: one that breaks the format gets a line saying why, not a crash.
    """
    try:
        checked = rr.check_report(report, "report", require_verdicts=False)
    except rr.ReportError as error:
        console.print(Text(f"The report cannot be shown: {clean_text(error.reason)}", style="bold red"))
        return
    render_scan(digest_report(checked, ""), console)


def render_scan(scan: ScanDigest, console: Console, target_filter: TargetFilter = TargetFilter()) -> None:
    """Print one scan: header, one row per (accepted) target, then the verdict counts."""
    for line in header_lines(scan):
        console.print(line)
    rows = [target for target in scan.targets if target_filter.accepts(target)]
    if scan.connectivity in VANTAGE_DOWN and rows:
        # Every row would repeat the same explanation: say it once, with what to check.
        for line in vantage_down_banner(scan.connectivity):
            console.print(line)
        console.print(compact_targets(rows))
    elif rows and console.width < NARROW_WIDTH:
        for entry in narrow_lines(rows):
            console.print(entry)
    elif rows:
        console.print(results_table(rows))
    else:
        console.print(
            Text("No result matches the filters." if scan.targets else "No result in this report.", style="dim")
        )
    console.print(counts_line(scan, shown=len(rows) if target_filter.active else None))
    if not scan.complete:
        console.print(Text("INCOMPLETE: the scan stopped before every target was measured.", style=INCOMPLETE_STYLE))


# Connectivity states in which no target's verdict says anything about the target.
VANTAGE_DOWN = (v.OFFLINE, v.CAPTIVE_PORTAL)


def vantage_down_banner(connectivity: str | None) -> list[Text]:
    """What an offline vantage, or one behind a captive portal, tells its user, once, instead of on
    every row."""
    if connectivity == v.CAPTIVE_PORTAL:
        return [
            Text("This network is behind a captive portal: a login page answered for every site.",
                 style="bold magenta"),
            Text("Nothing below was measured beyond it, so no target is blocked or reachable: all are inconclusive."),
            Text("Log in to the network (open any http:// page in a browser and accept its terms), then scan again."),
        ]
    return [
        Text("This vantage was offline: nothing answered, not even the baseline sites.", style="bold red"),
        Text("No target below was measured, so none is blocked or reachable: all are inconclusive."),
        Text(
            "Check the network connection (cable, Wi-Fi, mobile data), that names resolve (DNS, "
            "--resolver), and whether a captive portal waits for a login in a browser; then scan again."
        ),
    ]


def compact_targets(rows: list[TargetDigest]) -> Text:
    """The targets of a scan that measured nothing, as a few wrapped lines of ids."""
    line = Text("Targets: ", style="bold")
    line.append(", ".join(clean_text(target.id, MAX_ID_CHARS) for target in rows))
    return line


def header_lines(scan: ScanDigest) -> list[Text]:
    """The scan's identity: vantage, time, connectivity, completeness."""
    status = Text("complete", style="green") if scan.complete else Text(incomplete_reason(scan), style=INCOMPLETE_STYLE)
    vantage = Text.assemble(safe(scan.vantage, "bold"), *_joined(safe(scan.asn), safe(scan.country)))
    connectivity = Text(connectivity_label(scan.connectivity), style=connectivity_style(scan.connectivity))
    lines = [
        Text.assemble(Text("Report        ", style="bold"), status),
        Text.assemble("Vantage       ", vantage),
        Text.assemble("Time          ", time_span(scan)),
        Text.assemble("Connectivity  ", connectivity),
    ]
    identity = [part for part in (clean_text(scan.scan_id, 40), clean_text(scan.software, 40)) if part]
    if identity:
        lines.append(Text.assemble("Scan          ", safe(" · ".join(identity))))
    if scan.path:
        lines.append(Text.assemble("File          ", safe(scan.path)))
    return lines


def scan_line(scan: ScanDigest) -> Text:
    """A scan in one line: vantage, ASN, country, start time, connectivity, completeness."""
    line = Text.assemble(safe(scan.vantage, "bold", 32), *_joined(safe(scan.asn), safe(scan.country)))
    line.append(f"  {iso(scan.started_at)}  ")
    line.append(connectivity_label(scan.connectivity), style=connectivity_style(scan.connectivity))
    line.append("  ")
    line.append("complete" if scan.complete else "INCOMPLETE", style="green" if scan.complete else INCOMPLETE_STYLE)
    if scan.path:
        line.append_text(Text.assemble("  ", safe(scan.path, "dim")))
    return line


def incomplete_reason(scan: ScanDigest) -> str:
    if scan.from_journal:
        return "INCOMPLETE (read from the scan journal: the scan never finished; verdicts without its control)"
    return "INCOMPLETE (the scan was interrupted: only the targets below were measured)"


def time_span(scan: ScanDigest) -> str:
    started = iso(scan.started_at) or ""
    if scan.finished_at is None:
        return f"{started} (no finish time)"
    seconds = max((scan.finished_at - scan.started_at).total_seconds(), 0.0)
    return f"{started} to {iso(scan.finished_at)} ({_duration(seconds)})"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _joined(*parts: Text) -> list[Text | str]:
    pieces: list[Text | str] = []
    for part in parts:
        if part.plain:
            pieces += [" · ", part]
    return pieces


def results_table(rows: list[TargetDigest]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Target", overflow="fold", max_width=MAX_ID_CHARS)
    table.add_column("Cat", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Layer", no_wrap=True)
    table.add_column("Evidence", overflow="fold", max_width=24)
    table.add_column("Explanation", overflow="fold", ratio=1, min_width=30)
    for target in rows:
        verdict = target.verdict or UNANALYSED
        table.add_row(
            safe(target.label, max_chars=MAX_ID_CHARS),
            safe(target.category),
            Text(clean_text(verdict), style=state_style(verdict)),
            safe(target.blocking),
            safe(", ".join(target.evidence)),
            safe(short_explanation(target), max_chars=MAX_EXPLANATION_CHARS),
        )
    return table


def narrow_lines(rows: list[TargetDigest]) -> list[Text | Padding]:
    """Targets for a narrow terminal: 'id  category  verdict layer  evidence', then the explanation."""
    width = min(max(len(clean_text(t.label, MAX_ID_CHARS)) for t in rows), MAX_ID_CHARS)
    lines: list[Text | Padding] = []
    for target in rows:
        verdict = target.verdict or UNANALYSED
        line = Text(clean_text(target.label, MAX_ID_CHARS).ljust(width), style="bold")
        line.append(f"  {clean_text(target.category):<5} ")
        line.append(clean_text(verdict).ljust(12), style=state_style(verdict))
        line.append(clean_text(target.blocking).ljust(6))
        if target.evidence:
            line.append("  " + clean_text(", ".join(target.evidence)), style="dim")
        lines.append(line)
        explanation = short_explanation(target)
        if explanation:
            lines.append(Padding(Text(clean_text(explanation, MAX_EXPLANATION_CHARS)), (0, 0, 0, 4)))
    return lines


def short_explanation(target: TargetDigest) -> str:
    """A service target is summarised by its endpoints; a web target by its explanation."""
    if target.endpoints is not None and target.endpoints.total:
        return target.endpoints.describe()
    return target.explanation or ""


def counts_line(scan: ScanDigest, shown: int | None = None) -> Text:
    """'80 targets: 70 reachable · 5 blocked · …' in the verdicts' colours."""
    counts = scan.counts()
    total = len(scan.targets)
    parts: list[Text | str] = [f"{total} target{'s' if total != 1 else ''}"]
    if shown is not None:
        parts.append(f" ({shown} shown)")
    parts.append(": ")
    first = True
    for verdict in v.VERDICTS:
        if not first:
            parts.append(" · ")
        parts.append(Text(f"{counts[verdict]} {verdict}", style=state_style(verdict) if counts[verdict] else "dim"))
        first = False
    unanalysed = sum(1 for target in scan.targets if target.verdict is None)
    if unanalysed:
        parts.append(f" · {unanalysed} {UNANALYSED}")
    return Text.assemble(*parts)


def scan_json(scan: ScanDigest, target_filter: TargetFilter = TargetFilter()) -> dict[str, Any]:
    """The verdict fields of a scan, JSON-ready (`kzprobe show --json`)."""
    return {
        "report": scan.header(),
        "results": [target_json(t) for t in scan.targets if target_filter.accepts(t)],
    }


def target_json(target: TargetDigest) -> dict[str, Any]:
    entry = target.verdict_fields()
    if target.endpoints is not None:
        entry["endpoints"] = {
            "total": target.endpoints.total,
            "failing": [{"code": f.code, "where": f.where} for f in target.endpoints.failing],
        }
    return entry
