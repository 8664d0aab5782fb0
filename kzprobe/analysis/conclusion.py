"""What a rule concludes for one target: verdict, blocking layer, evidence, explanation."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kzprobe.report import vocabulary as v


@dataclass(frozen=True)
class Verdict:
    verdict: str
    blocking: str | None
    evidence: tuple[str, ...]
    explanation: str
    control: dict | None = None
    # The target did not get through and only failures (timeouts, resets, refusals) say so,
    # no positive sign such as a blockpage or a lying resolver: during an international cut
    # such a target is blocked by the cut, not by these failures.
    failure_based: bool = False

    def __post_init__(self) -> None:
        assert self.verdict in v.VERDICTS, self.verdict
        assert self.blocking is None or self.blocking in v.BLOCKING_LAYERS, self.blocking
        assert all(code in v.EVIDENCE_CODES for code in self.evidence), self.evidence
        assert self.verdict != v.BLOCKED or (self.blocking and self.evidence), "blocked needs layer and evidence"
        assert self.verdict != v.INCONCLUSIVE or self.evidence, "inconclusive needs a reason"

    def with_control(self, control: dict | None) -> Verdict:
        return replace(self, control=control)

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "blocking": self.blocking,
            "evidence": list(self.evidence),
            "explanation": self.explanation,
            "control": self.control,
        }


def codes(*items: str | None) -> tuple[str, ...]:
    """Evidence codes in order, without repeats or blanks."""
    return tuple(dict.fromkeys(i for i in items if i))


def blocked(layer: str, evidence: tuple[str, ...] | list[str], explanation: str, *,
            failure_based: bool = False) -> Verdict:
    return Verdict(v.BLOCKED, layer, codes(*evidence), explanation, failure_based=failure_based)


def inconclusive(evidence: tuple[str, ...] | list[str], explanation: str, *,
                 failure_based: bool = False) -> Verdict:
    return Verdict(v.INCONCLUSIVE, None, codes(*evidence), explanation, failure_based=failure_based)


def down(evidence: tuple[str, ...] | list[str], explanation: str) -> Verdict:
    return Verdict(v.DOWN, None, codes(*evidence), explanation)


def reachable(explanation: str) -> Verdict:
    return Verdict(v.REACHABLE, None, (), explanation)


def throttled(evidence: tuple[str, ...] | list[str], explanation: str) -> Verdict:
    return Verdict(v.THROTTLED, None, codes(*evidence), explanation)
