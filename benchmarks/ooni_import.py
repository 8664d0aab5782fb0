"""How fast `kzprobe ooni import` reads OONI measurements, and how much memory it takes.

Generates N measurements (default 100,000) shaped like OONI's: the hand-made measurements of
tests/support/ooni_scenarios.py (Web Connectivity 0.4 and 0.5, the four messenger tests), each given its
own URL, ids and time, with a page of ~40 KB and 64 network events for a 0.5 connection, as
OONI Probe records them. They are written as OONI's bucket holds them - gzip-compressed JSON
Lines, one file per hour, sessions of 40 measurements (one report_id each) crossing file
boundaries - into a temporary directory. Then the real CLI imports them in a subprocess; its
wall time, measurements per second, CPU seconds per 1,000 measurements (the figure that does
not depend on what else the machine runs) and peak memory are printed. Nothing touches the
network.

    python benchmarks/ooni_import.py [--count 100000] [--workers N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_throughput import TreeMemory, machine_busy_s  # noqa: E402

from support.ooni_scenarios import SCENARIOS  # noqa: E402

PER_FILE = 2_000  # measurements per hourly file
SESSION = 40  # measurements per OONI report (--session: a full run of Kazakhstan's test lists is ~1,500)
PAGE = ("<html><head><title>Новости {n}</title></head><body>"
        + "<p>Казахстан, новости, аналитика, мнения, политика, экономика.</p>" * 600 + "</body></html>")


def _events(address: str) -> list[dict]:
    events, t = [], 0.05
    for index in range(64):
        t += 0.004
        events.append({"address": address, "failure": None, "num_bytes": 1400 + index, "operation": "read",
                       "proto": "tcp", "t0": t - 0.003, "t": t, "transaction_id": 50001,
                       "tags": ["classic", "tcptls_experiment", "depth=0", "fetch_body=true"]})
    return events


def _variant(template: dict, index: int, session_size: int) -> dict:
    data = copy.deepcopy(template)
    session, hour = index // session_size, index // PER_FILE
    data["measurement_uid"] = f"2024030{1 + hour // 24 % 9}{hour % 24:02d}0000.{index:06d}_KZ_bench_{index:016x}"
    data["report_id"] = f"20240301T{hour % 24:02d}0000Z_{data['test_name'].replace('_', '')}_KZ_9198_n1_{session:016d}"
    day, minute, second = 1 + hour // 24 % 28, index % 3600 // 60, index % 60
    data["measurement_start_time"] = f"2024-03-{day:02d} {hour % 24:02d}:{minute:02d}:{second:02d}"
    if data["test_name"] == "web_connectivity":
        url = data["input"].rstrip("/") + f"/page/{index}"
        data["input"] = url
        keys = data["test_keys"]
        for request in keys.get("requests") or []:
            request["request"]["url"] = url
            if isinstance(request.get("response"), dict) and request["response"].get("code"):
                request["response"]["body"] = PAGE.format(n=index)
        if data["test_version"].startswith("0.5"):
            keys["network_events"] = _events("185.98.5.151:443")
    return data


def generate(directory: Path, count: int, session_size: int = SESSION) -> list[Path]:
    templates = [s.build() for s in SCENARIOS]
    files: list[Path] = []
    for start in range(0, count, PER_FILE):
        path = directory / f"{start // PER_FILE:05d}_KZ_mixed.n1.0.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as handle:
            for index in range(start, min(count, start + PER_FILE)):
                handle.write(json.dumps(_variant(templates[index % len(templates)], index, session_size),
                                        ensure_ascii=False) + "\n")
        files.append(path)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measurements", "--count", type=int, default=100_000, dest="measurements")
    parser.add_argument("--session", type=int, default=SESSION, help="measurements per OONI report (default 40)")
    parser.add_argument("--workers", type=int, help="passed to the import (default: its own choice)")
    parser.add_argument("--sample-interval", type=float, default=0.2,
                        help="seconds between two samples of the import's memory (default 0.2: reading "
                             "/proc/PID/smaps_rollup of every process 50 times a second took a sixth of the "
                             "machine's CPU over a minute's import)")
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it (reused when there)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kzprobe-ooni-bench-"))
    source = work / "ooni"
    source.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    files = sorted(source.glob("*.jsonl.gz"))
    if len(files) != -(-args.measurements // PER_FILE):
        files = generate(source, args.measurements, args.session)
    size = sum(f.stat().st_size for f in files)
    print(f"{args.measurements:,} measurements in {len(files)} files ({size / 1e6:.1f} MB gzip), ready in "
          f"{time.monotonic() - started:.1f} s")
    output = work / "reports"
    shutil.rmtree(output, ignore_errors=True)
    command = [sys.executable, "-m", "kzprobe", "ooni", "import", str(source), "--output", str(output)]
    if args.workers:
        command += ["--workers", str(args.workers)]
    busy_before, started = machine_busy_s(), time.monotonic()
    with open(work / "import.stderr", "w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr,
                                   env={**os.environ, "PYTHONHASHSEED": "0"})
        memory = TreeMemory(process.pid, interval=args.sample_interval)
        _, status, usage = os.wait4(process.pid, 0)
        tree_mb = memory.stop()
        wall = time.monotonic() - started
        stderr.seek(0)
        summary = stderr.read().strip().splitlines()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the import's own processes, waited for
    cpu = children.ru_utime + children.ru_stime
    others = machine_busy_s() - busy_before - cpu
    print(summary[-1] if summary else "(no summary)")
    print(f"import: {wall:.1f} s, {args.measurements / wall:,.0f} measurements/s; CPU {cpu:.1f} s "
          f"({1000 * cpu / args.measurements:.2f} s per 1,000 measurements); peak memory of its processes "
          f"together {tree_mb:.0f} MB (PSS), largest single process {children.ru_maxrss / 1024:.0f} MB (RSS); "
          f"exit {os.waitstatus_to_exitcode(status)}")
    print(f"meanwhile the machine's other processes used {max(0.0, others):.1f} CPU s "
          f"({max(0.0, others) / wall:.2f} of its {os.cpu_count()} cores)")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
