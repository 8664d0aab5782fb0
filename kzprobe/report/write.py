"""Write a scan's record so that nothing measured is lost (docs/architecture.md, principle 5).

Each measured result is appended to a JSON Lines journal the moment it is known; the final
report is written to a temporary file in the same directory, flushed, and renamed over the
destination, so a reader sees either no report or a whole one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from kzprobe import __version__
from kzprobe.errors import CannotWriteError
from kzprobe.report import vocabulary as v
from kzprobe.report.atomic import replace_atomically
from kzprobe.report.format import FORMAT_VERSION, JOURNAL_SUFFIX, REPORT_FORMAT, REPORT_SUFFIX


class ReportWriteError(CannotWriteError, OSError):
    """The journal or the report could not be written (disk full, permissions, …)."""


def journal_path_for(output: Path) -> Path:
    """The journal kept beside a report while its scan runs: X.json -> X.journal.jsonl."""
    return output.with_name(output.name + JOURNAL_SUFFIX) if output.suffix != REPORT_SUFFIX else \
        output.with_suffix(JOURNAL_SUFFIX)


def report_path_for(journal: Path) -> Path:
    """The report a journal belongs to: X.journal.jsonl -> X.json."""
    return journal.with_name(journal.name[: -len(JOURNAL_SUFFIX)] + REPORT_SUFFIX)


def scan_header(scan_id: str, started_at: str, vantage: dict, settings: dict) -> dict:
    return {
        "format": REPORT_FORMAT,
        "format_version": FORMAT_VERSION,
        "scan_id": scan_id,
        "started_at": started_at,
        "software": {"name": "kzprobe", "version": __version__},
        "vantage": vantage,
        "settings": settings,
    }


def journal_line(record: dict) -> str:
    """One journal line: the record as compact JSON, and a newline."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def result_line(measured_result: dict) -> str:
    """A measured result's journal line (also what a measuring process sends its parent)."""
    return journal_line({"type": "result", **measured_result})


class Journal:
    """Append-only JSON Lines record of a scan in progress."""

    def __init__(self, path: Path, header: dict, *, append: bool = False) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] = open(path, "a" if append else "w", encoding="utf-8")
            if not append:
                self._write({"type": "scan", **header})
        except OSError as exc:
            raise ReportWriteError(f"cannot write the journal {path}: {exc.strerror or exc}") from exc

    def _write(self, record: dict) -> None:
        self._write_line(journal_line(record))

    def _write_line(self, line: str) -> None:
        self._file.write(line)
        self._file.flush()

    def add(self, measured_result: dict, line: str | None = None) -> None:
        """Append a result; `line`, when given, is its result_line already encoded."""
        try:
            self._write_line(line if line is not None else result_line(measured_result))
        except OSError as exc:
            raise ReportWriteError(f"cannot append to the journal {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass

    def remove(self) -> None:
        self.close()
        try:
            self.path.unlink()
        except OSError:
            pass


def build_report(header: dict, measured: list[dict], analysis: Any, *, complete: bool,
                 finished_at: str) -> dict:
    """The report of format 1 (docs/report-format.md): header, connectivity, summary, results."""
    summary = {verdict: 0 for verdict in v.VERDICTS}
    results = []
    for result, verdict in zip(measured, analysis.verdicts, strict=True):
        summary[verdict["verdict"]] += 1
        results.append({
            "target": result["target"],
            "verdict": verdict["verdict"],
            "blocking": verdict.get("blocking"),
            "evidence": verdict.get("evidence", []),
            "explanation": verdict.get("explanation", ""),
            "control": verdict.get("control"),
            # service targets: each endpoint's outcome and each part's state (chat, media, ...);
            # `quic: true` web targets: the QUIC part's own verdict (analysis/quic_rules.py)
            **{key: verdict[key] for key in ("endpoints", "parts", "quic") if key in verdict},
            "observations": result["observations"],
            "started_at": result["started_at"],
            "duration_ms": result["duration_ms"],
            **({"queued_ms": result["queued_ms"]} if "queued_ms" in result else {}),
            **({"scrubbed": result["scrubbed"]} if result.get("scrubbed") else {}),
        })
    report = {
        "format": header["format"],
        "format_version": header["format_version"],
        "scan_id": header["scan_id"],
        "complete": complete,
        "started_at": header["started_at"],
        "finished_at": finished_at,
        "software": header["software"],
        "vantage": header["vantage"],
        "settings": header["settings"],
        "connectivity": analysis.connectivity,
        "baselines": analysis.baselines,
        "summary": summary,
        # Times this machine's addresses, echoed by what was measured, became "[scrubbed]" (docs/privacy.md).
        "scrubbed": sum(r.get("scrubbed", 0) for r in results),
        "results": results,
    }
    return report


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_pieces(document: Any) -> Iterator[str]:
    """Compact JSON of `document` in pieces: each top-level value, and each item of a top-level
    list (a report's results), encoded whole by the C encoder.

    One piece per result keeps memory to one result at a time, as iterencode did, at C speed:
    iterencode always takes the pure-Python encoder, twice as slow on a 1,000-target report."""
    if not isinstance(document, dict) or not all(isinstance(key, str) for key in document):
        yield _ENCODER.encode(document)
        return
    yield "{"
    for index, (key, value) in enumerate(document.items()):
        yield ("," if index else "") + _ENCODER.encode(key) + ":"
        if isinstance(value, list):
            yield "["
            for position, item in enumerate(value):
                yield ("," if position else "") + _ENCODER.encode(item)
            yield "]"
        else:
            yield _ENCODER.encode(value)
    yield "}"


def write_json_atomically(path: Path, document: dict) -> None:
    """Write to a temporary file beside `path`, fsync, rename: all or nothing."""

    def fill(f: IO[bytes]) -> None:
        for piece in json_pieces(document):
            f.write(piece.encode("utf-8"))
        f.write(b"\n")

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, fill)
    except OSError as exc:
        raise ReportWriteError(f"cannot write the report {path}: {exc.strerror or exc}") from exc
