"""Keep the volunteer's own addresses out of everything kzprobe records or prints
(docs/architecture.md, principle 6).

Pages, proxies and blockpages echo the visitor's address ("your IP: 95.56.7.8."), in bodies,
titles, headers, cookies, redirect URLs, host names in DNS answers and certificates. kzprobe
knows the addresses this machine goes by (its interfaces, and the public address the network
lookup learned, kzprobe/vantage/geo.py); a Scrubber replaces each of them, in every common
spelling (report/spellings.py), by SCRUBBED. The scan applies it to each measured result as a
whole, at the one point where a result leaves measurement (kzprobe/scan/run.py,
measure_target), before it is journaled, sent between processes, analysed or printed; and to any
other text from the network it prints. docs/privacy.md says what that covers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from kzprobe.report.spellings import Spellings, own_address

SCRUBBED: Final = "[scrubbed]"
# The measured result's count of substitutions (docs/report-format.md).
COUNT_FIELD: Final = "scrubbed"


class Scrubber:
    """Replaces this machine's addresses in text and in measured results; a no-op without any."""

    def __init__(self, addresses: Iterable[str]) -> None:
        own = {a for a in (own_address(text) for text in addresses if text) if a is not None}
        self.addresses = frozenset(str(a) for a in own)
        self.spellings = Spellings(own)

    def __call__(self, text: str) -> str:
        return self.text(text)[0]

    def text(self, text: str) -> tuple[str, int]:
        """`text` with every spelling of an address replaced, and how many were."""
        if not self.spellings.may_contain(text):
            return text, 0
        spans = self.spellings.spans(text)
        if not spans:
            return text, 0
        pieces, done = [], 0
        for start, end in spans:
            pieces += [text[done:start], SCRUBBED]
            done = end
        pieces.append(text[done:])
        return "".join(pieces), len(spans)

    def value(self, value: Any) -> tuple[Any, int]:
        """A JSON-ready value with every string in it scrubbed, dictionary keys included, and the
        count. Unchanged containers are returned as they are (no copy when nothing matched)."""
        if not self.spellings.may_contain("\n".join(_strings(value))):
            return value, 0
        return _scrub_value(value, self.text)

    def result(self, measured: dict) -> dict:
        """A measured result with every string scrubbed and COUNT_FIELD added when any was: its
        observations, and its target too (a target list may come by URL from anyone, and a list
        that names this machine would otherwise carry its address into the report)."""
        scrubbed, count = self.value({key: value for key, value in measured.items() if key != COUNT_FIELD})
        if not count:
            return measured
        _forget_scrubbed_bodies(scrubbed.get("observations"))
        return {**scrubbed, COUNT_FIELD: measured.get(COUNT_FIELD, 0) + count}


def _strings(value: Any) -> list[str]:
    """Every string in a JSON-ready value, dictionary keys included."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found += [key for key in item if isinstance(key, str)]
            stack += item.values()
        elif isinstance(item, (list, tuple)):
            stack += item
    return found


def _scrub_value(value: Any, scrub_text: Callable[[str], tuple[str, int]]) -> tuple[Any, int]:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        total = 0
        items = []
        for key, item in value.items():
            new_key, in_key = scrub_text(key) if isinstance(key, str) else (key, 0)
            new_item, in_item = _scrub_value(item, scrub_text)
            total += in_key + in_item
            items.append((new_key, new_item))
        return (dict(items), total) if total else (value, 0)
    if isinstance(value, (list, tuple)):
        total = 0
        scrubbed = []
        for item in value:
            new_item, count = _scrub_value(item, scrub_text)
            total += count
            scrubbed.append(new_item)
        return (scrubbed, total) if total else (value, 0)
    return value, 0


def _forget_scrubbed_bodies(observations: Any) -> None:
    """A body that echoed the address keeps no SHA-256: the hash of the page as received would
    let anyone who knows the page try every address of the vantage's network (its ASN is in the
    report) until one hashes the same."""
    for hop in observations.get("http", []) if isinstance(observations, dict) else []:
        if isinstance(hop, dict) and SCRUBBED in (hop.get("body") or "") + (hop.get("title") or ""):
            hop["body_sha256"] = None
