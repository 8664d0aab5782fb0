"""How long `kzprobe scan` takes for a list, against the floor it could reach.

Builds a lab (docs/lab.md) of N sites — 80 % healthy HTTPS, 10 % whose SYNs are dropped (each
costs a full timeout), 10 % reset after the ClientHello — in a seeded random order, as blocked
sites are scattered through a real list. Scans it from the censored ISP's namespace with the
real CLI (`python -m kzprobe scan --timeout 3 --no-geo ...`, the lab's honest resolver as the
control resolver), then runs the naive reference: a loop that measures one target at a time
with the same probes and timeouts. For each it prints wall time, targets per second, the floor
max(slowest target, CPU seconds / cores) and wall / floor, CPU per target and peak RSS, and
checks that every site measured as its kind says (speed must not cost truth). Finally it times
analysing and writing the report of the concurrent scan in-process.

    python benchmarks/scan_throughput.py            # 1,000 sites; reference on a 100-site sample, extrapolated
    python benchmarks/scan_throughput.py --quick    # 100 sites; reference run in full

Needs root or unprivileged user namespaces (like the lab). Nothing leaves the lab's
namespaces; the lab is taken down on exit, on an exception and on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

MIX = {"healthy": 0.8, "tcp-syn-dropped": 0.1, "tls-reset": 0.1}
# What each kind must show in its observations, whatever the load: (step, failure).
EXPECTED_FAILURE = {
    "healthy": (None, None),
    "tcp-syn-dropped": ("tcp", "generic_timeout_error"),
    "tls-reset": ("tls", "connection_reset"),
}
DEFAULT_SITES = 1000
QUICK_SITES = 100
DEFAULT_SAMPLE = 100
DEFAULT_TIMEOUT_S = 3.0


@dataclass
class Figures:
    """One scan's measured figures."""

    label: str
    targets: int
    wall_s: float
    cpu_s: float  # user + system of the probe process
    peak_rss_mb: float  # the largest single process's (the parent, or one measuring process)
    slowest_s: float  # the largest own time in the report: duration_ms - queued_ms
    cores: int
    server_cpu_s: float | None = None  # the lab's server process, same cores
    others_cpu_s: float | None = None  # every other process on the machine meanwhile (other users' work)
    extrapolated_from: int | None = None  # measured on this many targets, scaled linearly
    longest_s: float | None = None  # the largest duration_ms, queue included
    peak_tree_mb: float | None = None  # peak of the probe's processes together (PSS: shared pages split)

    @property
    def targets_per_s(self) -> float:
        return self.targets / self.wall_s

    @property
    def floor_s(self) -> float:
        return max(self.slowest_s, self.cpu_s / self.cores)

    @property
    def ratio(self) -> float:
        return self.wall_s / self.floor_s

    @property
    def machine_floor_s(self) -> float | None:
        """The floor if the lab server's CPU, which shares the cores, counted as the scan's work."""
        if self.server_cpu_s is None:
            return None
        return max(self.slowest_s, (self.cpu_s + self.server_cpu_s) / self.cores)

    @property
    def cpu_ms_per_target(self) -> float:
        return 1000 * self.cpu_s / self.targets

    def scaled(self, targets: int, loop_wall_s: float, loop_cpu_s: float) -> Figures:
        """A sample's figures extrapolated to `targets`: the process's fixed costs (start-up,
        analysis, report) once, its measuring loop (`loop_*`, for the sample) grown linearly."""
        more = targets / self.targets - 1
        return Figures(self.label, targets, self.wall_s + loop_wall_s * more, self.cpu_s + loop_cpu_s * more,
                       self.peak_rss_mb, self.slowest_s, self.cores, extrapolated_from=self.targets,
                       longest_s=self.longest_s, peak_tree_mb=self.peak_tree_mb)


def kind_of(target_id: str) -> str:
    """generate_scenarios names sites <kind>-<number>."""
    return target_id.rsplit("-", 1)[0]


def bench_sites(n: int, seed: int) -> list:
    from kzprobe.lab.generate import generate_scenarios

    sites = generate_scenarios(n, MIX)
    random.Random(seed).shuffle(sites)
    return sites


def sample_of(sites: list, k: int) -> list:
    """k of the sites in the same mix (largest remainder per kind), in list order."""
    by_kind: dict[str, list] = {}
    for site in sites:
        by_kind.setdefault(kind_of(site.id), []).append(site)
    exact = {kind: k * len(group) / len(sites) for kind, group in by_kind.items()}
    quota = {kind: int(x) for kind, x in exact.items()}
    for kind in sorted(exact, key=lambda kd: exact[kd] - quota[kd], reverse=True)[: k - sum(quota.values())]:
        quota[kind] += 1
    chosen = {site.id for kind, group in by_kind.items() for site in group[: quota[kind]]}
    return [site for site in sites if site.id in chosen]


def server_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a running process (the lab's server), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores, all processes), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


class TreeMemory:
    """Samples the memory of a process and its children together, every `interval` seconds.

    PSS (proportional set size) splits each shared page among the processes sharing it, so
    the forked measuring processes' pages shared with their parent are counted once: the sum
    is what the probe really holds. ru_maxrss alone is only the largest single process."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        import threading

        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self) -> list[int]:
        pids, seen = [self.pid], 0
        while seen < len(pids):
            pid = pids[seen]
            seen += 1
            try:
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pids += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
        return pids

    def _pss_kb(self, pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_kb = max(self.peak_kb, sum(self._pss_kb(pid) for pid in self._tree()))

    def stop(self) -> float:
        """Peak MB seen."""
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


def run_in_lab(lab, argv: list[str], workdir: Path, label: str,
               kzprobe_from: Path | None = None) -> tuple[float, float, float, str, float]:
    """Run argv in the censored namespace; (wall s, CPU s, peak RSS MB, stderr, peak MB of the
    process and its measuring processes together) of that process alone.

    os.wait4 gives the rusage of exactly this child (`ip netns exec` execs the command, so the
    pid is the probe's own). `kzprobe_from`: a checkout whose kzprobe the probe runs instead."""
    env = lab.env({"HOME": str(workdir)})  # no user configuration file can change the settings
    if kzprobe_from is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(kzprobe_from), env.get("PYTHONPATH")) if p)
    with open(workdir / f"{label}.stderr", "w+", encoding="utf-8") as stderr:
        start = time.monotonic()
        process = lab.popen("inside", argv, cwd=workdir, env=env, stdin=None, stdout=stderr, stderr=stderr)
        memory = TreeMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        tree_mb = memory.stop()
        wall = time.monotonic() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        output = stderr.read()
    if process.returncode != 0:
        raise SystemExit(f"{label}: exit {process.returncode}\n{output[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output, tree_mb


def load_report(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def measurement_errors(report: dict) -> Counter:
    """Sites whose observations do not show what their kind must (e.g. a healthy site's DNS timeout)."""
    errors: Counter = Counter()
    for result in report["results"]:
        kind = kind_of(result["target"]["id"])
        observations = result["observations"]
        step, failure = EXPECTED_FAILURE[kind]
        found = (observations.get("dns") or {}).get("failure")
        for name in ("tcp", "tls", "http"):
            found = found or next((o["failure"] for o in observations.get(name, []) if o.get("failure")), None)
        if step is None:
            ok = found is None and any(h.get("status") == 200 for h in observations.get("http", []))
        else:
            ok = any(o.get("failure") == failure for o in observations.get(step, []))
        if not ok:
            errors[f"{kind}: {found or 'no failure'}"] += 1
    return errors


def figures_of(label: str, report: dict, wall: float, cpu: float, rss: float, server: float,
               machine: float) -> Figures:
    """`server` and `machine`: CPU seconds of the lab's server and of the whole machine during the run."""
    # A target's own time excludes what it queued behind the others (queued_ms, kzprobe/probes/turns.py):
    # that wait is the scan's work, counted in the CPU half of the floor, not the target's.
    slowest = max(r["duration_ms"] - r.get("queued_ms", 0.0) for r in report["results"]) / 1000
    longest = max(r["duration_ms"] for r in report["results"]) / 1000
    return Figures(label, len(report["results"]), wall, cpu, rss, slowest, os.cpu_count() or 1, server,
                   max(0.0, machine - cpu - server), longest_s=longest)


def time_report_writing(report: dict, workdir: Path) -> tuple[float, float, int]:
    """(analysis s, build + atomic write s, bytes) for the report's results, in this process."""
    from kzprobe.analysis import analyse_scan
    from kzprobe.report.write import build_report, write_json_atomically

    keys = ("format", "format_version", "scan_id", "started_at", "software", "vantage", "settings")
    header = {key: report[key] for key in keys}
    measured = [{key: r[key] for key in ("target", "observations", "started_at", "duration_ms")}
                for r in report["results"]]
    start = time.perf_counter()
    analysis = analyse_scan(measured, None)
    analysed = time.perf_counter() - start
    out = workdir / "rewritten.json"
    start = time.perf_counter()
    document = build_report(header, measured, analysis, complete=True, finished_at=report["finished_at"])
    write_json_atomically(out, document)
    written = time.perf_counter() - start
    return analysed, written, out.stat().st_size


def profiled(argv: list[str], out: Path) -> list[str]:
    """argv run under a profiler: py-spy's sampling (little overhead) when installed, else cProfile."""
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy:
        return [py_spy, "record", "--rate", "250", "--subprocesses", "--format", "raw", "--output", str(out), "--",
                *argv]
    return [argv[0], "-m", "cProfile", "-o", str(out), *argv[1:]]


# -- the naive reference, run inside the namespace: one target at a time


def sequential_worker(targets_file: str, ca_file: str, timeout: float, control_resolver: str, output: str) -> None:
    """Measure each target after the previous one finished, then analyse and write the report
    as the CLI does: the same probes, timeouts and deadlines, no overlap at all."""
    from kzprobe.analysis import analyse_scan
    from kzprobe.probes.dns import SYSTEM_RESOLVER, parse_control_resolver
    from kzprobe.report.write import build_report, scan_header, write_json_atomically
    from kzprobe.scan.run import ScanOptions, build_probe_kit, measure_target, utc_now
    from kzprobe.targets import load_targets

    targets = load_targets([targets_file])
    options = ScanOptions(resolver=SYSTEM_RESOLVER, control_resolver=parse_control_resolver(control_resolver),
                          ca_file=ca_file, timeout=timeout, concurrency=1)
    kit = build_probe_kit(options)
    started_at = utc_now()

    async def loop() -> list[dict]:
        try:
            return [await measure_target(kit, target) for target in targets]
        finally:
            await kit.aclose()

    started, cpu = time.monotonic(), time.process_time()
    measured = asyncio.run(loop())
    Path(output + ".loop.json").write_text(json.dumps(
        {"loop_wall_s": time.monotonic() - started, "loop_cpu_s": time.process_time() - cpu}))
    header = scan_header("sequential", started_at, {"name": "bench", "asn": None, "country": None},
                         {"timeout": timeout, "concurrency": 1})
    report = build_report(header, measured, analyse_scan(measured, None), complete=True, finished_at=utc_now())
    write_json_atomically(Path(output), report)


# -- output


def show(figures: list[Figures]) -> None:
    def extrapolation(f: Figures) -> str:
        return f" (extrapolated from {f.extrapolated_from})" if f.extrapolated_from else ""

    rows = [
        ("wall time", lambda f: f"{f.wall_s:.1f} s"),
        ("targets per second", lambda f: f"{f.targets_per_s:.1f}"),
        ("slowest target (own time)", lambda f: f"{f.slowest_s:.2f} s"),
        ("longest duration_ms (queue incl.)", lambda f: "-" if f.longest_s is None else f"{f.longest_s:.2f} s"),
        ("probe CPU", lambda f: f"{f.cpu_s:.1f} s"),
        ("floor: max(slowest, CPU/cores)", lambda f: f"{f.floor_s:.2f} s"),
        ("wall / floor", lambda f: f"{f.ratio:.2f}"),
        ("CPU per target", lambda f: f"{f.cpu_ms_per_target:.2f} ms"),
        ("peak memory, all probe processes (PSS)", lambda f: "-" if f.peak_tree_mb is None
         else f"{f.peak_tree_mb:.0f} MB"),
        ("peak RSS, largest single process", lambda f: f"{f.peak_rss_mb:.0f} MB"),
        ("lab server CPU (same cores)", lambda f: "-" if f.server_cpu_s is None else f"{f.server_cpu_s:.1f} s"),
        ("wall / floor with the server's CPU", lambda f: "-" if f.machine_floor_s is None
         else f"{f.wall_s / f.machine_floor_s:.2f}"),
        ("other processes' CPU meanwhile", lambda f: "-" if f.others_cpu_s is None else f"{f.others_cpu_s:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows) + 2
    columns = [f.label + extrapolation(f) for f in figures]
    col = max(16, *(len(c) + 2 for c in columns))
    print("".ljust(width) + "".join(c.ljust(col) for c in columns))
    for name, cell in rows:
        print(name.ljust(width) + "".join(cell(f).ljust(col) for f in figures))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=None, help=f"lab sites (default {DEFAULT_SITES})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SITES} sites, sequential reference in full")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="kzprobe --timeout (default 3)")
    parser.add_argument("--concurrency", type=int, default=None, help="kzprobe --concurrency (default: kzprobe's)")
    parser.add_argument("--processes", type=int, default=None, help="kzprobe --processes (default: kzprobe's)")
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE,
                        help="sites in the sequential reference when the list is larger (extrapolated)")
    parser.add_argument("--no-sequential", action="store_true", help="skip the sequential reference")
    parser.add_argument("--next-hour", action="store_true",
                        help="scan a second time into the same output directory, as a vantage's next hourly scan")
    parser.add_argument("--control-resolver", choices=["lab", "none"], default="lab",
                        help="the lab's honest resolver as control resolver (default), or none")
    parser.add_argument("--seed", type=int, default=1, help="order of the sites in the list")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--keep", type=Path, default=None, help="copy the reports into this directory")
    parser.add_argument("--kzprobe-from", type=Path, default=None,
                        help="scan with the kzprobe package of this checkout (to compare two versions)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="sample the concurrent scan with py-spy (collapsed stacks), or if it is not "
                             "installed profile it with cProfile (much slower), into this file")
    parser.add_argument("--sequential-worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.sequential_worker:
        targets_file, ca_file, timeout, control, output = args.sequential_worker
        sequential_worker(targets_file, ca_file, float(timeout), control, output)
        return 0

    from kzprobe.lab import Lab, addresses, availability
    from kzprobe.lab.targets_file import targets_yaml
    from kzprobe.scan import limits

    reason = availability()
    if reason:
        print(f"the lab cannot run here: {reason}", file=sys.stderr)
        return 2
    n = args.sites or (QUICK_SITES if args.quick else DEFAULT_SITES)
    sites = bench_sites(n, args.seed)
    control = f"{addresses.HONEST_RESOLVER}:53" if args.control_resolver == "lab" else "none"
    concurrency = args.concurrency or limits.DEFAULT_CONCURRENCY
    cores = os.cpu_count() or 1
    print(f"kzprobe scan throughput: {n} lab sites "
          f"({', '.join(f'{share:.0%} {kind}' for kind, share in MIX.items())}; seeded order {args.seed}), "
          f"--timeout {args.timeout:g}, --concurrency {concurrency}, control resolver {control}")
    print(f"machine: {cores} cores, shared by the probe and the lab's server process "
          f"(DNS, TLS and HTTP for every site), so the probe never has them to itself.")

    workdir = Path(tempfile.mkdtemp(prefix="kzprobe-bench-"))
    results: list[Figures] = []
    try:
        started = time.monotonic()
        with Lab(sites, with_outside=False) as lab:
            print(f"lab built in {time.monotonic() - started:.1f} s ({lab.backend} backend)", flush=True)
            server = lab.servers["inside"].pid

            (workdir / "concurrent").mkdir()
            errors: Counter = Counter()
            scans = [("concurrent scan", "scan.json")]
            if args.next_hour:
                scans.append(("next hour's scan", "next-hour.json"))
            for label, name in scans:
                # One output directory, as a vantage point's cron job keeps: the second scan
                # finds the first one's report there (latest.json).
                report_path = workdir / "concurrent" / name
                argv = [sys.executable, "-m", "kzprobe", "scan", "--targets", str(lab.targets_file),
                        "--output", str(report_path), "--ca-file", str(lab.ca_file),
                        "--timeout", f"{args.timeout:g}", "--no-geo", "--vantage", "bench",
                        "--control-resolver", control, "--keep", "all"]
                if args.concurrency:
                    argv += ["--concurrency", str(args.concurrency)]
                if args.processes is not None:
                    argv += ["--processes", str(args.processes)]
                if args.profile:
                    argv = profiled(argv, args.profile.resolve())
                before, busy = server_cpu_s(server), machine_busy_s()
                wall, cpu, rss, _, tree_mb = run_in_lab(lab, argv, workdir, report_path.stem, args.kzprobe_from)
                scanned = load_report(report_path)
                figures = figures_of(label, scanned, wall, cpu, rss, server_cpu_s(server) - before,
                                     machine_busy_s() - busy)
                figures.peak_tree_mb = tree_mb
                results.append(figures)
                errors += measurement_errors(scanned)
                print(f"{label} done in {wall:.1f} s; verdicts {scanned['summary']}", flush=True)
                if name == "scan.json":
                    report = scanned

            sequential_errors: Counter = Counter()
            if not args.no_sequential:
                sample = sites if n <= args.sample else sample_of(sites, args.sample)
                sample_targets = workdir / "sample.yaml"
                sample_targets.write_text(targets_yaml(sample, lab.allocation), encoding="utf-8")
                sequential_report = workdir / "sequential.json"
                argv = [sys.executable, str(Path(__file__).resolve()), "--sequential-worker", str(sample_targets),
                        str(lab.ca_file), f"{args.timeout:g}", control, str(sequential_report)]
                print(f"sequential reference: {len(sample)} sites one at a time ...", flush=True)
                before, busy = server_cpu_s(server), machine_busy_s()
                wall, cpu, rss, _, tree_mb = run_in_lab(lab, argv, workdir, "sequential", args.kzprobe_from)
                seq_report = load_report(sequential_report)
                sequential = figures_of("sequential loop", seq_report, wall, cpu, rss, server_cpu_s(server) - before,
                                        machine_busy_s() - busy)
                sequential.peak_tree_mb = tree_mb
                sequential_errors = measurement_errors(seq_report)
                if len(sample) < n:
                    loop = json.loads(Path(str(sequential_report) + ".loop.json").read_text())
                    sequential = sequential.scaled(n, loop["loop_wall_s"], loop["loop_cpu_s"])
                results.append(sequential)

        analysed, written, size = time_report_writing(report, workdir)
        print()
        show(results)
        print()
        for f in results:
            if f.extrapolated_from:
                print(f"{f.label}: measured on {f.extrapolated_from} of the sites (same mix); its measuring loop "
                      f"scaled to {f.targets}, start-up, analysis and report counted once; slowest target and "
                      f"peak RSS are the sample's")
        print(f"report of {len(report['results'])} results: analysis {analysed:.2f} s; "
              f"build + atomic write {written:.2f} s ({size / 1e6:.1f} MB)")
        for label, found in (("concurrent scan", errors), ("sequential loop", sequential_errors)):
            if found:
                print(f"MEASUREMENT ERRORS in the {label}: " + ", ".join(f"{k} x{c}" for k, c in found.items()))
        if not errors and not sequential_errors:
            print("every site measured as its kind says (no timeout, reset or failure where none belongs)")
        if args.json:
            args.json.write_text(json.dumps({
                "sites": n, "timeout": args.timeout, "concurrency": concurrency, "control_resolver": control,
                "cores": cores, "runs": [asdict(f) | {"targets_per_s": f.targets_per_s, "floor_s": f.floor_s,
                                                       "ratio": f.ratio, "cpu_ms_per_target": f.cpu_ms_per_target,
                                                       "machine_floor_s": f.machine_floor_s}
                                         for f in results],
                "report": {"analysis_s": analysed, "write_s": written, "bytes": size},
                "measurement_errors": {"concurrent": dict(errors), "sequential": dict(sequential_errors)},
            }, indent=1) + "\n", encoding="utf-8")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for path in workdir.rglob("*.json"):
                if path.name == "latest.json":
                    continue
                shutil.copy(path, args.keep / path.name)
        return 1 if errors or sequential_errors else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the lab and the work directory are already gone
        print("interrupted", file=sys.stderr)
        sys.exit(130)
