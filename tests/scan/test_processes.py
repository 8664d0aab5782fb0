"""Measuring in several processes (scan/processes.py): the same results as one process, every
target exactly once, a stop or a broken journal leaves no process behind, a resumed scan
completes. End to end through the real CLI on loopback, and measure_in_processes directly."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import trustme

from kzprobe.errors import ExitCode
from kzprobe.probes.dns import parse_resolver
from kzprobe.report.write import ReportWriteError, journal_path_for, result_line
from kzprobe.scan import limits
from kzprobe.scan import processes as scan_processes
from kzprobe.scan import run as scan
from kzprobe.scan.processes import (
    TARGETS_PER_PROCESS,
    MeasuringProcessError,
    deal,
    measure_in_processes,
    process_count,
    usable_cores,
)
from kzprobe.scan.run import ScanOptions, scheduling_order
from kzprobe.targets import Target
from support.loopback import DnsTable, LoopbackServers
from support.loopback_cli import SCHEMA, kzprobe

SITES = "127.0.0.2"  # the web servers, and the resolver measured
CONTROL = "127.0.0.3"  # the control resolver: it knows the name the measured resolver hides
SILENT = "127.0.0.9"  # a listener that never answers the ClientHello
HEALTHY_SITES = 12


def page(host: str, path: str):
    if path.endswith("/moved"):
        return 301, {"Location": "/"}, b""
    if path.startswith("/separators"):
        # U+2028 LINE SEPARATOR and U+0085 NEXT LINE: common in real pages' scripts, and
        # written raw (not escaped) in a journal line.
        body = "<html><title>separators</title><script>var s='a\u2028b\u0085c\u2029d';</script></html>"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, body.encode()
    return 200, {"Content-Type": "text/html; charset=utf-8"}, f"<html><title>{host} home</title></html>".encode()


def closed_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]  # nothing listens once closed: connections are refused


class Lab:
    def __init__(self, directory: Path, servers: LoopbackServers, control: LoopbackServers, silent_port: int):
        self.directory, self.servers, self.control, self.silent_port = directory, servers, control, silent_port
        self.refused_port = closed_port(SITES)

    def targets(self) -> list[tuple[str, str, str | None]]:
        """(id, url, baseline) for one scenario each, in list order."""
        https, http = self.servers.https_port, self.servers.http_port
        rows = [("home", f"https://home.test:{https}/", "domestic"),
                ("world", f"https://world.test:{https}/", "international")]
        rows += [(f"site-{i:02}", f"https://site-{i:02}.test:{https}/", None) for i in range(HEALTHY_SITES)]
        rows += [
            ("redirect", f"http://site-00.test:{http}/moved", None),
            ("refused", f"https://{SITES}:{self.refused_port}/", None),
            ("gone", f"https://gone.test:{https}/", None),  # NXDOMAIN for both resolvers: down
            ("censored", f"https://censored.test:{https}/", None),  # NXDOMAIN for the measured one only
            ("wrong-cert", f"https://wrong-cert.test:{https}/", None),
        ]
        return rows

    def silent(self, count: int) -> list[tuple[str, str, str | None]]:
        return [(f"silent-{i}", f"https://{SILENT}:{self.silent_port}/{i}", None) for i in range(count)]

    def target_file(self, directory: Path, rows) -> Path:
        lines = ["targets:"]
        for target_id, url, baseline in rows:
            lines += [f"  - id: {target_id}", f"    url: {url}"] + ([f"    baseline: {baseline}"] if baseline else [])
        path = directory / "targets.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def scan_args(self, targets: Path, output: Path, *, processes: int, timeout: float) -> list[str]:
        return ["scan", "--targets", str(targets), "--resolver", f"{SITES}:{self.servers.dns_port}",
                "--control-resolver", f"{CONTROL}:{self.control.dns_port}", "--ca-file",
                str(self.directory / "ca.pem"), "--timeout", f"{timeout:g}", "--processes", str(processes),
                "--output", str(output), "--vantage", "loopback-test", "--no-geo"]

    def options(self, timeout: float) -> ScanOptions:
        return ScanOptions(resolver=parse_resolver(f"{SITES}:{self.servers.dns_port}"),
                           control_resolver=parse_resolver(f"{CONTROL}:{self.control.dns_port}"),
                           ca_file=str(self.directory / "ca.pem"), timeout=timeout)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    directory = tmp_path_factory.mktemp("processes-lab")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    names = ["home.test", "world.test", "censored.test"] + [f"site-{i:02}.test" for i in range(HEALTHY_SITES)]
    ca.issue_cert(*names).configure_cert(server_context)  # wrong-cert.test is not on it
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    known = {name: [SITES] for name in names + ["wrong-cert.test"]}
    measured = DnsTable({**known, "gone.test": "NXDOMAIN", "censored.test": "NXDOMAIN"})
    control = DnsTable({**known, "gone.test": "NXDOMAIN"})
    with socket.socket() as silent:
        silent.bind((SILENT, 0))
        silent.listen(128)  # the kernel completes the handshake; nobody ever reads the ClientHello
        with LoopbackServers(SITES, measured, page, server_context) as servers, \
                LoopbackServers(CONTROL, control, page, None) as control_servers:
            yield Lab(directory, servers, control_servers, silent.getsockname()[1])


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kzprobe", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def journal_results(journal: Path) -> list[dict]:
    return [json.loads(line) for line in journal.read_text().splitlines()[1:]]


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # field 4, after "pid (comm) state"
                found.add(int(entry.name))
    return found


def outcome(result: dict) -> tuple:
    """What the analysis concluded, and the observed facts it rests on."""
    observations = result["observations"]
    return (result["verdict"], result["blocking"], tuple(result["evidence"]),
            observations.get("dns", {}).get("failure"), tuple(observations.get("dns", {}).get("addresses", [])),
            tuple(t["failure"] for t in observations.get("tcp", [])),
            tuple(t["failure"] for t in observations.get("tls", [])),
            tuple(h.get("status") for h in observations.get("http", [])))


# --- the CLI: two processes measure what one does -------------------------------------------

@pytest.fixture(scope="module")
def one_and_two(lab, tmp_path_factory):
    """The same list scanned with --processes 1 and --processes 2 (at the same time)."""
    directory = tmp_path_factory.mktemp("one-and-two")
    targets = lab.target_file(directory, lab.targets())
    runs = {}
    for processes in (1, 2):
        output = directory / f"p{processes}" / "scan.json"
        runs[processes] = (output, start(lab.scan_args(targets, output, processes=processes, timeout=2), directory))
    reports = {}
    for processes, (output, proc) in runs.items():
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == ExitCode.OK, stderr
        reports[processes] = (json.loads(output.read_text()), output)
    return reports


def test_two_processes_reach_the_same_verdicts_on_the_same_evidence(lab, one_and_two):
    one, two = one_and_two[1][0], one_and_two[2][0]
    assert [outcome(r) for r in two["results"]] == [outcome(r) for r in one["results"]]
    assert two["summary"] == one["summary"] and two["connectivity"] == one["connectivity"] == "online"


@pytest.mark.parametrize("target_id, verdict, blocking, evidence", [
    ("site-00", "reachable", None, []),
    ("redirect", "inconclusive", None, ["control.missing"]),  # plain HTTP, no control scan
    ("refused", "inconclusive", None, ["control.missing", "tcp.refused"]),
    ("gone", "down", None, ["dns.nxdomain"]),  # the control resolver does not know it either
    ("censored", "blocked", "dns", ["dns.nxdomain"]),
    ("wrong-cert", "inconclusive", None, ["control.missing", "tls.invalid_cert"]),
])
def test_each_scenario_reads_as_it_should_with_two_processes(one_and_two, target_id, verdict, blocking, evidence):
    # The comparison above only means something if the lab's scenarios give different verdicts.
    result = next(r for r in one_and_two[2][0]["results"] if r["target"]["id"] == target_id)
    assert (result["verdict"], result["blocking"], result["evidence"]) == (verdict, blocking, evidence), \
        result["explanation"]


def test_each_scenario_was_observed_as_built(one_and_two):
    by_id = {r["target"]["id"]: r for r in one_and_two[2][0]["results"]}
    assert by_id["gone"]["observations"]["dns"]["failure"] == "dns_nxdomain_error"
    assert by_id["refused"]["observations"]["tcp"][0]["failure"] == "connection_refused"
    assert [h["status"] for h in by_id["redirect"]["observations"]["http"]] == [301, 200]


def test_two_process_report_is_complete_valid_and_in_list_order(lab, one_and_two):
    document, output = one_and_two[2]
    jsonschema.validate(document, SCHEMA)
    assert document["complete"] is True
    assert document["settings"]["processes"] == 2 and one_and_two[1][0]["settings"]["processes"] == 1
    assert [r["target"]["id"] for r in document["results"]] == [row[0] for row in lab.targets()]
    assert not journal_path_for(output).exists()
    assert not list(output.parent.glob("*.journal.jsonl"))


# --- the CLI: a stop relayed to the measuring processes, then resumed -----------------------

def test_sigterm_stops_every_measuring_process_and_resume_completes(lab, tmp_path):
    rows = lab.targets()[:2 + HEALTHY_SITES] + lab.silent(6)
    targets = lab.target_file(tmp_path, rows)
    output = tmp_path / "out" / "scan.json"
    journal = journal_path_for(output)
    # A timeout longer than the stop's grace: the silent targets are still waiting when cut.
    proc = start(lab.scan_args(targets, output, processes=2, timeout=8), tmp_path)
    try:
        deadline = time.monotonic() + 20
        children: set[int] = set()
        while time.monotonic() < deadline:
            children |= children_of(proc.pid)
            healthy_done = journal.exists() and journal.read_text().count("\n") >= 1 + 2 + HEALTHY_SITES
            if healthy_done and len(children) == 2:
                break
            time.sleep(0.05)
        assert len(children) == 2, "the scan did not fork two measuring processes"
        assert proc.poll() is None, "the scan ended before it could be stopped"
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == ExitCode.INTERRUPTED, stderr
    # The stop was relayed: the measuring processes used their grace and exited, well before
    # the parent's last resort (SIGKILL after _KILL_AFTER_S) or the silent targets' timeout.
    assert stopped_in < scan_processes._KILL_AFTER_S - 1.5, stopped_in
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "a measuring process outlived the scan"

    first = json.loads(output.read_text())
    assert first["complete"] is False
    measured = [r["target"]["id"] for r in first["results"]]
    assert set(measured) == {row[0] for row in rows[:2 + HEALTHY_SITES]}  # the silent ones were cut short
    kept = {r["target"]["id"]: r for r in journal_results(journal)}
    assert len(kept) == len(journal_results(journal))  # nothing journalled twice
    for result in first["results"]:
        assert {k: result[k] for k in ("observations", "started_at", "duration_ms")} == \
            {k: kept[result["target"]["id"]][k] for k in ("observations", "started_at", "duration_ms")}

    # Resumed from the report (its journal is found beside it), with a short timeout.
    resumed = kzprobe(*lab.scan_args(targets, tmp_path / "unused.json", processes=2, timeout=1),
                      "--resume", str(output), cwd=tmp_path)
    assert resumed.returncode == ExitCode.OK, resumed.stderr
    final = json.loads(output.read_text())
    assert final["complete"] is True and final["scan_id"] == first["scan_id"]
    assert [r["target"]["id"] for r in final["results"]] == [row[0] for row in rows]
    before = {r["target"]["id"]: r["started_at"] for r in first["results"]}
    assert all(r["started_at"] == before[r["target"]["id"]] for r in final["results"] if r["target"]["id"] in before)
    assert final["settings"]["processes"] == 2
    assert not journal.exists()


# --- measure_in_processes directly ---------------------------------------------------------

def web_targets(rows) -> list[Target]:
    return [Target(id=target_id, url=url, baseline=baseline) for target_id, url, baseline in rows]


@pytest.fixture
def forked(monkeypatch) -> list[int]:
    """The pids of the measuring processes forked during the test."""
    pids: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return pids


def assert_reaped(pids: list[int]) -> None:
    assert pids, "no measuring process was forked"
    for pid in pids:
        with pytest.raises(ChildProcessError):  # waited for already: no zombie left
            os.waitpid(pid, os.WNOHANG)


def test_every_target_is_recorded_once_with_its_journal_line(lab, forked):
    targets = web_targets(lab.targets())
    recorded: list[tuple[dict, str]] = []
    finished = measure_in_processes(lab.options(2), targets, 8, lambda r, line: recorded.append((r, line)), None, 3)
    assert finished is True
    assert sorted(r["target"]["id"] for r, _ in recorded) == sorted(t.id for t in targets)
    for result, line in recorded:
        assert line == result_line(result)  # the journal gets exactly what one process would write
    assert len(forked) == 3
    assert_reaped(forked)


def test_a_journal_that_cannot_be_written_stops_the_measuring_processes(lab, forked, monkeypatch):
    monkeypatch.setattr(scan, "STOP_GRACE_S", 0.3)  # inherited by the forked processes
    targets = web_targets(lab.targets() + lab.silent(4))
    calls: list[str] = []

    def record(result: dict, line: str) -> None:
        calls.append(result["target"]["id"])
        if len(calls) == 3:
            raise ReportWriteError("cannot append to the journal: No space left on device")

    began = time.monotonic()
    with pytest.raises(ReportWriteError, match="No space left"):
        measure_in_processes(lab.options(30), targets, 8, record, None, 2)
    # Not stopped, the silent targets would wait out their 30 s handshake timeout, or the
    # parent's SIGKILL after _KILL_AFTER_S: stopped, they get their 0.3 s grace.
    assert time.monotonic() - began < scan_processes._KILL_AFTER_S / 2
    assert len(calls) == 3  # nothing is recorded once the journal has failed
    assert_reaped(forked)


def test_a_measuring_process_that_fails_before_measuring_is_an_error(lab, forked, monkeypatch, capfd):
    def broken_kit(options):
        raise RuntimeError("probe kit broken on purpose")

    monkeypatch.setattr(scan_processes, "build_probe_kit", broken_kit)  # fork copies the patched module
    recorded = []
    with pytest.raises(MeasuringProcessError, match="exit status 70"):
        measure_in_processes(lab.options(2), web_targets(lab.targets()), 8,
                             lambda r, line: recorded.append(r), None, 2)
    assert recorded == []
    assert "probe kit broken on purpose" in capfd.readouterr().err  # its traceback, for the bug report
    assert_reaped(forked)


def test_a_crash_in_one_process_keeps_what_the_others_measured(lab, forked, monkeypatch):
    targets = web_targets(lab.targets())
    real_run_scan = scan.run_scan

    async def run_scan(kit, share, *args):
        if any(t.id == "site-03" for t in share):
            raise RuntimeError("a bug while measuring")
        return await real_run_scan(kit, share, *args)

    monkeypatch.setattr(scan, "run_scan", run_scan)  # inherited by the forked processes
    recorded: list[str] = []
    with pytest.raises(MeasuringProcessError):
        measure_in_processes(lab.options(2), targets, 8, lambda r, line: recorded.append(r["target"]["id"]), None, 2)
    healthy_share = next(s for s in deal(targets, 2, 2, None) if all(t.id != "site-03" for t in s))
    assert sorted(recorded) == sorted(t.id for t in healthy_share)  # in the journal, for --resume
    assert_reaped(forked)


def test_an_unreadable_result_from_a_measuring_process_is_an_error(lab, forked, monkeypatch):
    real_line = scan_processes.result_line
    monkeypatch.setattr(scan_processes, "result_line",
                        lambda result: "{not json\n" if result["target"]["id"] == "site-03" else real_line(result))
    with pytest.raises(MeasuringProcessError, match="unreadable result"):
        measure_in_processes(lab.options(2), web_targets(lab.targets()), 8, lambda r, line: None, None, 2)
    assert_reaped(forked)


def test_a_measuring_failure_ends_the_scan_job_with_a_way_to_resume(lab, forked, monkeypatch, tmp_path):
    from kzprobe.errors import ExitCode
    from kzprobe.scan.job import run_scan_job
    from kzprobe.scan.processes import MeasuringProcessError
    from kzprobe.scan.settings import resolve_settings

    monkeypatch.setattr(scan_processes, "build_probe_kit", lambda options: 1 / 0)
    targets = lab.target_file(tmp_path, lab.targets())
    settings = resolve_settings({"targets": [targets], "output_dir": tmp_path / "out", "processes": 2, "geo": False,
                                 "resolver": f"{SITES}:{lab.servers.dns_port}", "control_resolver": "none",
                                 "ca_file": lab.directory / "ca.pem", "timeout": 2.0}, None)
    with pytest.raises(MeasuringProcessError) as caught:
        run_scan_job(settings)
    assert caught.value.exit_code == ExitCode.FAILED and "--resume" in str(caught.value)
    assert_reaped(forked)


def test_a_page_with_unicode_line_separators_is_recorded_like_any_other(lab, forked):
    # A journal line carries U+2028, U+2029 and U+0085 raw (ensure_ascii=False): split on
    # str.splitlines, such a result was lost and the scan still said it was complete.
    https = lab.servers.https_port
    rows = [(f"separators-{i}", f"https://site-{i:02}.test:{https}/separators", None) for i in range(4)]
    rows += lab.targets()[2:8]
    targets = web_targets(rows)
    recorded: list[tuple[dict, str]] = []
    finished = measure_in_processes(lab.options(2), targets, 8, lambda r, line: recorded.append((r, line)), None, 2)
    assert_reaped(forked)
    assert sorted(r["target"]["id"] for r, _ in recorded) == sorted(t.id for t in targets) and finished is True
    for result, line in recorded:
        assert line == result_line(result)
        if result["target"]["id"].startswith("separators"):
            assert "a\u2028b\u0085c\u2029d" in result["observations"]["http"][-1]["body"]


# --- the pure parts: how many processes, and who measures what ------------------------------

@pytest.mark.parametrize("requested, targets, cores, expected", [
    # --processes N / processes: N is obeyed, but never more processes than targets or the cap
    (2, 24, 1, 2),
    (4, 3, 8, 3),
    (1, 10_000, 8, 1),
    (limits.MAX_PROCESSES + 8, 10_000, 2, limits.MAX_PROCESSES),
    (3, 0, 8, 1),
    # 0 (auto): one per core, and one per TARGETS_PER_PROCESS targets at most
    (0, 24, 8, 1),
    (0, TARGETS_PER_PROCESS - 1, 8, 1),
    (0, 2 * TARGETS_PER_PROCESS - 1, 8, 1),
    (0, 2 * TARGETS_PER_PROCESS, 8, 2),
    (0, 4 * TARGETS_PER_PROCESS, 4, 4),
    (0, 4 * TARGETS_PER_PROCESS, 1, 1),
    (0, 100_000, 64, limits.MAX_PROCESSES),
    (0, 0, 8, 1),
])
def test_process_count(requested, targets, cores, expected):
    assert process_count(requested, targets, cores) == expected


def test_auto_process_count_uses_the_cores_this_process_may_run_on():
    assert usable_cores() == len(os.sched_getaffinity(0))
    assert process_count(0, 100 * TARGETS_PER_PROCESS) == min(usable_cores(), limits.MAX_PROCESSES)


def listed(count: int, baselines: int = 0) -> list[Target]:
    kinds = ["domestic", "international"]
    targets = [Target(id=f"base-{i}", url=f"https://base-{i}.test/", baseline=kinds[i % 2]) for i in range(baselines)]
    return targets + [Target(id=f"t-{i:03}", url=f"https://t-{i:03}.test/") for i in range(count)]


@pytest.mark.parametrize("count, baselines, processes", [(24, 2, 2), (101, 4, 3), (7, 0, 7), (250, 5, 16)])
def test_deal_gives_every_target_to_exactly_one_process_in_even_shares(count, baselines, processes):
    targets = listed(count, baselines)
    shares = deal(targets, processes, 10.0, None)
    assert len(shares) == processes
    assert sorted(t.id for share in shares for t in share) == sorted(t.id for t in targets)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


@pytest.mark.parametrize("baselines, processes", [(2, 2), (3, 4), (4, 2), (5, 3)])
def test_deal_spreads_the_baselines(baselines, processes):
    shares = deal(listed(40, baselines), processes, 10.0, None)
    per_share = [sum(1 for t in share if t.baseline) for share in shares]
    assert sum(per_share) == baselines and max(per_share) - min(per_share) <= 1
    for share in shares:  # each process measures its baselines first
        flags = [bool(t.baseline) for t in share]
        assert flags == sorted(flags, reverse=True)


def test_deal_keeps_the_scheduling_order_and_spreads_the_slow_targets():
    targets = listed(60, 3)
    # The previous scan: the last six targets waited out a timeout.
    previous_ms = {t.id: 200.0 for t in targets} | {t.id: 10_000.0 + i for i, t in enumerate(targets[-6:])}
    order = [t.id for t in scheduling_order(targets, 10.0, previous_ms)]
    shares = deal(targets, 3, 10.0, previous_ms)
    for share in shares:
        ids = [t.id for t in share]
        assert ids == [i for i in order if i in set(ids)]  # a subsequence of the scheduling order
    slow = {t.id for t in targets[-6:]}
    assert [sum(1 for t in share if t.id in slow) for share in shares] == [2, 2, 2]
    for share in shares:  # and each process starts its slow ones right after its baselines
        plain = [t.id for t in share if not t.baseline]
        assert set(plain[:2]) <= slow
