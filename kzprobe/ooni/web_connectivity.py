"""A web_connectivity measurement (0.4 "classic" and 0.5 "LTE", and the older versions that
share their keys) as kzprobe observations of one web target, and its control.

Which of OONI's events become which observation (ooni/spec ts-017):

- `dns`: the lookups through the probe's own (system) resolver - getaddrinfo, or 0.4's split
  A/AAAA "system" queries - for the URL's host; other hosts so resolved (redirects) become
  `redirect_dns`. 0.5's DNS-over-HTTPS lookup of the host, encrypted and from the same place
  and moment, is `control_dns` (kzprobe's control resolver is DNS over HTTPS too). Its extra
  DNS-over-UDP lookup to a public resolver has no kzprobe counterpart and is left out.
- `tcp`, `tls`: the connects and handshakes; in 0.5 only those tagged "classic" (to addresses
  the system resolver returned, on the URL's port), as kzprobe's probe connects only to what
  its resolver returned. Extra 0.5 checks (addresses only the test helper knew, port 443 for
  an http:// URL) are OONI's extensions and left out.
- `http`: `requests`, which OONI lists newest first, in chain order; in 0.5 the "classic" ones.
  When the chain ends on a redirect and OONI recorded the next hop's failure
  (`http_experiment_failure`) but no request for it (0.5 records none when that hop's
  connection failed), that hop is added with its URL and failure, as kzprobe's probe records it
  - not when the redirect itself carries the failure (OONI did not follow it).
"""

from __future__ import annotations

import functools
from typing import Final

from kzprobe.analysis.names import host_key, is_ip_literal, url_host
from kzprobe.ooni import fields as f
from kzprobe.ooni.failures import kzprobe_failure
from kzprobe.ooni.limits import MAX_NETWORK_EVENTS
from kzprobe.ooni.steps import dns_observation, http_observation, tcp_observation, tls_observation
from kzprobe.report.observations import DnsObservation, HttpObservation, Observations

# Engines that are the probe's own resolver (ooni/spec df-002-dnst): getaddrinfo under its
# names over the years, and the split "system" queries of 0.4 and Measurement Kit; legacy
# probes recorded no engine.
SYSTEM_ENGINES: Final = frozenset({None, "", "system", "getaddrinfo", "golang_net_resolver", "go", "unknown"})
PROBE_RESOLVER: Final = "system (OONI Probe)"


def _version(text: str | None) -> tuple[int, int]:
    parts = (text or "").split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return 0, 0


class _Events:
    """The measurement's events, filtered to what kzprobe's probe would have recorded.

    0.5.27 and later tag them "classic"; earlier 0.5 versions tag only `fetch_body`, so there
    the connects and handshakes kept are those that could fetch the page (not fetch_body=false)
    to an address the system resolver returned (not one only the test helper knew)."""

    def __init__(self, test_keys: dict, test_version: str | None, url_address: str | None) -> None:
        self._test_keys = test_keys
        lte = _version(test_version) >= (0, 5)
        names = ("queries", "tcp_connect", "tls_handshakes", "requests")
        lists = {name: f.objects(test_keys.get(name)) for name in names}
        tagged = lte and any(_classic(e) for events in lists.values() for e in events)
        queries = [q for q in lists["queries"]
                   if q.get("engine") in SYSTEM_ENGINES and (not tagged or _classic(q))]
        resolved = {a for q in queries for a in (f.address(x.get("ipv4") or x.get("ipv6"))
                                                 for x in f.objects(q.get("answers"), 64)) if a}
        if url_address:
            resolved.add(url_address)  # a URL with an IP address needs no lookup

        def kept(events: list[dict], address_of) -> list[dict]:
            if tagged:
                return [e for e in events if _classic(e)]
            if lte:
                return [e for e in events if "fetch_body=false" not in f.tags(e)
                        and (address_of(e) is None or address_of(e) in resolved)]
            return events

        def endpoint_address(event: dict) -> str | None:
            target = f.endpoint(event.get("address"))
            return target[0] if target else None

        self.queries = queries
        self.doh = [q for q in lists["queries"] if q.get("engine") == "doh" and f.depth(q) == 0]
        self.tcp = kept(lists["tcp_connect"], lambda e: f.address(e.get("ip")))
        self.tls = kept(lists["tls_handshakes"], endpoint_address)
        self.requests = kept(lists["requests"], endpoint_address)

    @functools.cached_property
    def connects(self) -> list[dict]:
        """The successful connects among the network events (read only for 0.4's requests, which
        name no address: a 0.5 measurement's 64 events per connection are not walked)."""
        return [e for e in f.objects(self._test_keys.get("network_events"), MAX_NETWORK_EVENTS)
                if e.get("operation") == "connect" and e.get("failure") is None]


def _classic(event: dict) -> bool:
    """The event is tagged "classic" (f.tags, without building the list: no other kind of
    value equals a string)."""
    tags = event.get("tags")
    return isinstance(tags, list) and "classic" in tags[:16]


def _by_host(queries: list[dict]) -> dict[str, list[dict]]:
    hosts: dict[str, list[dict]] = {}
    for query in queries:
        name = f.text(query.get("hostname"), 260)
        if name:
            hosts.setdefault(host_key(name), []).append(query)
    return hosts


class _Hosts:
    """Which host an address or a transaction belongs to (0.5 tags events with transaction ids;
    0.4 connects only to the URL's host)."""

    def __init__(self, events: _Events, resolutions: dict[str, DnsObservation], default: str) -> None:
        self.default = default
        self.by_transaction: dict[int, str] = {}
        for handshake in events.tls:
            self._learn(handshake, f.text(handshake.get("server_name"), 260))
        for request in events.requests:
            self._learn(request, url_host(f.text(f.mapping(request.get("request")).get("url")) or ""))
        self.by_address: dict[str, str] = {}
        for host, resolution in resolutions.items():
            for address in resolution["addresses"]:
                self.by_address.setdefault(address, host)

    def _learn(self, event: dict, host: str | None) -> None:
        transaction = f.integer(event.get("transaction_id"))
        if transaction and host:
            self.by_transaction.setdefault(transaction, host_key(host))

    def of(self, event: dict, address: str | None) -> str:
        transaction = f.integer(event.get("transaction_id"))
        if transaction and transaction in self.by_transaction:
            return self.by_transaction[transaction]
        return self.by_address.get(address or "", self.default)


def _address_hint(hop_url: str, port: int | None, events: _Events,
                  resolutions: dict[str, DnsObservation]) -> tuple[str, int] | None:
    """The address a 0.4 request went to, which 0.4 does not record: the one connect its HTTP
    client made on that port (to the host's resolved addresses, when known); None if not one."""
    host = url_host(hop_url)
    if port is None or host is None:
        return None
    known = set(resolutions[host]["addresses"]) if host in resolutions else None
    candidates = {t[0] for t in (f.endpoint(e.get("address")) for e in events.connects)
                  if t is not None and t[1] == port and (known is None or t[0] in known)}
    return (candidates.pop(), port) if len(candidates) == 1 else None


def _missing_last_hop(chain: list[HttpObservation], test_keys: dict,
                      observations: Observations) -> HttpObservation | None:
    """The hop a redirect led to whose connection failed, when OONI recorded its failure only
    as `http_experiment_failure` (or, for a name that did not resolve, in its DNS lookup)."""
    last = chain[-1] if chain else None
    if last is None or last["status"] is None or not 300 <= last["status"] < 400 or not last["location"]:
        return None
    if last["failure"] is not None:
        # OONI's client stopped at this redirect and said why on it (a Location it could not
        # follow, ooni/probe#2628): no next hop was attempted.
        return None
    location = last["location"]
    host = url_host(location) or ""
    failure = kzprobe_failure(test_keys.get("http_experiment_failure"))
    resolution = next((d for d in observations.get("redirect_dns", []) if d["hostname"] == host), None)
    if resolution is not None and not resolution["addresses"]:
        failure = resolution["failure"]
    if failure is None:
        return None
    port = f.url_port(location)
    attempt = next((t for t in [*observations.get("tls", []), *observations.get("tcp", [])]
                    if t["hostname"] == host and t["port"] == port and t["failure"]), None)
    return HttpObservation(
        url=location, method="GET", address=attempt["address"] if attempt else None, port=port, status=None,
        headers={}, location=None, body_length=None, body_sha256=None, body_truncated=False, body="", title=None,
        body_read_ms=None, failure=failure,
        timings={"dns_ms": None, "connect_ms": None, "tls_ms": None, "first_byte_ms": None, "total_ms": 0.0})


def web_observations(test_keys: dict, url: str, test_version: str | None, notes: f.Notes) -> Observations:
    """kzprobe's observations of the URL from one web_connectivity measurement's test_keys."""
    host = url_host(url) or ""
    events = _Events(test_keys, test_version, f.address(host))
    observations: Observations = {}
    resolutions: dict[str, DnsObservation] = {}
    for name, queries in _by_host(events.queries).items():
        if is_ip_literal(name):
            continue
        resolution = dns_observation(queries, name, PROBE_RESOLVER)
        if resolution is not None:
            resolutions[name] = resolution
    if not is_ip_literal(host):
        if host in resolutions:
            observations["dns"] = resolutions[host]
        doh = [q for q in events.doh if host_key(f.text(q.get("hostname"), 260) or "") == host]
        resolver = f.text(doh[0].get("resolver_address"), 200) if doh else None
        control_dns = dns_observation(doh, host, resolver or "DNS over HTTPS (OONI Probe)")
        if control_dns is not None:
            observations["control_dns"] = control_dns
    others = [resolution for name, resolution in resolutions.items() if name != host]
    if others:
        observations["redirect_dns"] = others
    hosts = _Hosts(events, resolutions, host)
    tcp = [t for t in (tcp_observation(e, hosts.of(e, f.address(e.get("ip"))), notes) for e in events.tcp) if t]
    tls = []
    for index, entry in enumerate(events.tls):
        target = f.endpoint(entry.get("address"))
        observation = tls_observation(entry, hosts.of(entry, target[0] if target else None),
                                      f"tls_handshakes[{index}]", notes)
        if observation is not None:
            tls.append(observation)
    if tcp or tls:
        observations["tcp"], observations["tls"] = tcp, tls
    chain = []
    for index, entry in reversed(list(enumerate(events.requests))):  # OONI lists them newest first
        request_url = f.text(f.mapping(entry.get("request")).get("url")) or ""
        hint = None if f.endpoint(entry.get("address")) else _address_hint(request_url, f.url_port(request_url),
                                                                        events, resolutions)
        hop = http_observation(entry, f"requests[{index}]", notes, hint)
        if hop is not None:
            chain.append(hop)
    missing = _missing_last_hop(chain, test_keys, observations)
    if missing is not None:
        chain.append(missing)
    if chain:
        observations["http"] = chain
    return observations
