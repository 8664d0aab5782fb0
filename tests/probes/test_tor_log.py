"""tor's log lines read into bootstrap progress, problems and warnings (probes/tor_log.py), one
row per line shape tor writes (src/feature/control/control_bootstrap.c)."""

from __future__ import annotations

import pytest

from kzprobe.probes import tor_log
from kzprobe.probes.tor_bootstrap import _Follower

PROGRESS_LINES = [
    ("Dec 03 09:20:08.000 [notice] Bootstrapped 0% (starting): Starting", (0, "starting", "Starting")),
    ("Dec 03 09:20:09.000 [notice] Bootstrapped 5% (conn): Connecting to a relay",
     (5, "conn", "Connecting to a relay")),
    ("May 10 13:31:27.000 [notice] Bootstrapped 45% (requesting_descriptors): Asking for relay descriptors",
     (45, "requesting_descriptors", "Asking for relay descriptors")),
    ("Feb 07 12:38:52.000 [notice] Bootstrapped 58% (loading_descriptors): Loading relay descriptors",
     (58, "loading_descriptors", "Loading relay descriptors")),
    ("May 10 13:31:29.000 [notice] Bootstrapped 100% (done): Done", (100, "done", "Done")),
]


@pytest.mark.parametrize("line, expected", PROGRESS_LINES, ids=[row[1][1] for row in PROGRESS_LINES])
def test_a_bootstrapped_line_gives_its_percentage_tag_and_summary(line, expected):
    parsed = tor_log.parse_line(line)
    assert parsed is not None and parsed.severity == "notice"
    progress = tor_log.bootstrap_progress(parsed.message)
    assert progress is not None and (progress.progress, progress.tag, progress.summary) == expected


@pytest.mark.parametrize("message", [
    "Bootstrapped 150% (done): Done",  # no such percentage
    "Bootstrapped 5%: Connecting to a relay",  # no tag
    "Tor 0.4.9.11 running on Linux",
])
def test_other_messages_are_no_progress(message):
    assert tor_log.bootstrap_progress(message) is None


def test_a_problem_line_gives_tors_reason_count_and_recommendation():
    line = ("Dec 03 09:22:55.000 [warn] Problem bootstrapping. Stuck at 5% (conn): Connecting to a relay. "
            "(Connection refused; CONNECTREFUSED; count 10; recommendation warn; host "
            "0000000000000000000000000000000000000001 at 88.198.60.1:443)")
    parsed = tor_log.parse_line(line)
    assert parsed is not None and parsed.severity == "warn"
    problem = tor_log.bootstrap_problem(parsed.message)
    assert problem == tor_log.Problem(5, "conn", "Connection refused", "CONNECTREFUSED", 10, "warn")


@pytest.mark.parametrize("text", ["", "garbage", "[notice] Bootstrapped 5% (conn): x", "Dec 03 [warn]"])
def test_lines_that_are_not_tors_log_format_are_skipped(text):
    assert tor_log.parse_line(text) is None


@pytest.mark.parametrize("output, version", [
    ("Tor version 0.4.9.11.\nThis build of Tor is covered by the GNU General Public License", "0.4.9.11"),
    ("Tor version 0.4.8.4-rc.", "0.4.8.4-rc"),
    ("tor: command not found", None),
])
def test_the_version_comes_from_the_first_line(output, version):
    assert tor_log.tor_version(output) == version


def test_the_phases_are_tors_and_end_at_100():
    assert list(tor_log.PHASES.values()) == sorted(tor_log.PHASES.values())
    assert tor_log.PHASES["done"] == tor_log.DONE == 100 and tor_log.PHASES["conn_done"] == 10


def _line(severity: str, message: str) -> str:
    return f"Dec 03 09:20:08.000 [{severity}] {message}"


def test_following_a_log_keeps_the_best_progress_and_ends_at_100():
    follower = _Follower()
    lines = ["Bootstrapped 0% (starting): Starting", "Bootstrapped 10% (conn_done): Connected to a relay",
             "Bootstrapped 75% (enough_dirinfo): Loaded enough directory info to build circuits"]
    assert [follower.read(_line("notice", m), 100.0 * i) for i, m in enumerate(lines)] == [None, None, None]
    assert follower.read(_line("notice", "Bootstrapped 100% (done): Done"), 400.0) == "done"
    record = follower.record("direct", None, 0, "done", None, None, 400.0)
    assert (record["progress"], record["tag"]) == (100, "done")
    assert [p["at_ms"] for p in record["phases"]] == [0, 100, 200, 400]


def test_following_a_log_ends_where_tor_recommends_a_warning():
    follower = _Follower()
    problem = ("Problem bootstrapping. Stuck at 5% (conn): Connecting to a relay. (Connection refused; CONNECTREFUSED; "
               "count {n}; recommendation {r}; host 00 at 88.198.60.1:443)")
    assert follower.read(_line("info", problem.format(n=9, r="ignore")), 1.0) is None
    assert follower.read(_line("warn", problem.format(n=10, r="warn")), 2.0) == "stuck"
    assert follower.problem is not None and follower.problem.reason == "CONNECTREFUSED"


def test_warnings_are_kept_once_and_the_repeats_counted():
    follower = _Follower()
    for count in range(10, 30):
        message = (f"Problem bootstrapping. Stuck at 5% (conn): x. (Connection refused; CONNECTREFUSED; count {count}; "
                   "recommendation ignore; host 00 at 88.198.60.1:443)")
        follower.read(_line("warn", message), 1.0)
    follower.read(_line("warn", "SocksPort, TransPort, NATDPort, DNSPort, and ORPort are all undefined, and ..."), 1.0)
    follower.read(_line("warn", "Escape \x1b[31mred\x1b[0m and bidi \u202etxt"), 1.0)
    assert len(follower.warnings) == 2 and follower.omitted == 19
    assert follower.warnings[1] == "Escape red and bidi txt"


def test_warnings_are_bounded_in_number_and_length():
    follower = _Follower()
    for n in range(100):
        # Distinct by letters (messages that differ only by numbers are one warning repeated).
        follower.read(_line("warn", f"warning {chr(65 + n % 26)}{chr(65 + n // 26)} {'abcdefghij' * 100}"), 1.0)
    assert len(follower.warnings) == 16 and follower.omitted == 84
    assert all(len(w) <= 400 for w in follower.warnings)
