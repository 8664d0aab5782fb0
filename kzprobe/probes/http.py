"""HTTP probe: GET a URL through the target session, following redirects one hop at a time."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urljoin, urlsplit

import httpx

from kzprobe.probes import limits
from kzprobe.probes.body import read_body
from kzprobe.probes.failures import failure_from_exception
from kzprobe.probes.turns import current_ticket
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import HttpObservation, HttpTimings, Observations, elapsed_ms

# What a browser sends, so that a censor filtering "non-browser" clients treats us as one.
REQUEST_HEADERS = {
    "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "ru-KZ,ru;q=0.9,kk;q=0.8,en;q=0.7",
    "Accept-Encoding": "gzip, deflate",
}

REDIRECT_STATUSES = {301, 302, 303, 307, 308}


def recorded_headers(headers: httpx.Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.multi_items():
        if len(out) >= limits.MAX_RECORDED_HEADERS:
            break
        key = name.lower()
        value = value[: limits.MAX_HEADER_VALUE_CHARS]
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def body_time_budget(timeout: float) -> float:
    """How long a whole body may take: until shortly before the target's deadline (each wait for
    data is bounded by `timeout` on its own), or BODY_READ_TIMEOUTS x `timeout` without one."""
    ticket = current_ticket()
    when = ticket.deadline.when() if ticket is not None and ticket.deadline is not None else None
    if when is None:
        return limits.BODY_READ_TIMEOUTS * timeout
    left = when - asyncio.get_running_loop().time() - limits.BODY_DEADLINE_MARGIN_S
    return max(left, limits.BODY_DEADLINE_MARGIN_S)


def _hop_timings(observations: Observations, tcp_before: int, tls_before: int, dns_ms: float | None,
                 first_byte_ms: float | None, total_ms: float) -> HttpTimings:
    # Not the extra connections a failure calls for (a "purpose": the neutral-name retry).
    new_tcp = [t for t in observations.get("tcp", [])[tcp_before:] if t["failure"] is None and "purpose" not in t]
    new_tls = [t for t in observations.get("tls", [])[tls_before:] if t["failure"] is None and "purpose" not in t]
    return HttpTimings(
        dns_ms=dns_ms,
        connect_ms=new_tcp[-1]["duration_ms"] if new_tcp else None,
        tls_ms=new_tls[-1]["duration_ms"] if new_tls else None,
        first_byte_ms=first_byte_ms,
        total_ms=total_ms,
    )


async def fetch_one(client: httpx.AsyncClient, url: str, observations: Observations,
                    timeout: float) -> HttpObservation:
    start = time.monotonic()
    tcp_before = len(observations.get("tcp", []))
    tls_before = len(observations.get("tls", []))
    dns_before = len(observations.get("redirect_dns", []))
    hop = HttpObservation(url=url, method="GET", address=None, port=urlsplit(url).port or
                          (443 if url.startswith("https:") else 80), status=None, headers={},
                          location=None, body_length=None, body_sha256=None, body_truncated=False,
                          body="", title=None, body_read_ms=None, failure=None,
                          timings=HttpTimings(dns_ms=None, connect_ms=None, tls_ms=None,
                                              first_byte_ms=None, total_ms=0.0))
    first_byte_ms = None
    try:
        request = client.build_request("GET", url, headers=REQUEST_HEADERS)
        response = await client.send(request, stream=True)
        first_byte_ms = elapsed_ms(start)
        try:
            stream = response.extensions.get("network_stream")
            hop["address"] = getattr(stream, "address", None)
            hop["status"] = response.status_code
            hop["headers"] = recorded_headers(response.headers)
            location = response.headers.get("location")
            if location is not None and response.status_code in REDIRECT_STATUSES:
                hop["location"] = urljoin(url, location.strip())
            body = await read_body(response.aiter_raw(), response.headers.get("content-encoding", ""),
                                   response.headers.get("content-type", ""), body_time_budget(timeout))
        finally:
            await response.aclose()
        hop.update({"body_length": body.length, "body_sha256": body.sha256, "body_truncated": body.truncated,
                    "body": body.text, "title": body.title, "body_read_ms": body.read_ms, "failure": body.failure})
        if body.stopped is not None:
            hop["body_stopped"] = body.stopped
    except Exception as exc:
        hop["failure"] = failure_from_exception(exc)
    new_dns = observations.get("redirect_dns", [])[dns_before:]
    hop["timings"] = _hop_timings(observations, tcp_before, tls_before,
                                  new_dns[-1]["duration_ms"] if new_dns else None,
                                  first_byte_ms, elapsed_ms(start))
    return hop


# Failures of a request on a reused connection that mean "closed under us", not "refused".
_KEEP_ALIVE_RACE_FAILURES = {v.EOF_ERROR, v.CONNECTION_RESET}


def _lost_a_kept_alive_race(hop: HttpObservation, observations: Observations, connections_before: int) -> bool:
    """The request failed before any response byte on a connection an earlier hop had used."""
    reused = len(observations.get("tcp", [])) == connections_before
    return reused and hop["status"] is None and hop["failure"] in _KEEP_ALIVE_RACE_FAILURES


async def fetch_chain(client: httpx.AsyncClient, url: str, observations: Observations, timeout: float) -> None:
    """Append one HttpObservation per hop to observations["http"], at most MAX_REDIRECTS redirects."""
    hops = observations.setdefault("http", [])
    seen: set[str] = set()
    for _ in range(limits.MAX_REDIRECTS + 1):
        seen.add(url)
        connections_before = len(observations.get("tcp", []))
        hop = await fetch_one(client, url, observations, timeout)
        if hops and _lost_a_kept_alive_race(hop, observations, connections_before):
            # The server closed the idle connection as our request went out (RFC 9112 §9.3.1):
            # nothing was answered, so the GET is sent once more, on a new connection.
            first_failure = hop["failure"]
            assert first_failure is not None  # a lost race is one of _KEEP_ALIVE_RACE_FAILURES
            hop = await fetch_one(client, url, observations, timeout)
            hop["retried_after"] = first_failure
        hops.append(hop)
        following = hop["location"]
        if hop["failure"] or not following or urlsplit(following).scheme not in ("http", "https"):
            return
        if following in seen:  # a loop would only repeat itself until the cap
            hop["failure"] = v.TOO_MANY_REDIRECTS
            return
        url = following
    hops[-1]["failure"] = v.TOO_MANY_REDIRECTS
