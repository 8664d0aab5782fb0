"""Reading many kzprobe reports: show, compare, summary, timeline and export.

The commands in kzprobe/cli/commands_analyst.py are thin wrappers over these modules; everything
they print can be had from here without the CLI.

Reports are read (report/read.py) and reduced to small digests (reading.py), many at a time in
worker processes (streaming.py, scan_order.py), cached between runs (digest_cache.py); the
commands build on the digests: render.py (show), compare.py, summary.py, timeline.py,
export.py, with filters.py, measures.py and service_rows.py for the figures of one result, and
style.py (colours, and `safe` for every string shown) and export.py's `csv_cell` for what
reaches a terminal or a spreadsheet; the text itself is cleaned by kzprobe/text.py.
"""

from kzprobe.analyst.reading import ScanDigest, TargetDigest, read_scan
from kzprobe.analyst.render import render_report, render_scan
from kzprobe.analyst.streaming import ScanFilter, map_scans, read_scans

__all__ = [
    "ScanDigest", "ScanFilter", "TargetDigest", "map_scans", "read_scan", "read_scans", "render_report", "render_scan",
]
