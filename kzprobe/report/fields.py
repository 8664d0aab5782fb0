"""Typed reads of one field of a report that may hold anything.

A report comes from this scan or from a file someone else wrote: any value may be missing, of
the wrong type, oversized, NaN. Every reader of results (the analysis's facts, the analyst's
rows, the service endpoints' summaries) takes its values through these, so that a wrong type
reads as "not recorded" everywhere alike, never as a crash or as a different answer per command.
"""

from __future__ import annotations

import math
from typing import Any, Final

# Text read per field unless a reader says otherwise: a hostile report cannot make one value huge.
MAX_TEXT_CHARS: Final = 4096
# Entries read per list unless a reader says otherwise (the probes stay far below).
MAX_ITEMS: Final = 256


def text(value: Any, limit: int = MAX_TEXT_CHARS) -> str | None:
    """A string cut to `limit` characters; None for anything else."""
    return value[:limit] if isinstance(value, str) else None


def integer(value: Any) -> int | None:
    """A JSON integer (not a bool); None for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def number(value: Any) -> float | None:
    """A finite JSON number as float; None for anything else (bool, string, NaN, infinity)."""
    if type(value) is float:  # nearly every figure of a report: answered at once
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)  # an integer of 400 digits is valid JSON, and too large for a float
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def mapping(value: Any) -> dict[str, Any]:
    """A JSON object as it is; {} for anything else."""
    return value if isinstance(value, dict) else {}


def items(value: Any, limit: int = MAX_ITEMS) -> list[Any]:
    """A list cut to `limit` entries; [] for anything else (null, an object, a string)."""
    return value[:limit] if isinstance(value, list) else []


def objects(value: Any, limit: int = MAX_ITEMS) -> list[dict[str, Any]]:
    """The JSON objects of a list (other entries skipped), or a lone object as a one-item list."""
    if isinstance(value, dict):
        return [value]
    return [entry for entry in items(value, limit) if isinstance(entry, dict)]
