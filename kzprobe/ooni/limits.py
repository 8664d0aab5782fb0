"""Bounds on reading OONI measurements: every file, line and field is someone else's data.

OONI's published files are honest, but `kzprobe ooni import` reads whatever a path holds: a
gzip bomb, a one-gigabyte line, JSON nested a million deep. Each bound below keeps time and
memory proportional to what a real measurement needs, with the reason beside it.
"""

from __future__ import annotations

from typing import Final

# One measurement (one JSONL line, or one .json file). OONI Probe keeps at most 512 KiB of a
# body (web_connectivity 0.5; 0.4 keeps less) and a redirect chain is at most 11 requests, so
# real measurements stay below a few MB even with base64 bodies and network events. Parsing
# costs several times the line in Python objects: 8 MiB keeps one measurement under ~100 MB.
MAX_MEASUREMENT_BYTES: Final = 8 * 1024 * 1024

# Decompressed bytes per compressed byte read so far, plus a first allowance. OONI's JSONL
# compresses 5-30 times (bodies in base64 compress least); a gzip bomb inflates a thousand
# times or more. Past this the file is refused as a bomb instead of being inflated for hours.
MAX_INFLATION_RATIO: Final = 200
INFLATION_ALLOWANCE_BYTES: Final = 64 * 1024 * 1024
# Decompressed bytes of one file whatever its ratio: OONI's hourly files for one country and
# test are tens of MB; 4 GiB is far past any of them and still a bounded amount of work.
MAX_FILE_BYTES: Final = 4 * 1024 * 1024 * 1024

# Read size while streaming a file: large enough for speed, small enough to skip an overlong
# line without holding it.
READ_CHUNK_BYTES: Final = 1024 * 1024

# Items read from any list in a measurement (queries, tcp_connect, requests, ...). Web
# Connectivity 0.5 records tens of each; a messenger test a hundred connects at most (WhatsApp:
# 32 endpoints, a few addresses each). 512 leaves room and bounds a hostile list.
MAX_ITEMS: Final = 512
# Network events read per measurement: 0.5 keeps the first 64 per connection, of tens of
# connections.
MAX_NETWORK_EVENTS: Final = 4096
# Certificates decoded per handshake (a chain is 2-4; OONI keeps only the leaf when
# verification fails).
MAX_CERTIFICATES: Final = 8
# Characters kept from any free-text field copied into a report (failure strings, names).
MAX_TEXT_CHARS: Final = 2048
# A URL longer than this is not a URL OONI's test lists hold.
MAX_URL_CHARS: Final = 4096
# Body bytes recorded in an imported HTTP observation: kzprobe's own probe records 64 KiB.
RECORDED_BODY_BYTES: Final = 64 * 1024
# Response headers kept per HTTP observation, as kzprobe's own probe.
MAX_HEADERS: Final = 64

# Problems named one by one on stderr; past this only their count is printed.
MAX_PROBLEMS_SHOWN: Final = 50
# Input file names listed in one report's settings.targets.
MAX_FILES_NAMED: Final = 20

# Work handed to a converting process at a time: a whole file up to this size on disk, read by
# that process (OONI's hourly files of one test and country are a few MB); a larger one is read
# by the importing process and handed out in batches, so that one large file is still converted
# on every core. Reading a file here and sending it on cost the importing process a tenth of the
# import's CPU.
WHOLE_FILE_BYTES: Final = 16 * 1024 * 1024
# A batch: records of one file, up to this many or this many bytes (plus the record that crossed
# it, at most MAX_MEASUREMENT_BYTES). Large enough that handing out costs little next to
# converting (~0.5 ms a measurement), small enough that the batches in flight (one per process
# and two more, importer.py) hold a few MB. A process reading a whole file stages its rows as
# often.
BATCH_RECORDS: Final = 64
BATCH_BYTES: Final = 2 * 1024 * 1024
# Reports written per task: each one alone cost about as much in handing out as writing a small
# report. A few at a time, and no more measurements than this many, so that an import of a few
# large reports (a whole run of OONI Probe is ~1,500 measurements) still shares them out.
GROUPS_PER_TASK: Final = 8
TASK_MEASUREMENTS: Final = 320
# Processes an import uses by default: one per core, up to this. Each holds one batch or one
# report at a time; past 8 the staging files and the disk, not the cores, set the pace.
MAX_WORKERS: Final = 8
# Input smaller than this is imported in the importing process alone: starting the others
# costs a tenth of a second, what about a hundred measurements take (OONI's gzip JSON Lines
# hold ~1,500 of them in 1 MiB).
SMALL_IMPORT_BYTES: Final = 1024 * 1024
# Container allocations between two young-generation passes of Python's cyclic garbage collector
# while importing (Python's default: 700). A measurement allocates hundreds to thousands of
# objects (a WhatsApp measurement's 130 connects), and the default's passes, with the full ones
# they lead to, took ~2 % of the import's instructions; the objects of the program itself are
# frozen out of them too. Garbage waiting longer costs a few MB at most.
GC_YOUNG_ALLOCATIONS: Final = 20_000
