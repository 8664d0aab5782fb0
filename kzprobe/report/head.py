"""A report's or journal's first fields, read from its first bytes without parsing the rest.

Ordering and filtering thousands of files (the analysts, a vantage's retention and latest.json)
needs each file's scan id, time and vantage, not its results: these readers decode the header
one value at a time and stop before "results". What they return is unchecked; a full read
(report/read.py read_report) still decides whether a file is a report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any, Final

from kzprobe.report.format import JOURNAL_SUFFIX
from kzprobe.report.read import ReportError, open_regular_file

# A report's header (everything before "results") is a few hundred bytes when kzprobe wrote it.
HEADER_PEEK_BYTES: Final = 64 * 1024


def peek_header(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The top-level fields before "results", decoded from the file's first bytes (json's own
    decoder, one value at a time: the results are never read); None if unsure.

    For ordering and filtering thousands of files cheaply; the fields are unchecked, and a full
    read (read_report) is still what tells whether the file is a report. For a journal: its scan line.
    """
    head = read_head(path, HEADER_PEEK_BYTES)
    if head is None:
        return None
    return header_of(head, journal=str(path).endswith(JOURNAL_SUFFIX))


def header_of(head: str, *, journal: bool) -> dict[str, Any] | None:
    """peek_header of a file's first bytes already read (as text); None if unsure."""
    if journal:
        line, newline, _ = head.partition("\n")
        try:
            entry = json.loads(line) if newline else None
        except ValueError:
            return None
        return entry if isinstance(entry, dict) else None
    try:
        return dict(leading_fields(head))
    except ValueError:  # the header runs past the peeked bytes, or the file is malformed
        return None


def read_head(path: str | os.PathLike[str], limit: int) -> str | None:
    """The first `limit` bytes of a regular file as text; None for anything that cannot be read
    or is not a regular file (a FIFO is refused without waiting for a writer)."""
    try:
        with open_regular_file(path) as handle:
            return handle.read(limit).decode("utf-8", errors="replace")
    except (OSError, ReportError):
        return None


def leading_fields(text: str) -> Iterator[tuple[str, Any]]:
    """The (key, value) members of the JSON object `text` starts with, in file order, up to
    "results" or the object's end.

    Raises ValueError where the text stops being such an object: cut short (a header longer
    than the bytes read), not an object, or malformed. The members before that point have
    already been yielded, so a caller chooses between them and nothing.
    """
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if text[position : position + 1] != "{":
        raise ValueError("not a JSON object")
    position += 1
    while True:
        position = _skip_space(text, position)
        if text[position : position + 1] == "}":
            return
        key, position = decoder.raw_decode(text, position)
        position = _skip_space(text, position)
        if not isinstance(key, str) or text[position : position + 1] != ":":
            raise ValueError("not a JSON object member")
        if key == "results":
            return
        value, position = decoder.raw_decode(text, _skip_space(text, position + 1))
        yield key, value
        position = _skip_space(text, position)
        if text[position : position + 1] == ",":
            position += 1
        elif text[position : position + 1] != "}":
            raise ValueError("no comma between members")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
