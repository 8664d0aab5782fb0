"""Pieces of explanation sentences: network strings quoted safely, addresses and figures cited.

Every explanation is one sentence a volunteer can read and an analyst can check against the
observations: it names the addresses, the failure strings and the figures the verdict rests on.
Anything that came from the network (titles, addresses, failure texts, URLs) passes through
`quote` or `cite`: control characters and bidi tricks removed, length capped.
"""

from __future__ import annotations

from kzprobe.analysis import thresholds as th
from kzprobe.text import clean_text


def cite(text: str | None, limit: int = th.MAX_QUOTED_CHARS) -> str:
    """A string from the observations, safe to print: one line, no control characters, capped."""
    cleaned = clean_text(text or "")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def quote(text: str | None, limit: int = th.MAX_QUOTED_CHARS) -> str:
    """A string from the network in double quotes (inner quotes made single)."""
    return '"' + cite(text, limit).replace('"', "'") + '"'


def addresses(items: list[str] | tuple[str, ...], limit: int = th.MAX_CITED_ADDRESSES) -> str:
    """ "1.2.3.4, 5.6.7.8 and 2 more" """
    cited = [cite(a, 45) for a in items[:limit]]
    if not cited:
        return "no address"
    more = len(items) - len(cited)
    text = ", ".join(cited)
    return text + (f" and {more} more" if more > 0 else "")


def kbps(value: float) -> str:
    return f"{value:,.1f} KB/s"


def ratio(value: float) -> str:
    return f"{value:.3g}"


def sentence(*parts: str) -> str:
    """Join clauses into one sentence with semicolons, capitalised and ending in a full stop."""
    text = "; ".join(p.strip().rstrip(".;") for p in parts if p and p.strip())
    if not text:
        return ""
    if "://" not in text.split(" ", 1)[0]:  # a sentence may start with a URL: leave it as it is
        text = text[0].upper() + text[1:]
    return text + "."
