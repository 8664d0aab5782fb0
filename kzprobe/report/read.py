"""Read kzprobe reports and scan journals written by anyone, trusting nothing in them.

Reports come from other people's machines, from years-old kzprobe versions and from crashed
scans. Every reader of a report (show, the analysts, `--control`, `--resume`) goes through this
module, which turns a file into a checked dict or a `ReportError(path, reason)` that names the
file and says what is wrong with it in words a volunteer can act on. The checks here are the
structure readers rely on (fast, hand-written); the full contract is
kzprobe/data/report.schema.json, checked in the tests with jsonschema.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

import orjson

from kzprobe.errors import BadInputError
from kzprobe.report import vocabulary as v
from kzprobe.report.format import FORMAT_VERSION, JOURNAL_SUFFIX, REPORT_FORMAT, REPORT_SUFFIX
from kzprobe.text import clean_text

# A vantage's output directory holds latest.json, a copy of its newest complete report, served
# to other probes as their control (kzprobe/vantage/latest.py): reading it too would count that
# scan twice.
LATEST_COPY: Final = "latest.json"
# Beside it, index.json lists the directory's reports for collectors (kzprobe/vantage/report_index.py):
# JSON, not a report.
REPORT_INDEX: Final = "index.json"

# A full report keeps at most 64 KiB of body per HTTP hop: 600 targets with two hops each is
# ~80 MB before JSON escaping. 200 MB leaves room for that and refuses the multi-gigabyte file
# that would exhaust memory (json needs several times the file size while parsing).
MAX_REPORT_BYTES: Final = 200 * 1024 * 1024


class ReportError(BadInputError):
    """A file that is not a readable kzprobe report: `path` says which, `reason` says why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(str(path), reason)
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


ProblemHandler = Callable[[ReportError], None]


# --- reading one file ---------------------------------------------------------------------


def read_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A checked report from a report file, or from a journal when the name ends .journal.jsonl."""
    if str(path).endswith(JOURNAL_SUFFIX):
        return read_journal(path)
    return parse_report(_read_capped(path), str(path))


def parse_report(data: bytes | str, source: str) -> dict[str, Any]:
    """A checked report from bytes already fetched (e.g. a `--control` URL); `source` names it."""
    return parse_report_strictly(data, source)[0]


def parse_report_strictly(data: bytes | str, source: str) -> tuple[dict[str, Any], bool]:
    """parse_report, and whether orjson read it: a report orjson read holds no lone surrogate
    (it refuses them), one the standard library read may (what the store must know)."""
    if len(data) > MAX_REPORT_BYTES:
        raise ReportError(source, f"larger than {MAX_REPORT_BYTES // (1024 * 1024)} MB, refused")
    try:
        report, strict = orjson.loads(data), True
    except orjson.JSONDecodeError:
        report, strict = _decode_json(data, source), False
    return check_report(report, source), strict


def read_journal(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The report a scan journal amounts to: its header, its measured results, complete=False.

    A scan killed mid-write leaves a last line without its newline; that line is dropped. Any
    other bad line means the file is damaged and is an error. A target measured twice (a
    resumed scan) keeps its latest result. Lines of an unknown "type" are ignored (newer
    writers may add some). Results carry no verdicts: they are measurements only.
    """
    source = str(path)
    data = _read_capped(path)
    lines = data.split(b"\n")
    truncated_tail = lines[-1] != b""  # the writer ends every line with "\n"
    if not truncated_tail:
        lines.pop()
    if not lines or not lines[0].strip():
        raise ReportError(source, "empty journal")
    header: dict[str, Any] | None = None
    results: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines, start=1):
        if number > 1 and not line.strip():
            continue
        try:
            entry = _decode_json(line, source)
        except ReportError as error:
            if truncated_tail and number == len(lines) and number > 1:
                break  # the scan stopped while writing this line
            raise ReportError(source, f"line {number}: {error.reason}") from None
        if not isinstance(entry, dict):
            raise ReportError(source, f"line {number}: not a JSON object")
        kind = entry.get("type")
        if number == 1:
            if kind != "scan":
                raise ReportError(source, 'not a kzprobe journal (first line is not {"type": "scan", ...})')
            header = {key: value for key, value in entry.items() if key != "type"}
        elif kind == "result":
            result = {key: value for key, value in entry.items() if key != "type"}
            target = result.get("target")
            target_id = target.get("id") if isinstance(target, dict) else None
            if not isinstance(target_id, str):
                raise ReportError(source, f"line {number}: result without a target id")
            results.pop(target_id, None)  # the latest measurement, at the place of its line
            results[target_id] = result
    assert header is not None
    report = dict(header)
    report["complete"] = False
    report.setdefault("finished_at", None)
    report["results"] = list(results.values())
    return check_report(report, source, require_verdicts=False)


def open_regular_file(path: str | os.PathLike[str]) -> BinaryIO:
    """`path` opened for reading, refusing anything but a regular file.

    O_NONBLOCK: opening a FIFO named like a report (a trap in someone else's directory) must not
    wait forever for a writer; the check after opening then refuses it.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise ReportError(path, "is a directory")
        if not stat.S_ISREG(mode):
            raise ReportError(path, "not a regular file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_at_most(handle: BinaryIO, limit: int) -> bytes:
    """Up to `limit` bytes of an open file, to its end. Asked for `limit` at once, Python sets
    aside that much first (200 MB for every report read: a fifth of a millisecond each, more
    than the read): the file's size is asked for, then the rest if it grew meanwhile."""
    size = os.fstat(handle.fileno()).st_size
    data = handle.read(min(size + 1, limit))
    if size < len(data) < limit:
        data += handle.read(limit - len(data))
    return data


def _read_capped(path: str | os.PathLike[str]) -> bytes:
    source = str(path)
    try:
        with open_regular_file(path) as handle:
            info = os.fstat(handle.fileno())
            if info.st_size > MAX_REPORT_BYTES:
                raise ReportError(source, f"larger than {MAX_REPORT_BYTES // (1024 * 1024)} MB, refused")
            data = read_at_most(handle, MAX_REPORT_BYTES + 1)
    except FileNotFoundError:
        raise ReportError(source, "no such file") from None
    except PermissionError:
        raise ReportError(source, "permission denied") from None
    except OSError as error:
        raise ReportError(source, f"cannot be read ({error.strerror or error})") from None
    if len(data) > MAX_REPORT_BYTES:  # grew while we read it
        raise ReportError(source, f"larger than {MAX_REPORT_BYTES // (1024 * 1024)} MB, refused")
    return data


def _ends_mid_value(error: json.JSONDecodeError) -> bool:
    """True when the text stops inside the JSON (a cut file) rather than going wrong in it."""
    rest = error.doc[error.pos :].rstrip()
    return (
        not rest
        or error.msg.startswith("Unterminated string")
        or any(word.startswith(rest) for word in ("true", "false", "null"))
    )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _decode_json(data: bytes | str, source: str) -> Any:
    """The JSON value of `data`, or ReportError saying what is wrong with it.

    orjson parses a report several times faster than the standard library; whatever it refuses
    (malformed or truncated JSON, NaN, a lone surrogate escape, a byte order mark, nesting past
    1,024 levels) is read again by the standard library, which accepts or refuses it exactly as
    kzprobe always has, and whose words name the problem. One difference stays: an integer
    beyond 64 bits reads as a float (no field holds one; the readers' type checks treat it as
    any other number of the wrong kind)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    if not data.strip():
        raise ReportError(source, "empty file")
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ReportError(source, "not UTF-8 text") from None
    except json.JSONDecodeError as error:
        if _ends_mid_value(error):
            reason = "truncated JSON (the file ends in the middle of the report)"
        else:
            reason = f"malformed JSON ({error.msg}, line {error.lineno}, column {error.colno})"
        raise ReportError(source, reason) from None
    except RecursionError:
        raise ReportError(source, "malformed JSON (nested too deeply)") from None
    except ValueError as error:  # NaN/Infinity, integers too long to convert
        raise ReportError(source, f"malformed JSON ({error})") from None


# --- structure checks ---------------------------------------------------------------------


def check_report(report: object, source: str, *, require_verdicts: bool = True) -> dict[str, Any]:
    """`report` itself when it has the structure readers rely on; else ReportError naming the field.

    `require_verdicts=False` accepts measured results without verdict fields (journals).
    """
    if not isinstance(report, dict):
        raise ReportError(source, f"not a kzprobe report (a JSON {_json_type(report)}, not an object)")
    fmt = report.get("format")
    if fmt != REPORT_FORMAT:
        shown = "missing" if fmt is None else repr(fmt)[:60]
        raise ReportError(source, f'not a kzprobe report ("format" is {shown}, expected "{REPORT_FORMAT}")')
    version = report.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ReportError(source, f'"format_version" must be a positive integer, got {repr(version)[:40]}')
    if version > FORMAT_VERSION:
        raise ReportError(
            source,
            f"written by a newer kzprobe (report format version {version}; this kzprobe reads "
            f"version {FORMAT_VERSION}): upgrade kzprobe to read it",
        )
    _expect(source, report, "complete", bool)
    _expect(source, report, "scan_id", str, optional=True)
    _expect_time(source, report, "started_at")
    _expect_time(source, report, "finished_at", optional=True)
    vantage = _expect(source, report, "vantage", dict)
    _expect(source, vantage, "name", str, where="vantage.")
    _expect(source, vantage, "asn", str, optional=True, where="vantage.")
    _expect(source, vantage, "country", str, optional=True, where="vantage.")
    _expect(source, report, "software", dict, optional=True)
    _expect(source, report, "settings", dict, optional=True)
    _expect_word(source, report, "connectivity", v.CONNECTIVITY, optional=True)
    results = _expect(source, report, "results", list)
    seen: set[str] = set()
    for index, result in enumerate(results):
        _check_result(source, result, f"results[{index}].", seen, require_verdicts)
    return report


def _check_result(source: str, result: object, where: str, seen: set[str], require_verdicts: bool) -> None:
    if not isinstance(result, dict):
        raise ReportError(source, f"{where[:-1]} must be an object, got {_json_type(result)}")
    target = _expect(source, result, "target", dict, where=where)
    target_id = _expect(source, target, "id", str, where=where + "target.")
    if not target_id:
        raise ReportError(source, f"{where}target.id is empty")
    if target_id in seen:
        raise ReportError(source, f"{where}target.id {target_id[:80]!r} appears twice")
    seen.add(target_id)
    _expect(source, target, "category", str, optional=True, where=where + "target.")
    _expect(source, target, "url", str, optional=True, where=where + "target.")
    has_verdict = result.get("verdict") is not None
    if require_verdicts or has_verdict:
        _expect_word(source, result, "verdict", v.VERDICTS, where=where)
        _expect_word(source, result, "blocking", v.BLOCKING_LAYERS, optional=True, where=where)
        evidence = _expect(source, result, "evidence", list, where=where)
        if not all(isinstance(code, str) for code in evidence):
            raise ReportError(source, f"{where}evidence must be a list of strings")
        _expect(source, result, "explanation", str, optional=True, where=where)
    _expect(source, result, "observations", dict, optional=True, where=where)


def _expect(source: str, obj: dict[str, Any], key: str, kind: type, *, optional: bool = False, where: str = "") -> Any:
    value = obj.get(key)
    if value is None:
        if optional:
            return None
        raise ReportError(source, f'"{where}{key}" is missing')
    if not isinstance(value, kind):
        raise ReportError(source, f'"{where}{key}" must be a JSON {_JSON_NAMES[kind]}, got {_json_type(value)}')
    return value


def _expect_word(
    source: str, obj: dict[str, Any], key: str, words: Sequence[str], *, optional: bool = False, where: str = ""
) -> None:
    value = _expect(source, obj, key, str, optional=optional, where=where)
    if value is not None and value not in words:
        raise ReportError(source, f'"{where}{key}" is {value[:40]!r}, not one of {", ".join(words)}')


def _expect_time(source: str, obj: dict[str, Any], key: str, *, optional: bool = False) -> None:
    value = _expect(source, obj, key, str, optional=optional)
    if value is not None and parse_time(value) is None:
        raise ReportError(source, f'"{key}" is not an ISO 8601 time with a time zone: {value[:40]!r}')


def parse_time(text: str) -> datetime | None:
    """A UTC datetime from an ISO 8601 string with a zone ("…Z" or "…+05:00"), else None."""
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, TypeError, OverflowError):
        return None


_JSON_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean"}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    names: dict[type, str] = {dict: "object", list: "array", str: "string"}
    return names.get(type(value), type(value).__name__)


# --- many files ---------------------------------------------------------------------------


def print_problem(problem: ReportError) -> None:
    """Default problem handler: one line on stderr, cleaned (the file name is anyone's)."""
    print(clean_text(f"kzprobe: skipped {problem}"), file=sys.stderr)


def expand_report_paths(paths: Sequence[str | os.PathLike[str]], on_problem: ProblemHandler) -> list[Path]:
    """Files named, and the reports found under directories named (recursively, sorted by path).

    Under a directory: every `*.json` except `latest.json` (a vantage's published copy of its
    newest report) and `index.json` (its list of reports), plus each journal whose report does
    not exist (the scan died before writing it, e.g. power loss): `X.journal.jsonl` belongs to
    the report `X.json` (or `X`); beside its report it is a copy of what the report holds.
    Hidden files and directories (dot-names, e.g. the temporary file of an atomic write) are
    skipped; symlinked directories are not followed (no loops). A path that does not exist is
    a problem, reported like a bad file. Files named explicitly are always kept.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(_reports_under(path))
        elif path.exists():
            found.append(path)
        else:
            on_problem(ReportError(path, "no such file or directory"))
    return found


def _reports_under(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        names = set(files)
        for name in sorted(files):
            if name.startswith("."):
                continue
            if name.endswith(JOURNAL_SUFFIX):
                stem = name[: -len(JOURNAL_SUFFIX)]
                if stem not in names and stem + REPORT_SUFFIX not in names:
                    found.append(Path(root, name))
            elif name.endswith(REPORT_SUFFIX) and name not in (LATEST_COPY, REPORT_INDEX):
                found.append(Path(root, name))
    return found


def iter_reports(
    paths: Sequence[str | os.PathLike[str]],
    *,
    strict: bool,
    on_problem: ProblemHandler | None = None,
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Each readable report under `paths`, one at a time (never all of them in memory).

    A bad file (truncated, malformed, foreign, newer format, wrong types) is passed to
    `on_problem` (default: a line on stderr) and skipped; with `strict` the first one is raised
    instead. Files come in the order of expand_report_paths (by name); the analysts' reader
    (kzprobe.analyst.reading) orders them by scan time instead.
    """
    handler = on_problem or print_problem

    def problem(error: ReportError) -> None:
        if strict:
            raise error
        handler(error)

    for path in expand_report_paths(paths, problem):
        try:
            report = read_report(path)
        except ReportError as error:
            problem(error)
            continue
        yield path, report
