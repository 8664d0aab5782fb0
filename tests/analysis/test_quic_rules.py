"""The QUIC part of a web verdict: one row per situation, from the rule in docs/methodology.md."""

from __future__ import annotations

import pytest

from kzprobe.analysis.quic_rules import quic_verdict
from kzprobe.report import vocabulary as v

HOST = "site.example"


def _result(quic: list[dict] | None, tls_completed: bool = True) -> dict:
    observations: dict = {"tls": [{"hostname": HOST, "address": "192.0.2.1", "handshake_completed": tls_completed,
                                   "failure": None if tls_completed else v.CONNECTION_RESET}]}
    if quic is not None:
        observations["quic"] = quic
    return {"target": {"id": "site", "hostname": HOST}, "observations": observations}


def _quic(failure: str | None) -> list[dict]:
    return [{"address": "192.0.2.1", "port": 443, "sni": HOST, "failure": failure,
             "handshake_completed": failure is None, "alpn": "h3" if failure is None else None}]


WORKED, SILENT, CLOSED = _quic(None), _quic(v.GENERIC_TIMEOUT), _quic(v.CONNECTION_RESET)


@pytest.mark.parametrize("here, control, connectivity, verdict, blocking, evidence", [
    (_result(WORKED), None, v.ONLINE, v.REACHABLE, None, []),
    (_result(SILENT), _result(WORKED), v.ONLINE, v.BLOCKED, "quic", ["quic.timeout"]),
    (_result(CLOSED), _result(WORKED), v.ONLINE, v.BLOCKED, "quic", ["quic.closed"]),
    (_result(SILENT), None, v.ONLINE, v.INCONCLUSIVE, None, ["quic.timeout", "control.missing"]),
    (_result(SILENT), _result(None), v.ONLINE, v.INCONCLUSIVE, None, ["quic.timeout", "control.missing"]),
    (_result(SILENT), _result(SILENT), v.ONLINE, v.DOWN, None, ["quic.timeout"]),
    (_result(SILENT, tls_completed=False), _result(WORKED), v.ONLINE, v.INCONCLUSIVE, None, ["quic.timeout"]),
    (_result(SILENT), _result(WORKED), v.OFFLINE, v.INCONCLUSIVE, None, ["quic.timeout", "connectivity.offline"]),
], ids=["completed", "silent-control-worked", "closed-control-worked", "no-control", "control-without-quic",
        "control-failed-too", "tcp-failed-too", "offline"])
def test_quic_verdict(here, control, connectivity, verdict, blocking, evidence):
    judged = quic_verdict(here, control, connectivity)
    assert judged is not None
    assert (judged["verdict"], judged["blocking"], judged["evidence"]) == (verdict, blocking, evidence)
    assert all(code in v.EVIDENCE_CODES for code in judged["evidence"])


def test_no_quic_handshake_means_no_quic_part():
    assert quic_verdict(_result(None), _result(WORKED), v.ONLINE) is None
