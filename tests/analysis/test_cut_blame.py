"""The cut blames only what it cuts (analysis/domestic.py): during an international cut a site
reached inside the country keeps the verdict of its own failure; only sites abroad are
blocked by the cut."""

from __future__ import annotations

import pytest

from kzprobe.analysis import analyse_scan
from kzprobe.report import vocabulary as v
from support.observations import add_split, baselines, control_of, dns, hop, result, tcp, tls, web

DOMESTIC_NEIGHBOUR = "95.57.2.77"  # the domestic baseline answers from 95.57.2.10: same /24
DOMESTIC_WIDER = "95.57.200.7"  # same /16 only
ABROAD = "88.198.1.10"


def failing(host: str, address: str, *, tcp_failure: str | None = None, tls_failure: str | None = None,
            scheme: str = "https", neutral_ok: bool = True) -> dict:
    obs = {"dns": dns(host, [address]), "control_dns": dns(host, [address], resolver="https://1.1.1.1/dns-query"),
           "tcp": [tcp(address, tcp_failure, host=host)], "tls": [], "http": []}
    if tcp_failure is None and tls_failure:
        obs["tls"] = [tls(address, tls_failure, host, completed=False)]
        # The probe's SNI split: a neutral name passes where only the name is filtered; where the
        # cut took the path, the neutral name's connection times out too.
        add_split(obs, address, tls_failure, host, tcp_failure=None if neutral_ok else v.GENERIC_TIMEOUT)
    return obs


def cut_scan(target: dict) -> list[dict]:
    return [*baselines(international=False), target]


def _control(host: str) -> dict:
    return control_of(result(web(host, address=ABROAD), ident="site", host=host))


ROWS = [
    # id, host, observations, baseline mark, with control, verdict, blocking, evidence
    ("domestic_site_reset_by_sni_keeps_its_verdict", "news.example",
     failing("news.example", DOMESTIC_NEIGHBOUR, tls_failure=v.CONNECTION_RESET), None, False,
     "blocked", "tls", ["tls.reset"]),
    ("domestic_site_refused_keeps_its_verdict_with_a_control", "news.example",
     failing("news.example", DOMESTIC_NEIGHBOUR, tcp_failure=v.CONNECTION_REFUSED), None, True,
     "blocked", "tcp", ["tcp.refused"]),
    ("domestic_site_refused_without_a_control_is_inconclusive", "news.example",
     failing("news.example", DOMESTIC_NEIGHBOUR, tcp_failure=v.CONNECTION_REFUSED), None, False,
     "inconclusive", None, ["control.missing", "tcp.refused"]),
    ("site_abroad_silent_is_blocked_by_the_cut", "news.example",
     failing("news.example", ABROAD, tcp_failure=v.GENERIC_TIMEOUT), None, True,
     "blocked", "network", ["connectivity.international_cut", "tcp.timeout"]),
    ("site_abroad_unreachable_is_blocked_by_the_cut", "news.example",
     failing("news.example", ABROAD, tcp_failure=v.HOST_UNREACHABLE), None, False,
     "blocked", "network", ["connectivity.international_cut"]),
    ("site_abroad_silent_after_the_client_hello_is_blocked_by_the_cut", "news.example",
     failing("news.example", ABROAD, tls_failure=v.GENERIC_TIMEOUT, neutral_ok=False), None, False,
     "blocked", "network", ["connectivity.international_cut", "tls.timeout"]),
    # A failure that is an answer from the far end proves the path works: not the cut's doing.
    ("site_abroad_reset_after_the_client_hello_keeps_its_verdict", "news.example",
     failing("news.example", ABROAD, tls_failure=v.CONNECTION_RESET, neutral_ok=False), None, False,
     "inconclusive", None, ["control.missing", "tls.reset"]),
    ("site_abroad_reset_keeps_its_verdict_with_a_control", "news.example",
     failing("news.example", ABROAD, tls_failure=v.CONNECTION_RESET, neutral_ok=False), None, True,
     "blocked", "tls", ["tls.reset"]),
    ("site_abroad_tls_alert_keeps_its_verdict", "news.example",
     failing("news.example", ABROAD, tls_failure=v.SSL_FAILED_HANDSHAKE, neutral_ok=False), None, False,
     "inconclusive", None, ["control.missing"]),
    ("site_abroad_refused_keeps_its_verdict", "news.example",
     failing("news.example", ABROAD, tcp_failure=v.CONNECTION_REFUSED), None, False,
     "inconclusive", None, ["control.missing", "tcp.refused"]),
    ("site_abroad_refused_keeps_its_verdict_with_a_control", "news.example",
     failing("news.example", ABROAD, tcp_failure=v.CONNECTION_REFUSED), None, True,
     "blocked", "tcp", ["tcp.refused"]),
    ("site_abroad_silent_to_its_name_but_answering_a_neutral_one_keeps_its_verdict", "news.example",
     failing("news.example", ABROAD, tls_failure=v.GENERIC_TIMEOUT), None, False,
     "blocked", "tls", ["tls.timeout", "tls.sni_filter"]),
    ("kz_name_in_the_same_wider_network_is_domestic", "news.kz",
     failing("news.kz", DOMESTIC_WIDER, tls_failure=v.GENERIC_TIMEOUT, neutral_ok=False), None, False,
     "inconclusive", None, ["tls.timeout"]),
    ("other_name_in_the_same_wider_network_is_not_enough", "news.example",
     failing("news.example", DOMESTIC_WIDER, tls_failure=v.GENERIC_TIMEOUT, neutral_ok=False), None, False,
     "blocked", "network", ["connectivity.international_cut"]),
    ("kz_name_hosted_abroad_is_blocked_by_the_cut", "news.kz",
     failing("news.kz", ABROAD, tls_failure=v.GENERIC_TIMEOUT, neutral_ok=False), None, False,
     "blocked", "network", ["connectivity.international_cut"]),
    ("target_marked_domestic_keeps_its_verdict", "news.example",
     failing("news.example", "31.13.1.1", tcp_failure=v.GENERIC_TIMEOUT), "domestic", True,
     "blocked", "tcp", ["tcp.timeout"]),
]


@pytest.mark.parametrize("name, host, obs, baseline, with_control, verdict, blocking, evidence", ROWS,
                         ids=[row[0] for row in ROWS])
def test_the_cut_blames_only_what_it_cuts(name, host, obs, baseline, with_control, verdict, blocking, evidence):
    target = result(obs, ident="site", host=host, baseline=baseline)
    analysis = analyse_scan(cut_scan(target), _control(host) if with_control else None)
    assert analysis.connectivity == v.INTERNATIONAL_CUT
    got = analysis.verdicts[-1]
    assert (got["verdict"], got["blocking"]) == (verdict, blocking), got["explanation"]
    assert set(evidence) <= set(got["evidence"]), got["evidence"]
    if blocking != "network" and verdict != "reachable":
        # Its own failure explains it: the cut is said not to, or the neutral name shows SNI filtering.
        assert "the cut does not explain this failure" in got["explanation"] or "SNI filtering" in got["explanation"]
    if blocking == "network":
        # Blamed on the cut: no clause saying a control would tell, next to the cut telling.
        assert "got only silence" in got["explanation"] and "cannot be told" not in got["explanation"]


def test_an_address_that_served_a_page_during_the_cut_counts_as_inside():
    working = result({"dns": dns("portal.example", ["95.57.77.5"]), "tcp": [tcp("95.57.77.5", host="portal.example")],
                      "tls": [tls("95.57.77.5", host="portal.example")],
                      "http": [hop("https://portal.example/", address="95.57.77.5")]},
                     ident="portal", host="portal.example")
    # Its handshakes go silent for the neutral name too (no SNI signature, no answer from the far
    # end): only the domestic classification keeps the cut from taking the blame.
    target = result(failing("news.example", "95.57.77.9", tls_failure=v.GENERIC_TIMEOUT, neutral_ok=False),
                    ident="site", host="news.example")
    got = analyse_scan([*baselines(international=False), working, target], None).verdicts[-1]
    assert got["blocking"] != "network" and "connectivity.international_cut" not in got["evidence"]
    assert "95.57.77.5" in got["explanation"] and "portal" in got["explanation"]


def _chat_service(address: str, failure: str | None, *, url: str | None = None) -> dict:
    """A messenger's two chat servers in `address`'s network (same /24), both failing TCP with
    `failure` (None: both connect)."""
    base = address.rsplit(".", 1)[0]
    endpoints = [{"endpoint": f"chat{n}.messenger.example:443", "host": f"chat{n}.messenger.example", "port": 443,
                  "role": "chat", "tls": False, "sni": None, "ca": None,
                  "dns": dns(f"chat{n}.messenger.example", [f"{base}.{n + 40}"]), "control_dns": None,
                  "tcp": [tcp(f"{base}.{n + 40}", failure, host=f"chat{n}.messenger.example")],
                  "tls_handshakes": [], "failure": None} for n in range(2)]
    target = {"id": "messenger", "name": "Messenger", **({"url": url} if url else {})}
    return {"target": target, "observations": {"endpoints": endpoints}, "started_at": "2026-11-22T10:00:00Z",
            "duration_ms": 1.0}


@pytest.mark.parametrize("address, failure, verdict, blocking", [
    (ABROAD, v.GENERIC_TIMEOUT, "blocked", "network"),  # silent abroad: the cut's
    (DOMESTIC_NEIGHBOUR, v.GENERIC_TIMEOUT, "blocked", "tcp"),  # silent inside, the control reached it: its own
    (ABROAD, v.CONNECTION_REFUSED, "down", None),  # refused here and in the control: an outage, not the cut
], ids=["silent-abroad", "silent-inside-the-country", "refused-everywhere"])
def test_a_service_s_endpoints_are_blamed_on_the_cut_only_where_it_cuts(address, failure, verdict, blocking):
    service = _chat_service(address, failure)
    # The control reached the servers, except where they refuse everyone.
    control = _chat_service(address, v.CONNECTION_REFUSED if failure == v.CONNECTION_REFUSED else None)
    got = analyse_scan([*baselines(international=False), service], control_of(control)).verdicts[-1]
    assert (got["verdict"], got["blocking"]) == (verdict, blocking), got["explanation"]
    assert ("connectivity.international_cut" in got["evidence"]) == (blocking == "network")


def test_a_service_s_web_front_end_abroad_is_blamed_on_the_cut_with_its_endpoints():
    service = _chat_service(ABROAD, v.GENERIC_TIMEOUT, url="https://messenger.example/")
    service["observations"].update(failing("messenger.example", ABROAD, tcp_failure=v.GENERIC_TIMEOUT))
    got = analyse_scan([*baselines(international=False), service], None).verdicts[-1]
    assert (got["verdict"], got["blocking"]) == ("blocked", "network"), got["explanation"]
    web = next(e for e in got["endpoints"] if e.get("reason") == "web")
    assert web["status"] == "blocked"
