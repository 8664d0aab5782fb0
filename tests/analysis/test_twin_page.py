"""The site's own validated HTTPS page decides before a page difference or a redirect off the
site blocks (analysis/http_rules.py final_page, analysis/https_twin.py same_as_twin): a site that
localises by country serves the control another page, and its page over validated HTTPS here
shows which one is real. A known blockpage host or page stays blocked. One row per case, with and
without a control scan."""

from __future__ import annotations

import copy

import pytest

from support.observations import (
    HOST,
    KZ_BLOCKPAGE,
    article_body,
    control_of,
    dns,
    hop,
    result,
    tcp,
    tls,
    verdict_of,
    web,
)

URL = f"https://{HOST}/"
HTTP_URL = f"http://{HOST}/"
NATIONAL = "news.kz"
RU = "Последние новости Казахстана"
EN = "World Headlines Today"
RU_PAGE = article_body(RU)
EN_PAGE = article_body(EN)
QUOTING = article_body(extra="<p>Читатели видят: «Страница заблокирована»</p>")  # an article on blocking


def twin(*hops: dict, hosts: tuple[str, ...] = (HOST,)) -> dict:
    """observations.https_check: the site's own HTTPS fetch, validated for every host in `hosts`."""
    return {"url": URL, "tcp": [tcp(host=h) for h in hosts], "tls": [tls(host=h) for h in hosts],
            "http": list(hops), "redirect_dns": [dns(h) for h in hosts[1:]]}


def http(**changes) -> dict:
    obs = web(scheme="http")
    obs.update(changes)
    return obs


def http_control(*hops: dict) -> dict:
    obs = web(scheme="http")
    obs["http"] = list(hops)
    return control_of(result(obs, scheme="http"))


# The control lands on the site's English page; from here the site answers in Russian.
ENGLISH_CONTROL = http_control(hop(HTTP_URL, title=EN, body=EN_PAGE))
ENGLISH_BY_REDIRECT = http_control(hop(HTTP_URL, 301, location=f"https://{HOST}/en/", title=None, body=""),
                                   hop(f"https://{HOST}/en/", title=EN, body=EN_PAGE))
RU_HERE = [hop(HTTP_URL, title=RU, body=RU_PAGE)]
RU_TWIN = twin(hop(URL, title=RU, body=RU_PAGE))
TO_NATIONAL = [hop(HTTP_URL, 302, location=f"https://{NATIONAL}/", title=None, body=""),
               hop(f"https://{NATIONAL}/", title=RU, body=RU_PAGE)]
NATIONAL_TWIN = twin(hop(URL, 302, location=f"https://{NATIONAL}/", title=None, body=""),
                     hop(f"https://{NATIONAL}/", title=RU, body=RU_PAGE), hosts=(HOST, NATIONAL))
TO_PORTAL = [hop(HTTP_URL, 302, location="http://portal.example/", title=None, body=""),
             hop("http://portal.example/", title="Portal notice", body=article_body("Portal notice"))]

# GeoDNS: the resolver here answers a replica inside the country (KZ_EDGE), the control resolver the
# site's address abroad; the replica serves this region its Russian edition, over plain HTTP and
# over HTTPS validated for the name at the same address (the https_check's handshake).
KZ_EDGE = "95.57.9.9"
AT_KZ_EDGE = {"dns": dns(HOST, [KZ_EDGE]), "tcp": [tcp(KZ_EDGE, port=80)],
              "http": [hop(HTTP_URL, address=KZ_EDGE, title=RU, body=RU_PAGE)]}


def twin_at(address: str, *hops: dict, failure: str | None = None) -> dict:
    """observations.https_check made to `address` (the target's own answer): validated unless `failure`."""
    return {"url": URL, "tcp": [tcp(address)], "tls": [tls(address, failure, completed=True)],
            "http": list(hops), "redirect_dns": []}


ROWS = [
    # H2: a page localised by country, the same as the site's own validated HTTPS page here
    ("localised_page_same_as_its_https_page_is_reachable", http(http=RU_HERE, https_check=RU_TWIN),
     ENGLISH_CONTROL, "reachable", None, []),
    ("localised_page_without_control_is_reachable", http(http=RU_HERE, https_check=RU_TWIN), None,
     "reachable", None, []),
    ("page_unlike_the_control_and_without_https_page_stays_blocked", http(http=RU_HERE), ENGLISH_CONTROL,
     "blocked", "http", ["http.diff"]),
    # GeoDNS: another answer than the control resolver's, proved the site's by the HTTPS fetch's
    # validated handshake there (read blocked/dns [dns.inconsistent, http.diff] before)
    ("geodns_replica_here_serving_its_regional_page_over_validated_https_is_reachable",
     http(**AT_KZ_EDGE, https_check=twin_at(KZ_EDGE, hop(URL, address=KZ_EDGE, title=RU, body=RU_PAGE))),
     ENGLISH_CONTROL, "reachable", None, []),
    ("geodns_replica_here_without_control_is_reachable",
     http(**AT_KZ_EDGE, https_check=twin_at(KZ_EDGE, hop(URL, address=KZ_EDGE, title=RU, body=RU_PAGE))),
     None, "reachable", None, []),
    ("geodns_replica_whose_plain_page_differs_from_its_https_page_is_blocked_at_http",
     http(**AT_KZ_EDGE, https_check=twin_at(KZ_EDGE, hop(URL, address=KZ_EDGE, title=EN, body=EN_PAGE))),
     ENGLISH_CONTROL, "blocked", "http", ["http.diff"]),
    ("another_answer_whose_https_fetch_did_not_validate_stays_blocked_at_dns",
     http(**AT_KZ_EDGE, https_check=twin_at(KZ_EDGE, hop(URL, address=KZ_EDGE, title=RU, body=RU_PAGE),
                                            failure="ssl_unknown_authority")),
     ENGLISH_CONTROL, "blocked", "dns", ["dns.inconsistent", "http.diff"]),
    ("page_unlike_both_the_control_and_its_https_page_stays_blocked",
     http(http=RU_HERE, https_check=twin(hop(URL, title=EN, body=EN_PAGE))), ENGLISH_CONTROL,
     "blocked", "http", ["http.diff"]),
    # R2: to the national domain over HTTPS, where the site's own HTTPS fetch goes too
    ("national_domain_the_https_fetch_reaches_too", http(http=TO_NATIONAL, tls=[tls(host=NATIONAL)],
                                                         https_check=NATIONAL_TWIN),
     ENGLISH_BY_REDIRECT, "reachable", None, []),
    ("national_domain_the_https_fetch_reaches_too_without_control",
     http(http=TO_NATIONAL, tls=[tls(host=NATIONAL)], https_check=NATIONAL_TWIN), None, "reachable", None, []),
    ("national_domain_without_its_handshake_recorded_is_still_the_sites_page",
     http(http=TO_NATIONAL, https_check=NATIONAL_TWIN), ENGLISH_BY_REDIRECT, "reachable", None, []),
    ("national_domain_without_its_handshake_recorded_without_control",
     http(http=TO_NATIONAL, https_check=NATIONAL_TWIN), None, "reachable", None, []),
    ("plain_redirect_off_the_site_to_a_page_unlike_its_https_page_stays_blocked",
     http(http=TO_PORTAL, https_check=RU_TWIN), ENGLISH_CONTROL, "blocked", "http",
     ["http.blockpage_redirect", "http.diff"]),
    # 7: an article quoting a blockpage phrase, the same as the site's own validated HTTPS page
    ("article_quoting_a_blockpage_phrase_same_as_its_https_page", http(http=[hop(HTTP_URL, body=QUOTING)],
                                                                     https_check=twin(hop(URL, body=QUOTING))),
     ENGLISH_BY_REDIRECT, "reachable", None, []),
    ("article_quoting_a_blockpage_phrase_without_control", http(http=[hop(HTTP_URL, body=QUOTING)],
                                                              https_check=twin(hop(URL, body=QUOTING))),
     None, "reachable", None, []),
    ("known_blockpage_while_the_https_page_quotes_its_phrase_stays_blocked",
     http(http=[hop(HTTP_URL, title="Страница заблокирована", body=KZ_BLOCKPAGE)],
          https_check=twin(hop(URL, body=QUOTING))), ENGLISH_CONTROL, "blocked", "http", ["http.blockpage"]),
    ("known_blockpage_while_the_https_page_quotes_its_phrase_without_control",
     http(http=[hop(HTTP_URL, title="Страница заблокирована", body=KZ_BLOCKPAGE)],
          https_check=twin(hop(URL, body=QUOTING))), None, "blocked", "http", ["http.blockpage"]),
    ("known_blockpage_destination_stays_blocked",
     http(http=[hop(HTTP_URL, 302, location="http://qca.kz/", title=None, body=""),
                hop("http://qca.kz/", title=RU, body=RU_PAGE)], https_check=RU_TWIN), None,
     "blocked", "http", ["http.blockpage_redirect"]),
]


@pytest.mark.parametrize("name,observations,control,verdict,blocking,evidence", ROWS, ids=[r[0] for r in ROWS])
def test_the_sites_own_https_page_decides_first(name, observations, control, verdict, blocking, evidence):
    got = verdict_of(result(copy.deepcopy(observations), scheme="http"), control)
    assert (got["verdict"], got["blocking"], got["evidence"]) == (verdict, blocking, evidence), got["explanation"]


def test_the_explanation_says_the_https_page_decided():
    got = verdict_of(result(http(http=RU_HERE, https_check=RU_TWIN), scheme="http"), ENGLISH_CONTROL)
    assert "the control scan got a different page" in got["explanation"]
    assert "own page over validated HTTPS here (https://news.example/) is the same page" in got["explanation"]
    quoted = verdict_of(result(http(http=[hop(HTTP_URL, body=QUOTING)], https_check=twin(hop(URL, body=QUOTING))),
                               scheme="http"), None)
    assert "and so does the site's own page over validated HTTPS" in quoted["explanation"]
