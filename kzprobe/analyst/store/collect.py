"""`kzprobe collect`: the new reports of many vantages, fetched by URL into the store.

Each vantage publishes its results directory with index.json (kzprobe.vantage.report_index:
each report's name, size and SHA-256). Collect reads the index, fetches only the reports whose
hash the store lacks, and checks each against the index (size, then hash) and as a report
before ingesting it. Everything from a vantage is untrusted and bounded: the index's size, each
report's size (never more bytes than the index declares), the time per file and per vantage,
redirects (the fetcher's). A vantage that misbehaves (an HTML page for an index, a file larger
than declared, a slow drip, a wrong hash, a redirect loop) is named with what it did and left,
and the others are collected. The fetching itself (kzprobe's resolver path) is passed in by
the caller, so this module never opens a socket.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from kzprobe.analyst.store import layout
from kzprobe.analyst.store.reader import bytes_for_store
from kzprobe.analyst.store.writer import DEFAULT_BATCH, StoreWriter, open_writer
from kzprobe.report.read import MAX_REPORT_BYTES, REPORT_INDEX, ReportError

INDEX_NAME: Final = REPORT_INDEX
INDEX_FORMAT: Final = "kzprobe-index"
INDEX_VERSION: Final = 1
# An index lists ~200 bytes per report: a year of hourly scans is under 2 MB.
MAX_INDEX_BYTES: Final = 64 * 1024 * 1024
# A report name in an index: one path segment, no dot first (no "..", no hidden file).
SAFE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.json$")
SHA256_HEX: Final = re.compile(r"^[0-9a-f]{64}$")
# Failures in a row after which a vantage is left for this run: each costs up to a file's time.
MAX_FAILURES_IN_A_ROW: Final = 3

# fetch(url, max_bytes, deadline_s) -> the body; raises FetchError saying what went wrong.
Fetch = Callable[[str, int, float], bytes]


class FetchError(Exception):
    """A URL could not be fetched within its bounds (the message says what happened)."""


@dataclass
class VantageOutcome:
    """What collect did with one vantage."""

    url: str
    listed: int = 0
    already: int = 0  # in the store already (same hash)
    added: int = 0
    replaced: int = 0
    problems: list[str] = field(default_factory=list)  # files skipped, and why
    skipped: str | None = None  # why the vantage was left (its index, its time, its failures)

    def line(self) -> str:
        done = (f"{self.added} new, {self.replaced} replaced, {self.already} already in the store, "
                f"of {self.listed} listed")
        if self.skipped:
            return f"{self.url}: SKIPPED: {self.skipped} ({done})"
        return f"{self.url}: {done}" + (f"; {len(self.problems)} report(s) skipped" if self.problems else "")


def index_url(url: str) -> tuple[str, str]:
    """(index URL, base URL for report names) of a vantage given as its directory or its index."""
    if url.endswith(".json"):
        return url, url.rsplit("/", 1)[0] + "/"
    base = url if url.endswith("/") else url + "/"
    return base + INDEX_NAME, base


def parse_index(data: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """The usable entries of an index and the problems of the others; ValueError when the file
    is not an index at all."""
    if data.lstrip()[:1] == b"<":
        raise ValueError("an HTML page, not an index (is this a kzprobe results directory?)")
    try:
        index = json.loads(data)
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
        raise ValueError(f"not a kzprobe index (format is not {INDEX_FORMAT!r})")
    if index.get("format_version") != INDEX_VERSION:
        raise ValueError(f"index format_version {str(index.get('format_version'))[:20]!r}; this kzprobe reads "
                         f"{INDEX_VERSION}")
    reports = index.get("reports")
    if not isinstance(reports, list):
        raise ValueError("the index has no list of reports")
    usable: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, entry in enumerate(reports):
        name = entry.get("name") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        sha256 = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not SAFE_NAME.match(name):
            problems.append(f"index entry {number}: not a report name")
        elif isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_REPORT_BYTES:
            problems.append(f"{name}: size {str(size)[:20]} out of bounds (at most {MAX_REPORT_BYTES} bytes)")
        elif not isinstance(sha256, str) or not SHA256_HEX.match(sha256):
            problems.append(f"{name}: not a SHA-256")
        else:
            usable.append({"name": name, "size": size, "sha256": sha256})
    return usable, problems


def collect(urls: Iterable[str], store: Path, fetch: Fetch, *, file_time_s: float, vantage_time_s: float,
            on_outcome: Callable[[VantageOutcome], None] = lambda outcome: None,
            on_note: Callable[[str], None] = lambda note: None) -> list[VantageOutcome]:
    """Collect every vantage of `urls` into `store`, one after the other, committing each."""
    outcomes = []
    with layout.writer_lock(store):
        writer = open_writer(store, on_note)
        for url in urls:
            outcome = _collect_one(url, writer, fetch, file_time_s, vantage_time_s)
            writer.commit()
            on_outcome(outcome)
            outcomes.append(outcome)
    return outcomes


def _collect_one(url: str, writer: StoreWriter, fetch: Fetch, file_time_s: float,
                 vantage_time_s: float) -> VantageOutcome:
    outcome = VantageOutcome(url)
    deadline = time.monotonic() + vantage_time_s
    where, base = index_url(url)
    try:
        entries, problems = parse_index(fetch(where, MAX_INDEX_BYTES, min(file_time_s, vantage_time_s)))
    except (FetchError, ValueError) as error:
        outcome.skipped = f"index: {error}"
        return outcome
    outcome.listed, outcome.problems = len(entries), problems
    known = {entry.sha256 for entry in writer.known.values()}
    failures = 0
    for entry in entries:
        if entry["sha256"] in known:
            outcome.already += 1
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            outcome.skipped = f"{vantage_time_s:g} s spent; the rest next time"
            break
        problem = _fetch_one(base + entry["name"], entry, writer, fetch, min(file_time_s, left), outcome)
        if problem is None:
            failures = 0
            known.add(entry["sha256"])
            if writer.pending >= DEFAULT_BATCH:
                writer.commit()
            continue
        outcome.problems.append(f"{entry['name']}: {problem}")
        failures += 1
        if failures >= MAX_FAILURES_IN_A_ROW:
            outcome.skipped = f"{failures} reports in a row failed, the last: {entry['name']}: {problem}"
            break
    return outcome


def _fetch_one(url: str, entry: dict[str, Any], writer: StoreWriter, fetch: Fetch, deadline_s: float,
               outcome: VantageOutcome) -> str | None:
    """Fetch, verify and offer one report; None when it was ingested, else what went wrong."""
    try:
        data = fetch(url, entry["size"], deadline_s)
    except FetchError as error:
        return str(error)
    if len(data) != entry["size"]:
        return f"{len(data)} bytes, the index says {entry['size']}"
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return "its SHA-256 is not the one the index lists"
    scan, rows = bytes_for_store(data, url)
    if isinstance(scan, ReportError):
        return scan.reason
    done = writer.offer(scan, rows)
    if done in ("added", "replaced"):
        setattr(outcome, done, getattr(outcome, done) + 1)
    else:
        outcome.already += 1
    return None
