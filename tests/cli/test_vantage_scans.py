"""A vantage point's scan through the real CLI on loopback: interruption and resume, the output
lock, unwritable output directories, latest.json and retention."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kzprobe.errors import ExitCode
from support.loopback_cli import kzprobe, scan_args, write_targets
from support.tmpfs import needs_namespaces, run_on_tmpfs


@pytest.fixture
def silent_port():
    """A listener that never answers: TCP completes in the kernel, the ClientHello waits forever."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.9", 0))
        silent.listen(32)
        yield silent.getsockname()[1]


def slow_scan_args(lab, tmp_path: Path, silent_port: int, output: Path, timeout: str) -> list[str]:
    directory, servers = lab
    extra = "\n".join(f"  - id: silent-{i}\n    url: https://127.0.0.9:{silent_port}/{i}" for i in range(3))
    args = scan_args(directory, servers, output)
    args[args.index("--targets") + 1] = str(write_targets(tmp_path, servers, extra))
    args[args.index("--timeout") + 1] = timeout
    return args


def start_and_wait_for_journal(args: list[str], cwd: Path, journal: Path, lines: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "kzprobe", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not journal.exists() or journal.read_text().count("\n") < lines):
        time.sleep(0.05)
    return proc


def interrupted_scan(lab, tmp_path: Path, silent_port: int) -> tuple[Path, Path, int]:
    """A slow scan stopped by SIGTERM once four results are in: (report, journal, exit code)."""
    output = tmp_path / "out" / "scan.json"
    journal = output.with_suffix(".journal.jsonl")
    proc = start_and_wait_for_journal(slow_scan_args(lab, tmp_path, silent_port, output, "20"), tmp_path, journal, 5)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    return output, journal, proc.returncode


def test_interrupted_scan_is_resumed_to_a_complete_report(lab, tmp_path, silent_port):
    output, journal, returncode = interrupted_scan(lab, tmp_path, silent_port)
    assert returncode == ExitCode.INTERRUPTED
    first = json.loads(output.read_text())
    assert first["complete"] is False and len(first["results"]) == 4

    resumed = kzprobe(*slow_scan_args(lab, tmp_path, silent_port, tmp_path / "unused.json", "1"),
                      "--resume", str(journal), cwd=tmp_path)
    assert resumed.returncode == ExitCode.OK, resumed.stderr
    final = json.loads(output.read_text())
    assert final["complete"] is True and final["scan_id"] == first["scan_id"]
    assert sorted(r["target"]["id"] for r in final["results"]) == sorted(
        ["news-test", "news-http", "idn", "gone-test", "silent-0", "silent-1", "silent-2"])
    # the four results measured before the interruption were kept, not measured again
    before = {r["target"]["id"]: r["started_at"] for r in first["results"]}
    assert all(r["started_at"] == before[r["target"]["id"]] for r in final["results"] if r["target"]["id"] in before)
    assert not journal.exists()
    assert json.loads((output.parent / "latest.json").read_text())["scan_id"] == final["scan_id"]


def test_a_scan_is_resumed_only_with_the_resolvers_it_was_started_with(lab, tmp_path, silent_port):
    # One report, one method: the rest of the list measured through another resolver (or
    # judged against another control) would be described by the first part's settings.
    _, journal, _ = interrupted_scan(lab, tmp_path, silent_port)
    args = slow_scan_args(lab, tmp_path, silent_port, tmp_path / "unused.json", "1")
    args[args.index("--control-resolver") + 1] = "none"
    refused = kzprobe(*args, "--resume", str(journal), cwd=tmp_path)
    assert refused.returncode == ExitCode.BAD_INPUT and "control_resolver" in refused.stderr
    assert journal.exists()  # untouched: the same options resume it


def test_a_control_file_is_named_in_the_report_without_its_directory(lab, tmp_path):
    # The directory of a file would carry the volunteer's user name into a shared report.
    directory, servers = lab
    control = tmp_path / "home-of-someone" / "control.json"
    control.parent.mkdir()
    assert kzprobe(*scan_args(directory, servers, control), cwd=tmp_path).returncode == 0
    output = tmp_path / "with-control.json"
    assert kzprobe(*scan_args(directory, servers, output), "--control", str(control), cwd=tmp_path).returncode == 0
    assert json.loads(output.read_text())["settings"]["control"] == "control.json"


def test_resuming_a_complete_scan_is_refused(lab, tmp_path):
    directory, servers = lab
    output = tmp_path / "done.json"
    assert kzprobe(*scan_args(directory, servers, output), cwd=tmp_path).returncode == 0
    again = kzprobe(*scan_args(directory, servers, tmp_path / "x.json"), "--resume", str(output), cwd=tmp_path)
    assert again.returncode == ExitCode.BAD_INPUT and "complete" in again.stderr


def test_second_scan_into_the_same_directory_is_refused_and_touches_nothing(lab, tmp_path, silent_port):
    directory, servers = lab
    output = tmp_path / "out" / "first.json"
    journal = output.with_suffix(".journal.jsonl")
    first = start_and_wait_for_journal(slow_scan_args(lab, tmp_path, silent_port, output, "20"), tmp_path, journal, 5)
    try:
        before = sorted(p.name for p in output.parent.iterdir())
        journal_before = journal.read_bytes()
        started = time.monotonic()
        second = kzprobe(*scan_args(directory, servers, output.parent / "second.json"), cwd=tmp_path)
        assert second.returncode == ExitCode.LOCKED
        assert time.monotonic() - started < 10
        assert "scan" in second.stderr.lower()
        assert sorted(p.name for p in output.parent.iterdir()) == before
        assert journal.read_bytes()[: len(journal_before)] == journal_before
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert json.loads(output.read_text())["complete"] is False


SCAN_ON_TMPFS = """
import json, subprocess, sys
proc = subprocess.run([sys.executable, "-m", "kzprobe", *json.loads(sys.argv[1] if len(sys.argv) > 1 else {args!r})],
                      capture_output=True, text=True)
print(json.dumps({{"code": proc.returncode, "stderr": proc.stderr}}))
"""


@needs_namespaces
@pytest.mark.parametrize("case", ["read-only", "full"])
def test_unwritable_output_directory_is_a_clear_error(lab, tmp_path, case):
    directory, servers = lab
    mount = tmp_path / "mnt"
    args = scan_args(directory, servers, mount / "out" / "scan.json")
    fill = f" && (dd if=/dev/zero of={mount}/fill bs=1k count=512 2>/dev/null || true)"
    setup = f"mkdir -p {mount}/out" + ("" if case == "read-only" else fill)
    outcome = run_on_tmpfs(mount, SCAN_ON_TMPFS.format(args=json.dumps(args)), size_kib=64, setup=setup,
                           read_only=case == "read-only")
    assert outcome["code"] == ExitCode.CANNOT_WRITE, outcome["stderr"]
    assert outcome["stderr"].count("\n") == 1 and str(mount) in outcome["stderr"]


def test_retention_keeps_the_newest_scans_and_latest(lab, tmp_path):
    directory, servers = lab
    out = tmp_path / "results"
    ids = []
    for _ in range(3):
        args = scan_args(directory, servers, tmp_path / "unused.json")
        i = args.index("--output")
        del args[i:i + 2]
        proc = kzprobe(*args, "--output-dir", str(out), "--keep", "2", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        ids.append(json.loads((out / "latest.json").read_text())["scan_id"])
        time.sleep(1.1)  # report names carry the start second
    reports = sorted(p for p in out.glob("loopback-test-*.json"))
    assert len(reports) == 2
    assert {json.loads(p.read_text())["scan_id"] for p in reports} == set(ids[1:])
    assert json.loads((out / "latest.json").read_text())["scan_id"] == ids[-1]
    # The index collectors read lists what retention kept, with each report's size and hash.
    listed = json.loads((out / "index.json").read_text())["reports"]
    assert [(e["name"], e["size"], e["sha256"]) for e in listed] == [
        (p.name, p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in reports]


def test_next_scan_knows_the_previous_durations(lab, tmp_path):
    from kzprobe.scan.job import DURATIONS_NAME, read_durations

    directory, servers = lab
    out = tmp_path / "results"
    args = scan_args(directory, servers, tmp_path / "unused.json")
    i = args.index("--output")
    del args[i:i + 2]
    assert kzprobe(*args, "--output-dir", str(out), cwd=tmp_path).returncode == 0
    durations = read_durations(out)
    latest = json.loads((out / "latest.json").read_text())
    assert durations == {r["target"]["id"]: r["duration_ms"] for r in latest["results"]}
    (out / DURATIONS_NAME).write_text('{"x": "not a number", "y": -1, "z": 3}')
    assert read_durations(out) == {"z": 3.0}
    (out / DURATIONS_NAME).write_text("[1, 2")
    assert read_durations(out) == {}
