"""OONI's QA scenarios, one hand-made measurement each.

OONI tests Web Connectivity against an emulated Internet (ooni/probe-cli
internal/webconnectivityqa, run on internal/netemx): each scenario injects one condition - a
lying resolver, a reset after the ClientHello, a throttled flow, a broken site - and OONI Probe
measures it. The measurements below are shaped as Web Connectivity 0.5.28 records those runs
(the facts of ooni/probe-cli internal/minipipeline/testdata/webconnectivity/generated: the
emulated hosts' addresses, the failures, the redirect chains, the test helper's answer and
OONI's own verdict), written here from those facts; no OONI file is copied or bundled.

The scenarios, their truth and kzprobe's verdicts are in support/ooni_qa_cases.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from support.ooni_measurements import measurement

EXAMPLE = "93.184.216.34"  # www.example.com and www.example.org
BITLY = "67.199.248.11"
PROXY = "130.192.182.17"  # the ISP's transparent proxy, relaying the real site
BLOCKPAGE_SERVER = "83.224.65.41"
BADSSL = "104.154.89.105"
CLOUDFLARE = "104.16.132.229"
LARGEFILE = "52.35.36.75"
HTTPBIN = "172.67.144.64"
YANDEX = "5.255.255.80"
DEFAULT_PAGE = ("<!doctype html><html><head><title>Default Web Page</title></head><body><div><h1>Default Web Page</h1>"
                + "<p>This is the default web page of the emulated Internet's web server.</p>" * 20
                + "</div></body></html>")
ACCESS_DENIED = "<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1></body></html>"
CHALLENGE = ("<!DOCTYPE HTML><html lang=\"en-US\"><head><title>Just a moment...</title></head><body>"
             "<noscript>Enable JavaScript and cookies to continue</noscript>"
             "<script src=\"/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1\"></script></body></html>")
HTML = [["Content-Type", "text/html; charset=utf-8"]]
BINARY = [["Content-Type", "application/octet-stream"]]
_TRANSACTIONS = {80: 40001, 443: 50001}


def _tags(depth: int = 0) -> list[str]:
    return ["classic", "tcptls_experiment", f"depth={depth}", "fetch_body=true"]


def _answers(hostname: str, answers: list[str] | str, engine: str, qtype: str, tags: list[str]) -> dict[str, Any]:
    addresses = answers if isinstance(answers, list) else []
    return {"answers": [{"answer_type": "AAAA" if ":" in a else "A", "ipv6" if ":" in a else "ipv4": a}
                        for a in addresses] or None,
            "engine": engine, "failure": answers if isinstance(answers, str) else None, "hostname": hostname,
            "query_type": qtype, "resolver_address": "https://dns.google/dns-query" if engine == "doh" else "",
            "t0": 0.001, "t": 0.03, "tags": tags}


@dataclass(frozen=True)
class Hop:
    """One hop of the chain: where it went, and what each step of it got (None: it worked)."""

    url: str
    address: str
    tcp: str | None = None
    tls: str | None = None  # https only
    status: int | None = 200  # None: no response (the request failed)
    body: str = DEFAULT_PAGE
    headers: list[list[str]] | None = None
    failure: str | None = None  # the request's own failure
    truncated: bool = False
    recorded: bool = True  # False: OONI wrote no request for it (its connection failed)

    @property
    def port(self) -> int:
        rest = self.url.split("//", 1)[1].split("/", 1)[0]
        return int(rest.rsplit(":", 1)[1]) if ":" in rest else 443 if self.url.startswith("https:") else 80

    @property
    def host(self) -> str:
        return self.url.split("//", 1)[1].split("/", 1)[0].split(":")[0]


def web(url: str, answers: list[str] | str, hops: list[Hop], helper: dict | None, ooni: dict[str, Any], *,
        doh: list[str] | str | None = None, lookups: dict[str, list[str] | str] | None = None,
        control_failure: str | None = None) -> dict:
    """A Web Connectivity 0.5.28 measurement of `url`: the system resolver's `answers` (a list, or
    a failure string), the DoH lookup (`doh`, default the same), lookups of redirect hosts, the
    chain's hops, the test helper's answer and OONI's verdict keys."""
    host = url.split("//", 1)[1].split("/", 1)[0].split(":")[0]
    doh = answers if doh is None else doh
    queries = [_answers(host, doh, "doh", "A", ["depth=0"]),
               _answers(host, answers, "getaddrinfo", "ANY", ["classic", "depth=0"])]
    for depth, (name, found) in enumerate((lookups or {}).items(), start=1):
        queries.append(_answers(name, found, "getaddrinfo", "ANY", ["classic", f"depth={depth}"]))
    connects, handshakes, requests = [], [], []
    for depth, hop in enumerate(hops):
        tid = _TRANSACTIONS.get(hop.port, 60001) + depth
        endpoint = f"{hop.address}:{hop.port}"
        connects.append({"ip": hop.address, "port": hop.port, "status": {"failure": hop.tcp, "success": not hop.tcp},
                         "t0": 0.05, "t": 0.09, "tags": _tags(depth), "transaction_id": tid})
        if hop.tcp is None and hop.url.startswith("https:"):
            handshakes.append({"address": endpoint, "server_name": hop.host, "failure": hop.tls, "network": "tcp",
                               "no_tls_verify": False, "peer_certificates": None, "t0": 0.09, "t": 0.2,
                               "tls_version": "" if hop.tls else "TLSv1.3", "tags": _tags(depth),
                               "transaction_id": tid})
        if not hop.recorded:
            continue
        response = {"body": hop.body if hop.status else None, "body_is_truncated": hop.truncated,
                    "code": hop.status or 0, "headers_list": hop.headers if hop.headers is not None else HTML}
        requests.append({"address": endpoint, "failure": hop.failure, "network": "tcp",
                         "request": {"method": "GET", "url": hop.url, "headers_list": [["Host", hop.host]]},
                         "response": response, "t0": 0.2, "t": 0.4, "tags": _tags(depth), "transaction_id": tid})
    keys = {"agent": "redirect", "client_resolver": "130.192.3.21", "queries": queries, "tcp_connect": connects,
            "tls_handshakes": handshakes, "requests": list(reversed(requests)), "network_events": None,
            "control": helper, "control_failure": control_failure, **ooni}
    return measurement("web_connectivity", keys, input=url, version="0.5.28", report_id="", uid=None,
                       start="2024-02-12 20:33:47", asn="AS30722", cc="IT")


def helper(addrs: list[str] | str, tcp: dict[str, str | None], tls: dict[str, str | None] | None = None, *,
           page: tuple[int, int, str] | str = (200, len(DEFAULT_PAGE.encode()), "Default Web Page")) -> dict:
    """The test helper's answer: its addresses (or DNS failure), connects and handshakes by
    "ip:port" (None: worked), and its page (status, length, title) or its HTTP failure."""
    http = ({"status_code": page[0], "body_length": page[1], "title": page[2], "failure": None, "headers": {}}
            if isinstance(page, tuple) else
            {"status_code": -1, "body_length": -1, "title": "", "failure": page, "headers": {}})
    return {"dns": {"addrs": addrs if isinstance(addrs, list) else [],
                    "failure": addrs if isinstance(addrs, str) else None},
            "tcp_connect": {k: {"status": f is None, "failure": f} for k, f in tcp.items()},
            "tls_handshake": {k: {"server_name": "", "status": f is None, "failure": f}
                              for k, f in (tls or {}).items()},
            "http_request": http}


def ooni(blocking: Any, accessible: Any, failure: str | None = None, dns: str | None = "consistent") -> dict[str, Any]:
    return {"blocking": blocking, "accessible": accessible, "http_experiment_failure": failure,
            "dns_experiment_failure": None, "dns_consistency": dns}


def _site(ip: str, *ports: int) -> dict[str, None]:
    return {f"{ip}:{port}": None for port in ports}


OK_HELPER = helper([EXAMPLE], _site(EXAMPLE, 443), _site(EXAMPLE, 443))
OK_HELPER_HTTP = helper([EXAMPLE], _site(EXAMPLE, 80, 443), _site(EXAMPLE, 443))


def success(scheme: str) -> dict:
    url = f"{scheme}://www.example.com/"
    return web(url, [EXAMPLE], [Hop(url, EXAMPLE)], OK_HELPER if scheme == "https" else OK_HELPER_HTTP,
               ooni(False, True))


def badssl(name: str, failure: str) -> dict:
    url = f"https://{name}/"
    return web(url, [BADSSL], [Hop(url, BADSSL, tls=failure, status=None, recorded=False)],
               helper([BADSSL], _site(BADSSL, 443), {f"{BADSSL}:443": failure}, page="unknown_error"),
               ooni(False, False, failure))


def badssl_lying_resolver() -> dict:
    url = "https://www.example.com/"
    return web(url, [BADSSL], [Hop(url, BADSSL, tls="ssl_unknown_authority", status=None, recorded=False)],
               helper([EXAMPLE], {**_site(EXAMPLE, 443), **_site(BADSSL, 443)},
                      {f"{EXAMPLE}:443": None, f"{BADSSL}:443": "ssl_unknown_authority"}),
               ooni("dns", False, "ssl_unknown_authority", "inconsistent"), doh=[EXAMPLE])


def cloudflare(scheme: str) -> dict:
    url = f"{scheme}://www.cloudflare-cache.com/"
    hop = Hop(url, CLOUDFLARE, status=503, body=CHALLENGE, headers=[*HTML, ["Server", "cloudflare"]])
    verdict = ooni("http-diff", False) if scheme == "http" else ooni(False, True)
    return web(url, [CLOUDFLARE], [hop], helper([CLOUDFLARE], _site(CLOUDFLARE, 80, 443), _site(CLOUDFLARE, 443)),
               verdict)


def control_failure(scheme: str) -> dict:
    url = f"{scheme}://www.example.org/"
    verdict = ooni(None, None, dns=None) if scheme == "http" else ooni(False, True, dns=None)
    return web(url, [EXAMPLE], [Hop(url, EXAMPLE)], None, verdict, control_failure="connection_reset")


def dns_lie(answers: list[str] | str, scheme: str = "https", failure: str | None = None) -> dict:
    """The ISP's resolver lies (NXDOMAIN, a private or loopback address); DoH tells the truth."""
    url = f"{scheme}://www.example.com/"
    hops = []
    if isinstance(answers, list) and not answers[0].startswith("127."):
        hops = [Hop(url, answers[0], tcp="generic_timeout_error", status=None, recorded=False)]
    return web(url, answers, hops, OK_HELPER if scheme == "https" else OK_HELPER_HTTP,
               ooni("dns", False, failure, "inconsistent"), doh=[EXAMPLE])


def proxy(scheme: str, *, page: str = DEFAULT_PAGE, tls: str | None = None) -> dict:
    """The ISP's resolver sends the name to its transparent proxy, which relays the real site
    (the helper's handshake with it validates) - unless a middlebox injects a page or a reset."""
    url = f"{scheme}://www.example.com/"
    hop = Hop(url, PROXY, tls=tls, status=None if tls else 200, body=page, recorded=tls is None)
    verdict = ooni(False, True, dns="inconsistent") if page == DEFAULT_PAGE and not tls else \
        ooni("dns", False, tls, "inconsistent")
    return web(url, [PROXY], [hop], helper([EXAMPLE], {**_site(EXAMPLE, 80, 443), **_site(PROXY, 80, 443)},
                                           {**_site(EXAMPLE, 443), **_site(PROXY, 443)}), verdict, doh=[EXAMPLE])


def ghost(scheme: str) -> dict:
    """A name that exists nowhere, for which the ISP's resolver answers its blockpage server."""
    url = f"{scheme}://itsat.info/"
    hop = Hop(url, BLOCKPAGE_SERVER, body=ACCESS_DENIED) if scheme == "http" else \
        Hop(url, BLOCKPAGE_SERVER, tcp="connection_refused", status=None, recorded=False)
    return web(url, [BLOCKPAGE_SERVER], [hop],
               helper("dns_name_error", {f"{BLOCKPAGE_SERVER}:80": None,
                                         f"{BLOCKPAGE_SERVER}:443": "connection_refused_error"},
                      page="dns_lookup_error"),
               ooni("dns", False, None if scheme == "http" else "connection_refused", "inconsistent"),
               doh="dns_nxdomain_error")


def http_reset() -> dict:
    url = "http://www.example.com/"
    return web(url, [EXAMPLE], [Hop(url, EXAMPLE, status=None, failure="connection_reset")], OK_HELPER_HTTP,
               ooni("http-failure", False, "connection_reset"))


def http_diff() -> dict:
    url = "http://www.example.com/"
    return web(url, [EXAMPLE], [Hop(url, EXAMPLE, body=ACCESS_DENIED, headers=[])], OK_HELPER_HTTP,
               ooni("http-diff", False))


def idna(url: str = "http://яндекс.рф/") -> dict:
    hops = [Hop("http://xn--d1acpjx3f.xn--p1ai/", YANDEX, status=308, body="",
                headers=[["Location", "https://yandex.com/"]]),
            Hop("https://yandex.com/", YANDEX, status=308, body="", headers=[["Location", "https://ya.ru/"]]),
            Hop("https://ya.ru/", YANDEX)]
    data = web(url, [YANDEX], hops, helper([YANDEX], _site(YANDEX, 80, 443), _site(YANDEX, 443)), ooni(False, True),
               lookups={"yandex.com": [YANDEX], "ya.ru": [YANDEX]})
    for event in data["test_keys"]["queries"][:2]:
        event["hostname"] = "xn--d1acpjx3f.xn--p1ai"
    return data


def large_file(scheme: str, failure: str | None = None) -> dict:
    """A 16 MiB file; OONI's stored copy kept none of its body (only that it was cut short).
    With `failure`, the flow is throttled (delay and loss) until the fetch times out."""
    url = f"{scheme}://largefile.com/"
    hop = Hop(url, LARGEFILE, body="", headers=BINARY, truncated=True, failure=failure)
    verdict = ooni("http-failure", False, failure) if failure else ooni(False, True)
    return web(url, [LARGEFILE], [hop], helper([LARGEFILE], _site(LARGEFILE, 80, 443), _site(LARGEFILE, 443),
                                               page=(200, 16_777_216, "")), verdict)


def localhost(scheme: str) -> dict:
    """A name every resolver, DoH and the helper's included, points at 127.0.0.1."""
    url = f"{scheme}://www.example.com/"
    return web(url, ["127.0.0.1"], [], helper(["127.0.0.1"], {}, page="unknown_error"), ooni(False, False))


def broken_location(scheme: str) -> dict:
    """The site's redirect says only "http://": no host to go to (ooni/probe#2628)."""
    url = f"{scheme}://httpbin.com/broken-redirect-{scheme}"
    hop = Hop(url, HTTPBIN, status=302, body="", headers=[["Location", f"{scheme}://"]],
              failure="http_invalid_redirect_location_host")
    return web(url, [HTTPBIN], [hop], helper([HTTPBIN], _site(HTTPBIN, 80, 443), _site(HTTPBIN, 443)),
               ooni("http-failure", False, "http_invalid_redirect_location_host"))


def redirect_then(scheme: str, step: str, failure: str) -> dict:
    """bit.ly (over validated TLS) redirects to www.example.com, where `step` ("dns", "tcp", "tls"
    or "http") of the next hop meets `failure`."""
    url = "https://bit.ly/21645" if scheme == "https" else "https://bit.ly/32447"
    target = f"{scheme}://www.example.com/"
    first = Hop(url, BITLY, status=308, body="", headers=[["Location", target]])
    last = Hop(target, EXAMPLE, tcp=failure if step == "tcp" else None, tls=failure if step == "tls" else None,
               status=None, failure=failure if step == "http" else None, recorded=step == "http")
    blocking = "dns" if step == "dns" else "http-failure"
    return web(url, [BITLY], [first] if step == "dns" else [first, last],
               helper([BITLY], _site(BITLY, 443), _site(BITLY, 443)), ooni(blocking, False, failure),
               lookups={"www.example.com": failure if step == "dns" else [EXAMPLE]})


def too_many_redirects(scheme: str) -> dict:
    hops = [Hop(f"{scheme}://httpbin.com/redirect/{n}", HTTPBIN, status=302, body="",
                headers=[["Location", f"/redirect/{n - 1}"]]) for n in range(15, 4, -1)]
    hops[-1] = Hop(hops[-1].url, HTTPBIN, status=302, body="", headers=[["Location", "/redirect/4"]],
                   failure="unknown_failure: stopped after too many redirects")
    return web(hops[0].url, [HTTPBIN], hops, helper([HTTPBIN], _site(HTTPBIN, 80, 443), _site(HTTPBIN, 443),
                                                    page="unknown_error"),
               ooni(False, False, "unknown_failure: stopped after too many redirects"))


def tcp_timeout() -> dict:
    url = "https://www.example.com/"
    return web(url, [EXAMPLE], [Hop(url, EXAMPLE, tcp="generic_timeout_error", status=None, recorded=False)],
               OK_HELPER, ooni("tcp_ip", False, "generic_timeout_error"))


def refused_at_blockpage_server() -> dict:
    url = "http://www.example.org/"
    return web(url, [BLOCKPAGE_SERVER],
               [Hop(url, BLOCKPAGE_SERVER, tcp="connection_refused", status=None, recorded=False)],
               helper([EXAMPLE], {**_site(EXAMPLE, 80, 443), f"{BLOCKPAGE_SERVER}:80": None,
                                  f"{BLOCKPAGE_SERVER}:443": "connection_refused_error"}, _site(EXAMPLE, 443)),
               ooni("dns", False, "connection_refused", "inconsistent"), doh=[EXAMPLE])


def tls_reset() -> dict:
    url = "https://www.example.com/"
    return web(url, [EXAMPLE], [Hop(url, EXAMPLE, tls="connection_reset", status=None, recorded=False)], OK_HELPER,
               ooni("http-failure", False, "connection_reset"))


def website_down(kind: str) -> dict:
    if kind == "nxdomain":
        return web("http://www.example.xyz/", "dns_nxdomain_error", [], helper("dns_name_error", {},
                                                                                 page="dns_lookup_error"),
                   ooni(False, False, "dns_nxdomain_error"))
    if kind == "no_addresses":
        return web("http://www.example.com/", "dns_no_answer", [], helper([], {}, page="dns_lookup_error"),
                   ooni(False, False))
    url = "http://www.example.com:444/"
    return web(url, [EXAMPLE], [Hop(url, EXAMPLE, tcp="connection_refused", status=None, recorded=False)],
               helper([EXAMPLE], {f"{EXAMPLE}:444": "connection_refused_error"}, page="connection_refused_error"),
               ooni(False, False, "connection_refused"))
