"""Issue 22, items 5 and 6: the site's own doing is never a censor's block. One row per rule edge,
with and without a control scan: refusals (403/451, CDN and firewall marks), loops over validated
TLS, redirects off the site, and an http:// page checked against the site's own HTTPS page."""

from __future__ import annotations

import copy

import pytest

from kzprobe.analysis.domains import registrable_domain, same_site
from kzprobe.analysis.facts import HopFact
from kzprobe.analysis.fingerprint_file import FingerprintError, load_fingerprints
from kzprobe.analysis.http_rules import broken_location
from support.observations import (
    ADDRESS,
    HOST,
    KZ_BLOCKPAGE,
    UNKNOWN_BLOCKPAGE,
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
EDGE = "95.56.10.20"  # a CDN's edge in Kazakhstan, which only resolvers here answer
CHALLENGE = ('<html><head><title>Just a moment...</title></head><body>'
             '<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script></body></html>')


def https(**changes) -> dict:
    obs = web()
    obs.update(changes)
    return obs


def http(**changes) -> dict:
    obs = web(scheme="http")
    obs.update(changes)
    return obs


def twin(*hops: dict, hosts: tuple[str, ...] = (HOST,)) -> dict:
    """observations.https_check: the site's own HTTPS fetch, validated for every host in `hosts`."""
    return {"url": URL, "tcp": [tcp(host=h) for h in hosts], "tls": [tls(host=h) for h in hosts],
            "http": list(hops), "redirect_dns": [dns(h) for h in hosts[1:]]}


# Geo-blocking pages of the site's own, in Russian ("access to the resource is blocked in your
# region") and Kazakh ("this page is not available in your country").
GEO_451_RU = ("<html><head><title>Доступ к ресурсу заблокирован</title></head><body><h1>Доступ к ресурсу "
              "заблокирован</h1><p>Сайт недоступен в вашем регионе.</p></body></html>")
GEO_451_KK = ("<html><head><title>Қолжетімсіз</title></head><body><p>Бұл бет сіздің елде қолжетімсіз.</p>"
              "</body></html>")
GEO_PAGE = "https://geo.cdn-news.example/blocked"
# A 451 page no fingerprint knows ("access restricted by a court's decision").
INJECTED_451 = ("<html><head><title>Доступ ограничен</title></head><body><p>По решению суда доступ ограничен.</p>"
                "</body></html>")
# F5 BIG-IP ASM's default blocking page, answered with 200.
F5_REJECTED = ("<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. Please "
               "consult with your administrator.<br><br>Your support ID is: 1234567890123456789</body></html>")
HTTPS_CONTROL = control_of(result(web()))
HTTP_CONTROL = control_of(result(web(scheme="http"), scheme="http"))
LOOP = [hop(URL, 302, location=f"https://{HOST}/a", title=None, body=""),
        hop(f"https://{HOST}/a", 302, location=URL, title=None, body="", failure="too_many_redirects")]
PLAIN_LOOP = [hop(HTTP_URL, 302, location=f"http://{HOST}/a", title=None, body=""),
              hop(f"http://{HOST}/a", 302, location=HTTP_URL, title=None, body="", failure="too_many_redirects")]
NOWHERE = [hop(URL, 302, location=URL, headers={"location": "https://"}, title=None, body="",
              failure="too_many_redirects")]
PLAIN_NOWHERE = [hop(HTTP_URL, 302, location=HTTP_URL, headers={"location": "http://"}, title=None, body="",
                     failure="too_many_redirects")]
TO_NATIONAL = [hop(HTTP_URL, 302, location=f"https://{NATIONAL}/", title=None, body=""),
               hop(f"https://{NATIONAL}/", title="Жаңалықтар - news.kz", body=article_body("Жаңалықтар"))]
NATIONAL_TLS = [tls(host=NATIONAL)]
NATIONAL_TWIN = twin(hop(URL, 302, location=f"https://{NATIONAL}/", title=None, body=""),
                     hop(f"https://{NATIONAL}/", title="Жаңалықтар - news.kz"), hosts=(HOST, NATIONAL))

ROWS = [
    # Item 6: the site refusing the vantage
    ("geo_451_over_validated_tls",
     https(http=[hop(URL, 451, title="Unavailable", body="not available in your country")]),
     "https", HTTPS_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("geo_451_over_validated_tls_without_control",
     https(http=[hop(URL, 451, title="Unavailable", body="not available in your country")]),
     "https", None, "inconclusive", None, ["http.site_refused"]),
    # An independent lab's variants (issue 22, fourth round): the site's own refusal page in Russian
    # or Kazakh, even one that says access is blocked, over validated TLS, on its own host or on its
    # CDN's domain reached by validated redirects; a 429; a 451 injected over plain HTTP while the
    # site's validated HTTPS page here is its page.
    ("geo_451_in_russian_naming_the_block_over_validated_tls",
     https(http=[hop(URL, 451, title="Доступ к ресурсу заблокирован", body=GEO_451_RU)]),
     "https", HTTPS_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("geo_451_in_kazakh_over_validated_tls_without_control",
     https(http=[hop(URL, 451, title="Қолжетімсіз", body=GEO_451_KK)]), "https", None,
     "inconclusive", None, ["http.site_refused"]),
    ("geo_451_on_the_site_s_cdn_domain_reached_by_validated_redirects",
     https(http=[hop(URL, 302, location=GEO_PAGE, title=None, body=""),
                 hop(GEO_PAGE, 451, title="Доступ к ресурсу заблокирован", body=GEO_451_RU)],
           tls=[tls(), tls(host="geo.cdn-news.example")]),
     "https", None, "inconclusive", None, ["http.site_refused"]),
    ("rate_limited_429_over_validated_tls", https(http=[hop(URL, 429, title="Too Many Requests", body="slow down")]),
     "https", HTTPS_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("rate_limited_429_over_plain_http_from_the_site_s_address",
     http(http=[hop(HTTP_URL, 429, title="Too Many Requests", body="slow down")]),
     "http", HTTP_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("injected_451_over_plain_http_while_the_https_page_is_the_site_s",
     http(http=[hop(HTTP_URL, 451, title="Доступ ограничен", body=INJECTED_451)], https_check=twin(hop(URL))),
     "http", HTTP_CONTROL, "blocked", "http", ["http.diff"]),
    ("injected_451_over_plain_http_while_the_https_page_is_the_site_s_without_control",
     http(http=[hop(HTTP_URL, 451, title="Доступ ограничен", body=INJECTED_451)], https_check=twin(hop(URL))),
     "http", None, "inconclusive", None, ["control.missing", "http.diff"]),
    ("injected_451_with_a_known_blockpage_phrase_over_plain_http",
     http(http=[hop(HTTP_URL, 451, title="Доступ ограничен", body=GEO_451_RU)], https_check=twin(hop(URL))),
     "http", None, "blocked", "http", ["http.blockpage"]),
    ("plain_451_where_the_https_page_refuses_too_is_the_site_s",
     http(http=[hop(HTTP_URL, 451, title="Доступ ограничен", body=GEO_451_RU)],
          https_check=twin(hop(URL, 451, title="Доступ ограничен", body=GEO_451_RU))),
     "http", HTTP_CONTROL, "inconclusive", None, ["http.site_refused"]),
    # Bot checks and firewalls other than Cloudflare's, over plain HTTP where the control got the page
    # (a difference would read blocked/http without their fingerprints).
    ("qrator_403_over_plain_http", http(http=[hop(HTTP_URL, 403, title="Доступ запрещён", body="<p>403</p>",
                                                  headers={"server": "QRATOR"})]),
     "http", HTTP_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("variti_429_over_plain_http", http(http=[hop(HTTP_URL, 429, title=None, body="",
                                                  headers={"server": "Variti/1.2"})]),
     "http", HTTP_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("f5_asm_rejection_answered_200_over_plain_http",
     http(http=[hop(HTTP_URL, 200, title="Request Rejected", body=F5_REJECTED)]),
     "http", HTTP_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("ddos_guard_403_over_validated_tls", https(http=[hop(URL, 403, title="DDoS-Guard", body="<p>checking</p>",
                                                          headers={"server": "ddos-guard"})]),
     "https", HTTPS_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("forbidden_over_validated_tls", https(http=[hop(URL, 403, title="Forbidden", body="denied")]),
     "https", HTTPS_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("cloudflare_challenge_header", https(http=[hop(URL, 403, title="Just a moment...", body=CHALLENGE,
                                                    headers={"cf-mitigated": "challenge", "server": "cloudflare"})]),
     "https", HTTPS_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("cloudflare_challenge_page_503_is_not_the_server_failing",
     https(http=[hop(URL, 503, title="Just a moment...", body=CHALLENGE)]), "https", None,
     "inconclusive", None, ["http.site_refused"]),
    ("challenge_over_plain_http_is_still_the_cdn",
     http(http=[hop(HTTP_URL, 403, title="Just a moment...", body=CHALLENGE)]),
     "http", HTTP_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("aws_waf_captcha_header",
     https(http=[hop(URL, 405, title=None, body="", headers={"x-amzn-waf-action": "captcha"})]),
     "https", HTTPS_CONTROL, "inconclusive", None, ["http.site_refused"]),
    ("plain_403_from_an_address_no_control_knows_stays_a_difference",
     http(dns=dns(HOST, ["10.1.2.3"]), control_dns=dns(HOST, [ADDRESS]), tcp=[tcp("10.1.2.3", port=80)],
          http=[hop(HTTP_URL, 403, address="10.1.2.3", title="403 Forbidden", body="<h1>Forbidden</h1>")]),
     "http", HTTP_CONTROL, "blocked", "dns", ["dns.bogon", "dns.inconsistent", "http.diff"]),
    ("fingerprinted_blockpage_with_status_403_stays_blocked",
     http(http=[hop(HTTP_URL, 403, title="Страница заблокирована", body=KZ_BLOCKPAGE)]), "http", HTTP_CONTROL,
     "blocked", "http", ["http.blockpage"]),
    ("control_refused_by_a_challenge_is_no_reference", http(),
     "http", control_of(result(http(http=[hop(HTTP_URL, 403, title="Just a moment...", body=CHALLENGE)]),
                               scheme="http")), "inconclusive", None, ["control.failed"]),
    # A server error over plain HTTP where the control got the page: the server's trouble (an edge of
    # its CDN failing for this region, a moment's outage) as often as a censor's, never a block; with
    # the control's error too, down; a fingerprinted blockpage answered with 503 stays blocked.
    ("plain_503_while_the_control_got_the_page",
     http(http=[hop(HTTP_URL, 503, title="503 Service Unavailable", body="<h1>503 Service Unavailable</h1>")]),
     "http", HTTP_CONTROL, "inconclusive", None, ["http.server_error"]),
    ("plain_502_while_the_https_page_errs_too",
     http(http=[hop(HTTP_URL, 502, title="502 Bad Gateway", body="<h1>502 Bad Gateway</h1>")],
          https_check=twin(hop(URL, 502, title="502 Bad Gateway", body="<h1>502 Bad Gateway</h1>"))),
     "http", HTTP_CONTROL, "inconclusive", None, ["http.server_error"]),
    ("plain_500_while_the_https_page_is_served",
     http(http=[hop(HTTP_URL, 500, title="Internal Server Error", body="<p>error</p>")], https_check=twin(hop(URL))),
     "http", HTTP_CONTROL, "inconclusive", None, ["http.server_error"]),
    ("plain_503_in_the_control_too_is_down",
     http(http=[hop(HTTP_URL, 503, title="503 Service Unavailable", body="<h1>503</h1>")]), "http",
     control_of(result(http(http=[hop(HTTP_URL, 503, title="503 Service Unavailable", body="<h1>503</h1>")]),
                       scheme="http")), "down", None, []),
    ("fingerprinted_blockpage_answered_503_stays_blocked",
     http(http=[hop(HTTP_URL, 503, title="Страница заблокирована", body=KZ_BLOCKPAGE)]), "http", HTTP_CONTROL,
     "blocked", "http", ["http.blockpage"]),
    ("plain_503_reached_by_a_redirect_the_control_did_not_take_stays_blocked",
     http(http=[hop(HTTP_URL, 302, location="http://portal.example/", title=None, body=""),
                hop("http://portal.example/", 503, title="503", body="<h1>503</h1>")]),
     "http", HTTP_CONTROL, "blocked", "http", ["http.blockpage_redirect", "http.diff"]),
    # GeoDNS: the resolver here answers a regional edge no control returned; the site's HTTPS fetch
    # validated the name there, so the answer is the site's own, and the page decides.
    ("regional_edge_proven_by_the_https_fetch_serving_a_503",
     http(dns=dns(HOST, [EDGE]), control_dns=dns(HOST, [ADDRESS]), tcp=[tcp(EDGE, port=80)],
          http=[hop(HTTP_URL, 503, address=EDGE, title="503", body="<h1>503</h1>")],
          https_check=dict(twin(hop(URL, 503, address=EDGE, title="503", body="<h1>503</h1>")),
                           tcp=[tcp(EDGE)], tls=[tls(EDGE)])),
     "http", HTTP_CONTROL, "inconclusive", None, ["http.server_error"]),
    ("regional_edge_proven_by_the_https_fetch_serving_its_page_in_kazakh",
     http(dns=dns(HOST, [EDGE]), control_dns=dns(HOST, [ADDRESS]), tcp=[tcp(EDGE, port=80)],
          http=[hop(HTTP_URL, address=EDGE, title="Жаңалықтар", body=article_body("Жаңалықтар"))],
          https_check=dict(twin(hop(URL, address=EDGE, title="Жаңалықтар", body=article_body("Жаңалықтар"))),
                           tcp=[tcp(EDGE)], tls=[tls(EDGE)])),
     "http", HTTP_CONTROL, "reachable", None, []),
    ("unproven_answer_serving_another_page_stays_blocked_at_dns",
     http(dns=dns(HOST, [EDGE]), control_dns=dns(HOST, [ADDRESS]), tcp=[tcp(EDGE, port=80)],
          http=[hop(HTTP_URL, address=EDGE, title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE)]),
     "http", HTTP_CONTROL, "blocked", "dns", ["dns.inconsistent", "http.diff"]),
    # Item 5: loops
    ("loop_over_validated_tls_only_here", https(http=LOOP), "https", HTTPS_CONTROL,
     "inconclusive", None, ["http.site_loop"]),
    ("loop_over_validated_tls_without_control", https(http=LOOP), "https", None,
     "inconclusive", None, ["http.site_loop"]),
    ("plain_http_loop_only_here_is_still_forgeable", http(http=PLAIN_LOOP), "http", HTTP_CONTROL,
     "blocked", "http", ["http.blockpage_redirect"]),
    # Issue 21: a redirect to nowhere (OONI's QA redirectWithBrokenLocation), as kzprobe's probe
    # records it: the hostless Location read as the same URL again, a loop of one hop.
    ("redirect_to_nowhere_over_validated_tls", https(http=NOWHERE), "https", HTTPS_CONTROL,
     "inconclusive", None, ["http.broken_redirect"]),
    ("plain_redirect_to_nowhere_is_no_block_either", http(http=PLAIN_NOWHERE), "http", HTTP_CONTROL,
     "inconclusive", None, ["http.broken_redirect"]),
    ("redirect_to_nowhere_without_control", http(http=PLAIN_NOWHERE), "http", None,
     "inconclusive", None, ["http.broken_redirect"]),
    ("redirect_to_nowhere_where_the_control_failed_too_is_down", http(http=PLAIN_NOWHERE), "http",
     control_of(result(http(http=[hop(HTTP_URL, None, failure="unknown_failure: bad redirect")]), scheme="http")),
     "down", None, ["http.broken_redirect"]),
    ("empty_location_leads_nowhere",
     http(http=[hop(HTTP_URL, 301, location=HTTP_URL, headers={"location": " "}, title=None, body="",
                    failure="too_many_redirects")]), "http", HTTP_CONTROL,
     "inconclusive", None, ["http.broken_redirect"]),
    # Item 5: redirects that land on validated TLS
    ("same_registrable_domain_is_the_sites_own",
     http(http=[hop(HTTP_URL, 302, location="https://m.news.example/ru/", title=None, body=""),
                hop("https://m.news.example/ru/", title="Мобильная версия")], tls=[tls(host="m.news.example")]),
     "http", HTTP_CONTROL, "reachable", None, []),
    ("national_domain_over_validated_tls_is_no_proof", http(http=TO_NATIONAL, tls=NATIONAL_TLS), "http", HTTP_CONTROL,
     "inconclusive", None, ["http.offsite_redirect", "http.diff"]),
    ("national_domain_without_control_is_no_proof", http(http=TO_NATIONAL, tls=NATIONAL_TLS), "http", None,
     "inconclusive", None, ["http.offsite_redirect"]),
    ("national_domain_the_sites_own_https_goes_to_too",
     http(http=TO_NATIONAL, tls=NATIONAL_TLS, https_check=NATIONAL_TWIN), "http", HTTP_CONTROL,
     "reachable", None, []),
    ("national_domain_the_sites_own_https_goes_to_too_without_control",
     http(http=TO_NATIONAL, tls=NATIONAL_TLS, https_check=NATIONAL_TWIN), "http", None, "reachable", None, []),
    ("off_site_redirect_to_a_plain_page_that_differs_is_blocked",
     http(http=[hop(HTTP_URL, 302, location="http://portal.example/", title=None, body=""),
                hop("http://portal.example/", title="Portal", body=UNKNOWN_BLOCKPAGE)]),
     "http", HTTP_CONTROL, "blocked", "http", ["http.blockpage_redirect", "http.diff"]),
    ("off_site_redirect_to_a_known_blockpage_over_validated_tls_stays_blocked",
     http(http=[hop(HTTP_URL, 302, location="https://portal.example/", title=None, body=""),
                hop("https://portal.example/", title="Страница заблокирована", body=KZ_BLOCKPAGE)],
          tls=[tls(host="portal.example")]),
     "http", None, "blocked", "http", ["http.blockpage_redirect", "http.blockpage"]),
    # Item 5: an http:// page against the site's own HTTPS page, without a control
    ("plain_page_same_as_its_https_page_is_reachable", http(https_check=twin(hop(URL))), "http", None,
     "reachable", None, []),
    ("plain_page_different_from_its_https_page_is_evidence",
     http(http=[hop(HTTP_URL, title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE)], https_check=twin(hop(URL))),
     "http", None, "inconclusive", None, ["control.missing", "http.diff"]),
    ("https_page_that_did_not_validate_is_no_reference",
     http(https_check=dict(twin(hop(URL)), tls=[tls(failure="ssl_unknown_authority", completed=True)])),
     "http", None, "inconclusive", None, ["control.missing"]),
    ("https_page_refused_by_its_cdn_is_no_reference",
     http(https_check=twin(hop(URL, 403, title="Just a moment...", body=CHALLENGE))), "http", None,
     "inconclusive", None, ["control.missing"]),
    ("control_page_still_decides_when_there_is_one",
     http(http=[hop(HTTP_URL, title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE)], https_check=twin(hop(URL))),
     "http", HTTP_CONTROL, "blocked", "http", ["http.diff"]),
]


@pytest.mark.parametrize("name,observations,scheme,control,verdict,blocking,evidence", ROWS, ids=[r[0] for r in ROWS])
def test_the_sites_own_doing(name, observations, scheme, control, verdict, blocking, evidence):
    got = verdict_of(result(copy.deepcopy(observations), scheme=scheme), control)
    assert (got["verdict"], got["blocking"], got["evidence"]) == (verdict, blocking, evidence), got["explanation"]


def test_a_refusal_names_who_refused():
    got = verdict_of(result(https(http=[hop(URL, 403, title="Just a moment...", body=CHALLENGE,
                                            headers={"cf-mitigated": "challenge"})])), HTTPS_CONTROL)
    assert "Cloudflare" in got["explanation"] and "not a censor" in got["explanation"]
    geo = verdict_of(result(https(http=[hop(URL, 451, title="x", body="y")])), None)
    assert "the site itself (news.example) refused this vantage" in geo["explanation"]


@pytest.mark.parametrize("location, nowhere", [
    ("http://", True), ("https://", True), ("https:///", True), ("//", True), ("", True), ("http://:80/", True),
    ("/redirect/4", False), ("https://www.example.com/", False), ("//cdn.example/x", False), ("?page=2", False),
])
def test_a_location_leads_nowhere_when_it_names_no_host(location, nowhere):
    hop_fact = HopFact(url=HTTP_URL, host=HOST, scheme="http", address=ADDRESS, status=302,
                       headers={"location": location}, location=None, body_length=0, body="", title=None,
                       truncated=False, body_read_ms=None, failure=None)
    assert (broken_location(hop_fact) is not None) is nowhere


@pytest.mark.parametrize("host, domain", [
    ("www.orda.kz", "orda.kz"), ("news.site.com.kz", "site.com.kz"), ("a.b.github.io", "b.github.io"),
    ("88.198.1.10", "88.198.1.10"), ("ORDA.KZ.", "orda.kz"), ("kz", "kz"), ("national.kzlab-kz.test", "kzlab-kz.test"),
])
def test_registrable_domain_by_the_public_suffix_list(host, domain):
    assert registrable_domain(host) == domain


def test_sites_under_a_shared_suffix_are_different_sites():
    assert same_site("www.orda.kz", "m.orda.kz") and not same_site("a.github.io", "b.github.io")
    assert not same_site("site.com.kz", "other.com.kz") and not same_site(None, "orda.kz")


REFUSAL = """format: kzprobe-fingerprints
version: 1
site_refusals:
  - id: x
    service: Example CDN
    kind: %s
    where: header:server
    match: exact
    pattern: example
    status: %s
    source: %s
"""


@pytest.mark.parametrize("kind, status, source, problem", [
    ("challenge", "[403]", "https://example.org/docs", None),
    ("maybe", "[403]", "https://example.org/docs", "'kind' must be one of"),
    ("block", "[forbidden]", "https://example.org/docs", "'status' must be a list"),
    ("block", "[403]", "a blog post", "public https:// URL"),
])
def test_a_refusal_fingerprint_needs_a_kind_statuses_and_a_public_source(kind, status, source, problem):
    text = (REFUSAL % (kind, status, source)).encode()
    if problem is None:
        assert load_fingerprints(text).refusals[0].service == "Example CDN"
    else:
        with pytest.raises(FingerprintError, match=problem):
            load_fingerprints(text)


def test_every_bundled_refusal_cites_a_public_url():
    from kzprobe.analysis.fingerprint_file import bundled_fingerprints

    services = {r.service for r in bundled_fingerprints().refusals}
    assert {"Cloudflare", "Akamai", "Imperva (Incapsula)", "Sucuri", "DDoS-Guard", "AWS WAF"} <= services
    assert all("https://" in r.page.source for r in bundled_fingerprints().refusals)
