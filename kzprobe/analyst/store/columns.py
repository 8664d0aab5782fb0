"""The store's two tables as Arrow schemas, and one report turned into their rows.

`results` has one row per target per scan: the columns of `kzprobe export` (evidence as a
list), the result's position in its report, the control summary and where imported data came
from. `scans` has one row per scan: vantage, network, time, connectivity, completeness, and the
source file with its SHA-256 (what tells a re-sent report from a changed one). Both are
partitioned Hive-style (docs/analysts.md): `vantage` (and for results `month`) live in the
directory names, not in the files, so they are absent from the schemas here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final, NamedTuple

import pyarrow as pa

from kzprobe.analyst.export import MEASURE_COLUMNS
from kzprobe.analyst.measures import Measures, text
from kzprobe.analyst.reading import ScanDigest
from kzprobe.analyst.style import state_of

# The control summary is someone else's object: kept as JSON text, cut here (a hostile report
# cannot make one row megabytes).
MAX_CONTROL_CHARS: Final = 2000
# What identifies a scan without a scan_id (an imported file may lack one): its file's hash.
HASH_KEY_PREFIX: Final = "sha256:"

_TIME = pa.timestamp("us", tz="UTC")
_NO_MEASURES: Final = Measures()
_MEASURE_TYPES: Final = {
    name: pa.int64() if name in ("dns_addresses", "http_status", "http_hops", "download_bytes")
    else pa.string() if name.endswith(("_failure", "_version", "_title")) else pa.float64()
    for name in MEASURE_COLUMNS
}

RESULTS_SCHEMA: Final = pa.schema([
    ("scan_key", pa.string()),
    ("scan_id", pa.string()),
    ("scan_started_at", _TIME),
    ("scan_complete", pa.bool_()),
    ("day", pa.date32()),  # the scan's UTC start date
    ("asn", pa.string()),
    ("country", pa.string()),
    ("connectivity", pa.string()),
    ("position", pa.int32()),
    ("target", pa.string()),
    ("name", pa.string()),
    ("category", pa.string()),
    ("url", pa.string()),
    ("keyword", pa.string()),  # a keyword target's word (tables show it as `keyword: WORD`)
    ("verdict", pa.string()),
    ("blocking", pa.string()),
    ("state", pa.string()),  # "blocked/tls", "reachable", "unanalysed": what summary and timeline show
    ("evidence", pa.list_(pa.string())),
    ("explanation", pa.string()),
    ("target_started_at", pa.string()),
    ("duration_ms", pa.float64()),
    ("queued_ms", pa.float64()),
    ("endpoints_total", pa.int64()),
    ("endpoints_failing", pa.int64()),
    *_MEASURE_TYPES.items(),
    ("control_verdict", pa.string()),
    ("control_usable", pa.bool_()),
    ("control", pa.string()),
    ("provenance_source", pa.string()),
    ("provenance_licence", pa.string()),
    ("ooni_measurement_uid", pa.string()),
    ("ooni_test_name", pa.string()),
    ("file", pa.string()),
])

SCANS_SCHEMA: Final = pa.schema([
    ("scan_key", pa.string()),
    ("scan_id", pa.string()),
    ("started_at", _TIME),
    ("finished_at", _TIME),
    ("day", pa.date32()),
    ("complete", pa.bool_()),
    ("from_journal", pa.bool_()),
    ("asn", pa.string()),
    ("country", pa.string()),
    ("connectivity", pa.string()),
    ("software", pa.string()),
    ("targets", pa.int64()),
    ("provenance_source", pa.string()),
    ("provenance_licence", pa.string()),
    ("file", pa.string()),
    ("sha256", pa.string()),
    ("size", pa.int64()),
    ("ingested_at", _TIME),
])


class StoredScan(NamedTuple):
    """One report as the store keeps it: where it goes, its scans row, its results columns."""

    key: str
    vantage: str
    month: str  # the results partition: "2022-01"
    complete: bool
    sha256: str
    scan: dict[str, Any]
    results: dict[str, list[Any]]  # column name -> values, in RESULTS_SCHEMA order

    @property
    def rows(self) -> int:
        return len(self.results["target"])


def month_of(moment: datetime) -> str:
    """The results partition of a scan: its start month in UTC."""
    return moment.strftime("%Y-%m")


def scan_key_of(scan_id: str | None, sha256: str) -> str:
    return scan_id if scan_id else HASH_KEY_PREFIX + sha256


def stored_scan(report: dict[str, Any], digest: ScanDigest, *, sha256: str, size: int,
                ingested_at: datetime) -> StoredScan:
    """The rows of one checked report and its digest (read with detail=True), built column by
    column (the same values as export_rows: its columns are the store's)."""
    key = scan_key_of(digest.scan_id, sha256)
    provenance = digest.provenance
    source, licence = (provenance.source, provenance.licence) if provenance else (None, None)
    targets = digest.targets
    count = len(targets)
    raw_results = report.get("results") or []
    raws: list[dict[str, Any]] = [raw if isinstance(raw, dict) else {} for raw in raw_results[:count]]
    raws += [{}] * (count - len(raws))
    controls: list[dict[str, Any] | None] = [_object(raw.get("control")) for raw in raws]
    oonis: list[dict[str, Any]] = [_object(raw.get("ooni")) or {} for raw in raws]
    measures = list(zip(*[target.measures or _NO_MEASURES for target in targets],
                        strict=True)) or [()] * len(MEASURE_COLUMNS)
    columns: dict[str, list[Any]] = {
        "scan_key": [key] * count, "scan_id": [digest.scan_id] * count, "scan_started_at": [digest.started_at] * count,
        "scan_complete": [digest.complete] * count, "day": [digest.started_at.date()] * count,
        "asn": [digest.asn] * count, "country": [digest.country] * count, "connectivity": [digest.connectivity] * count,
        "position": list(range(count)),
        "target": [t.id for t in targets], "name": [t.name for t in targets], "category": [t.category for t in targets],
        "url": [t.url for t in targets], "keyword": [t.keyword for t in targets],
        "verdict": [t.verdict for t in targets], "blocking": [t.blocking for t in targets],
        "state": [state_of(t.verdict, t.blocking) for t in targets], "evidence": [list(t.evidence) for t in targets],
        "explanation": [t.explanation for t in targets], "target_started_at": [t.started_at for t in targets],
        "duration_ms": [t.duration_ms for t in targets], "queued_ms": [t.queued_ms for t in targets],
        "endpoints_total": [t.endpoints.total if t.endpoints else None for t in targets],
        "endpoints_failing": [len(t.endpoints.failing) if t.endpoints else None for t in targets],
        **{name: list(values) for name, values in zip(MEASURE_COLUMNS, measures, strict=True)},
        "control_verdict": [text(c.get("verdict")) if c else None for c in controls],
        "control_usable": [c.get("usable") if c and isinstance(c.get("usable"), bool) else None for c in controls],
        "control": [_control_json(c) for c in controls],
        "provenance_source": [source] * count, "provenance_licence": [licence] * count,
        "ooni_measurement_uid": [text(o.get("measurement_uid")) for o in oonis],
        "ooni_test_name": [text(o.get("test_name")) for o in oonis],
        "file": [digest.path] * count,
    }
    scan_row = {
        "scan_key": key, "scan_id": digest.scan_id, "started_at": digest.started_at, "finished_at": digest.finished_at,
        "day": digest.started_at.date(), "complete": digest.complete, "from_journal": digest.from_journal,
        "asn": digest.asn, "country": digest.country, "connectivity": digest.connectivity, "software": digest.software,
        "targets": count, "provenance_source": source, "provenance_licence": licence,
        "file": digest.path, "sha256": sha256, "size": size, "ingested_at": ingested_at,
    }
    return StoredScan(key, digest.vantage, month_of(digest.started_at), digest.complete, sha256, scan_row, columns)


def results_batch(columns: dict[str, list[Any]]) -> pa.RecordBatch:
    """The columns as one Arrow batch (array by array: from_pydict would import pandas)."""
    return pa.RecordBatch.from_arrays([pa.array(columns[field.name], type=field.type) for field in RESULTS_SCHEMA],
                                      schema=RESULTS_SCHEMA)


def _object(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _control_json(control: dict[str, Any] | None) -> str | None:
    if control is None:
        return None
    try:
        encoded = json.dumps(control, ensure_ascii=True, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return None
    return encoded if len(encoded) <= MAX_CONTROL_CHARS else None
