"""Find OONI measurement files and read them one measurement at a time, trusting nothing.

Accepted: files or directories (walked recursively, in name order) of JSON (one measurement,
possibly pretty-printed, or a JSON list of them) and JSON Lines (one per line, as OONI's bucket
and `oonidata sync` give them), either of them gzip-compressed (recognised by its magic bytes,
not its name). Everything is streamed: memory holds one measurement at a time, and the bounds
of kzprobe/ooni/limits.py stop gzip bombs, overlong lines and deep nesting with a named reason.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import orjson

from kzprobe.ooni import limits
from kzprobe.report.read import ReportError, open_regular_file

# Names a directory walk picks up (a file named on the command line is read whatever its name).
MEASUREMENT_SUFFIXES: Final = (".json", ".jsonl", ".ndjson")
_GZIP_MAGIC: Final = b"\x1f\x8b"


@dataclass(frozen=True)
class Measurement:
    """One JSON object read from `source` at `line` (1 for a single-document file)."""

    source: str
    line: int
    data: dict
    # The text escapes a UTF-16 surrogate ("\\ud800"): some string may hold a lone one, which
    # no UTF-8 file can, and must be cleaned before writing (privacy.py).
    surrogates: bool = False


@dataclass(frozen=True)
class BadInput:
    """Something that could not be read as a measurement: `line` None means the whole file."""

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}" if self.line is not None else f"{self.source}: {self.reason}"


class _Refused(Exception):
    """The file stops being readable here (a gzip bomb, damaged compressed data)."""


def _wanted(name: str) -> bool:
    base = name[:-3] if name.endswith(".gz") else name
    return base.endswith(MEASUREMENT_SUFFIXES)


def input_files(paths: list[Path], exclude: Path | None = None) -> Iterator[Path | BadInput]:
    """The files to read, in the order given and, within a directory, in name order.

    `exclude` (the output directory) is never walked: kzprobe's own reports are not OONI data."""
    skip = exclude.resolve() if exclude is not None else None
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if skip is None or (Path(root) / d).resolve() != skip)
                for name in sorted(files):
                    if _wanted(name):
                        yield Path(root) / name
        elif path.exists() or path.is_symlink():
            yield path
        else:
            yield BadInput(str(path), None, "no such file or directory")


class _BoundedGzip:
    """A gzip stream that refuses to inflate far beyond what was read: a bomb stops early."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._stream = gzip.GzipFile(fileobj=raw, mode="rb")
        self._out = 0

    def read(self, size: int) -> bytes:
        try:
            chunk = self._stream.read1(size)  # what one read gives: lines before damage survive
        except (OSError, EOFError, zlib.error) as error:
            raise _Refused(f"damaged gzip data ({error})") from None
        self._out += len(chunk)
        consumed = self._raw.tell()
        if self._out > limits.MAX_FILE_BYTES or \
                self._out > limits.INFLATION_ALLOWANCE_BYTES + limits.MAX_INFLATION_RATIO * consumed:
            raise _Refused(f"gzip data inflating to over {self._out:,} bytes from {consumed:,} "
                           f"(more than {limits.MAX_INFLATION_RATIO} times): refused as a gzip bomb")
        return chunk


class _Plain:
    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._out = 0

    def read(self, size: int) -> bytes:
        chunk = self._raw.read(size)
        self._out += len(chunk)
        if self._out > limits.MAX_FILE_BYTES:
            raise _Refused(f"larger than {limits.MAX_FILE_BYTES:,} bytes, refused")
        return chunk


def _lines(stream: Any) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) for every line; bytes None for a line over the size limit (its
    content is skipped, never held)."""
    number, buffer, overlong = 1, b"", False
    while True:
        chunk = stream.read(limits.READ_CHUNK_BYTES)
        if not chunk:
            break
        buffer += chunk
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            yield number, (None if overlong else buffer[start:end])
            number, overlong, start = number + 1, False, end + 1
        buffer = buffer[start:]
        if len(buffer) > limits.MAX_MEASUREMENT_BYTES:
            overlong, buffer = True, b""
    if buffer or overlong:
        yield number, (None if overlong else buffer)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(data: bytes) -> Any:
    """The JSON value of `data`; ValueError with a reason in words when it is not JSON."""
    return _parse(data)[0]


def _parse(data: bytes) -> tuple[Any, bool]:
    """(the JSON value of `data`, whether a string in it may hold a lone UTF-16 surrogate).

    orjson reads it first, in a third of the time; what it refuses (not JSON, not UTF-8, lone
    surrogates, nesting past 1,024) the standard library reads again, to accept what it accepts
    and to name the problem. orjson reads an integer beyond 64 bits as a float: no field kzprobe
    reads holds one, and where an integer belongs such a value is dropped (fields.integer). What
    orjson read has no lone surrogate: it refuses them."""
    try:
        return orjson.loads(data), False
    except orjson.JSONDecodeError:
        pass
    return _parse_slowly(data), _surrogates(data)


def _parse_slowly(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text (byte {error.start + 1})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed JSON ({error.msg}, column {error.colno})") from None
    except RecursionError:
        raise ValueError("malformed JSON (nested too deeply)") from None
    except ValueError as error:  # NaN/Infinity, integers too long to convert
        raise ValueError(f"malformed JSON ({str(error)[:120]})") from None


def _surrogates(data: bytes) -> bool:
    return b"\\ud" in data or b"\\uD" in data


def _as_measurements(value: Any, source: str, line: int, surrogates: bool) -> Iterator[Measurement | BadInput]:
    if isinstance(value, dict):
        yield Measurement(source, line, value, surrogates)
    elif isinstance(value, list):  # a JSON array of measurements (an API dump)
        for index, item in enumerate(value[: limits.MAX_ITEMS * 100]):
            if isinstance(item, dict):
                yield Measurement(source, line, item, surrogates)
            else:
                yield BadInput(source, line, f"item {index} of the list is not a JSON object")
    else:
        yield BadInput(source, line, f"not a JSON object (a JSON {type(value).__name__})")


@dataclass(frozen=True)
class Record:
    """The text of one measurement, not parsed yet: a JSON Lines line, or a whole file holding
    one (pretty-printed) document. Reading splits a file into records; parsing them is the
    expensive part, done where the measurements are converted (importer.py)."""

    line: int
    data: bytes
    whole_file: bool = False

    @property
    def size(self) -> int:
        return len(self.data)


def parse_record(record: Record, source: str) -> Iterator[Measurement | BadInput]:
    """The measurements in one record, or why it is not one."""
    try:
        value, surrogates = _parse(record.data)
    except ValueError as error:
        yield BadInput(source, None if record.whole_file else record.line, str(error))
        return
    yield from _as_measurements(value, source, record.line, surrogates)


def read_records(path: Path) -> Iterator[Record | BadInput]:
    """Every record of the file, or the reason a line (or the file) cannot be read."""
    source = str(path)
    try:
        handle = open_regular_file(path)
    except ReportError as error:
        yield BadInput(source, None, error.reason)
        return
    except OSError as error:
        yield BadInput(source, None, f"cannot be read ({error.strerror or error})")
        return
    line = 0
    with handle:
        try:
            head = handle.read(2)
            handle.seek(0)
            stream: Any = _BoundedGzip(handle) if head == _GZIP_MAGIC else _Plain(handle)
            document: list[bytes] | None = None  # lines of a pretty-printed single document
            size, seen_any = 0, False
            for line, data in _lines(stream):
                if document is not None:
                    if data is None or size + len(data) > limits.MAX_MEASUREMENT_BYTES:
                        yield BadInput(source, None, f"not JSON Lines, and larger than "
                                                     f"{limits.MAX_MEASUREMENT_BYTES:,} bytes for one measurement")
                        return
                    document.append(data)
                    size += len(data) + 1
                    continue
                if data is None:
                    yield BadInput(source, line, f"line longer than {limits.MAX_MEASUREMENT_BYTES:,} bytes")
                    continue
                if not data or data.isspace():
                    continue
                if not seen_any and data.strip() in (b"{", b"["):
                    # A first line that is only a brace or a bracket (never JSON by itself): one
                    # pretty-printed document.
                    document, size, seen_any = [data], len(data) + 1, True
                    continue
                seen_any = True
                yield Record(line, data)
            if document is not None:
                yield Record(1, b"\n".join(document), whole_file=True)
        except _Refused as error:
            yield BadInput(source, line + 1 if line else None, str(error))
        except OSError as error:
            yield BadInput(source, None, f"cannot be read ({error.strerror or error})")


def record_batches(path: Path) -> Iterator[list[Record | BadInput]]:
    """The file's records (and unreadable lines) in batches of up to limits.BATCH_RECORDS records
    or limits.BATCH_BYTES bytes (plus the record that crossed it): the work handed out at a time,
    and what a converting process stages at a time."""
    items: list[Record | BadInput] = []
    size = 0
    for item in read_records(path):
        items.append(item)
        size += item.size if isinstance(item, Record) else 0
        if len(items) >= limits.BATCH_RECORDS or size >= limits.BATCH_BYTES:
            yield items
            items, size = [], 0
    if items:
        yield items


def read_measurements(path: Path) -> Iterator[Measurement | BadInput]:
    """Every measurement in the file, or the reason each line (or the file) cannot be read."""
    source = str(path)
    for item in read_records(path):
        if isinstance(item, BadInput):
            yield item
        else:
            yield from parse_record(item, source)
