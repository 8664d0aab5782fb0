"""Which targets an analyst asked to see: by category, verdict and id (shell-style patterns)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from kzprobe.analyst.reading import TargetDigest


@dataclass(frozen=True)
class TargetFilter:
    """Empty fields accept everything; each non-empty one must match (categories case-blind)."""

    categories: tuple[str, ...] = ()
    verdicts: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()  # "orda-kz", "*telegram*"

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(c.upper() for c in self.categories))

    def accepts_target(self, target_id: str, category: str | None) -> bool:
        """The id and category part of the filter (verdicts are checked per scan)."""
        if self.categories and (category or "").upper() not in self.categories:
            return False
        if self.patterns and not any(fnmatchcase(target_id, pattern) for pattern in self.patterns):
            return False
        return True

    def accepts_verdicts(self, verdicts: Iterable[str | None]) -> bool:
        """True when no verdict is asked for, or one of `verdicts` is."""
        return not self.verdicts or any(verdict in self.verdicts for verdict in verdicts)

    def accepts(self, target: TargetDigest) -> bool:
        return self.accepts_target(target.id, target.category) and self.accepts_verdicts([target.verdict])

    @property
    def active(self) -> bool:
        return bool(self.categories or self.verdicts or self.patterns)
