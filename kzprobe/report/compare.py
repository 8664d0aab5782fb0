"""Two scans side by side: which targets changed verdict, blocking layer or evidence.

One comparison for every reader of two scans: `kzprobe compare` (two vantages at one hour, or
one vantage on two days) and a vantage's change record after each complete scan
(kzprobe.vantage.alerts). Targets are matched by id. Evidence is compared as a set: the same
facts listed in another order are not a change.

It works on any scan and result types that carry the few fields it reads (the Protocols
below): the analysts' digests of report files, or a vantage's record of its previous scan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, Protocol, TypeVar

Status = Literal["changed", "only_a", "only_b", "unchanged"]
STATUSES: Final = ("changed", "only_a", "only_b", "unchanged")
# The fields whose difference makes a target "changed", in the order they are listed.
COMPARED_FIELDS: Final = ("verdict", "blocking", "evidence")


class TargetVerdict(Protocol):
    """What the comparison reads of one result."""

    @property
    def id(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def verdict(self) -> str | None: ...
    @property
    def blocking(self) -> str | None: ...
    @property
    def evidence(self) -> Sequence[str]: ...


T = TypeVar("T", bound=TargetVerdict)
T_co = TypeVar("T_co", bound=TargetVerdict, covariant=True)


class ScanVerdicts(Protocol[T_co]):
    """What the comparison reads of one scan."""

    @property
    def scan_id(self) -> str | None: ...
    @property
    def connectivity(self) -> str | None: ...
    @property
    def complete(self) -> bool: ...
    @property
    def targets(self) -> Sequence[T_co]: ...


S = TypeVar("S", bound="ScanVerdicts[Any]")


@dataclass(frozen=True)
class TargetChange(Generic[T]):
    id: str
    category: str | None
    status: Status
    a: T | None
    b: T | None
    changed: tuple[str, ...]  # of COMPARED_FIELDS


@dataclass(frozen=True)
class Comparison(Generic[S, T]):
    a: S
    b: S
    targets: tuple[TargetChange[T], ...]  # changed, only in A, only in B, unchanged; report order within

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for change in self.targets:
            counts[change.status] += 1
        return counts

    def notes(self) -> list[str]:
        """What a reader must know before trusting the differences."""
        notes = []
        if self.a.scan_id is not None and self.a.scan_id == self.b.scan_id:
            notes.append("A and B are the same scan (same scan_id).")
        if self.a.connectivity != self.b.connectivity:
            notes.append(
                f"Connectivity differs ({self.a.connectivity or 'unknown'} in A, "
                f"{self.b.connectivity or 'unknown'} in B): changes may come from that, "
                "not from blocking of each target."
            )
        for name, scan in (("A", self.a), ("B", self.b)):
            if not scan.complete:
                notes.append(f"{name} is INCOMPLETE: targets missing from it show as only in the other.")
        return notes


def compare_scans(a: S, b: S, accept: Callable[[TargetChange[T]], bool] | None = None) -> Comparison[S, T]:
    """Match the two scans' targets by id and classify each; `accept` keeps only some."""
    in_b = {target.id: target for target in b.targets}
    in_a = {target.id: target for target in a.targets}
    changes: list[TargetChange[T]] = []
    for target in a.targets:
        changes.append(compare_target(target.id, target, in_b.get(target.id)))
    for target in b.targets:
        if target.id not in in_a:
            changes.append(compare_target(target.id, None, target))
    kept = [c for c in changes if accept is None or accept(c)]
    order = {status: rank for rank, status in enumerate(STATUSES)}
    kept.sort(key=lambda change: order[change.status])  # stable: report order within a status
    return Comparison(a=a, b=b, targets=tuple(kept))


def compare_target(target_id: str, a: T | None, b: T | None) -> TargetChange[T]:
    """One target in two scans: changed (which fields), unchanged, or only in one of them."""
    either = a if a is not None else b
    category = either.category if either is not None else None
    if a is None or b is None:
        return TargetChange(target_id, category, "only_b" if a is None else "only_a", a, b, ())
    changed = tuple(
        name
        for name, differs in (
            ("verdict", a.verdict != b.verdict),
            ("blocking", a.blocking != b.blocking),
            ("evidence", set(a.evidence) != set(b.evidence)),
        )
        if differs
    )
    return TargetChange(target_id, category, "changed" if changed else "unchanged", a, b, changed)
