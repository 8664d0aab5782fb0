"""Worker processes that end when the process that started them is gone.

A process killed outright (kill -9, the OOM killer) runs no clean-up: its reading workers would
wait for work forever, each holding tens of MB. A pool worker holds both ends of its task queue
(a forked one inherits them, a spawned one is handed them), so it never reads an end of file
there either. Each worker therefore watches its parent: `end_with_parent` is the pools'
initializer (kzprobe.analyst.streaming, and the store's readers in kzprobe.analyst.store.reader).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Final

# How often a worker looks whether its parent still lives: an orphan ends within this.
WATCH_SECONDS: Final = 0.5


def end_with_parent(parent: int) -> None:
    """In a worker: end it (at once, without clean-up) when `parent` (the pid that started it)
    is no longer its parent, i.e. has died and the worker was handed to init or a subreaper."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="kzprobe-parent-watch").start()
