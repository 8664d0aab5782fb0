"""One kzprobe report per OONI report: the measured results analysed by kzprobe's own rules,
with OONI's control as the control, written atomically under a name that re-imports reuse.

A report is `ooni-<report_id>.json` (or `ooni-file-<hash>.json` for measurements without a
report_id, one per input file). Importing again merges: the results already in that file and
the new ones, one per measurement (by measurement_uid), are analysed together and the file is
replaced, so importing the same data twice gives the same file and overlapping downloads do not
duplicate anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson

from kzprobe.analysis import analyse_scan
from kzprobe.ooni.fields import iso
from kzprobe.ooni.limits import MAX_FILES_NAMED
from kzprobe.ooni.staging import Staged
from kzprobe.report.observations import measured_part
from kzprobe.report.read import ReportError, read_report
from kzprobe.report.write import ReportWriteError, build_report, scan_header

LICENCE: Final = "CC BY-NC-SA 4.0"
LICENCE_URL: Final = "https://creativecommons.org/licenses/by-nc-sa/4.0/"
CREDIT: Final = ("Measurements by OONI, the Open Observatory of Network Interference (https://ooni.org), "
                 "published under CC BY-NC-SA 4.0; converted and analysed by kzprobe. Credit OONI and "
                 "share anything derived from this file under the same licence.")
CONTROL: Final = "OONI test helper (each measurement's test_keys.control)"
CONTROL_RESOLVER: Final = "DNS over HTTPS from the probe (web_connectivity 0.5, when OONI Probe made the lookup)"
# OONI Probe's TCP, TLS and HTTP timeouts in Web Connectivity 0.5 (ooni/probe-cli
# internal/experiment/webconnectivitylte): the closest to kzprobe's --timeout.
OONI_TIMEOUT_S: Final = 10.0
_SAFE_NAME: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def report_name(group: str, report_id: str | None) -> str:
    if report_id and _SAFE_NAME.match(report_id) and not report_id.startswith("."):
        return f"ooni-{report_id}.json"
    return f"ooni-file-{hashlib.sha256(group.encode()).hexdigest()[:16]}.json"


def _group_hash(group: str) -> str:
    return hashlib.sha256(group.encode()).hexdigest()[:32]


def _key(result: dict) -> str:
    provenance = found if isinstance(found := result.get("ooni"), dict) else {}
    key = provenance.get("measurement_key")
    return key if isinstance(key, str) else ""


def _earlier(path: Path, group: str) -> tuple[list[dict], list[str]]:
    """The measured results and input files of an earlier import of the same report."""
    if not path.exists():
        return [], []
    try:
        report = read_report(path)
    except ReportError:
        return [], []
    block = found if isinstance(found := report.get("ooni"), dict) else {}
    if block.get("group") != _group_hash(group):
        return [], []
    kept = ("target", "observations", "started_at", "duration_ms", "ooni")
    results = [{k: r[k] for k in kept if k in r} for r in report["results"]
               if isinstance(r, dict) and _key(r) and all(k in r for k in kept)]
    files = [name for name in block.get("files") or [] if isinstance(name, str)]
    return results, files


def _unique_ids(results: list[dict]) -> None:
    """Target ids unique in the report: a URL measured twice gets "#2", "#3" after its id."""
    seen: dict[str, int] = {}
    for result in results:
        target = result["target"]
        base = str(target.get("id", "")).split("#", 1)[0] or "target"
        seen[base] = seen.get(base, 0) + 1
        target["id"] = base if seen[base] == 1 else f"{base}#{seen[base]}"


def control_report(results: list[dict]) -> dict[str, Any]:
    """OONI's per-measurement controls as one control report for kzprobe's analysis.

    Built from what each result keeps under `ooni.control`, so the import and a later
    `kzprobe analyse` of the written report judge against the same control."""
    controls = []
    for result in results:
        provenance = found if isinstance(found := result.get("ooni"), dict) else {}
        target = found if isinstance(found := result.get("target"), dict) else {}
        if provenance.get("test_name") != "web_connectivity":
            continue
        control = found if isinstance(found := provenance.get("control"), dict) else {}
        observations = found if isinstance(found := control.get("observations"), dict) else {}
        # A measurement whose helper failed gets a control that measured nothing: control.failed.
        controls.append({"target": {"id": target.get("id"), "url": target.get("url")}, "observations": observations})
    return {"connectivity": "online", "results": controls}


def stored_control(report: dict[str, Any]) -> dict[str, Any] | None:
    """The control an imported report was judged with (OONI's test helper, kept in each result),
    None for a report that is not an OONI import: what `kzprobe analyse` uses when it is given no
    --control, so that re-analysing an import gives its verdicts again (docs/ooni.md)."""
    if not isinstance(report.get("ooni"), dict) or not isinstance(report.get("results"), list):
        return None
    return control_report([r for r in report["results"] if isinstance(r, dict)])


def _outside_contact(results: list[dict], vantage: dict[str, Any]) -> str | None:
    """How the probe is known to have been online: its test helper answered, or it looked up
    its network before measuring (OONI Probe does both over the internet, abroad)."""
    answered = sum(1 for r in results if isinstance(r["ooni"].get("control"), dict))
    if answered:
        return (f"OONI's test helper, outside the country, answered the probe for {answered} of these "
                "measurements")
    if vantage.get("asn"):
        return (f"OONI Probe reached the internet to learn its network ({vantage['asn']}) and to reach OONI's "
                "backend before it measured")
    return None


def build_import_report(group: str, info: dict[str, Any], results: list[dict]) -> dict[str, Any]:
    """The kzprobe report of one OONI report's measured results (each with its `ooni` field)."""
    results = sorted(results, key=lambda r: (r["started_at"], _key(r)))
    _unique_ids(results)
    vantage = info["vantage"]
    files = list(info.get("files") or [])
    settings = {
        "resolver": "system (OONI Probe)",
        "control_resolver": CONTROL_RESOLVER if any("control_dns" in r["observations"] for r in results) else None,
        "control": CONTROL if any(r["ooni"].get("test_name") == "web_connectivity" for r in results) else None,
        "timeout": OONI_TIMEOUT_S, "concurrency": 1, "ca_file": None,
        "targets": files[:MAX_FILES_NAMED] + ([f"... and {len(files) - MAX_FILES_NAMED} more files"]
                                              if len(files) > MAX_FILES_NAMED else []),
    }
    started = results[0]["started_at"]
    finished = max(_end(r) for r in results)
    header = scan_header(f"ooni-{_group_hash(group)}", started, vantage, settings)
    measured = [measured_part(r) for r in results]
    analysis = analyse_scan(measured, control_report(results), outside_contact=_outside_contact(results, vantage))
    report = build_report(header, measured, analysis, complete=True, finished_at=finished)
    for written, result in zip(report["results"], results, strict=True):
        written["ooni"] = result["ooni"]
    tests: dict[str, int] = {}
    for result in results:
        tests[result["ooni"]["test_name"]] = tests.get(result["ooni"]["test_name"], 0) + 1
    report["ooni"] = {
        "report_id": info.get("report_id"), "group": _group_hash(group),
        "network_name": info.get("network_name"), "measurements": len(results), "tests": tests,
        "files": files,
        "licence": LICENCE, "licence_url": LICENCE_URL, "credit": CREDIT,
    }
    return report


def _end(result: dict) -> str:
    start = datetime.fromisoformat(result["started_at"])  # written by fields.iso: "YYYY-MM-DDTHH:MM:SSZ"
    return iso(start + timedelta(milliseconds=float(result.get("duration_ms") or 0)))


def write_import_report(output: Path, group: str, info: dict[str, Any], staged: list[Staged]) -> tuple[Path, bool]:
    """Write (or merge into) the group's report; (its path, whether it already existed)."""
    path = output / report_name(group, info.get("report_id"))
    earlier, files = _earlier(path, group)
    merged = {_key(r): r for r in earlier}
    merged.update({_key(s.result): s.result for s in staged})
    info = {**info, "files": sorted(set(files) | set(info.get("files") or []))}
    report = build_import_report(group, info, list(merged.values()))
    # The staged observations' JSON, by the identity of the observations it encodes: written as is.
    encoded = {id(s.result["observations"]): s.observations_json for s in staged if s.observations_json is not None}
    _replace(path, report, encoded)
    return path, bool(earlier)


_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# A report is written a few results at a time (a result with its page is up to ~150 KB of
# JSON): a handful of writes per report rather than one per result.
_WRITE_BUFFER_BYTES: Final = 256 * 1024


def _json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as report.write's pieces, by orjson (five times faster on a result with
    its page); what orjson refuses (an integer past 64 bits) the standard library writes."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is one
        return _ENCODER.encode(value).encode("utf-8")


def _result_json(result: dict[str, Any], encoded: dict[int, bytes]) -> bytes:
    """_json(result), with the observations' JSON taken from `encoded` when it holds them: the
    same bytes, since orjson made them from an equal value."""
    observations = encoded.get(id(result.get("observations")))
    if observations is None:
        return _json(result)
    head: dict[str, Any] = {}
    tail: dict[str, Any] = {}
    part = head
    for key, value in result.items():
        if key == "observations":
            part = tail
        else:
            part[key] = value
    try:
        before, after = orjson.dumps(head), orjson.dumps(tail)
    except TypeError:  # what orjson refuses: the standard library writes the whole result, as _json does
        return _json(result)
    return (before[:-1] + (b"," if head else b"") + b'"observations":' + observations
            + (b"," + after[1:] if tail else b"}"))


def _json_pieces(report: dict[str, Any], encoded: dict[int, bytes]) -> Iterator[bytes]:
    """The report in pieces, one per result: memory for one result's text at a time."""
    yield b"{"
    for index, (key, value) in enumerate(report.items()):
        yield (b"," if index else b"") + _json(key) + b":"
        if isinstance(value, list):
            yield b"["
            for position, item in enumerate(value):
                text = _result_json(item, encoded) if key == "results" and isinstance(item, dict) else _json(item)
                yield (b"," if position else b"") + text
            yield b"]"
        else:
            yield _json(value)
    yield b"}"


def _replace(path: Path, report: dict[str, Any], encoded: dict[int, bytes]) -> None:
    """Write beside `path` and rename over it: a reader sees the old file or the new one.

    Unlike a scan's report, not synced to disk one by one (an import writes thousands; a sync
    each cost most of its time): the importer syncs once at the end, and an import cut short is
    simply run again."""
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb", buffering=_WRITE_BUFFER_BYTES) as handle:
                for piece in _json_pieces(report, encoded):
                    handle.write(piece)
                handle.write(b"\n")
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
    except OSError as error:
        raise ReportWriteError(f"cannot write the report {path}: {error.strerror or error}") from error

