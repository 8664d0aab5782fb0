"""Keyword targets: a word a censor may filter wherever it appears, and its neutral twin.

A keyword target (`keyword: guljan`) is not a site: the scan sends the word to the vantage's
own reachable baselines, in the URL path, the Host header and the TLS server name, each beside
a request differing only by a neutral word of the same length (docs/methodology.md).
"""

from __future__ import annotations

import re
from typing import Final

import idna

# A DNS label's limit (RFC 1035): the word must fit one label of a host name, as sent.
MAX_KEYWORD_CHARS: Final = 63
# Letters (any script: a Cyrillic or Kazakh word is a keyword too), digits, inner hyphens.
_KEYWORD_RE: Final = re.compile(r"^[^\W_](?:[^\W_]|-)*$")
# The neutral twin is spelled from these letters: no word in Kazakh, Russian or English, so no
# censor has reason to filter it; ASCII, so that it needs no encoding anywhere.
_NEUTRAL_LETTERS: Final = "qzxvjk"


def keyword_problem(word: str) -> str | None:
    """Why `word` cannot be a keyword, or None: 1-63 characters, letters, digits and hyphens
    (not first or last), and an IDNA label when it has non-ASCII letters."""
    if not word:
        return "must not be empty"
    if len(word) > MAX_KEYWORD_CHARS:
        return f"longer than {MAX_KEYWORD_CHARS} characters (one host-name label)"
    if not _KEYWORD_RE.match(word) or word.endswith("-"):
        return "must be letters, digits and inner hyphens only (one word, no spaces, dots or slashes)"
    try:
        label = host_label(word)
    except idna.IDNAError as error:
        return f"is not a valid internationalised host-name label ({error})"
    if len(label) > MAX_KEYWORD_CHARS:
        return f"its IDNA form {label!r} is longer than {MAX_KEYWORD_CHARS} characters"
    return None


def host_label(word: str) -> str:
    """The word as a host-name label: lower case, IDNA-encoded (xn--...) when not ASCII."""
    lowered = word.lower()
    return lowered if lowered.isascii() else idna.encode(lowered, uts46=True).decode("ascii")


def neutral_word(word: str, length: int | None = None) -> str:
    """A word no censor has reason to filter, as long as `word` is sent (its host label), or
    `length` letters (the path's percent-encoded form of a non-ASCII word is longer)."""
    sent = host_label(word)
    length = len(sent) if length is None else length
    neutral = (_NEUTRAL_LETTERS * (length // len(_NEUTRAL_LETTERS) + 1))[:length]
    if neutral == sent:  # someone filters our neutral word: use other letters
        neutral = neutral.translate(str.maketrans("qzxvjk", "zxvjkq"))
    return neutral


def keyword_id(word: str) -> str:
    """The id a user file's keyword entry gets when it names none: keyword-<label>."""
    return f"keyword-{host_label(word)}"
