"""`kzprobe lab` as a user types it: list, shell, clean, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kzprobe.errors import ExitCode
from kzprobe.lab import NETWORK_RUNS, SCENARIOS, availability
from kzprobe.lab import addresses as a

UNAVAILABLE = availability()
needs_namespaces = pytest.mark.skipif(UNAVAILABLE is not None,
                                      reason=f"network namespaces impossible here: {UNAVAILABLE}")


def kzprobe(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kzprobe", *args], capture_output=True, text=True, **kwargs)


def test_list_as_json_is_the_catalogue():
    proc = kzprobe("lab", "list", "--json")
    assert proc.returncode == ExitCode.OK, proc.stderr
    data = json.loads(proc.stdout)
    assert [row["id"] for row in data["scenarios"]] == [s.id for s in SCENARIOS]
    assert [run["id"] for run in data["network_runs"]] == [r.id for r in NETWORK_RUNS]
    row = next(r for r in data["scenarios"] if r["id"] == "tls-reset")
    assert row == {"id": "tls-reset", "summary": "RST right after the ClientHello with this SNI",
                   "url": "https://tls-reset.kzlab.test/", "inside": "TLS reset", "outside": "honest",
                   "expect": "blocked/tls [tls.reset]", "pending": None,
                   "expect_without_control": "blocked/tls [tls.reset, tls.sni_filter]"}
    flaky = next(r for r in data["scenarios"] if r["id"] == "dns-flaky")
    found = (flaky["inside"], flaky["expect"], flaky["expect_without_control"])
    assert found == ("DNS flaky", "reachable", "reachable")


def test_list_for_people_names_every_scenario_without_escape_codes():
    proc = kzprobe("lab", "list")
    assert proc.returncode == ExitCode.OK
    for scenario in SCENARIOS:
        assert scenario.id in proc.stdout
    assert "\x1b" not in proc.stdout


@pytest.mark.parametrize("command", [["run"], ["shell"]])
def test_unknown_scenario_is_bad_input(command):
    proc = kzprobe("lab", *command, "--scenario", "no-such-scenario")
    assert proc.returncode == ExitCode.BAD_INPUT
    assert "no-such-scenario" in proc.stderr


def test_shell_side_must_be_a_network_of_the_lab():
    proc = kzprobe("lab", "shell", "--side", "moon")
    assert proc.returncode == ExitCode.BAD_INPUT


@needs_namespaces
def test_shell_runs_inside_the_censored_network():
    env = dict(os.environ, SHELL="/bin/sh")
    commands = "cat /etc/resolv.conf\ntest -f \"$KZLAB_CA\" && echo ca-present\nexit 7\n"
    proc = kzprobe("lab", "shell", "-s", "tls-reset", input=commands, env=env, timeout=60)
    assert proc.returncode == 7, proc.stderr
    assert f"nameserver {a.ISP_RESOLVER}" in proc.stdout and "ca-present" in proc.stdout
    assert "tls-reset.kzlab.test" in proc.stderr  # the hint names a scenario to try


@needs_namespaces
def test_clean_succeeds_with_nothing_to_clean():
    proc = kzprobe("lab", "clean")
    assert proc.returncode == ExitCode.OK


@needs_namespaces
def test_run_some_scenarios_as_json():
    proc = kzprobe("lab", "run", "-s", "tls-reset", "-s", "offline", "--json", timeout=120)
    assert proc.returncode == ExitCode.OK, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True
    seen = {(c["run"], c["scenario"]) for c in data["comparisons"]}
    assert {("inside", "tls-reset"), ("inside", "(connectivity)"), ("offline", "tls-reset")} <= seen
    assert not any(run == "international-cut" for run, _ in seen)  # only the network run named
    assert ("inside-no-control", "tls-reset") in seen  # the volunteer's default: no control scan
    # The baselines say what they must be without a control too: the inside scan without one runs
    # after the scans with a control (a second wave).
    assert [s["name"] for s in data["scans"]] == ["outside", "inside", "offline", "inside-no-control"]
    assert "outside scan (the control)" in proc.stderr


def test_run_exits_1_and_names_each_mismatch(monkeypatch):
    """What a mismatch looks like; the result is made up, so nothing is built."""
    from typer.testing import CliRunner

    from kzprobe.cli import app, commands_lab
    from kzprobe.lab.runner import Comparison, LabRunResult

    result = LabRunResult(comparisons=[
        Comparison("inside", "tls-reset", "blocked/tls [tls.reset]", "blocked/tls [tls.reset]", ()),
        Comparison("inside", "tls-fin", "blocked/tls [tls.eof]", "reachable",
                   ("verdict 'reachable', expected 'blocked'",),
                   pending="the TLS rules do not know eof yet", explanation="It loaded.\x1b[31m"),
    ])
    monkeypatch.setattr(commands_lab, "availability", lambda: None)
    monkeypatch.setattr(commands_lab, "run_lab", lambda *args, **kwargs: result)
    out = CliRunner().invoke(app, ["lab", "run"])
    assert out.exit_code == ExitCode.FAILED
    assert "MISMATCH (pending)" in out.output and "1 of 2 expectations met" in out.output
    assert (
        "inside tls-fin: verdict 'reachable', expected 'blocked' (pending: the TLS rules do not know eof yet)"
        in out.output
    )
    assert "kzprobe said: It loaded." in out.output and "\x1b" not in out.output
