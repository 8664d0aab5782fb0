"""Read a response body within caps: wire bytes, decoded bytes and time, whatever the server does.

A censor's middlebox or a hostile site may send a decompression bomb, an endless body or one
byte a second; each read here ends at a cap and records that it did. Time is bounded twice:
each wait for data by the client's read timeout (--timeout: no data that long while the
connection stays open is a freeze, "idle"), and the whole body by `time_budget` (what the
target's deadline leaves: a page still flowing when it runs out is cut, "time_budget") - a
backend that renders slowly but keeps sending is not a timeout.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import html
import re
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from kzprobe.probes import limits
from kzprobe.report import vocabulary as v
from kzprobe.report.observations import elapsed_ms
from kzprobe.text import clean_text

# Decompressed output produced per step, so that one small compressed chunk cannot expand into
# a large allocation at once.
_DECODE_STEP_BYTES = 256 * 1024

_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_CHARSET_RE = re.compile(r"charset=[\"']?([A-Za-z0-9_.:-]{1,40})", re.IGNORECASE)
# Bytes of a page lowered first when looking for its title, which is near the top: lowering all
# 64 KiB of a recorded body costs more than the rest of reading the title.
_TITLE_LOOK_BYTES = 4096


class _Decoder:
    """Incremental, bounded content decoding (gzip, deflate, identity)."""

    def __init__(self, content_encoding: str) -> None:
        self._steps: list = []
        for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
            if coding in ("gzip", "x-gzip"):
                self._steps.append(zlib.decompressobj(16 + zlib.MAX_WBITS))
            elif coding == "deflate":
                self._steps.append("deflate")
            # identity, and codings we never asked for (br, zstd), pass through undecoded

    def decode(self, data: bytes, budget: int) -> bytes:
        out = data
        for index, step in enumerate(self._steps):
            if step == "deflate":  # zlib-wrapped or raw: decided on the first bytes
                raw = not out[:1] or (out[0] & 0x0F) != 8
                step = self._steps[index] = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
            pieces: list[bytes] = []
            produced = 0
            chunk = step.decompress(out, _DECODE_STEP_BYTES)
            while True:
                pieces.append(chunk)
                produced += len(chunk)
                if produced > budget or not step.unconsumed_tail:
                    break
                chunk = step.decompress(step.unconsumed_tail, _DECODE_STEP_BYTES)
            out = b"".join(pieces)
        return out


@dataclass
class BodyRecord:
    length: int
    sha256: str
    truncated: bool
    text: str
    title: str | None
    read_ms: float
    failure: str | None
    stopped: str | None = None  # "idle" | "time_budget" when time ended the read, else None


def charset_of(content_type: str, head: bytes) -> str:
    match = _CHARSET_RE.search(content_type or "")
    name = match.group(1) if match else None
    if not name:
        meta = _META_CHARSET_RE.search(head[:4096])
        name = meta.group(1).decode("ascii") if meta else "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def title_of(head: bytes, charset: str) -> str | None:
    """The first <title>'s text. Three finds on the case-folded head: linear, however many
    "<title" a hostile page repeats (a backtracking regex would rescan to the end from each).
    The head's first bytes are folded and searched first: what all three finds meet there is
    what they meet in the whole head."""
    found = _title_span(head[:_TITLE_LOOK_BYTES].lower())
    if found is None and len(head) > _TITLE_LOOK_BYTES:
        found = _title_span(head.lower())
    if found is None:
        return None
    opened, end = found
    title = clean_text(html.unescape(head[opened + 1:end].decode(charset, errors="replace")))
    return title[: limits.MAX_TITLE_CHARS]


def _title_span(folded: bytes) -> tuple[int, int] | None:
    """Where the first <title>'s text starts and ends in the case-folded bytes, if it does."""
    start = folded.find(b"<title")
    if start < 0:
        return None
    opened = folded.find(b">", start)
    if opened < 0:
        return None
    end = folded.find(b"</title", opened + 1)
    return (opened, end) if end >= 0 else None


async def read_body(
    chunks: AsyncIterator[bytes], content_encoding: str, content_type: str, time_budget: float
) -> BodyRecord:
    """Consume a raw (still encoded) body stream within the caps of probes/limits.py; each wait for
    a chunk is the stream's own (httpx's read timeout), the whole read at most `time_budget`."""
    start = time.monotonic()
    decoder = _Decoder(content_encoding)
    digest = hashlib.sha256()
    head = bytearray()
    wire = decoded = 0
    truncated = False
    failure: str | None = None
    stopped: str | None = None
    try:
        async with asyncio.timeout(time_budget):
            async for chunk in chunks:
                wire += len(chunk)
                try:
                    data = decoder.decode(chunk, limits.MAX_BODY_DECODED_BYTES - decoded)
                except zlib.error:
                    failure = v.HTTP_PROTOCOL_ERROR  # corrupt compressed body
                    break
                room = limits.MAX_BODY_DECODED_BYTES - decoded
                if len(data) > room:
                    data = data[:room]
                    truncated = True
                digest.update(data)
                decoded += len(data)
                if len(head) < limits.RECORDED_BODY_BYTES:
                    head += data[: limits.RECORDED_BODY_BYTES - len(head)]
                if truncated or wire > limits.MAX_BODY_WIRE_BYTES:
                    truncated, failure = True, v.BODY_TOO_LARGE
                    break
    except TimeoutError:
        truncated, failure, stopped = True, v.GENERIC_TIMEOUT, "time_budget"
    except Exception as exc:
        from kzprobe.probes.failures import failure_from_exception  # httpx, dnspython: not for charset_of's users

        truncated, failure = True, failure_from_exception(exc)
        if failure == v.GENERIC_TIMEOUT:
            stopped = "idle"  # the stream's own wait for the next chunk timed out
    charset = charset_of(content_type, bytes(head))
    return BodyRecord(
        length=decoded,
        sha256=digest.hexdigest(),
        truncated=truncated,
        text=bytes(head).decode(charset, errors="replace"),
        title=title_of(bytes(head), charset),
        read_ms=elapsed_ms(start),
        failure=failure,
        stopped=stopped,
    )
