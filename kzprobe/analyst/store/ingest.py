"""`kzprobe store add`: report files into the store, read in worker processes, committed in batches.

The files are put in scan-time order from their headers (then vantage, then path), read a chunk
at a time by kzprobe.analyst.store.reader's worker processes, and offered in that order to the
writer (kzprobe.analyst.store.writer), which writes each day as it completes and commits every
batch: of two versions of one scan in the same add, the later in that order is kept. Into a
store that has scans, every file is hashed first and one the store has is skipped unread; into
an empty store, none is hashed twice.
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
            if writer.known:
                # Each file hashed first (in threads): one whose bytes the store has is skipped
                # unparsed (an hourly add of a year of reports parses none).
                held = {entry.sha256 for entry in writer.known.values()}
                new = [path for path, sha256 in zip(files, hashes(files, readers.count), strict=True)
                       if sha256 is None or sha256 not in held]
                writer.count.unchanged += len(files) - len(new)
            else:  # an empty store: every file is new, and read
                new = files
            readers.start(len(new))  # the workers start (and import) while the files are ordered
            # In scan-time order: a day's scans come together, and the writer writes each day
            # once, not once per batch (file names need not follow time).
            new = [key.path for key in sorted(scan_key(Path(path)) for path in new)]
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
