"""kzprobe/data/report.schema.json: a valid draft 2020-12 schema that says what
docs/report-format.md says."""

from __future__ import annotations

import copy
import json
from importlib import resources

import jsonschema
import pytest

from kzprobe.report import vocabulary as v
from support import reports as f


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(resources.files("kzprobe").joinpath("data/report.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _errors(validator, instance) -> list[str]:
    return [error.message for error in validator.iter_errors(instance)]


def test_the_schema_is_a_valid_draft_2020_12_schema(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_schema_vocabularies_are_those_of_vocabulary_py(schema):
    result = schema["$defs"]["result"]["properties"]
    assert result["verdict"]["enum"] == list(v.VERDICTS)
    assert result["blocking"]["enum"] == [*v.BLOCKING_LAYERS, None]
    assert result["evidence"]["items"]["enum"] == list(v.EVIDENCE_CODES)
    assert schema["$defs"]["failure"]["anyOf"][1]["enum"] == list(v.FAILURES)
    assert schema["properties"]["connectivity"]["enum"] == [*v.CONNECTIVITY, None]


@pytest.mark.parametrize(
    "name, report",
    [
        ("kazakhstan scan with every kind of verdict and a messenger", f.kz_report()),
        ("lab scan", f.lab_report()),
        ("offline hour of January 2022", f.january_2022_scan(f.START.replace(day=7))),
        ("interrupted scan", f.kz_report(complete=False)),
    ],
)
def test_full_reports_validate(validator, name, report):
    assert _errors(validator, report) == []


def _broken(change) -> dict:
    report = f.kz_report()
    change(report)
    return report


# One row per rule of the format: a report that breaks it, and words of the error.
BROKEN = [
    ("foreign format", lambda r: r.update(format="ooni"), "'kzprobe-report' was expected"),
    ("future version", lambda r: r.update(format_version=2), "1 was expected"),
    ("complete report without finish time", lambda r: r.update(finished_at=None), "None is not of type 'string'"),
    ("unknown verdict", lambda r: r["results"][0].update(verdict="banned"), "'banned' is not one of"),
    ("blocked without a layer", lambda r: r["results"][0].update(blocking=None), "None is not one of"),
    ("reachable with a layer", lambda r: r["results"][2].update(blocking="tls"), "None was expected"),
    ("unknown evidence code", lambda r: r["results"][0].update(evidence=["tls.banned"]), "'tls.banned' is not one of"),
    ("failure outside the vocabulary", lambda r: r["results"][0]["observations"]["tls"][0].update(failure="boom"),
     "is not valid under any of the given schemas"),
    ("target without id", lambda r: r["results"][0]["target"].pop("id"), "'id' is a required property"),
    ("summary with an extra verdict", lambda r: r["summary"].update(banned=1), "Additional properties"),
    ("wrong ASN form", lambda r: r["vantage"].update(asn="9198"), "does not match"),
    ("settings without resolver", lambda r: r["settings"].pop("resolver"), "'resolver' is a required property"),
    ("port out of range", lambda r: r["results"][0]["observations"]["tcp"][0].update(port=70000), "70000"),
    ("results not a list", lambda r: r.update(results={}), "is not of type 'array'"),
]


@pytest.mark.parametrize("name, change, message", BROKEN, ids=[row[0] for row in BROKEN])
def test_broken_reports_do_not_validate(validator, name, change, message):
    errors = _errors(validator, _broken(change))
    assert any(message in error for error in errors), errors


def test_unknown_failures_with_their_text_are_valid(validator):
    report = _broken(
        lambda r: r["results"][0]["observations"]["tls"][0].update(failure="unknown_failure: odd alert 80")
    )
    assert _errors(validator, report) == []


def test_journal_lines_validate_against_their_definitions(schema):
    lines = [json.loads(line) for line in f.journal_lines(f.kz_report())]
    scan_line = {**schema, "$ref": "#/$defs/journal_scan_line"}
    result_line = {**schema, "$ref": "#/$defs/journal_result_line"}
    for key in ("allOf", "required", "properties", "if", "then", "type"):
        scan_line.pop(key, None)
        result_line.pop(key, None)
    jsonschema.Draft202012Validator(scan_line).validate(lines[0])
    results = jsonschema.Draft202012Validator(result_line)
    for line in lines[1:]:
        results.validate(line)
    with pytest.raises(jsonschema.ValidationError):
        results.validate({**lines[1], "type": "scan"})


def test_what_the_runtime_reader_accepts_from_a_fixture_the_schema_accepts_too(validator, tmp_path):
    from kzprobe.report import read as rr

    report = copy.deepcopy(f.kz_report())
    assert _errors(validator, rr.read_report(f.write_json(tmp_path / "r.json", report))) == []
