"""Where in a text this machine's addresses are written, in any common spelling (for scrub.py).

Spellings, in any letter case: dotted, dashed, underscored, percent- or entity-encoded IPv4,
the same reversed (8.7.56.95, as in in-addr.arpa and Team Cymru names), hex (0x5f380708, bare)
and decimal integers; IPv6 in every compression, groups zero-padded or not, separated by colons,
dashes or %3A; the IPv4-mapped (::ffff:) and NAT64 (64:ff9b::) forms of an IPv4 address;
reversed nibbles of an IPv6 address (ip6.arpa, Team Cymru's origin6). Only whole tokens count:
95.56.7.88, 195.56.7.8, 2a02::5:1 and a hash that contains the hex spelling are other things.

Two tests, a fast one and an exact one. A regular expression over every character of a 20 KB
page costs more than measuring the page's target does, so `may_contain` first reduces a text to
the characters a spelling can contain, in one form (ASCII, lower case, every separator a dot),
and looks for a few literals that every spelling contains (`_needles`); only then does `spans`
look for real: regular expressions for the IPv4, hex, decimal and nibble forms, and for IPv6 an
address parser over every run that could be one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Final

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# What may stand between the numbers of an IPv4 address: pages and URLs write a dot, host names
# a dash or an underscore, a URL's query may percent-encode the dot, a page may entity-encode it.
_V4_SEP: Final = r"(?:\.|-|_|%2e|&\#46;|&\#x2e;)"
# Just after a percent escape ("%20", "%3D"): its two hex digits are not part of the address.
_AFTER_ESCAPE: Final = r"(?<=%[0-9a-f]{2})"
# Not glued to a longer number: 195.56.7.8, 1.95.56.7.8 and 95.56.7.88 are not 95.56.7.8.
_V4_BEFORE: Final = (rf"(?:{_AFTER_ESCAPE}|(?<![0-9]))(?<![0-9][._-])(?<![0-9]%2e)(?<![0-9]&\#46;)"
                     r"(?<![0-9]&\#x2e;)")
_V4_AFTER: Final = rf"(?![0-9])(?!{_V4_SEP}[0-9])"
_INTEGER_BEFORE: Final = rf"(?:{_AFTER_ESCAPE}|(?<![0-9]))(?<![0-9]\.)"
_INTEGER_AFTER: Final = r"(?![0-9])(?!\.[0-9])"
_HEX_BEFORE: Final = rf"(?:{_AFTER_ESCAPE}|(?<![0-9a-z]))"
_HEX_AFTER: Final = r"(?![0-9a-z])"
# A reversed-nibble name has exactly 32 one-digit labels.
_NIBBLES_BEFORE: Final = rf"(?:{_AFTER_ESCAPE}|(?<![0-9a-z]))(?<!\.[0-9a-f]\.)"
_NIBBLES_AFTER: Final = r"(?![0-9a-z])(?!\.[0-9a-f](?![0-9a-z-]))"

# Runs of characters an IPv6 spelling is made of, and its separators.
_IPV6_RUN: Final = re.compile(r"(?:[0-9a-f]|:|-|%3a|&\#58;|&\#x3a;)+", re.IGNORECASE)
_IPV6_SEPARATOR: Final = re.compile(r"%3a|&\#58;|&\#x3a;", re.IGNORECASE)

# Well-known IPv6 prefixes under which an IPv4 address appears: IPv4-mapped (RFC 4291) and
# NAT64 (RFC 6052).
V4_IN_V6_PREFIXES: Final = (0xFFFF << 32, 0x64FF9B << 96)

# Characters a spelling is made of; everything else is dropped before the literals are sought,
# and what stays is folded to one form: lower case, every separator a dot.
_SPELLING_CHARS: Final = b"0123456789abcdefABCDEFxX.:-_%&#;"
_FOLD: Final = bytes(range(256)).translate(bytes.maketrans(b"ABCDEFX-_:", b"abcdefx..."))
_DROP: Final = bytes(b for b in range(256) if b not in _SPELLING_CHARS)
_ENCODED_SEPARATORS: Final = (b"%2e", b"%3a", b"&#46;", b"&#x2e;", b"&#58;", b"&#x3a;")


def own_address(text: str) -> Address | None:
    """`text` as an address of this machine to scrub; None for junk, and for loopback and the
    like, which are never how others see this machine (and would match everywhere)."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified or address.is_loopback or int(address) >> 16 == 0:
        return None
    return address


def _groups(address: ipaddress.IPv6Address) -> list[int]:
    return [int.from_bytes(address.packed[i:i + 2], "big") for i in range(0, 16, 2)]


def _needles(address: Address) -> set[bytes]:
    """Literals of which every spelling of `address`, reduced, contains one. Few and long: each
    is one pass over the reduced text."""
    if isinstance(address, ipaddress.IPv4Address):
        value = int(address)
        octets = [str(o) for o in address.packed]
        # The hex integer begins with the hex of the first two numbers, which is also the
        # second-last group of the IPv4-mapped and NAT64 forms (after leading zeros, if any).
        found = {".".join(octets), ".".join(reversed(octets)), f"{value >> 16:x}", str(value)}
        return {n.encode() for n in found}
    groups = _groups(address)
    # A non-zero group is never compressed, and a separator follows it unless it is the last;
    # leading zeros only come before it. The longest, the one nearest the host part among equals.
    inner = [f"{g:x}." for g in reversed(groups[:-1]) if g]
    group = max(inner, key=len) if inner else f"{groups[-1]:x}"
    nibbles = ".".join(reversed(address.exploded.replace(":", "")))[:15]  # the first eight
    return {group.encode(), nibbles.encode()}


def _reduced(text: str) -> tuple[bytes, ...]:
    """`text` as the fast test reads it, its encoded separators as they are and as dots: a
    spelling in it is in one of the two. (Both: dropping characters may join "%2" to a letter
    that begins a spelling, which the decoding would then eat.)"""
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        encoded = text.encode("utf-8", "surrogatepass")
    folded = encoded.translate(_FOLD, _DROP)
    present = [s for s in _ENCODED_SEPARATORS if s in folded] if b"%" in folded or b"&" in folded else []
    if not present:
        return (folded,)
    decoded = folded
    for separator in present:
        decoded = decoded.replace(separator, b".")
    return folded, decoded


class Spellings:
    """Finds the spellings of a set of addresses in text."""

    def __init__(self, addresses: Iterable[Address]) -> None:
        own = sorted(set(addresses), key=lambda a: (a.version, int(a)))
        self.needles = tuple(needle for address in own for needle in sorted(_needles(address)))
        self.ipv6 = frozenset(
            [a for a in own if isinstance(a, ipaddress.IPv6Address)]
            + [ipaddress.IPv6Address(p | int(a)) for a in own if isinstance(a, ipaddress.IPv4Address)
               for p in V4_IN_V6_PREFIXES])
        self.pattern = _pattern(own) if own else None
        # A spelling is at least as long as the shortest needle; shorter runs are not looked at.
        shortest = min((len(n) for n in self.needles), default=1)
        self._runs = re.compile(rf"[0-9a-fA-FxX.:_%&#;-]{{{shortest},}}")

    def may_contain(self, text: str) -> bool:
        """False when `text` certainly holds no spelling (fast); True when it may."""
        if not self.needles or not text:
            return False
        return any(needle in reduced for reduced in _reduced(text) for needle in self.needles)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the spellings are, in order, not overlapping."""
        found: list[tuple[int, int]] = []
        if self.pattern is None:
            return found
        for run in self._runs.finditer(text):
            start, end = run.span()
            # A spelling lies inside one run; the search goes a little past it, so that the
            # checks after a spelling see what follows it.
            for match in self.pattern.finditer(text, start, min(len(text), end + 8)):
                if match.start() >= end:
                    break
                found.append(match.span())
            if self.ipv6:
                found += self._ipv6_spans(text, start, end)
        found.sort(key=lambda span: (span[0], -span[1]))
        kept: list[tuple[int, int]] = []
        for span in found:
            if not kept or span[0] >= kept[-1][1]:
                kept.append(span)
        return kept

    def _ipv6_spans(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        found = []
        for run in _IPV6_RUN.finditer(text, start, end):
            begin, finish = run.span()
            glued = begin > 0 and _in_word(text[begin - 1])
            if begin > 0 and text[begin - 1] == "%":
                begin, glued = begin + 2, False  # the two digits of an escape such as "%3D"
            if text.startswith(".", finish) and text[finish + 1:finish + 2].isdigit():
                continue  # an address with a dotted IPv4 tail, another one
            span = _ipv6_span(text, begin, finish, self.ipv6, glued)
            if span is not None:
                found.append(span)
        return found


def _in_word(character: str) -> bool:
    return character.isalnum() or character == "_"


def _ipv6_span(text: str, begin: int, finish: int, own: frozenset[ipaddress.IPv6Address],
               glued: bool) -> tuple[int, int] | None:
    """The part of the run text[begin:finish] that spells one of `own`, if any.

    The run whole, else less a colon of punctuation at either end ("IP 2a02::5: blocked"); if
    it is no address at all, a part between dashes (host names: "ip-2a02-1234--5-dsl"). A run
    that is another address is that address, not ours with something glued on."""
    chars: list[tuple[int, int, str]] = []  # each character, an encoded separator as one ":"
    position = begin
    for separator in [*_IPV6_SEPARATOR.finditer(text, begin, finish), None]:
        stop = separator.start() if separator else finish
        chars += [(i, i + 1, text[i].lower()) for i in range(position, stop)]
        if separator:
            chars.append((separator.start(), separator.end(), ":"))
            position = separator.end()
    # In a host name a dash also separates words: a part glued to a word beyond the run
    # ("-dsl" ends the run at "-d") is that word's, not a group.
    dashes = [i for i, (*_, c) in enumerate(chars) if c == "-"]
    if dashes and finish < len(text) and _in_word(text[finish]):
        chars = chars[:dashes[-1]]
    if dashes and glued:
        chars = chars[dashes[0] + 1:]
    if not chars:
        return None
    written = "".join(c for _, _, c in chars)
    if written.count(":") + written.count("-") < 2:
        return None
    colons = written.replace("-", ":")
    low = 1 if colons.startswith(":") and not colons.startswith("::") else 0
    high = len(colons) - 1 if colons.endswith(":") and not colons.endswith("::") else len(colons)
    for first, last in ((0, len(colons)), (low, high)):
        parsed = _ipv6(colons[first:last])
        if parsed is not None:
            return (chars[first][0], chars[last - 1][1]) if parsed in own else None
    cuts = [0] + [i + 1 for i, c in enumerate(written) if c == "-"]
    ends = [len(written)] + [i for i, c in reversed(list(enumerate(written))) if c == "-"]
    for first in cuts:
        for last in ends:
            if last > first and _ipv6(colons[first:last]) in own:
                return chars[first][0], chars[last - 1][1]
    return None


def _ipv6(text: str) -> ipaddress.IPv6Address | None:
    if text.count(":") < 2:
        return None
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def _pattern(addresses: list[Address]) -> re.Pattern[str]:
    """The IPv4, hex, decimal and nibble spellings: per kind, a cheap test of the first
    character, the checks before, every address's spellings of that kind, the checks after."""
    dotted, hexes, integers, nibbles = [], [], [], []
    for address in addresses:
        if isinstance(address, ipaddress.IPv4Address):
            value = int(address)
            octets = [str(o) for o in address.packed]
            dotted += [_V4_SEP.join(octets), _V4_SEP.join(reversed(octets))]
            hexes.append(f"(?:0x)?0*{value:x}")
            integers.append(f"0*{value}")
        else:
            nibbles.append(r"\.".join(reversed(address.exploded.replace(":", ""))))
    kinds = [
        ("[0-9]", _V4_BEFORE, dotted, _V4_AFTER),
        ("[0-9a-f]", _HEX_BEFORE, hexes, _HEX_AFTER),
        ("[0-9]", _INTEGER_BEFORE, integers, _INTEGER_AFTER),
        ("[0-9a-f]", _NIBBLES_BEFORE, nibbles, _NIBBLES_AFTER),
    ]
    return re.compile("|".join(f"(?={first}){before}(?:{'|'.join(sorted(cores, key=len, reverse=True))}){after}"
                               for first, before, cores, after in kinds if cores), re.IGNORECASE)
