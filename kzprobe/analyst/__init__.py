"""Reading many kzprobe reports: show, compare, summary, timeline and export.

The commands in kzprobe/cli/commands_analyst.py are thin wrappers over these modules; everything
they print can be had from here without the CLI.
"""

from kzprobe.analyst.reading import ScanDigest, TargetDigest, read_scan
from kzprobe.analyst.render import render_report, render_scan
from kzprobe.analyst.streaming import ScanFilter, map_scans, read_scans

__all__ = [
    "ScanDigest", "ScanFilter", "TargetDigest", "map_scans", "read_scan", "read_scans", "render_report", "render_scan",
]
