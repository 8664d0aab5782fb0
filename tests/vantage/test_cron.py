"""`kzprobe cron`: a crontab line that really runs the scan where and how `config show` says,
and systemd units that systemd itself accepts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kzprobe.cli import (
    app,
    commands_vantage,  # noqa: F401  (registers `config show` and `cron`)
)
from kzprobe.errors import ExitCode
from kzprobe.vantage import cron
from kzprobe.vantage.cron import (
    Schedule,
    ScheduleError,
    cron_fields,
    crontab_line,
    kzprobe_command,
    on_calendar,
    plan_schedule,
    schedule_for,
    systemd_service,
    systemd_timer,
)


@pytest.mark.parametrize("schedule, fields, calendar", [
    (Schedule(60, 17), "17 * * * *", "*-*-* *:17:00"),
    (Schedule(15, 7), "7,22,37,52 * * * *", "*-*-* *:07/15:00"),
    (Schedule(30, 0), "0,30 * * * *", "*-*-* *:00/30:00"),
    (Schedule(5, 3), "3,8,13,18,23,28,33,38,43,48,53,58 * * * *", "*-*-* *:03/5:00"),
    (Schedule(120, 17, 1), "17 1-23/2 * * *", "*-*-* 01/2:17:00"),
    (Schedule(360, 45, 4), "45 4-23/6 * * *", "*-*-* 04/6:45:00"),
    (Schedule(1440, 17, 3), "17 3 * * *", "*-*-* 03:17:00"),
])
def test_slots(schedule, fields, calendar):
    assert cron_fields(schedule) == fields
    assert on_calendar(schedule) == calendar


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize("schedule, hours, minutes", [
    (Schedule(15, 7), None, {"07", "22", "37", "52"}),
    (Schedule(60, 17), None, {"17"}),
    (Schedule(120, 17, 1), {f"{h:02d}" for h in range(1, 24, 2)}, {"17"}),
    (Schedule(1440, 5, 3), {"03"}, {"05"}),
])
def test_systemd_reads_the_calendar_as_meant(schedule, hours, minutes):
    shown = subprocess.run(["systemd-analyze", "calendar", "--iterations=24", on_calendar(schedule)],
                           capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, shown.stderr
    times = [line.split()[-2] for line in shown.stdout.splitlines() if "elapse:" in line or "Iter." in line]
    assert len(times) == 24, shown.stdout
    assert {t.split(":")[1] for t in times} == minutes
    if hours is not None:
        assert {t.split(":")[0] for t in times} == hours


@pytest.mark.parametrize("every", [1, 4, 7, 45, 90, 100, 300, 2880, 0, -60])
def test_intervals_that_do_not_tile_an_hour_or_a_day(every):
    with pytest.raises(ScheduleError, match="must divide an hour"):
        schedule_for(every, "seed")


@pytest.mark.parametrize("every", [5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440])
def test_offsets_stay_inside_the_interval_and_are_stable(every):
    first = schedule_for(every, "vps-fra\nhost\n/etc/kzprobe.yaml")
    assert first == schedule_for(every, "vps-fra\nhost\n/etc/kzprobe.yaml")
    assert 0 <= first.minute < min(every, 60)
    assert 0 <= first.hour < max(1, every // 60)


def test_offsets_spread_vantages_over_the_hour():
    minutes = {schedule_for(60, f"vantage-{n}").minute for n in range(40)}
    assert len(minutes) >= 20


def fake_kzprobe(directory: Path) -> Path:
    """A stand-in for the kzprobe executable: records where and with what it was run."""
    script = directory / "bin dir" / "kzprobe"
    script.parent.mkdir(parents=True)
    script.write_text('#!/bin/sh\necho "cwd=$PWD"\nfor a in "$@"; do echo "arg=$a"; done\necho "to stderr" >&2\n')
    script.chmod(0o755)
    return script


def run_like_cron(line: str) -> None:
    """What cron does with a line: the sixth field on, `\\%` back to `%`, through /bin/sh."""
    command = line.split(" ", 5)[5].replace("\\%", "%")
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert done.returncode == 0, done.stderr


def test_the_crontab_line_runs_the_scan_as_configured(tmp_path):
    """Paths with spaces and a percent sign (which crontab would turn into a newline)."""
    executable = fake_kzprobe(tmp_path)
    workdir = tmp_path / "vantage 100%"
    workdir.mkdir()
    config = workdir / "kzprobe.yaml"
    log = tmp_path / "state dir" / "kzprobe" / "vps.log"
    plan = plan_schedule("vps", config, workdir, every=60, log_file=log, executable=[str(executable)],
                         seed="fixed", system_wide=False)
    assert "\\%" in plan.crontab and "%" not in plan.crontab.replace("\\%", "")
    run_like_cron(plan.crontab)
    run_like_cron(plan.crontab)  # appends, and the log directory now exists
    lines = log.read_text().splitlines()
    assert lines[:5] == [f"cwd={workdir}", "arg=scan", "arg=--config", f"arg={config}", "to stderr"]
    assert len(lines) == 10


def test_the_crontab_line_has_a_time_limit_short_of_the_interval(tmp_path):
    line = crontab_line(Schedule(60, 17), ["/opt/kzprobe", "scan"], tmp_path, tmp_path / "log")
    assert line.startswith("17 * * * * cd ")
    assert "timeout -k 60s 59m /opt/kzprobe scan >> " in line
    assert "flock" not in line  # kzprobe locks its output directory itself


def test_control_characters_in_paths_are_refused(tmp_path):
    with pytest.raises(ScheduleError, match="control characters"):
        crontab_line(Schedule(60, 1), ["/opt/kzprobe", "scan"], tmp_path / "a\nb", tmp_path / "log")


def test_the_service_and_timer(tmp_path):
    command = ["/opt/my kzprobe/bin/kzprobe", "scan", "--config", "/etc/kz/100%.yaml", "$HOME"]
    service = systemd_service("vps-fra", Schedule(60, 17), command, tmp_path)
    assert "Type=oneshot" in service
    assert 'ExecStart="/opt/my kzprobe/bin/kzprobe" scan --config "/etc/kz/100%%.yaml" "$$HOME"' in service
    assert "TimeoutStartSec=59min" in service
    assert "SuccessExitStatus=4" in service and "Nice=10" in service
    timer = systemd_timer("vps-fra", Schedule(60, 17))
    for line in ["OnCalendar=*-*-* *:17:00", "RandomizedDelaySec=300", "Persistent=true",
                 "Unit=kzprobe-vps-fra.service", "WantedBy=timers.target"]:
        assert line in timer.splitlines()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_units(tmp_path):
    executable = fake_kzprobe(tmp_path)
    plan = plan_schedule("vps-fra", tmp_path / "kzprobe.yaml", tmp_path, every=30,
                         executable=[str(executable)], seed="fixed", system_wide=False)
    units = tmp_path / "units"
    units.mkdir()
    (units / plan.service_name).write_text(plan.service)
    (units / plan.timer_name).write_text(plan.timer)
    checked = subprocess.run(["systemd-analyze", "verify", "--man=no", plan.service_name, plan.timer_name],
                             cwd=units, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == ""  # not even a warning about an unknown key


def test_the_executable_is_found_absolutely(tmp_path, monkeypatch):
    script = fake_kzprobe(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "cron"])
    assert kzprobe_command() == [str(script)]
    monkeypatch.setattr(sys, "argv", ["-c"])
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(script.parent))
    assert kzprobe_command() == [str(script)]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert kzprobe_command() == [str(tmp_path / "nowhere" / "python"), "-m", "kzprobe"]


def test_the_log_goes_to_the_state_directory():
    assert cron.default_log_file("vps", {"XDG_STATE_HOME": "/state",
                                         "HOME": "/home/u"}) == Path("/state/kzprobe/vps.log")
    assert cron.default_log_file("vps", {"HOME": "/home/u"}) == Path("/home/u/.local/state/kzprobe/vps.log")


# --- `kzprobe cron` -----------------------------------------------------------------------


def test_cron_command_prints_both_ways(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "conf" / "kzprobe.yaml"
    config.parent.mkdir()
    config.write_text("vantage: vps-fra\noutput_dir: /srv/kzprobe\n")
    result = CliRunner().invoke(app, ["cron", "--config", str(config), "--every", "30"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "# kzprobe schedule for vantage vps-fra: every 30 minutes" in out
    [line] = [text for text in out.splitlines() if text and not text.startswith("#") and " * * * " in text]
    assert f" scan --config {config} >> " in line
    assert f"cd {tmp_path} && " in line
    assert "[Service]" in out and "[Timer]" in out and "OnCalendar=" in out
    assert "kzprobe-vps-fra.timer" in out
    assert result.stderr == ""


def test_cron_only_one_piece(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kzprobe.yaml").write_text("vantage: vps\noutput_dir: out\n")
    result = CliRunner().invoke(app, ["cron", "--only", "cron"])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 1 and result.stdout.split()[4] == "*"
    timer = CliRunner().invoke(app, ["cron", "--only", "timer"]).stdout
    assert timer.startswith("[Unit]") and "Persistent=true" in timer


@pytest.mark.parametrize("arguments, message", [
    (["--every", "7"], "must divide an hour"),
    (["--only", "crontab"], "one of cron, service, timer"),
])
def test_cron_bad_arguments(tmp_path, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["cron", "--vantage", "vps", "--output-dir", "out", *arguments])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert message in result.stderr


def test_cron_with_a_bad_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kzprobe.yaml").write_text("every: 60\n")
    result = CliRunner().invoke(app, ["cron"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "every: unknown key" in result.stderr


def test_cron_without_a_configuration_refuses_to_guess(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for partial in ([], ["--vantage", "vps"], ["--output-dir", "out"]):
        refused = CliRunner().invoke(app, ["cron", *partial])
        assert refused.exit_code == ExitCode.BAD_INPUT, partial
        assert "no configuration file found" in refused.stderr and refused.stdout == ""


def test_cron_with_vantage_and_output_dir_pins_both_in_the_scan_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    result = CliRunner().invoke(app, ["cron", "--vantage", "vps-ala", "--output-dir", "out", "--only", "cron"])
    assert result.exit_code == 0, result.stderr
    assert f" scan --vantage vps-ala --output-dir {tmp_path / 'out'} >> " in result.stdout


def test_cron_warns_what_is_not_pinned_down(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (tmp_path / "kzprobe.yaml").write_text("vantage: vps\n")
    unpinned = CliRunner().invoke(app, ["cron"])
    assert "output_dir is not set" in unpinned.stderr
    assert str(tmp_path / "results") in unpinned.stderr
