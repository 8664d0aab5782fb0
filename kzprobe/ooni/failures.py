"""OONI's failure strings to kzprobe's: the same word where the meaning is the same, else kept.

kzprobe's failure vocabulary is closed (kzprobe/vocabulary.py). Most of OONI's strings
(data-formats/df-007-errors.md in ooni/spec) are the same words for the same errors and pass
through. A few differ only in spelling (legacy ooni-probe's "connection_refused_error"). The rest
have no kzprobe equivalent (android_dns_cache_no_data, dns_server_misbehaving, ...): they are
kept verbatim as "unknown_failure: <OONI's string>", so the explanation quotes what OONI
recorded and the analysis treats them as an unnamed failure of that step, never as a named one.
"""

from __future__ import annotations

from typing import Any, Final

from kzprobe.ooni.limits import MAX_TEXT_CHARS
from kzprobe.report import vocabulary as v

# OONI strings whose meaning is exactly one of kzprobe's.
_SAME: Final = {name: name for name in v.FAILURES}
_RENAMED: Final = {
    # ECONNABORTED: kzprobe's own probe records it as a reset (kzprobe/failures.py).
    "connection_aborted": v.CONNECTION_RESET,
    # Legacy ooni-probe (Python, until 2019) and Measurement Kit spellings.
    "connection_refused_error": v.CONNECTION_REFUSED,
    "tcp_timed_out_error": v.GENERIC_TIMEOUT,
    "deferred_timeout_error": v.GENERIC_TIMEOUT,
    "generic_timeout_error": v.GENERIC_TIMEOUT,
    # Web Connectivity 0.5 ends a chain of more than 10 redirects with this string.
    "unknown_failure: stopped after too many redirects": v.TOO_MANY_REDIRECTS,
}
# The test helper's own DNS strings (ooni/probe-cli internal/oohelperd/dns.go): NXDOMAIN is
# "dns_name_error"; "dns_server_failure" groups refused, misbehaving and temporary failures,
# which say nothing definite about the name, so it stays unnamed.
_TEST_HELPER_DNS: Final = {"dns_name_error": v.DNS_NXDOMAIN}


def kzprobe_failure(value: Any) -> str | None:
    """kzprobe's failure string for OONI's `value`: None for no failure (null, "", false)."""
    if value is None or value is False or value == "":
        return None
    if not isinstance(value, str):
        return f"{v.UNKNOWN_FAILURE_PREFIX}{type(value).__name__} where a failure string belongs"
    text = value[:MAX_TEXT_CHARS]
    known = _SAME.get(text) or _RENAMED.get(text)
    if known is not None:
        return known
    if text.startswith(v.UNKNOWN_FAILURE_PREFIX):
        return text
    return f"{v.UNKNOWN_FAILURE_PREFIX}{text}"


def test_helper_dns_failure(value: Any) -> str | None:
    """kzprobe's failure string for the test helper's DNS failure."""
    if isinstance(value, str) and value in _TEST_HELPER_DNS:
        return _TEST_HELPER_DNS[value]
    return kzprobe_failure(value)
