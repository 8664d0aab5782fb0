"""How values from a target file appear in problem messages: named by type, quoted, escaped, cut."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Sequence
from typing import Any


def type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def show_value(value: Any, limit: int = 60) -> str:
    """A value from a file, quoted and made safe to print: escapes, never raw control characters."""
    text = type_name(value) if isinstance(value, (list, dict)) else repr(value)
    text = "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_unsafe_char(text: str) -> str | None:
    """Texts are one-liners in tables and problem lines: no control, line or formatting characters."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            return char
    return None


def unknown_key_message(kind: str, key: Any, known: Sequence[str]) -> str:
    if not isinstance(key, str):
        return f"unknown {kind} {show_value(key)}; known: {', '.join(known)}"
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
    return f"unknown {kind} {show_value(key)}{hint}"
