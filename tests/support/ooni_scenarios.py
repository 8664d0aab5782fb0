"""One OONI measurement per scenario, with the verdict kzprobe must give and why.

The verdicts follow docs/methodology.md and docs/messengers.md applied to what each
measurement recorded, with OONI's test helper as the control; OONI's own verdict for the same
measurement is given beside it (test_keys.blocking, or the messenger's status keys).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from support.ooni_measurements import (
    BOGON,
    CLASSIC,
    ELSEWHERE,
    ORDA,
    certificate,
    connect,
    control,
    handshake,
    measurement,
    query,
    request,
    web_keys,
)

ORDA_URL = "https://orda.kz/"
CA_NEWS_URL = "http://ca-news.org/"
CA_NEWS = "185.98.5.10"
CA_NEWS_PAGE = ("<html><head><title>CA-News: новости Центральной Азии</title></head><body>"
                + "<p>Новости Казахстана, Кыргызстана, Таджикистана и Узбекистана.</p>" * 30 + "</body></html>")
BLOCKPAGE = ("<html><head><title>Страница заблокирована</title></head><body><h1>Страница заблокирована</h1>"
             "<p>Доступ к ресурсу ограничен по решению уполномоченного органа.</p></body></html>")


def _tagged(depth: int = 0, fetch_body: bool = True) -> list[str]:
    return ["classic", "tcptls_experiment", f"depth={depth}", f"fetch_body={'true' if fetch_body else 'false'}"]


def _ca_news_control(**kwargs: Any) -> dict:
    return control([CA_NEWS], {f"{CA_NEWS}:80": None}, title="CA-News: новости Центральной Азии",
                   length=len(CA_NEWS_PAGE.encode()), **kwargs)


def accessible_05() -> dict:
    keys = web_keys(
        queries=[query("orda.kz", [ORDA], engine="getaddrinfo", qtype="ANY", tags=["classic", "depth=0"], tid=10001),
                 query("orda.kz", [ORDA], engine="doh", tags=["depth=0"], tid=30001,
                       resolver="https://dns.google/dns-query")],
        tcp=[connect(ORDA, 443, tags=CLASSIC, tid=50001)],
        tls=[handshake(f"{ORDA}:443", "orda.kz", certs=[certificate("orda.kz", "R3")], tags=CLASSIC, tid=50001)],
        requests=[request(ORDA_URL, address=f"{ORDA}:443", tags=CLASSIC, tid=50001)],
        control_data=control([ORDA], {f"{ORDA}:443": None}, tls={f"{ORDA}:443": None}),
        blocking=False, accessible=True)
    return measurement("web_connectivity", keys, input=ORDA_URL, version="0.5.28")


def dns_nxdomain_04() -> dict:
    keys = web_keys(
        queries=[query("orda.kz", [], failure="dns_nxdomain_error"),
                 query("orda.kz", [], qtype="AAAA", failure="dns_nxdomain_error")],
        tcp=[], tls=[], requests=[request(ORDA_URL, code=0, failure="dns_nxdomain_error")],
        control_data=control([ORDA], {f"{ORDA}:443": None}), blocking="dns", accessible=False,
        dns_experiment_failure="dns_nxdomain_error", dns_consistency="inconsistent")
    return measurement("web_connectivity", keys, input=ORDA_URL)


def dns_bogon_05() -> dict:
    keys = web_keys(
        queries=[query("orda.kz", [BOGON], engine="getaddrinfo", qtype="ANY", tags=["classic", "depth=0"], tid=10001)],
        tcp=[connect(BOGON, 443, "generic_timeout_error", tags=CLASSIC, tid=50001)], tls=[], requests=[],
        control_data=control([ORDA], {f"{BOGON}:443": "generic_timeout_error", f"{ORDA}:443": None},
                             tls={f"{ORDA}:443": None}),
        blocking="dns", accessible=False, dns_consistency="inconsistent",
        http_experiment_failure="generic_timeout_error")
    return measurement("web_connectivity", keys, input=ORDA_URL, version="0.5.28")


def tls_timeout_04() -> dict:
    keys = web_keys(
        queries=[query("orda.kz", [ORDA]), query("orda.kz", [], qtype="AAAA", failure="dns_no_answer")],
        tcp=[connect(ORDA, 443)], tls=[handshake(f"{ORDA}:443", "orda.kz", "generic_timeout_error")],
        requests=[request(ORDA_URL, code=0, failure="generic_timeout_error")],
        control_data=control([ORDA], {f"{ORDA}:443": None}), blocking="http-failure", accessible=False,
        http_experiment_failure="generic_timeout_error", dns_consistency="consistent")
    return measurement("web_connectivity", keys, input=ORDA_URL)


def tls_reset_05() -> dict:
    keys = web_keys(
        queries=[query("orda.kz", [ORDA], engine="getaddrinfo", qtype="ANY", tags=["classic", "depth=0"], tid=10001)],
        tcp=[connect(ORDA, 443, tags=CLASSIC, tid=50001)],
        tls=[handshake(f"{ORDA}:443", "orda.kz", "connection_reset", tags=CLASSIC, tid=50001)], requests=[],
        control_data=control([ORDA], {f"{ORDA}:443": None}, tls={f"{ORDA}:443": None}),
        blocking="http-failure", accessible=False, http_experiment_failure="connection_reset")
    return measurement("web_connectivity", keys, input=ORDA_URL, version="0.5.28")


def tcp_timeout_04() -> dict:
    keys = web_keys(
        queries=[query("orda.kz", [ORDA])], tcp=[connect(ORDA, 443, "generic_timeout_error")], tls=[],
        requests=[request(ORDA_URL, code=0, failure="generic_timeout_error")],
        control_data=control([ORDA], {f"{ORDA}:443": None}), blocking="tcp_ip", accessible=False)
    return measurement("web_connectivity", keys, input=ORDA_URL)


def http_reset_04() -> dict:
    keys = web_keys(
        queries=[query("ca-news.org", [CA_NEWS])], tcp=[connect(CA_NEWS, 80)], tls=[],
        requests=[request(CA_NEWS_URL, code=0, failure="connection_reset")],
        control_data=_ca_news_control(), blocking="http-failure", accessible=False,
        network_events=[{"address": f"{CA_NEWS}:80", "failure": None, "operation": "connect", "t": 0.1}])
    return measurement("web_connectivity", keys, input=CA_NEWS_URL)


def blockpage_04() -> dict:
    keys = web_keys(
        queries=[query("ca-news.org", [CA_NEWS])], tcp=[connect(CA_NEWS, 80)], tls=[],
        requests=[request(CA_NEWS_URL, body=BLOCKPAGE)], control_data=_ca_news_control(),
        blocking="http-diff", accessible=False, status_code_match=True, title_match=False,
        network_events=[{"address": f"{CA_NEWS}:80", "failure": None, "operation": "connect", "t": 0.1}])
    return measurement("web_connectivity", keys, input=CA_NEWS_URL)


def control_failure_05() -> dict:
    keys = web_keys(
        queries=[query("ca-news.org", [CA_NEWS], engine="getaddrinfo", qtype="ANY", tags=["classic", "depth=0"])],
        tcp=[connect(CA_NEWS, 80, tags=CLASSIC, tid=50001)], tls=[],
        requests=[request(CA_NEWS_URL, body=CA_NEWS_PAGE, address=f"{CA_NEWS}:80", tags=CLASSIC, tid=50001)],
        control_data={"tcp_connect": None, "http_request": {"status_code": 0, "body_length": 0},
                      "dns": {"addrs": None}},
        control_failure="connection_reset", blocking=None, accessible=None)
    return measurement("web_connectivity", keys, input=CA_NEWS_URL, version="0.5.28")


def down_04() -> dict:
    keys = web_keys(
        queries=[query("orda.kz", [ORDA])], tcp=[connect(ORDA, 443, "generic_timeout_error")], tls=[],
        requests=[request(ORDA_URL, code=0, failure="generic_timeout_error")],
        control_data=control([ORDA], {f"{ORDA}:443": "generic_timeout_error"}, http_failure="generic_timeout_error"),
        blocking=False, accessible=False)
    return measurement("web_connectivity", keys, input=ORDA_URL)


def mitm_04() -> dict:
    leaf = certificate("orda.kz", "Qaznet Trust Network")
    keys = web_keys(
        queries=[query("orda.kz", [ORDA])], tcp=[connect(ORDA, 443)],
        tls=[handshake(f"{ORDA}:443", "orda.kz", "ssl_unknown_authority", certs=[leaf])],
        requests=[request(ORDA_URL, code=0, failure="ssl_unknown_authority")],
        control_data=control([ORDA], {f"{ORDA}:443": None}), blocking="http-failure", accessible=False)
    return measurement("web_connectivity", keys, input=ORDA_URL)


def harmless_dns_tls_reset_05() -> dict:
    """ooni/probe#2517: the system resolver's address differs from the helper's (a CDN replica),
    and TLS is reset; OONI blames DNS. The helper's own handshake with that address validates,
    so the address is the site's: kzprobe blames TLS."""
    keys = web_keys(
        queries=[query("orda.kz", [ELSEWHERE], engine="getaddrinfo", qtype="ANY", tags=["classic", "depth=0"], tid=1)],
        tcp=[connect(ELSEWHERE, 443, tags=CLASSIC, tid=50001)],
        tls=[handshake(f"{ELSEWHERE}:443", "orda.kz", "connection_reset", tags=CLASSIC, tid=50001)], requests=[],
        control_data=control([ORDA], {f"{ORDA}:443": None, f"{ELSEWHERE}:443": None},
                             tls={f"{ORDA}:443": None, f"{ELSEWHERE}:443": None}),
        blocking="dns", accessible=False, dns_consistency="inconsistent")
    return measurement("web_connectivity", keys, input=ORDA_URL, version="0.5.28")


def body_undecodable_04() -> dict:
    keys = web_keys(
        queries=[query("ca-news.org", [CA_NEWS])], tcp=[connect(CA_NEWS, 80)], tls=[],
        requests=[request(CA_NEWS_URL, body={"format": "base64", "data": "%%% not base64 %%%"})],
        control_data=_ca_news_control(), blocking=False, accessible=True)
    return measurement("web_connectivity", keys, input=CA_NEWS_URL)


def site_gone_04() -> dict:
    keys = web_keys(
        queries=[query("orda.kz", [], failure="dns_nxdomain_error")], tcp=[], tls=[],
        requests=[request(ORDA_URL, code=0, failure="dns_nxdomain_error")],
        control_data=control([], {}, dns_failure="dns_name_error", http_failure="dns_lookup_error"),
        blocking=False, accessible=False)
    return measurement("web_connectivity", keys, input=ORDA_URL)


# --- messengers ------------------------------------------------------------------------------

TELEGRAM_DCS = ["149.154.175.50", "149.154.167.51", "149.154.175.100", "149.154.167.91", "149.154.171.5",
                "95.161.76.100"]
WEB_TELEGRAM = "149.154.167.99"


def telegram(dc_failure: str | None) -> dict:
    connects = [connect(ip, port, dc_failure) for ip in TELEGRAM_DCS for port in (80, 443)]
    posts = [request(f"http://{ip}{':443' if port == 443 else ''}/", code=0 if dc_failure else 404,
                     failure=dc_failure, body="" if dc_failure else "<html>404</html>")
             for ip in TELEGRAM_DCS for port in (80, 443)]
    keys = {"agent": "redirect", "queries": [query("web.telegram.org", [WEB_TELEGRAM])],
            "tcp_connect": [*connects, connect(WEB_TELEGRAM, 443)],
            "tls_handshakes": [handshake(f"{WEB_TELEGRAM}:443", "web.telegram.org")],
            "requests": [request("https://web.telegram.org/", body="<html><title>Telegram Web</title></html>",
                                 address=f"{WEB_TELEGRAM}:443"), *posts],
            "telegram_tcp_blocking": dc_failure is not None, "telegram_http_blocking": dc_failure is not None,
            "telegram_web_status": "ok", "telegram_web_failure": None}
    return measurement("telegram", keys, version="0.3.1", uid="20240301100002.1_KZ_telegram_aa",
                       report_id="20240301T100002Z_telegram_KZ_9198_n1_AbCdEfGhIjKlMnO1")


def whatsapp_chat_blocked() -> dict:
    shared = ["3.33.252.61", "3.33.221.48", "15.197.210.208", "15.197.206.217"]
    queries = [query(f"e{n}.whatsapp.net", shared) for n in range(1, 17)]
    connects = [connect(ip, port, "generic_timeout_error") for ip in shared for port in (443, 5222)]
    keys = {"agent": "redirect", "queries": [*queries, query("v.whatsapp.net", ["157.240.9.53"]),
                                             query("web.whatsapp.com", ["157.240.9.60"])],
            "tcp_connect": [*connects, connect("157.240.9.53", 443), connect("157.240.9.60", 443)],
            "tls_handshakes": [handshake("157.240.9.53:443", "v.whatsapp.net"),
                               handshake("157.240.9.60:443", "web.whatsapp.com")],
            "requests": [request("https://web.whatsapp.com/", code=400, address="157.240.9.60:443", body="x"),
                         request("https://v.whatsapp.net/v2/register", address="157.240.9.53:443", body="{}")],
            "whatsapp_endpoints_status": "blocked",
            "whatsapp_endpoints_blocked": [f"e{n}.whatsapp.net" for n in range(1, 17)],
            "registration_server_status": "ok", "registration_server_failure": None,
            "whatsapp_web_status": "ok", "whatsapp_web_failure": None}
    return measurement("whatsapp", keys, version="0.11.0", uid="20240301100003.1_KZ_whatsapp_bb",
                       report_id="20240301T100003Z_whatsapp_KZ_9198_n1_AbCdEfGhIjKlMnO2")


SIGNAL_HOSTS = {"chat.signal.org": "76.223.92.165", "cdsi.signal.org": "40.122.45.194",
                "storage.signal.org": "142.251.209.19", "sfu.voip.signal.org": "35.186.192.249"}


def signal(failing: str, how: str) -> dict:
    """Signal 0.2.5 with `failing` failing: "tls" (reset after the ClientHello) or "tcp" (timeout)."""
    queries, connects, handshakes, requests = [], [], [], []
    for host, ip in SIGNAL_HOSTS.items():
        queries.append(query(host, [ip]))
        bad = host == failing
        connects.append(connect(ip, 443, "generic_timeout_error" if bad and how == "tcp" else None))
        if not (bad and how == "tcp"):
            handshakes.append(handshake(f"{ip}:443", host, "connection_reset" if bad else None,
                                        certs=None if bad else [certificate(host, "Signal Messenger")]))
        requests.append(request(f"https://{host}/", code=0 if bad else 404, body="" if bad else "{}",
                                failure=(("connection_reset" if how == "tls" else "generic_timeout_error")
                                         if bad else None)))
    keys = {"agent": "redirect", "queries": queries, "tcp_connect": connects, "tls_handshakes": handshakes,
            "requests": requests, "signal_backend_status": "blocked",
            "signal_backend_failure": "connection_reset" if how == "tls" else "generic_timeout_error"}
    return measurement("signal", keys, version="0.2.5", uid=f"20240301100004.1_KZ_signal_{how}",
                       report_id=f"20240301T100004Z_signal_KZ_9198_n1_AbCdEfGhIjKl{how}")


def facebook_nxdomain() -> dict:
    hosts = {"b-api.facebook.com": None, "b-graph.facebook.com": "157.240.9.35",
             "edge-mqtt.facebook.com": "157.240.9.36",
             "external.xx.fbcdn.net": "157.240.9.37", "scontent.xx.fbcdn.net": "157.240.9.38",
             "star.c10r.facebook.com": "157.240.9.39", "stun.fbsbx.com": "157.240.9.40"}
    queries = [query(h, [ip] if ip else [], failure=None if ip else "dns_nxdomain_error") for h, ip in hosts.items()]
    connects = [connect(ip, 443) for h, ip in hosts.items() if ip and h != "stun.fbsbx.com"]
    keys = {"agent": "redirect", "queries": queries, "tcp_connect": connects, "facebook_dns_blocking": True,
            "facebook_tcp_blocking": False, "facebook_b_api_dns_consistent": False, "facebook_b_api_reachable": None}
    return measurement("facebook_messenger", keys, version="0.2.1", uid="20240301100005.1_KZ_fb",
                       report_id="20240301T100005Z_facebookmessenger_KZ_9198_n1_AbCdEfGhIjKlMn")


@dataclass(frozen=True)
class Scenario:
    name: str
    build: Callable[[], dict]
    verdict: str
    blocking: str | None
    evidence: str | None  # the first evidence code kzprobe must give (None: none)
    ooni: Any  # OONI's own verdict on the same measurement (blocking, or the messenger's status)
    why: str


SCENARIOS = [
    Scenario("accessible over validated TLS", accessible_05, "reachable", None, None, False,
             "the page came over TLS that validated for orda.kz: the site's own answer"),
    Scenario("resolver says NXDOMAIN, helper resolves", dns_nxdomain_04, "blocked", "dns", "dns.nxdomain", "dns",
             "the name exists for the test helper; the probe's resolver denied it"),
    Scenario("resolver answers a private address", dns_bogon_05, "blocked", "dns", "dns.bogon", "dns",
             "10.10.34.35 is special-purpose: no public site lives there"),
    Scenario("TLS silenced after the ClientHello (0.4)", tls_timeout_04, "blocked", "tls", "tls.timeout",
             "http-failure",
             "TCP connected, the ClientHello got no answer, and the helper fetched the page: SNI filtering"),
    Scenario("TLS reset after the ClientHello (0.5)", tls_reset_05, "blocked", "tls", "tls.reset", "http-failure",
             "the helper completed the handshake the probe had reset"),
    Scenario("TCP connect times out", tcp_timeout_04, "blocked", "tcp", "tcp.timeout", "tcp_ip",
             "the helper connected to the same address and port"),
    Scenario("HTTP request reset", http_reset_04, "blocked", "http", "http.reset", "http-failure",
             "TCP connected, the request was reset, and the helper got the page"),
    Scenario("known blockpage", blockpage_04, "blocked", "http", "http.blockpage", "http-diff",
             "the page matches the fingerprint kz-page-blocked ('Страница заблокирована')"),
    Scenario("test helper unreachable, plain HTTP page", control_failure_05, "inconclusive", None, "control.failed",
             None,
             "without the helper's page an unknown blockpage cannot be ruled out"),
    Scenario("site down for the helper too", down_04, "down", None, "tcp.timeout", False,
             "the helper could not connect either"),
    Scenario("interception certificate", mitm_04, "blocked", "tls", "tls.mitm", "http-failure",
             "the leaf was issued by 'Qaznet Trust Network', a known interception authority"),
    Scenario("another CDN address, then TLS reset", harmless_dns_tls_reset_05, "blocked", "tls", "tls.reset", "dns",
             "the helper's handshake with that address validated: the answer is the site's, TLS is the block"),
    Scenario("body that does not decode", body_undecodable_04, "inconclusive", None, "control.failed", False,
             "a page whose body is unknown cannot be compared with the helper's: never guess 'different'"),
    Scenario("name gone everywhere", site_gone_04, "down", None, "dns.nxdomain", False,
             "the helper got NXDOMAIN too: a dead domain is not blocked"),
    Scenario("Telegram data centres all time out", lambda: telegram("generic_timeout_error"), "blocked", "tcp",
             "tcp.timeout", True,
             "all 12 data-centre connects fail on 6 servers while the web client works: mass failure"),
    Scenario("Telegram working", lambda: telegram(None), "reachable", None, None, False,
             "every data centre and the web client answered"),
    Scenario("WhatsApp chat endpoints all time out", whatsapp_chat_blocked, "blocked", "tcp", "tcp.timeout", "blocked",
             "all 32 chat endpoints (16 names) fail together: mass failure"),
    Scenario("Signal chat reset after the ClientHello", lambda: signal("chat.signal.org", "tls"), "inconclusive", None,
             "tls.reset", "blocked",
             "a reset after the ClientHello with no neutral-name handshake to the same address (OONI makes none) "
             "cannot tell SNI filtering from a server that refuses every ClientHello"),
    Scenario("Signal storage alone times out", lambda: signal("storage.signal.org", "tcp"), "inconclusive", None,
             "tcp.timeout", "blocked",
             "one host timing out, no control: OONI's own Signal data had such false positives"),
    Scenario("Facebook API name denied", facebook_nxdomain, "blocked", "dns", "dns.nxdomain", True,
             "NXDOMAIN for b-api.facebook.com while the same resolver answers the service's other names"),
]
