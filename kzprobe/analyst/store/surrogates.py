"""Text the store can write: Parquet strings are UTF-8, which a lone surrogate cannot be.

JSON can spell one ("\\ud800", half of a pair with no other half) and Python's json reads it
into a str that no UTF-8 encoder accepts; Arrow refuses it, and so would a directory name made
from a vantage name holding one. Such characters are stored as U+FFFD, the replacement
character. Finding them is paid only by the reports that may hold one: orjson refuses every
lone surrogate, so only a report read by the standard library's json (after orjson refused it;
report.read.parse_report_strictly says which), or a journal whose bytes hold an escape of a
surrogate or a byte that starts one in UTF-8, is walked.
"""

from __future__ import annotations

import re
from typing import Any, Final

LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
REPLACEMENT: Final = "\ufffd"


def may_hold_surrogates(data: bytes | str) -> bool:
    """False when the JSON text cannot hold a lone surrogate (the common case, checked in a
    few microseconds): no \\uD8-\\uDF escape, and no UTF-8 lead byte of one."""
    if isinstance(data, str):
        return LONE_SURROGATE.search(data) is not None or "\\ud" in data or "\\uD" in data
    return b"\\ud" in data or b"\\uD" in data or b"\xed" in data


def valid_unicode(value: Any) -> Any:
    """A string (or a list of them) with every lone surrogate replaced by U+FFFD."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub(REPLACEMENT, value)
    if isinstance(value, list):
        return [valid_unicode(item) for item in value]
    return value


def without_surrogates(document: Any) -> Any:
    """A parsed JSON document with every string (keys too) free of lone surrogates. Iterative:
    a document as deep as the parser allows does not exhaust Python's recursion."""
    root: list[Any] = [document]
    stack: list[Any] = [root]
    while stack:
        container = stack.pop()
        if isinstance(container, list):
            for index, item in enumerate(container):
                if isinstance(item, str):
                    container[index] = LONE_SURROGATE.sub(REPLACEMENT, item)
                elif isinstance(item, (list, dict)):
                    stack.append(item)
        else:
            for key in list(container):
                item = container[key]
                if isinstance(key, str) and LONE_SURROGATE.search(key):
                    del container[key]
                    key = LONE_SURROGATE.sub(REPLACEMENT, key)
                    container[key] = item
                if isinstance(item, str):
                    container[key] = LONE_SURROGATE.sub(REPLACEMENT, item)
                elif isinstance(item, (list, dict)):
                    stack.append(item)
    return root[0]
