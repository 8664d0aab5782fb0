"""Functions the tests hand to kzprobe's worker processes: importable there without the test
modules (whose imports a worker may refuse, as the store's readers refuse pandas)."""

from __future__ import annotations


def memory_pool_backend(chunk: list[str]) -> str:
    """The allocator a worker's Arrow buffers come from ("system", "mimalloc", "jemalloc")."""
    import pyarrow as pa

    return pa.default_memory_pool().backend_name
