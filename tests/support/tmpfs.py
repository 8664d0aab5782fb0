"""Run a Python snippet on a real small or read-only file system: a tmpfs mounted in a private
mount namespace (`unshare -rm`, no root needed where user namespaces are allowed), so that
"disk full" and "read-only" are the kernel's own errors, not mocks. Tests skip where the
machine allows no namespaces."""

from __future__ import annotations

import functools
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@functools.cache
def namespaces_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=16k tmpfs /mnt 2>/dev/null || "
         "mount -t tmpfs -o size=16k tmpfs /tmp"],
        capture_output=True, timeout=10,
    )
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(not namespaces_available(), reason="no user+mount namespaces here")


def run_on_tmpfs(mountpoint: Path, script: str, *, size_kib: int = 64, setup: str = "",
                 read_only: bool = False) -> dict:
    """Mount a tmpfs of `size_kib` on `mountpoint`, run the shell `setup`, optionally remount it
    read-only, then run `script` (Python; it prints one JSON object as its last line)."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    where = shlex.quote(str(mountpoint))
    steps = [f"mount -t tmpfs -o size={size_kib}k,mode=0755 tmpfs {where}"]
    if setup:
        steps.append(setup)
    if read_only:
        steps.append(f"mount -o remount,ro {where}")
    steps.append(f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}")
    done = subprocess.run(["unshare", "-rm", "sh", "-ec", " && ".join(steps)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
