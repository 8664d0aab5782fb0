"""`kzprobe report`: many reports as one self-contained HTML page of charts and tables.

build folds the scans (as kzprobe.analyst.streaming reads them) into a ReportPicture: grid
(targets × time per vantage, with connectivity), networks (per ASN), sources (what it was made
from). page draws it with palette, charts and markup; report.js and report.css are inlined.
"""

from kzprobe.analyst.html.build import ReportPicture
from kzprobe.analyst.html.page import render_html

__all__ = ["ReportPicture", "render_html"]
