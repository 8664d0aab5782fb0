"""`kzprobe lab run` as a library: build the lab, scan from outside and inside, compare.

The outside scan is the control; the inside scan gets it with `--control` and the honest
resolver with `--control-resolver`, exactly as a volunteer's scan would get a VPS report and a
public resolver. Each network run (international cut, offline, captive portal) scans again from
a rebuilt inside namespace. Then, as a volunteer scans by default, without a control scan (the
honest resolver still given): the scenarios with a no-control expectation ("inside-no-control")
and the network runs that have them ("<run>-no-control"). Every scan is the real `kzprobe scan`
command in its own process, reading the namespace's resolv.conf; the lab only compares what the
reports say with what the scenarios expect.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from kzprobe.lab import addresses as a
from kzprobe.lab.lab import Lab
from kzprobe.lab.plan import INSIDE, OUTSIDE, inside_role
from kzprobe.lab.scenarios import BASELINE_IDS, no_control_expectations, scenario_by_id, select, select_runs
from kzprobe.lab.site_spec import Expectation, Scenario
from kzprobe.lab.targets_file import targets_yaml
from kzprobe.report import vocabulary as v

# Per-operation timeout of the lab's scans: loopback answers in microseconds, so this only
# needs to cover the slow site (1.2 s) with room for a busy machine, and keeps every timeout
# scenario short.
DEFAULT_TIMEOUT_S: Final = 2.5
# A scan's own bound: the slowest target is the throttled download (8 s) after its page.
_SCAN_LIMIT_S: Final = 300.0
CONNECTIVITY_SUBJECT: Final = "(connectivity)"
# The inside scan without a control scan, and the suffix of a network run's own.
INSIDE_NO_CONTROL: Final = "inside-no-control"
NO_CONTROL_SUFFIX: Final = "-no-control"


@dataclass(frozen=True)
class Comparison:
    """One expected-against-actual line of a lab run."""

    run: str  # "inside" or a network run id
    subject: str  # scenario id, or CONNECTIVITY_SUBJECT
    expected: str
    actual: str
    problems: tuple[str, ...]  # empty when it matches
    pending: str | None = None  # why a mismatch is still expected (scenario not reached yet)
    explanation: str | None = None  # kzprobe's own explanation, for the reader

    @property
    def matches(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"run": self.run, "scenario": self.subject, "expected": self.expected, "actual": self.actual,
                "matches": self.matches, "problems": list(self.problems), "pending": self.pending,
                "explanation": self.explanation}


@dataclass
class ScanRun:
    """One `kzprobe scan` inside the lab."""

    name: str
    role: str
    report: Path
    seconds: float
    returncode: int
    stderr: str


@dataclass
class LabRunResult:
    comparisons: list[Comparison] = field(default_factory=list)
    scans: list[ScanRun] = field(default_factory=list)
    build_seconds: float = 0.0
    backend: str = ""

    @property
    def ok(self) -> bool:
        return all(c.matches for c in self.comparisons)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "backend": self.backend,
            "build_seconds": round(self.build_seconds, 2),
            "scans": [{"name": s.name, "namespace": s.role, "seconds": round(s.seconds, 2), "returncode": s.returncode,
                       "report": str(s.report)} for s in self.scans],
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


def compare(expect: Expectation, result: Mapping | None) -> tuple[str, tuple[str, ...]]:
    """(the actual finding as text, what differs from the expectation)."""
    if result is None:
        return "(no result)", ("the report has no result for this target",)
    verdict, blocking = result.get("verdict"), result.get("blocking")
    evidence = [e for e in result.get("evidence") or [] if isinstance(e, str)]
    actual = Expectation(str(verdict), blocking if isinstance(blocking, str) else None, tuple(evidence)).describe()
    problems = []
    if verdict != expect.verdict:
        problems.append(f"verdict {verdict!r}, expected {expect.verdict!r}")
    if blocking != expect.blocking:
        problems.append(f"blocking {blocking!r}, expected {expect.blocking!r}")
    missing = [e for e in expect.evidence if e not in evidence]
    if missing:
        problems.append(f"evidence lacks {', '.join(missing)}")
    if expect.quic is not None:
        quic = result.get("quic")
        quic_actual, quic_problems = compare(expect.quic, quic if isinstance(quic, Mapping) else None)
        actual += f"; quic {quic_actual}"
        problems += [f"quic: {problem}" for problem in quic_problems]
    return actual, tuple(problems)


def compare_report(run: str, report: Mapping | None, expectations: Mapping[str, Expectation],
                   connectivity: str) -> list[Comparison]:
    """Every scenario of one scan, and the scan's connectivity, against what is expected."""
    if report is None:
        return [Comparison(run, sid, e.describe(), "(no report)", ("the scan wrote no report",), e.pending)
                for sid, e in expectations.items()]
    results = {}
    for result in report.get("results") or []:
        target = result.get("target") if isinstance(result, Mapping) else None
        if isinstance(target, Mapping) and isinstance(target.get("id"), str):
            results[target["id"]] = result
    actual_connectivity = report.get("connectivity")
    comparisons = [Comparison(
        run, CONNECTIVITY_SUBJECT, connectivity, str(actual_connectivity),
        () if actual_connectivity == connectivity
        else (f"connectivity {actual_connectivity!r}, expected {connectivity!r}",),
    )]
    for sid, expect in expectations.items():
        result = results.get(sid)
        actual, problems = compare(expect, result)
        explanation = result.get("explanation") if isinstance(result, Mapping) else None
        comparisons.append(Comparison(run, sid, expect.describe(), actual, problems, expect.pending,
                                      explanation if isinstance(explanation, str) else None))
    return comparisons


class _Scan:
    """One `kzprobe scan` process inside the lab, started now and collected later.

    Its end is timed by a waiting thread, so scans that run side by side each get their own
    duration, whatever order they are collected in."""

    def __init__(self, lab: Lab, name: str, role: str, targets: Path, output: Path, timeout: float,
                 extra: Sequence[str]) -> None:
        """A scan by a user of `role`'s network (its environment: Lab.role_env)."""
        argv = [sys.executable, "-m", "kzprobe", "scan", "--targets", str(targets), "--output", str(output),
                "--ca-file", str(lab.ca_file), "--timeout", f"{timeout:g}", "--vantage", f"lab-{name}",
                # No lookup of the vantage's ASN and country: there is nothing to ask in the lab.
                "--no-geo", *extra]
        self.name, self.role, self.output = name, role, output
        self._stderr_path = output.with_suffix(".stderr")
        self.started = time.monotonic()
        self.ended: float | None = None
        with open(self._stderr_path, "wb") as stderr:
            self.process = lab.popen(role, argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                     env=lab.env(lab.role_env(role)))
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        try:
            self.process.wait(_SCAN_LIMIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.ended = time.monotonic()

    def finish(self) -> ScanRun:
        self._waiter.join()
        stderr = self._stderr_path.read_text(encoding="utf-8", errors="replace")
        if self.process.returncode < 0:
            stderr += f"\nkzprobe lab: the scan was stopped (signal {-self.process.returncode})"
        return ScanRun(self.name, self.role, self.output, (self.ended or time.monotonic()) - self.started,
                       self.process.returncode, stderr[-4000:])


def _report_path(out: Path, name: str) -> Path:
    """<out>/<name>/<name>.json: a directory per scan, since a scan locks its output directory."""
    directory = out / name
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}.json"


def _load(path: Path) -> dict | None:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def run_lab(ids: Sequence[str] | None = None, *, timeout: float = DEFAULT_TIMEOUT_S,
            output_dir: Path | None = None, backend: str | None = None, env: Mapping[str, str] | None = None,
            progress: Callable[[str], None] = lambda _: None) -> LabRunResult:
    """Build the lab for the scenarios (and network runs) named by `ids`, scan, compare.

    All scenarios and runs when `ids` is empty. The outside scan comes first (it is everyone's
    control); the inside scan and the network runs then run at the same time, each in its own
    namespace. Reports go to `output_dir` (kept) or to the lab's work directory (removed with
    the lab)."""
    scenarios = select(ids)
    runs = select_runs(ids)
    catalogue = scenario_by_id()
    result = LabRunResult()
    started = time.monotonic()
    with Lab(scenarios, cuts=[r.cut for r in runs], backend=backend, env=env) as lab:
        result.build_seconds = time.monotonic() - started
        result.backend = lab.backend
        progress(f"lab built in {result.build_seconds:.1f} s ({lab.backend} backend, {len(scenarios)} sites)")
        out = Path(output_dir) if output_dir else lab.workdir
        assert out is not None
        out.mkdir(parents=True, exist_ok=True)

        outside = _Scan(lab, OUTSIDE, OUTSIDE, lab.targets_file, _report_path(out, OUTSIDE), timeout,
                        ["--control-resolver", "none"]).finish()
        result.scans.append(outside)
        progress(f"outside scan (the control): {outside.seconds:.1f} s")

        resolver_only = ["--control-resolver", f"{a.HONEST_RESOLVER}:53"]
        control = ["--control", str(outside.report), *resolver_only]
        expectations = {INSIDE: ({s.id: s.expect for s in scenarios}, v.ONLINE)}

        def scan_of(name: str, role: str, ids: list[str] | tuple[str, ...], args: list[str]) -> _Scan:
            report = _report_path(out, name)
            targets = report.with_suffix(".targets.yaml")
            targets.write_text(targets_yaml([catalogue[sid] for sid in ids], lab.allocation), encoding="utf-8")
            return _Scan(lab, name, role, targets, report, timeout, args)

        scans = [_Scan(lab, INSIDE, INSIDE, lab.targets_file, _report_path(out, INSIDE), timeout, control)]
        for run in runs:
            scans.append(scan_of(run.id, inside_role(run.cut), run.scenario_ids, control))
            expectations[run.id] = (run.expect, run.connectivity)
        result.comparisons += _finish(scans, result, expectations, progress)
        # Without a control scan, once the scans with one are done: a second wave, so that the
        # timing-sensitive scenarios (the slow site, the throttler) keep the cores they had.
        later = []
        inside_no_control = no_control_expectations(scenarios)
        if inside_no_control:
            ids = [s.id for s in scenarios if s.id in inside_no_control or s.id in BASELINE_IDS]
            later.append(scan_of(INSIDE_NO_CONTROL, INSIDE, ids, resolver_only))
            expectations[INSIDE_NO_CONTROL] = (inside_no_control, v.ONLINE)
        for run in runs:
            if run.no_control:
                name = run.id + NO_CONTROL_SUFFIX
                later.append(scan_of(name, inside_role(run.cut), run.scenario_ids, resolver_only))
                expectations[name] = (run.no_control, run.connectivity)
        result.comparisons += _finish(later, result, expectations, progress)
    return result


def _finish(scans: list[_Scan], result: LabRunResult, expectations: Mapping[str, tuple[Mapping[str, Expectation], str]],
            progress: Callable[[str], None]) -> list[Comparison]:
    """Wait for `scans`, record them in `result`, and compare each with its expectations."""
    comparisons = []
    for running in scans:
        scan = running.finish()
        result.scans.append(scan)
        progress(f"{scan.name} scan: {scan.seconds:.1f} s")
        expect, connectivity = expectations[scan.name]
        comparisons += compare_report(scan.name, _load(scan.report), expect, connectivity)
    return comparisons


def scenario_table(scenarios: Sequence[Scenario]) -> list[dict]:
    """What `kzprobe lab list` shows, as data."""
    without = no_control_expectations(scenarios)
    return [{"id": s.id, "summary": s.summary, "url": s.site.url, "inside": s.describe("inside"),
             "outside": s.describe("outside"), "expect": s.expect.describe(), "pending": s.expect.pending,
             "expect_without_control": without[s.id].describe() if s.id in without else None}
            for s in scenarios]
