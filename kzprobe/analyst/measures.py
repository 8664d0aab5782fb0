"""Key figures of one result, read defensively from its observations.

Analysts want a flat row per target per scan (DNS, connect and handshake times, HTTP status,
throughput) without walking the observation tree. The tree comes from someone else's file, so
every value is type-checked here: a wrong type reads as "not measured", never as a crash.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kzprobe.report import fields
from kzprobe.report import vocabulary as v
from kzprobe.report.fields import mapping as an_object  # noqa: F401  (service_rows and reading read objects with it)
from kzprobe.report.fields import number, objects

# Failures of IPv6 connects that mean "this vantage has no IPv6", not interference (team brief).
NO_IPV6_FAILURES = frozenset({v.NETWORK_UNREACHABLE, v.HOST_UNREACHABLE})
# Text fields copied into rows are cut here: a hostile report cannot make one row megabytes.
MAX_FIELD_CHARS = 300
# The range of a 64-bit integer: export's Parquet columns and the store's hold counts in it.
MIN_INT64, MAX_INT64 = -(2**63), 2**63 - 1


class Measures(NamedTuple):
    """What `kzprobe export` puts in a row besides the verdict; None where not measured.

    (Named tuples: built and sent between processes several times faster than dataclasses.)
    """

    dns_ms: float | None = None
    dns_failure: str | None = None
    dns_addresses: int | None = None
    tcp_connect_ms: float | None = None
    tcp_failure: str | None = None
    tls_handshake_ms: float | None = None
    tls_failure: str | None = None
    tls_version: str | None = None
    http_status: int | None = None
    http_hops: int | None = None
    http_first_byte_ms: float | None = None
    http_total_ms: float | None = None
    http_failure: str | None = None
    http_title: str | None = None
    download_kbps: float | None = None
    download_bytes: int | None = None
    download_stall_ms: float | None = None
    download_failure: str | None = None


def integer(value: Any) -> int | None:
    """A JSON integer that a 64-bit column holds (export's Parquet, the store's columns);
    None for anything else, and for a larger number, which no count or status is."""
    if isinstance(value, int) and not isinstance(value, bool) and MIN_INT64 <= value <= MAX_INT64:
        return value
    return None


def text(value: Any) -> str | None:
    """A text field as a row shows it: cut to MAX_FIELD_CHARS."""
    return value[:MAX_FIELD_CHARS] if isinstance(value, str) else None


def is_ipv6(address: str | None) -> bool:
    return address is not None and ":" in address


def measures_of(observations: Any) -> Measures:
    """The key timings and throughput of one web target's observations.

    Run for every result of every report a store ingests or export reads (a tenth of the
    reading's time): written with plain loops and tests, the same answers as fields' readers."""
    if not isinstance(observations, dict):
        return _NOT_MEASURED
    get = observations.get
    dns = get("dns")
    if not isinstance(dns, dict):
        dns = _EMPTY
    addresses = dns.get("addresses")
    # The target's own connections: those with a "purpose" were made after a failure (a neutral
    # server name, the control resolver's address) and are not its timings.
    own_tcp = _own(get("tcp"))
    own_tls = _own(get("tls"))
    connect = handshake = None
    for item in own_tcp:
        if item.get("failure") is None:
            connect = item
            break
    for item in own_tls:
        if item.get("failure") is None:
            handshake = item
            break
    hops = objects(get("http"))
    first_hop: dict[str, Any] = hops[0] if hops else _EMPTY
    last_hop: dict[str, Any] = hops[-1] if hops else _EMPTY
    first_timings = first_hop.get("timings")
    measured: list[float] = []
    http_failure, failed_hop = None, False  # the first hop that failed says (its text, if text)
    for hop in hops:
        timings = hop.get("timings")
        if isinstance(timings, dict):
            total = number(timings.get("total_ms"))
            if total is not None:
                measured.append(total)
        if not failed_hop and hop.get("failure"):
            http_failure, failed_hop = text(hop["failure"]), True
    download = get("download")
    if not isinstance(download, dict):
        download = _EMPTY
    return Measures(
        number(dns.get("duration_ms")),
        text(dns.get("failure")),
        len(addresses) if isinstance(addresses, list) else None,
        number(connect.get("duration_ms")) if connect else None,
        None if connect else first_failure(own_tcp),
        number(handshake.get("duration_ms")) if handshake else None,
        None if handshake else first_failure(own_tls),
        text(handshake.get("version")) if handshake else None,
        integer(last_hop.get("status")),
        len(hops) if "http" in observations else None,
        number(first_timings.get("first_byte_ms")) if isinstance(first_timings, dict) else None,
        round(sum(measured), 1) if measured else None,
        http_failure,
        text(last_hop.get("title")),
        number(download.get("kilobytes_per_second")),
        integer(download.get("bytes")),
        number(download.get("longest_stall_ms")),
        text(download.get("failure")),
    )


_EMPTY: dict[str, Any] = {}
_NOT_MEASURED = Measures()


def _own(attempts: Any) -> list[dict[str, Any]]:
    """The attempts (objects, as fields.objects reads them) made for the target itself, not
    those with a "purpose"."""
    if isinstance(attempts, dict):
        return [] if "purpose" in attempts else [attempts]
    if not isinstance(attempts, list):
        return []
    return [item for item in attempts[:fields.MAX_ITEMS] if isinstance(item, dict) and "purpose" not in item]


def first_failure(attempts: Any) -> str | None:
    """The failure that tells: the first one that is not an IPv6 "no route" (unless only those)."""
    recorded = [(item.get("failure"), text(item.get("address"))) for item in objects(attempts)]
    failures: list[tuple[str, str | None]] = [(f, address) for f, address in recorded if isinstance(f, str)]
    telling = [f for f, address in failures if not (is_ipv6(address) and f in NO_IPV6_FAILURES)]
    chosen = telling or [f for f, _ in failures]
    return chosen[0][:MAX_FIELD_CHARS] if chosen else None
