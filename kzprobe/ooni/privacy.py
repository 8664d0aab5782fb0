"""Keep the probe's own address out of imported reports, and every string writable as UTF-8.

OONI's published measurements say "127.0.0.1" for probe_ip, but a measurement straight from
someone's OONI Probe may carry the real one, and a blockpage or an error string may echo it.
kzprobe never writes a probe's address (docs/report-format.md): when probe_ip is a public
address, every string copied from the measurement has it replaced, as kzprobe's own probe does
(kzprobe/scrub.py), "ip:port" forms included. JSON may also hold lone surrogates ("\\ud800"), which no UTF-8 file can:
they become U+FFFD.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any

from kzprobe.report.scrub import SCRUBBED


def _pattern(address: str) -> re.Pattern[str]:
    """`address` wherever it stands alone, "ip:port" included (an error string's "dial tcp
    1.2.3.4:51234->..."); not inside a longer address."""
    if ":" in address:  # IPv6: not next to other hex digits or colons
        return re.compile(r"(?<![0-9A-Fa-f:])" + re.escape(address) + r"(?![0-9A-Fa-f:])", re.IGNORECASE)
    return re.compile(r"(?<![0-9.])" + re.escape(address) + r"(?![0-9]|\.[0-9])")


def _public(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    return _public_text(value)


@functools.lru_cache(maxsize=1024)
def _public_text(value: str) -> str | None:
    # Cached: published data says 127.0.0.1 in every measurement, a probe's own files its one address.
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    return str(address) if address.is_global else None


def _writable(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")


class Cleaner:
    """Applies both rules to a converted result, in place; `surrogates`: the measurement's text
    escaped one (source.Measurement), else strings are already writable."""

    def __init__(self, probe_ip: Any, surrogates: bool = True) -> None:
        address = _public(probe_ip)
        self._address = address
        self._pattern = _pattern(address) if address else None
        self.needed = surrogates or address is not None

    def _text(self, text: str) -> str:
        text = _writable(text)
        if self._pattern is not None and self._address and self._address in text:
            text = self._pattern.sub(SCRUBBED, text)
        return text

    def clean(self, value: Any) -> Any:
        if not self.needed:
            return value
        return self._clean(value)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, (str, dict, list)):
                    value[key] = self._clean(item)
            return value
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, (str, dict, list)):
                    value[index] = self._clean(item)
            return value
        return value
