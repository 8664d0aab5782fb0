"""Reading many reports: time order, lazily, in parallel when many, journals judged or marked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types
from datetime import timedelta

import pytest

from kzprobe.analyst import reading, streaming
from kzprobe.analyst.measures import measures_of
from kzprobe.analyst.scan_order import scan_key
from kzprobe.analyst.service_rows import summarise_endpoints
from kzprobe.report import read as rr
from kzprobe.report.head import peek_header
from support import reports as f
from support.processes import alive_after, children


def _hourly(tmp_path, hours: int) -> list:
    return f.write_january_2022(tmp_path, hours=hours)


def test_scans_come_in_time_order_whatever_the_file_names(tmp_path):
    _hourly(tmp_path, 12)
    times = [scan.started_at.hour for scan in streaming.read_scans([tmp_path], strict=False)]
    assert times == list(range(12))


def test_a_report_whose_header_is_not_up_front_is_still_placed_by_time(tmp_path):
    late = f.kz_report(started_at=f.START + timedelta(hours=5))
    reordered = {"results": late.pop("results"), **late}  # results first: the peek cannot see the time
    f.write_json(tmp_path / "a.json", reordered)
    f.write_json(tmp_path / "b.json", f.kz_report())
    assert peek_header(tmp_path / "a.json") == {}
    keys = sorted(scan_key(tmp_path / name) for name in ("a.json", "b.json"))
    assert [(key.path, key.known) for key in keys] == [(str(tmp_path / "b.json"), True),
                                                       (str(tmp_path / "a.json"), True)]


def test_the_peeked_header_is_what_a_full_read_finds(tmp_path):
    path = f.write_json(tmp_path / "r.json", f.kz_report())
    header = peek_header(path)
    full = rr.read_report(path)
    assert header == {key: value for key, value in full.items() if key != "results" and key in header}
    assert {"started_at", "vantage", "format_version"} <= set(header)


def test_files_are_read_one_by_one_as_the_reader_advances(tmp_path):
    paths = _hourly(tmp_path, 3)
    problems: list[rr.ReportError] = []
    scans = streaming.read_scans([tmp_path], strict=False, on_problem=problems.append)
    assert next(scans).started_at.hour == 0
    paths[2].write_text("[]")  # not read yet: the change is seen when its turn comes
    assert [scan.started_at.hour for scan in scans] == [1]
    assert [p.path for p in problems] == [str(paths[2])]


def test_worker_processes_give_the_same_digests_in_the_same_order(tmp_path, monkeypatch):
    _hourly(tmp_path, 20)
    (tmp_path / "almaty-vps" / "broken.json").write_text("{")
    sequential_problems: list[rr.ReportError] = []
    sequential = list(streaming.read_scans([tmp_path], strict=False, on_problem=sequential_problems.append, workers=1))
    monkeypatch.setattr(streaming, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(streaming, "WINDOW_PER_WORKER", 2)
    parallel_problems: list[rr.ReportError] = []
    parallel = list(streaming.read_scans([tmp_path], strict=False, on_problem=parallel_problems.append, workers=2))
    assert parallel == sequential and len(parallel) == 20
    assert [str(p) for p in parallel_problems] == [str(p) for p in sequential_problems]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: the reading runs without workers")
def test_reading_workers_end_when_the_command_is_killed_outright(tmp_path):
    """`kill -9` of a command reading reports in worker processes (export, whose output goes to
    a pipe nobody reads, so that it stops with its workers started) leaves no worker behind."""
    f.write_january_2022(tmp_path / "reports", hours=24 * 4, vantages=("almaty-vps", "shymkent-beeline"))
    command = [sys.executable, "-m", "kzprobe", "export", str(tmp_path / "reports"), "--no-cache"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(children(process.pid)) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        time.sleep(0.5)  # the workers read their share and wait for the blocked command
        workers = children(process.pid)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert len(workers) >= 2, "the command ended or stopped before its reading workers started"
    assert not alive_after(workers, 30), "a reading worker outlived the command that started it"


def test_strict_in_parallel_raises_the_first_problem(tmp_path, monkeypatch):
    _hourly(tmp_path, 10)
    (tmp_path / "almaty-vps" / "broken.json").write_text("[]")
    monkeypatch.setattr(streaming, "PARALLEL_MIN_FILES", 2)
    with pytest.raises(rr.ReportError, match="broken.json"):
        list(streaming.read_scans([tmp_path], strict=True, workers=2))


def test_a_journal_is_judged_by_the_analysis_when_it_is_installed(tmp_path, monkeypatch):
    calls = []

    def analyse_report(report, control_report):
        calls.append(control_report)
        judged = json.loads(json.dumps(report))
        for result in judged["results"]:
            result.update(verdict="blocked", blocking="tls", evidence=["tls.timeout"], explanation="judged")
        judged["connectivity"] = "online"
        return judged

    monkeypatch.setitem(sys.modules, "kzprobe.analysis", types.SimpleNamespace(analyse_report=analyse_report))
    path = f.write_journal(tmp_path / "s.json.journal.jsonl", f.kz_report())
    scan = reading.read_scan(path)
    assert calls == [None]  # no control: the journal does not carry one
    assert scan.from_journal and not scan.complete and scan.connectivity == "online"
    assert {t.verdict for t in scan.targets} == {"blocked"}


def test_a_journal_stays_unjudged_without_the_analysis(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kzprobe.analysis", None)  # import fails
    scan = reading.read_scan(f.write_journal(tmp_path / "s.json.journal.jsonl", f.kz_report()))
    assert {t.verdict for t in scan.targets} == {None}
    assert scan.counts() == dict.fromkeys(scan.counts(), 0)


def test_an_analysis_that_fails_on_a_journal_is_that_files_problem(tmp_path, monkeypatch):
    def analyse_report(report, control_report):
        raise KeyError("observations")

    monkeypatch.setitem(sys.modules, "kzprobe.analysis", types.SimpleNamespace(analyse_report=analyse_report))
    with pytest.raises(rr.ReportError, match="journal could not be analysed \\(KeyError"):
        reading.read_scan(f.write_journal(tmp_path / "s.json.journal.jsonl", f.kz_report()))


# Observations of someone else's file with wrong types read as "not measured", never as a crash.
ODD_OBSERVATIONS = [
    None, [], "text", {"dns": "x", "tcp": {"failure": None, "duration_ms": "fast"}, "tls": [1, None],
                       "http": [{"status": "200", "timings": []}], "download": {"kilobytes_per_second": float("nan")}},
    {"endpoints": [None, {"endpoint": "x", "tcp": [{"failure": 5}]},
                   {"tcp": {"failure": "connection_reset", "address": 7}}]},
]


@pytest.mark.parametrize("observations", ODD_OBSERVATIONS)
def test_odd_observations_do_not_crash_the_digest(observations):
    measures = measures_of(observations)
    assert measures.http_status is None and measures.download_kbps is None
    summary = summarise_endpoints(observations)
    if summary is not None:
        assert summary.total >= 0 and all(isinstance(f.code, str) for f in summary.failing)


def test_endpoints_prefer_the_ipv4_failure_over_a_missing_ipv6_route():
    observations = {"endpoints": [{
        "endpoint": {"host": "e1.whatsapp.example", "port": 5222},
        "dns": {"hostname": "e1.whatsapp.example", "failure": None, "addresses": ["192.0.2.1", "2001:db8::1"]},
        "tcp": [{"address": "2001:db8::1", "port": 5222, "failure": "network_unreachable"},
                {"address": "192.0.2.1", "port": 5222, "failure": "generic_timeout_error"}],
    }, {
        "endpoint": {"host": "e2.whatsapp.example", "port": 443},
        "dns": {"hostname": "e2.whatsapp.example", "failure": "dns_nxdomain_error", "addresses": []},
    }, {
        "endpoint": {"host": "e3.whatsapp.example", "port": 443},
        "tcp": [{"address": "2001:db8::3", "port": 443, "failure": "network_unreachable"},
                {"address": "192.0.2.3", "port": 443, "failure": None}],
    }]}
    summary = summarise_endpoints(observations)
    assert summary.describe() == (
        "2/3 endpoints fail: tcp.timeout on 192.0.2.1:5222, dns.nxdomain on e2.whatsapp.example"
    )


def _split(address: str, real_again: str | None) -> dict:
    """An endpoint reset after the ClientHello, its neutral name answered, then its real name
    tried again with `real_again` as the failure (None: it validated)."""
    def tls(purpose, failure):
        return {"address": address, "port": 443, "failure": failure, **({"purpose": purpose} if purpose else {})}

    return {"endpoint": {"host": "v.whatsapp.example", "port": 443},
            "tcp": [{"address": address, "port": 443, "failure": None},
                    {"address": address, "port": 443, "failure": None, "purpose": "neutral_sni"},
                    {"address": address, "port": 443, "failure": None, "purpose": "sni_confirm"}],
            "tls_handshakes": [tls(None, "connection_reset"), tls("neutral_sni", None), tls("sni_confirm", real_again)]}


@pytest.mark.parametrize("real_again, described", [
    # The neutral name's answer is not the endpoint working: its own handshake failed, twice.
    ("connection_reset", "1/1 endpoints fail: tls.reset on 192.0.2.9:443"),
    # The real name validated on its second try: a flaky first handshake, the endpoint works.
    (None, "all 1 endpoints work"),
])
def test_endpoints_read_the_sni_split_as_extra_attempts(real_again, described):
    assert summarise_endpoints({"endpoints": [_split("192.0.2.9", real_again)]}).describe() == described


def test_a_second_copy_of_a_scan_is_skipped_with_a_note_even_when_strict(tmp_path):
    f.write_json(tmp_path / "a" / "scan.json", f.kz_report())
    f.write_json(tmp_path / "b" / "copy.json", f.kz_report())  # e.g. a synced directory
    notes: list[rr.ReportError] = []
    scans = list(streaming.read_scans([tmp_path], strict=True, on_problem=notes.append))
    assert len(scans) == 1
    assert [(n.path, n.reason) for n in notes] == [(str(tmp_path / "b" / "copy.json"),
                                                    f"a copy of {tmp_path / 'a' / 'scan.json'} (same scan_id)")]
