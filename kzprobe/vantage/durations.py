"""Durations as people write them in kzprobe.yaml and on the command line: "90m", "3h", "1d".

Used for the control's age bound (`control_max_age`, `--control-max-age`): a bare number is
hours, the unit that bound is thought in. Kept apart from config.py so that `scan`, `analyse`
and `config show` read and print durations the same way.
"""

from __future__ import annotations

import math
import re
from typing import Final

_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION: Final = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
# A control scan weeks old says nothing about now: a bound beyond 30 days is a typo.
MAX_DURATION_S: Final = 30 * 86400.0


class DurationError(ValueError):
    """Not a duration kzprobe accepts; the message says what is."""


def parse_duration(value: object) -> float:
    """Seconds, from "90m", "3h", "1d", "3600s" or a bare number of hours (int, float or text)."""
    if isinstance(value, bool):
        raise DurationError(f"must be a duration such as 90m, 3h or 1d, not {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value) * _UNITS["h"]
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            said = f"must be a duration such as 90m, 3h or 1d (a bare number is hours), not {value!r}"
            raise DurationError(said[:200])
        seconds = float(match[1]) * _UNITS[(match[2] or "h").lower()]
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_DURATION_S:
        raise DurationError(f"must be above 0 and at most 30 days, not {value!r}"[:200])
    return seconds


def describe_duration(seconds: float) -> str:
    """"3h", "90m", "1.5d": the largest unit that gives a short number."""
    for unit in ("d", "h", "m"):
        amount = seconds / _UNITS[unit]
        if amount >= 1 and round(amount, 2) == round(amount, 1):
            return f"{amount:g}{unit}"
    return f"{seconds:g}s"
