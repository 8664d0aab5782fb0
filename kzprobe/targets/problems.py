"""Collecting problems while loading: a capped list, and where in a file an entry's problem is."""

from __future__ import annotations

from dataclasses import dataclass, field

from kzprobe.targets.limits import MAX_PROBLEMS
from kzprobe.targets.target import TargetProblem


class Problems:
    """Collects problems up to MAX_PROBLEMS, then one final note that more were not listed."""

    def __init__(self) -> None:
        self.items: list[TargetProblem] = []
        self.full = False

    def add(self, problem: TargetProblem) -> None:
        if self.full:
            return
        if len(self.items) >= MAX_PROBLEMS:
            message = f"more than {MAX_PROBLEMS} problems; stopped here"
            self.items.append(TargetProblem(problem.file, None, None, message))
            self.full = True
            return
        self.items.append(problem)

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass
class EntryContext:
    """Where an entry is, for problem messages."""

    file: str
    index: int
    line: int | None
    strict: bool
    target_id: str | None = None
    field_names: dict[str, str] = field(default_factory=dict)
    unique_derived_ids: bool = False  # CSV: make derived ids of different URLs unique

    def label(self) -> str:
        return f"entry {self.index}" + (f" ({self.target_id})" if self.target_id else "")

    def problem(self, problems: Problems, field_name: str | None, message: str) -> None:
        shown = None if field_name is None else self.field_names.get(field_name, field_name)
        problems.add(TargetProblem(self.file, self.label(), shown, message, self.line))
