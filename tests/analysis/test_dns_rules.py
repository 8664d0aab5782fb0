"""DNS rules (docs/methodology.md, "DNS"): one row per rule and edge, no network."""

from __future__ import annotations

import pytest

from kzprobe.analysis import analyse_scan, load_fingerprints
from kzprobe.report.scrub import SCRUBBED
from support.observations import (
    ADDRESS,
    HOST,
    KZ_BLOCKPAGE,
    QAZNET_CHAIN,
    UNKNOWN_BLOCKPAGE,
    baselines,
    control_of,
    dns,
    hop,
    https_target,
    real_chain,
    result,
    tcp,
    tls,
    verdict_of,
    web,
)

BLOCKPAGE_SERVER = "95.57.255.80"


def lied(addresses: list[str], scheme: str = "https", **kwargs) -> dict:
    """The probe's resolver answered `addresses`; the control resolver the real one."""
    obs = web(scheme=scheme)
    obs["dns"] = dns(HOST, addresses)
    obs.update(kwargs)
    return obs


def failed(failure: str, control_resolver: dict | None = None) -> dict:
    obs = {"dns": dns(HOST, failure=failure)}
    obs["control_dns"] = control_resolver if control_resolver is not None else dns(HOST, [ADDRESS], resolver="doh")
    return obs


def no_control_resolver(obs: dict) -> dict:
    obs.pop("control_dns", None)
    return obs


HEALTHY_CONTROL = control_of(result(web()))
HEALTHY_HTTP_CONTROL = control_of(result(web(scheme="http"), scheme="http"))
GONE_CONTROL = control_of(result({"dns": dns(HOST, failure="dns_nxdomain_error")}))

ROWS = [
    # Failures where a control resolves the name: blocking, by the failure's code.
    ("nxdomain_while_control_resolves", failed("dns_nxdomain_error"), HEALTHY_CONTROL,
     "blocked", "dns", ["dns.nxdomain"]),
    ("no_answer_while_control_resolves", failed("dns_no_answer"), HEALTHY_CONTROL,
     "blocked", "dns", ["dns.no_answer"]),
    ("servfail_while_control_resolves", failed("dns_servfail_error"), HEALTHY_CONTROL,
     "blocked", "dns", ["dns.servfail"]),
    ("timeout_while_control_resolves", failed("dns_timeout_error"), HEALTHY_CONTROL,
     "blocked", "dns", ["dns.timeout"]),
    ("refused_while_control_resolves", failed("dns_refused_error"), HEALTHY_CONTROL,
     "blocked", "dns", ["dns.refused"]),
    ("nxdomain_control_resolver_alone_decides", failed("dns_nxdomain_error"), None,
     "blocked", "dns", ["dns.nxdomain"]),
    # Broken everywhere: the site's problem, never blocking.
    ("nxdomain_everywhere_is_down",
     failed("dns_nxdomain_error", dns(HOST, failure="dns_nxdomain_error")), GONE_CONTROL,
     "down", None, ["dns.nxdomain"]),
    ("nxdomain_in_control_scan_only_is_down", no_control_resolver(failed("dns_nxdomain_error")), GONE_CONTROL,
     "down", None, ["dns.nxdomain"]),
    ("no_answer_everywhere_is_down", failed("dns_no_answer", dns(HOST, failure="dns_no_answer")), None,
     "down", None, ["dns.no_answer"]),
    # No control can tell.
    ("nxdomain_without_any_control", no_control_resolver(failed("dns_nxdomain_error")), None,
     "inconclusive", None, ["control.missing", "dns.nxdomain"]),
    ("nxdomain_control_resolver_unreachable",
     failed("dns_nxdomain_error", dns(HOST, failure="dns_timeout_error")), None,
     "inconclusive", None, ["control.failed", "dns.nxdomain"]),
    # Special-purpose answers.
    ("answer_loopback", lied(["127.0.0.1"], tcp=[tcp("127.0.0.1", "connection_refused")], tls=[], http=[]),
     HEALTHY_CONTROL, "blocked", "dns", ["dns.bogon", "dns.inconsistent", "tcp.refused"]),
    ("answer_private_for_http_site",
     lied(["10.10.34.35"], "http", tcp=[tcp("10.10.34.35", "generic_timeout_error", port=80)], tls=[], http=[]),
     HEALTHY_HTTP_CONTROL, "blocked", "dns", ["dns.bogon", "dns.inconsistent", "tcp.timeout"]),
    ("answer_zero_address", lied(["0.0.0.0"], tcp=[tcp("0.0.0.0", "connection_refused")], tls=[], http=[]),
     HEALTHY_CONTROL, "blocked", "dns", ["dns.bogon", "dns.inconsistent", "tcp.refused"]),
    ("bogon_is_intrinsic_without_any_control",
     no_control_resolver(lied(["127.0.0.1"], tcp=[tcp("127.0.0.1", "connection_refused")], tls=[], http=[])),
     None, "blocked", "dns", ["dns.bogon", "tcp.refused"]),
    ("loopback_here_and_for_both_controls_is_a_misconfigured_name",
     lied(["127.0.0.1"], tcp=[tcp("127.0.0.1", "connection_refused")], tls=[], http=[],
          control_dns=dns(HOST, ["127.0.0.1"], resolver="doh")),
     control_of(result({"dns": dns(HOST, ["127.0.0.1"])})), "down", None, ["dns.bogon"]),
    ("loopback_everywhere_where_something_answers_is_judged_by_what_answered",
     lied(["127.0.0.1"], tcp=[tcp("127.0.0.1")], tls=[tls("127.0.0.1")], http=[hop(address="127.0.0.1")],
          control_dns=dns(HOST, ["127.0.0.1"], resolver="doh")), None, "reachable", None, []),
    ("loopback_here_and_for_the_control_resolver_alone_is_down_too",
     lied(["127.0.0.1"], tcp=[], tls=[], http=[], control_dns=dns(HOST, ["127.0.0.1"], resolver="doh")), None,
     "down", None, ["dns.bogon"]),
    ("not_an_address_counts_as_bogon", lied(["not-an-ip"], tcp=[], tls=[], http=[]), HEALTHY_CONTROL,
     "blocked", "dns", ["dns.bogon", "dns.inconsistent"]),
    # Inconsistent answers: rescued by TLS or by the control's page, else blocking.
    ("cdn_replica_validated_by_tls",
     lied(["95.57.9.9"], tcp=[tcp("95.57.9.9")], tls=[tls("95.57.9.9")], http=[hop(address="95.57.9.9")]),
     HEALTHY_CONTROL, "reachable", None, []),
    ("replica_over_http_serving_the_control_page",
     lied(["95.57.9.9"], "http", tcp=[tcp("95.57.9.9", port=80)], tls=[],
          http=[hop(f"http://{HOST}/", address="95.57.9.9")]),
     HEALTHY_HTTP_CONTROL, "reachable", None, []),
    ("transparent_proxy_serving_another_page",
     lied(["95.57.9.9"], "http", tcp=[tcp("95.57.9.9", port=80)], tls=[],
          http=[hop(f"http://{HOST}/", address="95.57.9.9", title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE)]),
     HEALTHY_HTTP_CONTROL, "blocked", "dns", ["dns.inconsistent", "http.diff"]),
    ("inconsistent_http_answer_without_control_page",
     lied(["95.57.9.9"], "http", tcp=[tcp("95.57.9.9", port=80)], tls=[],
          http=[hop(f"http://{HOST}/", address="95.57.9.9")]),
     None, "inconclusive", None, ["control.missing", "dns.inconsistent"]),
    ("inconsistent_https_answer_that_does_not_connect",
     lied(["95.57.9.9"], tcp=[tcp("95.57.9.9", "generic_timeout_error")], tls=[], http=[]),
     HEALTHY_CONTROL, "blocked", "dns", ["dns.inconsistent", "tcp.timeout"]),
    ("inconsistent_https_answer_with_wrong_certificate",
     lied([BLOCKPAGE_SERVER], tcp=[tcp(BLOCKPAGE_SERVER)],
          tls=[tls(BLOCKPAGE_SERVER, "ssl_invalid_hostname", completed=True)], http=[]),
     HEALTHY_CONTROL, "blocked", "dns", ["dns.inconsistent", "tls.invalid_cert"]),
    ("inconsistent_answer_intercepted_with_installed_root",
     lied(["95.57.9.9"], tcp=[tcp("95.57.9.9")], http=[hop(address="95.57.9.9")],
          tls=[tls("95.57.9.9", chain=QAZNET_CHAIN)]),
     HEALTHY_CONTROL, "blocked", "dns", ["dns.inconsistent", "tls.mitm"]),
    ("blockpage_server_for_http_site",
     lied([BLOCKPAGE_SERVER], "http", tcp=[tcp(BLOCKPAGE_SERVER, port=80)], tls=[],
          http=[hop(f"http://{HOST}/", address=BLOCKPAGE_SERVER, title="Страница заблокирована", body=KZ_BLOCKPAGE)]),
     HEALTHY_HTTP_CONTROL, "blocked", "dns", ["dns.blockpage_ip", "dns.inconsistent", "http.blockpage"]),
    ("one_consistent_answer_is_enough",
     lied([ADDRESS, "127.0.0.1"], tcp=[tcp(ADDRESS), tcp("127.0.0.1", "connection_refused")]),
     HEALTHY_CONTROL, "reachable", None, []),
    # This machine's own address, scrubbed (docs/privacy.md): neither a bogon nor evidence by itself.
    ("own_address_is_not_a_bogon",
     lied([SCRUBBED], tcp=[tcp(SCRUBBED, "connection_refused")], tls=[], http=[]),
     HEALTHY_CONTROL, "blocked", "dns", ["dns.inconsistent", "tcp.refused"]),
    ("own_address_the_control_resolver_answered_too",  # a vantage hosting the target itself
     lied([SCRUBBED], control_dns=dns(HOST, [SCRUBBED], resolver="doh"), tcp=[tcp(SCRUBBED, "connection_refused")],
          tls=[], http=[]),
     None, "inconclusive", None, ["control.missing", "tcp.refused"]),
    ("own_address_validated_by_tls",
     lied([SCRUBBED], tcp=[tcp(SCRUBBED)], tls=[tls(SCRUBBED)], http=[hop(address=SCRUBBED)]),
     HEALTHY_CONTROL, "reachable", None, []),
    ("own_address_without_any_control_decides_nothing",
     no_control_resolver(lied([SCRUBBED], tcp=[tcp(SCRUBBED, "connection_refused")], tls=[], http=[])),
     None, "inconclusive", None, ["control.missing", "tcp.refused"]),
    # The name exists nowhere, yet the local resolver answers (an ISP's catch-all).
    ("ghost_answer_for_a_dead_name_is_down",
     lied(["95.57.9.9"], tcp=[tcp("95.57.9.9", "connection_refused")], tls=[], http=[],
          control_dns=dns(HOST, failure="dns_nxdomain_error")),
     GONE_CONTROL, "down", None, ["dns.nxdomain"]),
]


@pytest.mark.parametrize("name,observations,control,verdict,blocking,evidence", ROWS, ids=[r[0] for r in ROWS])
def test_dns_rule(name, observations, control, verdict, blocking, evidence):
    scheme = "http" if observations.get("http") and observations["http"][0]["url"].startswith("http:") \
        or observations.get("tcp") and observations["tcp"][0]["port"] == 80 else "https"
    got = verdict_of(result(observations, scheme=scheme), control)
    assert (got["verdict"], got["blocking"], got["evidence"]) == (verdict, blocking, evidence), got["explanation"]
    assert got["explanation"].endswith(".")


def test_private_answer_is_normal_where_the_control_also_answers_private_space():
    """An intranet (or a lab) serving the name from 10/8: another 10/8 answer is inconsistent, not a bogon."""
    obs = web(address="10.0.0.5")
    obs["dns"] = dns(HOST, ["10.0.0.66"])
    obs["tcp"] = [tcp("10.0.0.66")]
    obs["tls"] = [tls("10.0.0.66", "ssl_invalid_hostname", completed=True)]
    obs.pop("http")
    got = verdict_of(result(obs), None)
    assert (got["verdict"], got["evidence"]) == ("blocked", ["dns.inconsistent", "tls.invalid_cert"])


def test_loopback_stays_a_bogon_even_beside_a_private_control_answer():
    obs = web(address="10.0.0.5")
    obs["dns"] = dns(HOST, ["127.0.0.1"])
    obs["tcp"], obs["tls"] = [tcp("127.0.0.1", "connection_refused")], []
    obs.pop("http")
    assert verdict_of(result(obs), None)["evidence"][0] == "dns.bogon"


def test_blockpage_address_learned_from_one_name_marks_another():
    """The http name shows the blockpage; the https name pointed at the same server shows only a
    certificate error - it is recognised by the address."""
    http_site = lied([BLOCKPAGE_SERVER], "http", tcp=[tcp(BLOCKPAGE_SERVER, port=80)], tls=[],
                     http=[hop(f"http://{HOST}/", address=BLOCKPAGE_SERVER, title="x", body=KZ_BLOCKPAGE)])
    https_obs = web("other.example")
    https_obs["dns"] = dns("other.example", [BLOCKPAGE_SERVER])
    https_obs["tcp"] = [tcp(BLOCKPAGE_SERVER, host="other.example")]
    https_obs["tls"] = [tls(BLOCKPAGE_SERVER, "ssl_invalid_hostname", host="other.example", completed=True)]
    https_obs.pop("http")
    https_site = result(https_obs, ident="other", host="other.example")
    got = verdict_of(https_site, None, others=[result(http_site, ident="news-http", scheme="http")])
    assert got["evidence"] == ["dns.blockpage_ip", "dns.inconsistent", "tls.invalid_cert"]
    assert BLOCKPAGE_SERVER in got["explanation"]


def test_known_blockpage_address_from_the_fingerprint_file():
    fingerprints = load_fingerprints(
        "format: kzprobe-fingerprints\nversion: 1\nblockpage_addresses:\n"
        f"  - {{id: test-isp, address: '{BLOCKPAGE_SERVER}', source: a test}}\n")
    obs = lied([BLOCKPAGE_SERVER], tcp=[tcp(BLOCKPAGE_SERVER, "connection_refused")], tls=[], http=[])
    got = analyse_scan([*baselines(), result(obs)], HEALTHY_CONTROL, fingerprints=fingerprints).verdicts[-1]
    assert got["evidence"] == ["dns.blockpage_ip", "dns.inconsistent", "tcp.refused"]
    assert "test-isp" in got["explanation"]


def test_ip_literal_url_skips_dns():
    obs = web(address=ADDRESS)
    obs["dns"] = {"hostname": ADDRESS, "resolver": "literal", "addresses": [ADDRESS], "failure": None,
                  "queries": [], "duration_ms": 0.0}
    got = verdict_of(result(obs, url=f"https://{ADDRESS}/", host=ADDRESS), None)
    assert got["verdict"] == "reachable"


def test_explanation_cites_the_addresses_and_failure():
    got = verdict_of(result(failed("dns_nxdomain_error")), HEALTHY_CONTROL)
    assert "dns_nxdomain_error" in got["explanation"] and ADDRESS in got["explanation"]


def test_ipv6_loopback_answer_is_a_bogon():
    obs = lied(["::1"], tcp=[tcp("::1", "connection_refused")], tls=[], http=[])
    assert verdict_of(result(obs), HEALTHY_CONTROL)["evidence"][:2] == ["dns.bogon", "dns.inconsistent"]


def test_blockpage_injected_on_the_sites_own_address_teaches_no_address():
    """An on-path middlebox answering for the real address: that address is the site's, and
    another name hosted there must not be called DNS-blocked."""
    injected = web(scheme="http")
    injected["http"] = [hop(f"http://{HOST}/", title="x", body=KZ_BLOCKPAGE)]
    neighbour = web("neighbour.example", address="88.198.9.9")
    neighbour["dns"] = dns("neighbour.example", [ADDRESS])  # same server as news.example, not the control's answer
    neighbour["tcp"] = [tcp(ADDRESS, "generic_timeout_error", host="neighbour.example")]
    neighbour["tls"], neighbour["http"] = [], []
    got = verdict_of(result(neighbour, ident="neighbour", host="neighbour.example"), None,
                     others=[result(injected, scheme="http")])
    assert "dns.blockpage_ip" not in got["evidence"]


def test_the_control_scans_scrubbed_address_is_not_this_machines():
    """A "[scrubbed]" in another vantage's report is that vantage's own address: an answer of
    this machine's own address does not agree with it."""
    control = control_of(result(lied([SCRUBBED], tcp=[tcp(SCRUBBED)], tls=[tls(SCRUBBED)],
                                     http=[hop(address=SCRUBBED)])))
    obs = no_control_resolver(lied([SCRUBBED], tcp=[tcp(SCRUBBED, "generic_timeout_error")], tls=[], http=[]))
    got = verdict_of(result(obs), control)
    assert got["evidence"][0] == "dns.inconsistent"  # not "consistent": the two are different machines


# -- a redirect into a lying resolver's answer ------------------------------------------------

CDN = "cdn.example"
CDN_ADDRESS = "88.198.5.5"


def redirect_to_cdn(cdn_dns: dict, tcp_failure: str | None, *, tls_to_cdn: list[dict] | None = None,
                    last: dict | None = None) -> dict:
    cdn_address = (cdn_dns["addresses"] or [CDN_ADDRESS])[0]
    return https_target(
        http=[hop(f"https://{HOST}/", 302, location=f"https://{CDN}/", title=None, body=""),
              last or hop(f"https://{CDN}/", None, failure=tcp_failure)],
        redirect_dns=[cdn_dns],
        tcp=[tcp(), tcp(cdn_address, tcp_failure, host=CDN)],
        tls=[tls(), *(tls_to_cdn or [])],
    )


CONTROL_THROUGH_CDN = control_of(https_target(
    http=[hop(f"https://{HOST}/", 302, location=f"https://{CDN}/", title=None, body=""),
          hop(f"https://{CDN}/", address=CDN_ADDRESS)],
    redirect_dns=[dns(CDN, [CDN_ADDRESS])],
    tcp=[tcp(), tcp(CDN_ADDRESS, host=CDN)],
    tls=[tls(), tls(CDN_ADDRESS, host=CDN)],
))


@pytest.mark.parametrize("control, resolver", [(CONTROL_THROUGH_CDN, None), (None, [CDN_ADDRESS])],
                         ids=["control-scan", "control-resolver-asked-about-the-host"])
def test_redirect_to_a_host_the_resolver_sends_to_loopback_is_blocked_at_dns(control, resolver):
    target = redirect_to_cdn(dns(CDN, ["127.0.0.1"]), "connection_refused")
    if resolver is not None:
        target["observations"]["control_redirect_dns"] = [dns(CDN, resolver, resolver="https://1.1.1.1/dns-query")]
    verdict = verdict_of(target, control)
    assert (verdict["verdict"], verdict["blocking"]) == ("blocked", "dns"), verdict
    assert verdict["evidence"][0] == "dns.bogon"
    assert "127.0.0.1" in verdict["explanation"] and CDN_ADDRESS in verdict["explanation"]


@pytest.mark.parametrize("here, there", [
    (["10.1.2.3"], ["10.1.2.3"]),  # an intranet name the site's redirect leaks, private for everyone
    (["127.0.0.1"], ["127.0.0.1"]),  # a name at loopback everywhere
    (["10.1.2.3"], None),  # no control knows the host: a special-purpose answer alone proves nothing
], ids=["private-everywhere", "loopback-everywhere", "no-control-knows-the-host"])
def test_the_site_s_own_redirect_to_a_name_misconfigured_everywhere_is_never_blocked(here, there):
    """Issue 22, the lead's review: the control resolver was never asked about redirect hosts, so the
    site's own (validated) redirect to a host at a special-purpose address read blocked/dns."""
    target = redirect_to_cdn(dns(CDN, here), "generic_timeout_error")
    del target["observations"]["control_dns"]
    if there is not None:
        target["observations"]["control_redirect_dns"] = [dns(CDN, there, resolver="https://1.1.1.1/dns-query")]
    verdict = verdict_of(target)
    assert verdict["verdict"] != "blocked", verdict["explanation"]
    assert not any(code.startswith("dns.") for code in verdict["evidence"]), verdict


def test_redirect_to_a_host_the_resolver_sends_elsewhere_is_blocked_at_dns():
    # The control scan followed the same redirect and resolved cdn.example to its real address;
    # here the resolver answered another one, whose certificate is not cdn.example's.
    elsewhere = "95.57.255.80"
    target = redirect_to_cdn(dns(CDN, [elsewhere]), None, tls_to_cdn=[tls(
        elsewhere, "ssl_invalid_hostname", host=CDN, completed=True, verified=False,
        chain=real_chain("blockpage.isp.example"))])
    verdict = verdict_of(target, CONTROL_THROUGH_CDN)
    assert (verdict["verdict"], verdict["blocking"]) == ("blocked", "dns"), verdict
    assert verdict["evidence"][:1] == ["dns.inconsistent"] and "tls.invalid_cert" in verdict["evidence"]


def test_redirect_to_a_host_served_from_another_address_with_its_own_certificate_is_fine():
    replica = "95.57.7.7"
    target = redirect_to_cdn(dns(CDN, [replica]), None, tls_to_cdn=[tls(replica, host=CDN)],
                             last=hop(f"https://{CDN}/", address=replica))
    assert verdict_of(target, CONTROL_THROUGH_CDN)["verdict"] == "reachable"


def test_a_page_served_from_a_lying_answer_after_the_sites_own_redirect_is_blocked_at_dns():
    control = control_of(https_target(
        http=[hop(f"https://{HOST}/", 302, location=f"http://{CDN}/", title=None, body=""),
              hop(f"http://{CDN}/", address=CDN_ADDRESS)],
        redirect_dns=[dns(CDN, [CDN_ADDRESS])],
        tcp=[tcp(), tcp(CDN_ADDRESS, host=CDN, port=80)]))
    target = https_target(
        http=[hop(f"https://{HOST}/", 302, location=f"http://{CDN}/", title=None, body=""),
              hop(f"http://{CDN}/", address="10.1.2.3", title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE)],
        redirect_dns=[dns(CDN, ["10.1.2.3"])],
        tcp=[tcp(), tcp("10.1.2.3", host=CDN, port=80)])
    verdict = verdict_of(target, control)
    assert (verdict["verdict"], verdict["blocking"]) == ("blocked", "dns"), verdict
    assert verdict["evidence"] == ["dns.bogon", "dns.inconsistent", "http.diff"]


# -- one transparent proxy: the real page for most names, a blockpage for some ------------------
# Measured: the ISP's resolver sends every name to one proxy, which serves each site's own page
# and a fingerprinted blockpage for blk.test. With the control resolver and no control scan, the
# proxy was learned as a blockpage server and every healthy site behind it read blocked/dns.

PROXY = "95.57.9.9"


def proxied(host: str, page: dict) -> dict:
    return result({"dns": dns(host, [PROXY]), "control_dns": dns(host, ["88.198.3.1"], resolver="doh"),
                   "tcp": [tcp(PROXY, host=host, port=80)], "tls": [], "http": [page]},
                  ident=host, host=host, scheme="http")


def test_a_proxy_serving_a_sites_own_page_is_not_a_blockpage_server_for_it():
    blocked_one = proxied("blk.example", hop("http://blk.example/", address=PROXY, title="Страница заблокирована",
                                            body=KZ_BLOCKPAGE))
    healthy = proxied("tp1.example", hop("http://tp1.example/", address=PROXY, title="tp1 news of the day"))
    verdict = verdict_of(healthy, None, others=[blocked_one])
    assert verdict["verdict"] == "inconclusive", verdict
    assert "dns.blockpage_ip" not in verdict["evidence"]
    assert verdict_of(blocked_one, None, others=[healthy])["verdict"] == "blocked"


def test_a_learned_blockpage_server_still_betrays_an_https_name_it_cannot_serve():
    blocked_one = proxied("blk.example", hop("http://blk.example/", address=PROXY, title="Страница заблокирована",
                                            body=KZ_BLOCKPAGE))
    https_one = result({"dns": dns("s.example", [PROXY]), "control_dns": dns("s.example", ["88.198.3.4"]),
                        "tcp": [tcp(PROXY, host="s.example")],
                        "tls": [tls(PROXY, "ssl_invalid_hostname", host="s.example", completed=True, verified=False,
                                    chain=real_chain("blockpage.isp.example"))], "http": []},
                       ident="s", host="s.example")
    verdict = verdict_of(https_one, None, others=[blocked_one])
    assert (verdict["verdict"], verdict["blocking"]) == ("blocked", "dns")
    assert verdict["evidence"][0] == "dns.blockpage_ip"


@pytest.mark.parametrize("resolver, local", [
    ("system (192.168.1.1)", True),  # a home router: its filter or the ISP's behind it
    ("system (127.0.0.53)", True),  # a stub on this machine
    ("95.56.237.1:53", False),  # the ISP's resolver asked directly
], ids=["home-router", "local-stub", "isp-resolver"])
def test_a_zero_address_answer_stays_blocked_and_says_a_local_filter_answers_so_too(resolver, local):
    """The lead's review (issue 22, fourth round): with --control-resolver none, a home DNS filter
    answering 0.0.0.0 reads blocked/dns, as the ISP's lie would: the answer is a lie for the users of
    this network either way. Deliberate; the explanation says how to tell whose it is."""
    obs = web()
    obs["dns"] = dns(HOST, ["0.0.0.0"], resolver=resolver)
    del obs["control_dns"]
    obs["tcp"] = [tcp("0.0.0.0", "connection_refused")]
    obs["tls"], obs["http"] = [], []
    got = verdict_of(result(obs))
    assert (got["verdict"], got["blocking"], got["evidence"][0]) == ("blocked", "dns", "dns.bogon")
    assert ("--resolver set to the ISP's own resolver" in got["explanation"]) is local
