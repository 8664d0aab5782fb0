"""The store's tables as Arrow schemas, and reports turned into their rows.

`results` has one row per target per scan: the columns of `kzprobe export` (evidence as a
list), the result's position in its report, the control summary and where imported data came
from. `scans` has one row per scan: vantage, network, time, connectivity, completeness, and the
source file with its SHA-256 (what tells a re-sent report from a changed one). `runs` is derived
from `results` (kzprobe.analyst.store.runs). All are partitioned Hive-style (docs/analysts.md):
`vantage`, and for results `day`, live in the directory names, not in the files (Spark and
BigQuery refuse a partition column that is also in the file), so they are absent here.

Rows are built a chunk of reports at a time (`ResultColumns`): one Python list per column,
extended report by report, then one Arrow array per column for the whole chunk, which costs a
fraction of an array per report and column.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final, NamedTuple

import pyarrow as pa

from kzprobe.analyst.export import MEASURE_COLUMNS
from kzprobe.analyst.measures import Measures, text
from kzprobe.analyst.reading import ScanDigest
from kzprobe.analyst.store.surrogates import valid_unicode
from kzprobe.analyst.style import state_of

# The control summary is someone else's object: kept as JSON text, cut here (a hostile report
# cannot make one row megabytes).
MAX_CONTROL_CHARS: Final = 2000
# What identifies a scan without a scan_id (an imported file may lack one): its file's hash.
HASH_KEY_PREFIX: Final = "sha256:"

TIME: Final = pa.timestamp("us", tz="UTC")
_NO_MEASURES: Final = Measures()
_MEASURE_TYPES: Final = {
    name: pa.int64() if name in ("dns_addresses", "http_status", "http_hops", "download_bytes")
    else pa.string() if name.endswith(("_failure", "_version", "_title")) else pa.float64()
    for name in MEASURE_COLUMNS
}

RESULTS_SCHEMA: Final = pa.schema([
    ("scan_key", pa.string()),
    ("scan_id", pa.string()),
    ("scan_started_at", TIME),
    ("scan_complete", pa.bool_()),
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
    ("started_at", TIME),
    ("finished_at", TIME),
    ("day", pa.date32()),  # the scan's UTC start date: its results partition
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
    ("ingested_at", TIME),
])

RUNS_SCHEMA: Final = pa.schema([
    ("day", pa.date32()),
    ("target", pa.string()),
    ("category", pa.string()),  # the target's category in this run
    ("state", pa.string()),
    ("first_scan", TIME),
    ("first_file", pa.string()),  # orders two runs that start at the same second
    ("last_scan", TIME),
    ("scans", pa.int64()),
    ("incomplete_scans", pa.int64()),
])


class StoredScan(NamedTuple):
    """One report as the store keeps it: where it goes, its scans row, and where its results
    rows are in the chunk's batch (`offset`, `rows`)."""

    key: str
    vantage: str
    day: str  # the results partition: "2022-01-05", the scan's UTC start date
    complete: bool
    sha256: str
    scan: dict[str, Any]
    offset: int
    rows: int


def scan_key_of(scan_id: str | None, sha256: str) -> str:
    return scan_id if scan_id else HASH_KEY_PREFIX + sha256


class ResultColumns:
    """The results rows of a chunk of reports, column by column (RESULTS_SCHEMA's order)."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in RESULTS_SCHEMA.names}
        self.rows = 0

    def add(self, report: dict[str, Any], digest: ScanDigest, *, sha256: str, size: int,
            ingested_at: datetime) -> StoredScan:
        """The rows of one checked report and its digest (read with detail=True): the same
        values as export_rows, since export's columns are the store's."""
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
        c = self.columns
        for name, value in (("scan_key", key), ("scan_id", digest.scan_id), ("scan_started_at", digest.started_at),
                            ("scan_complete", digest.complete), ("asn", digest.asn), ("country", digest.country),
                            ("connectivity", digest.connectivity), ("provenance_source", source),
                            ("provenance_licence", licence), ("file", digest.path)):
            c[name].extend([value] * count)
        c["position"].extend(range(count))
        for t in targets:
            endpoints = t.endpoints
            c["target"].append(t.id)
            c["name"].append(t.name)
            c["category"].append(t.category)
            c["url"].append(t.url)
            c["keyword"].append(t.keyword)
            c["verdict"].append(t.verdict)
            c["blocking"].append(t.blocking)
            c["state"].append(state_of(t.verdict, t.blocking))
            c["evidence"].append(list(t.evidence))
            c["explanation"].append(t.explanation)
            c["target_started_at"].append(t.started_at)
            c["duration_ms"].append(t.duration_ms)
            c["queued_ms"].append(t.queued_ms)
            c["endpoints_total"].append(endpoints.total if endpoints else None)
            c["endpoints_failing"].append(len(endpoints.failing) if endpoints else None)
            for measure, figure in zip(MEASURE_COLUMNS, t.measures or _NO_MEASURES, strict=True):
                c[measure].append(figure)
        for control in controls:
            c["control_verdict"].append(text(control.get("verdict")) if control else None)
            usable = control.get("usable") if control else None
            c["control_usable"].append(usable if isinstance(usable, bool) else None)
            c["control"].append(_control_json(control))
        for ooni in oonis:
            c["ooni_measurement_uid"].append(text(ooni.get("measurement_uid")))
            c["ooni_test_name"].append(text(ooni.get("test_name")))
        started = digest.started_at
        scan_row = {
            "scan_key": key, "scan_id": digest.scan_id, "started_at": started, "finished_at": digest.finished_at,
            "day": started.date(), "complete": digest.complete, "from_journal": digest.from_journal,
            "asn": digest.asn, "country": digest.country, "connectivity": digest.connectivity,
            "software": digest.software, "targets": count, "provenance_source": source,
            "provenance_licence": licence, "file": digest.path, "sha256": sha256, "size": size,
            "ingested_at": ingested_at,
        }
        stored = StoredScan(key, digest.vantage, started.date().isoformat(), digest.complete, sha256, scan_row,
                            self.rows, count)
        self.rows += count
        return stored

    def batch(self) -> pa.RecordBatch:
        """The rows as one Arrow batch (array by array: from_pydict would import pandas)."""
        return pa.RecordBatch.from_arrays([arrow_array(self.columns[field.name], field.type)
                                           for field in RESULTS_SCHEMA], schema=RESULTS_SCHEMA)


def arrow_array(values: list[Any], kind: pa.DataType) -> pa.Array:
    """`values` as an Arrow array; a string holding a lone surrogate is stored with U+FFFD."""
    try:
        return pa.array(values, type=kind)
    except UnicodeEncodeError:
        return pa.array([valid_unicode(value) for value in values], type=kind)


def scans_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_arrays([arrow_array([row[field.name] for row in rows], field.type)
                                 for field in SCANS_SCHEMA], schema=SCANS_SCHEMA)


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
