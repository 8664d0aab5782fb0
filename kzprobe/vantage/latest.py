"""`<output dir>/latest.json`: the newest complete scan, at a fixed name, replaced atomically.

Other probes use it as their control (`--control https://vantage.example/latest.json` or a
path), and a web server may be sending it while the next scan finishes, so it is replaced with
rename(2): a reader gets the old file or the new one, never half of either.

It is a copy, not a symlink or a hard link: a web server configured not to follow symlinks
(nginx `disable_symlinks`, many static hosts), a sync tool (rsync without -L, object storage)
or a link left dangling by retention would all break a symlink, and a hard link would tie
latest.json to a report file that retention later deletes or a user edits in place. The cost
is one more report's worth of disk.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO, Final

from kzprobe.errors import CannotWriteError
from kzprobe.report.atomic import replace_atomically
from kzprobe.report.format import REPORT_FORMAT
from kzprobe.vantage.report_files import read_header

LATEST_NAME: Final = "latest.json"
# latest.json is published on purpose (served as a control), so it is world-readable whatever
# the mode of the report it copies (reports are written through mkstemp, which makes 0600).
LATEST_MODE: Final = 0o644


class LatestError(CannotWriteError, OSError):
    """latest.json could not be replaced (the report is not complete, or a write failed)."""


def publish_latest(report_path: Path, directory: Path) -> Path:
    """Atomically make `<directory>/latest.json` a copy of the complete report `report_path`.

    Returns the path of latest.json. An incomplete report is refused (LatestError): a probe
    using latest.json as its control must see whole scans only. The old latest.json stays in
    place on any failure.
    """
    header = read_header(report_path)
    if header.get("format") != REPORT_FORMAT:
        raise LatestError(f"{report_path}: not a readable kzprobe report; latest.json left as it was")
    if header.get("complete") is not True:
        raise LatestError(f"{report_path}: the scan is incomplete; latest.json left as it was")
    latest = directory / LATEST_NAME

    def copy_report(target: IO[bytes]) -> None:
        with open(report_path, "rb") as source:
            shutil.copyfileobj(source, target, 1024 * 1024)

    try:
        replace_atomically(latest, copy_report, mode=LATEST_MODE)
    except OSError as exc:
        raise LatestError(f"cannot replace {latest}: {exc.strerror or exc}") from exc
    return latest
