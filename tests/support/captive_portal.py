"""A scan behind a captive portal, as the probes record it: every name resolved to the portal (or
to its own address, the gateway intercepting), HTTP redirected to the login page, TLS reaching
the portal's certificate. Shared by the analysis and the CLI tests."""

from __future__ import annotations

from kzprobe.report import vocabulary as v
from support.observations import dns, hop, result, tcp, tls

PORTAL = "10.77.0.1"
LOGIN = "login.wifi.example"
PORTAL_CHAIN = [{"subject": f"CN={LOGIN}", "issuer": "CN=R11,O=Let's Encrypt,C=US", "sans": [LOGIN],
                 "not_before": "", "not_after": "", "sha256": "cd" * 32}]


def _login_hops(host: str, address: str) -> list[dict]:
    return [hop(f"http://{host}/", 302, address=address, title=None, body="",
                location=f"http://{LOGIN}/login?url=http://{host}/"),
            hop(f"http://{LOGIN}/login?url=http://{host}/", 200, address=PORTAL, title="Wi-Fi login",
                body="<title>Wi-Fi login</title> Accept the terms of use to browse the Internet.")]


def behind_portal(host: str, scheme: str = "https", *, hijacked: bool = True, address: str = "88.198.3.3") -> dict:
    """What a target shows behind a portal: its name resolved to the portal (hijacked) or to its
    own address (honest DNS, the gateway intercepting), HTTP redirected to the login page, TLS
    reaching the portal's certificate."""
    where = PORTAL if hijacked else address
    obs = {"dns": dns(host, [where]), "control_dns": dns(host, failure=v.DNS_TIMEOUT, resolver="https://1.1.1.1/dns-query"),
           "tcp": [tcp(where, host=host, port=443 if scheme == "https" else 80)], "tls": [], "http": []}
    if scheme == "https":
        obs["tls"] = [tls(where, v.SSL_INVALID_HOSTNAME, host, completed=True, verified=False, chain=PORTAL_CHAIN)]
    else:
        obs["http"] = _login_hops(host, where)
    return obs


def portal_scan(*, hijacked: bool = True, others: int = 4) -> list[dict]:
    scan = [result(behind_portal("intl.example", hijacked=hijacked, address="88.198.2.10"), ident="intl-baseline",
                   host="intl.example", baseline="international"),
            result(behind_portal("dom.example", "http", hijacked=hijacked, address="95.57.2.10"), ident="dom-baseline",
                   host="dom.example", scheme="http", baseline="domestic")]
    for n in range(others):
        host = f"site{n}.example"
        scheme = "http" if n % 2 else "https"
        scan.append(result(behind_portal(host, scheme, hijacked=hijacked, address=f"88.198.4.{n + 1}"),
                           ident=f"site{n}", host=host, scheme=scheme))
    return scan
