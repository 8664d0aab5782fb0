"""An import spread over processes writes what one process writes: the same report files byte for
byte, the same bad lines in the same order, the same counts - with batches small enough that the
work of one report lands in several processes and finishes out of order."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kzprobe.ooni import import_measurements, limits
from kzprobe.ooni.importer import default_workers
from support.ooni_qa_cases import CASES
from support.ooni_scenarios import SCENARIOS


def measurements() -> list[dict]:
    """Every hand-made measurement, as three OONI reports crossing file boundaries and some without
    a report id (one report per file)."""
    found = [s.build() for s in SCENARIOS] + [c.build() for c in CASES]
    for index, data in enumerate(found):
        if index % 5:
            test = data["test_name"].replace("_", "")
            data["report_id"] = f"20240301T10000{index % 3}Z_{test}_KZ_9198_n1_s{index % 3}"
            data["measurement_uid"] = f"20240301100000.{index:06d}_KZ_{index:016x}"
        data["measurement_start_time"] = f"2024-03-01 10:{index % 60:02d}:{index % 7:02d}"
    return found


def write_input(directory: Path) -> list[Path]:
    found = measurements()
    thirds = [found[: len(found) // 3], found[len(found) // 3: 2 * len(found) // 3], found[2 * len(found) // 3:]]
    thirds[2].append(found[1])  # the same measurement in two files: kept once, the copy read last
    paths = []
    for number, part in enumerate(thirds):
        lines = [json.dumps(m, ensure_ascii=False).encode() for m in part]
        lines.insert(3, b"{not json")  # a bad line in each file, named in order
        path = directory / f"2024030110_{number}.jsonl.gz"
        path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
        paths.append(path)
    return paths


def run(tmp_path: Path, name: str, workers: int) -> tuple[dict[str, bytes], list[str], tuple]:
    bad: list[str] = []
    summary = import_measurements([tmp_path / "in"], tmp_path / name, on_bad=lambda b: bad.append(str(b)),
                                  workers=workers)
    files = {p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())}
    counts = (summary.files, summary.read, dict(summary.imported), summary.bad, summary.reports_written,
              [p.name for p in summary.paths])
    return files, bad, counts


# How the input is handed out: each file whole to one process, or read by the importing process
# and handed out in many small batches, finishing out of order.
SPLITS = {"whole files": {}, "small batches": {"WHOLE_FILE_BYTES": 0, "BATCH_RECORDS": 4}}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("workers", [2, 3])
def test_several_processes_write_what_one_writes(tmp_path, monkeypatch, workers, split):
    for name, value in SPLITS[split].items():
        monkeypatch.setattr(limits, name, value)
    (tmp_path / "in").mkdir()
    write_input(tmp_path / "in")
    alone = run(tmp_path, "one", 1)
    shared = run(tmp_path, "many", workers)
    assert shared == alone
    files, bad, counts = alone
    assert len(bad) == 3 and bad[0].endswith(":4: malformed JSON (Expecting property name enclosed in double "
                                             "quotes, column 2)")
    assert counts[4] == len(files) > 3  # the three reports, and one per file for the rest
    twice = measurements()[1]["measurement_uid"]
    kept = [r["ooni"]["source"] for data in files.values() for r in json.loads(data)["results"]
            if r["ooni"]["measurement_uid"] == twice]
    assert kept == ["2024030110_2.jsonl.gz:" + str(len(measurements()) - 2 * (len(measurements()) // 3) + 2)]


def test_a_small_import_stays_in_one_process_and_a_large_one_uses_the_cores(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    write_input(tmp_path / "in")
    assert default_workers([tmp_path / "in"]) == 1
    monkeypatch.setattr(limits, "SMALL_IMPORT_BYTES", 1000)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_workers([tmp_path / "in"]) == 2
