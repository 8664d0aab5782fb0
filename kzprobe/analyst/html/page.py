"""The HTML report: one self-contained file a journalist can mail or publish.

No request leaves the page when it is opened: no external script, font, stylesheet or image,
and a Content-Security-Policy that forbids them anyway (only the page's own script, by hash,
runs). Charts are inline SVG (kzprobe.analyst.html.charts); the small script shows details
and saves charts. Every string from a report enters through kzprobe.analyst.html.markup.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from importlib import resources
from typing import Final

from kzprobe import __version__
from kzprobe.analyst.html import charts
from kzprobe.analyst.html.build import ReportPicture
from kzprobe.analyst.html.charts import Axis, ChartPage, target_chart, vantage_chart
from kzprobe.analyst.html.grid import TargetInfo
from kzprobe.analyst.html.markup import esc, script_json
from kzprobe.analyst.html.networks import Network
from kzprobe.analyst.html.palette import CONNECTIVITY_LOOKS, STATE_LOOKS, Look, chart_css, pattern_defs, state_look
from kzprobe.analyst.html.sources import Sources

# Per-target timelines drawn (in the order the targets were first scanned); the grids show all.
MAX_TARGET_CHARTS: Final = 300
# Rows of one network's table; the most often troubled targets come first.
MAX_NETWORK_ROWS: Final = 500
LICENCE_NOTES: Final = {
    "CC BY-NC-SA 4.0": "credit the source, no commercial use, share adaptations under the same licence "
                       "(creativecommons.org/licenses/by-nc-sa/4.0)",
}


def _asset(name: str) -> str:
    return resources.files("kzprobe.analyst.html").joinpath(name).read_text(encoding="utf-8")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%MZ") if moment else "-"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def render_html(picture: ReportPicture, *, generated_at: datetime, title: str | None = None,
                files_skipped: int = 0, filters: str = "") -> str:
    """The whole page for `picture` (which must hold at least one scan)."""
    sources, grid = picture.sources, picture.grid
    first, last = grid.span()
    axis = Axis.fitting(grid.resolution, first, last)
    title = title or _default_title(sources)
    common_stamp = _common_stamp(sources, generated_at)
    page = ChartPage()
    targets = picture.shown_targets()
    vantage_parts, rows_of = [], {}
    for number, name in enumerate(sorted(grid.vantages)):
        chart_id = f"v{number}"
        source = sources.vantages[name]
        heading = " · ".join(part for part in (name, _top(source.asns), _top(source.countries)) if part)
        stamp = [f"{heading}: {_plural(source.scans, 'scan')} from {_when(source.first)} to {_when(source.last)} "
                 f"(UTC), one column per {grid.resolution.name}", common_stamp]
        svg, row_of = vantage_chart(page, chart_id, grid.vantages[name], targets, axis,
                                    f"{heading}: targets × {grid.resolution.name}s", stamp)
        rows_of[name] = (chart_id, row_of)
        vantage_parts.append(_figure(chart_id, f"vantage-{name}", heading, svg))
    target_parts = []
    for number, info in enumerate(targets[:MAX_TARGET_CHARTS]):
        rows = [(name, chart_id, row_of[info.index], grid.vantages[name].rows[info.index])
                for name, (chart_id, row_of) in rows_of.items() if info.index in row_of]
        if not rows:
            continue
        label = _target_label(info)
        stamp = [f"{label}: state per vantage, one column per {grid.resolution.name} (UTC)", common_stamp]
        svg = target_chart(page, f"t{number}", rows, axis, f"{label} across vantages", stamp)
        caption = f"{label}{' · ' + info.url if info.url else ''}"
        target_parts.append(_figure(f"t{number}", f"target-{info.id}", caption, svg))
    data = {
        "t0": int(grid.resolution.start(first).timestamp()), "step": grid.resolution.seconds,
        "cols": axis.columns, "x0": charts.LABEL_WIDTH, "w": axis.cell_width, "rh": charts.ROW_HEIGHT,
        "targets": [[page.strings.ref(i.id), page.strings.ref(i.name), page.strings.ref(i.category),
                     page.strings.ref(i.url)] for i in grid.targets.values()],
        "charts": page.charts,
        "strings": page.strings.values,
    }
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    notes = _notes(picture, len(targets), files_skipped)
    body = [
        "<header>", f"<h1>{esc(title)}</h1>", _sources_section(sources, grid.resolution.name, filters, notes),
        _legend(), "</header><main>",
        '<section id="vantages"><h2>By vantage: targets × time</h2>',
        '<p class="muted">Each row is a target, each column one period (UTC). The top band is the '
        "vantage's connectivity. Point at a cell for its scans, evidence and explanation; click to keep it.</p>",
        *vantage_parts, "</section>",
        '<section id="targets"><h2>By target: across vantages</h2>', *target_parts, "</section>",
        '<section id="networks"><h2>By network: what is blocked how</h2>',
        *[_network_table(network, picture) for network in picture.networks.ordered()], "</section></main>",
        '<aside id="kz-detail" hidden></aside>',
        f'<footer><p class="muted">{esc(common_stamp)} This file is complete in itself: it loads nothing '
        "from the network.</p></footer>",
        '<svg id="kz-defs" width="0" height="0" style="position:absolute" aria-hidden="true">',
        f"<defs>{pattern_defs()}</defs></svg>",
        f'<script type="application/json" id="kz-data">{script_json(data)}</script>',
        f"<script>{script}</script>",
    ]
    # blob: images are the charts the script draws into a canvas for a PNG; nothing else loads.
    csp = ("default-src 'none'; img-src blob:; style-src 'unsafe-inline'; "
           f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="kzprobe {esc(__version__)}">'
        f"<title>{esc(title)}</title><style>{_asset('report.css')}</style>"
        f'<style id="kz-chart-css">{chart_css()}</style></head><body>'
    )
    return head + "".join(body) + "</body></html>\n"


def _top(counter: dict[str, int]) -> str | None:
    return max(counter.items(), key=lambda item: item[1])[0] if counter else None


def _target_label(info: TargetInfo) -> str:
    extra = ", ".join(part for part in (info.name, info.category) if part)
    return f"{info.id} ({extra})" if extra else info.id


def _default_title(sources: Sources) -> str:
    names = sorted(sources.vantages)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    assert sources.first is not None and sources.last is not None
    return f"Network interference seen from {shown}, {sources.first:%d %b %Y} to {sources.last:%d %b %Y}"


def _common_stamp(sources: Sources, generated_at: datetime) -> str:
    stamp = (f"Source: {_plural(sources.scans, 'kzprobe report')} from {_plural(len(sources.vantages), 'vantage')}; "
             f"drawn by kzprobe {__version__} on {generated_at:%Y-%m-%d}.")
    for provenance in sorted(sources.imported):
        stamp += f" Includes {provenance.source} data" + (f" ({provenance.licence})." if provenance.licence else ".")
    return stamp


def _figure(chart_id: str, file_name: str, caption: str, svg: str) -> str:
    name = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in file_name.lower())[:80]
    buttons = "".join(
        f'<button type="button" data-save="{kind}" data-for="{chart_id}" '
        f'data-name="{esc(name)}">{kind.upper()}</button>'
        for kind in ("svg", "png")
    )
    return (f'<figure><div class="scroll">{svg}</div><figcaption>{esc(caption)} · save as {buttons}'
            "</figcaption></figure>")


def _notes(picture: ReportPicture, targets: int, files_skipped: int) -> list[str]:
    grid, notes = picture.grid, []
    if grid.folded_for_cells:
        notes.append(f"There were too many cells for finer columns (more than {grid.max_cells:,}): each column "
                     f"is one {grid.resolution.name}. Narrow with --vantage, --target or --since/--until.")
    if grid.refused:
        notes.append(f"{_plural(grid.refused, 'result')} not drawn: the grids hold at most {grid.max_cells:,} cells. "
                     "Narrow with --vantage, --target or --since/--until.")
    if targets > MAX_TARGET_CHARTS:
        notes.append(f"Timelines across vantages are drawn for the first {MAX_TARGET_CHARTS} of {targets} targets; "
                     "the grids show all of them (--target picks others).")
    if picture.networks.refused:
        notes.append(f"{_plural(picture.networks.refused, 'result')} left out of the network tables "
                     f"(at most {picture.networks.max_entries:,} network × target entries).")
    if files_skipped:
        notes.append(f"Unreadable files skipped: {files_skipped:,} (each was named on stderr).")
    incomplete = sum(vantage.incomplete for vantage in picture.sources.vantages.values())
    if incomplete:
        notes.append(f"{_plural(incomplete, 'scan')} INCOMPLETE (interrupted, or only a journal): their "
                     "missing targets are absent, not reachable; the details count them.")
    return notes


def _sources_section(sources: Sources, resolution: str, filters: str, notes: list[str]) -> str:
    assert sources.first is not None and sources.last is not None
    rows = "".join(
        f"<tr><td>{esc(v.name)}</td><td>{esc(', '.join(v.asns) or '-')}</td>"
        f"<td>{esc(', '.join(v.countries) or '-')}</td>"
        f'<td class="n">{v.scans:,}</td><td class="n">{v.incomplete:,}</td><td class="t">{_when(v.first)}</td>'
        f'<td class="t">{_when(v.last)}</td>'
        f'<td class="ids">{esc(v.first_scan_id or "-")}<br>{esc(v.last_scan_id or "-")}</td></tr>'
        for v in (sources.vantages[name] for name in sorted(sources.vantages))
    )
    software = ", ".join(f"{esc(name)} ({count:,} scans)" for name, count in sources.software.most_common())
    facts = [
        f"Span: {_when(sources.first)} to {_when(sources.last)} (all times UTC); {_plural(sources.scans, 'scan')} "
        f"from {_plural(len(sources.vantages), 'vantage')}; one column per {resolution}.",
        f"Scans made by: {software}.",
    ]
    for provenance, count in sorted(sources.imported.items()):
        licence = provenance.licence or "licence not stated in the reports"
        note = LICENCE_NOTES.get(provenance.licence or "")
        facts.append(f"Imported data: {esc(provenance.source)} ({_plural(count, 'scan')}), licensed "
                     f"<strong>{esc(licence)}</strong>{': ' + esc(note) if note else ''}. "
                     "Verdicts are kzprobe's own, from that data.")
    if filters:
        facts.append(f"Only: {esc(filters)}.")
    listed = "".join(f"{esc(vantage)}: {esc(scan_id)}<br>" for vantage, scan_id in sources.scan_ids)
    more = sources.scans - len(sources.scan_ids)
    listed += f"… and {more:,} more (kzprobe export lists every scan)." if more > 0 else ""
    return (
        '<section id="sources"><h2>Sources</h2>'
        "<table><thead><tr><th>Vantage</th><th>Network</th><th>Country</th><th>Scans</th><th>Incomplete</th>"
        "<th>First scan</th><th>Last scan</th><th>First and last scan "
        f"id</th></tr></thead><tbody>{rows}</tbody></table>"
        f'<ul class="facts">{"".join(f"<li>{fact}</li>" for fact in facts)}</ul>'
        + "".join(f'<p class="note">{esc(note)}</p>' for note in notes)
        + f'<details><summary>Scan ids ({sources.scans:,})</summary><p class="ids">{listed}</p></details></section>'
    )


def _swatch(look: Look, width: int = 40) -> str:
    box = len(look.label) * 6 + 4
    return (f'<svg class="kz sw" width="{width}" height="14" aria-hidden="true"><rect class="f-{look.key}" '
            f'width="{width}" '
            f'height="14"/><rect class="b-{look.key}" x="{(width - box) // 2}" y="2" width="{box}" height="10"/>'
            f'<text class="label t-{look.key}" x="{width // 2}" y="11">{esc(look.label)}</text></svg>')


def _legend() -> str:
    states = "".join(f"<li>{_swatch(look)}{esc(look.name)}</li>" for look in STATE_LOOKS)
    bands = "".join(f"<li>{_swatch(look)}{esc(look.name)}</li>" for look in CONNECTIVITY_LOOKS)
    marks = ('<li><svg class="kz" width="34" height="14" aria-hidden="true"><rect class="f-ok" width="34" height="14"/>'
             '<path class="i-ok" d="M0 0h3v3h-3z"/></svg>corner mark: the scans of these cells did not all agree '
             '(the colour is the most frequent state)</li><li><svg class="kz" width="34" height="14" '
             'aria-hidden="true">'
             '<rect class="lane" width="34" height="14" stroke="#999"/></svg>no scan of the target in that period</li>')
    return (f'<section id="legend"><h2>Legend</h2><ul class="legend">{states}</ul>'
            f'<p class="muted">Connectivity band:</p><ul class="legend">{bands}{marks}</ul></section>')


def _network_table(network: Network, picture: ReportPicture) -> str:
    accepts = picture.target_filter.accepts_verdicts
    troubled = [entry for entry in network.troubled() if accepts(s.partition("/")[0] for s in entry.states)]
    clear = len(network.entries) - len(network.troubled())
    vantages = ", ".join(sorted(network.vantages))
    heading = " · ".join([network.asn, *sorted(network.countries)])
    rows = []
    for entry in troubled[:MAX_NETWORK_ROWS]:
        how = " ".join(f'<span class="st">{_swatch(state_look(state), 34)} {esc(state)} {count:,}</span>'
                       for state, count in entry.ranked_states())
        evidence = ", ".join(f"{esc(code)} ×{count:,}" for code, count in entry.evidence.most_common(4))
        rows.append(f"<tr><td>{esc(entry.target)}</td><td>{esc(entry.category or '-')}</td>"
                    f'<td>{how} <span class="muted">of {entry.scans:,}</span></td><td>{evidence or "-"}</td>'
                    f'<td class="t">{_when(entry.first_trouble)}</td><td '
                    f'class="t">{_when(entry.last_trouble)}</td></tr>')
    more = (f'<p class="muted">… and {len(troubled) - MAX_NETWORK_ROWS:,} more targets.</p>'
            if len(troubled) > MAX_NETWORK_ROWS else "")
    table = ("<table><thead><tr><th>Target</th><th>Category</th><th>States (scans)</th><th>Evidence (when not "
             "reachable)"
             "</th><th>First not reachable</th><th>Last not reachable</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>") if rows else "<p>No target was anything but reachable.</p>"
    return (f"<h3>{esc(heading)}</h3><p class=\"muted\">{_plural(network.scans, 'scan')} from {esc(vantages)}; "
            f"{_plural(clear, 'target')} reachable in every scan.</p>{table}{more}")
