"""The lab's catalogue: every kind of interference kzprobe must recognise, one row each.

Each row names a site (under .test), what the censored ISP does to it, what the uncensored
vantage sees, and the verdict, blocking layer and key evidence kzprobe must report. The four
baselines give every scan its connectivity and throughput reference. Techniques follow what
public data shows of Kazakhstan (https://ooni.org/post/2024-kazakhstan-report/,
https://censoredplanet.org/kazakhstan): mostly TLS by SNI,
timeouts more often than resets, interception with the "Qaznet Trust Network" root, SNI
throttling to a policer's rate, rare blockpages; plus the DNS and HTTP techniques of other
censors, which a probe for Kazakhstan must still tell apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from kzprobe.lab import site_spec as m
from kzprobe.lab.network_runs import network_runs
from kzprobe.lab.service_traps import service_trap_scenarios
from kzprobe.lab.site_spec import Conditions, EndpointBehaviour, Expectation, NetworkRun, Scenario, Site
from kzprobe.report import vocabulary as v

LAB_DOMAIN: Final = "kzlab.test"

# Throttling: Russia's Twitter policer passed a ~16 KB burst then held flows near 16 KB/s
# (130 kbit/s); the lab's throttler passes the same burst and then 32 KB/s, in the middle of
# the 16-64 KB/s a policer of that kind yields (Xue et al., "Throttling Twitter", IMC 2021,
# https://censoredplanet.org/throttling).
THROTTLE_BYTES_PER_S: Final = 32_000
# A slow but working site: the answer starts after 1.2 s, well inside the lab's 2.5 s timeout.
SLOW_SITE_DELAY_S: Final = 1.2
# Baseline and throughput resources: big enough to leave TCP slow start behind (~1 MB on a
# fast path: RFC 6928's 10-segment initial window doubling per round trip), small enough to
# be fetched in well under a second on loopback.
BASELINE_DOWNLOAD_BYTES: Final = 1_500_000
LARGE_DOWNLOAD_BYTES: Final = 2_000_000
# A server slow for everyone: 150 KB/s from its own uplink, inside and outside alike.
SLOW_SERVER_BYTES_PER_S: Final = 150_000
# A backend that renders slowly but keeps sending: the page flows for 3.5 s, longer than the
# lab's per-operation timeout (2.5 s) - a page still flowing is no timeout.
SLOW_RENDER_S: Final = 3.5
# A policer at Russia's Twitter rate (docs/methodology.md, Throttling): 16 KB/s after a 16 KB
# burst, on a 40 KB page.
POLICER_BYTES_PER_S: Final = 16_000
POLICER_BURST_BYTES: Final = 16 * 1024
# A censor freezing the transfer after 8 KB with the connection open.
FREEZE_AFTER_BYTES: Final = 8_000
# The ClientHello held 1.8 s for one name: OONI saw Kazakhstan's throttled names take 2-4 s to
# complete the handshake (ooni-kz-2023-2024.csv); within the lab's 2.5 s timeout.
SLOW_HANDSHAKE_S: Final = 1.8
# Keywords the lab's censor looks for in plaintext Host headers and URLs (Kazakh DPI filters by
# keyword, docs/methodology.md).
HOST_KEYWORD: Final = "azattyq"
URL_KEYWORD: Final = "zhanaozen"
# Keyword targets (`keyword: WORD`, tried on the scan's baselines): a word the censor looks for
# only in URL paths, one only in Host headers, one only in TLS server names, and one it lets
# pass. Names from the Guljan case and the outlets banned with Respublika (Freedom House, Freedom
# on the Net 2013); any word would do.
PATH_KEYWORD: Final = "guljan"
HOST_KEYWORD_ONLY: Final = "nuradam"
SNI_KEYWORD: Final = "respublika"
PASSING_KEYWORD: Final = "kzlabfree"
# Registrable domains other than kzlab.test (by the public suffix list, every name under
# kzlab.test is one site): a site's national domain, and a portal a censor redirects to.
NATIONAL_DOMAIN: Final = "kzlab-kz.test"
PORTAL_DOMAIN: Final = "kzlab-portal.test"


def _site(name: str, **fields: object) -> Site:
    return Site(host=f"{name}.{LAB_DOMAIN}", **fields)  # type: ignore[arg-type]  # Site's own fields, checked when it is built


def _blocked(layer: str, *evidence: str, pending: str | None = None) -> Expectation:
    return Expectation(v.BLOCKED, layer, tuple(evidence), pending)


REACHABLE: Final = Expectation(v.REACHABLE)


def _tor_endpoints(relay: Conditions = m.HONEST, directory: Conditions = m.HONEST,
                   bridge: Conditions = m.HONEST) -> tuple[EndpointBehaviour, ...]:
    """Two directory authorities (an OR port on 443 and a directory port on 80 at each address,
    as most of the real ones have) and two obfs4 bridges, each group treated as given inside."""
    authorities = tuple(
        endpoint for label in ("@auth1", "@auth2") for endpoint in (
            EndpointBehaviour(label, 443, tls=True, kind="tor_or", role="relay", inside=relay),
            EndpointBehaviour(label, 80, kind="tor_dir", role="directory", inside=directory)))
    bridges = tuple(EndpointBehaviour(label, port, kind="obfs4", role="bridge", inside=bridge)
                    for label, port in (("@bridge1", 443), ("@bridge2", 27015)))
    return authorities + bridges


def _inconclusive(*evidence: str) -> Expectation:
    return Expectation(v.INCONCLUSIVE, None, tuple(evidence))

SCENARIOS: Final[tuple[Scenario, ...]] = (
    # Baselines: always reachable; two in the country, two abroad, each with a download.
    Scenario("baseline-domestic-1", "domestic baseline over HTTPS",
             _site("baseline-domestic-1", hosting=m.DOMESTIC, baseline=m.DOMESTIC,
                   download_bytes=BASELINE_DOWNLOAD_BYTES),
             m.HONEST, REACHABLE),
    Scenario("baseline-domestic-2", "domestic baseline over plain HTTP",
             _site("baseline-domestic-2", scheme="http", hosting=m.DOMESTIC, baseline=m.DOMESTIC,
                   download_bytes=BASELINE_DOWNLOAD_BYTES),
             m.HONEST, REACHABLE, expect_without_control=REACHABLE),  # its own HTTPS page is the same page
    Scenario("baseline-international-1", "international baseline, dual stack",
             _site("baseline-international-1", baseline=m.INTERNATIONAL, ipv6=True,
                   download_bytes=BASELINE_DOWNLOAD_BYTES),
             m.HONEST, REACHABLE),
    Scenario("baseline-international-2", "international baseline over HTTPS",
             _site("baseline-international-2", baseline=m.INTERNATIONAL,
                   download_bytes=BASELINE_DOWNLOAD_BYTES),
             m.HONEST, REACHABLE),
    # DNS
    Scenario("dns-nxdomain", "ISP resolver says the name does not exist",
             _site("dns-nxdomain"), Conditions(dns=m.DNS_NXDOMAIN),
             _blocked("dns", "dns.nxdomain")),
    Scenario("dns-localhost", "ISP resolver answers 127.0.0.1",
             _site("dns-localhost"), Conditions(dns=m.DNS_SPOOF, spoofed=("127.0.0.1",)),
             _blocked("dns", "dns.bogon")),
    Scenario("dns-private", "ISP resolver answers a private address (10.10.34.35)",
             _site("dns-private", scheme="http"), Conditions(dns=m.DNS_SPOOF, spoofed=("10.10.34.35",)),
             _blocked("dns", "dns.bogon")),
    Scenario("dns-blockpage-http", "ISP resolver points an http site at its blockpage server",
             _site("dns-blockpage-http", scheme="http"),
             Conditions(dns=m.DNS_SPOOF, spoofed=(m.SPOOF_BLOCKPAGE,)),
             _blocked("dns", "dns.inconsistent", "http.blockpage")),
    Scenario("dns-blockpage-https", "ISP resolver points an https site at its blockpage server",
             _site("dns-blockpage-https"), Conditions(dns=m.DNS_SPOOF, spoofed=(m.SPOOF_BLOCKPAGE,)),
             _blocked("dns", "dns.inconsistent")),
    Scenario("dns-no-answer", "ISP resolver answers NOERROR with no address",
             _site("dns-no-answer"), Conditions(dns=m.DNS_NO_ANSWER),
             _blocked("dns", "dns.no_answer")),
    Scenario("dns-servfail", "ISP resolver fails (SERVFAIL) for the name only",
             _site("dns-servfail"), Conditions(dns=m.DNS_SERVFAIL),
             _blocked("dns", "dns.servfail")),
    Scenario("dns-replica", "ISP resolver answers another valid replica (a domestic CDN node)",
             _site("dns-replica", replica=True), Conditions(dns=m.DNS_SPOOF, spoofed=(m.SPOOF_REPLICA,)),
             REACHABLE),
    # TCP
    Scenario("tcp-syn-dropped", "SYNs to the site's address vanish",
             _site("tcp-syn-dropped"), Conditions(path=m.PATH_DROP),
             _blocked("tcp", "tcp.timeout")),
    Scenario("tcp-refused", "SYNs to the site's address are answered with RST",
             _site("tcp-refused"), Conditions(path=m.PATH_REFUSE),
             _blocked("tcp", "tcp.refused")),
    # TLS (Kazakhstan's usual way, triggered by the SNI)
    Scenario("tls-reset", "RST right after the ClientHello with this SNI",
             _site("tls-reset"), Conditions(tls=m.TLS_RESET),
             _blocked("tls", "tls.reset"),
             expect_without_control=_blocked("tls", "tls.reset", "tls.sni_filter")),
    Scenario("tls-fin", "connection closed (FIN) right after the ClientHello",
             _site("tls-fin"), Conditions(tls=m.TLS_FIN),
             _blocked("tls", "tls.eof"),
             expect_without_control=_blocked("tls", "tls.eof", "tls.sni_filter")),
    Scenario("tls-swallow", "ClientHello swallowed: the handshake never answers",
             _site("tls-swallow"), Conditions(tls=m.TLS_SWALLOW),
             _blocked("tls", "tls.timeout"),
             expect_without_control=_blocked("tls", "tls.timeout", "tls.sni_filter")),
    Scenario("tls-mitm-qaznet", "TLS intercepted with a 'Qaznet Trust Network' certificate",
             _site("tls-mitm-qaznet"), Conditions(tls=m.TLS_MITM),
             _blocked("tls", "tls.mitm"), expect_without_control=_blocked("tls", "tls.mitm")),
    # TLS traps of the real Internet (issue 22): a site's own misconfiguration is never a block;
    # the censor filters by name at any address; interception validates once its root is installed.
    Scenario("tls-incomplete-chain", "server omits its intermediate (its AIA names it), inside and outside",
             _site("tls-incomplete-chain", chain=m.CHAIN_NO_INTERMEDIATE_AIA), m.HONEST, REACHABLE,
             expect_without_control=REACHABLE),
    Scenario("tls-incomplete-chain-no-aia", "server omits its intermediate and names no AIA: nobody can complete it",
             _site("tls-incomplete-chain-no-aia", chain=m.CHAIN_NO_INTERMEDIATE), m.HONEST,
             _inconclusive("tls.chain_incomplete"),
             expect_without_control=_inconclusive("control.missing", "tls.chain_incomplete")),
    Scenario("tls-server-closes", "the server closes every ClientHello, whatever the name, for everyone",
             _site("tls-server-closes"), Conditions(tls_any_name=m.TLS_FIN), Expectation(v.DOWN, None, ("tls.eof",)),
             outside=Conditions(tls_any_name=m.TLS_FIN),
             expect_without_control=_inconclusive("control.missing", "tls.eof")),
    Scenario("tls-address-blocked", "every ClientHello to the site's address is silenced here, whatever the name",
             _site("tls-address-blocked"), Conditions(tls_any_name=m.TLS_SWALLOW), _blocked("tls", "tls.timeout"),
             expect_without_control=_inconclusive("control.missing", "tls.timeout")),
    Scenario("tls-cdn-sni", "ISP resolver answers an in-ISP CDN node; DPI silences the name at every address",
             _site("tls-cdn-sni", replica=True),
             Conditions(dns=m.DNS_SPOOF, spoofed=(m.SPOOF_REPLICA,), tls=m.TLS_SWALLOW),
             _blocked("tls", "tls.timeout", "tls.sni_filter"),
             expect_without_control=_blocked("tls", "tls.timeout", "tls.sni_filter")),
    Scenario("tls-sni-any-address", "DPI resets the name at each of the site's addresses (IPv4 and IPv6)",
             _site("tls-sni-any-address", ipv6=True), Conditions(tls=m.TLS_RESET),
             _blocked("tls", "tls.reset", "tls.sni_filter"),
             expect_without_control=_blocked("tls", "tls.reset", "tls.sni_filter")),
    Scenario("tls-mitm-installed-root", "interception by a root the user was made to install (it validates here)",
             _site("tls-mitm-installed-root"), Conditions(tls=m.TLS_MITM_INSTALLED),
             _blocked("tls", "tls.mitm"), expect_without_control=_blocked("tls", "tls.mitm")),
    Scenario("tls-mitm-isca", "interception by the 2020 'Information Security Certification Authority', installed here",
             _site("tls-mitm-isca"), Conditions(tls=m.TLS_MITM_ISCA),
             _blocked("tls", "tls.mitm"), expect_without_control=_blocked("tls", "tls.mitm")),
    # HTTP
    Scenario("http-blockpage-known", "ISP blockpage that a Kazakh fingerprint matches",
             _site("http-blockpage-known", scheme="http"), Conditions(http=m.HTTP_BLOCKPAGE),
             _blocked("http", "http.blockpage")),
    Scenario("http-blockpage-unknown", "blockpage no fingerprint knows; only the control reveals it",
             _site("http-blockpage-unknown", scheme="http"), Conditions(http=m.HTTP_UNKNOWN_BLOCKPAGE),
             _blocked("http", "http.diff"),
             # Without a control: it differs from the site's own HTTPS page - evidence, not proof.
             expect_without_control=_inconclusive("control.missing", "http.diff")),
    Scenario("http-redirect-blockpage", "302 redirect to the ISP's blockpage server",
             _site("http-redirect-blockpage", scheme="http"), Conditions(http=m.HTTP_REDIRECT_BLOCKPAGE),
             _blocked("http", "http.blockpage_redirect")),
    Scenario("http-reset", "RST after the HTTP request with this Host",
             _site("http-reset", scheme="http"), Conditions(http=m.HTTP_RESET),
             _blocked("http", "http.reset"), expect_without_control=_inconclusive("control.missing", "http.reset")),
    # Services: endpoints (host:port) blocked while the web front end may still load
    Scenario("service-datacentres-dropped", "messenger whose data centres (address literals) vanish, as Telegram's did",
             _site("service-datacentres-dropped"), m.HONEST, _blocked("tcp", "tcp.timeout"),
             endpoints=tuple(
                 EndpointBehaviour(dc, port, inside=Conditions(path=m.PATH_DROP), role="datacenter")
                 for dc in ("@dc1", "@dc2") for port in (80, 443))),
    Scenario("service-chat-reset", "messenger whose chat hosts are reset by SNI, registration untouched",
             _site("service-chat-reset"), m.HONEST, _blocked("tls", "tls.reset"),
             endpoints=tuple(
                 EndpointBehaviour(f"chat{n}.service-chat-reset.{LAB_DOMAIN}", port, tls=True,
                                   inside=Conditions(tls=m.TLS_RESET), role="chat")
                 for n in (1, 2) for port in (443, 5222))
             + (EndpointBehaviour(f"register.service-chat-reset.{LAB_DOMAIN}", 443, tls=True, role="registration"),)),
    Scenario("service-intercepted", "messenger API intercepted with the 'Qaznet Trust Network' root",
             _site("service-intercepted"), m.HONEST, _blocked("tls", "tls.mitm"),
             endpoints=(EndpointBehaviour(f"chat.service-intercepted.{LAB_DOMAIN}", 443, tls=True,
                                          inside=Conditions(tls=m.TLS_MITM), role="chat"),)),
    # Tor: the directory authorities by address (OR port over TLS, directory port over HTTP) and
    # obfs4 bridges (TCP), placed inside the lab like a messenger's data centres.
    Scenario("tor-reachable", "Tor: authorities' OR and directory ports and the bridges all answer "
             "(an OR port's certificate is checked by no one)",
             _site("tor-reachable"), m.HONEST, REACHABLE, endpoints=_tor_endpoints(), expect_without_control=REACHABLE),
    Scenario("tor-or-reset", "Tor: DPI resets the authorities' TLS at the ClientHello and their directory "
             "requests (Kazakhstan's DPI against Tor's TLS in 2012); the bridges still answer",
             _site("tor-or-reset"), m.HONEST, _blocked("tls", "tls.reset"),
             endpoints=_tor_endpoints(relay=Conditions(tls=m.TLS_RESET), directory=Conditions(http=m.HTTP_RESET)),
             expect_without_control=_blocked("tls", "tls.reset")),
    Scenario("tor-relays-dropped", "Tor: every authority's address dropped; the bridges still answer",
             _site("tor-relays-dropped"), m.HONEST, _blocked("tcp", "tcp.timeout"),
             endpoints=_tor_endpoints(relay=Conditions(path=m.PATH_DROP), directory=Conditions(path=m.PATH_DROP))),
    Scenario("tor-bridges-dropped", "Tor: the default bridges' addresses dropped, the authorities answer",
             _site("tor-bridges-dropped"), m.HONEST, _blocked("tcp", "tcp.timeout"),
             endpoints=_tor_endpoints(bridge=Conditions(path=m.PATH_DROP))),
    # HTTP/3: QUIC judged beside the site's own verdict (the page loads over TCP either way).
    Scenario("quic-reachable", "site serving HTTP/3: QUIC and TLS over TCP both work",
             _site("quic-reachable", quic=True), m.HONEST, Expectation(v.REACHABLE, quic=REACHABLE),
             expect_without_control=Expectation(v.REACHABLE, quic=REACHABLE)),
    Scenario("quic-udp-dropped", "UDP/443 to the site's address dropped; TLS over TCP untouched",
             _site("quic-udp-dropped", quic=True), Conditions(quic=m.QUIC_DROP),
             Expectation(v.REACHABLE, quic=_blocked("quic", "quic.timeout")),
             expect_without_control=Expectation(v.REACHABLE, quic=_inconclusive("quic.timeout", "control.missing"))),
    Scenario("quic-initial-by-name", "QUIC Initials naming the site dropped (the censor decrypts the "
             "Initial and reads its SNI); TLS over TCP untouched",
             _site("quic-initial-by-name", quic=True), Conditions(quic=m.QUIC_DROP_NAME),
             Expectation(v.REACHABLE, quic=_blocked("quic", "quic.timeout")),
             expect_without_control=Expectation(v.REACHABLE, quic=_inconclusive("quic.timeout", "control.missing"))),
    # Throughput and things that must not look like interference
    Scenario("throttled", f"SNI throttling to {THROTTLE_BYTES_PER_S // 1000} KB/s after a 16 KB burst",
             _site("throttled", download_bytes=LARGE_DOWNLOAD_BYTES),
             Conditions(rate_bytes_per_s=THROTTLE_BYTES_PER_S),
             Expectation(v.THROTTLED, None, ("throughput.low",)),
             # Without a control: a low rate alone, with a normal handshake, is no evidence.
             expect_without_control=REACHABLE),
    Scenario("slow-site", f"slow but working everywhere ({SLOW_SITE_DELAY_S:g} s to answer)",
             _site("slow-site"), Conditions(delay_s=SLOW_SITE_DELAY_S), REACHABLE,
             outside=Conditions(delay_s=SLOW_SITE_DELAY_S)),
    Scenario("dynamic-page", "page that changes on every request",
             _site("dynamic-page", scheme="http", page=m.PAGE_DYNAMIC), m.HONEST, REACHABLE,
             expect_without_control=REACHABLE),  # http://, changing on every request: still its HTTPS page
    Scenario("large-page", "large page and download at full speed",
             _site("large-page", page=m.PAGE_LARGE, download_bytes=LARGE_DOWNLOAD_BYTES),
             m.HONEST, REACHABLE),
    Scenario("http-to-https", "healthy redirect from http to https",
             _site("http-to-https", scheme="http", https_redirect=True), m.HONEST, REACHABLE),
    # Dead sites: the stale lists are full of them, and they must never read "blocked".
    Scenario("site-down", "server down everywhere (connection refused inside and outside)",
             _site("site-down"), Conditions(path=m.PATH_REFUSE),
             Expectation(v.DOWN), outside=Conditions(path=m.PATH_REFUSE)),
    Scenario("domain-gone", "domain expired everywhere (NXDOMAIN inside and outside)",
             _site("domain-gone"), Conditions(dns=m.DNS_NXDOMAIN),
             Expectation(v.DOWN), outside=Conditions(dns=m.DNS_NXDOMAIN)),
    # Issue 22, items 5-7: what is not censorship though it looks like it, and throttling that does not
    # look like the lab's first throttler; each with what kzprobe must say without a control too.
    Scenario("slow-everywhere", f"server slow for everyone ({SLOW_SERVER_BYTES_PER_S // 1000} KB/s from its uplink)",
             _site("slow-everywhere", download_bytes=BASELINE_DOWNLOAD_BYTES),
             Conditions(rate_bytes_per_s=SLOW_SERVER_BYTES_PER_S), REACHABLE,
             outside=Conditions(rate_bytes_per_s=SLOW_SERVER_BYTES_PER_S), expect_without_control=REACHABLE),
    Scenario("slow-render", f"backend renders slowly: the page flows for {SLOW_RENDER_S:g} s, longer than the timeout",
             _site("slow-render"), Conditions(drip_s=SLOW_RENDER_S), REACHABLE,
             outside=Conditions(drip_s=SLOW_RENDER_S), expect_without_control=REACHABLE),
    Scenario("transfer-freeze", f"transfer frozen after {FREEZE_AFTER_BYTES // 1000} KB, connection left open",
             _site("transfer-freeze"), Conditions(freeze_after=FREEZE_AFTER_BYTES),
             Expectation(v.THROTTLED, None, ("throughput.freeze",)),
             expect_without_control=_inconclusive("control.missing", "throughput.freeze")),
    Scenario("policed-page", f"a {POLICER_BYTES_PER_S // 1000} KB/s policer on a 40 KB page",
             _site("policed-page", page=m.PAGE_MEDIUM),
             Conditions(rate_bytes_per_s=POLICER_BYTES_PER_S, burst_bytes=POLICER_BURST_BYTES),
             Expectation(v.THROTTLED, None, ("throughput.slow_page",)),
             # Without a control: a normal handshake and no control's copy - no proof of the path.
             expect_without_control=REACHABLE),
    Scenario("slow-handshake", f"the ClientHello for this name held {SLOW_HANDSHAKE_S:g} s (KZ 2022-23 throttling)",
             _site("slow-handshake"), Conditions(tls_delay_s=SLOW_HANDSHAKE_S),
             Expectation(v.THROTTLED, None, ("throughput.slow_handshake",)),
             expect_without_control=Expectation(v.THROTTLED, None, ("throughput.slow_handshake",))),
    Scenario("slow-server-handshake",
             f"the server takes {SLOW_HANDSHAKE_S:g} s to answer every ClientHello, for everyone",
             _site("slow-server-handshake"), Conditions(tls_delay_any_name_s=SLOW_HANDSHAKE_S), REACHABLE,
             outside=Conditions(tls_delay_any_name_s=SLOW_HANDSHAKE_S),
             # Without a control: the neutral name's handshake to the same address is as slow.
             expect_without_control=REACHABLE),
    Scenario("geo-451", "the site itself answers 451 'not available in your country' here",
             _site("geo-451"), Conditions(site=m.SITE_451),
             _inconclusive("http.site_refused"), expect_without_control=_inconclusive("http.site_refused")),
    Scenario("cloudflare-challenge", "the site's CDN answers a Cloudflare bot challenge here (403)",
             _site("cloudflare-challenge"), Conditions(site=m.SITE_CHALLENGE),
             _inconclusive("http.site_refused"), expect_without_control=_inconclusive("http.site_refused")),
    Scenario("redirect-loop-tls", "the site redirects in a loop here, every hop over validated TLS",
             _site("redirect-loop-tls"), Conditions(site=m.SITE_LOOP),
             _inconclusive("http.site_loop"), expect_without_control=_inconclusive("http.site_loop")),
    Scenario("national-redirect", "http:// site sends visitors from here to its national domain over HTTPS",
             _site("national-redirect", scheme="http", https_redirect=False,
                   aliases=(f"national.{NATIONAL_DOMAIN}",)),
             Conditions(site=m.SITE_REDIRECT, redirect_to=f"https://national.{NATIONAL_DOMAIN}/"), REACHABLE,
             outside=Conditions(site=m.SITE_REDIRECT, redirect_to=f"https://national-redirect.{LAB_DOMAIN}/en/"),
             expect_without_control=REACHABLE),  # its own HTTPS fetch goes to the national domain too
    # A server failing for this region only, over plain HTTP (and its HTTPS as well): not a block.
    Scenario("edge-503", "http:// site whose server (an edge of its CDN) answers 503 here, the page abroad",
             _site("edge-503", scheme="http", https_redirect=False), Conditions(site=m.SITE_503),
             _inconclusive("http.server_error"), expect_without_control=_inconclusive("control.missing")),
    # The same at a domestic edge only resolvers here answer (GeoDNS): the site's HTTPS fetch
    # validates the name there, so the answer is the site's, not a lie.
    Scenario("edge-503-replica", "http:// site whose domestic edge, answered by the resolvers here only, fails (503)",
             _site("edge-503-replica", scheme="http", https_redirect=False, replica=True),
             Conditions(dns=m.DNS_SPOOF, spoofed=(m.SPOOF_REPLICA,), site=m.SITE_503),
             _inconclusive("http.server_error"), expect_without_control=_inconclusive("control.missing")),
    # GeoDNS: the ISP's resolver answers the site's domestic replica, which serves this region its
    # regional edition, over plain HTTP and over HTTPS validated for the name (read blocked/dns
    # [dns.inconsistent, http.diff] before edge-503-replica's fix: the page differs from abroad's).
    Scenario("geodns-regional", "http:// site on GeoDNS: its domestic replica serves its regional edition here",
             _site("geodns-regional", scheme="http", https_redirect=False, replica=True),
             Conditions(dns=m.DNS_SPOOF, spoofed=(m.SPOOF_REPLICA,), site=m.SITE_REGIONAL), REACHABLE,
             expect_without_control=REACHABLE),
    Scenario("http-redirect-elsewhere", "plain-HTTP redirect by Host to a validated page on another site",
             _site("http-redirect-elsewhere", scheme="http", https_redirect=False,
                   aliases=(f"portal.{PORTAL_DOMAIN}",)),
             Conditions(http=m.HTTP_REDIRECT_AWAY, redirect_to=f"https://portal.{PORTAL_DOMAIN}/"),
             _inconclusive("http.offsite_redirect"), expect_without_control=_inconclusive("http.offsite_redirect")),
    Scenario("http-host-keyword", f"blockpage no fingerprint knows for any Host with {HOST_KEYWORD!r}",
             _site(f"{HOST_KEYWORD}-mirror", scheme="http", https_redirect=False),
             Conditions(http=m.HTTP_UNKNOWN_BLOCKPAGE, keyword=HOST_KEYWORD), _blocked("http", "http.diff"),
             expect_without_control=_inconclusive("control.missing", "http.diff")),
    Scenario("http-url-keyword", f"Kazakh blockpage for any URL with {URL_KEYWORD!r} in it",
             _site("url-keyword", scheme="http", https_redirect=False, path=f"/news/{URL_KEYWORD}-2011.html"),
             Conditions(http=m.HTTP_BLOCKPAGE, keyword=URL_KEYWORD), _blocked("http", "http.blockpage"),
             expect_without_control=_blocked("http", "http.blockpage")),
    # Keyword targets: the word on the baselines, beside a neutral twin (the twin is the control,
    # so the verdicts are the same without a control scan).
    Scenario("keyword-path", f"Kazakh blockpage for any URL path with {PATH_KEYWORD!r}, at any address",
             _site("keyword-path", keyword=PATH_KEYWORD),
             Conditions(http=m.HTTP_BLOCKPAGE, keyword=PATH_KEYWORD, keyword_at=m.KEYWORD_IN_PATH),
             _blocked("http", "keyword.path"), expect_without_control=_blocked("http", "keyword.path")),
    Scenario("keyword-host", f"RST for any Host header with {HOST_KEYWORD_ONLY!r}, at any address",
             _site("keyword-host", keyword=HOST_KEYWORD_ONLY),
             Conditions(http=m.HTTP_RESET, keyword=HOST_KEYWORD_ONLY, keyword_at=m.KEYWORD_IN_HOST),
             _blocked("http", "keyword.host"), expect_without_control=_blocked("http", "keyword.host")),
    Scenario("keyword-sni", f"ClientHello naming anything with {SNI_KEYWORD!r} swallowed, at any address",
             _site("keyword-sni", keyword=SNI_KEYWORD),
             Conditions(tls=m.TLS_SWALLOW, keyword=SNI_KEYWORD, keyword_at=m.KEYWORD_IN_SNI),
             _blocked("tls", "keyword.sni"), expect_without_control=_blocked("tls", "keyword.sni")),
    Scenario("keyword-passes", f"the word {PASSING_KEYWORD!r} passes everywhere",
             _site("keyword-passes", keyword=PASSING_KEYWORD), m.HONEST, REACHABLE,
             expect_without_control=REACHABLE),
    # Issue 22, traps that are not censorship (each also scanned without a control scan).
    Scenario("dns-flaky", "ISP resolver fails the first query for the name (SERVFAIL) and answers the next",
             _site("dns-flaky"), Conditions(dns=m.DNS_FLAKY), REACHABLE, expect_without_control=REACHABLE),
    Scenario("dns-blockpage-shared", "a third name the ISP resolver points at its blockpage server (a censor, "
             "not a portal: the baselines work)",
             _site("dns-blockpage-shared"), Conditions(dns=m.DNS_SPOOF, spoofed=(m.SPOOF_BLOCKPAGE,)),
             _blocked("dns", "dns.inconsistent"), expect_without_control=_blocked("dns", "dns.inconsistent")),
    Scenario("domestic-sni", "domestic site whose ClientHello is reset by SNI (blocked, with or without the cut)",
             _site("domestic-sni", hosting=m.DOMESTIC), Conditions(tls=m.TLS_RESET),
             _blocked("tls", "tls.reset"), expect_without_control=_blocked("tls", "tls.reset")),
    Scenario("domestic-refused", "domestic site whose SYNs are answered with RST here only",
             _site("domestic-refused", hosting=m.DOMESTIC), Conditions(path=m.PATH_REFUSE),
             _blocked("tcp", "tcp.refused"),
             expect_without_control=Expectation(v.INCONCLUSIVE, None, ("control.missing", "tcp.refused"))),
    Scenario("service-outage-refused", "messenger whose chat servers all refuse connections, for everyone "
             "(a global outage, not a block)",
             _site("service-outage-refused"), m.HONEST, Expectation(v.DOWN, None, ("tcp.refused",)),
             endpoints=tuple(
                 EndpointBehaviour(f"chat{n}.service-outage-refused.{LAB_DOMAIN}", port, role="chat",
                                   inside=Conditions(path=m.PATH_REFUSE), outside=Conditions(path=m.PATH_REFUSE))
                 for n in (1, 2) for port in (443, 5222)),
             expect_without_control=Expectation(v.INCONCLUSIVE, None, ("tcp.refused", "control.missing"))),
    # Messengers breaking for their own reasons: a stale pin, a server refusing TLS (service_traps.py).
    *service_trap_scenarios(LAB_DOMAIN),
)

# Scanned without a control scan too, besides their own rows' no_control: the mass-failure floor
# (every data centre silent, while another target here is blocked by its own signature) and the
# outages that must stay outages or unclear.
NO_CONTROL: Final[dict[str, Expectation]] = {
    "service-datacentres-dropped": _blocked("tcp", "tcp.timeout"),
    "site-down": Expectation(v.INCONCLUSIVE, None, ("control.missing", "tcp.refused")),
    "domain-gone": Expectation(v.DOWN, None, ("dns.nxdomain",)),
}

_BASELINE_IDS: Final = tuple(s.id for s in SCENARIOS if s.site.baseline)
BASELINE_IDS: Final = _BASELINE_IDS  # every scan needs them (the runner's scans without a control too)
# Whole-network runs (network_runs.py): the cut, offline, captive portals, HTTPS inspected here.
NETWORK_RUNS: Final[tuple[NetworkRun, ...]] = network_runs(_BASELINE_IDS)


def scenario_by_id() -> dict[str, Scenario]:
    return {s.id: s for s in SCENARIOS}


def no_control_expectations(scenarios: Sequence[Scenario]) -> dict[str, Expectation]:
    """What the inside scan without a control scan must say, for those of `scenarios` that have it."""
    return {s.id: s.expect_without_control or NO_CONTROL[s.id]
            for s in scenarios if s.expect_without_control or s.id in NO_CONTROL}


def select(ids: Sequence[str] | None) -> tuple[Scenario, ...]:
    """The scenarios named (in catalogue order), plus the baselines every scan needs.

    Raises KeyError naming the unknown ids."""
    if not ids:
        return SCENARIOS
    known = scenario_by_id()
    unknown = [i for i in ids if i not in known and i not in {r.id for r in NETWORK_RUNS}]
    if unknown:
        raise KeyError(", ".join(unknown))
    wanted = set(ids) | set(_BASELINE_IDS)
    for run in NETWORK_RUNS:
        if run.id in ids:
            wanted |= set(run.scenario_ids)
    return tuple(s for s in SCENARIOS if s.id in wanted)


def select_runs(ids: Sequence[str] | None) -> tuple[NetworkRun, ...]:
    """The network runs named, all of them when no id is given."""
    if not ids:
        return NETWORK_RUNS
    return tuple(r for r in NETWORK_RUNS if r.id in ids)
