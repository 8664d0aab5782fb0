"""`kzprobe analyse` through the real CLI: a scan behind a captive portal tells the user to log in
and scan again; a scan whose HTTPS an antivirus re-signed tells the user to turn its HTTPS scanning
off; an old control gives `control.stale`, and `--control-max-age` moves the bound."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from kzprobe.report import vocabulary as v
from support.captive_portal import portal_scan
from support.local_inspection import AV_ROOT
from support.local_inspection import scan as inspected_scan
from support.observations import control_of, dns, result, tcp, web

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "kzprobe" / "data" / "report.schema.json").read_text())


def _report(results: list[dict], **settings) -> dict:
    return {"format": "kzprobe-report", "format_version": 1, "scan_id": "s", "complete": True,
            "started_at": "2026-11-22T10:00:00Z", "finished_at": "2026-11-22T10:01:00Z",
            "software": {"name": "kzprobe", "version": "test"},
            "vantage": {"name": "cafe", "asn": None, "country": None},
            "settings": {"resolver": "system", "control_resolver": None, "control": None, "timeout": 10,
                         "concurrency": 64, "ca_file": None, "targets": ["t.yaml"], **settings},
            "connectivity": "online", "baselines": None,
            "summary": dict.fromkeys(v.VERDICTS, 0), "results": [
                {**r, "verdict": "reachable", "blocking": None, "evidence": [], "explanation": "", "control": None}
                for r in results]}


def kzprobe(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kzprobe", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_analyse_behind_a_captive_portal_says_to_log_in(tmp_path):
    path = tmp_path / "cafe.json"
    path.write_text(json.dumps(_report(portal_scan())))
    out = tmp_path / "again.json"
    run = kzprobe("analyse", str(path), "--output", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "captive portal" in run.stderr and "log in to the network" in run.stderr
    shown = " ".join(run.stdout.split())  # show's banner, once, and the targets listed compactly
    assert "behind a captive portal" in shown and "then scan again" in shown
    again = json.loads(out.read_text())
    jsonschema.validate(again, SCHEMA)
    assert again["connectivity"] == v.CAPTIVE_PORTAL
    assert {r["verdict"] for r in again["results"]} == {"inconclusive"}


def test_analyse_of_a_scan_an_antivirus_inspected_says_to_turn_its_https_scanning_off(tmp_path):
    path = tmp_path / "home.json"
    path.write_text(json.dumps(_report(inspected_scan(6))))
    out = tmp_path / "again.json"
    run = kzprobe("analyse", str(path), "--output", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    advice = " ".join(run.stderr.split())
    assert "HTTPS from this machine is inspected" in advice and AV_ROOT in advice, advice
    assert "Turn the HTTPS scanning off for kzprobe" in advice
    again = json.loads(out.read_text())
    jsonschema.validate(again, SCHEMA)
    assert again["baselines"]["local_inspection"]["root"] == AV_ROOT
    https = [r for r in again["results"] if r["target"]["url"].startswith("https:")]
    assert {(r["verdict"], r["evidence"][0]) for r in https} == {("inconclusive", "tls.local_inspection")}


def test_analyse_of_an_ordinary_scan_gives_no_inspection_advice(tmp_path):
    path = tmp_path / "home.json"
    path.write_text(json.dumps(_report(inspected_scan(0, 6, baselines_resigned=False))))
    run = kzprobe("analyse", str(path), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "inspected" not in run.stderr


def test_analyse_with_an_old_control_says_stale_unless_the_bound_allows_it(tmp_path):
    silent = result({"dns": dns(), "tcp": [tcp(failure=v.GENERIC_TIMEOUT)], "tls": [], "http": []})
    working = result(web(host="intl.example", address="88.198.2.10"), ident="intl", host="intl.example")
    path = tmp_path / "scan.json"
    path.write_text(json.dumps(_report([working, silent])))
    control = _report(control_of(result(web()))["results"]) | {"started_at": "2026-11-21T22:00:00Z"}
    for item in control["results"]:
        item["started_at"] = "2026-11-21T22:00:00Z"  # twelve hours before the scan
    control_path = tmp_path / "control.json"
    control_path.write_text(json.dumps(control))
    for extra, verdict, evidence in (([], "inconclusive", "control.stale"),
                                     (["--control-max-age", "1d"], "blocked", None)):
        out = tmp_path / f"out{len(extra)}.json"
        run = kzprobe("analyse", str(path), "--control", str(control_path), "--output", str(out), *extra, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        got = json.loads(out.read_text())["results"][1]
        assert got["verdict"] == verdict, got["explanation"]
        assert got["control"]["age_s"] == 12 * 3600.0
        assert evidence is None or evidence in got["evidence"]
    bad = kzprobe("analyse", str(path), "--control-max-age", "soon", cwd=tmp_path)
    assert bad.returncode == 2 and "--control-max-age" in bad.stderr
