"""OONI's QA scenarios with their truth, the verdict kzprobe must give, and how outcomes score.

`truth` is what the scenario's injected condition makes true, as outcomes ("blocked:tls",
"down", ...); where two answers are both true of the condition, both are accepted. OONI's own
verdict on the same measurement is read from it (ooni_outcome). tests/ooni/test_agreement.py
scores kzprobe and OONI on the hand-made measurements of support/ooni_qa.py;
benchmarks/ooni_agreement.py scores them on OONI's own files of the same scenarios.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from support.ooni_qa import (
    ACCESS_DENIED,
    badssl,
    badssl_lying_resolver,
    broken_location,
    cloudflare,
    control_failure,
    dns_lie,
    ghost,
    http_diff,
    http_reset,
    idna,
    large_file,
    localhost,
    proxy,
    redirect_then,
    refused_at_blockpage_server,
    success,
    tcp_timeout,
    tls_reset,
    too_many_redirects,
    website_down,
)


@dataclass(frozen=True)
class QaCase:
    name: str  # OONI's QA scenario
    build: Callable[[], dict]
    truth: tuple[str, ...]  # the outcomes the injected condition makes true
    verdict: str  # what kzprobe must say: verdict, blocking layer, first evidence code
    blocking: str | None
    evidence: str | None
    why: str


NOT_BLOCKED = ("reachable", "inconclusive")
CASES = [
    QaCase("successWithHTTP", lambda: success("http"), ("reachable",), "reachable", None, None,
           "nothing is injected; the page is the helper's"),
    QaCase("successWithHTTPS", lambda: success("https"), ("reachable",), "reachable", None, None,
           "nothing is injected; the page came over validated TLS"),
    QaCase("badSSLWithExpiredCertificate", lambda: badssl("expired.badssl.com", "ssl_invalid_certificate"),
           ("down",), "down", None, "tls.invalid_cert", "the site's own certificate is expired, for the helper too"),
    QaCase("badSSLWithWrongServerName", lambda: badssl("wrong.host.badssl.com", "ssl_invalid_hostname"),
           ("down",), "down", None, "tls.invalid_cert", "the site serves another name's certificate, to everyone"),
    QaCase("badSSLWithUnknownAuthorityWithConsistentDNS",
           lambda: badssl("untrusted-root.badssl.com", "ssl_unknown_authority"), ("down",), "down", None,
           "tls.invalid_cert", "the site's own root is untrusted, for the helper too"),
    QaCase("badSSLWithUnknownAuthorityWithInconsistentDNS", badssl_lying_resolver, ("blocked:dns",), "blocked",
           "dns", "dns.inconsistent", "the resolver sends the name to a server with another root's certificate"),
    QaCase("cloudflareCAPTCHAWithHTTP", lambda: cloudflare("http"), NOT_BLOCKED, "inconclusive", None,
           "http.site_refused", "the CDN challenges the probe: the site's protection, not a censor (ooni/probe#2661)"),
    QaCase("cloudflareCAPTCHAWithHTTPS", lambda: cloudflare("https"), NOT_BLOCKED, "inconclusive", None,
           "http.site_refused", "the same challenge over validated TLS"),
    QaCase("controlFailureWithSuccessfulHTTPWebsite", lambda: control_failure("http"), NOT_BLOCKED, "inconclusive",
           None, "control.failed", "nothing is injected, but without the helper a plain page cannot be judged"),
    QaCase("controlFailureWithSuccessfulHTTPSWebsite", lambda: control_failure("https"), ("reachable",), "reachable",
           None, None, "the helper is cut off; the page came over validated TLS"),
    QaCase("dnsBlockingAndroidDNSCacheNoData", lambda: dns_lie("android_dns_cache_no_data"), ("blocked:dns",),
           "blocked", "dns", "dns.servfail", "the resolver denies the name (Android reports NXDOMAIN so)"),
    QaCase("dnsBlockingNXDOMAIN", lambda: dns_lie("dns_nxdomain_error"), ("blocked:dns",), "blocked", "dns",
           "dns.nxdomain", "the resolver says NXDOMAIN for a name that exists"),
    QaCase("dnsBlockingBOGON", lambda: dns_lie(["10.10.34.35"], failure="generic_timeout_error"), ("blocked:dns",),
           "blocked", "dns", "dns.bogon", "the resolver answers a private address"),
    QaCase("dnsHijackingToLocalhostWithHTTP", lambda: dns_lie(["127.0.0.1"], "http"), ("blocked:dns",), "blocked",
           "dns", "dns.bogon", "the resolver answers 127.0.0.1; DoH and the helper resolve the site"),
    QaCase("dnsHijackingToLocalhostWithHTTPS", lambda: dns_lie(["127.0.0.1"]), ("blocked:dns",), "blocked", "dns",
           "dns.bogon", "the same, for https"),
    QaCase("dnsHijackingToProxyWithHTTPURL", lambda: proxy("http"), ("reachable",), "reachable", None, None,
           "the resolver's proxy relays the real site unchanged"),
    QaCase("dnsHijackingToProxyWithHTTPSURL", lambda: proxy("https"), ("reachable",), "reachable", None, None,
           "the proxy relays TLS that validates for the name"),
    QaCase("ghostDNSBlockingWithHTTP", lambda: ghost("http"), ("down", "blocked:dns"), "down", None, "dns.nxdomain",
           "the name exists nowhere (dead) and the ISP answers its blockpage server for it: both are true; "
           "kzprobe says down, as for every dead name (docs/methodology.md, DNS)"),
    QaCase("ghostDNSBlockingWithHTTPS", lambda: ghost("https"), ("down", "blocked:dns"), "down", None,
           "dns.nxdomain", "the same, the blockpage server refusing 443"),
    QaCase("httpBlockingConnectionReset", http_reset, ("blocked:http",), "blocked", "http", "http.reset",
           "a reset when the Host header is seen"),
    QaCase("httpDiffWithConsistentDNS", http_diff, ("blocked:http",), "blocked", "http", "http.diff",
           "a blockpage injected in place of the site's page"),
    QaCase("httpDiffWithInconsistentDNS", lambda: proxy("http", page=ACCESS_DENIED), ("blocked:http", "blocked:dns"),
           "blocked", "http", "http.diff",
           "the resolver's proxy (which relays the site) and a blockpage injected on the Host: the page blocks"),
    QaCase("idnaWithoutCensorshipLowercase", idna, ("reachable",), "reachable", None, None,
           "an internationalised name, redirected to the site's own https pages"),
    QaCase("idnaWithoutCensorshipWithFirstLetterUppercase", lambda: idna("http://Яндекс.рф/"), ("reachable",),
           "reachable", None, None, "the same name with a capital first letter"),
    QaCase("largeFileWithHTTP", lambda: large_file("http"), ("reachable",), "reachable", None, None,
           "a 16 MiB file fetched whole"),
    QaCase("largeFileWithHTTPS", lambda: large_file("https"), ("reachable",), "reachable", None, None,
           "the same over validated TLS"),
    QaCase("localhostWithHTTP", lambda: localhost("http"), ("down",), "down", None, "dns.bogon",
           "the name points at 127.0.0.1 for every resolver: misconfigured, not censored"),
    QaCase("localhostWithHTTPS", lambda: localhost("https"), ("down",), "down", None, "dns.bogon", "the same"),
    QaCase("redirectWithBrokenLocationForHTTP", lambda: broken_location("http"), ("down", "inconclusive"),
           "inconclusive", None, "http.broken_redirect",
           "the site redirects to \"http://\", nowhere: its own mistake (the emulated helper got a page elsewhere)"),
    QaCase("redirectWithBrokenLocationForHTTPS", lambda: broken_location("https"), ("down", "inconclusive"),
           "inconclusive", None, "http.broken_redirect", "the same over validated TLS"),
    *[QaCase(f"redirectWithConsistentDNSAndThen{name}For{scheme.upper()}",
             (lambda scheme=scheme, step=step, failure=failure: redirect_then(scheme, step, failure)),
             (f"blocked:{step}",), "blocked", step, code, f"bit.ly's redirect leads to a {what}")
      for name, scheme, step, failure, code, what in (
          ("ConnectionRefused", "http", "tcp", "connection_refused", "tcp.refused", "refused port 80"),
          ("ConnectionRefused", "https", "tcp", "connection_refused", "tcp.refused", "refused port 443"),
          ("ConnectionReset", "http", "http", "connection_reset", "http.reset", "reset on the Host header"),
          ("ConnectionReset", "https", "tls", "connection_reset", "tls.reset", "reset on the SNI"),
          ("EOF", "http", "http", "eof_error", "http.eof", "close on the Host header"),
          ("EOF", "https", "tls", "eof_error", "tls.eof", "close on the SNI"),
          ("Timeout", "http", "http", "generic_timeout_error", "http.timeout", "drop on the Host header"),
          ("Timeout", "https", "tls", "generic_timeout_error", "tls.timeout", "drop on the SNI"))],
    QaCase("redirectWithConsistentDNSAndThenNXDOMAIN", lambda: redirect_then("https", "dns", "dns_nxdomain_error"),
           ("blocked:dns",), "blocked", "dns", "dns.nxdomain", "bit.ly's redirect leads to a name the resolver denies"),
    QaCase("redirectWithMoreThanTenRedirectsAndHTTP", lambda: too_many_redirects("http"), ("down",), "down", None,
           "http.blockpage_redirect", "the site redirects 15 times, for the helper too"),
    QaCase("redirectWithMoreThanTenRedirectsAndHTTPS", lambda: too_many_redirects("https"), ("down",), "down", None,
           "http.blockpage_redirect", "the same over validated TLS"),
    QaCase("tcpBlockingConnectTimeout", tcp_timeout, ("blocked:tcp",), "blocked", "tcp", "tcp.timeout",
           "SYNs to port 443 dropped"),
    QaCase("tcpBlockingConnectionRefusedWithInconsistentDNS", refused_at_blockpage_server, ("blocked:dns",),
           "blocked", "dns", "dns.inconsistent", "the resolver sends the name to a blockpage server refusing port 80"),
    QaCase("throttlingWithHTTP", lambda: large_file("http", "generic_timeout_error"), ("throttled",), "throttled",
           None, "throughput.stall", "delay and loss on the flow: the download starts, then times out"),
    QaCase("throttlingWithHTTPS", lambda: large_file("https", "generic_timeout_error"), ("throttled",), "throttled",
           None, "throughput.stall", "the same over TLS"),
    QaCase("tlsBlockingConnectionResetWithConsistentDNS", tls_reset, ("blocked:tls",), "blocked", "tls", "tls.reset",
           "a reset on the SNI"),
    QaCase("tlsBlockingConnectionResetWithInconsistentDNS", lambda: proxy("https", tls="connection_reset"),
           ("blocked:tls", "blocked:dns"), "blocked", "tls", "tls.reset",
           "the resolver's proxy (whose TLS validates at the helper) and a reset on the SNI: the reset blocks"),
    QaCase("websiteDownNXDOMAIN", lambda: website_down("nxdomain"), ("down",), "down", None, "dns.nxdomain",
           "the name exists nowhere"),
    QaCase("websiteDownNoAddrs", lambda: website_down("no_addresses"), ("down",), "down", None, "dns.no_answer",
           "the name has no address anywhere"),
    QaCase("websiteDownTCPConnect", lambda: website_down("refused"), ("down",), "down", None, "tcp.refused",
           "nothing listens on port 444"),
]

# OONI's Web Connectivity verdict (test_keys.blocking, .accessible) as an outcome. Its
# "http-failure" names no layer more precise than HTTP (TLS blocking lands there).
_OONI_LAYERS = {"dns": "dns", "tcp_ip": "tcp", "http-failure": "http", "http-diff": "http"}


def ooni_outcome(test_keys: dict[str, Any]) -> str:
    blocking = test_keys.get("blocking")
    if blocking is None:
        return "inconclusive"
    if blocking is False:
        return "reachable" if test_keys.get("accessible") else "down"
    return f"blocked:{_OONI_LAYERS.get(blocking, str(blocking))}"


def kzprobe_outcome(result: dict[str, Any]) -> str:
    return f"blocked:{result['blocking']}" if result["verdict"] == "blocked" else result["verdict"]


def agrees(outcome: str, truth: tuple[str, ...], *, layer: bool = True) -> bool:
    """The outcome is one the truth accepts: the verdict, and for a block its layer (`layer`)."""
    if layer:
        return outcome in truth
    return outcome.split(":")[0] in {t.split(":")[0] for t in truth}
