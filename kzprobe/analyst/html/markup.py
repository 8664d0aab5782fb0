"""Strings from reports made inert in HTML, SVG and the page's JSON: the only way they enter
the page.

Every title, target id, vantage name and explanation came from someone else's file, and most
of them from the network. Here they lose escape sequences, control and bidi characters (as on
the terminal), then characters that XML forbids (so a downloaded SVG still parses), and are
escaped: `<`, `>`, `&`, `"` and `'` in markup; in the JSON block, every `<`, `>` and `&` too, so
no string can close the <script> element that holds it.
"""

from __future__ import annotations

import html
import json
from typing import Any, Final

from kzprobe.text import clean_text

# Any one string from a report is cut here (with "…"): a vantage name or URL of a megabyte,
# repeated in every chart, would make the page unusable. Explanations are cut shorter, in grid.
MAX_TEXT_CHARS: Final = 500


def plain(value: object, max_chars: int | None = MAX_TEXT_CHARS) -> str:
    """`value` as text a page may show: cleaned, without characters XML forbids, not escaped."""
    text = clean_text(value, max_chars)
    if not text.isprintable():  # what clean_text() leaves that XML forbids: surrogates, non-characters
        text = "".join(ch for ch in text if not _forbidden_in_xml(ch))
    return text


def _forbidden_in_xml(ch: str) -> bool:
    code = ord(ch)
    return 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def esc(value: object, max_chars: int | None = MAX_TEXT_CHARS) -> str:
    """`value` as HTML/XML text or attribute value (quotes escaped too)."""
    return html.escape(plain(value, max_chars), quote=True)


def script_json(data: Any) -> str:
    """`data` as JSON safe inside <script type="application/json">: ASCII only, and no `<`, `>`
    or `&` (so neither `</script>` nor `<!--` can appear)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
