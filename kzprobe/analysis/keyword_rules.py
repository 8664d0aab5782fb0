"""The verdict of a keyword target: the word's requests against their neutral twins.

Each placement (URL path, Host header, TLS server name) is one pair sent to the same baseline
address (probes/keyword.py). The word is caught at a placement when its request fails after
the connection was made (reset, EOF, silence) or is answered with another HTTP status than its
neutral twin (a blockpage or a redirect), while the twin was answered - and its second try
(`again`) is caught too, at any step: a filter catches the word every time (and may block the
address for a while after a hit), a server that dropped one request by chance answers the next.
A first catch not tried again (the deadline, or a report made before second tries) is unsure,
and so is an answer that is the server's own trouble (429 Too Many Requests, a 5xx), which no
censor's blockpage is. A neutral twin that fails leaves that placement untested: the baseline,
not the word, is in trouble. A failure to connect at all says nothing about a word that was
never sent. The rules and their reasons are in docs/methodology.md ("Keyword targets").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.conclusion import Verdict, blocked, inconclusive, reachable
from kzprobe.analysis.explain import cite, sentence
from kzprobe.report import vocabulary as v

_WHERE = {v.KEYWORD_PATH: "in the URL path", v.KEYWORD_HOST: "in the Host header",
          v.KEYWORD_SNI: "in the TLS server name"}
_LAYER = {v.KEYWORD_PATH: "http", v.KEYWORD_HOST: "http", v.KEYWORD_SNI: "tls"}

CAUGHT, PASSED, UNTESTED, UNSURE = "caught", "passed", "untested", "unsure"


@dataclass(frozen=True)
class Sent:
    """One request or handshake of the pair, as the rules read it."""

    placement: str
    neutral: bool
    word: str
    baseline: str
    hostname: str
    address: str
    failure: str | None
    step: str | None
    status: int | None
    completed: bool
    again: bool = False  # the second try of a keyword request that looked caught

    @property
    def server_trouble(self) -> bool:
        """Answered with the server's own refusal or failure (429, 5xx): no censor's blockpage."""
        return self.status is not None and (self.status == th.RATE_LIMITED_STATUS or self.status >= 500)

    @property
    def answered(self) -> bool:
        if self.placement == v.KEYWORD_SNI:
            return self.completed and self.failure is None
        return self.failure is None and self.status is not None

    def outcome(self) -> str:
        if self.answered:
            return "completed the handshake" if self.placement == v.KEYWORD_SNI else f"was answered HTTP {self.status}"
        return f"failed ({cite(str(self.failure), 60)}{' at ' + self.step if self.step else ''})"


def _str(value: Any) -> str:
    return value[:300] if isinstance(value, str) else ""


def _sent(item: Any) -> Sent | None:
    if not isinstance(item, dict) or item.get("placement") not in _WHERE or not isinstance(item.get("neutral"), bool):
        return None
    status = item.get("status")
    failure = item.get("failure")
    return Sent(placement=item["placement"], neutral=item["neutral"], word=_str(item.get("word")),
                baseline=_str(item.get("baseline")), hostname=_str(item.get("hostname")),
                address=_str(item.get("address")), failure=failure[:300] if isinstance(failure, str) else None,
                step=_str(item.get("step")) or None,
                status=status if isinstance(status, int) and not isinstance(status, bool) else None,
                completed=item.get("handshake_completed") is True, again=item.get("again") is True)


@dataclass(frozen=True)
class Pair:
    placement: str
    neutral: Sent | None
    keyword: Sent | None
    again: Sent | None = None  # the keyword request's second try, when it looked caught

    def _first(self) -> str:
        assert self.neutral is not None and self.keyword is not None
        if self.keyword.answered:
            if self.placement != v.KEYWORD_SNI and self.keyword.status != self.neutral.status:
                # Another answer than the twin's: a blockpage or a redirect - or the server's own trouble.
                return UNSURE if self.keyword.server_trouble else CAUGHT
            return PASSED
        # Not connecting at all happened before the word was sent: it says nothing about it.
        return UNTESTED if self.keyword.step == "tcp" else CAUGHT

    def result(self) -> str:
        if self.neutral is None or self.keyword is None or not self.neutral.answered:
            return UNTESTED
        first = self._first()
        if first != CAUGHT:
            return first
        if self.again is None:
            return UNSURE  # one failure of a flaky server cannot be told from a filter
        if self.again.answered:
            if self.placement == v.KEYWORD_SNI or self.again.status == self.neutral.status:
                return PASSED  # answered as its twin was: the first was the server's or the path's hiccup
            return UNSURE if self.again.server_trouble else CAUGHT
        return CAUGHT  # failed again, at any step: a residual block of the address counts too

    def clause(self) -> str:
        where = _WHERE[self.placement]
        if self.keyword is None or self.neutral is None:
            return f"{where}: not measured (the scan ended first)"
        text = (f"{where} ({cite(self.keyword.hostname, 80)}{self._path(self.keyword)}) the request "
                f"{self.keyword.outcome()}, the neutral {cite(self.neutral.word, 70)!r} {self.neutral.outcome()}")
        if self.again is not None:
            return f"{text}, and the request once more {self.again.outcome()}"
        return text

    @staticmethod
    def _path(sent: Sent) -> str:
        return "" if sent.placement != v.KEYWORD_PATH else f"/{cite(sent.word, 70)}"


def pairs_of(observations: Any) -> list[Pair]:
    """One pair per placement measured, in the order path, Host, server name."""
    items = observations.get("keyword") if isinstance(observations, dict) else None
    sent = [s for s in (_sent(i) for i in (items if isinstance(items, list) else [])) if s is not None]
    pairs = []
    for placement in v.KEYWORD_PLACEMENTS:
        mine = [s for s in sent if s.placement == placement]
        if mine:
            pairs.append(Pair(placement, next((s for s in mine if s.neutral), None),
                              next((s for s in mine if not s.neutral and not s.again), None),
                              next((s for s in mine if not s.neutral and s.again), None)))
    return pairs


def keyword_verdict(word: str, observations: Any) -> Verdict:
    """blocked (layer http or tls, evidence keyword.<placement>) when the word was caught at a
    placement; reachable when every tested placement passed; inconclusive otherwise."""
    pairs = pairs_of(observations)
    shown = cite(word, 70)
    if not pairs:
        return inconclusive(["keyword.no_baseline"], sentence(
            f"the word {shown!r} was not tried: no baseline site answered in this scan to carry it"))
    bases = dict.fromkeys(f"{cite(s.baseline, 80)} ({cite(s.address, 45)})"
                          for p in pairs for s in (p.neutral, p.keyword) if s is not None)
    on = f"the word {shown!r} was tried on baseline {' and '.join(bases)}"
    clauses = [p.clause() for p in pairs]
    results = {p.placement: p.result() for p in pairs}
    caught = [p for p, r in results.items() if r == CAUGHT]
    if caught:
        layer = "http" if any(_LAYER[p] == "http" for p in caught) else "tls"
        names = ", ".join(_WHERE[p] for p in caught)
        return blocked(layer, [f"keyword.{p}" for p in caught], sentence(
            on, *clauses, f"the word is filtered {names}"))
    unsure = [p for p, r in results.items() if r == UNSURE]
    if unsure:
        names = ", ".join(_WHERE[p] for p in unsure)
        return inconclusive(["keyword.unconfirmed"], sentence(
            on, *clauses, f"{names} the word's request failed or was answered otherwise than its twin's once, "
                          "but not again (or the answer was the server's own trouble: too many requests, an error): "
                          "one hiccup of a server cannot be told from a filter"))
    if PASSED in results.values():
        untested = [p for p, r in results.items() if r == UNTESTED]
        note = f"not tested {', '.join(_WHERE[p] for p in untested)}" if untested else ""
        return reachable(sentence(on, *clauses, "the word passed wherever it was tested", note))
    return inconclusive(["keyword.neutral_failed"], sentence(
        on, *clauses, "the neutral requests failed too, so the failures are not the word's doing"))
