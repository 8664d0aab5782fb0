"""The QUIC part of a web target's verdict: HTTP/3 judged beside the TCP path, never instead of it.

A browser that finds QUIC dropped falls back to TCP: the page still loads, slower to start, and
the censor's hand shows only in the QUIC handshake. So QUIC gets its own small verdict in the
result ("quic": verdict, blocking, evidence, explanation) and the target's own verdict, made
from DNS, TCP, TLS and HTTP, is never changed by it. The rule (docs/methodology.md, "QUIC"):
blocked, layer "quic", only when the handshake failed here while TLS over TCP to the same
name completed here and the control vantage's QUIC handshake to the site completed; without a
usable control it is inconclusive (a site may serve HTTP/3 from some places only, or have
stopped); if the control failed too, the site does not (or no longer) speak QUIC: down.
"""

from __future__ import annotations

from typing import Any, Final

from kzprobe.report import vocabulary as v

# Failure string -> evidence code of a failed QUIC handshake.
_CODES: Final = {v.GENERIC_TIMEOUT: "quic.timeout", v.CONNECTION_RESET: "quic.closed"}


def _handshakes(result: Any) -> list[dict]:
    observations = result.get("observations") if isinstance(result, dict) else None
    items = observations.get("quic") if isinstance(observations, dict) else None
    return [h for h in items[:4] if isinstance(h, dict)] if isinstance(items, list) else []


def _completed(handshakes: list[dict]) -> bool:
    return any(h.get("handshake_completed") is True and h.get("failure") is None for h in handshakes)


def _tls_worked(result: dict) -> bool:
    """TLS over TCP to the target's own name completed here (its own handshakes, no retries)."""
    observations = found if isinstance(found := result.get("observations"), dict) else {}
    target = found if isinstance(found := result.get("target"), dict) else {}
    hostname = target.get("hostname")
    tls = found if isinstance(found := observations.get("tls"), list) else []
    return any(isinstance(t, dict) and t.get("handshake_completed") is True and "purpose" not in t
               and t.get("hostname") == hostname for t in tls[:16])


def quic_verdict(result: Any, control_result: Any, connectivity: str) -> dict | None:
    """The QUIC verdict of one web result, or None when no QUIC handshake was tried."""
    here = _handshakes(result)
    if not here:
        return None
    sni = found if isinstance(found := here[0].get("sni"), str) else "the site"
    if _completed(here):
        return {"verdict": v.REACHABLE, "blocking": None, "evidence": [],
                "explanation": f"QUIC (HTTP/3) handshake with {sni[:120]} completed."}
    failure = here[0].get("failure")
    code = _CODES.get(failure if isinstance(failure, str) else "", "quic.failed")
    if connectivity != v.ONLINE:
        return {"verdict": v.INCONCLUSIVE, "blocking": None, "evidence": [code, f"connectivity.{connectivity}"],
                "explanation": f"QUIC handshake failed ({code}) while the vantage is not fully online."}
    if not _tls_worked(result if isinstance(result, dict) else {}):
        return {"verdict": v.INCONCLUSIVE, "blocking": None, "evidence": [code],
                "explanation": f"QUIC handshake failed ({code}), and TLS over TCP failed too: the target's "
                               "own verdict says what happened to the site."}
    control = _handshakes(control_result)
    if not control:
        return {"verdict": v.INCONCLUSIVE, "blocking": None, "evidence": [code, "control.missing"],
                "explanation": f"QUIC handshake failed ({code}) while TLS over TCP worked; no control "
                               "scan tried QUIC, so a block cannot be told from a site without HTTP/3."}
    if _completed(control):
        return {"verdict": v.BLOCKED, "blocking": "quic", "evidence": [code],
                "explanation": f"QUIC (HTTP/3) blocked: the handshake failed ({code}) while TLS over TCP to "
                               "the same name worked here and the control's QUIC handshake completed; "
                               "browsers fall back to TCP, so the site still loads."}
    return {"verdict": v.DOWN, "blocking": None, "evidence": [code],
            "explanation": f"QUIC handshake failed ({code}) from the control too: the site does not "
                           "answer QUIC (no HTTP/3 there)."}
