"""Is the page we got the page the control got? Finds blockpages no fingerprint knows.

Pages change between two fetches (tokens, clocks, headlines) and the control scan may be an
hour old, so "different" must mean a different *page*, not a different copy: same status, and
then the title decides when the control's page has one (a page keeps its title as its content
changes; a blockpage has its own - or names the site, and then its short, unrelated body gives
it away); without a title, any of similar length (OONI's 0.7 ratio), similar visible text, or a
shared uncommon response header makes the pages the same.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.explain import quote, ratio
from kzprobe.analysis.facts import HopFact

_TAG: Final = re.compile(r"<[^<>]*>")
_WORD: Final = re.compile(rf"\w{{{th.TEXT_WORD_MIN_CHARS},}}")
_EDGE_PUNCTUATION: Final = "\"'«»“”„()[]{}:;,.!?|-–—/\\"


@dataclass(frozen=True)
class PageComparison:
    same: bool | None  # None: the control's page cannot serve as a reference
    reason: str  # the facts that decided, for the explanation


def title_words(title: str | None) -> set[str]:
    """The title's long words (>= 5 bytes in UTF-8), case-folded, edge punctuation removed."""
    words = (w.strip(_EDGE_PUNCTUATION).casefold() for w in (title or "").split())
    return {w for w in words if len(w.encode("utf-8")) >= th.TITLE_WORD_MIN_BYTES}


@functools.lru_cache(maxsize=256)
def visible_words(body: str) -> frozenset[str]:
    """Distinct words of the page's text, markup removed. Linear in the body, which the facts
    cap; cached, as a page is compared more than once (DNS rescue, blockpage learning, HTTP)."""
    return frozenset(_WORD.findall(_TAG.sub(" ", body).casefold()))


def _uncommon_headers(hop: HopFact) -> set[str]:
    return {name for name in hop.headers if name not in th.COMMON_HEADERS}


def _length_ratio(probe: HopFact, control: HopFact) -> float | None:
    if not probe.body_length or not control.body_length:
        return None
    if probe.truncated and control.truncated:
        return 1.0  # both larger than the cap: neither is a small blockpage
    if probe.truncated or control.truncated:
        return None
    return min(probe.body_length, control.body_length) / max(probe.body_length, control.body_length)


def _text_similarity(probe: HopFact, control: HopFact) -> float | None:
    # The control's words first: a control without a body (OONI's test helper keeps none) rules
    # the comparison out before a 64 KiB page here is taken apart.
    theirs = visible_words(control.body)
    if len(theirs) < th.TEXT_MIN_WORDS:
        return None
    ours = visible_words(probe.body)
    if len(ours) < th.TEXT_MIN_WORDS:
        return None
    return len(ours & theirs) / len(ours | theirs)


def compare_pages(probe: HopFact, control: HopFact, where: str = "in the control") -> PageComparison:
    """Same page, different page, or no reference (the control's own page was an error).
    `where` names the reference page in the reasons ("over HTTPS" for an http:// site's own)."""
    if control.status is None:
        return PageComparison(None, "the control got no page")
    if probe.body_length is None:
        # A response whose body was not recorded (imported data: OONI kept none, or base64 that
        # does not decode): its title and length are unknown, not missing.
        return PageComparison(None, "this page's body was not recorded, so it cannot be compared")
    ok_control = 200 <= control.status < 300
    if probe.status != control.status:
        if not ok_control:
            return PageComparison(None, f"the control's own page was status {control.status}, no reference")
        return PageComparison(False, f"status {probe.status} here, {control.status} {where}")
    length = _length_ratio(probe, control)
    length_same = length is not None and length > th.BODY_LENGTH_RATIO
    theirs = title_words(control.title)
    if theirs:
        ours = title_words(probe.title)
        if not ours or len(ours & theirs) < th.TITLE_SHARED_FRACTION * min(len(ours), len(theirs)):
            return PageComparison(False, f"title {quote(probe.title) if probe.title else 'missing'} here, "
                                         f"{quote(control.title)} {where}")
        if length is not None and not length_same:
            # A blockpage can name the site in its title; its body still gives it away.
            text = _text_similarity(probe, control)
            if text is None or text < th.TEXT_SIMILARITY_MIN:
                return PageComparison(False, f"same title {quote(probe.title)} but "
                                             f"{_body_facts(probe, control, length, text, where)}")
        return PageComparison(True, f"same status {probe.status} and title {quote(probe.title)}")
    if length_same or _uncommon_headers(probe) & _uncommon_headers(control):
        return PageComparison(True, f"same status {probe.status} and a similar page")
    text = _text_similarity(probe, control)
    if text is not None and text >= th.TEXT_SIMILARITY_MIN:
        return PageComparison(True, f"same status {probe.status} and a similar page")
    if length is None and text is None:
        return PageComparison(True, f"same status {probe.status}, nothing else to compare")
    return PageComparison(False, _body_facts(probe, control, length, text, where))


def _body_facts(probe: HopFact, control: HopFact, length: float | None, text: float | None,
                where: str = "in the control") -> str:
    facts = []
    if length is not None:
        facts.append(f"body {probe.body_length:,} bytes here, {control.body_length:,} {where} "
                     f"(ratio {ratio(length)})")
    if text is not None:
        facts.append(f"{ratio(text)} of their words shared")
    return ", ".join(facts)
