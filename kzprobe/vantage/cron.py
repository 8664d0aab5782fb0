"""The schedule of a vantage point: a crontab line, or a systemd service + timer, ready to paste.

What the generated lines rely on, and why:
- kzprobe locks its output directory itself, so no `flock` wrapper: a run that finds the
  previous one still going exits at once (code 4) and touches nothing;
- absolute paths everywhere (cron starts in $HOME with a minimal PATH), and the working
  directory `kzprobe cron` ran in, so relative settings mean what `config show` shows;
- a minute offset derived from the vantage, host and configuration, so that many vantages do
  not all hit the same servers at :00, yet running `kzprobe cron` again prints the same line;
- a time limit one minute short of the interval: a scan stuck past its slot is stopped with
  SIGTERM, which writes its report as incomplete, and the next one starts on time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kzprobe.errors import BadInputError

# Scans run every N minutes, N dividing an hour or (in whole hours) a day, so that the slots
# fall at the same minutes every hour / day. Below 5 minutes a scan of the bundled lists would
# not finish before the next one.
MIN_EVERY_MINUTES: Final = 5
DEFAULT_EVERY_MINUTES: Final = 60
# systemd adds up to this much random delay on top of the fixed offset (a tenth of the interval,
# at most five minutes), spreading vantages that share a host name and configuration.
MAX_RANDOM_DELAY_S: Final = 300
# After SIGTERM, the scan waits briefly for targets in flight and writes its report.
STOP_GRACE_S: Final = 60
# Exit code 4 (another scan holds the directory) is the lock doing its job, not a failure.
SYSTEMD_SUCCESS_EXIT_STATUS: Final = "4"

_SYSTEMD_SAFE = re.compile(r"^[A-Za-z0-9_./:@+=,-]+$")


class ScheduleError(BadInputError, ValueError):
    """An interval or path that cannot be written into a crontab or a unit file."""


@dataclass(frozen=True)
class Schedule:
    """Every `every` minutes, at `minute` past the hour (first slot) and, for intervals of
    several hours, from hour `hour`."""

    every: int
    minute: int
    hour: int = 0

    def describe(self) -> str:
        if self.every < 60:
            minutes = ", ".join(f":{m:02d}" for m in range(self.minute, 60, self.every))
            return f"every {self.every} minutes (at {minutes})"
        if self.every == 60:
            return f"every hour at :{self.minute:02d}"
        if self.every == 1440:
            return f"every day at {self.hour:02d}:{self.minute:02d}"
        return f"every {self.every // 60} hours from {self.hour:02d}:{self.minute:02d}"


def check_every(every: int) -> None:
    if every < MIN_EVERY_MINUTES or not (60 % every == 0 or (every % 60 == 0 and 1440 % every == 0)):
        raise ScheduleError(
            f"--every {every}: must divide an hour (5, 10, 15, 20, 30, 60) or, in whole hours, "
            "a day (120, 180, 240, 360, 480, 720, 1440)"
        )


def schedule_for(every: int, seed: str) -> Schedule:
    """The slot of this vantage: a stable pseudo-random offset within the interval."""
    check_every(every)
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8", "surrogatepass")).digest()[:8], "big")
    minute = number % min(every, 60)
    hour = (number // 60) % (every // 60) if every > 60 else 0
    return Schedule(every, minute, hour)


def default_seed(vantage: str, config_file: Path | None) -> str:
    """Vantage name, host name and configuration path: differs between machines and vantages,
    stays the same between two runs of `kzprobe cron` (the host name is only hashed)."""
    return f"{vantage}\n{socket.gethostname()}\n{config_file or ''}"


def kzprobe_command() -> list[str]:
    """How to start this kzprobe from cron: the `kzprobe` script being run, else the one
    installed beside this Python (same virtualenv), else the one on PATH, else this Python with
    `-m kzprobe`. Absolute, symlinks kept (a pipx or venv upgrade replaces the target, not the
    link; resolving a venv's python would escape the venv)."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "kzprobe" and argv0.is_file():
        return [str(argv0.absolute())]
    beside = Path(sys.executable).absolute().parent / "kzprobe"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("kzprobe")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "kzprobe"]


def scan_command(executable: list[str], config_file: Path | None, extra: list[str] | None = None) -> list[str]:
    """`kzprobe scan` with the configuration file (absolute) and any pinned flags (`extra`)."""
    command = [*executable, "scan"]
    if config_file is not None:
        command += ["--config", str(config_file.absolute())]
    return command + list(extra or [])


def default_log_file(vantage: str, environ: dict[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/kzprobe/<vantage>.log, else ~/.local/state/kzprobe/<vantage>.log: out of
    the output directory, which an outside vantage publishes."""
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME", "")
    base = Path(state) if state and os.path.isabs(state) else Path(env.get("HOME") or Path.home(), ".local", "state")
    return base / "kzprobe" / f"{vantage}.log"


def _check_path_text(text: str) -> None:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ScheduleError(f"a path with control characters cannot be scheduled: {text!r}")


def _time_limit_minutes(schedule: Schedule) -> int:
    return schedule.every - 1


# --- cron ---------------------------------------------------------------------------------


def cron_fields(schedule: Schedule) -> str:
    """The five time fields: "17 * * * *", "7,22,37,52 * * * *", "17 1-23/2 * * *", "17 3 * * *"."""
    if schedule.every < 60:
        return ",".join(str(m) for m in range(schedule.minute, 60, schedule.every)) + " * * * *"
    if schedule.every == 60:
        return f"{schedule.minute} * * * *"
    if schedule.every == 1440:
        return f"{schedule.minute} {schedule.hour} * * *"
    return f"{schedule.minute} {schedule.hour}-23/{schedule.every // 60} * * *"


def _cron_quote(text: str) -> str:
    # crontab(5): an unescaped % ends the command (the rest becomes its stdin).
    return shlex.quote(text).replace("%", "\\%")


def crontab_line(schedule: Schedule, command: list[str], workdir: Path, log_file: Path) -> str:
    """One crontab line: cd to the working directory, make the log's directory, run the scan
    with a time limit (coreutils `timeout`, SIGTERM then SIGKILL), append output to the log."""
    for text in [*command, str(workdir), str(log_file)]:
        _check_path_text(text)
    limit = ["timeout", "-k", f"{STOP_GRACE_S}s", f"{_time_limit_minutes(schedule)}m"]
    shell = (
        f"cd {_cron_quote(str(workdir))} && mkdir -p {_cron_quote(str(log_file.parent))} && "
        + " ".join(_cron_quote(part) for part in [*limit, *command])
        + f" >> {_cron_quote(str(log_file))} 2>&1"
    )
    return f"{cron_fields(schedule)} {shell}"


# --- systemd ------------------------------------------------------------------------------


def _systemd_arg(text: str) -> str:
    """One ExecStart argument: specifiers (%) and variables ($) escaped, quoted if needed."""
    escaped = text.replace("%", "%%").replace("$", "$$")
    if _SYSTEMD_SAFE.match(escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_name(vantage: str) -> str:
    return f"kzprobe-{vantage}"


def on_calendar(schedule: Schedule) -> str:
    """systemd.time(7): "*-*-* *:17:00", "*-*-* *:07/15:00", "*-*-* 01/2:17:00", "*-*-* 03:17:00"."""
    if schedule.every < 60:
        return f"*-*-* *:{schedule.minute:02d}/{schedule.every}:00"
    if schedule.every == 60:
        return f"*-*-* *:{schedule.minute:02d}:00"
    if schedule.every == 1440:
        return f"*-*-* {schedule.hour:02d}:{schedule.minute:02d}:00"
    return f"*-*-* {schedule.hour:02d}/{schedule.every // 60}:{schedule.minute:02d}:00"


def systemd_service(vantage: str, schedule: Schedule, command: list[str], workdir: Path) -> str:
    for text in [*command, str(workdir)]:
        _check_path_text(text)
    return "\n".join([
        "[Unit]",
        f"Description=kzprobe scan from vantage {vantage}",
        "",
        "[Service]",
        "Type=oneshot",
        f"WorkingDirectory={str(workdir).replace('%', '%%')}",
        "ExecStart=" + " ".join(_systemd_arg(part) for part in command),
        "# A scan still running one minute before the next slot is stopped with SIGTERM:",
        "# it writes its report (complete: false) and the next scan starts on time.",
        f"TimeoutStartSec={_time_limit_minutes(schedule)}min",
        f"TimeoutStopSec={STOP_GRACE_S}s",
        "# 4: another kzprobe scan was writing into the output directory (the lock did its job).",
        f"SuccessExitStatus={SYSTEMD_SUCCESS_EXIT_STATUS}",
        "Nice=10",
        "NoNewPrivileges=yes",
        "",
    ])


def systemd_timer(vantage: str, schedule: Schedule) -> str:
    delay = min(MAX_RANDOM_DELAY_S, schedule.every * 60 // 10)
    return "\n".join([
        "[Unit]",
        f"Description=kzprobe scan from vantage {vantage}, {schedule.describe()}",
        "",
        "[Timer]",
        f"OnCalendar={on_calendar(schedule)}",
        f"RandomizedDelaySec={delay}",
        "# A slot missed while the machine was off runs once at the next boot.",
        "Persistent=true",
        f"Unit={unit_name(vantage)}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ])


@dataclass(frozen=True)
class SchedulePlan:
    """Everything `kzprobe cron` prints, as data."""

    vantage: str
    schedule: Schedule
    crontab: str
    service_name: str
    service: str
    timer_name: str
    timer: str
    log_file: Path
    system_wide: bool  # running as root: system units in /etc/systemd/system
    notes: tuple[str, ...] = ()  # said under the heading (what the scans also do: alerts)

    def render(self) -> str:
        unit_dir = "/etc/systemd/system" if self.system_wide else "~/.config/systemd/user"
        systemctl = "systemctl" if self.system_wide else "systemctl --user"
        lines = [
            f"# kzprobe schedule for vantage {self.vantage}: {self.schedule.describe()}.",
            *(f"# {note}" for note in self.notes),
            "",
            "# Either cron: add this line with `crontab -e`",
            f"# (its output goes to {self.log_file}).",
            self.crontab,
            "",
            f"# Or systemd: save the two units below in {unit_dir}/, then run",
            f"#   {systemctl} daemon-reload && {systemctl} enable --now {self.timer_name}",
        ]
        if not self.system_wide:
            lines.append("#   loginctl enable-linger \"$USER\"   # so that it runs while you are logged out")
        lines += [
            f"# Output: journalctl {'--user ' if not self.system_wide else ''}-u {self.service_name}",
            "",
            f"# --- {self.service_name} ---",
            self.service.rstrip("\n"),
            "",
            f"# --- {self.timer_name} ---",
            self.timer.rstrip("\n"),
            "",
        ]
        return "\n".join(lines)


def plan_schedule(vantage: str, config_file: Path | None, workdir: Path, *,
                  every: int = DEFAULT_EVERY_MINUTES, log_file: Path | None = None,
                  executable: list[str] | None = None, seed: str | None = None,
                  system_wide: bool | None = None, scan_flags: list[str] | None = None) -> SchedulePlan:
    """The crontab line and systemd units that run `kzprobe scan --config FILE` (plus
    `scan_flags`, e.g. --vantage and --output-dir when there is no file) in `workdir`."""
    schedule = schedule_for(every, seed if seed is not None else default_seed(vantage, config_file))
    for flag in scan_flags or []:
        _check_path_text(flag)
    command = scan_command(executable or kzprobe_command(), config_file, scan_flags)
    log = log_file or default_log_file(vantage)
    name = unit_name(vantage)
    return SchedulePlan(
        vantage=vantage,
        schedule=schedule,
        crontab=crontab_line(schedule, command, workdir, log.absolute()),
        service_name=f"{name}.service",
        service=systemd_service(vantage, schedule, command, workdir),
        timer_name=f"{name}.timer",
        timer=systemd_timer(vantage, schedule),
        log_file=log.absolute(),
        system_wide=os.geteuid() == 0 if system_wide is None else system_wide,
    )
