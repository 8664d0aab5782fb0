"""How each state looks in the HTML report: a colour, a pattern and a short label, so that it
reads for colour-blind eyes and on a greyscale printout alike.

Colours are Okabe and Ito's palette for colour-blind readers ("Color Universal Design",
https://jfly.uni-koeln.de/color/), with a tint for the calm states. Colour is never the only
cue: every blocked layer has its own pattern (lines, crosses, dots), states differ in lightness,
and runs wide enough carry the label `kzprobe summary` prints (ok, dns, tls, net, slow…).
"""

from __future__ import annotations

from typing import Final, NamedTuple

from kzprobe.analyst.style import UNANALYSED, compact, verdict_of
from kzprobe.report import vocabulary as v

# Okabe-Ito colours, and a tint of their bluish green for "works".
BLUISH_GREEN_TINT: Final = "#a6ddce"
VERMILLION: Final = "#d55e00"
ORANGE: Final = "#e69f00"
REDDISH_PURPLE: Final = "#cc79a7"
SKY_BLUE: Final = "#56b4e9"
YELLOW: Final = "#f0e442"
BLUE: Final = "#0072b2"
BLACK: Final = "#000000"
GREY: Final = "#bbbbbb"
LIGHT_GREY: Final = "#e4e4e4"
CAPTIVE_PORTAL: Final = "captive_portal"  # in the design's vocabulary; readers accept it when reports carry it
UNKNOWN: Final = "unknown"

# Pattern tiles (6 px, user space): the lines drawn over the base colour.
_TILE: Final = 6
_PATTERN_PATHS: Final = {
    "plain": "",
    "rising": "M-1 7L7 -1M-4 4L4 -4M2 10L10 2",  # ////
    "falling": "M-1 -1L7 7M-4 2L2 8M4 -2L10 4",  # \\\\
    "vertical": "M3 0V6",
    "horizontal": "M0 3H6",
    "cross": "M-1 7L7 -1M-1 -1L7 7",
    "grid": "M3 0V6M0 3H6",
    "dots": "",  # a circle, drawn below
}


class Look(NamedTuple):
    """One state's appearance: `key` names its CSS class and pattern."""

    key: str
    label: str  # what a wide run shows, and the legend's swatch text
    name: str  # the legend's words
    colour: str
    pattern: str  # a key of _PATTERN_PATHS
    ink: str  # pattern lines and label text: whichever contrasts with `colour`


# Verdict states, most reassuring first (the legend's order).
STATE_LOOKS: Final = (
    Look("ok", "ok", "reachable", BLUISH_GREEN_TINT, "plain", BLACK),
    Look("dns", "dns", "blocked at DNS", VERMILLION, "rising", "#ffffff"),
    Look("tcp", "tcp", "blocked at TCP (connections)", VERMILLION, "vertical", "#ffffff"),
    Look("tls", "tls", "blocked at TLS (handshake)", VERMILLION, "cross", "#ffffff"),
    Look("http", "http", "blocked at HTTP (blockpage, reset)", VERMILLION, "dots", "#ffffff"),
    Look("blk", "blk", "blocked (layer not said)", VERMILLION, "plain", "#ffffff"),
    Look("net", "net", "blocked: the network was cut", BLACK, "plain", "#ffffff"),
    Look("slow", "slow", "throttled", ORANGE, "horizontal", BLACK),
    Look("down", "down", "down everywhere (not blocking)", REDDISH_PURPLE, "falling", BLACK),
    Look("inc", "?", "inconclusive", SKY_BLUE, "grid", BLACK),
    Look("una", "n/a", "not analysed (a journal)", LIGHT_GREY, "dots", BLACK),
)
CONNECTIVITY_LOOKS: Final = (
    Look("online", "online", "online", BLUISH_GREEN_TINT, "plain", BLACK),
    Look("cut", "cut", "international link cut (only domestic sites work)", YELLOW, "rising", BLACK),
    Look("offline", "offline", "offline", BLACK, "plain", "#ffffff"),
    Look("portal", "portal", "captive portal (nothing behind it is evidence)", BLUE, "dots", "#ffffff"),
    Look("unknown", "?", "connectivity not known", GREY, "falling", BLACK),
)
_BY_KEY: Final = {look.key: look for look in STATE_LOOKS + CONNECTIVITY_LOOKS}
_CONNECTIVITY_KEYS: Final = {
    v.ONLINE: "online", v.INTERNATIONAL_CUT: "cut", v.OFFLINE: "offline", CAPTIVE_PORTAL: "portal",
}
_LABEL_KEYS: Final = {"ok": "ok", "dns": "dns", "tcp": "tcp", "tls": "tls", "http": "http", "blk": "blk",
                      "net": "net", "slow": "slow", "down": "down", "?": "inc"}


def state_look(state: str) -> Look:
    """The look of a verdict state ('reachable', 'blocked/tls', 'throttled/tls', 'unanalysed')."""
    if state == UNANALYSED or verdict_of(state) not in v.VERDICTS:
        return _BY_KEY["una"]
    return _BY_KEY[_LABEL_KEYS.get(compact(state), "blk")]


def connectivity_look(connectivity: str | None) -> Look:
    return _BY_KEY[_CONNECTIVITY_KEYS.get(connectivity or "", "unknown")]


def pattern_defs() -> str:
    """The SVG <pattern> of every look, for one <defs> that all charts of the page share."""
    parts = []
    for look in STATE_LOOKS + CONNECTIVITY_LOOKS:
        if look.pattern == "plain":
            continue
        if look.pattern == "dots":
            marks = f'<circle cx="3" cy="3" r="1.3" fill="{look.ink}"/>'
        else:
            marks = f'<path d="{_PATTERN_PATHS[look.pattern]}" stroke="{look.ink}" stroke-width="1.2"/>'
        parts.append(
            f'<pattern id="kz-{look.key}" width="{_TILE}" height="{_TILE}" patternUnits="userSpaceOnUse">'
            f'<rect width="{_TILE}" height="{_TILE}" fill="{look.colour}"/>{marks}</pattern>'
        )
    return "".join(parts)


def chart_css() -> str:
    """CSS for the charts' classes: in the page, and inside every SVG a reader downloads."""
    rules = []
    for look in STATE_LOOKS + CONNECTIVITY_LOOKS:
        fill = look.colour if look.pattern == "plain" else f"url(#kz-{look.key})"
        # Labels sit on a box of the base colour (b-), so they read over any pattern.
        rules.append(f".f-{look.key}{{fill:{fill}}}.i-{look.key}{{fill:{look.ink}}}.b-{look.key}{{fill:{look.colour}}}"
                     f"svg.kz text.t-{look.key}{{fill:{look.ink}}}")
    rules.append(
        "svg.kz text{font:11px system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;fill:#222}"
        "svg.kz .axis{fill:#555}svg.kz .title{font-weight:600;font-size:13px}"
        "svg.kz .stamp{font-size:10px;fill:#555}svg.kz .tick{stroke:#ccc;stroke-width:1}"
        "svg.kz .lane{fill:#f1f1f1}svg.kz .label{font-size:9px;text-anchor:middle}"
    )
    return "".join(rules)
