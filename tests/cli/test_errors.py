"""One error base: every error a user can meet is a KzprobeError carrying its exit code, and the
CLI prints it and exits in one place (details first, then `kzprobe: <message>`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kzprobe.analysis.fingerprint_file import FingerprintError
from kzprobe.cli import _Commands, app, report_error
from kzprobe.errors import BadInputError, CannotWriteError, ExitCode, KzprobeError
from kzprobe.lab.lab import LabError
from kzprobe.lab.netns import LabUnavailable
from kzprobe.probes.dns import ResolverConfigError
from kzprobe.report.read import ReportError
from kzprobe.report.write import ReportWriteError
from kzprobe.safe_yaml import YamlError
from kzprobe.scan.control_source import ControlError, RemoteFileError
from kzprobe.scan.processes import MeasuringProcessError
from kzprobe.scan.settings import ConfigError, ConfigProblem
from kzprobe.targets import TargetFileError, TargetProblem
from kzprobe.targets.selection import TargetSelectionError
from kzprobe.vantage.cron import ScheduleError
from kzprobe.vantage.latest import LatestError
from kzprobe.vantage.lock import LockedError, OutputDirError
from kzprobe.vantage.retention import RetentionError

runner = CliRunner()


@pytest.mark.parametrize(("error", "code"), [
    (ReportError("r.json", "truncated JSON"), ExitCode.BAD_INPUT),
    (TargetFileError([TargetProblem("t.yaml", "entry 1", "url", "must be a string")]), ExitCode.BAD_INPUT),
    (ConfigError([ConfigProblem("k.yaml", "timeout", "must be a number")]), ExitCode.BAD_INPUT),
    (YamlError("k.yaml", "aliases are not allowed", line=3), ExitCode.BAD_INPUT),
    (ResolverConfigError("not an address"), ExitCode.BAD_INPUT),
    (ControlError("not a report"), ExitCode.BAD_INPUT),
    (RemoteFileError("https://x.example/list.yaml answered HTTP 404"), ExitCode.BAD_INPUT),
    (TargetSelectionError("--target: no target matches 'nope'"), ExitCode.BAD_INPUT),
    (FingerprintError("no header"), ExitCode.BAD_INPUT),
    (ScheduleError("--every 7"), ExitCode.BAD_INPUT),
    (LockedError(Path("results"), 42, None), ExitCode.LOCKED),
    (OutputDirError(Path("results"), "read-only file system", 30), ExitCode.CANNOT_WRITE),
    (ReportWriteError("disk full"), ExitCode.CANNOT_WRITE),
    (LatestError("latest.json: disk full"), ExitCode.CANNOT_WRITE),
    (RetentionError([], []), ExitCode.CANNOT_WRITE),
    (MeasuringProcessError("a measuring process failed"), ExitCode.FAILED),
    (LabError("ip netns add failed"), ExitCode.FAILED),
    (LabUnavailable("not root"), ExitCode.FAILED),
], ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.name)
def test_every_error_a_user_meets_carries_its_exit_code(error: KzprobeError, code: ExitCode) -> None:
    assert isinstance(error, KzprobeError)
    assert error.exit_code == code


def test_errors_that_were_os_or_value_errors_still_are() -> None:
    # Callers that catch OSError around a write, or ValueError around a parse, keep working.
    assert isinstance(ReportWriteError("x"), OSError) and isinstance(OutputDirError(Path("d"), "m"), OSError)
    assert isinstance(YamlError("f", "m"), ValueError) and isinstance(ConfigError([]), ValueError)


def test_a_file_with_many_problems_lists_them_as_details() -> None:
    problems = [TargetProblem("t.yaml", "entry 1", "url", "must be a string"),
                TargetProblem("t.yaml", "entry 2", "id", "taken")]
    assert TargetFileError(problems).details == tuple(str(p) for p in problems)
    assert ConfigError([ConfigProblem("k.yaml", "keep",
                                      "must be 1 or more")]).details == ("k.yaml: keep: must be 1 or more",)


def test_the_cli_prints_details_then_the_message_cleaned(capsys: pytest.CaptureFixture[str]) -> None:
    report_error(BadInputError("bad \x1b[31mred\x1b[0m value", details=["line 1: \u202eevil", "line 2"]))
    assert capsys.readouterr().err.splitlines() == ["line 1: evil", "line 2", "kzprobe: bad red value"]


def _app_raising(error: BaseException) -> typer.Typer:
    """A command group built like kzprobe's (same group class), whose one command raises `error`."""
    group = typer.Typer(cls=_Commands)

    @group.callback()
    def _root() -> None:
        pass

    @group.command()
    def run() -> None:
        raise error

    return group


@pytest.mark.parametrize(("error", "code", "stderr"), [
    (BadInputError("no such thing", details=["first", "second"]), ExitCode.BAD_INPUT,
     ["first", "second", "kzprobe: no such thing"]),
    (CannotWriteError("disk full"), ExitCode.CANNOT_WRITE, ["kzprobe: disk full"]),
    (LockedError(Path("out"), 7, None), ExitCode.LOCKED,
     ["kzprobe: another kzprobe scan (pid 7) is writing into out; this one stops without touching it "
      "(the lock is released when that scan ends)"]),
], ids=["bad-input-with-details", "cannot-write", "locked"])
def test_a_command_raising_a_kzprobe_error_exits_with_its_code(error: KzprobeError, code: ExitCode,
                                                                stderr: list[str]) -> None:
    result = runner.invoke(_app_raising(error), ["run"])
    assert (result.exit_code, result.stderr.splitlines(), result.stdout) == (code, stderr, "")


def test_other_exceptions_are_not_swallowed() -> None:
    result = runner.invoke(_app_raising(RuntimeError("a bug")), ["run"])
    assert isinstance(result.exception, RuntimeError)


def test_a_real_command_ends_the_same_way(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyse", str(tmp_path / "missing.json")])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.splitlines()[-1].startswith(f"kzprobe: {tmp_path / 'missing.json'}: ")
