"""The two kinds of work an import hands out, and the processes that do them.

Converting: a whole input file, or a batch of records the importing process read from a large
one (parsed, converted, staged in the process's own staging file), comes back as counts, bad
lines and the reports it touched. Writing: a few reports, each one's results gathered from every
staging file, analysed and written. Both run in a pool of processes (the machine's cores) or,
for a small import, in the importing process itself; the results come back in the order the
work was handed out, at most a few tasks ahead, so memory stays bounded and the output (files,
messages, summary) is the same whatever the number of processes.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kzprobe.errors import KzprobeError
from kzprobe.ooni import limits
from kzprobe.ooni.measurement import Converted, NotAMeasurement, Skipped
from kzprobe.ooni.measurement import convert as convert_measurement
from kzprobe.ooni.reports import write_import_report
from kzprobe.ooni.source import BadInput, Record, parse_record, record_batches
from kzprobe.ooni.staging import Order, StagedResults, StagingWriter
from kzprobe.ooni.target_ids import TargetNames


@dataclass(frozen=True)
class Batch:
    """Records of one input file (`index` in input order), with the file's unreadable lines in
    their places."""

    index: int
    source: str
    items: list[Record | BadInput]


@dataclass(frozen=True)
class FileTask:
    """A whole input file (`index` in input order), read by the process that converts it: no
    measurement crosses between processes, only the file's name."""

    index: int
    source: str


@dataclass
class BatchOutcome:
    staging: str | None  # the staging file its rows went to
    read: int = 0
    imported: Counter[str] = field(default_factory=Counter)
    other_tests: Counter[str] = field(default_factory=Counter)
    unusable: Counter[str] = field(default_factory=Counter)
    # The lines or files that are not measurements: how many, and the first ones (in input
    # order, at most limits.MAX_PROBLEMS_SHOWN: a file of garbage is not held line by line).
    bad_count: int = 0
    bad: list[BadInput] = field(default_factory=list)
    # Each report touched: where its first measurement stands, the report's details, and how
    # many of its measurements were staged.
    groups: dict[str, tuple[Order, dict[str, Any], int]] = field(default_factory=dict)

    def add_bad(self, bad: BadInput) -> None:
        self.bad_count += 1
        if len(self.bad) < limits.MAX_PROBLEMS_SHOWN:
            self.bad.append(bad)


@dataclass(frozen=True)
class GroupTask:
    """Reports to write (name, details), a few per task: handing out each alone cost more than
    writing a small one."""

    output: Path
    groups: tuple[tuple[str, dict[str, Any]], ...]
    staging: tuple[str, ...]  # every staging file of the import


class Worker:
    """What one process keeps between tasks: the bundled targets, its staging file, the
    staging files it reads."""

    def __init__(self, staging_dir: Path, name: str) -> None:
        self.names = TargetNames()
        self.staging_path = staging_dir / f"{name}.sqlite"
        self._writer: StagingWriter | None = None
        self.staged = StagedResults()

    def writer(self) -> StagingWriter:
        if self._writer is None:
            self._writer = StagingWriter(self.staging_path)
        return self._writer

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()

    def close(self) -> None:
        self.staged.close()
        if self._writer is not None:
            self._writer.close()


def convert(worker: Worker, task: Batch | FileTask) -> BatchOutcome:
    """Parse, convert and stage a batch or a whole file; what it held, counted."""
    outcome = BatchOutcome(staging=str(worker.staging_path))
    name = Path(task.source).name
    if isinstance(task, Batch):
        for record in task.items:
            _take(worker, outcome, task.index, task.source, name, record)
    else:
        for items in record_batches(Path(task.source)):  # staged a batch at a time: rows held in memory
            for record in items:
                _take(worker, outcome, task.index, task.source, name, record)
            worker.commit()
    worker.commit()
    return outcome


def _take(worker: Worker, outcome: BatchOutcome, index: int, source: str, name: str, record: Record | BadInput) -> None:
    if isinstance(record, BadInput):
        outcome.add_bad(record)
        return
    for item_index, item in enumerate(parse_record(record, source)):
        if isinstance(item, BadInput):
            outcome.add_bad(item)
            continue
        outcome.read += 1
        try:
            converted = convert_measurement(item.data, item.source, item.line, worker.names,
                                            surrogates=item.surrogates)
        except NotAMeasurement as error:
            outcome.add_bad(BadInput(item.source, item.line, str(error)))
            continue
        except RecursionError:
            outcome.add_bad(BadInput(item.source, item.line, "nested too deeply to read"))
            continue
        if isinstance(converted, Skipped):
            if converted.other_test:
                outcome.other_tests[converted.other_test] += 1
            else:
                outcome.unusable[converted.reason] += 1
            continue
        assert isinstance(converted, Converted)
        order = (index, item.line, item_index)
        worker.writer().add(converted, order)
        outcome.imported[converted.result["ooni"]["test_name"]] += 1
        known = outcome.groups.get(converted.group)
        if known is None:
            outcome.groups[converted.group] = (order, {
                "report_id": converted.report_id, "vantage": converted.vantage,
                "network_name": converted.network_name, "file": name}, 1)
        else:
            outcome.groups[converted.group] = (known[0], known[1], known[2] + 1)


def write_groups(worker: Worker, task: GroupTask) -> list[tuple[Path, bool]]:
    """Analyse and write each report; (its path, whether an earlier import's file was merged)."""
    return [write_import_report(task.output, group, info, worker.staged.of_group(group, task.staging))
            for group, info in task.groups]


@contextmanager
def fewer_collections() -> Iterator[None]:
    """The garbage collector's young passes every limits.GC_YOUNG_ALLOCATIONS allocations, and the objects
    that exist now (the program's modules, the bundled lists) left out of its passes, while
    inside; the pool's processes, forked inside, keep that for their lifetime."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(before[0], limits.GC_YOUNG_ALLOCATIONS), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


_TaskIn = TypeVar("_TaskIn")
_TaskOut = TypeVar("_TaskOut")
_PROCESS_WORKER: Worker | None = None  # the pool process's own Worker (set by _start)


def _start(staging_dir: Path) -> None:
    global _PROCESS_WORKER
    _PROCESS_WORKER = Worker(staging_dir, f"worker-{os.getpid()}")


def _in_process(function: Callable[[Worker, Any], Any], task: Any) -> Any:
    assert _PROCESS_WORKER is not None, "the pool initializer sets the process's Worker"
    return function(_PROCESS_WORKER, task)


class Workers:
    """`processes` processes doing the work (1: this process), results in order. Used as a
    context manager: the pool and the staging connections close on exit."""

    def __init__(self, processes: int, staging_dir: Path, window: int) -> None:
        self._window = max(1, window)
        self._pool: ProcessPoolExecutor | None = None
        self._local: Worker | None = None
        if processes > 1:
            self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=_context(),
                                             initializer=_start, initargs=(staging_dir,))
        else:
            self._local = Worker(staging_dir, "main")

    def map(self, function: Callable[[Worker, _TaskIn], _TaskOut], tasks: Iterable[_TaskIn]) -> Iterator[_TaskOut]:
        if self._local is not None:
            for task in tasks:
                yield function(self._local, task)
            return
        assert self._pool is not None
        pending: deque[Future[_TaskOut]] = deque()
        try:
            for task in tasks:
                pending.append(self._pool.submit(_in_process, function, task))
                if len(pending) >= self._window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool as error:
            raise KzprobeError(f"an import process stopped unexpectedly ({error}); run the import again, "
                               "with --workers 1 to use one process") from None
        finally:
            for future in pending:
                future.cancel()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._local is not None:
            self._local.close()


def _context() -> Any:
    """fork where the platform has it: the workers start at once, with the modules already
    imported (spawn would import kzprobe again in each)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")
