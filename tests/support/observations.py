"""Builders of observations, results and reports for the analysis tests: no network, plain dicts.

The world: a news site abroad (news.example at 88.198.1.10), an international baseline
(88.198.2.10) and a domestic one (95.57.2.10), all healthy unless a test says otherwise. Each
builder returns the JSON-ready shape of kzprobe/observations.py, so tests read as "this is what
the probe saw".
"""

from __future__ import annotations

import copy
from typing import Any

from kzprobe.analysis import analyse_scan

HOST = "news.example"
ADDRESS = "88.198.1.10"
INTL_BASELINE = "intl-baseline"
DOM_BASELINE = "dom-baseline"

ARTICLE_TITLE = "News Example - новости Казахстана"
_ARTICLE_WORDS = ("Алматы Астана парламент сайлау жаңалықтар экономика президент министрлік "
                  "tenge budget report election court ruling newsroom editorial analysis region").split()


def article_body(title: str = ARTICLE_TITLE, paragraphs: int = 40, extra: str = "") -> str:
    text = "\n".join("<p>" + " ".join(_ARTICLE_WORDS[(i * 7 + j) % len(_ARTICLE_WORDS)] for j in range(60))
                     + "</p>" for i in range(paragraphs))
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f"<nav>Главная Политика Экономика Общество</nav>{text}{extra}<footer>news.example</footer></body></html>")


KZ_BLOCKPAGE = ("<html><head><title>Страница заблокирована</title></head><body><h1>Страница заблокирована</h1>"
                "<p>Доступ к запрашиваемому ресурсу ограничен.</p></body></html>")
UNKNOWN_BLOCKPAGE = ("<html><head><title>Qazline: ескерту</title></head><body><p>Бұл бет уақытша "
                     "қолжетімсіз. Эта страница временно недоступна.</p></body></html>")

QAZNET_CHAIN = [
    {"subject": f"CN={HOST}", "issuer": "CN=Security Certificate,C=KZ", "sans": [HOST],
     "not_before": "", "not_after": "", "sha256": "11" * 32},
    {"subject": "CN=Security Certificate,C=KZ", "issuer": "CN=Qaznet Trust Network,C=KZ", "sans": [],
     "not_before": "", "not_after": "", "sha256": "22" * 32},
]


def real_chain(host: str = HOST) -> list[dict]:
    return [{"subject": f"CN={host}", "issuer": "CN=R11,O=Let's Encrypt,C=US", "sans": [host],
             "not_before": "", "not_after": "", "sha256": "ab" * 32}]


def dns(host: str = HOST, addresses: list[str] | None = None, failure: str | None = None,
        resolver: str = "system") -> dict:
    addresses = [] if failure else (addresses if addresses is not None else [ADDRESS])
    return {"hostname": host, "resolver": resolver, "addresses": addresses, "failure": failure,
            "queries": [], "duration_ms": 5.0}


def tcp(address: str = ADDRESS, failure: str | None = None, host: str = HOST, port: int = 443) -> dict:
    return {"hostname": host, "address": address, "port": port, "failure": failure, "duration_ms": 10.0}


def tls(address: str = ADDRESS, failure: str | None = None, host: str = HOST, *,
        completed: bool | None = None, verified: bool | None = None, chain: list[dict] | None = None) -> dict:
    completed = failure is None if completed is None else completed
    return {"hostname": host, "address": address, "port": 443, "sni": host, "failure": failure,
            "handshake_completed": completed, "verified": (failure is None) if verified is None else verified,
            "version": "TLSv1.3" if completed else None, "cipher": None, "alpn": None,
            "peer_chain": chain if chain is not None else (real_chain(host) if completed else []),
            "duration_ms": 30.0}


def neutral(address: str = ADDRESS, failure: str | None = None, host: str = HOST, *,
            tcp_failure: str | None = None) -> tuple[dict, ...]:
    """The SNI split: the same address tried again with a neutral name after a failure after the
    ClientHello ((tcp, tls) observations marked "neutral_sni"; only tcp when it did not connect)."""
    connect = dict(tcp(address, tcp_failure, host=host), purpose="neutral_sni")
    if tcp_failure:
        return (connect,)
    completed = failure is None
    handshake = dict(tls(address, failure, host, completed=completed, verified=False, chain=[]),
                     sni="example.com", purpose="neutral_sni")
    return connect, handshake


def confirm(address: str = ADDRESS, failure: str | None = None, host: str = HOST, *,
            tcp_failure: str | None = None) -> tuple[dict, ...]:
    """The real name tried once more after the neutral name was answered ((tcp, tls) marked
    "sni_confirm"; only tcp when it did not connect): `failure` None is a flaky server passing it."""
    connect = dict(tcp(address, tcp_failure, host=host), purpose="sni_confirm")
    if tcp_failure:
        return (connect,)
    return connect, dict(tls(address, failure, host), purpose="sni_confirm")


def add_split(obs: dict, address: str = ADDRESS, again: str | None = None, host: str = HOST, *,
              neutral_failure: str | None = None, tcp_failure: str | None = None) -> dict:
    """Append the SNI split to `obs`: the neutral name (answered, or failing with
    `neutral_failure` / `tcp_failure`) and, when it was answered, the real name once more with
    `again` (None: it passed)."""
    extra = neutral(address, neutral_failure, host, tcp_failure=tcp_failure)
    if tcp_failure is None and neutral_failure in (None, "ssl_failed_handshake"):
        extra = (*extra, *confirm(address, again, host))
    obs.setdefault("tcp", []).extend(o for o in extra if "sni" not in o)
    obs.setdefault("tls", []).extend(o for o in extra if "sni" in o)
    return obs


def hop(url: str | None = None, status: int | None = 200, *, address: str | None = ADDRESS,
        title: str | None = ARTICLE_TITLE, body: str | None = None, headers: dict | None = None,
        location: str | None = None, failure: str | None = None, body_length: int | None = None,
        truncated: bool = False, body_read_ms: float | None = 20.0) -> dict:
    url = url or f"https://{HOST}/"
    if status is None:
        body, title, body_read_ms = "", None, None
    elif body is None:
        body = article_body(title or "") if title else ""
    return {"url": url, "method": "GET", "address": address, "port": 443 if url.startswith("https") else 80,
            "status": status,
            "headers": headers if headers is not None else {"content-type": "text/html", "server": "nginx"},
            "location": location, "body_length": (body_length if body_length is not None else len(body.encode()))
            if status is not None else None, "body_sha256": None, "body_truncated": truncated, "body": body,
            "title": title, "body_read_ms": body_read_ms, "failure": failure,
            "timings": {"dns_ms": None, "connect_ms": None, "tls_ms": None, "first_byte_ms": 10.0, "total_ms": 40.0}}


def download(url: str | None = None, *, kbps: float = 50_000.0, seconds: float = 0.05, burst_bytes: int = 0,
             status: int = 200, complete: bool | None = None, failure: str | None = None,
             stall_ms: float = 0.0, first_byte_ms: float = 10.0) -> dict:
    """A download sampled every 50 ms: a first chunk (`burst_bytes` plus 50 ms worth), then
    `kbps` (KB/s = bytes per ms) for `seconds`, then `stall_ms` of silence."""
    step = 50.0
    total = burst_bytes + int(kbps * step)
    samples = [{"t_ms": first_byte_ms, "bytes": total}]
    steps = int(seconds * 1000 // step)
    for i in range(1, steps + 1):
        total += int(kbps * step)
        samples.append({"t_ms": round(first_byte_ms + i * step, 1), "bytes": total})
    duration = first_byte_ms + steps * step + stall_ms
    return {"url": url or f"https://{HOST}/big.bin", "address": ADDRESS, "status": status, "bytes": total,
            "duration_ms": duration, "first_byte_ms": first_byte_ms,
            "kilobytes_per_second": round(total / max(steps * step, 1.0), 1), "samples": samples,
            "longest_stall_ms": max(stall_ms, step),
            "complete": (failure is None and not stall_ms) if complete is None else complete,
            "failure": failure}


def web(host: str = HOST, scheme: str = "https", address: str = ADDRESS, *, title: str = ARTICLE_TITLE,
        body: str | None = None, control_resolver: bool = True, with_download: dict | None = None) -> dict:
    """Observations of a healthy web target."""
    url = f"{scheme}://{host}/"
    obs: dict[str, Any] = {"dns": dns(host, [address])}
    if control_resolver:
        obs["control_dns"] = dns(host, [address], resolver="https://1.1.1.1/dns-query")
    obs["tcp"] = [tcp(address, host=host, port=443 if scheme == "https" else 80)]
    obs["tls"] = [tls(address, host=host)] if scheme == "https" else []
    obs["http"] = [hop(url, address=address, title=title, body=body)]
    if with_download is not None:
        obs["download"] = with_download
    return obs


def result(observations: dict, *, ident: str = "news", url: str | None = None, baseline: str | None = None,
           host: str = HOST, scheme: str = "https", download_url: str | None = None) -> dict:
    target: dict[str, Any] = {"id": ident, "url": url or f"{scheme}://{host}/", "name": ident}
    if baseline:
        target["baseline"] = baseline
    if download_url:
        target["download"] = download_url
    return {"target": target, "observations": observations, "started_at": "2026-11-22T10:00:00Z",
            "duration_ms": 100.0}


def baselines(*, international: bool = True, domestic: bool = True, kbps: float = 20_000.0) -> list[dict]:
    """The scan's two baselines, each with a fast 1 MB-ish download (or failing)."""
    out = []
    for ident, host, address, kind, works in (
        (INTL_BASELINE, "intl.example", "88.198.2.10", "international", international),
        (DOM_BASELINE, "dom.example", "95.57.2.10", "domestic", domestic),
    ):
        if works:
            obs = web(host, address=address, title=f"{host} home page",
                      with_download=download(f"https://{host}/1mb.bin", kbps=kbps, seconds=0.06))
        else:
            obs = {"dns": dns(host, [address]), "tcp": [tcp(address, "generic_timeout_error", host=host)],
                   "tls": []}
        out.append(result(obs, ident=ident, host=host, baseline=kind, download_url=f"https://{host}/1mb.bin"))
    return out


def report(results: list[dict], connectivity: str = "online") -> dict:
    return {"format": "kzprobe-report", "format_version": 1, "scan_id": "control", "complete": True,
            "connectivity": connectivity, "results": copy.deepcopy(results)}


def control_of(*results_: dict, connectivity: str = "online") -> dict:
    """A control report holding the given (healthy, usually) results plus healthy baselines."""
    return report([*baselines(), *results_], connectivity)


def verdict_of(target: dict, control: dict | None = None, *, scan_baselines: list[dict] | None = None,
               others: list[dict] | None = None) -> dict:
    """Analyse one target among healthy baselines (and `others`); its verdict dict."""
    base = baselines() if scan_baselines is None else scan_baselines
    analysis = analyse_scan([*base, *(others or []), target], control)
    return analysis.verdicts[-1]


HTTP_URL = f"http://{HOST}/"


def http_target(**changes) -> dict:
    """A healthy plain-HTTP target's result, with some observations replaced."""
    obs = web(scheme="http")
    obs.update(changes)
    return result(obs, scheme="http")


def https_target(**changes) -> dict:
    """A healthy HTTPS target's result, with some observations replaced."""
    obs = web()
    obs.update(changes)
    return result(obs)
