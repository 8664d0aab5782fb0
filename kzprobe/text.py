"""Text from the network or from a file, made safe to store and to show: the one sanitiser.

Titles, target names, resolver answers, explanations quoting a middlebox, other people's
report files: any of them may carry a terminal escape sequence (clear the screen, retitle the
window, plant a hyperlink), a control character, or a bidirectional override that makes
"kz.example" read as something else (Trojan Source, CVE-2021-42574). Everything that reaches a
terminal, a report or a CSV cell goes through `clean_text` first: escape sequences are removed
whole (their parameters too), every other C0 and C1 control and every bidi control goes, line
breaks and tabs become spaces, and runs of whitespace become one space, so each value is one
line. Rich markup ("[bold]") is left as text: the terminal writers print it literally. The
formula guard for spreadsheets is the CSV writer's (analyst/export.py `csv_cell`).
"""

from __future__ import annotations

import re
from typing import Final

# Escape sequences: CSI (ESC [ or the 8-bit CSI, parameters, final byte), OSC/DCS/SOS/PM/APC
# strings (7- or 8-bit introducer, up to BEL or the string terminator), and two-byte escapes.
# Removed whole, so no parameter text is left behind.
_ESCAPE_SEQUENCE: Final = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b(?:[@-Z\\-_]|.?)",
    re.DOTALL,
)
# Every bidirectional control (Unicode's Bidi_Control property): marks, embeddings, overrides,
# isolates.
_BIDI: Final = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Line-breaking and spacing controls become a space: every value is shown on one line or cell.
_TO_SPACE: Final = "\t\n\r\v\f\x85\u2028\u2029"
_TRANSLATION: Final = {
    **{code: None for code in range(0x20) if chr(code) not in _TO_SPACE},
    0x7F: None,
    **{code: None for code in range(0x80, 0xA0) if chr(code) not in _TO_SPACE},
    **{ord(ch): None for ch in _BIDI},
    **{ord(ch): " " for ch in _TO_SPACE},
}


def clean_text(value: object, max_chars: int | None = None) -> str:
    """`value` as one line of text that is safe to store and show (see the module's docstring).

    None becomes "". `max_chars` shortens longer text to that many characters, the last one "…".
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # Every character handled here is a control, format or separator character, which
    # str.isprintable() rejects: printable text with single spaces (the common case) is as is.
    if not text.isprintable():
        text = _ESCAPE_SEQUENCE.sub("", text)
        text = " ".join(text.translate(_TRANSLATION).split())
    elif "  " in text or text[:1] == " " or text[-1:] == " ":
        text = " ".join(text.split())
    if max_chars is not None and len(text) > max_chars:
        text = text[: max(max_chars - 1, 0)].rstrip() + "…"
    return text
