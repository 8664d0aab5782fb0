"""One OONI measurement in, one kzprobe measured result (with its control and provenance) out.

The envelope (ooni/spec data-formats/df-000-base) gives the vantage (probe_cc, probe_asn,
probe_network_name - never probe_ip), the time, the report it belongs to and OONI's ids; the
test_keys are converted by the test's own module. What a result keeps of OONI's own record is
under its `ooni` field (docs/report-format.md): ids, test, software, OONI's verdict fields, the
control as converted, and what could not be read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from kzprobe.analysis.names import url_host
from kzprobe.ooni import fields as f
from kzprobe.ooni.limits import MAX_URL_CHARS
from kzprobe.ooni.messengers import MESSENGERS, service_result
from kzprobe.ooni.privacy import Cleaner
from kzprobe.ooni.target_ids import TargetNames
from kzprobe.ooni.test_helper import control_failure, control_observations
from kzprobe.ooni.web_connectivity import web_observations

WEB_CONNECTIVITY: Final = "web_connectivity"
SUPPORTED_TESTS: Final = (WEB_CONNECTIVITY, *MESSENGERS)
_ID_TEXT: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_ASN: Final = re.compile(r"AS[0-9]{1,10}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
# OONI's own verdict fields kept beside kzprobe's (scalars only), per test.
VERDICT_FIELDS: Final = {
    WEB_CONNECTIVITY: ("blocking", "accessible", "dns_consistency", "dns_experiment_failure",
                       "http_experiment_failure", "control_failure", "status_code_match", "body_length_match",
                       "headers_match", "title_match", "x_blocking_flags", "x_null_null_flags", "x_dns_flags"),
    "telegram": ("telegram_tcp_blocking", "telegram_http_blocking", "telegram_web_status", "telegram_web_failure"),
    "whatsapp": ("whatsapp_endpoints_status", "whatsapp_endpoints_blocked", "registration_server_status",
                 "registration_server_failure", "whatsapp_web_status", "whatsapp_web_failure"),
    "signal": ("signal_backend_status", "signal_backend_failure"),
    "facebook_messenger": ("facebook_tcp_blocking", "facebook_dns_blocking", *(
        f"facebook_{e}_{k}" for e in ("b_api", "b_graph", "edge", "external_cdn", "scontent_cdn", "star", "stun")
        for k in ("dns_consistent", "reachable"))),
}


class NotAMeasurement(ValueError):
    """A JSON object that is not an OONI measurement at all: malformed input."""


@dataclass(frozen=True)
class Skipped:
    """A measurement deliberately not imported, and why (a short phrase, counted in the summary)."""

    reason: str
    other_test: str | None = None  # the test's name, when the test is one kzprobe does not read


@dataclass
class Converted:
    group: str  # one report per group: the report_id, or the file for measurements without one
    report_id: str | None
    key: str  # identifies the measurement across imports (measurement_uid when OONI gave one)
    vantage: dict[str, Any]
    network_name: str | None
    started: datetime
    finished: datetime
    result: dict[str, Any]  # target, observations, started_at, duration_ms, ooni


def _id_text(value: Any) -> str | None:
    return value if isinstance(value, str) and _ID_TEXT.match(value) else None


def _verdict_fields(test_name: str, test_keys: dict) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name in VERDICT_FIELDS[test_name]:
        value = test_keys.get(name)
        if isinstance(value, (bool, int, float)) or value is None:
            kept[name] = value if not isinstance(value, float) or value == value else None
        elif isinstance(value, str):
            kept[name] = value[:300]
        elif isinstance(value, list):
            kept[name] = f.list_of_text(value, 32)
    return {k: v for k, v in kept.items() if k in test_keys}


def vantage_of(data: dict) -> tuple[dict[str, Any], str | None]:
    asn = data.get("probe_asn")
    asn = asn if isinstance(asn, str) and _ASN.fullmatch(asn) and asn != "AS0" else None
    country = data.get("probe_cc")
    country = country if isinstance(country, str) and _COUNTRY.fullmatch(country) and country != "ZZ" else None
    network = f.text(data.get("probe_network_name"), 200) or None
    return {"name": f"ooni-{asn or 'unknown-network'}", "asn": asn, "country": country}, network


@functools.lru_cache(maxsize=64)
def _file_name(source: str) -> str:
    """The input file's name (without its directories), once per file: every result names it."""
    return Path(source).name


def _measurement_key(data: dict, source: str, line: int) -> str:
    uid = _id_text(data.get("measurement_uid"))
    if uid:
        return uid
    identity = [data.get(k) if isinstance(data.get(k), (str, int, float)) else None
                for k in ("report_id", "test_name", "input", "measurement_start_time", "test_runtime")]
    identity += [_file_name(source), line]
    return "sha256:" + hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]


def convert(data: dict, source: str, line: int, names: TargetNames, *, surrogates: bool = True) -> Converted | Skipped:
    """The measured result of one measurement, or why it is skipped.

    Raises NotAMeasurement for an object that is not an OONI measurement (no test_name, no
    start time): that is malformed input, not a measurement to skip. `surrogates`: the text
    may hold lone UTF-16 surrogates (source.Measurement.surrogates)."""
    test_name = data.get("test_name")
    if not isinstance(test_name, str) or not test_name:
        raise NotAMeasurement("not an OONI measurement (no \"test_name\")")
    started = f.ooni_time(data.get("measurement_start_time"))
    if started is None:
        raise NotAMeasurement("not an OONI measurement (no \"measurement_start_time\" of the form YYYY-MM-DD HH:MM:SS)")
    if test_name not in SUPPORTED_TESTS:
        return Skipped("a test kzprobe does not read", other_test=test_name[:60])
    test_keys = data.get("test_keys")
    if not isinstance(test_keys, dict):
        return Skipped("test_keys is null" if test_keys is None else "test_keys is not an object")
    version = f.text(data.get("test_version"), 40)
    started_at = f.iso(started)
    notes = f.Notes()
    cleaner = Cleaner(data.get("probe_ip"), surrogates)
    if test_name == WEB_CONNECTIVITY:
        url = f.text(data.get("input"), MAX_URL_CHARS)
        if not url or url_host(url) is None or not url.lower().startswith(("http://", "https://")):
            return Skipped("no http(s) URL as input")
        target = names.web_target(url)
        observations = web_observations(test_keys, url, version, notes)
        control = control_observations(test_keys, url, url_host(url) or "")
    else:
        target, observations = service_result(test_name, test_keys, notes)
        control = None
    runtime = f.number(data.get("test_runtime"))
    duration = round(runtime * 1000, 1) if runtime is not None and 0 <= runtime < 86400 else 0.0
    report_id = _id_text(data.get("report_id"))
    key = _measurement_key(data, source, line)
    provenance: dict[str, Any] = {
        "measurement_uid": _id_text(data.get("measurement_uid")),
        "measurement_key": key,
        "report_id": report_id,
        "test_name": test_name,
        "test_version": version,
        "software": " ".join(x for x in (f.text(data.get("software_name"), 60),
                                         f.text(data.get("software_version"), 40)) if x) or None,
        "measurement_start_time": started_at,
        "input": f.text(data.get("input"), MAX_URL_CHARS),
        "source": f"{_file_name(source)}:{line}",
        "verdict": _verdict_fields(test_name, test_keys),
    }
    if test_name == WEB_CONNECTIVITY:
        provenance["control_failure"] = control_failure(test_keys)
        provenance["control"] = {"observations": control} if control is not None else None
    if notes.items:
        provenance["dropped"] = notes.items
    result = {"target": target, "observations": observations, "started_at": started_at,
              "duration_ms": duration, "ooni": provenance}
    vantage, network = vantage_of(data)
    group = f"report:{report_id}" if report_id else f"file:{Path(source).resolve()}"
    return Converted(group=group, report_id=report_id, key=key, vantage=vantage,
                     network_name=network, started=started, finished=started + timedelta(milliseconds=duration),
                     result=cleaner.clean(result))
