"""How a service verdict's explanation words its members: clauses per part, asides, citations."""

from __future__ import annotations

from typing import Final

from kzprobe.analysis import explain
from kzprobe.analysis.services.members import J_BLOCKED, J_DOWN, J_UNKNOWN, Member

# Endpoints named in an explanation per failure; the rest are counted (all are in "endpoints").
CITED_ENDPOINTS: Final = 3
# Failure kinds described per part in an explanation; further ones are counted.
DESCRIBED_FAILURES: Final = 2

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
    "tls.local_inspection": "presented a chain re-signed by the software inspecting HTTPS on this machine",
    "tls.pin_stale": "presented a certificate from outside the authority kzprobe pins {them} to",
}
# The same outcome when it is not blocking: a pinned chain failing from the control too is the
# service's own certificate change, not interception.
_NEUTRAL_PHRASES: Final = {"tls.mitm": "presented a certificate chain outside the authority it is pinned to"}
# How a judgement was reached, as said after the failure.
_HOW: Final = {
    (J_BLOCKED, "control"): " while the control scan reached {them}",
    (J_BLOCKED, "control_resolver"): " while the control resolver answered",
    (J_BLOCKED, "cut"): ", as the cut of the international link makes {them}",
    (J_DOWN, "control"): ", from the control scan too",
    (J_DOWN, "control_resolver"): ", through the control resolver too",
}
_PART_NAMES: Final = {"datacenter": "data-centre", "service": "service", "relay": "relay OR-port",
                       "directory": "directory-port", "bridge": "bridge"}


def asides(failing: list[Member]) -> list[str]:
    """What failed without making the service blocked: outages, and failures with no sign."""
    lines = []
    for judgement, words in ((J_DOWN, "failed from the control scan too"),
                             (J_UNKNOWN, "failed with no sign of blocking while the rest of their part works")):
        group = [m for m in failing if m.judgement == judgement]
        if group:
            codes = ", ".join(sorted({explain.cite(m.outcome.code, 40) for m in group}))
            lines.append(f"{count(group, 'endpoint')} {words} ({codes}): {cited(group)}")
    return lines


def count(items: list, noun: str) -> str:
    """E.g. '1 endpoint', '3 endpoints'."""
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def part_name(role: str) -> str:
    """A role as a part is called in a sentence."""
    return _PART_NAMES.get(role, explain.cite(role, 40))


def works(parts: list[str]) -> str:
    """E.g. 'registration and web work'; '' when no part works."""
    if not parts:
        return ""
    if len(parts) == 1:
        return f"{parts[0]} works"
    return f"{', '.join(parts[:-1])} and {parts[-1]} work"


def cited(members: list[Member]) -> str:
    """The first few members' labels, the rest counted."""
    labels = [explain.cite(m.label, 100) for m in members[:CITED_ENDPOINTS]]
    more = len(members) - len(labels)
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")


def part_clause(role: str, part: list[Member], judgement: str) -> str:
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
        pieces.append(f"{len(group)}/{len(part)} {part_name(role)} {noun} {phrase}{code}{how} ({cited(group)}{detail})")
    rest = sum(len(group) for group in ranked[DESCRIBED_FAILURES:])
    if rest:
        pieces.append(f"{rest} more failed otherwise")
    text = " and ".join(pieces)
    if any(m.reason == "mass" for m in chosen):
        text += f", all {len({m.host for m in chosen})} of its servers at once"
    return text
