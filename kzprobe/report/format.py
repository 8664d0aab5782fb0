"""The report format's name and version, and the file names it goes by: one definition, read by
the writer (write.py), every reader (read.py, the vantage's files, the analysts) and the schema
tests. docs/report-format.md describes the format."""

from typing import Final

REPORT_FORMAT: Final = "kzprobe-report"
# The major version this kzprobe writes and reads. Additions that old readers can ignore keep
# the number; anything that changes a field's type or meaning raises it (docs/report-format.md).
FORMAT_VERSION: Final = 1
JOURNAL_SUFFIX: Final = ".journal.jsonl"
REPORT_SUFFIX: Final = ".json"
