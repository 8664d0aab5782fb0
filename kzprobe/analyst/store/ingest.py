"""`kzprobe store add`: report files into the store, read in worker processes, committed in batches.

The files are put in scan-time order from their headers (then vantage, then path), read a chunk
at a time by kzprobe.analyst.store.reader's worker processes, and offered in that order to the
writer (kzprobe.analyst.store.writer), which writes each day as it completes and commits every
batch: of two versions of one scan in the same add, the later in that order is kept. A file is
hashed before it is read only when the store may have it (its header names a scan the store
has, or no scan id): an identical copy is then skipped unread, and a new scan costs no hash
beyond the one its reading takes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from kzprobe.analyst.scan_order import scan_key
from kzprobe.analyst.store import layout
from kzprobe.analyst.store.reader import Readers, hashes, read_chunk
from kzprobe.analyst.store.writer import DEFAULT_BATCH, IngestCount, open_writer
from kzprobe.report import read as rr

__all__ = ["DEFAULT_BATCH", "IngestCount", "add_paths"]


def add_paths(store: Path, paths: Iterable[str | os.PathLike[str]], *, on_problem: Callable[[rr.ReportError], None],
              batch_size: int = DEFAULT_BATCH, workers: int | None = None,
              on_note: Callable[[str], None] = lambda note: None) -> IngestCount:
    """`kzprobe store add`: every report under `paths` into `store`, committed every `batch_size`."""
    with layout.writer_lock(store):
        writer = open_writer(store, on_note)
        files = [str(path) for path in rr.expand_report_paths(list(paths), on_problem)]
        with Readers(workers) as readers:
            if not writer.known:  # every file will be read: the workers start (and import) meanwhile
                readers.start(len(files))
            # In scan-time order: a day's scans come together, and the writer writes each day
            # once, not once per batch (file names need not follow time).
            keys = sorted(scan_key(Path(path)) for path in files)
            maybe_held = [key.path for key in keys if key.scan_id is None or key.scan_id in writer.known]
            held = {entry.sha256 for entry in writer.known.values()}
            unchanged = {path for path, sha256 in zip(maybe_held, hashes(maybe_held, readers.count), strict=True)
                         if sha256 is not None and sha256 in held}
            writer.count.unchanged += len(unchanged)
            new = [key.path for key in keys if key.path not in unchanged]
            readers.start(len(new))
            for chunk in readers.map(read_chunk, new):
                rows = chunk.rows()
                for outcome in chunk.outcomes:
                    if isinstance(outcome, rr.ReportError):
                        writer.count.problems += 1
                        on_problem(outcome)
                        continue
                    writer.offer(outcome, rows)
                    if writer.pending >= batch_size:
                        writer.commit()
        writer.commit()
        return writer.count
