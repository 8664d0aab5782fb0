"""Rows out of the store: `export --store` (streamed in batches) and scans as digests (compare,
the HTML report), in the order the files' commands read them: scan time, vantage, file, then
report order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pyarrow as pa

from kzprobe.analyst.export import COLUMNS, ScanRows, format_row_dicts
from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.reading import Provenance, ScanDigest, TargetDigest, iso
from kzprobe.analyst.store import layout
from kzprobe.analyst.store.engine import Engine
from kzprobe.analyst.store.selection import epoch_us_to_time, result_keys, scan_where, target_where
from kzprobe.analyst.store.views import sql_string
from kzprobe.analyst.streaming import ScanFilter

ROW_ORDER: Final = "scan_started_at, vantage, file, position"
_SCAN_COLUMNS: Final = ("scan_key", "scan_id", "started_at", "finished_at", "complete", "from_journal", "vantage",
                        "asn", "country", "connectivity", "software", "provenance_source", "provenance_licence", "file")
_TARGET_COLUMNS: Final = ("scan_key", "target", "category", "url", "keyword", "name", "verdict", "blocking", "evidence",
                          "explanation", "target_started_at", "duration_ms", "queued_ms")


def export_sql(engine: Engine, scan_filter: ScanFilter, target_filter: TargetFilter) -> str:
    """The query of `export --store`: export's columns, in export's order."""
    where = f"{scan_where(engine, scan_filter)} AND {target_where(engine, target_filter, scan_filter, verdicts=True)}"
    chosen = engine.results(result_keys(engine, scan_filter))
    return f"SELECT {', '.join(COLUMNS)} FROM {chosen} AS chosen WHERE {where} ORDER BY {ROW_ORDER}"


def export_chunks(engine: Engine, sql: str, format: str) -> Iterator[ScanRows]:
    """CSV or JSON Lines text of the rows, a batch at a time (export's own formatting)."""
    for batch in engine.batches(sql):
        yield format_row_dicts((_export_row(row) for row in batch.to_pylist()), format)


def _export_row(row: dict[str, Any]) -> dict[str, Any]:
    row["scan_started_at"] = iso(row["scan_started_at"])
    row["evidence"] = list(row["evidence"] or ())
    return row


def export_batches(engine: Engine, sql: str) -> Iterator[pa.RecordBatch]:
    yield from engine.batches(sql)


def find_scans(engine: Engine, name: str) -> list[str]:
    """The scan keys a name given to `compare --store` means: a scan id, a source file (as
    ingested, or its file name alone), or a scan key."""
    quoted, tail = sql_string(name), sql_string("/" + name)
    rows = engine.rows(
        f"SELECT scan_key FROM scans WHERE scan_key = {quoted} OR scan_id = {quoted} OR file = {quoted} "
        f"OR right(file, {len(name) + 1}) = {tail} ORDER BY started_at, vantage, file")
    return list(dict.fromkeys(row[0] for row in rows))


def store_digests(engine: Engine, scan_filter: ScanFilter = ScanFilter(), keys: list[str] | None = None,
                  ) -> Iterator[ScanDigest]:
    """The chosen scans as digests (without figures or endpoint summaries), in reading order."""
    epoch = engine.dialect.epoch_us
    where = scan_where(engine, scan_filter, time_column="started_at")
    if keys is not None:
        where += " AND scan_key IN (" + (", ".join(sql_string(key) for key in keys) or "''") + ")"
    columns = [epoch(name) if name in ("started_at", "finished_at") else name for name in _SCAN_COLUMNS]
    scans = engine.rows(f"SELECT {', '.join(columns)}, day FROM scans WHERE {where} "
                        "ORDER BY started_at, vantage, file")
    rows_where = scan_where(engine, scan_filter)
    partitions = result_keys(engine, scan_filter)
    if keys is not None:
        rows_where += " AND scan_key IN (" + (", ".join(sql_string(key) for key in keys) or "''") + ")"
        partitions = [layout.results_partition(row[6], row[-1].isoformat()) for row in scans]
    targets = _targets_by_scan(engine, f"SELECT {', '.join(_TARGET_COLUMNS)} FROM {engine.results(partitions)} "
                                       f"AS chosen WHERE {rows_where} ORDER BY {ROW_ORDER}")
    pending: tuple[str, list[TargetDigest]] | None = next(targets, None)
    for row in scans:
        fields = dict(zip(_SCAN_COLUMNS, row[:-1], strict=True))
        results: list[TargetDigest] = []
        if pending is not None and pending[0] == fields["scan_key"]:
            results = pending[1]
            pending = next(targets, None)
        source, licence = fields["provenance_source"], fields["provenance_licence"]
        yield ScanDigest(
            path=fields["file"], from_journal=bool(fields["from_journal"]), scan_id=fields["scan_id"],
            started_at=epoch_us_to_time(fields["started_at"]),
            finished_at=epoch_us_to_time(fields["finished_at"]) if fields["finished_at"] is not None else None,
            complete=bool(fields["complete"]), vantage=fields["vantage"], asn=fields["asn"], country=fields["country"],
            connectivity=fields["connectivity"], software=fields["software"], targets=tuple(results),
            provenance=Provenance(source, licence) if source is not None else None,
        )


def _targets_by_scan(engine: Engine, sql: str) -> Iterator[tuple[str, list[TargetDigest]]]:
    """(scan key, its targets) for consecutive runs of rows of one scan."""
    current: str | None = None
    targets: list[TargetDigest] = []
    for batch in engine.batches(sql):
        for row in batch.to_pylist():
            if row["scan_key"] != current:
                if current is not None:
                    yield current, targets
                current, targets = row["scan_key"], []
            targets.append(TargetDigest(
                id=row["target"], category=row["category"], url=row["url"], name=row["name"], verdict=row["verdict"],
                blocking=row["blocking"], evidence=tuple(row["evidence"] or ()), explanation=row["explanation"],
                started_at=row["target_started_at"], duration_ms=row["duration_ms"], endpoints=None, measures=None,
                queued_ms=row["queued_ms"], keyword=row["keyword"],
            ))
    if current is not None:
        yield current, targets
