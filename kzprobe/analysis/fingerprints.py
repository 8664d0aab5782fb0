"""Known signs of censorship, as data: blockpage addresses, page patterns, redirect targets, CAs;
and the signs of what is *not* censorship: the refusal pages of CDNs and web firewalls.

The list lives in kzprobe/data/fingerprints.yaml, every entry with its source, and is read and
validated by fingerprint_file.py. This module holds the entries and matches them: patterns are
plain text (contains / exact / prefix, case and whitespace folded), never regular expressions,
so a hostile file cannot make matching slow; certificate names are compared attribute by
attribute after parsing the RFC 4514 string.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

from kzprobe.analysis.addresses import canonical_address
from kzprobe.analysis.facts import CertFact, HopFact
from kzprobe.analysis.names import url_host


@functools.lru_cache(maxsize=256)
def fold(text: str) -> str:
    """Case and whitespace folded: how patterns and names are compared (cached: one page body
    is matched against every pattern, at several steps)."""
    return " ".join(text.casefold().split())


# The only characters beyond ASCII whose lower case holds an ASCII letter: İ ("i̇") and the
# Kelvin sign ("k"). A body without them lowers its ASCII letters exactly as its UTF-8 bytes do.
_LOWERING_TO_ASCII: Final = ("\u0130", "\u212a")


@functools.lru_cache(maxsize=8)  # a page is checked several times in a row, then never again
def _ascii_lowered(text: str) -> bytes:
    """A body's UTF-8 with its ASCII letters lowered, once for all the patterns it is checked
    against: a fifth of the time of str.lower on a page of Cyrillic."""
    return text.encode("utf-8", "surrogatepass").lower()


@functools.lru_cache(maxsize=8)
def _lowers_to_ascii(text: str) -> bool:
    """The body holds a character beyond ASCII whose lower case holds an ASCII letter."""
    return any(c in text for c in _LOWERING_TO_ASCII)


# The searches below are remembered: patterns share their words ("заблокирован" is in four,
# "challenge" in three), and one response is checked at several steps; each reads the whole body.
@functools.lru_cache(maxsize=64)
def _has_word(text: str, word: str) -> bool:
    """`word` (lower-case ASCII letters and digits) is in text.lower()."""
    folded = _FOLDED.get(text)
    if folded is not None and word not in folded:
        # The body was case folded for another pattern: its folding holds every ASCII letter
        # its lower case holds (the only characters lowering to ASCII, İ and K, fold alike).
        return False
    if word.encode("ascii") in _ascii_lowered(text):
        return True
    return _lowers_to_ascii(text) and word in text.lower()


# The last bodies case folded, by body (a page is checked several times in a row, then never
# again): _has_word looks here before encoding a body folded already.
_FOLDED: dict[str, str] = {}
_FOLDED_KEPT: Final = 8


def _casefolded(text: str) -> str:
    folded = _FOLDED.get(text)
    if folded is None:
        folded = _FOLDED[text] = text.casefold()
        if len(_FOLDED) > _FOLDED_KEPT:
            del _FOLDED[next(iter(_FOLDED))]
    return folded


@functools.lru_cache(maxsize=64)
def _folded_has(text: str, word: str) -> bool:
    """`word` is in text.casefold()."""
    return word in _casefolded(text)


@functools.lru_cache(maxsize=4096)
def _needle(pattern: str) -> str:
    """The longest ASCII word of a folded pattern ("" when it has none): present in any body the
    pattern matches, whatever the case or spacing. Words with "ss" are left out ("ß" casefolds to
    "ss" but does not lower to it)."""
    words = [w for w in re.findall(r"[a-z0-9]+", pattern) if "ss" not in w]
    return max(words, key=len, default="")


@functools.lru_cache(maxsize=4096)
def _word(pattern: str) -> str:
    """The longest word of a folded pattern beyond ASCII, when it is longer than its ASCII needle
    ("" otherwise): a pattern found in fold(body) has it within one word of body.casefold()
    (folding only joins the whitespace between words). "IP-адресу заблокирован" is looked for by
    "заблокирован", not by "ip", which most pages hold."""
    word = max((w for w in pattern.split() if not w.isascii()), key=len, default="")
    return word if len(word) > len(_needle(pattern)) else ""


@dataclass(frozen=True)
class PagePattern:
    """Text that marks a response as a blockpage: in its body, its title or one header."""

    id: str
    where: str  # "body" | "title" | "header"
    header: str | None
    match: str
    pattern: str  # folded (case and whitespace)
    country: str | None
    source: str

    def matches(self, hop: HopFact) -> bool:
        if self.where == "body":
            haystack = hop.body
            # A page body is up to 64 KiB: folding it costs up to a millisecond (a page of
            # Cyrillic), paid for every response checked. A word of the pattern missing from the
            # body rules it out first: an ASCII word from its lowered bytes (ASCII letters and
            # digits lower and casefold alike), another from its case folding alone.
            word, needle = _word(self.pattern), _needle(self.pattern)
            if word:
                if haystack.isascii() or not _folded_has(haystack, word):
                    return False
            elif needle and not _has_word(haystack, needle):
                return False
        elif self.where == "title":
            haystack = hop.title or ""
        else:
            haystack = hop.headers.get(self.header or "", "")
        text = fold(haystack)
        if self.match == "exact":
            return text == self.pattern
        if self.match == "prefix":
            return text.startswith(self.pattern)
        return self.pattern in text

    @property
    def location(self) -> str:
        return f"header {self.header}" if self.where == "header" else self.where


@dataclass(frozen=True)
class RefusalPattern:
    """A CDN's or web firewall's refusal of the client (a bot challenge, an access-denied page):
    the site's own protection answering instead of the page, never a censor's."""

    page: PagePattern  # what marks it (body, title or a header)
    service: str  # who refused: "Cloudflare", "Akamai", ...
    kind: str  # "challenge" (a browser would pass it) | "block"
    statuses: frozenset[int]  # the statuses it comes with; empty: any

    @property
    def id(self) -> str:
        return self.page.id

    def matches(self, hop: HopFact) -> bool:
        return (not self.statuses or hop.status in self.statuses) and self.page.matches(hop)


@dataclass(frozen=True)
class BlockpageAddress:
    id: str
    address: str
    country: str | None
    source: str


@dataclass(frozen=True)
class RedirectTarget:
    """A host (and its subdomains) that censors redirect blocked requests to."""

    id: str
    host: str
    country: str | None
    source: str

    def matches(self, url: str) -> bool:
        host = url_host(url) or ""
        return host == self.host or host.endswith("." + self.host)


@dataclass(frozen=True)
class AuthorityPattern:
    """A certificate authority named in a chain: an interception root, or a national PKI."""

    id: str
    role: str  # "interception" | "national"
    names: tuple[tuple[str, str], ...]  # (attribute, folded value), all must match one DN
    compare: str  # "exact" | "prefix"
    sha256: frozenset[str]
    country: str | None
    source: str

    def matches(self, cert: CertFact) -> str | None:
        """What in `cert` matched: its hash, or the subject/issuer DN text; None if nothing."""
        if cert.sha256 and cert.sha256 in self.sha256:
            return f"SHA-256 {cert.sha256[:16]}…"
        if not self.names:
            return None
        for dn in (cert.issuer, cert.subject):
            if dn and self._names_match(folded_dn(dn)):
                return dn
        return None

    def _names_match(self, attributes: tuple[tuple[str, str], ...]) -> bool:
        for wanted_type, wanted_value in self.names:
            values = [value for kind, value in attributes if kind == wanted_type]
            if self.compare == "prefix":
                ok = any(value.startswith(wanted_value) for value in values)
            else:
                ok = wanted_value in values
            if not ok:
                return False
        return True


@dataclass(frozen=True)
class ChainMatch:
    authority: AuthorityPattern
    matched: str  # the DN or hash that matched


@dataclass(frozen=True)
class Fingerprints:
    addresses: tuple[BlockpageAddress, ...] = ()
    pages: tuple[PagePattern, ...] = ()
    redirects: tuple[RedirectTarget, ...] = ()
    authorities: tuple[AuthorityPattern, ...] = ()
    refusals: tuple[RefusalPattern, ...] = ()

    def address(self, address: str) -> BlockpageAddress | None:
        key = canonical_address(address)
        return next((a for a in self.addresses if a.address == key), None)

    def page(self, hop: HopFact) -> PagePattern | None:
        return next((p for p in self.pages if p.matches(hop)), None)

    def refusal(self, hop: HopFact) -> RefusalPattern | None:
        """The CDN or firewall refusal this response is, if any (responses only)."""
        if hop.status is None:
            return None
        return next((r for r in self.refusals if r.matches(hop)), None)

    def redirect(self, url: str) -> RedirectTarget | None:
        return next((r for r in self.redirects if r.matches(url)), None)

    def authority(self, chain: tuple[CertFact, ...], role: str) -> ChainMatch | None:
        for cert in chain:
            for authority in self.authorities:
                if authority.role == role:
                    matched = authority.matches(cert)
                    if matched:
                        return ChainMatch(authority, matched)
        return None


# --- RFC 4514 distinguished names -------------------------------------------------------------

def _unescape(value: str) -> str:
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            pair = value[i + 1:i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            out.extend(value[i + 1].encode())
            i += 2
            continue
        out.extend(char.encode())
        i += 1
    return out.decode("utf-8", errors="replace")


def parse_dn(text: str) -> list[tuple[str, str]]:
    """(attribute, value) pairs of an RFC 4514 string such as "CN=Qaznet Trust Network,C=KZ"."""
    components, current, escaped = [], [], False
    for char in text[:4096]:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in ",+":
            components.append("".join(current))
            current = []
        else:
            current.append(char)
    components.append("".join(current))
    pairs = []
    for component in components:
        kind, sep, value = component.partition("=")
        if sep:
            pairs.append((kind.strip().upper(), _unescape(value.strip())))
    return pairs


@functools.lru_cache(maxsize=1024)
def folded_dn(text: str) -> tuple[tuple[str, str], ...]:
    """parse_dn with folded values, remembered: a scan's chains repeat a few issuer and subject
    names thousands of times (parsing them was a third of the analysis of 1,000 targets)."""
    return tuple((kind, fold(value)) for kind, value in parse_dn(text))

