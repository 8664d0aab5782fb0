"""OONI's messenger tests (telegram, whatsapp, signal, facebook_messenger) as kzprobe service
targets: one endpoint record per server and port the test reached for, judged by kzprobe's
service rules (kzprobe/analysis/services/, docs/messengers.md).

Endpoints are taken from what each measurement recorded, not from a fixed list, so every
version of each test reads (Signal's host list changed three times, ooni/spec ts-029). OONI's
messenger events carry no transaction ids, and WhatsApp's sixteen chat names share a few
addresses, so a connect is attributed by address: every endpoint whose name resolved to an
address gets that address's connects on its port, the attempts to one ip:port folded into one
(it worked if any attempt worked). Endpoint order: as first seen in the measurement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from kzprobe.analysis.names import host_key, is_ip_literal, url_host
from kzprobe.ooni import fields as f
from kzprobe.ooni.steps import dns_observation, http_observation, tcp_observation, tls_observation
from kzprobe.ooni.web_connectivity import PROBE_RESOLVER, SYSTEM_ENGINES
from kzprobe.report.observations import DnsObservation, Observations, TcpObservation, TlsObservation


@dataclass(frozen=True)
class Messenger:
    target_id: str  # the bundled target (targets/messengers.yaml) the test measures
    name: str
    front_end: str | None  # the web front end OONI fetches, if any
    tls: bool  # its endpoints' test includes a TLS handshake (Signal's GETs)


MESSENGERS: Final = {
    "telegram": Messenger("telegram", "Telegram", "https://web.telegram.org/", False),
    "whatsapp": Messenger("whatsapp", "WhatsApp", "https://web.whatsapp.com/", False),
    "signal": Messenger("signal", "Signal", None, True),
    "facebook_messenger": Messenger("facebook-messenger", "Facebook Messenger", None, False),
}

# Roles (kzprobe/targets ENDPOINT_ROLES) of the hosts OONI's tests have used, from the
# engines' host lists over the years (ooni/probe-cli internal/experiment/*).
_ROLES: Final = {
    "v.whatsapp.net": "registration",
    "chat.signal.org": "chat", "textsecure-service.whispersystems.org": "chat", "ud-chat.signal.org": "chat",
    "cdsi.signal.org": "contacts", "api.directory.signal.org": "contacts", "svr2.signal.org": "contacts",
    "storage.signal.org": "storage", "api.backup.signal.org": "storage",
    "sfu.voip.signal.org": "calling",
    "cdn.signal.org": "cdn", "cdn2.signal.org": "cdn", "cdn3.signal.org": "cdn",
    "updates.signal.org": "cdn", "updates2.signal.org": "cdn",
    "b-api.facebook.com": "api", "b-graph.facebook.com": "api",
    "edge-mqtt.facebook.com": "chat", "star.c10r.facebook.com": "chat",
    "external.xx.fbcdn.net": "cdn", "scontent.xx.fbcdn.net": "media",
}
_WHATSAPP_CHAT: Final = re.compile(r"^e[0-9]{1,2}\.whatsapp\.net$")
# Looked up but never connected to by OONI: Signal's outage flag, Facebook's STUN (UDP).
_LOOKUP_ONLY: Final = frozenset({"uptime.signal.org", "stun.fbsbx.com"})
_WHATSAPP_CHAT_PORTS: Final = (443, 5222)


class _Recorded:
    """The measurement's events, indexed by host and by ip:port."""

    def __init__(self, test_keys: dict, notes: f.Notes) -> None:
        self.queries: dict[str, list[dict]] = {}
        for query in f.objects(test_keys.get("queries")):
            name = f.text(query.get("hostname"), 260)
            if name and query.get("engine") in SYSTEM_ENGINES:
                self.queries.setdefault(host_key(name), []).append(query)
        self.connects: dict[tuple[str, int], list[dict]] = {}
        for entry in f.objects(test_keys.get("tcp_connect")):
            ip, port = f.address(entry.get("ip")), f.integer(entry.get("port"))
            if ip is not None and port is not None:
                self.connects.setdefault((ip, port), []).append(entry)
        self.handshakes = f.objects(test_keys.get("tls_handshakes"))
        self.requests = f.objects(test_keys.get("requests"))
        self.notes = notes
        self._resolutions: dict[str, DnsObservation | None] = {}
        self._attempts: dict[tuple[str, int], TcpObservation | None] = {}

    def resolution(self, host: str) -> DnsObservation | None:
        """The host's resolution, read once (WhatsApp's names serve two endpoints each)."""
        if host not in self._resolutions:
            self._resolutions[host] = dns_observation(self.queries.get(host, []), host, PROBE_RESOLVER)
        return self._resolutions[host]

    def tcp(self, host: str, addresses: list[str], port: int) -> list[TcpObservation]:
        """One connect per address tried on `port`: the first success, else the first failure."""
        found: list[TcpObservation] = []
        name = host_key(host)
        for address in addresses:
            attempt = self._attempt(address, port)
            if attempt is not None:  # a literal: a TypedDict's call costs three times as much
                found.append({"hostname": name, "address": attempt["address"], "port": attempt["port"],
                              "failure": attempt["failure"], "duration_ms": attempt["duration_ms"]})
        return found

    def _attempt(self, address: str, port: int) -> TcpObservation | None:
        """The connects to one ip:port folded into one, read once: WhatsApp's sixteen names share
        a few addresses, each of them asking for the same connects."""
        key = (address, port)
        if key not in self._attempts:
            recorded = (tcp_observation(e, address, self.notes) for e in self.connects.get(key, []))
            attempts = [t for t in recorded if t]
            self._attempts[key] = next((t for t in attempts if t["failure"] is None), attempts[0]) if attempts else None
        return self._attempts[key]

    def tls(self, host: str, port: int, connected: list[TcpObservation]) -> list[TlsObservation]:
        """The handshakes with `host`; one without an address (engines before 2022) belongs to
        the endpoint's connection when it had exactly one."""
        working = {t["address"] for t in connected if t["failure"] is None}
        fallback = (next(iter(working)), port) if len(working) == 1 else None
        found = []
        for index, entry in enumerate(self.handshakes):
            if host_key(f.text(entry.get("server_name"), 260) or "") != host:
                continue
            handshake = tls_observation(entry, host, f"tls_handshakes[{index}]", self.notes, fallback)
            if handshake is not None and handshake["port"] == port:
                found.append(handshake)
        return found


def _record(recorded: _Recorded, host: str, port: int, role: str, tls: bool) -> dict[str, Any]:
    """One endpoint record, shaped as kzprobe's probe writes it (docs/messengers.md)."""
    if is_ip_literal(host):
        dns, addresses = None, [host]
    else:
        dns = recorded.resolution(host)
        addresses = dns["addresses"] if dns is not None else []
    label = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    tcp = recorded.tcp(host, addresses, port)
    return {"endpoint": label, "host": host, "port": port, "role": role, "tls": tls,
            "sni": host if tls else None, "ca": None, "dns": dns, "control_dns": None,
            "tcp": tcp, "tls_handshakes": recorded.tls(host, port, tcp) if tls else [], "failure": None}


def _endpoints(test_name: str, recorded: _Recorded, front_host: str | None) -> list[tuple[str, int, str, bool]]:
    """(host, port, role, tls) of every endpoint the measurement recorded, in order seen."""
    found: dict[tuple[str, int], tuple[str, int, str, bool]] = {}
    if test_name == "telegram":
        web = set((recorded.resolution(front_host) or {"addresses": []})["addresses"]) if front_host else set()
        for ip, port in recorded.connects:
            if ip not in web and port in (80, 443):
                found.setdefault((ip, port), (ip, port, "datacenter", False))
        return list(found.values())
    for host in recorded.queries:
        if host in _LOOKUP_ONLY or host == front_host:
            continue
        if test_name == "whatsapp" and _WHATSAPP_CHAT.match(host):
            for port in _WHATSAPP_CHAT_PORTS:
                found[(host, port)] = (host, port, "chat", False)
        elif test_name == "whatsapp":
            found[(host, 443)] = (host, 443, _ROLES.get(host, "api"), True)
        else:
            found[(host, 443)] = (host, 443, _ROLES.get(host, "api"), MESSENGERS[test_name].tls)
    return list(found.values())


def _front_end(recorded: _Recorded, url: str, notes: f.Notes) -> Observations:
    """The web front end's observations, from the events of its host."""
    host = url_host(url) or ""
    observations: Observations = {}
    dns = recorded.resolution(host)
    if dns is None:
        return observations
    observations["dns"] = dns
    observations["tcp"] = recorded.tcp(host, dns["addresses"], 443)
    observations["tls"] = recorded.tls(host, 443, observations["tcp"])
    chain = []
    for index, entry in reversed(list(enumerate(recorded.requests))):
        request_url = f.text(f.mapping(entry.get("request")).get("url")) or ""
        if url_host(request_url) == host and request_url.lower().startswith("https:"):
            hop = http_observation(entry, f"requests[{index}]", notes)
            if hop is not None:
                chain.append(hop)
    if chain:
        observations["http"] = chain
    return observations


def service_result(test_name: str, test_keys: dict, notes: f.Notes) -> tuple[dict, Observations]:
    """(target, observations) of a messenger measurement: the bundled target's id and name,
    the endpoints OONI measured, and the front end when the test fetches one."""
    messenger = MESSENGERS[test_name]
    recorded = _Recorded(test_keys, notes)
    front_host = url_host(messenger.front_end) if messenger.front_end else None
    specs = _endpoints(test_name, recorded, front_host)
    observations: Observations = {}
    if messenger.front_end is not None:
        observations = _front_end(recorded, messenger.front_end, notes)
    url = messenger.front_end if "dns" in observations else None
    observations["endpoints"] = [_record(recorded, *spec) for spec in specs]
    target: dict[str, Any] = {"id": messenger.target_id, "url": url, "name": messenger.name, "category": "COMT",
                              "endpoints": [{"host": h, "port": p, "tls": t, "role": r} for h, p, r, t in specs]}
    return target, observations
