"""One scan at a time per output directory: an exclusive, non-blocking flock.

An hourly cron job whose scan runs long (a shutdown makes every target wait out its timeout)
would otherwise start a second scan into the same directory, and the two would rotate
latest.json and delete each other's files. The lock is `flock(2)` on `<dir>/.kzprobe.lock`:
the kernel releases it when the holder exits or is killed, so a power cut or `kill -9` never
leaves a stale lock to clean up by hand. The file itself is left in place (deleting it would
let a third process lock a new file while a second still holds the old one); its text - the
holder's pid and start time - only explains a refusal.

Acquiring the lock also proves the directory writable (a small file is written, synced and
removed), so a read-only or full disk is reported before anything is measured.
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from kzprobe.errors import CannotWriteError, ExitCode, KzprobeError

LOCK_NAME: Final = ".kzprobe.lock"
# The holder's note is one short line; reading more would only invite a hostile file.
_NOTE_MAX_BYTES: Final = 256
# Written and synced before a scan, so a disk with no room for even this fails up front.
_PROBE_BYTES: Final = 4096


class OutputDirError(CannotWriteError, OSError):
    """The output directory cannot be created or written (permissions, read-only, disk full)."""

    def __init__(self, directory: Path, message: str, errno_value: int = 0) -> None:
        super().__init__(errno_value, message)
        self.directory = directory
        self.message = message

    def __str__(self) -> str:
        return f"{self.directory}: {self.message}"


class LockedError(KzprobeError):
    """Another scan holds the directory's lock; `holder_pid`/`since` come from its note (or None)."""

    exit_code = ExitCode.LOCKED

    def __init__(self, directory: Path, holder_pid: int | None, since: str | None) -> None:
        self.directory = directory
        self.holder_pid = holder_pid
        self.since = since
        who = f"pid {holder_pid}" if holder_pid is not None else "another process"
        when = f", running since {since}" if since else ""
        super().__init__(
            f"another kzprobe scan ({who}{when}) is writing into {directory}; "
            "this one stops without touching it (the lock is released when that scan ends)"
        )


class OutputLock:
    """A held output-directory lock. Release with `release()` or by leaving a `with` block."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory = directory
        self.path = directory / LOCK_NAME
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire_output_lock(directory: Path) -> OutputLock:
    """Create `directory` if needed, lock it for this process, check it can be written.

    Raises LockedError at once if another scan holds it, OutputDirError if the directory
    cannot be created, locked or written. Nothing in the directory is changed on failure
    except the lock file, which an earlier scan normally left there already.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _dir_error(directory, "cannot create the output directory", exc) from exc
    path = directory / LOCK_NAME
    try:
        # No O_TRUNC: the current holder's note must survive until we hold the lock ourselves.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise _dir_error(directory, f"cannot create the lock file {path}", exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        note = _read_note(fd)
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise LockedError(directory, *note) from None
        raise _dir_error(directory, f"cannot lock {path}", exc) from exc
    lock = OutputLock(directory, fd)
    try:
        _write_note(fd)
        _check_writable(directory)
    except OSError as exc:
        lock.release()
        raise _dir_error(directory, "cannot write into the output directory", exc) from exc
    return lock


def _write_note(fd: int) -> None:
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} since {started}\n".encode(), 0)


def _read_note(fd: int) -> tuple[int | None, str | None]:
    """(pid, start time) from the holder's note; None for anything unreadable or odd."""
    try:
        words = os.pread(fd, _NOTE_MAX_BYTES, 0).decode("ascii").split()
    except (OSError, UnicodeDecodeError):
        return None, None
    if len(words) == 4 and words[0] == "pid" and words[1].isdigit() and words[2] == "since" \
            and all(c.isdigit() or c in "-:TZ" for c in words[3]):
        return int(words[1]), words[3]
    return None, None


def _check_writable(directory: Path) -> None:
    fd, name = tempfile.mkstemp(prefix=".kzprobe-write-check.", dir=directory)
    try:
        os.write(fd, b"\0" * _PROBE_BYTES)
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(name)


def _dir_error(directory: Path, what: str, exc: OSError) -> OutputDirError:
    reason = exc.strerror or str(exc)
    hint = {
        errno.ENOSPC: " (the disk is full: free space or lower the retention)",
        errno.EDQUOT: " (disk quota exceeded)",
        errno.EROFS: " (the file system is mounted read-only)",
        errno.EACCES: " (check the directory's owner and permissions)",
        errno.EPERM: " (check the directory's owner and permissions)",
    }.get(exc.errno or 0, "")
    return OutputDirError(directory, f"{what}: {reason}{hint}", exc.errno or 0)
