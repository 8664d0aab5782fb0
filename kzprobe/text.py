"""Make text from the network safe to store and show: no control characters, no bidi tricks."""

from __future__ import annotations

import re

# C0 and C1 controls (ESC starts terminal escape sequences), DEL, and the Unicode bidi
# overrides and isolates that can reorder what a reader sees.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """One line of display-safe text: unsafe characters removed, whitespace collapsed."""
    return " ".join(_UNSAFE.sub("", text).split())
