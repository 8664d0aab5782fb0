"""End to end through the real CLI: loopback DNS, HTTP and HTTPS servers, a report that validates."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import jsonschema
import pytest

from kzprobe.errors import ExitCode
from support.loopback_cli import ADDRESS, SCHEMA, kzprobe, scan_args, write_targets


@pytest.fixture(scope="module")
def report(lab):
    directory, servers = lab
    output = directory / "report.json"
    proc = kzprobe(*scan_args(directory, servers, output), cwd=directory)
    assert proc.returncode == ExitCode.OK, proc.stderr
    return json.loads(output.read_text()), proc, output


def result(report: dict, target_id: str) -> dict:
    return next(r for r in report["results"] if r["target"]["id"] == target_id)


def test_report_validates_against_the_schema(report):
    document, _, _ = report
    jsonschema.validate(document, SCHEMA)
    assert document["format"] == "kzprobe-report" and document["format_version"] == 1
    assert document["complete"] is True
    assert sum(document["summary"].values()) == len(document["results"]) == 4


def test_https_target_observations_show_each_step(report):
    observations = result(report[0], "news-test")["observations"]
    assert observations["dns"]["addresses"] == [ADDRESS]
    assert observations["tcp"][0]["failure"] is None and observations["tcp"][0]["address"] == ADDRESS
    tls = observations["tls"][0]
    assert tls["verified"] and tls["sni"] == "news.test" and tls["peer_chain"][0]["sans"][0] == "news.test"
    http = observations["http"][-1]
    assert http["status"] == 200 and http["title"] == "news.test home" and http["address"] == ADDRESS


def test_redirect_is_followed_hop_by_hop(report):
    hops = result(report[0], "news-http")["observations"]["http"]
    assert [h["status"] for h in hops] == [301, 200]
    assert hops[1]["url"].endswith("/")


def test_idn_host_is_resolved_in_punycode(report):
    observations = result(report[0], "idn")["observations"]
    assert observations["dns"]["hostname"] == "xn--80aswg.test"
    assert observations["tls"][0]["sni"] == "xn--80aswg.test" and observations["tls"][0]["verified"]


def test_name_broken_for_everyone_is_not_blocked(report):
    gone = result(report[0], "gone-test")
    assert gone["observations"]["dns"]["failure"] == "dns_nxdomain_error"
    assert gone["verdict"] != "blocked"


def test_every_result_carries_a_verdict_and_an_explanation(report):
    for item in report[0]["results"]:
        assert item["verdict"] in ("reachable", "blocked", "throttled", "down", "inconclusive")
        assert item["explanation"]
        if item["verdict"] == "blocked":
            assert item["evidence"] and item["blocking"]


def test_no_terminal_leaves_only_a_summary_line_and_no_journal(report):
    _, proc, output = report
    assert proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "4 targets" in proc.stderr
    assert not list(output.parent.glob("*.journal.jsonl"))


def test_json_flag_prints_the_report(lab, tmp_path):
    directory, servers = lab
    proc = kzprobe(*scan_args(directory, servers, tmp_path / "r.json"), "--json", cwd=directory)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["scan_id"] == json.loads((tmp_path / "r.json").read_text())["scan_id"]


def test_doh_control_resolver(lab, tmp_path):
    directory, servers = lab
    args = scan_args(directory, servers, tmp_path / "r.json")
    doh = f"https://{ADDRESS}:{servers.https_port}/dns-query"
    args[args.index("--control-resolver") + 1] = doh
    proc = kzprobe(*args, cwd=directory)
    assert proc.returncode == 0, proc.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["settings"]["control_resolver"] == doh
    control = result(document, "news-test")["observations"]["control_dns"]
    assert control["resolver"] == doh and control["addresses"] == [ADDRESS]
    assert result(document, "gone-test")["observations"]["control_dns"]["failure"] == "dns_nxdomain_error"


def test_bad_target_file_scans_nothing(lab, tmp_path):
    directory, servers = lab
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  - url: ftp://x.test/\n    colour: red\n")
    proc = kzprobe("scan", "--targets", str(bad), "--output", str(tmp_path / "r.json"), "--no-geo", cwd=tmp_path)
    assert proc.returncode == ExitCode.BAD_INPUT
    assert "bad.yaml" in proc.stderr and "colour" in proc.stderr and "url" in proc.stderr
    assert not list(tmp_path.glob("r.json*"))


def test_sigterm_leaves_an_incomplete_report(lab, tmp_path):
    directory, servers = lab
    # A listener that never answers: TCP completes in the kernel, the ClientHello waits forever.
    with socket.socket() as silent:
        silent.bind(("127.0.0.9", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        silent_targets = "\n".join(f"  - id: silent-{i}\n    url: https://127.0.0.9:{port}/{i}" for i in range(3))
        targets = write_targets(tmp_path, servers, silent_targets)
        output = tmp_path / "r.json"
        args = scan_args(directory, servers, output)
        args[args.index("--targets") + 1] = str(targets)
        args[args.index("--timeout") + 1] = "20"
        proc = subprocess.Popen([sys.executable, "-m", "kzprobe", *args], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        journal = output.with_suffix(".journal.jsonl")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not journal.exists() or journal.read_text().count("\n") < 5):
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED, stderr
    document = json.loads(output.read_text())
    assert document["complete"] is False
    measured = {r["target"]["id"] for r in document["results"]}
    assert {"news-test", "news-http", "idn", "gone-test"} <= measured
    assert not measured & {"silent-0", "silent-1", "silent-2"}
    assert journal.exists()  # kept for --resume
