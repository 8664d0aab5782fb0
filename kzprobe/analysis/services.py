"""Service targets (messengers): one verdict from many endpoints, part by part.

A messenger works here when the endpoints its app needs work: Telegram's data centres,
WhatsApp's chat and registration servers, Signal's service hosts (behind Signal's own CA).
Each endpoint record (probes/endpoints.py) gets an *outcome* - "ok", or the first step that
failed as a code such as "tcp.timeout" - and then a *judgement*:

- blocked: the control scan reached the endpoint while it fails here; or, without a control,
  a signature no outage produces - a bogon or blockpage DNS answer, a name that the control
  resolver (or, for NXDOMAIN, the same resolver for the service's other names) resolves, a
  handshake reset, closed or left unanswered right after the ClientHello while TCP worked, a
  chain that does not lead to the pinned CA; or mass failure - every endpoint of one part of
  the service failing, on two or more distinct servers, while the network is online.
- down: it fails from the control scan (or its name through the control resolver) too.
- unknown: it fails and nothing tells blocking from an outage.

Endpoints form parts by role (chat, registration, datacenter, …); the web front end (the
target's url, judged by the web rules) is one more member, of the "web" part. The service is
blocked when any member is blocked, and the explanation says whether it is stopped fully or
partly, and which parts still work. OONI's rules (research/messengers.md) are the floor, with
one documented exception: a single failing host without a signature (OONI's Signal and
Facebook rules) asks for a control scan rather than calling it blocked - OONI's own Signal data
had such false positives (ooni/probe#2627). docs/messengers.md describes every rule.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Final

from kzprobe import vocabulary as v
from kzprobe.analysis import explain
from kzprobe.analysis.addresses import special_block
from kzprobe.analysis.facts import DnsFact, TcpFact, TlsFact
from kzprobe.analysis.facts import _dns as read_dns
from kzprobe.analysis.facts import _tcp as read_tcp
from kzprobe.analysis.facts import _tls as read_tls
from kzprobe.analysis.model import Verdict, blocked, down, inconclusive, reachable
from kzprobe.analysis.names import is_ip_literal

# Endpoint records read per service (targets.MAX_ENDPOINTS_PER_TARGET is 64), and attempts
# per endpoint (the probe makes at most 2 per family).
MAX_ENDPOINTS: Final = 128
MAX_ATTEMPTS: Final = 16

# Mass failure. OONI calls Telegram blocked when every data centre fails on every port, and
# WhatsApp's endpoints blocked when all 32 fail: independent servers failing together while the
# network is online is not an outage. Two distinct servers is the least that says "together"; a
# lone failing host (one of Signal's services) is left to the control scan.
MASS_FAILURE_MIN_SERVERS: Final = 2

# Endpoints named in an explanation per failure; the rest are counted (all are in "endpoints").
CITED_ENDPOINTS: Final = 3
# Failure kinds described per part in an explanation; further ones are counted.
DESCRIBED_FAILURES: Final = 2

# Outcomes that are not failures of the network.
OK: Final = "ok"
NOT_MEASURED: Final = "not_measured"  # cut short by the target deadline, or its pinned CA unusable
NO_IPV6: Final = "no_ipv6"  # IPv6 addresses only, and this vantage has no IPv6 route
UNTESTED_OUTCOMES: Final = (NOT_MEASURED, NO_IPV6)

# Judgements of one member.
J_OK: Final = "ok"
J_BLOCKED: Final = "blocked"
J_DOWN: Final = "down"
J_UNKNOWN: Final = "unknown"
J_UNTESTED: Final = "untested"

# Statuses of one part (the verdict's "parts").
PART_OK: Final = "ok"
PART_BLOCKED: Final = "blocked"
PART_PARTLY_BLOCKED: Final = "partly_blocked"
PART_DOWN: Final = "down"
PART_INCONCLUSIVE: Final = "inconclusive"
PART_UNTESTED: Final = "untested"

# Failure string -> outcome code, per step. Codes outside vocabulary.EVIDENCE_CODES
# ("tcp.unreachable", "tls.failed", "<layer>.unknown") appear in the endpoint list, not in evidence.
_DNS_CODES: Final = {
    v.DNS_NXDOMAIN: "dns.nxdomain", v.DNS_NO_ANSWER: "dns.no_answer", v.DNS_SERVFAIL: "dns.servfail",
    v.DNS_REFUSED: "dns.refused", v.DNS_TIMEOUT: "dns.timeout",
}
_TCP_CODES: Final = {
    v.GENERIC_TIMEOUT: "tcp.timeout", v.CONNECTION_REFUSED: "tcp.refused", v.CONNECTION_RESET: "tcp.reset",
    v.EOF_ERROR: "tcp.reset", v.NETWORK_UNREACHABLE: "tcp.unreachable", v.HOST_UNREACHABLE: "tcp.unreachable",
}
_TLS_CODES: Final = {
    v.CONNECTION_RESET: "tls.reset", v.EOF_ERROR: "tls.eof", v.GENERIC_TIMEOUT: "tls.timeout",
    v.SSL_FAILED_HANDSHAKE: "tls.failed",
}
_VERIFICATION_FAILURES: Final = (v.SSL_UNKNOWN_AUTHORITY, v.SSL_INVALID_HOSTNAME, v.SSL_INVALID_CERTIFICATE)

# Outcomes no outage produces: blocked without a control (module docstring).
_SIGNATURES: Final = frozenset({"dns.bogon", "dns.blockpage_ip", "tls.reset", "tls.eof", "tls.timeout", "tls.mitm"})
# A resolver lying about a name: blocked whatever the server's state, even if the control fails it.
_LIES: Final = frozenset({"dns.bogon", "dns.blockpage_ip"})
# Failures that say more about the server's certificate than about the path.
_NOT_PATH_FAILURES: Final = frozenset({"tls.invalid_cert"})
# Resolution failures the control resolver can contradict.
_DNS_FAILURES: Final = frozenset({"dns.nxdomain", "dns.no_answer", "dns.servfail", "dns.refused", "dns.timeout"})
# Control-resolver answers that say the name itself is broken everywhere.
_DEFINITIVE_DNS: Final = (v.DNS_NXDOMAIN, v.DNS_NO_ANSWER, v.DNS_SERVFAIL)

# How an outcome reads in a sentence: past tense, "{was}" agreeing with the count.
_PHRASES: Final = {
    "dns.nxdomain": "got NXDOMAIN for their name",
    "dns.no_answer": "got no address for their name",
    "dns.servfail": "got SERVFAIL for their name",
    "dns.refused": "got REFUSED for their name",
    "dns.timeout": "got no DNS answer",
    "dns.bogon": "resolved to bogon addresses",
    "dns.blockpage_ip": "resolved to a known blockpage address",
    "tcp.timeout": "timed out at TCP connect",
    "tcp.refused": "refused the TCP connection",
    "tcp.reset": "reset the TCP connection",
    "tcp.unreachable": "{was} unreachable",
    "tls.reset": "{was} reset after the ClientHello",
    "tls.eof": "{was} closed after the ClientHello",
    "tls.timeout": "got no answer to the ClientHello",
    "tls.mitm": "presented an intercepting certificate chain",
    "tls.invalid_cert": "presented a certificate that does not verify",
    "tls.failed": "failed the TLS handshake",
}
# The same outcome when it is not blocking: a pinned chain failing from the control too is the
# service's own certificate change, not interception.
_NEUTRAL_PHRASES: Final = {"tls.mitm": "presented a certificate chain outside the authority it is pinned to"}
# The roles that carry the messages themselves: when one of them is fully stopped, the
# messenger is blocked, whatever else still works; otherwise it is "partly blocked".
ESSENTIAL_ROLES: Final = ("chat", "datacenter")
# Evidence for outcomes the vocabulary has no code for yet (the explanation and the endpoint
# list keep the precise code): an ICMP "unreachable" rejects like a refusal; a TLS alert or an
# unclassified failure aborts the step like a reset.
_EVIDENCE_STAND_INS: Final = {
    "tcp.unreachable": "tcp.refused", "tcp.unknown": "tcp.reset", "tls.failed": "tls.reset",
    "tls.unknown": "tls.reset", "dns.unknown": "dns.servfail", "http.unknown": "http.reset",
}
# How a judgement was reached, as said after the failure.
_HOW: Final = {
    (J_BLOCKED, "control"): " while the control scan reached {them}",
    (J_BLOCKED, "control_resolver"): " while the control resolver answered",
    (J_DOWN, "control"): ", from the control scan too",
    (J_DOWN, "control_resolver"): ", through the control resolver too",
}
_PART_NAMES: Final = {"datacenter": "data-centre", "service": "service"}
_LAYER_ORDER: Final = ("dns", "tcp", "tls", "http", "network")


# --------------------------------------------------------------------------------------------
# Reading endpoint records (untrusted: from this scan, or from someone else's report file)


@dataclass(frozen=True)
class EndpointFacts:
    label: str  # "host:port"
    host: str
    role: str
    tls: bool
    ca: str | None  # pinned CA bundle name
    dns: DnsFact | None
    control_dns: DnsFact | None
    tcp: tuple[TcpFact, ...]
    tls_handshakes: tuple[TlsFact, ...]
    setup_failure: str | None


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _read_all(value: Any, reader) -> tuple:
    items = value[:MAX_ATTEMPTS] if isinstance(value, list) else []
    return tuple(fact for fact in (reader(item) for item in items) if fact is not None)


def read_endpoint(record: Any) -> EndpointFacts | None:
    """One endpoint record as typed facts; None when it is not a record at all."""
    if not isinstance(record, dict):
        return None
    host = (_text(record.get("host"), 260) or "").lower()
    port = record.get("port")
    label = _text(record.get("endpoint"), 300)
    if label is None:
        if not host or not isinstance(port, int) or isinstance(port, bool):
            return None
        label = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return EndpointFacts(
        label=label, host=host, role=_text(record.get("role"), 40) or "service",
        tls=record.get("tls") is True, ca=_text(record.get("ca"), 64),
        dns=read_dns(record.get("dns")), control_dns=read_dns(record.get("control_dns")),
        tcp=_read_all(record.get("tcp"), read_tcp), tls_handshakes=_read_all(record.get("tls_handshakes"), read_tls),
        setup_failure=_text(record.get("failure"), 300),
    )


def read_endpoints(observations: Any) -> list[EndpointFacts]:
    """The endpoint records of a result's observations, in order ([] for a web target)."""
    records = observations.get("endpoints") if isinstance(observations, dict) else None
    if not isinstance(records, list):
        return []
    return [f for f in (read_endpoint(r) for r in records[:MAX_ENDPOINTS]) if f is not None]


# --------------------------------------------------------------------------------------------
# One endpoint: its outcome


@dataclass(frozen=True)
class Outcome:
    code: str  # OK, NOT_MEASURED, NO_IPV6 or "<layer>.<what>"
    address: str | None = None  # where it worked, or where it failed
    failure: str | None = None  # the failure string behind the code
    detail: str | None = None  # e.g. the issuer of the chain an interceptor presented

    @property
    def failing(self) -> bool:
        return self.code != OK and self.code not in UNTESTED_OUTCOMES

    @property
    def layer(self) -> str:
        layer = self.code.split(".", 1)[0]
        return layer if layer in _LAYER_ORDER else "http"


def endpoint_outcome(facts: EndpointFacts, fingerprints: Any = None) -> Outcome:
    """"ok", or the first step that failed (DNS, then TCP, then TLS) and how."""
    if facts.setup_failure:
        return Outcome(NOT_MEASURED, failure=facts.setup_failure)
    if not is_ip_literal(facts.host):
        if facts.dns is None:
            return Outcome(NOT_MEASURED)
        if not facts.dns.addresses:
            failure = facts.dns.failure or v.DNS_NO_ANSWER
            return Outcome(_DNS_CODES.get(failure, "dns.unknown"), failure=failure)
        blocks = [special_block(a) for a in facts.dns.addresses]
        if all(block is not None for block in blocks):
            return Outcome("dns.bogon", facts.dns.addresses[0], detail=blocks[0].label)  # type: ignore[union-attr]
        known = _blockpage_address(facts.dns.addresses, fingerprints)
        if known:
            return Outcome("dns.blockpage_ip", known)
    attempts = [t for t in facts.tcp if not t.vantage_lacks_ipv6]
    if not attempts:
        return Outcome(NO_IPV6 if facts.tcp else NOT_MEASURED)
    connected = [t for t in attempts if t.ok]
    if not connected:
        first = attempts[0]
        return Outcome(_TCP_CODES.get(first.failure or "", "tcp.unknown"), first.address, first.failure)
    if not facts.tls:
        return Outcome(OK, connected[0].address)
    addresses = {t.address for t in connected}
    handshakes = [h for h in facts.tls_handshakes if h.address in addresses]
    if not handshakes:
        return Outcome(NOT_MEASURED, connected[0].address)
    good = next((h for h in handshakes if h.ok), None)
    if good is not None:
        return Outcome(OK, good.address)
    return _tls_outcome(facts, handshakes[0], fingerprints)


def _tls_outcome(facts: EndpointFacts, handshake: TlsFact, fingerprints: Any) -> Outcome:
    failure = handshake.failure or v.SSL_INVALID_CERTIFICATE  # completed, yet not verified
    if failure not in _VERIFICATION_FAILURES:
        return Outcome(_TLS_CODES.get(failure, "tls.unknown"), handshake.address, failure)
    known = _interception_authority(handshake, fingerprints)
    if known is not None:
        return Outcome("tls.mitm", handshake.address, failure, f"known interception authority {known}")
    top = handshake.chain[-1] if handshake.chain else None
    detail = f"issuer {explain.cite(top.issuer, 120)}" if top is not None and top.issuer else None
    if facts.ca is not None and failure == v.SSL_UNKNOWN_AUTHORITY:
        # A pinned endpoint's chain must lead to its own CA: anything else is interception.
        return Outcome("tls.mitm", handshake.address, failure, detail)
    # An unrecognised authority on a public-CA endpoint may be a broken server as well as an
    # interceptor nobody has fingerprinted: the control scan decides.
    return Outcome("tls.invalid_cert", handshake.address, failure, detail)


def _blockpage_address(addresses: tuple[str, ...], fingerprints: Any) -> str | None:
    finder = getattr(fingerprints, "address", None)
    return next((a for a in addresses if finder(a) is not None), None) if finder else None


def _interception_authority(handshake: TlsFact, fingerprints: Any) -> str | None:
    finder = getattr(fingerprints, "authority", None)
    match = finder(handshake.chain, "interception") if finder is not None and handshake.chain else None
    return explain.cite(match.matched, 120) if match is not None else None


# --------------------------------------------------------------------------------------------
# Judgements


@dataclass(frozen=True)
class Member:
    """One thing the service needs, judged: an endpoint, or the web front end."""

    label: str
    role: str
    host: str
    outcome: Outcome
    judgement: str
    reason: str | None = None  # "control", "control_resolver", "signature", "mass", "web"
    control: str | None = None  # the outcome code in the control scan, when it measured this
    web: dict | None = None  # the front end's own web verdict

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"endpoint": self.label, "role": self.role, "outcome": self.outcome.code,
                                "status": self.judgement, "address": self.outcome.address,
                                "failure": self.outcome.failure}
        for key, value in (("detail", self.outcome.detail), ("reason", self.reason), ("control", self.control)):
            if value is not None:
                data[key] = value
        return data


def _judge(facts: EndpointFacts, outcome: Outcome, control: Outcome | None,
           resolver_works: bool) -> tuple[str, str | None]:
    """(judgement, reason) of one endpoint from its outcome here and in the control scan."""
    if outcome.code == OK:
        return J_OK, None
    if not outcome.failing:
        return J_UNTESTED, None
    if control is not None and control.code not in UNTESTED_OUTCOMES:
        if control.code == OK:
            return J_BLOCKED, "control"
        if outcome.code in _LIES:
            return J_BLOCKED, "signature"
        return J_DOWN, "control"
    if outcome.code in _SIGNATURES:
        return J_BLOCKED, "signature"
    if outcome.code in _DNS_FAILURES:
        answer = facts.control_dns
        if answer is not None and answer.addresses and (outcome.code != "dns.timeout" or resolver_works):
            return J_BLOCKED, "control_resolver"
        if answer is not None and answer.failure in _DEFINITIVE_DNS:
            return J_DOWN, "control_resolver"
        if answer is None and outcome.code == "dns.nxdomain" and resolver_works:
            # The same resolver answers the service's other names: this one is singled out.
            return J_BLOCKED, "signature"
    return J_UNKNOWN, None


def judge_endpoints(endpoints: list[EndpointFacts], control_endpoints: list[EndpointFacts] | None,
                    connectivity: str, fingerprints: Any = None) -> list[Member]:
    """Every endpoint judged, mass failure applied per part; in the order given."""
    outcomes = [endpoint_outcome(e, fingerprints) for e in endpoints]
    in_control: dict[str, Outcome] = {}
    for facts in control_endpoints or []:
        in_control.setdefault(facts.label, endpoint_outcome(facts, fingerprints))
    resolver_works = any(not is_ip_literal(e.host) and o.code not in _DNS_FAILURES | _LIES and o.code != NOT_MEASURED
                         for e, o in zip(endpoints, outcomes))
    members = []
    for facts, outcome in zip(endpoints, outcomes):
        control = in_control.get(facts.label)
        judgement, reason = _judge(facts, outcome, control, resolver_works)
        members.append(Member(facts.label, facts.role, facts.host, outcome, judgement, reason,
                              control.code if control is not None else None))
    return _mass_failure(members) if connectivity == v.ONLINE else members


def _mass_failure(members: list[Member]) -> list[Member]:
    """Parts whose every tested endpoint fails, unexplained, on several servers: blocked."""
    massed = set()
    for role, part in _parts(members).items():
        tested = [m for m in part if m.judgement != J_UNTESTED]
        if not tested or any(m.judgement in (J_OK, J_DOWN) for m in tested):
            continue
        unknown = [m for m in tested if m.judgement == J_UNKNOWN]
        # A certificate that does not verify is the server's setup as often as a censor's
        # (self-signed service certificates): only path failures add up to mass failure.
        if unknown and len({m.host for m in tested}) >= MASS_FAILURE_MIN_SERVERS \
                and not any(m.outcome.code in _NOT_PATH_FAILURES for m in unknown):
            massed.add(role)
    return [replace(m, judgement=J_BLOCKED, reason="mass") if m.role in massed and m.judgement == J_UNKNOWN else m
            for m in members]


def front_end_member(url: str, web_verdict: dict) -> Member:
    """The web front end as a member of the "web" part, judged by the web rules' verdict."""
    verdict = web_verdict.get("verdict")
    evidence = [c for c in web_verdict.get("evidence") or [] if isinstance(c, str)]
    layer = web_verdict.get("blocking") if web_verdict.get("blocking") in _LAYER_ORDER else None
    code = next((c for c in evidence if not c.startswith(("control.", "connectivity."))), None) \
        or next((c for c in evidence if c in v.EVIDENCE_CODES and not c.startswith("control.")), None)
    if verdict in (v.REACHABLE, v.THROTTLED):
        return Member(url, "web", url, Outcome(OK), J_OK, "web", web=web_verdict)
    judgement = {v.BLOCKED: J_BLOCKED, v.DOWN: J_DOWN}.get(str(verdict), J_UNKNOWN)
    return Member(url, "web", url, Outcome(code or f"{layer or 'http'}.unknown"), judgement, "web", web=web_verdict)


# --------------------------------------------------------------------------------------------
# Parts and the service verdict


def _parts(members: list[Member]) -> dict[str, list[Member]]:
    parts: dict[str, list[Member]] = {}
    for member in members:
        parts.setdefault(member.role, []).append(member)
    return parts


def part_status(part: list[Member]) -> str:
    judgements = {m.judgement for m in part if m.judgement != J_UNTESTED}
    if not judgements:
        return PART_UNTESTED
    if judgements == {J_OK}:
        return PART_OK
    if J_BLOCKED in judgements:
        return PART_PARTLY_BLOCKED if J_OK in judgements else PART_BLOCKED
    if J_OK in judgements:
        return PART_OK  # a failing endpoint among working ones, with no sign of blocking
    return PART_DOWN if judgements == {J_DOWN} else PART_INCONCLUSIVE


def service_verdict(name: str, members: list[Member], connectivity: str) -> tuple[Verdict, dict[str, str]]:
    """The service's verdict and the status of each of its parts, from its judged members."""
    parts = _parts(members)
    statuses = {role: part_status(part) for role, part in parts.items()}
    failing = [m for m in members if m.outcome.failing]
    working_parts = [_part_name(role) for role, status in statuses.items() if status == PART_OK]

    if connectivity == v.OFFLINE and failing:
        return inconclusive(["connectivity.offline"], explain.sentence(
            f"{name} unclear: this scan was offline (no baseline answered)",
            f"its {_count(failing, 'failing endpoint')} say nothing about blocking")), statuses
    if connectivity == v.INTERNATIONAL_CUT and failing:
        return blocked("network", ["connectivity.international_cut", *_evidence(failing)], explain.sentence(
            f"{name} cut off with the international link (only domestic baselines answered)",
            f"{_count(failing, 'endpoint')} failed: {_cited(failing)}")), statuses

    stopped = [m for m in members if m.judgement == J_BLOCKED]
    if stopped:
        fully = all(status in (PART_BLOCKED, PART_UNTESTED) for status in statuses.values()) or any(
            statuses.get(role) == PART_BLOCKED for role in ESSENTIAL_ROLES)
        clauses = [_part_clause(role, part, J_BLOCKED) for role, part in parts.items()
                   if any(m.judgement == J_BLOCKED for m in part)]
        layer = _main_layer(stopped)
        return blocked(layer, _evidence(stopped), explain.sentence(
            f"{name} {'blocked' if fully else 'partly blocked'} at {layer}: " + "; ".join(clauses),
            _works(working_parts))), statuses

    down_parts = [role for role, status in statuses.items() if status == PART_DOWN]
    tested_parts = [role for role, status in statuses.items() if status != PART_UNTESTED]
    if down_parts and (set(down_parts) == set(tested_parts) or set(down_parts) & set(ESSENTIAL_ROLES)):
        clauses = [_part_clause(role, parts[role], J_DOWN) for role in down_parts]
        down_members = [m for role in down_parts for m in parts[role]]
        return down(_evidence(down_members), explain.sentence(
            f"{name} down: " + "; ".join(clauses), _works(working_parts))), statuses

    unclear = [role for role, status in statuses.items() if status == PART_INCONCLUSIVE]
    if unclear:
        unknown = [m for role in unclear for m in parts[role] if m.judgement == J_UNKNOWN]
        reason = "control.missing" if all(m.control is None for m in unknown) else "control.failed"
        clauses = [_part_clause(role, parts[role], J_UNKNOWN) for role in unclear]
        them = "it" if len(unknown) == 1 else "them"
        why = f"no control scan measured {them}" if reason == "control.missing" else f"the control scan could not measure {them}"
        return inconclusive([*_evidence(unknown), reason], explain.sentence(
            f"{name} unclear: " + "; ".join(clauses),
            f"{why}, so blocking cannot be told from an outage", _works(working_parts))), statuses
    if not tested_parts:
        return inconclusive(["control.missing"], explain.sentence(
            f"{name} unclear: none of its {_count(members, 'endpoint')} could be measured "
            "(cut short by the deadline, or IPv6 only on a vantage without IPv6)")), statuses

    endpoints = [m for m in members if m.reason != "web"]
    answered = sum(1 for m in endpoints if m.judgement == J_OK)
    front = " and the web front end" if any(m.reason == "web" for m in members) else ""
    text = f"{name} works: {answered}/{len(endpoints)} endpoints{front} answered"
    if len(statuses) > 1:
        text += f" ({', '.join(_part_name(role) for role in statuses)})"
    return reachable(explain.sentence(text, *_asides(failing))), statuses


def _asides(failing: list[Member]) -> list[str]:
    """What failed without making the service blocked: outages, and failures with no sign."""
    asides = []
    for judgement, words in ((J_DOWN, "failed from the control scan too"),
                             (J_UNKNOWN, "failed with no sign of blocking while the rest of their part works")):
        group = [m for m in failing if m.judgement == judgement]
        if group:
            codes = ", ".join(sorted({explain.cite(m.outcome.code, 40) for m in group}))
            asides.append(f"{_count(group, 'endpoint')} {words} ({codes}): {_cited(group)}")
    return asides


def _count(items: list, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _part_name(role: str) -> str:
    return _PART_NAMES.get(role, explain.cite(role, 40))


def _works(parts: list[str]) -> str:
    if not parts:
        return ""
    if len(parts) == 1:
        return f"{parts[0]} works"
    return f"{', '.join(parts[:-1])} and {parts[-1]} work"


def _cited(members: list[Member]) -> str:
    labels = [explain.cite(m.label, 100) for m in members[:CITED_ENDPOINTS]]
    more = len(members) - len(labels)
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")


def _part_clause(role: str, part: list[Member], judgement: str) -> str:
    """E.g. '32/32 chat endpoints timed out at TCP connect (e1.whatsapp.net:443, … and 29 more)'."""
    chosen = [m for m in part if m.judgement == judgement]
    front = next((m for m in chosen if m.reason == "web"), None)
    pieces = []
    if front is not None:
        state = {J_BLOCKED: "is blocked", J_DOWN: "is down"}.get(judgement, "is unclear")
        pieces.append(f"the web front end {state} ({explain.cite(front.outcome.code, 40)})")
        chosen = [m for m in chosen if m is not front]
        part = [m for m in part if m is not front]
    by_code: dict[str, list[Member]] = {}
    for member in chosen:
        by_code.setdefault(member.outcome.code, []).append(member)
    ranked = sorted(by_code.values(), key=len, reverse=True)
    for group in ranked[:DESCRIBED_FAILURES]:
        outcome = group[0].outcome
        one = len(group) == 1
        phrases = _PHRASES if judgement == J_BLOCKED else {**_PHRASES, **_NEUTRAL_PHRASES}
        # Only our own phrase templates are formatted; network strings are added after.
        words = {"was": "was" if one else "were", "them": "it" if one else "them"}
        phrase = phrases[outcome.code].format(**words) if outcome.code in phrases else "failed"
        how = _HOW.get((judgement, group[0].reason or ""), "").format(**words)
        code = "" if outcome.code in phrases else f" ({explain.cite(outcome.code, 40)})"
        detail = f", {outcome.detail}" if outcome.detail else ""
        noun = "endpoint" if len(part) == 1 else "endpoints"
        pieces.append(f"{len(group)}/{len(part)} {_part_name(role)} {noun} {phrase}{code}{how} ({_cited(group)}{detail})")
    rest = sum(len(group) for group in ranked[DESCRIBED_FAILURES:])
    if rest:
        pieces.append(f"{rest} more failed otherwise")
    text = " and ".join(pieces)
    if any(m.reason == "mass" for m in chosen):
        text += f", all {len({m.host for m in chosen})} of its servers at once"
    return text


def _main_layer(members: list[Member]) -> str:
    layers = Counter(m.outcome.layer for m in members)
    return min(layers, key=lambda layer: (-layers[layer], _LAYER_ORDER.index(layer)))


def _evidence(members: list[Member]) -> list[str]:
    """Evidence codes of these members' outcomes, most frequent first (vocabulary order on ties)."""
    codes = (_EVIDENCE_STAND_INS.get(m.outcome.code, m.outcome.code) for m in members)
    counts = Counter(code for code in codes if code in v.EVIDENCE_CODES)
    order = {code: index for index, code in enumerate(v.EVIDENCE_CODES)}
    return sorted(counts, key=lambda code: (-counts[code], order[code]))


# --------------------------------------------------------------------------------------------
# Entry point for analyse_scan (analysis/verdict.py dispatches results with observations["endpoints"])


@dataclass(frozen=True)
class ServiceVerdict(Verdict):
    """A Verdict that also carries each endpoint's judged outcome and each part's status.

    `to_dict()` gives the web verdict's keys plus "endpoints" and "parts", which the report
    writer merges into the result like the others."""

    endpoints: tuple[dict, ...] = ()
    parts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = super().to_dict()
        data["endpoints"] = [dict(entry) for entry in self.endpoints]
        data["parts"] = dict(self.parts)
        return data


def _context_parts(context: Any) -> tuple[str, Any]:
    """(connectivity state, fingerprints) from analysis.context.Context, a state string, or a dict."""
    if isinstance(context, str):
        return (context if context in v.CONNECTIVITY else v.ONLINE), None
    getter = context.get if isinstance(context, dict) else lambda key: getattr(context, key, None)
    state = getter("connectivity")
    state = getattr(state, "state", state)  # analysis.connectivity.Connectivity, or its state
    return (state if state in v.CONNECTIVITY else v.ONLINE), getter("fingerprints")


def _control_summary(members: list[Member], control_result: Any) -> dict | None:
    """What the control scan said about these endpoints (None without a control result)."""
    if not isinstance(control_result, dict):
        return None
    measured = [m for m in members if m.control is not None and m.control not in UNTESTED_OUTCOMES]
    failing = [m for m in measured if m.control != OK]
    verdict = control_result.get("verdict")
    return {
        "verdict": verdict if isinstance(verdict, str) and verdict in v.VERDICTS else None,
        "usable": bool(measured),
        "endpoints_measured": len(measured),
        "endpoints_ok": len(measured) - len(failing),
        "endpoints_failing": [{"endpoint": m.label, "outcome": m.control} for m in failing],
    }


def _web_rules_verdict(result: dict, control_result: Any, context: Any, state: str, fingerprints: Any) -> dict | None:
    """The web rules' verdict for the target's url (its web front end), or None without one."""
    from kzprobe.analysis.connectivity import Connectivity
    from kzprobe.analysis.context import Context
    from kzprobe.analysis.control import ControlView
    from kzprobe.analysis.facts import read_result
    from kzprobe.analysis.fingerprints import bundled_fingerprints
    from kzprobe.analysis.verdict import web_verdict

    facts = read_result(result)
    if not facts.url or facts.dns is None:
        return None  # no url, or the front end was not measured (cut short)
    ctx = context if isinstance(context, Context) else Context(fingerprints or bundled_fingerprints(),
                                                              Connectivity(state, {}))
    control = read_result(control_result) if isinstance(control_result, dict) else None
    if control is not None and (control.dns or control.tcp or control.http):
        verdict = control_result.get("verdict")
        view = ControlView(control, verdict if isinstance(verdict, str) else None, None)
    else:
        view = ControlView(None, None, "no control scan measured the web front end", missing=True)
    # Index -1: a service target is never a baseline, so every baseline is its throughput reference.
    return web_verdict(facts, -1, view, ctx).to_dict()


def analyse_service(result: dict, control_result: dict | None, context: Any, *,
                    front_end: Any = None) -> ServiceVerdict:
    """The verdict of a service target (a result whose observations hold "endpoints").

    `control_result`: the same target's result in a usable control scan, or None.
    `context`: analysis.context.Context (best: its fingerprints are used), or the connectivity
    state string. `front_end`: the web rules' verdict (Verdict or dict) for the target's url;
    when None it is computed here from the result's web observations. Returns a ServiceVerdict:
    `.to_dict()` has "verdict", "blocking", "evidence", "explanation", "control", plus
    "endpoints" (one judged entry per endpoint, the web front end last) and "parts"."""
    result = result if isinstance(result, dict) else {}
    target = result.get("target") if isinstance(result.get("target"), dict) else {}
    name = explain.cite(_text(target.get("name"), 200) or _text(target.get("id"), 200) or "this service", 60)
    state, fingerprints = _context_parts(context)
    control_endpoints = read_endpoints(control_result.get("observations")) if isinstance(control_result, dict) else None
    members = judge_endpoints(read_endpoints(result.get("observations")), control_endpoints, state, fingerprints)
    if front_end is None:
        front_end = _web_rules_verdict(result, control_result, context, state, fingerprints)
    if isinstance(front_end, Verdict):
        front_end = front_end.to_dict()
    if isinstance(front_end, dict):
        url = explain.cite(_text(target.get("url"), 300) or "web front end", 120)
        members.append(front_end_member(url, front_end))
    verdict, parts = service_verdict(name, members, state)
    return ServiceVerdict(verdict.verdict, verdict.blocking, verdict.evidence, verdict.explanation,
                          _control_summary(members, control_result), verdict.failure_based,
                          tuple(m.to_dict() for m in members), parts)
