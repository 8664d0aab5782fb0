"""One flat row per target per scan, for pandas, DuckDB or a spreadsheet.

Rows are written as scans are read (streaming), in scan-time order; each scan's rows are
formatted in the worker process that read it. CSV cells from files are cleaned of control
characters and guarded against formula injection; JSON Lines keeps the evidence as a list and
escapes every non-ASCII character, so nothing in it reaches a terminal raw.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, TextIO

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.measures import Measures
from kzprobe.analyst.reading import ScanDigest, TargetDigest, iso
from kzprobe.text import clean_text

EXPORT_FORMATS: Final = ("csv", "jsonl", "parquet")  # parquet: with the store extra
# Column order of every export; docs/analysts.md describes each column.
SCAN_COLUMNS: Final = (
    "scan_started_at", "scan_id", "scan_complete", "vantage", "asn", "country", "connectivity",
)
TARGET_COLUMNS: Final = (
    "target", "name", "category", "url", "verdict", "blocking", "evidence", "explanation",
    "target_started_at", "duration_ms", "queued_ms", "endpoints_total", "endpoints_failing",
)
MEASURE_COLUMNS: Final = Measures._fields
COLUMNS: Final = SCAN_COLUMNS + TARGET_COLUMNS + MEASURE_COLUMNS + ("file",)
# Evidence codes joined in one CSV cell (JSON Lines keeps the list).
EVIDENCE_SEPARATOR: Final = " "


class ScanRows(NamedTuple):
    """One scan's rows, formatted."""

    rows: int
    text: str


@dataclass
class ExportCount:
    scans: int = 0
    rows: int = 0


def export_rows(scan: ScanDigest, target_filter: TargetFilter) -> Iterator[dict[str, Any]]:
    """The flat rows of one scan (evidence as a list), in COLUMNS order."""
    common = {
        "scan_started_at": iso(scan.started_at),
        "scan_id": scan.scan_id,
        "scan_complete": scan.complete,
        "vantage": scan.vantage,
        "asn": scan.asn,
        "country": scan.country,
        "connectivity": scan.connectivity,
    }
    for target in scan.targets:
        if target_filter.accepts(target):
            yield {**common, **_target_fields(target), **(target.measures or Measures())._asdict(), "file": scan.path}


def _target_fields(target: TargetDigest) -> dict[str, Any]:
    endpoints = target.endpoints
    fields = target.verdict_fields()
    return {
        "target": fields.pop("target"),
        "name": target.name,
        **fields,
        "target_started_at": target.started_at,
        "duration_ms": target.duration_ms,
        "queued_ms": target.queued_ms,
        "endpoints_total": endpoints.total if endpoints else None,
        "endpoints_failing": len(endpoints.failing) if endpoints else None,
    }


# CSV cells starting with these are formulas in Excel, LibreOffice and Google Sheets (OWASP,
# "CSV Injection"); a leading apostrophe makes them text. Tabs and line breaks are already
# spaces, and leading spaces are gone, after clean_text.
_FORMULA_STARTS: Final = ("=", "+", "-", "@")


def csv_cell(value: object) -> object:
    """A CSV cell value: strings cleaned and guarded against formula injection; numbers as they
    are. Every CSV kzprobe writes (export, summary --csv) goes through here."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = clean_text(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def format_rows(scan: ScanDigest, format: str, target_filter: TargetFilter) -> ScanRows:
    """One scan's rows as CSV lines (no header) or JSON lines."""
    return format_row_dicts(export_rows(scan, target_filter), format)


def format_row_dicts(rows: Iterable[dict[str, Any]], format: str) -> ScanRows:
    """Rows (COLUMNS order, evidence a list) as CSV lines (no header) or JSON lines: the one
    formatting of every export, whether the rows come from report files or from the store."""
    out = io.StringIO()
    count = 0
    if format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        for row in rows:
            row["evidence"] = EVIDENCE_SEPARATOR.join(row["evidence"])
            writer.writerow([csv_cell(value) for value in row.values()])
            count += 1
    else:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=True) + "\n")
            count += 1
    return ScanRows(count, out.getvalue())


def parquet_rows(scan: ScanDigest, target_filter: TargetFilter) -> list[dict[str, Any]]:
    """One scan's rows for a Parquet export: as export_rows, the scan's time a datetime."""
    rows = list(export_rows(scan, target_filter))
    for row in rows:
        row["scan_started_at"] = scan.started_at
    return rows


def write_export(chunks: Iterable[ScanRows], stream: TextIO, format: str) -> ExportCount:
    """Write the header (CSV), then each scan's rows as they come."""
    count = ExportCount()
    if format == "csv":
        csv.writer(stream, lineterminator="\n").writerow(COLUMNS)
    for chunk in chunks:
        count.scans += 1
        count.rows += chunk.rows
        stream.write(chunk.text)
    return count
