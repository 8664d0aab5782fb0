"""A member of a service: one thing it needs (an endpoint, or the web front end), judged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from kzprobe.analysis.services.outcomes import Outcome

# Judgements of one member.
J_OK: Final = "ok"
J_BLOCKED: Final = "blocked"
J_DOWN: Final = "down"
J_UNKNOWN: Final = "unknown"
J_UNTESTED: Final = "untested"


@dataclass(frozen=True)
class Member:
    """One thing the service needs, judged: an endpoint, or the web front end."""

    label: str
    role: str
    host: str
    outcome: Outcome
    judgement: str
    # "control", "control_resolver", "signature", "sni_filter", "control_certificate", "mass", "web"
    reason: str | None = None
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
