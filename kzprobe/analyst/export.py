"""One flat row per target per scan, for pandas, DuckDB or a spreadsheet.

Rows are written as scans are read (streaming), in scan-time order. CSV cells from files are
cleaned of control characters and guarded against formula injection; JSON Lines keeps the
evidence as a list and escapes every non-ASCII character, so nothing in it reaches a terminal raw.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any, Final, TextIO

from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.measures import Measures
from kzprobe.analyst.reading import ScanDigest, TargetDigest, iso
from kzprobe.analyst.safe_text import csv_cell

EXPORT_FORMATS: Final = ("csv", "jsonl")
# Column order of every export; docs/analysts.md describes each column.
SCAN_COLUMNS: Final = (
    "scan_started_at", "scan_id", "scan_complete", "vantage", "asn", "country", "connectivity",
)
TARGET_COLUMNS: Final = (
    "target", "category", "url", "verdict", "blocking", "evidence", "explanation",
    "target_started_at", "duration_ms", "endpoints_total", "endpoints_failing",
)
MEASURE_COLUMNS: Final = tuple(f.name for f in fields(Measures))
COLUMNS: Final = SCAN_COLUMNS + TARGET_COLUMNS + MEASURE_COLUMNS + ("file",)
# Evidence codes joined in one CSV cell (JSON Lines keeps the list).
EVIDENCE_SEPARATOR: Final = " "


@dataclass
class ExportCount:
    scans: int = 0
    rows: int = 0


def export_rows(scan: ScanDigest, target_filter: TargetFilter) -> Iterable[dict[str, Any]]:
    """The flat rows of one scan (evidence as a list)."""
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
            yield {**common, **_target_fields(target), **asdict(target.measures), "file": scan.path}


def _target_fields(target: TargetDigest) -> dict[str, Any]:
    endpoints = target.endpoints
    return {
        "target": target.id,
        "category": target.category,
        "url": target.url,
        "verdict": target.verdict,
        "blocking": target.blocking,
        "evidence": list(target.evidence),
        "explanation": target.explanation,
        "target_started_at": target.started_at,
        "duration_ms": target.duration_ms,
        "endpoints_total": endpoints.total if endpoints else None,
        "endpoints_failing": len(endpoints.failing) if endpoints else None,
    }


def write_export(scans: Iterable[ScanDigest], stream: TextIO, format: str, target_filter: TargetFilter) -> ExportCount:
    """Write every row of every scan to `stream` as `format` (csv with a header, or jsonl)."""
    count = ExportCount()
    writer = None
    if format == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(COLUMNS)
    for scan in scans:
        count.scans += 1
        for row in export_rows(scan, target_filter):
            count.rows += 1
            if writer is not None:
                row["evidence"] = EVIDENCE_SEPARATOR.join(row["evidence"])
                writer.writerow([csv_cell(row[column]) for column in COLUMNS])
            else:
                stream.write(json.dumps(row, ensure_ascii=True) + "\n")
    return count
