"""How verdicts and connectivity look on a terminal: one colour and one short label per state,
and `safe`, the only way a report's string reaches a rich console.

Every command colours the same state the same way, so an analyst's eye learns it once.
"""

from __future__ import annotations

from typing import Final

from rich.text import Text

from kzprobe.report import vocabulary as v
from kzprobe.text import clean_text


def safe(value: object, style: str = "", max_chars: int | None = None) -> Text:
    """A rich Text of `value`, cleaned (kzprobe/text.py): rich never reads it as markup, and no
    escape sequence, control or bidi character of a report's string reaches the terminal."""
    return Text(clean_text(value, max_chars), style=style)

VERDICT_STYLES: Final = {
    v.REACHABLE: "green",
    v.BLOCKED: "bold red",
    v.THROTTLED: "yellow",
    v.DOWN: "magenta",
    v.INCONCLUSIVE: "cyan",
}
CONNECTIVITY_STYLES: Final = {v.ONLINE: "green", v.INTERNATIONAL_CUT: "bold yellow", v.OFFLINE: "bold red",
                               v.CAPTIVE_PORTAL: "bold magenta"}
INCOMPLETE_STYLE: Final = "bold red"
UNANALYSED: Final = "unanalysed"  # a journal's result that no analysis has judged

# Compact matrix cells (`kzprobe summary`): a blocked target shows the layer it is blocked at.
_COMPACT: Final = {v.REACHABLE: "ok", v.BLOCKED: "blk", v.THROTTLED: "slow", v.DOWN: "down", v.INCONCLUSIVE: "?"}
_COMPACT_LAYERS: Final = {"dns": "dns", "tcp": "tcp", "tls": "tls", "http": "http", "network": "net", "quic": "quic"}
ABSENT_CELL: Final = "-"
LEGEND: Final = (
    "ok reachable · dns/tcp/tls/http/net blocked at that layer · blk blocked · slow throttled · "
    "down down everywhere · ? inconclusive · n/a not analysed · - not in that scan"
)
# Severity, for choosing among equally frequent states: the one that matters most to report.
SEVERITY: Final = {v.BLOCKED: 5, v.THROTTLED: 4, v.DOWN: 3, v.INCONCLUSIVE: 2, v.REACHABLE: 1}


def state_of(verdict: str | None, blocking: str | None) -> str:
    """The state of a target in a scan: 'reachable', 'blocked/tls', 'throttled', 'unanalysed'…"""
    if verdict is None:
        return UNANALYSED
    return f"{verdict}/{blocking}" if blocking else verdict


def verdict_of(state: str) -> str:
    return state.partition("/")[0]


def state_style(state: str) -> str:
    return VERDICT_STYLES.get(verdict_of(state), "dim")


def compact(state: str) -> str:
    """The few characters of a matrix cell for a state."""
    verdict, _, layer = state.partition("/")
    if verdict == v.BLOCKED and layer:
        return _COMPACT_LAYERS.get(layer, layer[:4])
    return _COMPACT.get(verdict, "n/a")


def connectivity_label(connectivity: str | None) -> str:
    return connectivity or "unknown"


def connectivity_style(connectivity: str | None) -> str:
    return CONNECTIVITY_STYLES.get(connectivity or "", "dim")
