"""The outbox: change records a webhook has not accepted yet, kept beside the results and tried
again after the next scans, oldest first, until delivered (then removed: never sent again) or
too old or too many (then dropped, with a warning; changes.jsonl keeps them when the feed is on).

One file per webhook in the hidden directory `.kzprobe-outbox/` (owner-only: 0700 and 0600),
named by a hash of the URL: neither the URL (it may hold a token) nor the secret is written in
it. A record is added before it is sent, so a scan killed while delivering loses nothing; the
price is that a receiver may see a record twice (the same `X-Kzprobe-Delivery` id) when a scan
died between the receiver's answer and the outbox's update.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final

from kzprobe.report.atomic import replace_atomically
from kzprobe.report.read import parse_time
from kzprobe.vantage.alerts.limits import MAX_OUTBOX_AGE_DAYS, MAX_OUTBOX_BYTES, MAX_OUTBOX_RECORDS

OUTBOX_DIR: Final = ".kzprobe-outbox"
OUTBOX_FORMAT: Final = "kzprobe-outbox"
OUTBOX_VERSION: Final = 1
_PRIVATE_FILE: Final = 0o600
_PRIVATE_DIR: Final = 0o700


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Waiting:
    """A record waiting for one webhook."""

    record: dict[str, Any]
    queued_at: str
    tries: int = 0  # scans that tried to deliver it
    last_failure: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"queued_at": self.queued_at, "tries": self.tries, "last_failure": self.last_failure,
                "record": self.record}


@dataclass
class Outbox:
    path: Path
    destination: str  # the webhook, redacted: for a person looking at the file
    entries: list[Waiting] = field(default_factory=list)
    dropped: int = 0  # records given up since loading (too old, too many, or an unreadable file)

    def add(self, record: dict[str, Any], now: datetime) -> None:
        if any(entry.record.get("id") == record.get("id") for entry in self.entries):
            return  # already waiting (a scan made the same record again)
        self.entries.append(Waiting(record, _iso(now)))
        self._bound(now)

    def _bound(self, now: datetime) -> None:
        oldest = now - timedelta(days=MAX_OUTBOX_AGE_DAYS)
        fresh = [e for e in self.entries if (parse_time(e.queued_at) or now) >= oldest]
        fresh = fresh[-MAX_OUTBOX_RECORDS:]
        self.dropped += len(self.entries) - len(fresh)
        self.entries = fresh

    def save(self) -> None:
        """Replace the file atomically; remove it when nothing waits. OSError on failure."""
        if not self.entries:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            return
        self.path.parent.mkdir(mode=_PRIVATE_DIR, exist_ok=True)
        document = {"format": OUTBOX_FORMAT, "format_version": OUTBOX_VERSION, "destination": self.destination,
                    "entries": [entry.to_json() for entry in self.entries]}

        def fill(f: IO[bytes]) -> None:
            f.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

        replace_atomically(self.path, fill, mode=_PRIVATE_FILE)


def outbox_path(directory: Path, key: str) -> Path:
    return directory / OUTBOX_DIR / f"{key}.json"


def load_outbox(directory: Path, key: str, destination: str, now: datetime) -> Outbox:
    """The webhook's outbox (empty when there is none). A file that cannot be read as one is
    counted as dropped and replaced at the next save: an outbox must never stop the alerts."""
    outbox = Outbox(outbox_path(directory, key), destination)
    try:
        with open(outbox.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(MAX_OUTBOX_BYTES + 1) if size <= MAX_OUTBOX_BYTES else b""
    except FileNotFoundError:
        return outbox
    except OSError:
        outbox.dropped = 1
        return outbox
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("format") != OUTBOX_FORMAT \
            or not isinstance(document.get("entries"), list):
        outbox.dropped = 1
        return outbox
    for item in document["entries"]:
        waiting = _waiting(item)
        if waiting is None:
            outbox.dropped += 1
        else:
            outbox.entries.append(waiting)
    outbox._bound(now)
    return outbox


def _waiting(item: object) -> Waiting | None:
    if not isinstance(item, dict) or not isinstance(item.get("record"), dict) \
            or not isinstance(item["record"].get("id"), str) or not isinstance(item.get("queued_at"), str):
        return None
    tries = item.get("tries")
    failure = item.get("last_failure")
    return Waiting(item["record"], item["queued_at"], tries if isinstance(tries, int) and tries >= 0 else 0,
                   failure if isinstance(failure, str) else None)
