"""How fast the analyst commands read a year of hourly scans: wall time and peak memory.

Generates N reports (default 10,000: ~14 months of hourly scans from one vantage, or a month
from 14) of T targets each (default 80), with observations shaped like real ones (DNS, TCP,
TLS, one HTTP hop with a short body, a download for some), into a temporary directory; then runs
`kzprobe summary`, `kzprobe timeline` and `kzprobe export` through the real CLI in subprocesses
(first parsing every file, then with the digest cache filled) and prints each one's wall time
and peak RSS (the largest process: the CLI or one of its reading workers). Nothing touches the
network.

    python benchmarks/read_reports.py [--reports 10000] [--targets 80] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

VERDICTS = [  # (verdict, blocking, evidence, failure at tls) with rough real-world frequencies
    ("reachable", None, [], None, 0.80),
    ("blocked", "tls", ["tls.timeout"], "generic_timeout_error", 0.08),
    ("blocked", "dns", ["dns.nxdomain"], None, 0.03),
    ("throttled", "tls", ["throughput.low"], None, 0.03),
    ("down", None, ["control.failed", "tcp.refused"], None, 0.03),
    ("inconclusive", None, ["control.missing", "tls.timeout"], "generic_timeout_error", 0.03),
]
VANTAGES = ["almaty-vps", "astana-home", "shymkent-mobile", "aktau-vps", "oral-home"]


# Chance per scan that a target's state changes: blocking lasts days to years, not an hour.
STATE_CHANGE = 0.01


def _result(index: int, moment: str, state: tuple, rng: random.Random) -> dict:
    verdict, blocking, evidence, tls_failure, _ = state
    host = f"site{index}.example"
    address = f"198.51.100.{index % 250 + 1}"
    ok = tls_failure is None and verdict != "down"
    observations: dict = {
        "dns": {"hostname": host, "resolver": "system (192.0.2.53)", "addresses": [address, "2001:db8::1"],
                "failure": None, "duration_ms": round(rng.uniform(5, 60), 1),
                "queries": [{"qtype": q, "rcode": "NOERROR", "answers": [a], "cnames": [], "failure": None,
                             "duration_ms": 12.0} for q, a in (("A", address), ("AAAA", "2001:db8::1"))]},
        "tcp": [{"hostname": host, "address": address, "port": 443,
                 "failure": "connection_refused" if verdict == "down" else None,
                 "duration_ms": round(rng.uniform(20, 200), 1)},
                {"hostname": host, "address": "2001:db8::1", "port": 443, "failure": "network_unreachable",
                 "duration_ms": 0.3}],
    }
    if verdict != "down":
        observations["tls"] = [{
            "hostname": host, "address": address, "port": 443, "sni": host, "failure": tls_failure,
            "handshake_completed": ok, "verified": ok, "version": "TLSv1.3" if ok else None,
            "cipher": "TLS_AES_128_GCM_SHA256" if ok else None, "alpn": "http/1.1" if ok else None,
            "peer_chain": [{"subject": f"CN={host}", "issuer": "CN=R3,O=Let's Encrypt,C=US", "sans": [host],
                            "not_before": "2026-01-01T00:00:00Z", "not_after": "2026-04-01T00:00:00Z",
                            "sha256": "ab" * 32}] if ok else [],
            "duration_ms": 10000.0 if tls_failure else round(rng.uniform(40, 400), 1)}]
    if ok:
        body = f"<html><head><title>Site {index}</title></head><body>" + "news " * 40 + "</body></html>"
        observations["http"] = [{
            "url": f"https://{host}/", "method": "GET", "address": address, "port": 443, "status": 200,
            "headers": {"content-type": "text/html; charset=utf-8", "server": "nginx"}, "location": None,
            "body_length": len(body), "body_sha256": "cd" * 32, "body_truncated": False, "body": body,
            "title": f"Site {index}", "body_read_ms": 20.0, "failure": None,
            "timings": {"dns_ms": None, "connect_ms": None, "tls_ms": None,
                        "first_byte_ms": round(rng.uniform(50, 900), 1), "total_ms": round(rng.uniform(100, 1500), 1)}}]
        if index % 10 == 0:
            kbps = 12.0 if verdict == "throttled" else round(rng.uniform(500, 5000), 1)
            observations["download"] = {
                "url": f"https://{host}/big.bin", "address": address, "status": 200, "bytes": int(kbps * 2000),
                "duration_ms": 2000.0, "first_byte_ms": 90.0, "kilobytes_per_second": kbps,
                "samples": [{"t_ms": 100.0 * i, "bytes": int(kbps * 100 * i)} for i in range(20)],
                "longest_stall_ms": 40.0, "complete": True, "failure": None}
    category = ["NEWS", "HUMR", "ANON", "COMM"][index % 4]
    return {"target": {"id": f"site-{index}", "url": f"https://{host}/", "category": category},
            "verdict": verdict, "blocking": blocking, "evidence": evidence,
            "explanation": f"{verdict} ({', '.join(evidence) or 'all steps worked'}) for {host}.",
            "control": None, "observations": observations, "started_at": moment, "duration_ms": 812.0}


def generate(directory: Path, reports: int, targets: int, seed: int = 2022) -> int:
    """Write the reports (file names deliberately not in time order); returns total bytes."""
    rng = random.Random(seed)
    weights = [state[-1] for state in VERDICTS]
    states: dict[tuple[str, int], tuple] = {}
    first = datetime(2022, 1, 1, tzinfo=UTC)
    total = 0
    for number in range(reports):
        vantage = VANTAGES[number % len(VANTAGES)]
        moment = first + timedelta(hours=number // len(VANTAGES))
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        summary = dict.fromkeys(["reachable", "blocked", "throttled", "down", "inconclusive"], 0)
        results = []
        for index in range(targets):
            key = (vantage, index)
            if key not in states or rng.random() < STATE_CHANGE:
                states[key] = rng.choices(VERDICTS, weights=weights)[0]
            results.append(_result(index, stamp, states[key], rng))
        for result in results:
            summary[result["verdict"]] += 1
        report = {
            "format": "kzprobe-report", "format_version": 1, "scan_id": f"bench-{number:06d}", "complete": True,
            "started_at": stamp, "finished_at": (moment + timedelta(seconds=70)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "software": {"name": "kzprobe", "version": "0.1.0"},
            "vantage": {"name": vantage, "asn": "AS9198", "country": "KZ"},
            "settings": {"resolver": "system", "control_resolver": "https://doh.example/dns-query", "control": None,
                         "timeout": 10, "concurrency": 64, "ca_file": None, "targets": ["targets/kz.yaml"]},
            "connectivity": "online", "baselines": {}, "summary": summary, "results": results,
        }
        data = json.dumps(report).encode()
        total += len(data)
        (directory / f"{(number * 7919) % reports:06d}-{vantage}.json").write_bytes(data)
    return total


def measure(arguments: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one CLI run, its workers included. The run
    is wrapped in a fresh Python so that RUSAGE_CHILDREN covers this command only. CPU time is
    the figure to compare on a busy machine; wall time is what a user waits."""
    launcher = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "wall = time.perf_counter() - start\n"
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(f'{wall} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss / 1024} {code}')\n"
    )
    output = subprocess.run([sys.executable, "-c", launcher, sys.executable, "-m", "kzprobe", *arguments],
                            capture_output=True, text=True, check=True).stdout.split()
    wall, cpu, peak, code = float(output[0]), float(output[1]), float(output[2]), int(output[3])
    if code != 0:
        raise SystemExit(f"kzprobe {' '.join(arguments)} exited with {code}")
    return wall, cpu, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--targets", type=int, default=80)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this directory and keep it")
    options = parser.parse_args()
    directory = options.keep or Path(tempfile.mkdtemp(prefix="kzprobe-bench-"))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        existing = len(list(directory.glob("*.json")))
        if existing != options.reports:
            start = time.perf_counter()
            size = generate(directory, options.reports, options.targets)
            print(f"generated {options.reports} reports x {options.targets} targets, {size / 1e6:.0f} MB, "
                  f"in {time.perf_counter() - start:.1f} s")
        else:
            size = sum(p.stat().st_size for p in directory.glob("*.json"))
            print(f"reusing {existing} reports, {size / 1e6:.0f} MB, in {directory}")
        print(f"cores available: {len(os.sched_getaffinity(0))}, load average before: {os.getloadavg()[0]:.1f}")
        cache = Path(tempfile.mkdtemp(prefix="kzprobe-bench-cache-"))
        os.environ["KZPROBE_CACHE_DIR"] = str(cache)  # an empty digest cache, removed at the end
        runs = [
            ("summary --csv, no cache", ["summary", str(directory), "--csv", "--no-cache"]),
            ("summary --csv, filling", ["summary", str(directory), "--csv"]),
            ("summary --csv, cached", ["summary", str(directory), "--csv"]),
            ("summary (table), cached", ["summary", str(directory)]),
            ("timeline, cached", ["timeline", str(directory)]),
            ("export csv, filling", ["export", str(directory), "--format", "csv"]),
            ("export csv, cached", ["export", str(directory), "--format", "csv"]),
            ("export jsonl, cached", ["export", str(directory), "--format", "jsonl"]),
        ]
        try:
            for name, arguments in runs:
                wall, cpu, peak = measure(arguments)
                print(f"{name:<26} {wall:6.1f} s wall  {cpu:6.1f} s CPU  {options.reports / wall:6.0f} reports/s"
                      f"  peak RSS {peak:4.0f} MB  (load {os.getloadavg()[0]:.1f})")
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    finally:
        if options.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
