"""Strings from report files made harmless for a terminal and for a spreadsheet.

A report is someone else's file and most of its strings came from the network (titles, target
names, explanations quoting a middlebox). Before any of them reaches a terminal, escape
sequences, control characters and bidirectional overrides go; and they are wrapped in
`rich.text.Text`, which never interprets "[bold]" as markup. CSV cells get the formula guard.
"""

from __future__ import annotations

import re
from typing import Final

from rich.text import Text

# ESC-introduced sequences: CSI (ESC [ … final byte), OSC/DCS/SOS/PM/APC strings (up to BEL or
# ESC \), and two-byte escapes. Removed whole, so no parameter text is left behind.
_ESCAPE_SEQUENCE: Final = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]|.?)",
    re.DOTALL,
)
# Bidirectional controls can make "kz.example" display as something else (Trojan Source).
_BIDI: Final = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Line-breaking characters become one space: every field is shown on its own line or cell.
_TO_SPACE: Final = "\t\n\r\v\f\u0085\u2028\u2029"
_TRANSLATION: Final = {
    **{code: None for code in range(0x20) if chr(code) not in _TO_SPACE},
    0x7F: None,
    **{code: None for code in range(0x80, 0xA0) if chr(code) not in _TO_SPACE},
    **{ord(ch): None for ch in _BIDI},
    **{ord(ch): " " for ch in _TO_SPACE},
}
# CSV cells starting with these are formulas in Excel, LibreOffice and Google Sheets (OWASP
# "CSV injection"); a leading apostrophe makes them text. (Tabs and CRs are already spaces.)
_FORMULA_STARTS: Final = ("=", "+", "-", "@")


def clean(value: object, max_chars: int | None = None) -> str:
    """`value` as text with escape sequences, control and bidi characters removed.

    None becomes "". `max_chars` shortens long text with a trailing "…".
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # Every character removed above is a control, format or separator character, which
    # str.isprintable() rejects: printable text (the common case) needs no translation.
    if not text.isprintable():
        if "\x1b" in text:
            text = _ESCAPE_SEQUENCE.sub("", text)
        text = text.translate(_TRANSLATION)
    if max_chars is not None and len(text) > max_chars:
        text = text[: max(max_chars - 1, 0)].rstrip() + "…"
    return text


def safe(value: object, style: str = "", max_chars: int | None = None) -> Text:
    """A rich Text of `value`, cleaned: the only way a report's string reaches a rich console."""
    return Text(clean(value, max_chars), style=style)


def csv_cell(value: object) -> object:
    """A CSV cell value: strings cleaned and guarded against formula injection; numbers as they are."""
    if type(value) is str:
        text = clean(value)
    elif value is None:
        return ""
    elif isinstance(value, bool):
        return "true" if value else "false"
    elif isinstance(value, (int, float)):
        return value
    else:
        text = clean(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text
