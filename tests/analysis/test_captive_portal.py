"""Captive portals and walled gardens (analysis/captive.py): a scan behind one is
`captive_portal` and every target `inconclusive`; a censor's lying resolver never reads as one."""

from __future__ import annotations

import pytest

from kzprobe.analysis import analyse_scan
from kzprobe.report import vocabulary as v
from support.captive_portal import LOGIN, PORTAL, behind_portal, page_portal_scan, portal_scan
from support.observations import (
    KZ_BLOCKPAGE,
    UNKNOWN_BLOCKPAGE,
    baselines,
    control_of,
    dns,
    hop,
    real_chain,
    result,
    tcp,
    tls,
    web,
)

BLOCKPAGE_SERVER = "95.57.255.80"


def lying_resolver_scan(blockpage_body: str | None = None, *, baselines_work: bool = True) -> list[dict]:
    """A censor pointing four blocked names at one blockpage server (http ones show its page)."""
    scan = baselines(international=baselines_work, domestic=baselines_work)
    for n in range(4):
        host = f"blocked{n}.example"
        scheme = "http" if n % 2 else "https"
        obs = {"dns": dns(host, [BLOCKPAGE_SERVER]), "control_dns": dns(host, [f"88.198.5.{n + 1}"]),
               "tcp": [tcp(BLOCKPAGE_SERVER, host=host, port=80 if scheme == "http" else 443)], "tls": [], "http": []}
        if scheme == "https":
            obs["tls"] = [tls(BLOCKPAGE_SERVER, v.SSL_INVALID_HOSTNAME, host, completed=True, verified=False,
                              chain=real_chain("blockpage.isp.example"))]
        else:
            body = blockpage_body or "<title>Доступ ограничен</title> Ресурс недоступен."
            obs["http"] = [hop(f"http://{host}/", 200, address=BLOCKPAGE_SERVER, title=None, body=body)]
        scan.append(result(obs, ident=f"blocked{n}", host=host, scheme=scheme))
    return scan


def walled_garden_scan() -> list[dict]:
    """One baseline allowed through (validated TLS), two more held at the portal."""
    scan = portal_scan()
    scan.append(result(behind_portal("intl2.example"), ident="intl-baseline-2", host="intl2.example",
                       baseline="international"))
    scan[0] = result(web("intl.example", address="88.198.2.10", title="intl.example home page"), ident="intl-baseline",
                     host="intl.example", baseline="international")
    return scan


def shared_host_scan() -> list[dict]:
    """Three real sites on one shared-hosting address (their TLS validates) while the baselines fail."""
    scan = baselines(international=False, domestic=False)
    for n in range(3):
        host = f"shared{n}.kz"
        scan.append(result(web(host, address="95.57.9.9", title=f"{host} home"), ident=f"shared{n}", host=host))
    return scan


def one_page_for_many_sites(body: str, *, baselines_work: bool, proven: bool = False) -> list[dict]:
    """Four http:// sites answered with one page from their own addresses (DNS honest); `proven`:
    TLS for each name validates at its address (real servers, mirrors of one site)."""
    scan = baselines(international=baselines_work, domestic=baselines_work)
    for n in range(4):
        host, address = f"mirror{n}.example", f"88.198.6.{n + 1}"
        obs = web(host, "http", address, title="", body=body)
        obs["http"][0]["title"] = None
        if proven:
            obs["tcp"].append(tcp(address, host=host))
            obs["tls"] = [tls(address, host=host)]
        scan.append(result(obs, ident=f"mirror{n}", host=host, scheme="http"))
    return scan


def no_baselines_portal() -> list[dict]:
    return [r for r in portal_scan(others=4) if not r["target"].get("baseline")]


def two_names_portal() -> list[dict]:
    return [r for r in portal_scan(others=0)]


ROWS = [
    # id, results, control, connectivity
    ("every_name_to_one_address_http_redirected_tls_mismatched", portal_scan(), None, v.CAPTIVE_PORTAL),
    ("the_same_with_a_control_scan_that_reaches_every_site", portal_scan(), "control", v.CAPTIVE_PORTAL),
    ("gateway_intercepting_with_honest_dns", portal_scan(hijacked=False), None, v.CAPTIVE_PORTAL),
    ("walled_garden_letting_one_baseline_through", walled_garden_scan(), None, v.CAPTIVE_PORTAL),
    ("no_baselines_every_target_through_the_portal", no_baselines_portal(), None, v.CAPTIVE_PORTAL),
    ("censor_pointing_many_names_at_one_blockpage_while_baselines_work", lying_resolver_scan(), None, v.ONLINE),
    ("fingerprinted_blockpage_at_the_shared_address_is_a_censor",
     lying_resolver_scan(KZ_BLOCKPAGE, baselines_work=False),
     None, v.ONLINE),
    ("three_sites_on_one_shared_host_prove_their_names", shared_host_scan(), None, v.ONLINE),
    # Portals unlike the lab's (issue 22, an independent lab's variants): the login page over HTTPS
    # under the portal's own name with a real certificate, another private range, a public address,
    # another redirect status.
    ("portal_whose_https_login_page_has_a_real_certificate", portal_scan(login_scheme="https"), None,
     v.CAPTIVE_PORTAL),
    ("the_same_with_a_control_scan", portal_scan(login_scheme="https"), "control", v.CAPTIVE_PORTAL),
    ("gateway_intercepting_with_honest_dns_and_an_https_login_page",
     portal_scan(hijacked=False, login_scheme="https"), None, v.CAPTIVE_PORTAL),
    ("portal_in_another_private_range_redirecting_with_307", portal_scan(portal="192.168.88.1", status=307), None,
     v.CAPTIVE_PORTAL),
    ("portal_on_a_public_address_redirecting_with_303", portal_scan(portal="1.1.1.1", status=303), None,
     v.CAPTIVE_PORTAL),
    # Below the minimum the baselines speak as they always did (the portal's page is a domestic answer).
    ("two_names_are_too_few_for_a_portal", two_names_portal(), None, v.INTERNATIONAL_CUT),
    # DNS honest, every plain-HTTP request answered with the portal's own page (no redirect).
    ("honest_dns_every_plain_http_request_answered_with_the_portal_s_page", page_portal_scan(), None,
     v.CAPTIVE_PORTAL),
    ("the_portal_s_page_identical_for_every_host", page_portal_scan(echo=False), None, v.CAPTIVE_PORTAL),
    ("the_portal_s_page_answered_511_network_authentication_required", page_portal_scan(status=511), None,
     v.CAPTIVE_PORTAL),
    ("the_portal_s_page_with_a_control_scan_that_reaches_every_site", page_portal_scan(), "control",
     v.CAPTIVE_PORTAL),
    ("two_sites_answered_with_one_page_are_too_few", page_portal_scan(others=2), None, v.INTERNATIONAL_CUT),
    ("censor_s_unknown_blockpage_for_many_sites_while_baselines_work",
     one_page_for_many_sites(UNKNOWN_BLOCKPAGE, baselines_work=True), None, v.ONLINE),
    ("fingerprinted_blockpage_for_many_sites_is_a_censor_not_a_portal",
     one_page_for_many_sites(KZ_BLOCKPAGE, baselines_work=False), None, v.ONLINE),
    ("mirrors_that_prove_their_names_serve_one_page", one_page_for_many_sites(UNKNOWN_BLOCKPAGE, baselines_work=False,
                                                                               proven=True), None, v.ONLINE),
]


def _control(scan: list[dict]) -> dict:
    healthy = [result(web(r["target"]["url"].split("/")[2], r["target"]["url"].split(":")[0],
                          address=f"88.198.7.{i + 1}"), ident=r["target"]["id"], host=r["target"]["url"].split("/")[2],
                      scheme=r["target"]["url"].split(":")[0]) for i, r in enumerate(scan)]
    return control_of(*healthy)


@pytest.mark.parametrize("name, scan, control, connectivity", ROWS, ids=[row[0] for row in ROWS])
def test_captive_portal_connectivity(name, scan, control, connectivity):
    analysis = analyse_scan(scan, _control(scan) if control else None)
    assert analysis.connectivity == connectivity, analysis.baselines
    if connectivity == v.CAPTIVE_PORTAL:
        for got in analysis.verdicts:
            assert (got["verdict"], got["evidence"]) == ("inconclusive", ["connectivity.captive_portal"]), got
            assert "log in to the network and scan again" in got["explanation"]
        assert analysis.baselines["captive_portal"]["names"] >= 3
    else:
        assert "captive_portal" not in analysis.baselines
        assert not any("connectivity.captive_portal" in got["evidence"] for got in analysis.verdicts)


def test_the_lying_resolver_s_https_names_stay_blocked():
    verdicts = analyse_scan(lying_resolver_scan(), None).verdicts
    assert [got["verdict"] for got in verdicts[2::2]] == ["blocked"] * 2


def test_the_portal_is_described_in_the_baselines_and_the_explanation():
    analysis = analyse_scan(portal_scan(), None)
    portal = analysis.baselines["captive_portal"]
    assert portal["address"] == PORTAL and portal["redirect_host"] == LOGIN
    assert set(portal["baselines_through_it"]) == {"intl-baseline", "dom-baseline"}
    explanation = analysis.verdicts[2]["explanation"]
    assert PORTAL in explanation and LOGIN in explanation and "captive portal" in explanation


def test_services_behind_a_portal_are_inconclusive():
    chat = {"endpoint": "chat.example:443", "host": "chat.example", "port": 443, "role": "chat", "tls": True,
            "sni": "chat.example", "ca": None, "dns": dns("chat.example", [PORTAL]), "control_dns": None,
            "tcp": [tcp(PORTAL, host="chat.example")],
            "tls_handshakes": [tls(PORTAL, v.CONNECTION_RESET, "chat.example", completed=False)], "failure": None}
    service = {"target": {"id": "messenger", "name": "Messenger"}, "observations": {"endpoints": [chat]},
               "started_at": "", "duration_ms": 1.0}
    got = analyse_scan([*portal_scan(), service], None).verdicts[-1]
    assert (got["verdict"], got["evidence"]) == ("inconclusive", ["connectivity.captive_portal"])


def test_the_portal_s_page_is_described_in_the_baselines_and_the_explanation():
    analysis = analyse_scan(page_portal_scan(), None)
    portal = analysis.baselines["captive_portal"]
    assert (portal["address"], portal["redirect_host"]) == (None, None)
    assert portal["page"]["title"] == "Wi-Fi: log in" and portal["page"]["hosts"] == 3
    assert set(portal["baselines_through_it"]) == {"dom-baseline"}
    explanation = analysis.verdicts[3]["explanation"]
    assert '"Wi-Fi: log in"' in explanation and "captive portal" in explanation, explanation


def test_a_censor_s_one_blockpage_for_many_sites_keeps_their_own_verdicts():
    """The baselines work: the same unknown page for four http:// sites is the censor's, judged site by site."""
    scan = one_page_for_many_sites(UNKNOWN_BLOCKPAGE, baselines_work=True)
    control = control_of(*[result(web(f"mirror{n}.example", "http", f"88.198.6.{n + 1}"), ident=f"mirror{n}",
                                  host=f"mirror{n}.example", scheme="http") for n in range(4)])
    verdicts = analyse_scan(scan, control).verdicts
    assert [(got["verdict"], got["evidence"]) for got in verdicts[2:]] == [("blocked", ["http.diff"])] * 4
