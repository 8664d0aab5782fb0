"""Bounds on a scan as a whole: the default timeout, concurrency, measuring processes, admission
and the target's deadline, each with its reason (bounds on one measurement: probes/limits.py)."""

from typing import Final

# Per network operation (DNS query, connect, handshake, HTTP read). OONI uses 10-15 s; a
# volunteer may have minutes before the connection drops, so 10 s is the ceiling by default.
DEFAULT_TIMEOUT_S: Final = 10.0
# Targets measured at once. Most of a blocked target's time is spent waiting on a timeout, so
# high concurrency is cheap; 64 keeps file descriptors and ISP-side rate limits modest.
DEFAULT_CONCURRENCY: Final = 64
MAX_CONCURRENCY: Final = 1024
# Measuring processes one scan may fork (scan/processes.py), whatever the cores.
MAX_PROCESSES: Final = 16
# Targets admitted and not parked (resolving and connecting ahead of their turns, waiting for
# one, or having one), as a multiple of --concurrency (the turns for CPU work at once).
AHEAD_FACTOR: Final = 16
# Targets in flight at once, parked ones included, as a multiple of --concurrency.
PARKED_FACTOR: Final = 16
# Open files: a web target holds a socket per address tried (2 per family) plus a spare; a
# service target up to 16 endpoint operations at once. Budgeted at the larger of the two.
FILES_PER_TARGET: Final = 16
RESERVED_FILES: Final = 64
# A target's deadline, in multiples of the per-operation timeout: DNS, connect, handshake,
# a few redirect hops and the download each get at most one timeout.
TARGET_DEADLINE_TIMEOUTS: Final = 6.0
# The tor daemon's bootstrap (`--tor-bootstrap`, scan/tor_bootstrap.py), beside the scan and
# outside every target's deadline. Through healthy relays a fresh bootstrap takes seconds (OONI's
# vanilla_tor example: 3.6 s, github.com/ooni/spec nettests/ts-016-vanilla-tor.md), through the
# busy default obfs4 bridges tens of seconds; 90 s leaves a slow link room (the analysis still
# asks the control to have finished in half of it) while a silently blocked bootstrap holds the
# scan no longer than that. OONI's vanilla_tor waits up to 200 s; 600 s is the most allowed.
DEFAULT_TOR_BOOTSTRAP_TIMEOUT_S: Final = 90.0
MAX_TOR_BOOTSTRAP_TIMEOUT_S: Final = 600.0
