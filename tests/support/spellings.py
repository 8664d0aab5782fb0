"""Ways pages, URLs and host names write an address, built here independently of kzprobe's
scrubber so that tests can check it (tests/report/test_scrub.py) and grep what the CLI wrote for any
of them (tests/lab/test_scrub_nat.py).

Every spelling is returned in lower case; a page may write it in any case.
"""

from __future__ import annotations

import functools
import ipaddress
import random

V4_SEPARATORS = (".", "-", "_", "%2e", "&#46;", "&#x2e;")
V6_SEPARATORS = (":", "-", "%3a", "&#58;", "&#x3a;")


def _groups(address: ipaddress.IPv6Address) -> list[int]:
    return [int(address.exploded[i:i + 4], 16) for i in range(0, 39, 5)]


def ipv6_forms(address: ipaddress.IPv6Address) -> list[str]:
    """Colon forms: every run of zero groups compressed or not, groups padded or not."""
    groups = _groups(address)
    forms = set()
    for padded in (False, True):
        written = [f"{g:04x}" if padded else f"{g:x}" for g in groups]
        forms.add(":".join(written))
        for start in range(8):
            for end in range(start + 1, 9):
                if not any(groups[start:end]) and end - start < 8:
                    forms.add(":".join(written[:start]) + "::" + ":".join(written[end:]))
    return sorted(forms)


def nibbles(address: ipaddress.IPv6Address) -> str:
    return ".".join(reversed(address.exploded.replace(":", "")))


@functools.lru_cache(maxsize=64)
def spellings(text: str) -> list[str]:
    """Every spelling of an address this module knows, each with every separator."""
    address = ipaddress.ip_address(text)
    found: list[str] = []
    if isinstance(address, ipaddress.IPv4Address):
        octets = [str(o) for o in address.packed]
        for sep in V4_SEPARATORS:
            found += [sep.join(octets), sep.join(reversed(octets))]
        value = int(address)
        found += [f"{value:x}", f"0x{value:x}", f"{value:08x}", str(value)]
        for prefix in ("::ffff:", "64:ff9b::"):
            mapped = ipaddress.IPv6Address(prefix + text)
            found += [form for sep in V6_SEPARATORS for form in (f.replace(":", sep) for f in ipv6_forms(mapped))]
    else:
        found += [form.replace(":", sep) for sep in V6_SEPARATORS for form in ipv6_forms(address)]
        found.append(nibbles(address))
    return sorted(set(found), key=lambda s: (-len(s), s))


def random_case(rng: random.Random, text: str) -> str:
    choice = rng.random()
    if choice < 0.4:
        return text
    if choice < 0.7:
        return text.upper()
    return "".join(c.upper() if rng.random() < 0.5 else c for c in text)


def random_spelling(rng: random.Random, text: str) -> str:
    """One spelling of the address, in a random letter case."""
    return random_case(rng, rng.choice(spellings(text)))


@functools.lru_cache(maxsize=64)
def neighbours(text: str) -> list[str]:
    """Addresses that are not `text` but whose spellings come close to its: one more digit at
    either end, the last number or group one off, one more group."""
    address = ipaddress.ip_address(text)
    found = []
    if isinstance(address, ipaddress.IPv4Address):
        first, second, third, last = address.packed
        if first * 10 + 1 <= 255:
            found.append(f"{first * 10 + 1}.{second}.{third}.{last}")
        if first < 100:
            found.append(f"1{first}.{second}.{third}.{last}")
        if last * 10 + 8 <= 255:
            found.append(f"{first}.{second}.{third}.{last * 10 + 8}")
        found.append(f"{first}.{second}.{third}.{(last + 1) % 256}")
        found.append(f"{first}.{second}.{(third + 1) % 256}.{last}")
    else:
        groups = _groups(address)
        found.append(str(ipaddress.IPv6Address(int(address) ^ 1)))
        if groups[-1] < 0x1000:
            found.append(str(ipaddress.IPv6Address(int(address) + groups[-1] * 15 + 5)))  # ::5 -> ::55
        if 0 in groups[:-1]:  # ::5 -> ::5:1, written with ours at its start
            index = groups.index(0)
            longer = groups[:index] + groups[index + 1:] + [1]
            found.append(str(ipaddress.IPv6Address(":".join(f"{g:x}" for g in longer))))
    return [n for n in found if n != str(address)]
