"""Builders of kzprobe reports and journals for tests: realistic by default, broken on demand.

Each builder returns plain dicts shaped as report format version 1 (docs/report-format.md), with
observations consistent with the verdict (a TLS block has a reset handshake, a blockpage has
its body), so the analysts' figures come out of real-looking data. Addresses are from the
documentation ranges (RFC 5737 / RFC 3849) except Telegram's published data-centre addresses,
which appear only as strings: nothing here is ever contacted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kzprobe.report import vocabulary as v

WEB_ADDRESS = "198.51.100.10"
WEB_ADDRESS_V6 = "2001:db8::10"
START = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dns_observation(hostname: str, addresses: list[str], failure: str | None = None) -> dict[str, Any]:
    rcode = {None: "NOERROR", v.DNS_NXDOMAIN: "NXDOMAIN", v.DNS_SERVFAIL: "SERVFAIL"}.get(failure)
    return {
        "hostname": hostname,
        "resolver": "system (192.0.2.53)",
        "addresses": addresses,
        "failure": failure,
        "queries": [
            {"qtype": "A", "rcode": rcode, "answers": [a for a in addresses if ":" not in a],
             "cnames": [], "failure": failure, "duration_ms": 11.2},
            {"qtype": "AAAA", "rcode": rcode, "answers": [a for a in addresses if ":" in a],
             "cnames": [], "failure": failure, "duration_ms": 12.8},
        ],
        "duration_ms": 13.1,
    }


def tcp_observation(hostname: str, address: str, failure: str | None = None, port: int = 443) -> dict[str, Any]:
    return {"hostname": hostname, "address": address, "port": port, "failure": failure,
            "duration_ms": 10000.0 if failure == v.GENERIC_TIMEOUT else 31.4}


def tls_observation(hostname: str, address: str, failure: str | None = None) -> dict[str, Any]:
    completed = failure in (None, v.SSL_UNKNOWN_AUTHORITY, v.SSL_INVALID_HOSTNAME)
    issuer = "CN=Qaznet Trust Network" if failure == v.SSL_UNKNOWN_AUTHORITY else "CN=R3,O=Let's Encrypt,C=US"
    return {
        "hostname": hostname, "address": address, "port": 443, "sni": hostname,
        "failure": failure, "handshake_completed": completed, "verified": failure is None,
        "version": "TLSv1.3" if completed else None,
        "cipher": "TLS_AES_128_GCM_SHA256" if completed else None,
        "alpn": "http/1.1" if completed else None,
        "peer_chain": [{
            "subject": f"CN={hostname}", "issuer": issuer, "sans": [hostname],
            "not_before": "2021-12-01T00:00:00Z", "not_after": "2022-03-01T00:00:00Z",
            "sha256": "ab" * 32,
        }] if completed else [],
        "duration_ms": 10000.0 if failure == v.GENERIC_TIMEOUT else 84.0,
    }


def http_observation(url: str, *, status: int = 200, title: str = "News", body: str | None = None,
                     failure: str | None = None) -> dict[str, Any]:
    body = body if body is not None else f"<html><head><title>{title}</title></head><body>…</body></html>"
    ok = failure is None
    return {
        "url": url, "method": "GET", "address": WEB_ADDRESS, "port": 443,
        "status": status if ok else None, "headers": {"content-type": "text/html"} if ok else {},
        "location": None, "body_length": len(body) if ok else None,
        "body_sha256": "cd" * 32 if ok else None, "body_truncated": False,
        "body": body if ok else "", "title": title if ok else None,
        "body_read_ms": 40.5 if ok else None, "failure": failure,
        "timings": {"dns_ms": None, "connect_ms": 31.4, "tls_ms": 84.0,
                    "first_byte_ms": 120.5 if ok else None, "total_ms": 161.0 if ok else 10000.0},
    }


def download_observation(url: str, kbps: float) -> dict[str, Any]:
    total = int(kbps * 1000 * 2)
    return {"url": url, "address": WEB_ADDRESS, "status": 200, "bytes": total, "duration_ms": 2100.0,
            "first_byte_ms": 100.0, "kilobytes_per_second": kbps,
            "samples": [{"t_ms": 100.0, "bytes": 0}, {"t_ms": 2100.0, "bytes": total}],
            "longest_stall_ms": 40.0 if kbps > 100 else 900.0, "complete": True, "failure": None}


# What the probes see for each way a web target can end, and what the analysis says of it.
SCENARIOS: dict[str, dict[str, Any]] = {
    "reachable": {"verdict": v.REACHABLE, "blocking": None, "evidence": [],
                  "explanation": "DNS, TLS and HTTP worked as from the control; the page title matches."},
    "tls_reset": {"verdict": v.BLOCKED, "blocking": "tls", "evidence": ["tls.reset"],
                  "explanation": f"TLS handshake to {WEB_ADDRESS} was reset after the ClientHello; the control "
                                 "completed it.",
                  "tls": v.CONNECTION_RESET},
    "tls_timeout": {"verdict": v.BLOCKED, "blocking": "tls", "evidence": ["tls.timeout"],
                    "explanation": "TLS handshake timed out after the ClientHello; the control completed it.",
                    "tls": v.GENERIC_TIMEOUT},
    "tls_mitm": {"verdict": v.BLOCKED, "blocking": "tls", "evidence": ["tls.mitm"],
                 "explanation": "The certificate was issued by Qaznet Trust Network, the state interception root.",
                 "tls": v.SSL_UNKNOWN_AUTHORITY},
    "dns_nxdomain": {"verdict": v.BLOCKED, "blocking": "dns", "evidence": ["dns.nxdomain"],
                     "explanation": "The resolver said the name does not exist; the control resolver returned "
                                    "addresses.",
                     "dns": v.DNS_NXDOMAIN},
    "tcp_timeout": {"verdict": v.BLOCKED, "blocking": "tcp", "evidence": ["tcp.timeout"],
                    "explanation": f"Connections to {WEB_ADDRESS}:443 timed out; the control connected.",
                    "tcp": v.GENERIC_TIMEOUT},
    "blockpage": {"verdict": v.BLOCKED, "blocking": "http", "evidence": ["http.blockpage"],
                  "explanation": "The page is a known blockpage.", "title": "Доступ ограничен",
                  "status": 403},
    "throttled": {"verdict": v.THROTTLED, "blocking": "tls", "evidence": ["throughput.low"],
                  "explanation": "Download at 12 KB/s against 2400 KB/s for the international baseline.",
                  "kbps": 12.0},
    "down": {"verdict": v.DOWN, "blocking": None, "evidence": ["control.failed", "tcp.refused"],
             "explanation": "Connections are refused here and from the control: the site is down.",
             "tcp": v.CONNECTION_REFUSED},
    "inconclusive": {"verdict": v.INCONCLUSIVE, "blocking": None, "evidence": ["control.missing", "tls.timeout"],
                     "explanation": "The TLS handshake timed out and no control scan says whether it works elsewhere.",
                     "tls": v.GENERIC_TIMEOUT},
    "offline": {"verdict": v.BLOCKED, "blocking": "network", "evidence": ["connectivity.offline"],
                "explanation": "No baseline target worked: the network is offline.",
                "dns": v.DNS_TIMEOUT},
}


def measured_result(target_id: str, scenario: str = "reachable", *, category: str | None = "NEWS",
                    url: str | None = None, started_at: datetime = START, download: bool = False,
                    name: str | None = None) -> dict[str, Any]:
    """What the scan measured for one web target, before analysis (a journal's result)."""
    facts = SCENARIOS[scenario]
    host = f"{target_id}.example"
    url = url or f"https://{host}/"
    target: dict[str, Any] = {"id": target_id, "url": url}
    if name is not None:
        target["name"] = name
    if category is not None:
        target["category"] = category
    if download or "kbps" in facts:
        target["download"] = url + "big.bin"
    observations: dict[str, Any] = {}
    dns_failure = facts.get("dns")
    addresses = [] if dns_failure else [WEB_ADDRESS, WEB_ADDRESS_V6]
    observations["dns"] = dns_observation(host, addresses, dns_failure)
    observations["control_dns"] = dns_observation(host, [WEB_ADDRESS, WEB_ADDRESS_V6])
    observations["control_dns"]["resolver"] = "https://doh.example/dns-query"
    if not dns_failure:
        tcp_failure = facts.get("tcp")
        observations["tcp"] = [tcp_observation(host, WEB_ADDRESS, tcp_failure),
                               tcp_observation(host, WEB_ADDRESS_V6, v.NETWORK_UNREACHABLE)]
        if not tcp_failure:
            tls_failure = facts.get("tls")
            observations["tls"] = [tls_observation(host, WEB_ADDRESS, tls_failure)]
            if tls_failure in (None, v.SSL_UNKNOWN_AUTHORITY):
                observations["http"] = [http_observation(url, status=facts.get("status", 200),
                                                         title=facts.get("title", f"{target_id} news"))]
                if "download" in target:
                    observations["download"] = download_observation(target["download"], facts.get("kbps", 2400.0))
    return {"target": target, "observations": observations, "started_at": iso(started_at),
            "duration_ms": 812.0}


def web_result(target_id: str, scenario: str = "reachable", **kwargs: Any) -> dict[str, Any]:
    """A full result of a web target: measurements plus the verdict fields of `scenario`."""
    facts = SCENARIOS[scenario]
    result = measured_result(target_id, scenario, **kwargs)
    return {"target": result["target"], "verdict": facts["verdict"], "blocking": facts["blocking"],
            "evidence": list(facts["evidence"]), "explanation": facts["explanation"], "control": None,
            "observations": result["observations"], "started_at": result["started_at"],
            "duration_ms": result["duration_ms"]}


# Telegram's data centres (messengers.md): only strings here.
TELEGRAM_DCS = ["149.154.175.50", "149.154.167.51", "149.154.175.100", "149.154.167.91", "149.154.171.5"]


def service_result(target_id: str = "telegram", *, failing: dict[str, str] | None = None,
                   verdict: str = v.BLOCKED, blocking: str | None = "tcp",
                   started_at: datetime = START) -> dict[str, Any]:
    """A messenger target: one endpoint per Telegram DC; `failing` maps address -> tcp failure."""
    failing = failing if failing is not None else {"149.154.167.51": v.GENERIC_TIMEOUT}
    endpoints = []
    for number, address in enumerate(TELEGRAM_DCS, start=1):
        endpoints.append({
            "endpoint": {"host": address, "port": 443, "tls": False, "role": "datacenter", "name": f"DC{number}"},
            "dns": None,
            "tcp": [tcp_observation(address, address, failing.get(address))],
            "tls": [],
        })
    broken = len([a for a in TELEGRAM_DCS if a in failing])
    reachable = broken == 0
    return {
        "target": {"id": target_id, "url": None, "name": "Telegram", "category": "COMM",
                   "endpoints": [{"host": a, "port": 443, "role": "datacenter"} for a in TELEGRAM_DCS]},
        "verdict": v.REACHABLE if reachable else verdict,
        "blocking": None if reachable else blocking,
        "evidence": [] if reachable else ["tcp.timeout"],
        "explanation": (f"{broken} of {len(TELEGRAM_DCS)} data centres could not be reached; the control reached them "
                        "all."
                        if broken else f"All {len(TELEGRAM_DCS)} data centres answered."),
        "control": None,
        "observations": {"endpoints": endpoints},
        "started_at": iso(started_at),
        "duration_ms": 10012.0,
    }


def report(results: list[dict[str, Any]], *, vantage: str = "almaty-vps", asn: str | None = "AS9198",
           country: str | None = "KZ", started_at: datetime = START, connectivity: str | None = v.ONLINE,
           complete: bool = True, scan_id: str | None = None,
           duration: timedelta = timedelta(minutes=1)) -> dict[str, Any]:
    """A whole report around `results`, with the summary counted from them."""
    summary = dict.fromkeys(v.VERDICTS, 0)
    for result in results:
        if result.get("verdict") in summary:
            summary[result["verdict"]] += 1
    return {
        "format": "kzprobe-report",
        "format_version": 1,
        "scan_id": scan_id or f"{vantage}-{started_at:%Y%m%dT%H%M}",
        "complete": complete,
        "started_at": iso(started_at),
        "finished_at": iso(started_at + duration) if complete else None,
        "software": {"name": "kzprobe", "version": "0.1.0"},
        "vantage": {"name": vantage, "asn": asn, "country": country},
        "settings": {"resolver": "system", "control_resolver": "https://doh.example/dns-query",
                     "control": None, "timeout": 10, "concurrency": 64, "ca_file": None,
                     "targets": ["targets/kz.yaml"]},
        "connectivity": connectivity,
        "baselines": {"domestic": {"worked": ["baseline-kz"]}, "international": {"worked": ["baseline-intl"]},
                      "throughput_kbps": 2400.0},
        "summary": summary,
        "results": results,
    }


def kz_report(**kwargs: Any) -> dict[str, Any]:
    """A realistic scan from Kazakhstan, January 2022: one target per way of ending, plus Telegram."""
    results = [
        web_result("orda-kz", "tls_reset", name="Orda.kz"),
        web_result("kaztag-kz", "tls_timeout"),
        web_result("tengrinews-kz", "reachable", download=True),
        web_result("livejournal-com", "dns_nxdomain", category="HOST"),
        web_result("ca-news-info", "blockpage"),
        web_result("youtube-com", "throttled", category="MMED"),
        web_result("dead-site-kz", "down"),
        web_result("qaznet-intercepted", "tls_mitm", category="HOST"),
        web_result("unknown-kz", "inconclusive"),
        service_result(),
    ]
    return report(results, **kwargs)


def lab_report(**kwargs: Any) -> dict[str, Any]:
    """What a scan inside the lab writes: a lab vantage without ASN/country, scenario targets."""
    kwargs.setdefault("vantage", "lab")
    kwargs.setdefault("asn", None)
    kwargs.setdefault("country", None)
    results = [
        web_result("lab-dns-nxdomain", "dns_nxdomain", category=None),
        web_result("lab-tcp-blackhole", "tcp_timeout", category=None),
        web_result("lab-tls-reset", "tls_reset", category=None),
        web_result("lab-blockpage", "blockpage", category=None),
        web_result("lab-throttled", "throttled", category=None),
        web_result("lab-control", "reachable", category=None),
    ]
    made = report(results, **kwargs)
    made["settings"]["resolver"] = "10.66.0.53:53"
    made["settings"]["control_resolver"] = "10.66.0.54:53"
    return made


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def journal_lines(made: dict[str, Any], *, measured_only: bool = True) -> list[str]:
    """The journal a scan writes: a scan line with the header, then one line per result."""
    header = {key: value for key, value in made.items()
              if key not in ("results", "complete", "finished_at", "connectivity", "summary", "baselines")}
    lines = [json.dumps({"type": "scan", **header})]
    for result in made["results"]:
        if measured_only:
            result = {key: result[key] for key in ("target", "observations", "started_at", "duration_ms")}
        lines.append(json.dumps({"type": "result", **result}))
    return lines


def write_journal(path: Path, made: dict[str, Any], *, cut_last_line_at: int | None = None) -> Path:
    """Write `made` as a journal; `cut_last_line_at` leaves the last line half-written (a crash)."""
    lines = journal_lines(made)
    text = "".join(line + "\n" for line in lines)
    if cut_last_line_at is not None:
        text = "".join(line + "\n" for line in lines[:-1]) + lines[-1][:cut_last_line_at]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


HOSTILE_TITLE = "[bold red]x[/]\x1b[2J\x1b]0;pwned\x07\u202eevil"

# Strings that try to become markup or script in an HTML page (kzprobe report): elements,
# event handlers, an early end of a <script> or <style>, a comment or CDATA end, a URL scheme,
# and characters XML forbids (a lone surrogate, a non-character).
HOSTILE_MARKUP = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "'><svg onload=alert(3)>",
    "</script><script>alert(4)</script>",
    "</style><style>*{background:url(https://evil.example/x)}</style>",
    "<!-- ]]> <![CDATA[ x",
    "javascript:alert(5)",
    "&lt;b&gt; &amp; &#60;i&#62;",
    "\ud800 lone surrogate \ufffe",
    HOSTILE_TITLE,
)


def hostile_markup_report(**kwargs: Any) -> dict[str, Any]:
    """kz_report with every free-text field a report carries set to a HOSTILE_MARKUP string."""
    made = kz_report(**kwargs)
    hostile = list(HOSTILE_MARKUP)
    made["vantage"].update(name=hostile[1], asn=hostile[2], country=hostile[6])
    made["scan_id"] = hostile[3]
    made["software"]["version"] = hostile[4]
    made["provenance"] = {"source": hostile[0], "licence": hostile[7]}
    for number, result in enumerate(made["results"]):
        text = hostile[number % len(hostile)]
        result["target"].update(id=f"{text} #{number}", name=hostile[(number + 1) % len(hostile)],
                                category=hostile[(number + 2) % len(hostile)], url=hostile[(number + 3) % len(hostile)])
        result["explanation"] = hostile[(number + 4) % len(hostile)]
        result["evidence"] = [hostile[(number + 5) % len(hostile)], "tls.reset"]
    return made


JANUARY_TARGETS = (("orda-kz", "Orda.kz", "NEWS"), ("tengrinews-kz", "Tengrinews", "NEWS"),
                   ("livejournal-com", "LiveJournal", "HOST"))


def january_2022_scan(moment: datetime, vantage: str = "almaty-vps", asn: str = "AS9198") -> dict[str, Any]:
    """One hourly scan of the January 2022 events as the sources date them (UTC, simplified):
    messengers cut from 4 Jan 14:00, the country offline 5 Jan 11:00 to 10 Jan 08:00, only
    domestic sites up until 11 Jan 02:00; Orda.kz blocked at TLS from 5 Jan 10:00."""
    offline = datetime(2022, 1, 5, 11, tzinfo=UTC) <= moment <= datetime(2022, 1, 10, 8, tzinfo=UTC)
    cut = datetime(2022, 1, 10, 9, tzinfo=UTC) <= moment <= datetime(2022, 1, 11, 2, tzinfo=UTC)
    orda_blocked = moment >= datetime(2022, 1, 5, 10, tzinfo=UTC)
    messengers_cut = moment >= datetime(2022, 1, 4, 14, tzinfo=UTC)
    if offline:
        results = [web_result(target, "offline", started_at=moment, name=name, category=category)
                   for target, name, category in JANUARY_TARGETS]
        connectivity = v.OFFLINE
    else:
        states = ("tls_timeout" if orda_blocked or cut else "reachable", "reachable",
                  "offline" if cut else "dns_nxdomain")
        results = [web_result(target, state, started_at=moment, name=name, category=category)
                   for (target, name, category), state in zip(JANUARY_TARGETS, states, strict=True)]
        if cut:
            results[0]["blocking"] = "network"
            results[0]["evidence"] = ["connectivity.international_cut"]
        connectivity = v.INTERNATIONAL_CUT if cut else v.ONLINE
    failing = dict.fromkeys(TELEGRAM_DCS, v.GENERIC_TIMEOUT) if messengers_cut or offline else {}
    results.append(service_result(failing=failing, started_at=moment))
    return report(results, vantage=vantage, asn=asn, started_at=moment, connectivity=connectivity)


# Kazakhtelecom, and Kar-Tel (Beeline Kazakhstan): the networks of the example vantages.
VANTAGE_ASNS = {"almaty-vps": "AS9198", "almaty-kaztelecom": "AS9198", "shymkent-beeline": "AS21299"}


def write_january_2022(directory: Path, *, hours: int = 24 * 9, vantages: tuple[str, ...] = ("almaty-vps",),
                       skip: set[int] = frozenset()) -> list[Path]:
    """Hourly scans from 3 Jan 2022 00:00 UTC, named so that file order is not time order."""
    paths = []
    first = datetime(2022, 1, 3, tzinfo=UTC)
    for hour in range(hours):
        if hour in skip:
            continue
        moment = first + timedelta(hours=hour)
        for vantage in vantages:
            name = f"{(hour * 7919) % 1000:03d}-{vantage}.json"  # scrambled order
            scan = january_2022_scan(moment, vantage, VANTAGE_ASNS.get(vantage, "AS9198"))
            paths.append(write_json(directory / vantage / name, scan))
    return paths


def cli(*args: object):
    """Run the real kzprobe CLI in-process; the result has exit_code, stdout and stderr."""
    from typer.testing import CliRunner

    from kzprobe.cli import app

    return CliRunner().invoke(app, [str(arg) for arg in args])
