"""The processes a command started, seen from /proc: to check that none outlives it."""

from __future__ import annotations

import time
from pathlib import Path


def children(parent: int) -> list[int]:
    """The pids whose parent is `parent` (a command's reading workers, the resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def alive_after(pids: list[int], seconds: float) -> list[int]:
    """Those of `pids` still running (not ended, not a zombie) after waiting up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        running = [pid for pid in pids if _running(pid)]
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
