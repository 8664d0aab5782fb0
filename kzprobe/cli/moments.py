"""Times given on the command line: ISO 8601, or relative to now (`7d`, `12h`, `2w`, `30m`).

Every option that takes a time (`--since`, `--until`) reads it here, so that what works for one
works for all; a relative time counts back from now ("the last 7 days": `--since 7d`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

# Units a person types for "ago": minutes, hours, days, weeks.
_UNITS: Final = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_RELATIVE: Final = re.compile(r"(\d{1,6})\s*([mhdw])")
# A century back is already beyond any scan; more is a typo, refused rather than overflowing.
_MAX_BACK: Final = timedelta(days=36_600)

ACCEPTED: Final = "ISO 8601 (2026-01-04, 2026-01-04T18:00, …+05:00) or a time ago: 30m, 12h, 7d, 2w"


class MomentError(ValueError):
    """Not a time this command understands; the message says what is accepted."""


def parse_moment(value: str, now: datetime | None = None) -> datetime:
    """A UTC datetime from ISO 8601 (UTC when no zone is given) or a relative `N[mhdw]` (ago)."""
    text = value.strip()
    relative = _RELATIVE.fullmatch(text.lower())
    if relative:
        back = int(relative.group(1)) * _UNITS[relative.group(2)]
        if back > _MAX_BACK:
            raise MomentError(f"{value!r} reaches back more than a century")
        return (now or datetime.now(UTC)).astimezone(UTC) - back
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MomentError(f"not a time: {value!r}; expected {ACCEPTED}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
