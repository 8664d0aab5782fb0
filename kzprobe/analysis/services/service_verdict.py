"""The service's verdict from its judged members: blocked fully or partly, down, unclear or working,
with the explanation saying which parts still work."""

from __future__ import annotations

from collections import Counter
from typing import Final

from kzprobe.analysis import explain
from kzprobe.analysis.conclusion import Verdict, blocked, down, inconclusive, reachable
from kzprobe.analysis.services.cut import CUT
from kzprobe.analysis.services.members import J_BLOCKED, J_DOWN, J_OK, J_UNKNOWN, Member
from kzprobe.analysis.services.outcomes import LAYER_ORDER, PIN_STALE, SPLIT_SNI_FILTER
from kzprobe.analysis.services.parts import (
    PART_BLOCKED,
    PART_DOWN,
    PART_INCONCLUSIVE,
    PART_OK,
    PART_UNTESTED,
    by_role,
    part_status,
)
from kzprobe.analysis.services.phrasing import asides, count, part_clause, part_name, works
from kzprobe.report import vocabulary as v

# The roles that carry the messages themselves: when one of them is fully stopped, the
# messenger is blocked, whatever else still works; otherwise it is "partly blocked". For Tor,
# the relays' OR ports: a client that reaches no authority's OR port cannot use the public
# network directly (its directory documents can come through the OR port too); the bridges are
# the way around, named as a part that still works (docs/circumvention.md).
ESSENTIAL_ROLES: Final = ("chat", "datacenter", "relay")
# Said when an endpoint's chain missed its pin but validated for the name, or the control scan got
# the same certificate (outcomes.PIN_STALE).
_STALE_PIN: Final = ("the service's certificate no longer matches kzprobe's pinned CA, which is not interception "
                     "since {why}: update the target list (the endpoint's ca)")
# Evidence for outcomes the vocabulary has no code for yet (the explanation and the endpoint
# list keep the precise code): an ICMP "unreachable" rejects like a refusal; a TLS alert or an
# unclassified failure aborts the step like a reset.
_EVIDENCE_STAND_INS: Final = {
    "tcp.unreachable": "tcp.refused", "tcp.unknown": "tcp.reset", "tls.failed": "tls.reset",
    "tls.unknown": "tls.reset", "dns.unknown": "dns.servfail", "http.unknown": "http.reset",
    # A directory port answering with something that is no Tor document: a different page.
    "http.not_tor": "http.diff",
    # An obfs4 bridge's handshake (in place of TLS) that failed after TCP worked.
    "tls.obfs4": "tls.reset",
}


def service_verdict(name: str, members: list[Member], connectivity: str, *,
                    control_stale: bool = False) -> tuple[Verdict, dict[str, str]]:
    """The service's verdict and the status of each of its parts, from its judged members.
    `control_stale`: the control scan measured the service too long before or after this scan
    to speak for now (its successes were not used: an unclear part says `control.stale`)."""
    parts = by_role(members)
    statuses = {role: part_status(part) for role, part in parts.items()}
    failing = [m for m in members if m.outcome.failing]
    working_parts = [part_name(role) for role, status in statuses.items() if status == PART_OK]

    if connectivity == v.CAPTIVE_PORTAL:
        return inconclusive(["connectivity.captive_portal"], explain.sentence(
            f"{name} unclear: this network is behind a captive portal (a login page answers for every site)",
            f"what its {count(members, 'endpoint')} did says nothing about blocking")), statuses

    if connectivity == v.OFFLINE and failing:
        return inconclusive(["connectivity.offline"], explain.sentence(
            f"{name} unclear: this scan was offline (no baseline answered)",
            f"its {count(failing, 'failing endpoint')} say nothing about blocking")), statuses
    stopped = [m for m in members if m.judgement == J_BLOCKED]
    if stopped:
        fully = all(status in (PART_BLOCKED, PART_UNTESTED) for status in statuses.values()) or any(
            statuses.get(role) == PART_BLOCKED for role in ESSENTIAL_ROLES)
        clauses = [part_clause(role, part, J_BLOCKED) for role, part in parts.items()
                   if any(m.judgement == J_BLOCKED for m in part)]
        # During an international cut, the failures the cut explains (services/cut.py) are its;
        # a block of its own (an answer from the far end) keeps its layer.
        own = [m for m in stopped if not _by_the_cut(m)]
        if not own:
            return blocked("network", ["connectivity.international_cut", *_evidence(stopped)], explain.sentence(
                f"{name} {'cut off' if fully else 'partly cut off'} with the international link (only domestic "
                "baselines answered): " + "; ".join(clauses), works(working_parts))), statuses
        layer = _main_layer(own)
        cut = ["connectivity.international_cut"] if len(own) < len(stopped) else []
        return blocked(layer, [*_evidence(own), *cut, *_evidence([m for m in stopped if m not in own])],
                       explain.sentence(f"{name} {'blocked' if fully else 'partly blocked'} at {layer}: "
                                        + "; ".join(clauses), works(working_parts))), statuses

    down_parts = [role for role, status in statuses.items() if status == PART_DOWN]
    tested_parts = [role for role, status in statuses.items() if status != PART_UNTESTED]
    if down_parts and (set(down_parts) == set(tested_parts) or set(down_parts) & set(ESSENTIAL_ROLES)):
        clauses = [part_clause(role, parts[role], J_DOWN) for role in down_parts]
        down_members = [m for role in down_parts for m in parts[role]]
        return down(_evidence(down_members), explain.sentence(
            f"{name} down: " + "; ".join(clauses), works(working_parts))), statuses

    unclear = [role for role, status in statuses.items() if status == PART_INCONCLUSIVE]
    if unclear:
        unknown = [m for role in unclear for m in parts[role] if m.judgement == J_UNKNOWN]
        clauses = [part_clause(role, parts[role], J_UNKNOWN) for role in unclear]
        # A stale pin is no question for a control: the service changed its certificate authority.
        stale_pins = [m for m in unknown if m.outcome.code == PIN_STALE]
        pins = _STALE_PIN.format(why="the chain validates for the name" if any(m.outcome.trust for m in stale_pins)
                                 else "the control scan got the same certificate") if stale_pins else ""
        rest = [m for m in unknown if m.outcome.code != PIN_STALE]
        if not rest:
            return inconclusive(_evidence(unknown), explain.sentence(
                f"{name} unclear: " + "; ".join(clauses), pins, works(working_parts))), statuses
        reason = "control.missing" if all(m.control is None for m in rest) else "control.failed"
        if control_stale and any(m.control is not None for m in rest):
            reason = "control.stale"
        them = "it" if len(rest) == 1 else "them"
        why = {"control.missing": f"no control scan measured {them}",
               "control.failed": f"the control scan could not measure {them}",
               "control.stale": (f"the control scan measured {them} too long before this scan "
                                 "to say they work now")}[reason]
        return inconclusive([*_evidence(unknown), reason], explain.sentence(
            f"{name} unclear: " + "; ".join(clauses), pins,
            f"{why}, so blocking cannot be told from an outage", works(working_parts))), statuses
    if not tested_parts:
        return inconclusive(["control.missing"], explain.sentence(
            f"{name} unclear: none of its {count(members, 'endpoint')} could be measured "
            "(cut short by the deadline, or IPv6 only on a vantage without IPv6)")), statuses

    endpoints = [m for m in members if m.reason != "web"]
    answered = sum(1 for m in endpoints if m.judgement == J_OK)
    front = " and the web front end" if any(m.reason == "web" for m in members) else ""
    text = f"{name} works: {answered}/{len(endpoints)} endpoints{front} answered"
    if len(statuses) > 1:
        text += f" ({', '.join(part_name(role) for role in statuses)})"
    return reachable(explain.sentence(text, *asides(failing))), statuses


def _by_the_cut(member: Member) -> bool:
    """The member is blocked by the international cut: an endpoint the cut explains, or the web
    front end whose own verdict blamed the cut."""
    if member.reason == "web":
        return isinstance(member.web, dict) and member.web.get("blocking") == "network"
    return member.reason == CUT


def _main_layer(members: list[Member]) -> str:
    layers = Counter(m.outcome.layer for m in members)
    return min(layers, key=lambda layer: (-layers[layer], LAYER_ORDER.index(layer)))


def _evidence(members: list[Member]) -> list[str]:
    """Evidence codes of these members' outcomes, most frequent first (vocabulary order on ties);
    tls.sni_filter beside the failure of each blocked member whose SNI split showed the name cut."""
    codes = [_EVIDENCE_STAND_INS.get(m.outcome.code, m.outcome.code) for m in members]
    codes += ["tls.sni_filter" for m in members if m.judgement == J_BLOCKED and m.outcome.split == SPLIT_SNI_FILTER]
    counts = Counter(code for code in codes if code in v.EVIDENCE_CODES)
    order = {code: index for index, code in enumerate(v.EVIDENCE_CODES)}
    return sorted(counts, key=lambda code: (-counts[code], order[code]))
