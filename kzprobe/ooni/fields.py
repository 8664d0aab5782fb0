"""Typed reads of OONI fields that may hold anything: every value is checked before use.

A measurement is someone else's JSON: a number where a string belongs, a list where an object
belongs, base64 that does not decode. Each reader returns the value when it has the expected
type and shape, else a neutral value, and notes what it dropped in `Notes` so the imported
result can say what was missing (provenance field `ooni.dropped`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from kzprobe.ooni.limits import MAX_ITEMS, MAX_TEXT_CHARS

# Kinds of dropped data named in a result's provenance; a handful per result at most.
MAX_NOTES: Final = 20


class Notes:
    """What a conversion could not use, in words ("requests[0].response.body: base64 that does
    not decode"), at most MAX_NOTES of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        if len(self.items) < MAX_NOTES:
            self.items.append(f"{where}: {what}")


def text(value: Any, limit: int = MAX_TEXT_CHARS) -> str | None:
    """A string cut to `limit`, None for anything else."""
    return value[:limit] if isinstance(value, str) else None


def integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    result = float(value)
    return result if result == result and abs(result) != float("inf") else None


def mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def items(value: Any, limit: int = MAX_ITEMS) -> list:
    """A list cut to `limit` entries; [] for anything else (null, an object, a string)."""
    return value[:limit] if isinstance(value, list) else []


def objects(value: Any, limit: int = MAX_ITEMS) -> list[dict]:
    """The JSON objects of a list (other entries skipped), at most `limit` of them."""
    return [entry for entry in items(value, limit) if isinstance(entry, dict)]


def tags(event: dict) -> list[str]:
    return [t for t in items(event.get("tags"), 16) if isinstance(t, str)]


def depth(event: dict) -> int:
    """The redirect depth of a Web Connectivity 0.5 event (tag "depth=N"), 0 without one."""
    for tag in tags(event):
        if tag.startswith("depth="):
            value = tag[6:]
            return int(value) if value.isdigit() and len(value) < 4 else 0
    return 0


_INFINITY: Final = float("inf")


def duration_ms(event: dict) -> float:
    """t - t0 in milliseconds (0 when either is missing: old probes recorded only t)."""
    t0, t = event.get("t0"), event.get("t")
    if type(t0) is float and type(t) is float and -_INFINITY < t0 <= t < _INFINITY:  # the usual event
        return round((t - t0) * 1000, 1)
    t0, t = number(t0), number(t)
    if t0 is None or t is None or t < t0:
        return 0.0
    return round((t - t0) * 1000, 1)


def address(value: Any) -> str | None:
    """An IP address as Python's ipaddress writes it, None for anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    return _address(value)


@functools.lru_cache(maxsize=16384)
def _address(value: str) -> str | None:
    # Cached: a measurement names the same few addresses in its answers, connects and
    # handshakes, and a session the same resolvers and sites again and again.
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        return None


def endpoint(value: Any) -> tuple[str, int] | None:
    """("1.2.3.4", 443) from "1.2.3.4:443" or "[2001:db8::1]:443"; None for anything else."""
    if not isinstance(value, str) or len(value) > 80:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or len(port) > 5 or not 0 < int(port) < 65536:
        return None
    ip = address(host)
    return (ip, int(port)) if ip is not None else None


def url_port(url: str) -> int | None:
    """The port a request for `url` goes to: explicit, else its scheme's."""
    try:
        parts = urlsplit(url)
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None


def binary_data(value: Any, where: str, notes: Notes) -> bytes | None:
    """OONI's MaybeBinaryData: a UTF-8 string, or {"format": "base64", "data": ...}."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogatepass")
    if isinstance(value, dict) and value.get("format") == "base64" and isinstance(value.get("data"), str):
        data = value["data"]
        try:
            # Measurement Kit wrote some without their final "=" padding: restored, as OONI's
            # own pipeline does; anything else that is not base64 is refused.
            return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
        except (binascii.Error, ValueError):
            notes.add(where, "base64 that does not decode")
            return None
    notes.add(where, f"a {type(value).__name__} where text or base64 data belongs")
    return None


_OONI_TIME: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


def ooni_time(value: Any) -> datetime | None:
    """OONI's "YYYY-MM-DD HH:MM:SS" (UTC) as an aware datetime; None when it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    if _OONI_TIME.fullmatch(value):  # what OONI writes: read by the C parser, ten times faster
        try:
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        except ValueError:
            return None
    try:
        moment = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """moment.strftime("%Y-%m-%dT%H:%M:%SZ"), by the C isoformat (a tenth of the time) where the
    two agree: from year 1000 (strftime writes a shorter year before)."""
    if moment.year >= 1000:
        return moment.isoformat(timespec="seconds")[:19] + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def limited(value: str, limit: int = MAX_TEXT_CHARS) -> str:
    return value[:limit]


def first_text(*values: Any) -> str | None:
    return next((v for v in (text(x) for x in values) if v), None)


def list_of_text(value: Any, limit: int = 64) -> list[str]:
    return [entry[:MAX_TEXT_CHARS] for entry in items(value, limit) if isinstance(entry, str)]


def count_dropped(value: Any, kept: int, where: str, notes: Notes) -> None:
    """Note a list that held more entries (or other things) than were read."""
    if isinstance(value, list) and len(value) > kept:
        notes.add(where, f"{len(value) - kept} entries not read (not objects, or past {MAX_ITEMS})")
