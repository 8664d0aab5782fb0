"""`kzprobe ooni import` end to end through the real CLI: exit codes, the summary, re-imports,
the report contract (schema, licence, provenance, no probe address) and every analyst command
reading the output beside kzprobe's own scans."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from kzprobe.ooni.limits import MAX_PROBLEMS_SHOWN
from kzprobe.report import vocabulary as v
from support.ooni_measurements import ORDA
from support.ooni_qa_cases import CASES
from support.ooni_scenarios import SCENARIOS, accessible_05, dns_nxdomain_04, telegram, tls_timeout_04
from support.reports import cli, dns_observation, kz_report, tcp_observation, tls_observation, write_json
from support.reports import report as kzprobe_report

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "kzprobe" / "data" / "report.schema.json").read_text())


def jsonl_gz(path: Path, measurements: list[dict], extra_lines: list[bytes] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(m).encode() for m in measurements] + list(extra_lines)
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return path


def same_report(measurements: list[dict]) -> list[dict]:
    """The measurements as one OONI report (one report_id), a second apart."""
    for index, data in enumerate(measurements):
        data["report_id"] = "20240301T100000Z_webconnectivity_KZ_9198_n1_SameSession0001"
        data["measurement_uid"] = f"20240301100000.{index:06d}_KZ_webconnectivity_{index:016x}"
        data["measurement_start_time"] = f"2024-03-01 10:00:{index:02d}"
    return measurements


def reports_in(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.json"))}


def test_every_scenario_imports_into_reports_that_validate_against_the_schema(tmp_path):
    measurements = [s.build() for s in SCENARIOS]
    for index, data in enumerate(measurements):
        data["measurement_uid"] = f"20240301100000.{index:06d}_KZ_scenario_{index:016x}"
    source = jsonl_gz(tmp_path / "in" / "2024030110_KZ_mixed.n1.0.jsonl.gz", measurements)
    result = cli("ooni", "import", source, "--output", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    reports = [json.loads(data) for data in reports_in(tmp_path / "out").values()]
    assert sum(len(r["results"]) for r in reports) == len(SCENARIOS)
    for report in reports:
        jsonschema.Draft202012Validator(SCHEMA).validate(report)
        assert report["ooni"]["licence"] == "CC BY-NC-SA 4.0" and "OONI" in report["ooni"]["credit"]
        assert report["vantage"] == {"name": "ooni-AS9198", "asn": "AS9198", "country": "KZ"}
        assert report["connectivity"] == "online"


def test_the_summary_counts_imports_skips_and_reports_and_the_exit_is_zero(tmp_path):
    other = dict(accessible_05(), test_name="dnscheck")
    empty = dict(accessible_05(), test_keys=None)
    source = jsonl_gz(tmp_path / "in.jsonl.gz", [accessible_05(), telegram(None), other, empty])
    result = cli("ooni", "import", source, "--output", tmp_path / "out")
    assert result.exit_code == 0
    assert result.stderr.strip() == (
        f"kzprobe: 4 measurements in 1 files; 2 imported (telegram 1, web_connectivity 1); "
        f"1 skipped, tests kzprobe does not read (dnscheck 1); 1 skipped, unusable (test_keys is null 1); "
        f"2 reports in {tmp_path / 'out'}")


def test_malformed_lines_are_named_the_rest_imported_and_the_exit_is_two(tmp_path):
    source = jsonl_gz(tmp_path / "in.jsonl.gz", [accessible_05()], [b"{not json", b'"a string"'])
    result = cli("ooni", "import", source, "--output", tmp_path / "out")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"kzprobe: {source}:2: malformed JSON")
    assert lines[1] == f"kzprobe: {source}:3: not a JSON object (a JSON str)"
    assert "1 imported" in lines[2] and "2 malformed" in lines[2]
    assert len(reports_in(tmp_path / "out")) == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_past_fifty_malformed_lines_the_rest_are_counted_in_one_line(tmp_path, workers):
    first = jsonl_gz(tmp_path / "in" / "a.jsonl.gz", [accessible_05()], [b"{not json"] * 120)
    jsonl_gz(tmp_path / "in" / "b.jsonl.gz", [tls_timeout_04()], [b'"a string"'] * 5)
    result = cli("ooni", "import", tmp_path / "in", "--output", tmp_path / "out", "--workers", str(workers))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[:MAX_PROBLEMS_SHOWN] == [f"kzprobe: {first}:{n}: malformed JSON (Expecting property name enclosed "
                                          "in double quotes, column 2)" for n in range(2, 2 + MAX_PROBLEMS_SHOWN)]
    assert lines[MAX_PROBLEMS_SHOWN] == "kzprobe: ... and 75 more malformed lines or files"
    assert "2 imported" in lines[-1] and "125 malformed" in lines[-1]


def test_several_workers_name_the_malformed_lines_in_order_and_write_the_same_reports(tmp_path):
    good = same_report([accessible_05(), tls_timeout_04()]) + [telegram(None), dns_nxdomain_04()]
    source = jsonl_gz(tmp_path / "in.jsonl.gz", good, [b"{not json", b"[" * 100_000 + b"]" * 100_000, b'"a string"'])
    runs = [cli("ooni", "import", source, "--output", tmp_path / f"out{n}", "--workers", str(n)) for n in (1, 2)]
    assert [r.exit_code for r in runs] == [2, 2]
    assert runs[1].stderr.replace("out2", "out1") == runs[0].stderr
    named = runs[0].stderr.splitlines()[:3]
    assert named[0].startswith(f"kzprobe: {source}:5: malformed JSON")
    assert named[1] == f"kzprobe: {source}:6: malformed JSON (nested too deeply)"
    assert named[2] == f"kzprobe: {source}:7: not a JSON object (a JSON str)"
    assert reports_in(tmp_path / "out2") == reports_in(tmp_path / "out1")


def test_importing_the_same_data_again_gives_the_same_files(tmp_path):
    source = jsonl_gz(tmp_path / "in.jsonl.gz", same_report([accessible_05(), tls_timeout_04()]) + [telegram(None)])
    assert cli("ooni", "import", source, "--output", tmp_path / "out").exit_code == 0
    first = reports_in(tmp_path / "out")
    again = cli("ooni", "import", source, source, "--output", tmp_path / "out")
    assert again.exit_code == 0 and "2 merged with earlier imports" in again.stderr
    assert reports_in(tmp_path / "out") == first
    assert [p.name for p in (tmp_path / "out").iterdir() if not p.name.endswith(".json")] == []  # no staging left


def test_a_report_spread_over_two_files_is_one_report_whichever_is_imported_first(tmp_path):
    one, two = same_report([accessible_05(), tls_timeout_04()])
    jsonl_gz(tmp_path / "hour10" / "a.jsonl.gz", [one])
    jsonl_gz(tmp_path / "hour11" / "b.jsonl.gz", [two])
    assert cli("ooni", "import", tmp_path / "hour11", "--output", tmp_path / "out").exit_code == 0
    assert cli("ooni", "import", tmp_path / "hour10", "--output", tmp_path / "out").exit_code == 0
    (name, data), = reports_in(tmp_path / "out").items()
    report = json.loads(data)
    assert [r["ooni"]["measurement_uid"] for r in report["results"]] == [one["measurement_uid"], two["measurement_uid"]]
    assert report["ooni"]["files"] == ["a.jsonl.gz", "b.jsonl.gz"]
    assert cli("ooni", "import", tmp_path / "hour10", tmp_path / "hour11", "--output", tmp_path / "all").exit_code == 0
    assert reports_in(tmp_path / "all")[name] == data


def test_the_probe_address_appears_nowhere_in_the_output(tmp_path):
    data = accessible_05()
    data["probe_ip"] = "37.150.10.20"
    request = data["test_keys"]["requests"][0]
    request["response"]["body"] = "<html><title>Your IP is 37.150.10.20</title></html>"
    request["response"]["headers_list"].append(["X-Client-Ip", "37.150.10.20"])
    request["failure"] = "unknown_failure: read tcp 37.150.10.20:51234->185.98.5.151:443: reset"
    source = jsonl_gz(tmp_path / "in.jsonl.gz", [data])
    assert cli("ooni", "import", source, "--output", tmp_path / "out").exit_code in (0, 2)
    (written,) = reports_in(tmp_path / "out").values()
    assert b"37.150.10.20" not in written
    assert b"[scrubbed]" in written


def test_analyst_commands_read_imported_reports_beside_kzprobes_own_scan(tmp_path):
    scan = write_json(tmp_path / "scans" / "almaty.json", kz_report())
    source = jsonl_gz(tmp_path / "in.jsonl.gz", same_report([tls_timeout_04(), dns_nxdomain_04()]) + [telegram(None)])
    assert cli("ooni", "import", source, "--output", tmp_path / "scans" / "ooni").exit_code == 0
    imported = next((tmp_path / "scans" / "ooni").glob("*webconnectivity*.json"))
    shown = cli("show", imported)
    assert shown.exit_code == 0 and "orda-kz" in shown.stdout and "blocked" in shown.stdout
    compared = cli("compare", scan, imported, "--json")
    assert compared.exit_code == 0
    changes = {c["target"]: c["status"] for c in json.loads(compared.stdout)["targets"]}
    assert changes["orda-kz"] == "changed"  # the same target on both sides: tls.reset there, tls.timeout here
    for command in (["summary", tmp_path / "scans"], ["timeline", tmp_path / "scans", "--target", "orda-kz"],
                    ["export", tmp_path / "scans", "--format", "jsonl"]):
        ran = cli(*command)
        assert ran.exit_code == 0, (command, ran.stderr)
        assert "ooni-AS9198" in ran.stdout
    page = cli("report", tmp_path / "scans", "--output", tmp_path / "page.html")
    assert page.exit_code == 0 and "ooni-AS9198" in (tmp_path / "page.html").read_text(encoding="utf-8")
    assert cli("analyse", imported, "--json").exit_code == 0


def test_nothing_to_read_and_an_unwritable_output_are_errors(tmp_path):
    missing = cli("ooni", "import", tmp_path / "nope", "--output", tmp_path / "out")
    assert missing.exit_code == 2 and "no such file or directory" in missing.stderr
    (tmp_path / "file").write_text("")
    blocked = cli("ooni", "import", jsonl_gz(tmp_path / "in.jsonl.gz", [accessible_05()]), "--output",
                  tmp_path / "file" / "out")
    assert blocked.exit_code == 5 and "cannot write" in blocked.stderr


EVERY_MEASUREMENT = [(s.name, s.build) for s in SCENARIOS] + [(f"QA {c.name}", c.build) for c in CASES]


@pytest.mark.parametrize("build", [b for _, b in EVERY_MEASUREMENT], ids=[n for n, _ in EVERY_MEASUREMENT])
def test_analyse_without_a_control_judges_an_import_by_oonis_test_helper_again(tmp_path, build):
    source = jsonl_gz(tmp_path / "in.jsonl.gz", [build()])
    assert cli("ooni", "import", source, "--output", tmp_path / "out").exit_code == 0
    (path,) = (tmp_path / "out").glob("*.json")
    again = cli("analyse", path, "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == json.loads(path.read_text(encoding="utf-8"))


def test_analyse_of_an_import_with_a_control_judges_by_that_control_instead(tmp_path):
    source = jsonl_gz(tmp_path / "in.jsonl.gz", [tls_timeout_04()])
    assert cli("ooni", "import", source, "--output", tmp_path / "out").exit_code == 0
    (path,) = (tmp_path / "out").glob("*.json")
    assert json.loads(path.read_text(encoding="utf-8"))["results"][0]["verdict"] == v.BLOCKED
    # A control from an uncensored vantage, the same hour, that timed out at TLS too: the site is down.
    failing = {"target": {"id": "orda-kz", "url": "https://orda.kz/"}, "verdict": v.DOWN, "blocking": None,
               "evidence": [], "explanation": "", "control": None, "started_at": "2024-03-01T10:00:00Z",
               "duration_ms": 10000.0,
               "observations": {"dns": dns_observation("orda.kz", [ORDA]), "tcp": [tcp_observation("orda.kz", ORDA)],
                                "tls": [tls_observation("orda.kz", ORDA, v.GENERIC_TIMEOUT)]}}
    same_hour = datetime(2024, 3, 1, 10, tzinfo=UTC)
    control = write_json(tmp_path / "control.json", kzprobe_report([failing], vantage="frankfurt-vps",
                                                                   started_at=same_hour))
    judged = cli("analyse", path, "--control", control, "--json")
    assert judged.exit_code == 0, judged.stderr
    (result,) = json.loads(judged.stdout)["results"]
    assert (result["verdict"], result["evidence"][0]) == (v.DOWN, "tls.timeout"), result["explanation"]


def test_the_import_loads_no_network_library(tmp_path):
    """An import touches no network: httpx, dnspython, anyio and aioquic (a third of a second of
    its start, before any process forks) stay unloaded. Python's import log names every module."""
    source = jsonl_gz(tmp_path / "in.jsonl.gz", [accessible_05(), telegram(None)])
    done = subprocess.run([sys.executable, "-m", "kzprobe", "ooni", "import", str(source), "--output",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "kzprobe.ooni.importer" in imported
    assert not {name.split(".")[0] for name in imported} & {"httpx", "httpcore", "dns", "anyio", "aioquic"}
