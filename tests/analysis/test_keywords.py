"""Keyword verdicts: the word's requests judged against their neutral twins, one row per case;
then through analyse_scan, with and without a control scan."""

from __future__ import annotations

from typing import Any

import pytest

from kzprobe.analysis import analyse_scan
from kzprobe.analysis.keyword_rules import keyword_verdict
from support import reports as f

OK_HTTP = {"failure": None, "step": None, "status": 404}
OK_TLS = {"failure": None, "step": None, "handshake_completed": True}


def sent(placement: str, neutral: bool, **outcome: Any) -> dict[str, Any]:
    word = "qzxvjk" if neutral else "guljan"
    base = "base-tls" if placement == "sni" else "base-plain"
    host = f"{word}.{base}.test" if placement != "path" else f"{base}.test"
    item = {"placement": placement, "neutral": neutral, "word": word, "baseline": base, "hostname": host,
            "address": "192.0.2.7" if placement == "sni" else "192.0.2.8", "port": 443 if placement == "sni" else 80,
            "path": f"/{word}" if placement == "path" else "/" if placement == "host" else "",
            "failure": None, "step": None, "status": None, "location": None, "body_length": None,
            "body_sha256": None, "handshake_completed": False, "duration_ms": 12.0}
    item.update(outcome)
    return item


def _looks_caught(word: dict, twin: dict) -> bool:
    if twin["failure"] is not None or (twin["placement"] != "sni" and twin["status"] is None):
        return False
    if word["failure"] is not None:
        return word["step"] != "tcp"
    return word["placement"] != "sni" and word["status"] != twin["status"]


def pairs(path: dict | None = None, host: dict | None = None, sni: dict | None = None,
          neutral: dict | None = None, neutral_sni: dict | None = None, *,
          again: dict[str, dict] | None = None, second_tries: bool = True) -> dict[str, Any]:
    """The six observations: twins answered (or `neutral`), keyword ones answered unless given;
    then, as the probe does, a second try of each keyword request that looked caught - the same
    outcome (a filter catches the word every time) unless `again` says otherwise per placement;
    none at all when `second_tries` is False (a report made before them)."""
    twins = [sent("path", True, **(neutral or OK_HTTP)), sent("host", True, **(neutral or OK_HTTP)),
             sent("sni", True, **(neutral_sni or OK_TLS))]
    words = [sent("path", False, **(path or OK_HTTP)), sent("host", False, **(host or OK_HTTP)),
             sent("sni", False, **(sni or OK_TLS))]
    tries = [sent(w["placement"], False, **{**{k: w[k] for k in ("failure", "step", "status", "handshake_completed")},
                                            **(again or {}).get(w["placement"], {})}, again=True)
             for w, t in zip(words, twins, strict=True) if second_tries and _looks_caught(w, t)]
    return {"keyword": twins + words + tries}


RESET = {"failure": "connection_reset", "step": "http", "status": None}
TIMEOUT_TLS = {"failure": "generic_timeout_error", "step": "tls", "handshake_completed": False}


@pytest.mark.parametrize(
    ("observations", "verdict", "layer", "evidence"),
    [
        pytest.param(pairs(path=RESET), "blocked", "http", ["keyword.path"], id="path reset"),
        pytest.param(pairs(path={"failure": None, "status": 200}), "blocked", "http", ["keyword.path"],
                     id="path blockpage: another status than the twin's"),
        pytest.param(pairs(host={"failure": "eof_error", "step": "http"}), "blocked", "http", ["keyword.host"],
                     id="Host closed"),
        pytest.param(pairs(host={"failure": None, "status": 302}), "blocked", "http", ["keyword.host"],
                     id="Host redirected"),
        pytest.param(pairs(sni=TIMEOUT_TLS), "blocked", "tls", ["keyword.sni"], id="server name silenced"),
        pytest.param(pairs(path=RESET, sni=TIMEOUT_TLS), "blocked", "http", ["keyword.path", "keyword.sni"],
                     id="path and server name"),
        pytest.param(pairs(), "reachable", None, [], id="passes everywhere"),
        pytest.param(pairs(path=RESET, host=RESET, neutral=RESET), "reachable", None, [],
                     id="plaintext twins fail too, server name passes"),
        pytest.param(pairs(path=RESET, host=RESET, sni=TIMEOUT_TLS, neutral=RESET, neutral_sni=TIMEOUT_TLS),
                     "inconclusive", None, ["keyword.neutral_failed"], id="every twin fails"),
        pytest.param(pairs(path={"failure": "generic_timeout_error", "step": "tcp"},
                           host={"failure": "generic_timeout_error", "step": "tcp"},
                           sni={"failure": "generic_timeout_error", "step": "tcp"}),
                     "inconclusive", None, ["keyword.neutral_failed"], id="connect failed: the word was never sent"),
        pytest.param({}, "inconclusive", None, ["keyword.no_baseline"], id="no baseline answered"),
        pytest.param({"keyword": [{"placement": "path"}, "junk", None]}, "inconclusive", None,
                     ["keyword.no_baseline"], id="malformed saved observations"),
        pytest.param({"keyword": pairs(path=RESET)["keyword"][3:]}, "inconclusive", None,
                     ["keyword.neutral_failed"], id="twins missing (deadline)"),
        # The second try: a filter catches the word every time, a server's hiccup passes it.
        pytest.param(pairs(path=RESET, again={"path": OK_HTTP}), "reachable", None, [],
                     id="path reset once, answered as its twin on the second try"),
        pytest.param(pairs(sni=TIMEOUT_TLS, again={"sni": OK_TLS}), "reachable", None, [],
                     id="server name silenced once, completed on the second try"),
        pytest.param(pairs(path=RESET, again={"path": {"failure": "generic_timeout_error", "step": "tcp"}}),
                     "blocked", "http", ["keyword.path"], id="path reset, then the address blocked after the hit"),
        pytest.param(pairs(host={"failure": None, "status": 302}, again={"host": RESET}), "blocked", "http",
                     ["keyword.host"], id="Host redirected, then reset"),
        pytest.param(pairs(path=RESET, second_tries=False), "inconclusive", None, ["keyword.unconfirmed"],
                     id="path reset once, no second try recorded"),
        pytest.param(pairs(path=RESET, sni=TIMEOUT_TLS, again={"path": OK_HTTP}, second_tries=True), "blocked", "tls",
                     ["keyword.sni"], id="one placement confirmed, another a hiccup"),
        pytest.param(pairs(path={"failure": None, "status": 429}), "inconclusive", None, ["keyword.unconfirmed"],
                     id="path answered 429 Too Many Requests: the server's rate limit"),
        pytest.param(pairs(host={"failure": None, "status": 503}), "inconclusive", None, ["keyword.unconfirmed"],
                     id="Host answered 503: the server's trouble"),
        pytest.param(pairs(path={"failure": None, "status": 200}, again={"path": {"failure": None, "status": 429}}),
                     "inconclusive", None, ["keyword.unconfirmed"], id="path blockpage once, then rate limited"),
    ],
)
def test_keyword_verdict(observations, verdict, layer, evidence):
    result = keyword_verdict("guljan", observations)
    assert (result.verdict, result.blocking, list(result.evidence)) == (verdict, layer, evidence)


def test_the_explanation_names_the_placements_the_hosts_and_what_happened():
    text = keyword_verdict("guljan", pairs(host=RESET)).explanation
    assert "'guljan'" in text and "base-plain (192.0.2.8)" in text and "base-tls (192.0.2.7)" in text
    assert "in the Host header (guljan.base-plain.test) the request failed (connection_reset at http)" in text
    assert "in the URL path (base-plain.test/guljan) the request was answered HTTP 404" in text
    assert "in the TLS server name (guljan.base-tls.test) the request completed the handshake" in text
    assert text.endswith("the word is filtered in the Host header.")
    assert "and the request once more failed (connection_reset at http)" in text


def _result(target: dict, observations: dict) -> dict:
    return {"target": target, "observations": observations, "started_at": "2026-12-01T10:00:00Z",
            "duration_ms": 90.0}


def _baselines() -> list[dict]:
    made = []
    for target_id, kind in (("gov-kz", "domestic"), ("debian-org", "international")):
        result = f.measured_result(target_id, category="GOVT")
        result["target"]["baseline"] = kind
        made.append(result)
    return made


@pytest.mark.parametrize("with_control", [True, False], ids=["with a control scan", "without"])
def test_analyse_scan_judges_a_keyword_target_by_its_twins(with_control):
    keyword = {"id": "keyword-guljan", "keyword": "guljan", "category": "POLR"}
    results = [*_baselines(), _result(keyword, pairs(sni=TIMEOUT_TLS))]
    control = {"format": "kzprobe-report", "format_version": 1,
               "results": [*_baselines(), _result(keyword, pairs())]} if with_control else None
    verdict = analyse_scan(results, control).verdicts[-1]
    assert (verdict["verdict"], verdict["blocking"], verdict["evidence"]) == ("blocked", "tls", ["keyword.sni"])


def test_an_offline_vantage_tries_no_word_and_says_so():
    keyword = {"id": "keyword-guljan", "keyword": "guljan", "category": "POLR"}
    [verdict] = analyse_scan([_result(keyword, {})], None).verdicts
    assert (verdict["verdict"], verdict["evidence"]) == ("inconclusive", ["connectivity.offline"])
