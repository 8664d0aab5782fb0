"""Exit codes, and the one base class of every error kzprobe reports to the person running it.

An error's message says what went wrong in words its reader can act on, `details` lists the
problems behind it when there are many (every bad line of a target file), and its class says
how the command ends (`exit_code`, documented in README.md). Library code raises; the CLI
prints and exits in one place (kzprobe/cli/__init__.py); any other caller catches KzprobeError,
or a subclass for one kind of trouble. Exceptions that never leave their module (a probe's
failure, turned into a failure string at once) are not KzprobeErrors.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """How a kzprobe command ends."""

    OK = 0  # the command did its job (a scan completed, whatever it found)
    FAILED = 1  # unexpected error; `lab run`: a scenario did not match its expectation; `collect`: a vantage was left
    BAD_INPUT = 2  # bad arguments, target file, configuration or report file
    INTERRUPTED = 3  # the scan was interrupted; the report is written with "complete": false
    LOCKED = 4  # another scan is writing into the same output directory
    CANNOT_WRITE = 5  # the output could not be written (disk full, permissions)


class KzprobeError(Exception):
    """Something kzprobe cannot do, said in its message; the command exits with `exit_code`."""

    exit_code: ClassVar[ExitCode] = ExitCode.FAILED

    def __init__(self, *args: object, details: Iterable[str] = ()) -> None:
        super().__init__(*args)
        self.details: tuple[str, ...] = tuple(details)


class BadInputError(KzprobeError):
    """An argument, target file, configuration, fingerprint file or report that cannot be used."""

    exit_code = ExitCode.BAD_INPUT


class CannotWriteError(KzprobeError):
    """A report, journal or other output that could not be written."""

    exit_code = ExitCode.CANNOT_WRITE
