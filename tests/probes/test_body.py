"""The bounded body reader: caps on wire bytes, decoded bytes and time; safe titles."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest

from kzprobe.probes import limits
from kzprobe.probes.body import read_body, title_of
from kzprobe.report import vocabulary as v


async def chunks_of(data: bytes, size: int = 16384, delay: float = 0.0):
    for i in range(0, len(data), size):
        if delay:
            await asyncio.sleep(delay)
        yield data[i:i + size]


def read(data: bytes, encoding: str = "", content_type: str = "text/html", budget: float = 5.0, **kw):
    return asyncio.run(read_body(chunks_of(data, **kw), encoding, content_type, budget))


def test_gzip_bomb_stops_at_the_decoded_cap():
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # ~64 KB on the wire
    body = read(bomb, "gzip")
    assert body.failure == v.BODY_TOO_LARGE and body.truncated
    assert body.length == limits.MAX_BODY_DECODED_BYTES


def test_endless_wire_body_stops_at_the_wire_cap():
    body = read(b"a" * (limits.MAX_BODY_WIRE_BYTES + 100_000), "identity")
    assert body.failure == v.BODY_TOO_LARGE and body.truncated
    assert body.length <= limits.MAX_BODY_WIRE_BYTES + 16384


def test_dripping_body_stops_at_the_time_budget():
    body = read(b"x" * 50, size=1, delay=0.05, budget=0.3)
    assert body.failure == v.GENERIC_TIMEOUT and body.truncated
    assert 0 < body.length < 50


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
    ("", lambda b: b),
    ("br", lambda b: b),  # never asked for: kept as received
])
def test_content_encodings_decode_to_the_page(encoding, encode):
    page = b"<html><head><title>Orda.kz</title></head></html>"
    body = read(encode(page), encoding)
    assert body.failure is None and not body.truncated
    if encoding != "br":
        assert body.title == "Orda.kz" and body.length == len(page)


def test_title_from_the_network_loses_escape_sequences_and_bidi_tricks():
    page = "<title>\x1b[2J\x1b[31mBlocked\u202e by [bold]order[/bold]\n\n</title>".encode()
    body = read(page)
    # Escape sequences go whole, parameters included (kzprobe/text.py): earlier versions left
    # "[2J[31m" in recorded titles.
    assert body.title == "Blocked by [bold]order[/bold]"
    assert "\x1b" not in body.title and "\u202e" not in body.title


@pytest.mark.parametrize("content_type, page, title", [
    ("text/html; charset=windows-1251", "<title>Доступ ограничен</title>".encode("cp1251"), "Доступ ограничен"),
    ("text/html", b'<meta charset="koi8-r"><title>' + "Блок".encode("koi8-r") + b"</title>", "Блок"),
    ("text/html; charset=no-such-charset", "<title>Ок</title>".encode(), "Ок"),
    ("text/html", b"<title>a &amp; b</title>", "a & b"),
])
def test_charset_and_entities(content_type, page, title):
    assert read(page, content_type=content_type).title == title


def test_only_the_first_64_kib_are_kept_but_all_bytes_are_hashed():
    data = b"<title>big</title>" + b"y" * 200_000
    body = read(data)
    assert body.length == len(data) and len(body.text) == limits.RECORDED_BODY_BYTES
    import hashlib
    assert body.sha256 == hashlib.sha256(data).hexdigest()


def test_corrupt_gzip_is_a_protocol_error():
    body = read(b"\x1f\x8b\x08\x00garbage-garbage-garbage", "gzip")
    assert body.failure == v.HTTP_PROTOCOL_ERROR


class _ScannedBytes(bytes):
    """Bytes that count what `find` scans (title_of reads the head with three finds)."""

    scanned = 0

    def lower(self) -> _ScannedBytes:  # type: ignore[override]  # stays countable
        return _ScannedBytes(super().lower())

    def find(self, sub, start=0, end=None) -> int:  # type: ignore[override]
        found = super().find(sub, start, len(self) if end is None else end)
        _ScannedBytes.scanned += (found + len(sub) if found >= 0 else len(self)) - start
        return found


def test_a_head_full_of_title_tags_is_read_in_linear_time():
    # A backtracking search would rescan to the end from every "<title": here each byte of the
    # head is looked at a bounded number of times, however many tags a hostile page repeats.
    head = b"<title>" * (64 * 1024 // 7)
    _ScannedBytes.scanned = 0
    title_of(_ScannedBytes(head), "utf-8")
    assert 0 < _ScannedBytes.scanned <= 3 * len(head)
