"""TCP, TLS and HTTP rules (docs/methodology.md): one row per rule and edge, with and without a
control scan. The probe's observations are built from a healthy target and changed by one step."""

from __future__ import annotations

import copy

import pytest

from support.observations import (
    ADDRESS,
    HOST,
    HTTP_URL,
    KZ_BLOCKPAGE,
    QAZNET_CHAIN,
    UNKNOWN_BLOCKPAGE,
    add_split,
    article_body,
    control_of,
    dns,
    hop,
    http_target,
    https_target,
    real_chain,
    result,
    tcp,
    tls,
    verdict_of,
    web,
)

HTTPS_CONTROL = control_of(result(web()))
HTTP_CONTROL = control_of(result(web(scheme="http"), scheme="http"))
HTTPS_REDIRECT_CONTROL = control_of(result(dict(web(), http=[
    hop(f"http://{HOST}/", 301, location=f"https://{HOST}/", title=None, body=""), hop()]), scheme="http"))


def https(**changes) -> dict:
    obs = web()
    obs.update(changes)
    return obs


def http(**changes) -> dict:
    obs = web(scheme="http")
    obs.update(changes)
    return obs


def tls_failed(failure: str, **kwargs) -> dict:
    return https(tls=[tls(failure=failure, **kwargs)], http=[])


def sni_split(failure: str, neutral_failure: str | None = None) -> dict:
    """The real name failed after the ClientHello; the neutral retry to the same address passed
    (or failed with `neutral_failure`)."""
    return add_split(https(tcp=[tcp()], tls=[tls(failure=failure)], http=[]), again=failure,
                     neutral_failure=neutral_failure)


def self_signed() -> list[dict]:
    return [{"subject": f"CN={HOST}", "issuer": f"CN={HOST}", "sans": [], "not_before": "", "not_after": "",
             "sha256": "cd" * 32}]


def national_ca() -> list[dict]:
    return [{"subject": f"CN={HOST}", "issuer": "C=KZ,CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)", "sans": [],
             "not_before": "", "not_after": "", "sha256": "ef" * 32}]


def unknown_ca() -> list[dict]:
    """An untrusted issuer, its intermediate sent, no root: a missing root or a missing intermediate."""
    return [{"subject": f"CN={HOST}", "issuer": "CN=Corporate Gateway CA,O=Some ISP", "sans": [],
             "not_before": "", "not_after": "", "sha256": "ee" * 32},
            {"subject": "CN=Corporate Gateway CA,O=Some ISP", "issuer": "CN=Corporate Root,O=Some ISP", "sans": [],
             "not_before": "", "not_after": "", "sha256": "e1" * 32}]


def redirected_to(location: str, status: int = 302) -> dict:
    return hop(f"http://{HOST}/", status, location=location, title=None, body="")


def control_with(obs: dict, scheme: str = "https") -> dict:
    return control_of(result(obs, scheme=scheme))


ROWS = [
    # TCP
    ("tcp_timeout_where_control_connects", "https",
     https(tcp=[tcp(failure="generic_timeout_error")], tls=[], http=[]), HTTPS_CONTROL,
     "blocked", "tcp", ["tcp.timeout"]),
    ("tcp_refused_where_control_connects", "https",
     https(tcp=[tcp(failure="connection_refused")], tls=[], http=[]), HTTPS_CONTROL,
     "blocked", "tcp", ["tcp.refused"]),
    ("tcp_refused_in_control_too_is_down", "https",
     https(tcp=[tcp(failure="connection_refused")], tls=[], http=[]),
     control_with(https(tcp=[tcp(failure="connection_refused")], tls=[], http=[])),
     "down", None, ["tcp.refused"]),
    ("tcp_timeout_without_control", "https",
     https(tcp=[tcp(failure="generic_timeout_error")], tls=[], http=[]), None,
     "inconclusive", None, ["control.missing", "tcp.timeout"]),
    ("tcp_one_address_works_is_not_blocked", "https",
     https(dns=dns(HOST, [ADDRESS, "88.198.1.11"]), tcp=[tcp(), tcp("88.198.1.11", "generic_timeout_error")]),
     HTTPS_CONTROL, "reachable", None, []),
    ("ipv6_unreachable_on_the_vantage_is_ignored", "https",
     https(dns=dns(HOST, [ADDRESS, "2a01:4f8::10"]), tcp=[tcp(), tcp("2a01:4f8::10", "network_unreachable")]),
     HTTPS_CONTROL, "reachable", None, []),
    ("ipv6_only_name_on_ipv4_only_vantage", "https",
     https(dns=dns(HOST, ["2a01:4f8::10"]), control_dns=dns(HOST, ["2a01:4f8::10"]),
           tcp=[tcp("2a01:4f8::10", "network_unreachable")], tls=[], http=[]),
     None, "inconclusive", None, ["connectivity.offline"]),
    ("ipv4_host_unreachable_is_a_rejection", "https",
     https(tcp=[tcp(failure="host_unreachable")], tls=[], http=[]), HTTPS_CONTROL,
     "blocked", "tcp", ["tcp.refused"]),
    ("control_failed_before_tcp", "https",
     https(tcp=[tcp(failure="generic_timeout_error")], tls=[], http=[]),
     control_with({"dns": dns(HOST, failure="dns_timeout_error")}),
     "inconclusive", None, ["control.failed", "tcp.timeout"]),
    # TLS: with a control
    ("tls_reset_where_control_completes", "https", tls_failed("connection_reset"), HTTPS_CONTROL,
     "blocked", "tls", ["tls.reset"]),
    ("tls_eof_where_control_completes", "https", tls_failed("eof_error"), HTTPS_CONTROL,
     "blocked", "tls", ["tls.eof"]),
    ("tls_timeout_where_control_completes", "https", tls_failed("generic_timeout_error"), HTTPS_CONTROL,
     "blocked", "tls", ["tls.timeout"]),
    ("tls_alert_where_control_completes", "https", tls_failed("ssl_failed_handshake"), HTTPS_CONTROL,
     "blocked", "tls", ["tls.reset"]),
    ("tls_reset_in_control_too_is_down", "https", tls_failed("connection_reset"),
     control_with(tls_failed("connection_reset")), "down", None, ["tls.reset"]),
    # TLS: intrinsic signatures without a control
    ("tls_reset_after_clienthello_without_control", "https", sni_split("connection_reset"), None,
     "blocked", "tls", ["tls.reset", "tls.sni_filter"]),
    ("tls_eof_after_clienthello_without_control", "https", sni_split("eof_error"), None,
     "blocked", "tls", ["tls.eof", "tls.sni_filter"]),
    ("tls_silence_after_clienthello_without_control", "https", sni_split("generic_timeout_error"), None,
     "blocked", "tls", ["tls.timeout", "tls.sni_filter"]),
    ("tls_reset_when_control_failed_earlier", "https", sni_split("connection_reset"),
     control_with(https(tcp=[tcp(failure="generic_timeout_error")], tls=[], http=[])),
     "blocked", "tls", ["tls.reset", "tls.sni_filter"]),
    ("tls_alert_without_control_is_not_a_signature", "https", tls_failed("ssl_failed_handshake"), None,
     "inconclusive", None, ["control.missing", "tls.reset"]),
    ("tls_one_address_validates_is_not_blocked", "https",
     https(dns=dns(HOST, [ADDRESS, "88.198.1.11"]), tcp=[tcp(), tcp("88.198.1.11")],
           tls=[tls(), tls("88.198.1.11", "connection_reset")]), None, "reachable", None, []),
    # TLS: certificates
    ("tls_qaznet_interception", "https",
     tls_failed("ssl_unknown_authority", completed=True, chain=QAZNET_CHAIN), HTTPS_CONTROL,
     "blocked", "tls", ["tls.mitm"]),
    ("tls_qaznet_interception_without_control", "https",
     tls_failed("ssl_unknown_authority", completed=True, chain=QAZNET_CHAIN), None,
     "blocked", "tls", ["tls.mitm"]),
    ("tls_qaznet_root_installed_still_interception", "https",
     https(tls=[tls(chain=QAZNET_CHAIN)]), None, "blocked", "tls", ["tls.mitm"]),
    ("tls_interception_known_by_hash", "https",
     tls_failed("ssl_unknown_authority", completed=True, chain=[dict(real_chain()[0], issuer="CN=x", sha256=(
         "00309c736dd661da6f1eb24173aa849944c168a43a15bffd192eecfdb6f8dbd2"))]), None,
     "blocked", "tls", ["tls.mitm"]),
    ("tls_untrusted_issuer_without_control", "https",
     tls_failed("ssl_unknown_authority", completed=True, chain=unknown_ca()), None,
     "inconclusive", None, ["control.missing", "tls.chain_incomplete"]),
    ("tls_untrusted_issuer_where_control_validates", "https",
     tls_failed("ssl_unknown_authority", completed=True, chain=unknown_ca()), HTTPS_CONTROL,
     "blocked", "tls", ["tls.mitm"]),
    ("tls_self_signed_without_control", "https",
     tls_failed("ssl_unknown_authority", completed=True, chain=self_signed()), None,
     "inconclusive", None, ["control.missing", "tls.invalid_cert"]),
    ("tls_national_ca_without_control", "https",
     tls_failed("ssl_unknown_authority", completed=True, chain=national_ca()), None,
     "inconclusive", None, ["control.missing", "tls.invalid_cert"]),
    ("tls_wrong_name_where_control_validates", "https",
     tls_failed("ssl_invalid_hostname", completed=True,
                chain=[dict(real_chain("elsewhere.example")[0], sha256="c1" * 32)]),
     HTTPS_CONTROL,
     "blocked", "tls", ["tls.invalid_cert"]),
    ("tls_expired_everywhere_is_down", "https", tls_failed("ssl_invalid_certificate", completed=True),
     control_with(tls_failed("ssl_invalid_certificate", completed=True)), "down", None, ["tls.invalid_cert"]),
    # HTTP: failures
    ("http_reset_after_request_where_control_fetches", "http",
     http(http=[hop(f"http://{HOST}/", None, failure="connection_reset")]), HTTP_CONTROL,
     "blocked", "http", ["http.reset"]),
    ("http_reset_in_control_too_is_down", "http",
     http(http=[hop(f"http://{HOST}/", None, failure="connection_reset")]),
     control_with(http(http=[hop(f"http://{HOST}/", None, failure="connection_reset")]), "http"),
     "down", None, ["http.reset"]),
    ("http_reset_without_control", "http",
     http(http=[hop(f"http://{HOST}/", None, failure="connection_reset")]), None,
     "inconclusive", None, ["control.missing", "http.reset"]),
    ("http_eof_where_control_fetches", "http",
     http(http=[hop(f"http://{HOST}/", None, failure="eof_error")]), HTTP_CONTROL, "blocked", "http", ["http.eof"]),
    ("http_timeout_where_control_fetches", "http",
     http(http=[hop(f"http://{HOST}/", None, failure="generic_timeout_error")]), HTTP_CONTROL,
     "blocked", "http", ["http.timeout"]),
    ("http_page_stalls_midway_where_control_fetches", "http",
     http(http=[hop(f"http://{HOST}/", failure="generic_timeout_error", body_length=4000)]), HTTP_CONTROL,
     "throttled", None, ["throughput.stall"]),
    ("page_stalls_with_a_body_recorded_only_as_cut_short_where_control_fetches", "http",
     http(http=[hop(f"http://{HOST}/", title=None, body="", failure="generic_timeout_error", truncated=True)]),
     HTTP_CONTROL, "throttled", None, ["throughput.stall"]),
    ("headers_then_nothing_where_control_fetches_stays_a_timeout", "http",
     http(http=[hop(f"http://{HOST}/", title=None, body="", failure="generic_timeout_error")]), HTTP_CONTROL,
     "blocked", "http", ["http.timeout"]),
    ("redirect_loop_where_control_fetches", "http",
     http(http=[redirected_to(f"http://{HOST}/a"), hop(f"http://{HOST}/a", 302, location=f"http://{HOST}/",
                                                       title=None, body="", failure="too_many_redirects")]),
     HTTP_CONTROL, "blocked", "http", ["http.blockpage_redirect"]),
    # HTTP: redirects into a block
    ("redirect_then_tls_reset_on_the_new_host", "http",
     http(http=[redirected_to("https://www.news.example/"), hop("https://www.news.example/", None,
                                                                failure="connection_reset")],
          tcp=[tcp(port=80), tcp(host="www.news.example")],
          tls=[tls(failure="connection_reset", host="www.news.example")]),
     HTTP_CONTROL, "blocked", "tls", ["tls.reset"]),
    ("redirect_then_nxdomain_on_the_new_host", "http",
     http(http=[redirected_to("https://cdn.example/"), hop("https://cdn.example/", None, failure="dns_nxdomain_error")],
          redirect_dns=[dns("cdn.example", failure="dns_nxdomain_error")]),
     HTTP_CONTROL, "blocked", "dns", ["dns.nxdomain"]),
    ("redirect_then_tcp_timeout_on_the_new_host", "http",
     http(http=[redirected_to("https://cdn.example/"),
                hop("https://cdn.example/", None, failure="generic_timeout_error")],
          redirect_dns=[dns("cdn.example", ["88.198.5.5"])],
          tcp=[tcp(port=80), tcp("88.198.5.5", "generic_timeout_error", host="cdn.example")]),
     HTTP_CONTROL, "blocked", "tcp", ["tcp.timeout"]),
    ("redirect_to_a_fingerprinted_blockpage", "http",
     http(http=[redirected_to("http://blockpage.isp.example/?host=news.example"),
                hop("http://blockpage.isp.example/?host=news.example", address="95.57.255.80",
                    title="Страница заблокирована", body=KZ_BLOCKPAGE)]),
     HTTP_CONTROL, "blocked", "http", ["http.blockpage_redirect", "http.blockpage"]),
    ("redirect_to_an_unknown_page_off_site", "http",
     http(http=[redirected_to("http://notice.isp.example/"),
                hop("http://notice.isp.example/", address="95.57.255.81", title="Qazline: ескерту",
                    body=UNKNOWN_BLOCKPAGE)]),
     HTTP_CONTROL, "blocked", "http", ["http.blockpage_redirect", "http.diff"]),
    ("redirect_within_the_site_to_a_blockpage", "http",
     http(http=[redirected_to(f"http://{HOST}/blocked.html"),
                hop(f"http://{HOST}/blocked.html", title="Страница заблокирована", body=KZ_BLOCKPAGE)]),
     HTTP_CONTROL, "blocked", "http", ["http.blockpage_redirect", "http.blockpage"]),
    ("redirect_within_the_site_to_another_page", "http",
     http(http=[redirected_to(f"http://{HOST}/notice"),
                hop(f"http://{HOST}/notice", title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE)]),
     HTTP_CONTROL, "blocked", "http", ["http.blockpage_redirect", "http.diff"]),
    ("regional_redirect_within_the_site_same_page", "http",
     http(http=[redirected_to(f"http://{HOST}/kz/"), hop(f"http://{HOST}/kz/")]),
     HTTP_CONTROL, "reachable", None, []),
    ("redirect_to_known_certificate_install_page", "http",
     http(http=[redirected_to("http://qca.kz/install"), hop("http://qca.kz/install", address="95.57.1.1",
                                                            title="Install", body="install the certificate")]),
     None, "blocked", "http", ["http.blockpage_redirect"]),
    ("healthy_redirect_http_to_https", "http",
     http(http=[redirected_to(f"https://{HOST}/", 301), hop()], tls=[tls()]),
     HTTPS_REDIRECT_CONTROL, "reachable", None, []),
    ("healthy_redirect_http_to_https_without_control", "http",
     http(http=[redirected_to(f"https://{HOST}/", 301), hop()], tls=[tls()]),
     None, "reachable", None, []),
    ("redirect_off_site_to_https_without_control", "http",
     http(http=[redirected_to("https://elsewhere.example/"), hop("https://elsewhere.example/")],
          tls=[tls(host="elsewhere.example")]),
     None, "inconclusive", None, ["http.offsite_redirect"]),
    # HTTP: pages
    ("fingerprinted_blockpage", "http",
     http(http=[hop(f"http://{HOST}/", title="Страница заблокирована", body=KZ_BLOCKPAGE)]), HTTP_CONTROL,
     "blocked", "http", ["http.blockpage"]),
    ("fingerprinted_blockpage_without_control", "http",
     http(http=[hop(f"http://{HOST}/", title="Страница заблокирована", body=KZ_BLOCKPAGE)]), None,
     "blocked", "http", ["http.blockpage"]),
    ("blockpage_words_in_the_sites_own_article", "http",
     http(http=[hop(f"http://{HOST}/", body=article_body(extra="<p>Страница заблокирована</p>"))]),
     control_with(http(http=[hop(f"http://{HOST}/", body=article_body(extra="<p>Страница заблокирована</p>"))]),
                  "http"),
     "reachable", None, []),
    ("blockpage_words_on_a_validated_https_page", "https",
     https(http=[hop(body=article_body(extra="<p>Страница заблокирована</p>"))]), None, "reachable", None, []),
    ("unknown_blockpage_only_the_control_reveals", "http",
     http(http=[hop(f"http://{HOST}/", title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE)]), HTTP_CONTROL,
     "blocked", "http", ["http.diff"]),
    ("unknown_blockpage_without_control", "http",
     http(http=[hop(f"http://{HOST}/", title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE)]), None,
     "inconclusive", None, ["control.missing"]),
    ("plain_http_page_without_control", "http", http(), None, "inconclusive", None, ["control.missing"]),
    ("page_that_changes_on_every_request", "http",
     http(http=[hop(f"http://{HOST}/",
                    body=article_body(paragraphs=25, extra="<aside>token 8f3a Updated 10:01</aside>"))]),
     HTTP_CONTROL, "reachable", None, []),
    ("status_forbidden_where_control_gets_the_page", "http",
     http(http=[hop(f"http://{HOST}/", 403, title="403 Forbidden", body="<h1>Forbidden</h1>")]), HTTP_CONTROL,
     "inconclusive", None, ["http.site_refused"]),
    ("control_page_was_an_error", "http", http(),
     control_with(http(http=[hop(f"http://{HOST}/", 503, title="Service Unavailable", body="busy")]), "http"),
     "inconclusive", None, ["control.failed"]),
    ("server_error_everywhere_is_down", "http",
     http(http=[hop(f"http://{HOST}/", 502, title="Bad Gateway", body="bad gateway")]),
     control_with(http(http=[hop(f"http://{HOST}/", 502, title="Bad Gateway", body="bad gateway")]), "http"),
     "down", None, []),
    ("server_error_over_validated_tls_without_control", "https",
     https(http=[hop(status=503, title="Service Unavailable", body="busy")]), None, "down", None, []),
    ("proxy_error_page_for_a_site_down_everywhere", "http",
     http(http=[hop(f"http://{HOST}/", 502, title="502 Bad Gateway", body="squid", headers={"via": "isp-proxy"})]),
     control_with(http(tcp=[tcp(failure="connection_refused", port=80)], http=[]), "http"), "down", None, []),
    ("proxy_page_for_a_site_the_control_cannot_reach", "http", http(),
     control_with(http(tcp=[tcp(failure="connection_refused", port=80)], http=[]), "http"),
     "inconclusive", None, ["control.failed"]),
    ("transparent_proxy_on_path_relaying_the_page", "http",
     http(http=[hop(f"http://{HOST}/", headers={"via": "1.1 isp-proxy", "x-cache": "HIT", "server": "squid"})]),
     HTTP_CONTROL, "reachable", None, []),
]


@pytest.mark.parametrize("name,scheme,observations,control,verdict,blocking,evidence", ROWS, ids=[r[0] for r in ROWS])
def test_layer_rule(name, scheme, observations, control, verdict, blocking, evidence):
    got = verdict_of(result(copy.deepcopy(observations), scheme=scheme), control)
    assert (got["verdict"], got["blocking"], got["evidence"]) == (verdict, blocking, evidence), got["explanation"]
    assert got["explanation"] and got["explanation"].endswith(".")


def test_tls_explanation_names_address_failure_and_what_the_control_did():
    got = verdict_of(result(tls_failed("connection_reset")), HTTPS_CONTROL)
    assert ADDRESS in got["explanation"] and "connection_reset" in got["explanation"]
    assert "control" in got["explanation"]


def test_interception_explanation_names_the_authority():
    got = verdict_of(result(tls_failed("ssl_unknown_authority", completed=True, chain=QAZNET_CHAIN)), None)
    assert "kz-" in got["explanation"] and "Security Certificate" in got["explanation"]


def test_idn_host_matches_its_punycode_observations():
    puny = "пример.example".encode("idna").decode()  # xn--e1afmkfd.example
    obs = web(puny)
    got = verdict_of(result(obs, url="https://пример.example/", host=puny), control_of(result(web(puny), host=puny)))
    assert got["verdict"] == "reachable"
    obs = web(puny)
    obs["tls"] = [tls(failure="connection_reset", host=puny)]
    add_split(obs, again="connection_reset", host=puny)
    obs.pop("http")
    got = verdict_of(result(obs, url="https://ПРИМЕР.example/", host=puny), None)
    assert (got["verdict"], got["blocking"]) == ("blocked", "tls")


def test_redirect_to_a_blockpage_destination_over_validated_tls_is_the_sites_own():
    """Only a forgeable (plain-HTTP) redirect can be a censor's; a validated one is the site's."""
    obs = https(http=[hop(f"https://{HOST}/", 302, location="https://qca.kz/", title=None, body=""),
                      hop("https://qca.kz/", title="QCA", body="<p>qca</p>")],
                tls=[tls(), tls(host="qca.kz")])
    got = verdict_of(result(obs), None)
    assert "http.blockpage_redirect" not in got["evidence"]


# -- http -> https on the same host, port 443 cut ------------------------------------------------

def test_port_443_refused_after_a_redirect_to_https_is_blocked_at_tcp():
    target = http_target(
        http=[hop(HTTP_URL, 301, location=f"https://{HOST}/", title=None, body=""),
              hop(f"https://{HOST}/", None, failure="connection_refused")],
        tcp=[tcp(port=80), tcp(failure="connection_refused", port=443)],
        tls=[],
    )
    control = control_of(http_target(
        http=[hop(HTTP_URL, 301, location=f"https://{HOST}/", title=None, body=""), hop()],
        tcp=[tcp(port=80), tcp(port=443)], tls=[tls()]))
    verdict = verdict_of(target, control)
    found = (verdict["verdict"], verdict["blocking"], verdict["evidence"])
    assert found == ("blocked", "tcp", ["tcp.refused"]), verdict


def test_a_censors_redirect_to_its_warning_server_on_a_private_address_stays_an_http_block():
    # The redirect is the censor's (plain HTTP, the control's chain never took it): its server's
    # private address is where the ISP keeps it, not a lie about a name.
    warning = "warning.isp.example"
    target = http_target(
        http=[hop(HTTP_URL, 302, location=f"http://{warning}/", title=None, body=""),
              hop(f"http://{warning}/", address="10.10.10.10", title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE)],
        redirect_dns=[dns(warning, ["10.10.10.10"])],
        tcp=[tcp(port=80), tcp("10.10.10.10", host=warning, port=80)],
    )
    verdict = verdict_of(target, control_of(http_target()))
    assert (verdict["verdict"], verdict["blocking"]) == ("blocked", "http"), verdict
    assert verdict["evidence"] == ["http.blockpage_redirect", "http.diff"]


# -- a slow path near the timeout, without a control scan --------------------------------------

def tls_silence(tcp_ms: float, tls_ms: float = 1000.0) -> dict:
    connect = dict(tcp(), duration_ms=tcp_ms)
    handshake = dict(tls(failure="generic_timeout_error"), duration_ms=tls_ms)
    return https_target(tcp=[connect], tls=[handshake], http=[])


def test_a_handshake_late_on_a_path_as_slow_as_the_timeout_is_not_called_sni_filtering():
    # TCP took 0.8 s of a 1 s timeout: a TLS handshake needs about as long again, so its
    # silence is no sign of a middlebox.
    verdict = verdict_of(tls_silence(tcp_ms=800.0))
    assert verdict["verdict"] == "inconclusive", verdict
    assert verdict["evidence"] == ["control.missing", "tls.timeout"]


def test_a_handshake_silent_on_a_fast_path_is_still_sni_filtering():
    target = tls_silence(tcp_ms=40.0, tls_ms=10_000.0)
    # The same address answered a neutral name; the real name was silenced again.
    add_split(target["observations"], again="generic_timeout_error")
    verdict = verdict_of(target)
    assert (verdict["verdict"], verdict["blocking"], verdict["evidence"]) == (
        "blocked", "tls", ["tls.timeout", "tls.sni_filter"])


# -- a slow site right at the timeout, with a control scan ------------------------------------
# Measured: 20 sites answering after 0.99-1.0 s, scanned with --timeout 1 inside and outside:
# 3 of 20 read "blocked/http (http.timeout)" whenever the control's request won the race.

def _timed(observation: dict, **timings) -> dict:
    return dict(observation, timings=dict(observation["timings"], **timings))


def test_a_request_timing_out_where_the_control_also_needed_as_long_is_not_blocked():
    late = _timed(hop(f"https://{HOST}/", None, failure="generic_timeout_error"), total_ms=1017.0, first_byte_ms=None)
    control = control_of(https_target(http=[_timed(hop(), first_byte_ms=1018.5, total_ms=1022.2)]))
    verdict = verdict_of(https_target(http=[late]), control)
    assert verdict["verdict"] == "inconclusive", verdict
    assert verdict["evidence"][0] == "http.timeout"
    assert "1,018 ms" in verdict["explanation"]


def test_a_request_timing_out_where_the_control_answered_at_once_is_blocked():
    late = _timed(hop(f"https://{HOST}/", None, failure="generic_timeout_error"), total_ms=10_000.0, first_byte_ms=None)
    control = control_of(https_target(http=[_timed(hop(), first_byte_ms=80.0, total_ms=95.0)]))
    verdict = verdict_of(https_target(http=[late]), control)
    assert (verdict["verdict"], verdict["blocking"], verdict["evidence"]) == ("blocked", "http", ["http.timeout"])


def test_a_connect_timing_out_where_the_control_needed_as_long_is_not_blocked():
    ours = dict(tcp(failure="generic_timeout_error"), duration_ms=1000.0)
    control = control_of(https_target(tcp=[dict(tcp(), duration_ms=900.0)]))
    verdict = verdict_of(https_target(tcp=[ours], tls=[], http=[]), control)
    assert verdict["verdict"] == "inconclusive", verdict
    assert verdict["evidence"][0] == "tcp.timeout"


def test_a_handshake_timing_out_where_the_control_needed_as_long_is_not_blocked():
    ours = dict(tls(failure="generic_timeout_error"), duration_ms=1000.0)
    control = control_of(https_target(tls=[dict(tls(), duration_ms=950.0)]))
    verdict = verdict_of(https_target(tls=[ours], http=[]), control)
    assert verdict["verdict"] == "inconclusive", verdict
    assert verdict["evidence"][0] == "tls.timeout"


# -- a redirect loop everywhere ---------------------------------------------------------------------

def looping() -> dict:
    hops = [hop(f"http://{HOST}/{i}", 302, location=f"http://{HOST}/{i + 1}", title=None, body="") for i in range(11)]
    hops[-1]["failure"] = "too_many_redirects"
    return http_target(http=hops)


def test_a_site_that_redirects_forever_from_the_control_too_is_down():
    verdict = verdict_of(looping(), control_of(looping()))
    assert verdict["verdict"] == "down", verdict
    assert "kept redirecting" in verdict["explanation"]


def test_a_request_failing_here_while_the_controls_server_answered_503_is_down():
    failing = http_target(http=[hop(HTTP_URL, None, failure="connection_reset")])
    overloaded = http_target(http=[hop(HTTP_URL, 503, title="503 Service Temporarily Unavailable")])
    verdict = verdict_of(failing, control_of(overloaded))
    assert verdict["verdict"] == "down", verdict
