"""Judging members: an endpoint against the control scan or a signature no outage produces,
the web front end by the web rules' verdict."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from kzprobe.analysis import explain
from kzprobe.analysis.certificate_rules import CA_FILE, same_certificate
from kzprobe.analysis.names import is_ip_literal
from kzprobe.analysis.services.members import J_BLOCKED, J_DOWN, J_OK, J_UNKNOWN, J_UNTESTED, Member
from kzprobe.analysis.services.outcomes import (
    LAYER_ORDER,
    LOCAL_INSPECTION,
    NOT_MEASURED,
    OK,
    PIN_STALE,
    SPLIT_SNI_FILTER,
    UNTESTED_OUTCOMES,
    Outcome,
    endpoint_outcome,
)
from kzprobe.analysis.services.parts import mass_failure
from kzprobe.analysis.services.records import EndpointFacts
from kzprobe.report import vocabulary as v

# Outcomes no outage produces: blocked without a control (package docstring).
_SIGNATURES: Final = frozenset({"dns.bogon", "dns.blockpage_ip", "tls.mitm"})
# A handshake reset, closed or silenced after the ClientHello: blocked without a control only when
# the SNI split shows the name cut (a neutral name answered at the same address, the real name
# failed again) - a server refusing every ClientHello fails the neutral name too. A Tor OR port
# gets no split (its name is random): the failure itself stays the signature there, as before.
_HANDSHAKE_CUTS: Final = frozenset({"tls.reset", "tls.eof", "tls.timeout"})
# A resolver lying about a name: blocked whatever the server's state, even if the control fails it.
_LIES: Final = frozenset({"dns.bogon", "dns.blockpage_ip"})
# Resolution failures the control resolver can contradict.
_DNS_FAILURES: Final = frozenset({"dns.nxdomain", "dns.no_answer", "dns.servfail", "dns.refused", "dns.timeout"})
# Control-resolver answers that say the name itself is broken everywhere.
_DEFINITIVE_DNS: Final = (v.DNS_NXDOMAIN, v.DNS_NO_ANSWER, v.DNS_SERVFAIL)


def _judge(facts: EndpointFacts, outcome: Outcome, control: Outcome | None,
           resolver_works: bool, control_stale: bool) -> tuple[str, str | None]:
    """(judgement, reason) of one endpoint from its outcome here and in the control scan. A stale
    control (analysis/control.py) that reached the endpoint says nothing about now: the
    signatures decide, as without a control."""
    if outcome.code == OK:
        return J_OK, None
    if not outcome.failing:
        return J_UNTESTED, None
    if outcome.code == LOCAL_INSPECTION:
        return J_UNKNOWN, None  # software here re-signed it: neither the control nor the pin can speak
    if control is not None and control.code not in UNTESTED_OUTCOMES and not (control.code == OK and control_stale):
        if control.code == OK:
            return J_BLOCKED, "control"
        if outcome.code in _LIES:
            return J_BLOCKED, "signature"
        return J_DOWN, "control"
    if outcome.code in _SIGNATURES or (outcome.code in _HANDSHAKE_CUTS and facts.kind == "tor_or"):
        return J_BLOCKED, "signature"
    if outcome.code in _HANDSHAKE_CUTS and outcome.split == SPLIT_SNI_FILTER:
        return J_BLOCKED, "sni_filter"
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
                    connectivity: str, fingerprints: Any = None, *, control_stale: bool = False,
                    interference_elsewhere: bool = False, local_root: str | None = None) -> list[Member]:
    """Every endpoint judged, in the order given; mass failure (parts.py) applied per part only
    while the scan is online and shows interference elsewhere: a vantage where nothing else is
    wrong never calls a service blocked for failing everywhere at once."""
    members = judge_each(endpoints, control_endpoints, fingerprints, control_stale=control_stale,
                         local_root=local_root)
    return with_mass_failure(members, connectivity, interference_elsewhere)


def with_mass_failure(members: list[Member], connectivity: str, interference_elsewhere: bool) -> list[Member]:
    """The members, mass failure applied where judge_endpoints applies it."""
    return mass_failure(members) if connectivity == v.ONLINE and interference_elsewhere else list(members)


def judge_each(endpoints: list[EndpointFacts], control_endpoints: list[EndpointFacts] | None,
               fingerprints: Any = None, *, control_stale: bool = False, local_root: str | None = None) -> list[Member]:
    """Every endpoint judged on its own (and against the control), before mass failure."""
    outcomes = [endpoint_outcome(e, fingerprints, local_root) for e in endpoints]
    in_control: dict[str, Outcome] = {}
    control_facts: dict[str, EndpointFacts] = {}
    for facts in control_endpoints or []:
        in_control.setdefault(facts.label, endpoint_outcome(facts, fingerprints))
        control_facts.setdefault(facts.label, facts)
    resolver_works = any(not is_ip_literal(e.host) and o.code not in _DNS_FAILURES | _LIES and o.code != NOT_MEASURED
                         for e, o in zip(endpoints, outcomes, strict=True))
    members = []
    for facts, outcome in zip(endpoints, outcomes, strict=True):
        control = in_control.get(facts.label)
        missed = _missed_pin(facts, outcome, control_facts.get(facts.label), control_stale) \
            if outcome.pinned else None
        if missed is not None:
            outcome, judgement, reason = missed
        else:
            judgement, reason = _judge(facts, outcome, control, resolver_works, control_stale)
        members.append(Member(facts.label, facts.role, facts.host, outcome, judgement, reason,
                              control.code if control is not None else None))
    return members


def _missed_pin(facts: EndpointFacts, outcome: Outcome, control: EndpointFacts | None,
                control_stale: bool) -> tuple[Outcome, str, str | None] | None:
    """A chain that missed its pin (outcomes: PIN_STALE when it validates for the name here, else
    tls.mitm), against the certificates the control scan got for the endpoint (issuer and key).

    The same certificate there: a stale pin, unknown - the service changed its authority, and the
    uncensored vantage sees it too (a control of any age may excuse). Valid for the name here:
    unknown whatever the control got, except through a root from --ca-file alone while a fresh
    control got another certificate (TLS rule 2 for any site). Not valid here while a fresh control
    got a certificate of another issuer that failed the pin too: the chain was replaced on the way.
    None: the ordinary judgement decides (the control passed the pin, or failed it with a chain
    from the same issuer; no control)."""
    here = next((h.chain[0] for h in facts.tls_handshakes
                 if h.purpose is None and h.address == outcome.address and h.chain), None)
    handshakes = [h for h in (control.tls_handshakes if control is not None else ())
                  if h.purpose is None and h.completed and h.chain]
    theirs = [h.chain[0] for h in handshakes]
    said = f"{outcome.detail}; " if outcome.detail else ""
    if here is not None and any(same_certificate(here, other) for other in theirs):
        return (replace(outcome, code=PIN_STALE, detail=f"{said}the control scan got the same certificate"),
                J_UNKNOWN, None)
    fresh = here is not None and bool(theirs) and not control_stale
    other = f"another certificate (issuer {explain.cite(theirs[0].issuer, 120)})" if theirs else ""
    if outcome.code == PIN_STALE:
        if fresh and outcome.trust == CA_FILE:
            return (replace(outcome, code="tls.mitm", detail=f"{outcome.detail}, while the control scan got {other}"),
                    J_BLOCKED, "control_certificate")
        return replace(outcome, detail=f"{said}the control scan got {other}") if other else outcome, J_UNKNOWN, None
    replaced = [h for h in handshakes if not h.ok and here is not None and h.chain[0].issuer != here.issuer]
    if fresh and replaced and len(replaced) == len(handshakes):
        return (replace(outcome, code="tls.mitm",
                        detail=f"{said}while the control scan got {other}, which missed the pin too"),
                J_BLOCKED, "control_certificate")
    if fresh and outcome.code == "tls.invalid_cert" and any(h.ok for h in handshakes):
        # The control's chain passed the pin: the one here, valid nowhere, was replaced on the way.
        return replace(outcome, code="tls.mitm"), J_BLOCKED, "control"
    return None


def front_end_member(url: str, web_verdict: dict) -> Member:
    """The web front end as a member of the "web" part, judged by the web rules' verdict."""
    verdict = web_verdict.get("verdict")
    evidence = [c for c in web_verdict.get("evidence") or [] if isinstance(c, str)]
    layer = web_verdict.get("blocking") if web_verdict.get("blocking") in LAYER_ORDER else None
    code = next((c for c in evidence if not c.startswith(("control.", "connectivity."))), None) \
        or next((c for c in evidence if c in v.EVIDENCE_CODES and not c.startswith("control.")), None)
    if verdict in (v.REACHABLE, v.THROTTLED):
        return Member(url, "web", url, Outcome(OK), J_OK, "web", web=web_verdict)
    judgement = {v.BLOCKED: J_BLOCKED, v.DOWN: J_DOWN}.get(str(verdict), J_UNKNOWN)
    return Member(url, "web", url, Outcome(code or f"{layer or 'http'}.unknown"), judgement, "web", web=web_verdict)
