"""Which of the loaded targets a scan measures: `--target` (ids, shell-style patterns) and
`--category`, the same way the analyst commands filter (each given filter narrows; categories
case-blind). Baselines are always kept: without them the scan cannot tell a blocked target from
a vantage that is offline or cut off, and that is what a volunteer checking one site needs most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from kzprobe.errors import BadInputError
from kzprobe.targets.target import CATEGORIES, Target


class TargetSelectionError(BadInputError, ValueError):
    """The selection names something the lists do not have (a typo would scan nothing)."""


@dataclass(frozen=True)
class TargetSelection:
    ids: tuple[str, ...] = ()  # "orda-kz", "*telegram*"
    categories: tuple[str, ...] = ()  # Citizen Lab codes

    @property
    def narrows(self) -> bool:
        return bool(self.ids or self.categories)

    def record(self) -> dict[str, list[str]]:
        """How the report states the selection (beside the files it was made from)."""
        return {"target": list(self.ids), "category": [c.upper() for c in self.categories]}


def select_targets(targets: Sequence[Target], selection: TargetSelection) -> list[Target]:
    """The targets the selection keeps, in list order, baselines included; raises
    TargetSelectionError for an unknown category or an id pattern that matches no target."""
    if not selection.narrows:
        return list(targets)
    categories = {c.upper() for c in selection.categories}
    unknown = sorted(categories - set(CATEGORIES))
    if unknown:
        raise TargetSelectionError(
            f"unknown category {unknown[0]!r} (Citizen Lab codes, e.g. NEWS, POLR, HUMR, COMM, ANON)"
        )
    for pattern in selection.ids:
        if not any(fnmatchcase(t.id, pattern) for t in targets):
            raise TargetSelectionError(f"no target {pattern!r} in the lists (`kzprobe targets list` shows their ids)")

    def chosen(target: Target) -> bool:
        if categories and (target.category or "").upper() not in categories:
            return False
        return not selection.ids or any(fnmatchcase(target.id, p) for p in selection.ids)

    picked = [t for t in targets if t.baseline or chosen(t)]
    if not any(chosen(t) for t in targets):
        raise TargetSelectionError("no target matches both --target and --category")
    return picked
