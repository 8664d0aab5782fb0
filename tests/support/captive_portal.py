"""A scan behind a captive portal, as the probes record it: every name resolved to the portal (or
to its own address, the gateway intercepting), HTTP redirected to the login page, TLS reaching
the portal's certificate; or, DNS left honest, every plain-HTTP request answered with the
portal's own login page. Shared by the analysis and the CLI tests."""

from __future__ import annotations

from kzprobe.report import vocabulary as v
from support.observations import dns, hop, result, tcp, tls

PORTAL = "10.77.0.1"
LOGIN = "login.wifi.example"
PORTAL_CHAIN = [{"subject": f"CN={LOGIN}", "issuer": "CN=R11,O=Let's Encrypt,C=US", "sans": [LOGIN],
                 "not_before": "", "not_after": "", "sha256": "cd" * 32}]


def _login_hops(host: str, address: str, *, portal: str = PORTAL, login_scheme: str = "http",
                status: int = 302) -> list[dict]:
    login = f"{login_scheme}://{LOGIN}/login?url=http://{host}/"
    return [hop(f"http://{host}/", status, address=address, title=None, body="", location=login),
            hop(login, 200, address=portal, title="Wi-Fi login",
                body="<title>Wi-Fi login</title> Accept the terms of use to browse the Internet.")]


def behind_portal(host: str, scheme: str = "https", *, hijacked: bool = True, address: str = "88.198.3.3",
                  portal: str = PORTAL, login_scheme: str = "http", status: int = 302) -> dict:
    """What a target shows behind a portal: its name resolved to the portal (hijacked) or to its
    own address (honest DNS, the gateway intercepting), HTTP redirected (`status`) to the login
    page, TLS reaching the portal's certificate. `login_scheme` "https": the login page is served
    over HTTPS under the portal's own name, with a real certificate for it."""
    where = portal if hijacked else address
    obs = {"dns": dns(host, [where]), "control_dns": dns(host, failure=v.DNS_TIMEOUT, resolver="https://1.1.1.1/dns-query"),
           "tcp": [tcp(where, host=host, port=443 if scheme == "https" else 80)], "tls": [], "http": []}
    if scheme == "https":
        obs["tls"] = [tls(where, v.SSL_INVALID_HOSTNAME, host, completed=True, verified=False, chain=PORTAL_CHAIN)]
    else:
        obs["http"] = _login_hops(host, where, portal=portal, login_scheme=login_scheme, status=status)
        if login_scheme == "https":
            obs["redirect_dns"] = [dns(LOGIN, [portal])]
            obs["tcp"].append(tcp(portal, host=LOGIN))
            obs["tls"] = [tls(portal, host=LOGIN, chain=PORTAL_CHAIN)]
    return obs


def portal_scan(*, hijacked: bool = True, others: int = 4, **portal: object) -> list[dict]:
    """Both baselines (the domestic one plain HTTP) and `others` sites, half of them http://, behind
    the portal; `portal`: behind_portal's portal, login_scheme and status."""
    scan = [result(behind_portal("intl.example", hijacked=hijacked, address="88.198.2.10", **portal),
                   ident="intl-baseline", host="intl.example", baseline="international"),
            result(behind_portal("dom.example", "http", hijacked=hijacked, address="95.57.2.10", **portal),
                   ident="dom-baseline", host="dom.example", scheme="http", baseline="domestic")]
    for n in range(others):
        host = f"site{n}.example"
        scheme = "http" if n % 2 else "https"
        scan.append(result(behind_portal(host, scheme, hijacked=hijacked, address=f"88.198.4.{n + 1}", **portal),
                           ident=f"site{n}", host=host, scheme=scheme))
    return scan


def login_page(url: str, *, echo: bool = True) -> str:
    """The portal's own page, in place of any site's; `echo`: with the URL it stopped in a form field."""
    field = f'<input type="hidden" name="url" value="{url}">' if echo else ""
    return ("<!DOCTYPE html><html><head><title>Wi-Fi: log in</title></head><body><h1>Guest Wi-Fi</h1>"
            f"<p>Accept the terms of use to browse the Internet.</p><form method=post>{field}"
            "<button>Connect</button></form></body></html>")


def behind_page_portal(host: str, scheme: str = "https", *, address: str = "88.198.3.3", status: int = 200,
                       echo: bool = True) -> dict:
    """What a target shows behind a portal that leaves DNS alone: its own address, but the portal's
    login page for plain HTTP (no redirect) and the portal's certificate for TLS."""
    obs = {"dns": dns(host, [address]), "control_dns": dns(host, [address], resolver="https://1.1.1.1/dns-query"),
           "tcp": [tcp(address, host=host, port=443 if scheme == "https" else 80)], "tls": [], "http": []}
    if scheme == "https":
        obs["tls"] = [tls(address, v.SSL_INVALID_HOSTNAME, host, completed=True, verified=False, chain=PORTAL_CHAIN)]
    else:
        url = f"http://{host}/"
        obs["http"] = [hop(url, status, address=address, title="Wi-Fi: log in", body=login_page(url, echo=echo))]
    return obs


def page_portal_scan(*, others: int = 4, status: int = 200, echo: bool = True) -> list[dict]:
    """Both baselines (the domestic one plain HTTP) and `others` sites, half of them http://."""
    scan = [result(behind_page_portal("intl.example", address="88.198.2.10"), ident="intl-baseline",
                   host="intl.example", baseline="international"),
            result(behind_page_portal("dom.example", "http", address="95.57.2.10", status=status, echo=echo),
                   ident="dom-baseline", host="dom.example", scheme="http", baseline="domestic")]
    for n in range(others):
        host = f"site{n}.example"
        scheme = "http" if n % 2 == 0 else "https"
        scan.append(result(behind_page_portal(host, scheme, address=f"88.198.4.{n + 1}", status=status, echo=echo),
                           ident=f"site{n}", host=host, scheme=scheme))
    return scan
