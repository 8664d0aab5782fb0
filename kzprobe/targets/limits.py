"""Caps on what a target file may hold, each with its reason: a list nobody vouched for is input."""

from __future__ import annotations

from typing import Final

# Same reasoning as safe_yaml.MAX_YAML_BYTES: Citizen Lab's global list is 0.16 MB as CSV and
# ~0.4 MB as YAML; 5 MiB is ten times any real list and refuses a file meant to exhaust memory.
MAX_TARGET_FILE_BYTES: Final = 5 * 1024 * 1024
# Citizen Lab's global list has 1,722 rows and the largest country list a few thousand; a scan
# of 10,000 targets already takes hours at the default concurrency. More is a mistake or an attack.
# The loaders read it as kzprobe.targets.MAX_ENTRIES_PER_FILE, at call time (see loader.py).
MAX_ENTRIES_PER_FILE: Final = 10_000
# WhatsApp, the largest real service, has 16 chat hosts on 2 ports plus 2 web hosts (34).
MAX_ENDPOINTS_PER_TARGET: Final = 64
# A target worth citing has a handful of documents; dozens are a copy-paste accident.
MAX_SOURCES_PER_TARGET: Final = 32
# Browsers and servers commonly stop at 2,000-8,000 characters; no list entry needs more.
MAX_URL_CHARS: Final = 2048
# Names and the document/reports/date texts of sources: a sentence or two.
MAX_TEXT_CHARS: Final = 2000
# Ids end up in report files, CSV exports and terminal tables.
MAX_ID_CHARS: Final = 80
# Problems reported per load: after a thousand, the file is simply not a target list.
MAX_PROBLEMS: Final = 1000
