"""The tor bootstrap's verdict (analysis/tor_bootstrap_rules.py), one row per rule of
docs/methodology.md, "The tor bootstrap", through analyse_scan with the scan's baselines."""

from __future__ import annotations

import pytest

from kzprobe.analysis import analyse_scan
from kzprobe.analysis.tor_bootstrap_rules import phase_layer
from kzprobe.report import vocabulary as v
from tests.support.observations import baselines, control_of

BOUND = 90.0


def attempt(path: str = "direct", progress: int | None = 100, tag: str | None = "done", ended: str = "done",
            seconds: float = 6.0, last_progress_s: float | None = None, client: str | None = None,
            problem: dict | None = None, detail: str | None = None) -> dict:
    """One attempt's record, as probes/tor_bootstrap.py writes it."""
    phases = [{"progress": 0, "tag": "starting", "at_ms": 10.0}]
    if progress:
        at = seconds if last_progress_s is None else last_progress_s
        phases.append({"progress": progress, "tag": tag, "at_ms": at * 1000})
    ran = ended != "not_run"
    return {"path": path, "client": client or ("obfs4proxy" if path == "obfs4" and ran else None),
            "bridges": 11 if path == "obfs4" else 0, "progress": progress, "tag": tag,
            "summary": {"done": "Done", "conn": "Connecting to a relay", "handshake": "Handshaking with a relay",
                        "loading_descriptors": "Loading relay descriptors"}.get(tag or "", None),
            "phases": phases, "problem": problem, "warnings": [], "warnings_omitted": 0, "ended": ended,
            "exit_code": None, "detail": detail, "duration_ms": seconds * 1000}


REFUSED = {"progress": 5, "tag": "conn", "warning": "Connection refused", "reason": "CONNECTREFUSED", "count": 10,
           "recommendation": "warn"}
DONE = attempt()
BRIDGES_DONE = attempt("obfs4", seconds=21.0)
SILENT = attempt(progress=5, tag="conn", ended="timeout", seconds=BOUND, last_progress_s=1.0)
REFUSED_FAST = attempt(progress=5, tag="conn", ended="stuck", seconds=14.0, last_progress_s=1.0, problem=REFUSED)
TLS_STOPPED = attempt(progress=14, tag="handshake", ended="timeout", seconds=BOUND, last_progress_s=2.0)
STILL_LOADING = attempt(progress=58, tag="loading_descriptors", ended="timeout", seconds=BOUND, last_progress_s=85.0)
BRIDGES_SILENT = attempt("obfs4", progress=2, tag="conn_done_pt", ended="timeout", seconds=BOUND, last_progress_s=1.0)
NO_TOR = "no tor executable on the PATH (Debian: apt install tor)"
NOT_RUN = [attempt(progress=None, tag=None, ended="not_run", seconds=0, detail=NO_TOR),
           attempt("obfs4", progress=None, tag=None, ended="not_run", seconds=0, detail=NO_TOR)]
NO_BRIDGES = attempt("obfs4", progress=None, tag=None, ended="not_run", seconds=0,
                     detail="no obfs4 bridges among the scan's targets")


def bootstrap(*attempts: dict, version: str | None = "0.4.9.11") -> dict:
    return {"target": {"id": "tor-bootstrap", "name": "Tor bootstrap (the tor daemon)", "category": "ANON"},
            "observations": {"tor_bootstrap": {"tor_version": version, "timeout_s": BOUND, "attempts": list(attempts)}},
            "started_at": "2026-11-22T10:00:00Z", "duration_ms": 1000.0}


def judged(here: dict, control: dict | None = None, *, scan_baselines: list[dict] | None = None) -> dict:
    analysis = analyse_scan([*(baselines() if scan_baselines is None else scan_baselines), here],
                            control_of(control) if control is not None else None)
    return analysis.verdicts[-1]


ROWS = [
    # (id, here, control, verdict, blocking, evidence, parts)
    ("done-directly", bootstrap(DONE, NO_BRIDGES), None, v.REACHABLE, None, [], {"direct": "ok", "obfs4": "untested"}),
    ("silent-against-a-control-that-bootstrapped", bootstrap(SILENT, NO_BRIDGES), bootstrap(DONE, NO_BRIDGES),
     v.BLOCKED, "tcp", ["tor.bootstrap_stuck"], {"direct": "blocked", "obfs4": "untested"}),
    ("refused-against-a-control-that-bootstrapped", bootstrap(REFUSED_FAST, NO_BRIDGES), bootstrap(DONE, NO_BRIDGES),
     v.BLOCKED, "tcp", ["tor.bootstrap_stuck"], {"direct": "blocked", "obfs4": "untested"}),
    ("stopped-at-the-handshake", bootstrap(TLS_STOPPED, NO_BRIDGES), bootstrap(DONE, NO_BRIDGES),
     v.BLOCKED, "tls", ["tor.bootstrap_stuck"], {"direct": "blocked", "obfs4": "untested"}),
    ("direct-blocked-bridges-work", bootstrap(SILENT, BRIDGES_DONE), bootstrap(DONE, BRIDGES_DONE),
     v.BLOCKED, "tcp", ["tor.bootstrap_stuck"], {"direct": "blocked", "obfs4": "ok"}),
    ("both-blocked", bootstrap(SILENT, BRIDGES_SILENT), bootstrap(DONE, BRIDGES_DONE),
     v.BLOCKED, "tcp", ["tor.bootstrap_stuck"], {"direct": "blocked", "obfs4": "blocked"}),
    ("stuck-without-a-control", bootstrap(SILENT, NO_BRIDGES), None,
     v.INCONCLUSIVE, None, ["tor.bootstrap_stuck", "control.missing"], {"direct": "inconclusive", "obfs4": "untested"}),
    ("stuck-where-the-control-has-no-bootstrap", bootstrap(SILENT, NO_BRIDGES), baselines()[0],
     v.INCONCLUSIVE, None, ["tor.bootstrap_stuck", "control.missing"], {"direct": "inconclusive", "obfs4": "untested"}),
    ("stuck-where-the-control-lacked-tor", bootstrap(SILENT, NO_BRIDGES), bootstrap(*NOT_RUN, version=None),
     v.INCONCLUSIVE, None, ["tor.bootstrap_stuck", "control.missing"], {"direct": "inconclusive", "obfs4": "untested"}),
    ("stuck-from-the-control-too", bootstrap(SILENT, NO_BRIDGES), bootstrap(SILENT, NO_BRIDGES),
     v.DOWN, None, ["tor.bootstrap_stuck"], {"direct": "down", "obfs4": "untested"}),
    ("the-control-itself-was-slow", bootstrap(SILENT, NO_BRIDGES), bootstrap(attempt(seconds=70.0), NO_BRIDGES),
     v.INCONCLUSIVE, None, ["tor.bootstrap_stuck", "control.failed"], {"direct": "inconclusive", "obfs4": "untested"}),
    ("still-advancing-at-the-bound", bootstrap(STILL_LOADING, NO_BRIDGES), bootstrap(DONE, NO_BRIDGES),
     v.INCONCLUSIVE, None, ["tor.bootstrap_slow"], {"direct": "inconclusive", "obfs4": "untested"}),
    ("direct-unclear-bridges-work", bootstrap(SILENT, BRIDGES_DONE), None,
     v.REACHABLE, None, [], {"direct": "inconclusive", "obfs4": "ok"}),
    ("tor-not-installed", bootstrap(*NOT_RUN, version=None), bootstrap(DONE, NO_BRIDGES),
     v.INCONCLUSIVE, None, ["tor.not_run"], {"direct": "untested", "obfs4": "untested"}),
    ("tor-exited-by-itself", bootstrap(attempt(progress=0, tag="starting", ended="tor_exited", seconds=0.2,
                                               detail="Failed to parse/validate config"), NO_BRIDGES), None,
     v.INCONCLUSIVE, None, ["tor.not_run"], {"direct": "untested", "obfs4": "untested"}),
]


@pytest.mark.parametrize("here, control, verdict, blocking, evidence, parts", [row[1:] for row in ROWS],
                         ids=[row[0] for row in ROWS])
def test_the_bootstrap_verdict(here, control, verdict, blocking, evidence, parts):
    got = judged(here, control)
    assert (got["verdict"], got["blocking"], got["evidence"], got["parts"]) == (verdict, blocking, evidence, parts), \
        got["explanation"]


def test_a_blocked_bootstrap_names_the_phase_and_the_controls_time():
    got = judged(bootstrap(REFUSED_FAST, NO_BRIDGES), bootstrap(DONE, NO_BRIDGES))
    assert got["explanation"] == (
        "Tor bootstrap blocked at tcp: the direct bootstrap stopped at 5 % (conn: Connecting to a relay): tor "
        "recommended a warning after 14.0 s, tor reporting Connection refused, CONNECTREFUSED, while the control "
        "bootstrapped it to 100 % in 6.0 s; the bootstrap through the obfs4 bridges measured nothing "
        "(no obfs4 bridges among the scan's targets).")
    assert got["control"]["usable"] is True and got["control"]["attempts"][0]["progress"] == 100


def test_a_partial_outage_names_the_way_around():
    got = judged(bootstrap(SILENT, BRIDGES_DONE), bootstrap(DONE, BRIDGES_DONE))
    assert got["explanation"].startswith("Tor bootstrap partly blocked at tcp: the direct bootstrap stopped at 5 %")
    assert ("the bootstrap through the obfs4 bridges (obfs4proxy) reached 100 % in 21.0 s: the way around works"
            in got["explanation"])


def test_tor_missing_says_what_to_install():
    got = judged(bootstrap(*NOT_RUN, version=None))
    assert got["explanation"] == f"Tor bootstrap not measured: {NO_TOR}."


def test_a_stale_control_decides_nothing():
    control = bootstrap(DONE, NO_BRIDGES)
    control["started_at"] = "2026-11-21T10:00:00Z"  # a day before this scan: past the 3 h bound
    got = judged(bootstrap(SILENT, NO_BRIDGES), control)
    assert (got["verdict"], got["evidence"]) == (v.INCONCLUSIVE, ["tor.bootstrap_stuck", "control.stale"])
    assert got["control"]["stale"] is True


def test_a_cut_international_link_explains_a_stuck_bootstrap():
    got = judged(bootstrap(SILENT, NO_BRIDGES), None, scan_baselines=baselines(international=False))
    assert (got["verdict"], got["blocking"]) == (v.BLOCKED, "network")
    assert got["evidence"] == ["connectivity.international_cut", "tor.bootstrap_stuck", "control.missing"]


def test_an_offline_vantage_decides_nothing():
    got = judged(bootstrap(SILENT, NO_BRIDGES), bootstrap(DONE, NO_BRIDGES),
                 scan_baselines=baselines(international=False, domestic=False))
    assert (got["verdict"], got["evidence"]) == (v.INCONCLUSIVE, ["connectivity.offline"])


@pytest.mark.parametrize("progress, layer", [(0, "tcp"), (2, "tcp"), (5, "tcp"), (10, "tls"), (14, "tls"),
                                             (45, "tls"), (75, "tls"), (80, "tcp"), (85, "tls"), (95, "tls")])
def test_the_layer_is_the_one_of_the_phase_it_stopped_in(progress, layer):
    assert phase_layer(progress) == layer


@pytest.mark.parametrize("record", [
    {"tor_version": 5, "timeout_s": "x", "attempts": "nope"},
    {"attempts": [{"path": "direct", "progress": 250, "ended": "weird", "duration_ms": -1, "phases": "no"}]},
    {"attempts": [None, 3, {"path": "elsewhere"}, {"path": "direct", "progress": True, "tag": ["x"]}]},
])
def test_a_hostile_record_is_read_without_failing(record):
    got = judged({"target": {"id": "tor-bootstrap"}, "observations": {"tor_bootstrap": record}})
    assert got["verdict"] == v.INCONCLUSIVE and got["evidence"] == ["tor.not_run"]
