"""The output-directory lock: one scan at a time, refused at once with who holds it, released
by the kernel when the holder dies, and a directory that cannot be written found up front."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from kzprobe.vantage import lock as lock_module
from kzprobe.vantage.lock import LOCK_NAME, LockedError, OutputDirError, acquire_output_lock
from support.tmpfs import needs_namespaces, run_on_tmpfs

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from kzprobe.vantage.lock import acquire_output_lock
    held = acquire_output_lock(Path(sys.argv[1]))
    print("locked", flush=True)
    time.sleep(60)
""")

CONTENDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from kzprobe.vantage.lock import LockedError, acquire_output_lock
    try:
        acquire_output_lock(Path(sys.argv[1]))
    except LockedError as exc:
        print(exc)
        sys.exit(4)
    print("acquired")
""")


@pytest.fixture
def holder(tmp_path):
    """A separate process holding the lock of tmp_path/out until the test kills it."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "out")],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(10)


def snapshot(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(directory.iterdir())}


def test_lock_creates_the_directory_and_notes_the_holder(tmp_path):
    directory = tmp_path / "results" / "vps"
    with acquire_output_lock(directory) as held:
        assert held.held
        note = (directory / LOCK_NAME).read_text()
        assert note.startswith(f"pid {os.getpid()} since 20")
    assert not held.held
    assert sorted(p.name for p in directory.iterdir()) == [LOCK_NAME]  # the write check left nothing


def test_a_second_scan_is_refused_at_once_and_touches_nothing(tmp_path, holder):
    directory = tmp_path / "out"
    (directory / "vps-20261122T100000Z.journal.jsonl").write_text('{"type":"scan"}\n')
    before = snapshot(directory)
    contender = subprocess.run([sys.executable, "-c", CONTENDER, str(directory)],
                               capture_output=True, text=True, timeout=30)
    assert contender.returncode == 4
    assert f"another kzprobe scan (pid {holder.pid}, running since 20" in contender.stdout
    assert str(directory) in contender.stdout
    assert snapshot(directory) == before


def test_the_refusal_names_the_holder(tmp_path, holder):
    with pytest.raises(LockedError) as caught:
        acquire_output_lock(tmp_path / "out")
    assert caught.value.holder_pid == holder.pid
    assert caught.value.since is not None and caught.value.since.endswith("Z")


def test_the_kernel_releases_the_lock_when_the_holder_is_killed(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    with acquire_output_lock(tmp_path / "out") as held:
        assert held.held
        assert f"pid {os.getpid()} " in (tmp_path / "out" / LOCK_NAME).read_text()


def test_two_locks_in_one_process_conflict_too(tmp_path):
    with acquire_output_lock(tmp_path):
        with pytest.raises(LockedError):
            acquire_output_lock(tmp_path)
    acquire_output_lock(tmp_path).release()


@pytest.mark.parametrize("note, pid, since", [
    ("pid 123 since 2026-11-22T10:00:00Z\n", 123, "2026-11-22T10:00:00Z"),
    ("", None, None),
    ("\x1b[31mpid 1 since now\n", None, None),  # a planted note is never echoed
    ("pid 12 since 2026-11-22T10:00:00Z; rm -rf\n", None, None),
])
def test_the_holder_note_is_parsed_strictly(tmp_path, note, pid, since):
    path = tmp_path / "note"
    path.write_text(note)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert lock_module._read_note(fd) == (pid, since)
    finally:
        os.close(fd)


def test_a_symlinked_lock_file_is_not_followed(tmp_path):
    (tmp_path / "elsewhere").write_text("precious")
    (tmp_path / LOCK_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputDirError, match="cannot create the lock file"):
        acquire_output_lock(tmp_path)
    assert (tmp_path / "elsewhere").read_text() == "precious"


def test_an_output_path_that_is_a_file(tmp_path):
    (tmp_path / "results").write_text("not a directory")
    with pytest.raises(OutputDirError, match="cannot create the output directory"):
        acquire_output_lock(tmp_path / "results")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_a_directory_without_write_permission(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        with pytest.raises(OutputDirError, match="permission"):
            acquire_output_lock(directory)
    finally:
        directory.chmod(0o755)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_a_directory_owned_by_someone_else():
    """As root, the same check run as `nobody` on a root-owned directory."""
    parent = Path(tempfile.mkdtemp(prefix="kzprobe-perm-"))
    try:
        parent.chmod(0o755)
        done = subprocess.run(
            ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", sys.executable, "-c",
             ACQUIRE.format(directory=parent / "results")],
            capture_output=True, text=True, timeout=30,
        )
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        assert outcome["errno"] == errno.EACCES
        assert "check the directory's owner and permissions" in outcome["error"]
        assert list(parent.iterdir()) == []
    finally:
        shutil.rmtree(parent)


def test_a_full_disk_is_found_before_scanning(tmp_path, monkeypatch):
    """Where namespaces are not available: the kernel's ENOSPC from the write check, simulated."""
    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lock_module.os, "write", full)
    with pytest.raises(OutputDirError, match="disk is full") as caught:
        acquire_output_lock(tmp_path)
    assert caught.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME]  # write-check file removed
    monkeypatch.undo()
    acquire_output_lock(tmp_path).release()  # and the failed attempt released its lock


ACQUIRE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from kzprobe.vantage.lock import OutputDirError, acquire_output_lock
    try:
        acquire_output_lock(Path(sys.argv[1] if len(sys.argv) > 1 else "{directory}"))
        print(json.dumps({{"error": None}}))
    except OutputDirError as exc:
        print(json.dumps({{"error": str(exc), "errno": exc.errno}}))
""")


@needs_namespaces
def test_read_only_file_system(tmp_path):
    mount = tmp_path / "mnt"
    outcome = run_on_tmpfs(mount, ACQUIRE.format(directory=mount / "results"), read_only=True)
    assert outcome["errno"] == errno.EROFS
    assert "cannot create the output directory" in outcome["error"]
    assert "mounted read-only" in outcome["error"]


@needs_namespaces
def test_read_only_file_system_with_an_existing_directory(tmp_path):
    mount = tmp_path / "mnt"
    outcome = run_on_tmpfs(mount, ACQUIRE.format(directory=mount / "results"),
                           setup=f"mkdir {mount}/results && touch {mount}/results/{LOCK_NAME}", read_only=True)
    assert outcome["errno"] == errno.EROFS
    assert "cannot create the lock file" in outcome["error"]


@needs_namespaces
def test_full_file_system(tmp_path):
    mount = tmp_path / "mnt"
    outcome = run_on_tmpfs(mount, ACQUIRE.format(directory=mount / "results"), size_kib=64,
                           setup=f"mkdir {mount}/results && (dd if=/dev/zero of={mount}/filler bs=4k 2>/dev/null || "
                                 "true)")
    assert outcome["errno"] == errno.ENOSPC
    assert "disk is full" in outcome["error"]
