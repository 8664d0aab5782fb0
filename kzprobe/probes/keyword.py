"""The keyword test: a word in the URL path, the Host header and the TLS server name.

Kazakh courts have ordered blocking "any URL containing" a word (the Guljan case, Freedom House,
Freedom on the Net 2013); a filter of that kind hits a request wherever the word appears, on any
site. So the word is sent to one of the scan's own reachable baselines, at that baseline's own
address (nothing is resolved for the made-up names), each time beside a request that differs
only by a neutral word of the same length (targets/keywords.py). Neutral requests go first and
together, then the keyword ones together: a censor that keeps blocking an address for a while
after a hit (residual blocking) cannot spoil the neutral twins. A keyword request that failed
after its connection was made, or got another status than its twin, is made once more
(`again`): a filter catches the word every time, a server that dropped one request by chance
answers the next (the same reason as the SNI split's second try). This module records; the
verdict is analysis/keyword_rules.py's.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from urllib.parse import quote

from kzprobe.probes import limits
from kzprobe.probes.connection import Connector, close_quietly
from kzprobe.probes.failures import failure_from_exception
from kzprobe.probes.http import REQUEST_HEADERS
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import KeywordObservation, Observations, elapsed_ms
from kzprobe.targets.keywords import host_label, neutral_word

_HTTP_PORT = 80
_HTTPS_PORT = 443


@dataclass(frozen=True)
class KeywordBase:
    """A baseline that answered in this scan, and the address it answered from."""

    target_id: str
    hostname: str
    address: str
    port: int | None = None  # where it answered; None: the placement's default (80, or 443 for TLS)


def _blank(placement: str, neutral: bool, word: str, base: KeywordBase, hostname: str, port: int,
           path: str) -> KeywordObservation:
    return KeywordObservation(placement=placement, neutral=neutral, word=word, baseline=base.target_id,
                              hostname=hostname, address=base.address, port=port, path=path, failure=None,
                              step=None, status=None, location=None, body_length=None, body_sha256=None,
                              handshake_completed=False, duration_ms=0.0)


def _request_bytes(host: str, path: str) -> bytes:
    headers = {"Host": host, "User-Agent": REQUEST_HEADERS["User-Agent"], "Accept": REQUEST_HEADERS["Accept"],
               "Accept-Language": REQUEST_HEADERS["Accept-Language"], "Connection": "close"}
    lines = [f"GET {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _failed(observation: KeywordObservation, failure: str | None, step: str) -> None:
    observation["failure"], observation["step"] = failure, step


def _read_answer(data: bytes, observation: KeywordObservation) -> None:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        _failed(observation, v.HTTP_PROTOCOL_ERROR, "http")
        return
    observation["status"] = int(parts[1])
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "location":
            observation["location"] = value.strip()[: limits.MAX_HEADER_VALUE_CHARS]
    observation["body_length"] = len(body)
    observation["body_sha256"] = hashlib.sha256(body).hexdigest()


async def _http(connector: Connector, observation: KeywordObservation) -> KeywordObservation:
    """GET `path` with `Host: hostname` over plaintext HTTP; the answer read up to a cap."""
    start = time.monotonic()
    tcp, stream = await connector.tcp_connect(observation["hostname"], observation["address"], observation["port"])
    if stream is None:
        _failed(observation, tcp["failure"], "tcp")
        observation["duration_ms"] = elapsed_ms(start)
        return observation
    data = b""
    try:
        await stream.write(_request_bytes(observation["hostname"], observation["path"]), timeout=connector.timeout)
        while len(data) < limits.KEYWORD_READ_BYTES:
            chunk = await stream.read(limits.KEYWORD_READ_BYTES - len(data), timeout=connector.timeout)
            if not chunk:
                break
            data += chunk
    except Exception as exc:
        if not data:  # an answer cut short after it started is still an answer
            _failed(observation, failure_from_exception(exc), "http")
    finally:
        await close_quietly(stream)
    if observation["failure"] is None:
        if data:
            _read_answer(data, observation)
        else:  # closed without a byte: the censor's FIN
            _failed(observation, v.EOF_ERROR, "http")
    observation["duration_ms"] = elapsed_ms(start)
    return observation


async def _handshake(connector: Connector, observation: KeywordObservation) -> KeywordObservation:
    """A TLS handshake naming `hostname`, unverified: whether it completes is the question."""
    start = time.monotonic()
    tcp, stream = await connector.tcp_connect(observation["hostname"], observation["address"], observation["port"])
    if stream is None:
        _failed(observation, tcp["failure"], "tcp")
        observation["duration_ms"] = elapsed_ms(start)
        return observation
    try:
        tls_stream = await stream.start_tls(connector.capturing, server_hostname=observation["hostname"],
                                            timeout=connector.timeout)
    except Exception as exc:
        await close_quietly(stream)
        _failed(observation, failure_from_exception(exc), "tls")
    else:
        observation["handshake_completed"] = True
        await close_quietly(tls_stream)
    observation["duration_ms"] = elapsed_ms(start)
    return observation


def planned(word: str, plain: KeywordBase | None, tls: KeywordBase | None) -> list[KeywordObservation]:
    """The requests and handshakes to make, neutral twins first: for each placement the base
    allows, the neutral one then the keyword one (filled in by measure_keyword)."""
    label, neutral = host_label(word), neutral_word(word)
    segment = quote(word.lower(), safe="")
    path_neutral = neutral_word(word, len(segment))
    pairs: list[tuple[str, bool, str, KeywordBase, str, int, str]] = []
    for is_neutral in (True, False):
        if plain is not None:
            sent = path_neutral if is_neutral else segment
            port = plain.port or _HTTP_PORT
            pairs.append((v.KEYWORD_PATH, is_neutral, sent, plain, plain.hostname, port, f"/{sent}"))
            sent = neutral if is_neutral else label
            pairs.append((v.KEYWORD_HOST, is_neutral, sent, plain, f"{sent}.{plain.hostname}", port, "/"))
        if tls is not None:
            sent = neutral if is_neutral else label
            pairs.append((v.KEYWORD_SNI, is_neutral, sent, tls, f"{sent}.{tls.hostname}", tls.port or _HTTPS_PORT, ""))
    return [_blank(*pair) for pair in pairs]


def _answered(observation: KeywordObservation) -> bool:
    if observation["placement"] == v.KEYWORD_SNI:
        return observation["handshake_completed"] and observation["failure"] is None
    return observation["failure"] is None and observation["status"] is not None


def looks_caught(keyword: KeywordObservation, twin: KeywordObservation) -> bool:
    """The twin was answered and the word's request was not, after its connection was made, or got
    another status: worth one more try (the analysis decides what it means)."""
    if not _answered(twin):
        return False
    if not _answered(keyword):
        return keyword["step"] != "tcp"
    return keyword["placement"] != v.KEYWORD_SNI and keyword["status"] != twin["status"]


def _again(observation: KeywordObservation) -> KeywordObservation:
    """A fresh observation of the same request, marked as its second try."""
    fresh = _blank(observation["placement"], False, observation["word"],
                   KeywordBase(observation["baseline"], "", observation["address"]), observation["hostname"],
                   observation["port"], observation["path"])
    fresh["again"] = True
    return fresh


def _send(connector: Connector, observation: KeywordObservation) -> Awaitable[KeywordObservation]:
    return _handshake(connector, observation) if observation["placement"] == v.KEYWORD_SNI \
        else _http(connector, observation)


async def measure_keyword(connector: Connector, word: str, plain: KeywordBase | None, tls: KeywordBase | None,
                          observations: Observations) -> None:
    """Every request and handshake of the keyword test, appended to observations["keyword"]:
    the path and Host placements on `plain` (port 80), the server name on `tls` (port 443), and
    a second try of each keyword request that looked caught."""
    plan = planned(word, plain, tls)
    recorded = observations.setdefault("keyword", [])
    for is_neutral in (True, False):
        batch = [o for o in plan if o["neutral"] is is_neutral]
        recorded.extend(await asyncio.gather(*(_send(connector, o) for o in batch)))
    twins = {o["placement"]: o for o in plan if o["neutral"]}
    again = [_again(o) for o in plan if not o["neutral"] and looks_caught(o, twins[o["placement"]])]
    if again:
        recorded.extend(await asyncio.gather(*(_send(connector, o) for o in again)))
