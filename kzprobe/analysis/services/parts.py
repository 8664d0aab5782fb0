"""Parts of a service: its members grouped by role, each part's status, and the mass-failure floor."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from kzprobe.analysis.services.members import J_BLOCKED, J_DOWN, J_OK, J_UNKNOWN, J_UNTESTED, Member

# Statuses of one part (the verdict's "parts").
PART_OK: Final = "ok"
PART_BLOCKED: Final = "blocked"
PART_PARTLY_BLOCKED: Final = "partly_blocked"
PART_DOWN: Final = "down"
PART_INCONCLUSIVE: Final = "inconclusive"
PART_UNTESTED: Final = "untested"

# Mass failure. OONI calls Telegram blocked when every data centre fails on every port, and
# WhatsApp's endpoints blocked when all 32 fail: independent servers failing together while the
# network is online is not an outage. Two distinct servers is the least that says "together"; a
# lone failing host (one of Signal's services) is left to the control scan.
MASS_FAILURE_MIN_SERVERS: Final = 2

# ...but only failures with a censor's shape add up to it: silence at TCP (a dropped SYN), and
# silence or a reset right after the ClientHello that the SNI split did not already call SNI
# filtering (the neutral name failed too, or no split was recorded: a censor cutting the
# address after the handshake looks so; lying DNS answers are blocked on their own already).
# A service down for everyone has its hosts refuse (an RST to every SYN:
# nothing listens), its names fail to resolve (WhatsApp's and Facebook's on 4 October 2021, when
# their DNS servers left the Internet: https://engineering.fb.com/2021/10/05/networking-traffic/outage-details/),
# or its certificates fail: an outage until a control scan says otherwise. Silence can be an
# outage too (routes withdrawn), which is why the floor also needs interference elsewhere in the
# scan (judgement.py).
CENSOR_SHAPED: Final = frozenset({"tcp.timeout", "tls.timeout", "tls.reset"})


def by_role(members: list[Member]) -> dict[str, list[Member]]:
    """Members grouped into parts by role, parts and members in the order first seen."""
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


def mass_failure(members: list[Member]) -> list[Member]:
    """Parts whose every tested endpoint fails, unexplained and in a censor's shape, on several
    servers: blocked."""
    massed = set()
    for role, part in by_role(members).items():
        tested = [m for m in part if m.judgement != J_UNTESTED]
        if not tested or any(m.judgement in (J_OK, J_DOWN) for m in tested):
            continue
        unknown = [m for m in tested if m.judgement == J_UNKNOWN]
        # A refusal, a DNS failure or a certificate that does not verify is an outage's or the
        # server's own setup as often as a censor's: only censor-shaped failures add up.
        if unknown and len({m.host for m in tested}) >= MASS_FAILURE_MIN_SERVERS \
                and all(m.outcome.code in CENSOR_SHAPED for m in unknown):
            massed.add(role)
    return [replace(m, judgement=J_BLOCKED, reason="mass") if m.role in massed and m.judgement == J_UNKNOWN else m
            for m in members]
