"""Periods of each state per target and vantage, read from scans in time order.

"orda-kz blocked/tls from 2022-01-05 10:00 to 2022-01-10 08:00, 43 scans": a period runs from
the first to the last scan that saw a state, and a state is the verdict/blocking pair. Per
vantage, the periods it was `offline` or `international_cut`, and the gaps when it did not scan
at all, give the shape of a shutdown. Memory holds the periods (the answer), never the reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.quick_table import QuickRows
from kzprobe.analyst.reading import ScanDigest, iso
from kzprobe.analyst.style import connectivity_style, safe, state_of, state_style
from kzprobe.report import vocabulary as v

# A pause between two scans of a vantage is a gap when it is this many times its usual interval
# (the most common one)…
GAP_FACTOR: Final = 3
# …and at least this long: hourly cron jobs drift by minutes, not hours.
MIN_GAP: Final = timedelta(minutes=90)
UNKNOWN_CONNECTIVITY: Final = "unknown"


@dataclass
class Period:
    state: str
    start: datetime
    end: datetime  # the last scan that had this state
    scans: int = 1
    incomplete: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "from": iso(self.start),
            "to": iso(self.end),
            "scans": self.scans,
            "incomplete_scans": self.incomplete,
        }


@dataclass
class StateTrack:
    """The periods of one sequence of states, extended scan by scan."""

    periods: list[Period] = field(default_factory=list)

    def add(self, state: str, moment: datetime, complete: bool) -> None:
        current = self.periods[-1] if self.periods else None
        if current is not None and current.state == state:
            current.end = max(current.end, moment)
            current.scans += 1
        else:
            current = Period(state, moment, moment, scans=1)
            self.periods.append(current)
        if not complete:
            current.incomplete += 1


@dataclass
class VantageTimeline:
    vantage: str
    asn: str | None
    country: str | None
    scans: int
    first: datetime
    last: datetime
    incomplete: int = 0
    connectivity: StateTrack = field(default_factory=StateTrack)
    intervals: Counter[int] = field(default_factory=Counter)  # minutes between scans -> count
    pauses: list[tuple[datetime, datetime]] = field(default_factory=list)  # candidate gaps

    def usual_interval(self) -> timedelta | None:
        if not self.intervals:
            return None
        minutes, _ = max(self.intervals.items(), key=lambda item: (item[1], -item[0]))
        return timedelta(minutes=minutes)

    def gaps(self) -> list[tuple[datetime, datetime]]:
        usual = self.usual_interval()
        if usual is None:
            return []
        threshold = max(usual * GAP_FACTOR, MIN_GAP)
        return [(start, end) for start, end in self.pauses if end - start > threshold]

    def disrupted(self) -> list[Period]:
        return [p for p in self.connectivity.periods if p.state != v.ONLINE]


@dataclass
class TargetTimeline:
    target: str
    category: str | None
    vantage: str
    track: StateTrack
    label: str = ""  # as the table shows it (`keyword: WORD` for a keyword target); the id when empty


@dataclass
class Timeline:
    vantages: list[VantageTimeline]
    targets: list[TargetTimeline]  # by target (first appearance), then vantage


def build_timeline(scans: Iterable[ScanDigest], target_filter: TargetFilter = TargetFilter()) -> Timeline:
    """Fold scans (in time order, as read_scans yields them) into periods."""
    vantages: dict[str, VantageTimeline] = {}
    tracks: dict[tuple[str, str], TargetTimeline] = {}
    for scan in scans:
        moment = scan.started_at
        timeline = vantages.get(scan.vantage)
        if timeline is None:
            timeline = vantages[scan.vantage] = VantageTimeline(scan.vantage, scan.asn, scan.country, 0, moment, moment)
        else:
            pause = moment - timeline.last
            if pause > timedelta(0):
                timeline.intervals[round(pause.total_seconds() / 60)] += 1
                if pause > MIN_GAP:
                    timeline.pauses.append((timeline.last, moment))
            timeline.last = max(timeline.last, moment)
        timeline.scans += 1
        timeline.incomplete += 0 if scan.complete else 1
        timeline.connectivity.add(scan.connectivity or UNKNOWN_CONNECTIVITY, moment, scan.complete)
        for target in scan.targets:
            if not target_filter.accepts_target(target.id, target.category):
                continue
            key = (target.id, scan.vantage)
            entry = tracks.get(key)
            if entry is None:
                entry = tracks[key] = TargetTimeline(target.id, target.category, scan.vantage, StateTrack(),
                                                     target.label)
            entry.track.add(state_of(target.verdict, target.blocking), moment, scan.complete)
    first_seen: dict[str, int] = {}
    for target_id, _ in tracks:
        first_seen.setdefault(target_id, len(first_seen))
    ordered = sorted(tracks.values(), key=lambda t: (first_seen[t.target], t.vantage))
    return Timeline(vantages=sorted(vantages.values(), key=lambda t: t.vantage), targets=ordered)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%MZ")


def _scans_text(period: Period) -> Text:
    text = Text(f"{period.scans} scan{'s' if period.scans != 1 else ''}")
    if period.incomplete:
        text.append(f" ({period.incomplete} incomplete)", style="bold red")
    return text


def render_timeline(timeline: Timeline, console: Console) -> None:
    for vantage in timeline.vantages:
        console.print(_vantage_heading(vantage))
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 4, 0, 0))
        rows = [
            (period.start, Text(period.state, style=connectivity_style(period.state)), period.end, _scans_text(period))
            for period in vantage.disrupted()
        ] + [
            (
                start,
                Text("no scans", style="dim"),
                end,
                Text(f"{(end - start) / timedelta(hours=1):.1f} h without a scan"),
            )
            for start, end in vantage.gaps()
        ]
        for start, label, end, count in sorted(rows, key=lambda row: row[0]):
            table.add_row(label, f"from {_when(start)} to {_when(end)}", count)
        if table.rows:
            console.print(Padding(table, (0, 0, 0, 2), expand=False))
        else:
            console.print(Text("  online in every scan", style="green"))
    console.print()
    # Tens of thousands of rows over a year of a hundred vantages: drawn from their texts and
    # styles (QuickRows), each time written once however many periods start or end at it.
    periods = QuickRows(["Target", "Vantage", "State", "From", "To", "Scans"], [False, False, True, True, True, True])
    when: dict[datetime, str] = {}
    vantages: dict[str, Text] = {}
    previous = None
    for entry in timeline.targets:
        first_of_target = entry.target != previous
        if first_of_target and previous is not None:
            periods.add_section()
        previous = entry.target
        heading: Text | str = ""
        if first_of_target:
            category = safe(f"({entry.category})" if entry.category else "")
            heading = Text.assemble(safe(entry.label or entry.target, "bold", 40), " ", category)
        where = vantages.get(entry.vantage) or vantages.setdefault(entry.vantage, safe(entry.vantage, max_chars=24))
        for number, period in enumerate(entry.track.periods):
            periods.add_row(
                heading if number == 0 else "",
                where if number == 0 else "",
                (period.state, state_style(period.state)),
                when.get(period.start) or when.setdefault(period.start, _when(period.start)),
                when.get(period.end) or when.setdefault(period.end, _when(period.end)),
                _scans_text(period) if period.incomplete else _scans_plain(period.scans),
            )
    if timeline.targets:
        console.print(periods)
    else:
        console.print(Text("No target matches the filters.", style="dim"))


def _scans_plain(scans: int) -> str:
    return f"{scans} scan{'s' if scans != 1 else ''}"


def _vantage_heading(vantage: VantageTimeline) -> Text:
    heading = Text.assemble(Text("Vantage ", style="bold"), safe(vantage.vantage, "bold"))
    for part in (vantage.asn, vantage.country):
        if part:
            heading.append_text(Text.assemble(" · ", safe(part)))
    usual = vantage.usual_interval()
    every = f", usually every {_interval(usual)}" if usual else ""
    heading.append(f": {vantage.scans} scans from {_when(vantage.first)} to {_when(vantage.last)}{every}")
    if vantage.incomplete:
        heading.append(f" ({vantage.incomplete} INCOMPLETE)", style="bold red")
    return heading


def _interval(interval: timedelta) -> str:
    minutes = interval.total_seconds() / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.0f} h" if minutes < 48 * 60 else f"{minutes / 1440:.0f} days"


def timeline_json(timeline: Timeline) -> dict[str, Any]:
    return {
        "vantages": [
            {
                "vantage": vantage.vantage,
                "asn": vantage.asn,
                "country": vantage.country,
                "scans": vantage.scans,
                "incomplete_scans": vantage.incomplete,
                "first": iso(vantage.first),
                "last": iso(vantage.last),
                "connectivity": [period.to_json() for period in vantage.connectivity.periods],
                "gaps": [{"from": iso(start), "to": iso(end)} for start, end in vantage.gaps()],
            }
            for vantage in timeline.vantages
        ],
        "targets": [
            {
                "target": entry.target,
                "category": entry.category,
                "vantage": entry.vantage,
                "periods": [period.to_json() for period in entry.track.periods],
            }
            for entry in timeline.targets
        ],
    }
