"""The alert settings of a vantage (`notify`, `webhook_secret_file`, `webhook_timeout`,
`webhook_retries`, `flap_scans` in kzprobe.yaml; `--notify` on the command line): their checks,
and the one place the shared secret is read.

The secret lives in a file of its own, readable by its owner only, never in kzprobe.yaml (a
configuration file gets pasted into bug reports) and never on a command line (`ps` shows it).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kzprobe.vantage.alerts.limits import (
    DEFAULT_FLAP_SCANS,
    DEFAULT_WEBHOOK_RETRIES,
    DEFAULT_WEBHOOK_TIMEOUT_S,
    FLAP_CHANGES,
    MAX_SECRET_BYTES,
    MAX_WEBHOOKS,
    MIN_SECRET_CHARS,
)
from kzprobe.vantage.alerts.webhook import check_webhook_url, redact_url

FEED: Final = "feed"
NONE: Final = "none"
DEFAULT_NOTIFY: Final = (FEED,)


@dataclass(frozen=True)
class AlertSettings:
    """Where a vantage's change records go, and how."""

    feed: bool = True
    webhooks: tuple[str, ...] = ()
    secret_file: Path | None = None
    webhook_timeout: float = DEFAULT_WEBHOOK_TIMEOUT_S
    webhook_retries: int = DEFAULT_WEBHOOK_RETRIES
    flap_scans: int = DEFAULT_FLAP_SCANS

    @classmethod
    def from_notify(cls, notify: Sequence[str], *, secret_file: Path | None, webhook_timeout: float,
                    webhook_retries: int, flap_scans: int) -> AlertSettings:
        """From the `notify` list of the configuration and the other alert settings."""
        return cls(feed=FEED in notify, webhooks=tuple(d for d in notify if d != FEED), secret_file=secret_file,
                   webhook_timeout=webhook_timeout, webhook_retries=webhook_retries, flap_scans=flap_scans)

    @property
    def active(self) -> bool:
        return self.feed or bool(self.webhooks)


def check_notify(value: object) -> tuple[str, ...]:
    """`notify`: 'feed', webhook URLs, or 'none' (a string or a list); ValueError otherwise."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise ValueError("must be a list of destinations: feed, https webhook URLs, or none")
    wanted = [item.strip() for item in items if item.strip()]
    if [item.lower() for item in wanted] == [NONE] or not wanted:
        return ()
    destinations: list[str] = []
    problems = []
    for item in wanted:
        if item.lower() == FEED:
            destinations.append(FEED)
        elif item.lower() == NONE:
            problems.append("'none' cannot be combined with destinations")
        else:
            try:
                destinations.append(check_webhook_url(item))
            except ValueError as exc:
                problems.append(str(exc))
    webhooks = [d for d in destinations if d != FEED]
    if len(set(webhooks)) > MAX_WEBHOOKS:
        problems.append(f"at most {MAX_WEBHOOKS} webhooks")
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(dict.fromkeys(destinations))


def describe_destination(destination: str) -> str:
    """A destination as it may be printed: the feed, or a webhook with its path hidden."""
    return "feed (changes.xml, changes.jsonl)" if destination == FEED else f"webhook {redact_url(destination)}"


def check_secret_file(path: Path) -> Path:
    """A readable, owner-only file holding a secret long enough; ValueError otherwise."""
    read_secret(path)
    return path


def read_secret(path: Path) -> bytes:
    """The shared secret: the file's content without surrounding whitespace. ValueError saying
    what is wrong with the file (never what it holds)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if info.st_mode & 0o077:
            raise ValueError(f"{path} may be read by other users (mode {stat.S_IMODE(info.st_mode):04o}): "
                             f"run chmod 600 {path}")
        data = f.read(MAX_SECRET_BYTES + 1)
    secret = data.strip()
    if len(data) > MAX_SECRET_BYTES:
        raise ValueError(f"{path} is larger than {MAX_SECRET_BYTES} bytes: not a secret")
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(f"the secret in {path} is shorter than {MIN_SECRET_CHARS} characters "
                         "(make one with: openssl rand -hex 32)")
    return secret


def describe(settings: AlertSettings) -> list[str]:
    """What happens after each complete scan, in a few lines (for `kzprobe cron`)."""
    if not settings.active:
        return ["no alerts (notify: none)"]
    lines = []
    if settings.feed:
        lines.append("feed: changes.xml (Atom) and changes.jsonl in the output directory")
    for url in settings.webhooks:
        signed = "signed with the secret in " + str(settings.secret_file) if settings.secret_file else "unsigned"
        lines.append(f"webhook {redact_url(url)}: {signed}; {settings.webhook_timeout:g} s, "
                     f"{settings.webhook_retries} retries; undelivered records wait in .kzprobe-outbox/")
    lines.append(f"a target changing state {FLAP_CHANGES} times in {settings.flap_scans} scans is reported once "
                 "as unstable")
    return lines
