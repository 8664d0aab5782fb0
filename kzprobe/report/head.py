"""A report's or journal's first fields, read from its first bytes without parsing the rest.

Ordering and filtering thousands of files (the analysts, a vantage's retention and latest.json)
needs each file's scan id, time and vantage, not its results: these readers decode the header
one value at a time and stop before "results". What they return is unchecked; a full read
(report/read.py read_report) still decides whether a file is a report.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any, Final

from kzprobe.report.format import JOURNAL_SUFFIX
from kzprobe.report.read import ReportError, open_regular_file

# A report's header (everything before "results") is a few hundred bytes when kzprobe wrote it:
# the first read takes this much, and only a header longer than that (another writer's, a
# journal's long first line) is read again up to HEADER_PEEK_BYTES.
HEADER_FIRST_BYTES: Final = 4 * 1024
HEADER_PEEK_BYTES: Final = 64 * 1024
_SPACE: Final = re.compile(r"[ \t\r\n]*")


def peek_header(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The top-level fields before "results", decoded from the file's first bytes (json's own
    decoder, one value at a time: the results are never read); None if unsure.

    For ordering and filtering thousands of files cheaply; the fields are unchecked, and a full
    read (read_report) is still what tells whether the file is a report. For a journal: its scan line.
    """
    journal = str(path).endswith(JOURNAL_SUFFIX)
    try:
        with open_regular_file(path) as handle:
            data = handle.read(HEADER_FIRST_BYTES)
            header = header_of(data.decode("utf-8", errors="replace"), journal=journal)
            if header is not None or len(data) < HEADER_FIRST_BYTES:
                return header
            data += handle.read(HEADER_PEEK_BYTES - len(data))
    except (OSError, ReportError):
        return None
    return header_of(data.decode("utf-8", errors="replace"), journal=journal)


def header_of(head: str, *, journal: bool) -> dict[str, Any] | None:
    """peek_header of a file's first bytes already read (as text); None if unsure."""
    if journal:
        line, newline, _ = head.partition("\n")
        try:
            entry = json.loads(line) if newline else None
        except ValueError:
            return None
        return entry if isinstance(entry, dict) else None
    quick = _before_results(head)
    if quick is not None:
        return quick
    try:
        return dict(leading_fields(head))
    except ValueError:  # the header runs past the peeked bytes, or the file is malformed
        return None


def _before_results(head: str) -> dict[str, Any] | None:
    """The members before the first `"results"`, decoded at once, when that is the top-level key
    (as in every report kzprobe writes); None otherwise, and leading_fields decides member by
    member. Cut anywhere else (inside a nested object, or after a value), the text before it is
    not one JSON object; an escaped quote cannot end the key, so a string never matches."""
    found = head.find('"results"')
    if found < 0:
        return None
    members = head[:found].rstrip()
    members = members[:-1] if members.endswith(",") else members
    try:
        decoded = json.loads(members + "}")
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


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
    return _SPACE.match(text, position).end()  # type: ignore[union-attr]  # `*` matches, if only nothing
