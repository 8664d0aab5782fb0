"""Import hand-made OONI measurements through the real import (files on disk, reports written)."""

from __future__ import annotations

import json
from pathlib import Path

from kzprobe.ooni import import_measurements


def imported_result(directory: Path, data: dict) -> dict:
    """The one result kzprobe writes for the measurement `data`, imported from a file in `directory`."""
    source = directory / "in" / "measurement.json"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    summary = import_measurements([source], directory / "out")
    assert summary.bad == 0 and len(summary.paths) == 1
    report = json.loads(summary.paths[0].read_text(encoding="utf-8"))
    assert len(report["results"]) == 1
    return report["results"][0]
