"""During an international cut: which of a service's failures the cut explains.

The cut blames only what it cuts, for services as for web sites (docs/methodology.md, The cut
blames only what it cuts). A cut drops packets: it explains an endpoint that got only silence
(a connect or a ClientHello never answered, a resolver that could not answer for a name abroad)
and is not known to be reached inside the country. It does not explain an answer from the far
end - a refusal, a reset or close after the ClientHello, a neutral server name answered at the
same address (the SNI split) - nor what the control scan saw fail too: those keep the judgement
they have online. And a silent endpoint whose part still works elsewhere is no part cut off: it
stays unclear, as a failing endpoint among working ones always is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Final

from kzprobe.analysis.services.members import J_BLOCKED, J_DOWN, J_OK, J_UNKNOWN, Member
from kzprobe.analysis.services.outcomes import SPLIT_SNI_FILTER, SPLIT_UNCONFIRMED
from kzprobe.analysis.services.parts import by_role

# The judged member's reason when the cut explains its failure.
CUT: Final = "cut"
# Outcomes that are silence (or a resolver that could not reach a name abroad), what a cut
# causes; tls.timeout too unless a neutral name was answered at the same address.
_SILENT: Final = frozenset({"tcp.timeout", "tcp.unreachable", "dns.timeout", "dns.servfail", "dns.refused",
                            "http.timeout"})

# Why an endpoint (its host, and the address where it failed) is reached inside the country, in
# words; None when nothing says so (analysis/domestic.py).
Inside = Callable[[str, str | None], str | None]


def silent(member: Member) -> bool:
    """The member's failure is silence, what a cut of the international link causes."""
    code = member.outcome.code
    if code == "tls.timeout":
        return member.outcome.split not in (SPLIT_SNI_FILTER, SPLIT_UNCONFIRMED)
    return code in _SILENT


def with_the_cut(members: list[Member], inside: Inside | None = None) -> list[Member]:
    """The members judged for a scan whose international link is cut: a silent failure not known
    to be inside the country, not down in the control, in a part where nothing works, is the
    cut's (blocked, reason CUT); in a part that works elsewhere it is unclear; every other
    judgement stands. The web front end's own verdict already had the cut applied."""
    working = {role for role, part in by_role(members).items() if any(m.judgement == J_OK for m in part)}
    judged = []
    for member in members:
        if member.reason != "web" and member.outcome.failing and member.judgement != J_DOWN and silent(member) \
                and not (inside is not None and inside(member.host, member.outcome.address)):
            member = replace(member, judgement=J_UNKNOWN, reason=None) if member.role in working \
                else replace(member, judgement=J_BLOCKED, reason=CUT)
        judged.append(member)
    return judged
