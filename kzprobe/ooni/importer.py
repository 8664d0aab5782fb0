"""`kzprobe ooni import`: OONI measurement files in, kzprobe reports out, and a count of
everything read, imported, skipped and refused.

Streaming in two passes over bounded memory. First the files are handed out to be read
(source.py), parsed, converted and staged on disk by report (work.py, staging.py) - a large file
is read here and handed out in batches of records, so that it too is converted on every core;
then each report's results are gathered, analysed and written (reports.py). Both passes run on
every core (`workers`), a few tasks in flight at a time; since every result comes back in input
order and a report's content depends only on its own measurements, the files written are the
same whatever the number of workers. Nothing touches the network.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kzprobe.ooni import limits
from kzprobe.ooni.source import BadInput, input_files, record_batches
from kzprobe.ooni.staging import Order
from kzprobe.ooni.work import (
    Batch,
    BatchOutcome,
    FileTask,
    GroupTask,
    Workers,
    convert,
    fewer_collections,
    write_groups,
)
from kzprobe.report.write import ReportWriteError


@dataclass
class ImportSummary:
    files: int = 0
    read: int = 0  # JSON objects read
    imported: Counter[str] = field(default_factory=Counter)  # by test name
    other_tests: Counter[str] = field(default_factory=Counter)  # skipped: tests kzprobe does not read
    unusable: Counter[str] = field(default_factory=Counter)  # skipped: by reason
    bad: int = 0  # lines or files that are not measurements (malformed input)
    reports_written: int = 0
    reports_merged: int = 0  # of which already existed and were merged with
    paths: list[Path] = field(default_factory=list)  # reports written, in order

    @property
    def malformed(self) -> bool:
        return self.bad > 0


@dataclass
class _Group:
    first: Order  # where its first measurement stands in the input
    info: dict[str, Any]
    files: set[str] = field(default_factory=set)
    measurements: int = 0  # staged (a measurement read twice counts twice)


def default_workers(paths: list[Path]) -> int:
    """One process per core (at most limits.MAX_WORKERS), or just this one for an import too
    small to be worth starting others (less than limits.SMALL_IMPORT_BYTES of files)."""
    total = 0
    for path in paths:
        try:
            total += sum(f.stat().st_size for f in ([path] if not path.is_dir() else path.rglob("*")) if f.is_file())
        except OSError:
            continue
        if total >= limits.SMALL_IMPORT_BYTES:
            return max(1, min(os.cpu_count() or 1, limits.MAX_WORKERS))
    return 1


def import_measurements(paths: list[Path], output: Path, *,
                        on_bad: Callable[[BadInput], None] = lambda bad: None,
                        workers: int | None = None) -> ImportSummary:
    """Import every measurement under `paths` into reports in `output`.

    `on_bad` is called for each line or file that is not a readable measurement (the CLI prints
    them), in input order - for at most limits.MAX_PROBLEMS_SHOWN of them per file, all counted in
    the summary's `bad`. `workers`: processes to use (default_workers when None). Raises
    ReportWriteError when the output cannot be written."""
    summary = ImportSummary()
    try:
        output.mkdir(parents=True, exist_ok=True)
        staging_dir = Path(tempfile.mkdtemp(prefix=".kzprobe-ooni-", dir=output))
    except OSError as error:
        raise ReportWriteError(f"cannot write into {output}: {error.strerror or error}") from error
    processes = workers if workers is not None else default_workers(paths)
    groups: dict[str, _Group] = {}
    staging: set[str] = set()
    try:
        with fewer_collections(), Workers(processes, staging_dir, window=processes + 2) as pool:
            for outcome in pool.map(convert, _tasks(paths, output, summary, processes)):
                _count(outcome, summary, groups, staging, on_bad)
            for written in pool.map(write_groups, _group_tasks(output, groups, tuple(sorted(staging)))):
                for path, merged in written:
                    summary.reports_written += 1
                    summary.reports_merged += merged
                    summary.paths.append(path)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    if summary.reports_written:
        # The reports were written without a sync each (reports.py). After the staging files are
        # gone: their gigabytes would otherwise be written to disk only to be deleted.
        os.sync()
    return summary


def _tasks(paths: list[Path], output: Path, summary: ImportSummary, processes: int) -> Iterator[Batch | FileTask]:
    """The input as work: each file whole, or in batches of records of bounded size when it is
    large (limits.WHOLE_FILE_BYTES) or among the last `processes` files (so that the processes
    finish together rather than wait for the one converting the last file); a file that cannot
    be read at all is a batch of its one BadInput. How the work is cut changes nothing written."""
    files = list(input_files(paths, exclude=output))
    for index, path in enumerate(files):
        if isinstance(path, BadInput):
            yield Batch(index, path.source, [path])
            continue
        summary.files += 1
        if index < len(files) - processes and _small_regular_file(path):
            yield FileTask(index, str(path))
            continue
        for items in record_batches(path):
            yield Batch(index, str(path), items)


def _small_regular_file(path: Path) -> bool:
    try:
        status = path.stat()
    except OSError:
        return False  # read here, where read_records names the problem
    return stat.S_ISREG(status.st_mode) and status.st_size <= limits.WHOLE_FILE_BYTES


def _group_tasks(output: Path, groups: dict[str, _Group], staging: tuple[str, ...]) -> Iterator[GroupTask]:
    """The reports to write, in name order, a few per task: up to limits.GROUPS_PER_TASK of them
    and limits.TASK_MEASUREMENTS measurements, so that a few large reports still go to every
    process."""
    chunk: list[tuple[str, dict[str, Any]]] = []
    size = 0
    for name, group in sorted(groups.items()):
        if chunk and (len(chunk) >= limits.GROUPS_PER_TASK or size + group.measurements > limits.TASK_MEASUREMENTS):
            yield GroupTask(output, tuple(chunk), staging)
            chunk, size = [], 0
        chunk.append((name, {**group.info, "files": sorted(group.files)}))
        size += group.measurements
    if chunk:
        yield GroupTask(output, tuple(chunk), staging)


def _count(outcome: BatchOutcome, summary: ImportSummary, groups: dict[str, _Group], staging: set[str],
           on_bad: Callable[[BadInput], None]) -> None:
    summary.bad += outcome.bad_count
    for bad in outcome.bad:
        on_bad(bad)
    summary.read += outcome.read
    summary.imported.update(outcome.imported)
    summary.other_tests.update(outcome.other_tests)
    summary.unusable.update(outcome.unusable)
    if outcome.imported and outcome.staging:
        staging.add(outcome.staging)
    for name, (first, info, measurements) in outcome.groups.items():
        details = {k: v for k, v in info.items() if k != "file"}
        group = groups.get(name)
        if group is None:
            group = groups[name] = _Group(first, details)
        elif first < group.first:  # the report's details as its first measurement in the input gives them
            group.first, group.info = first, details
        group.files.add(info["file"])
        group.measurements += measurements
