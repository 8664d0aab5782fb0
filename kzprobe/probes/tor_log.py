"""Lines of the tor daemon's log (its stdout at level notice), read into what a bootstrap record
keeps: progress, problems, warnings. Pure functions: probes/tor_bootstrap.py feeds them lines.

tor logs each bootstrap phase it enters at notice level, "Bootstrapped 45% (requesting_descriptors):
Asking for relay descriptors", and, when it fails to advance, "Problem bootstrapping. Stuck at 5%
(conn): Connecting to a relay. (Connection refused; CONNECTREFUSED; count 10; recommendation warn;
host <fingerprint> at <address:port>)" - at level warn once the phase has had 10 problems (its
BOOTSTRAP_PROBLEM_THRESHOLD), at info (not logged here) before. Both formats and the phases are
tor's own: src/feature/control/control_bootstrap.c and control_events.h in github.com/torproject/tor
at commit 3cb6a690be60fcdab60130402ff88dcfc0657596.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# Every bootstrap phase tor reports, tag -> percentage (control_events.h, bootstrap_status_t).
# "conn_pt"/"conn_proxy" phases only occur through a pluggable transport or a proxy; "ap_"
# phases are the connection to the first relay of a circuit, after the directory is loaded.
PHASES: Final[dict[str, int]] = {
    "starting": 0, "conn_pt": 1, "conn_done_pt": 2, "conn_proxy": 3, "conn_done_proxy": 4, "conn": 5,
    "conn_done": 10, "handshake": 14, "handshake_done": 15, "onehop_create": 20, "requesting_status": 25,
    "loading_status": 30, "loading_keys": 40, "requesting_descriptors": 45, "loading_descriptors": 50,
    "enough_dirinfo": 75, "ap_conn_pt": 76, "ap_conn_done_pt": 77, "ap_conn_proxy": 78, "ap_conn_done_proxy": 79,
    "ap_conn": 80, "ap_conn_done": 85, "ap_handshake": 89, "ap_handshake_done": 90, "circuit_create": 95,
    "done": 100,
}
DONE: Final = 100

# tor's log line: "Dec 03 09:20:08.000 [notice] message" (date, time, [severity], message).
_LINE: Final = re.compile(r"^\w{3} +\d{1,2} [\d:.]+ \[(?P<severity>\w+)\] (?P<message>.*)$")
_BOOTSTRAPPED: Final = re.compile(r"^Bootstrapped (?P<progress>\d{1,3})% \((?P<tag>[a-z_]{1,40})\): (?P<summary>.*)$")
_PROBLEM: Final = re.compile(
    r"^Problem bootstrapping\. Stuck at (?P<progress>\d{1,3})% \((?P<tag>[a-z_]{1,40})\): .*?\. "
    r"\((?P<warning>.*); (?P<reason>[A-Z_]{1,40}); count (?P<count>\d{1,9}); recommendation (?P<recommendation>\w+);")
_VERSION: Final = re.compile(r"^Tor version (?P<version>\d+(?:\.\d+){1,4}(?:-[\w.]{1,40})?)")
# Warnings kzprobe's own configuration causes by design, which say nothing about the network:
# no SocksPort (kzprobe never uses the circuits it builds, so it opens no port for them).
_CONFIGURATION_NOTES: Final = ("SocksPort, TransPort, NATDPort, DNSPort, and ORPort are all undefined",)


@dataclass(frozen=True)
class LogLine:
    severity: str  # "notice", "warn", "err", ...
    message: str


@dataclass(frozen=True)
class Progress:
    """One "Bootstrapped N% (tag): summary" line."""

    progress: int
    tag: str
    summary: str


@dataclass(frozen=True)
class Problem:
    """One "Problem bootstrapping" line: how tor failed to advance, and whether it says to warn."""

    progress: int
    tag: str
    warning: str  # e.g. "Connection refused"
    reason: str  # e.g. "CONNECTREFUSED" (control-spec's REASON)
    count: int  # problems in this phase so far
    recommendation: str  # "ignore" or "warn"


def parse_line(text: str) -> LogLine | None:
    """A log line's severity and message; None for anything else (a partial or foreign line)."""
    match = _LINE.match(text.strip())
    return LogLine(match["severity"].lower(), match["message"]) if match else None


def bootstrap_progress(message: str) -> Progress | None:
    """The progress a "Bootstrapped" message reports; None for any other message."""
    match = _BOOTSTRAPPED.match(message)
    if match is None or int(match["progress"]) > DONE:
        return None
    return Progress(int(match["progress"]), match["tag"], match["summary"].strip())


def bootstrap_problem(message: str) -> Problem | None:
    """The problem a "Problem bootstrapping" message reports; None for any other message."""
    match = _PROBLEM.match(message)
    if match is None:
        return None
    return Problem(int(match["progress"]), match["tag"], match["warning"].strip(), match["reason"],
                   int(match["count"]), match["recommendation"].lower())


def is_warning(line: LogLine) -> bool:
    """A warning or error worth recording: not one kzprobe's own configuration causes."""
    return line.severity in ("warn", "err") and not line.message.startswith(_CONFIGURATION_NOTES)


def tor_version(output: str) -> str | None:
    """The version in `tor --version`'s first line ("Tor version 0.4.9.11."), without the dot."""
    match = _VERSION.match(output.strip())
    return match["version"].rstrip(".") if match else None
