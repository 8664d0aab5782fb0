"""`kzprobe ooni import`: OONI measurement files in, kzprobe reports out, and a count of
everything read, imported, skipped and refused.

Streaming in three passes over bounded memory: read and convert each measurement as it comes
(source.py, measurement.py), stage the results on disk by report (staging.py), then analyse
and write one report at a time (reports.py). Nothing touches the network.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kzprobe.ooni.measurement import Converted, NotAMeasurement, Skipped, convert
from kzprobe.ooni.reports import write_import_report
from kzprobe.ooni.source import BadInput, Measurement, input_files, read_measurements
from kzprobe.ooni.staging import Staging
from kzprobe.ooni.target_ids import TargetNames
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


def import_measurements(paths: list[Path], output: Path, *,
                        on_bad: Callable[[BadInput], None] = lambda bad: None) -> ImportSummary:
    """Import every measurement under `paths` into reports in `output`.

    `on_bad` is called for each line or file that is not a readable measurement (the CLI prints
    them). Raises ReportWriteError when the output cannot be written."""
    summary = ImportSummary()
    try:
        output.mkdir(parents=True, exist_ok=True)
        staging_dir = tempfile.mkdtemp(prefix=".kzprobe-ooni-", dir=output)
    except OSError as error:
        raise ReportWriteError(f"cannot write into {output}: {error.strerror or error}") from error
    staging = Staging(Path(staging_dir) / "staging.sqlite")
    names = TargetNames()
    try:
        for path in input_files(paths, exclude=output):
            if isinstance(path, BadInput):
                summary.bad += 1
                on_bad(path)
                continue
            summary.files += 1
            for item in read_measurements(path):
                _one(item, path, names, staging, summary, on_bad)
        for group, info, results in staging.groups():
            written, merged = write_import_report(output, group, info, results)
            summary.reports_written += 1
            summary.reports_merged += merged
            summary.paths.append(written)
        if summary.reports_written:
            os.sync()  # the reports were written without a sync each (reports.py)
    finally:
        staging.close()
        try:
            Path(staging_dir).rmdir()
        except OSError:
            pass
    return summary


def _one(item: Measurement | BadInput, path: Path, names: TargetNames, staging: Staging,
         summary: ImportSummary, on_bad: Callable[[BadInput], None]) -> None:
    if isinstance(item, BadInput):
        summary.bad += 1
        on_bad(item)
        return
    summary.read += 1
    try:
        converted = convert(item.data, item.source, item.line, names, surrogates=item.surrogates)
    except NotAMeasurement as error:
        summary.bad += 1
        on_bad(BadInput(item.source, item.line, str(error)))
        return
    except RecursionError:
        summary.bad += 1
        on_bad(BadInput(item.source, item.line, "nested too deeply to read"))
        return
    if isinstance(converted, Skipped):
        if converted.other_test:
            summary.other_tests[converted.other_test] += 1
        else:
            summary.unusable[converted.reason] += 1
        return
    assert isinstance(converted, Converted)
    staging.add(converted, path.name)
    summary.imported[converted.result["ooni"]["test_name"]] += 1
