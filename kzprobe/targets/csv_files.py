"""Citizen Lab test lists as CSV (url,category_code,…): each row an entry that cites the list."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

# The cap per file is read as limits.MAX_ENTRIES_PER_FILE at call time (see loader.py).
from kzprobe.targets import limits
from kzprobe.targets.entries import validate_entry
from kzprobe.targets.ids import IdRegistry
from kzprobe.targets.messages import unknown_key_message
from kzprobe.targets.problems import EntryContext, Problems
from kzprobe.targets.target import Target, TargetFile, TargetProblem

# Citizen Lab CSV columns (lists/*.csv); only `url` is required in a CSV given to kzprobe.
CSV_COLUMNS: Final = ("url", "category_code", "category_description", "date_added", "source", "notes")
CSV_HEADER_PREFIX: Final = "url,category_code"
CITIZEN_LAB_LISTS: Final = "github.com/citizenlab/test-lists, CC BY-NC-SA 4.0"

# Entry fields as the CSV columns they came from, for problem messages.
_CSV_FIELD_NAMES: Final = {
    "category": "category_code",
    "sources[1].document": "source",
    "sources[1].reports": "notes",
    "sources[1].date": "date_added",
}


def load_csv(
    path: Path, name: str, text: str, strict: bool, problems: Problems, ids: IdRegistry
) -> TargetFile | None:
    """A Citizen Lab test list (url,category_code,category_description,date_added,source,notes)."""

    def file_problem(message: str, line: int | None = None) -> None:
        problems.add(TargetProblem(name, None, None, message, line))

    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), strict=True)
    rows: Iterator[list[str]] = iter(reader)
    try:
        header = next(rows, None)
    except csv.Error as error:
        file_problem(f"not a valid CSV header: {error}", 1)
        return None
    if header is None:
        file_problem("the file is empty; expected a header line 'url,category_code,…'")
        return None
    columns = [column.strip().lower() for column in header]
    bad_header = False
    for column in columns:
        if column not in CSV_COLUMNS:
            file_problem(unknown_key_message("column", column, CSV_COLUMNS), 1)
            bad_header = True
    for column in set(columns):
        if columns.count(column) > 1:
            file_problem(f"the column {column!r} appears twice", 1)
            bad_header = True
    if "url" not in columns:
        file_problem("no 'url' column", 1)
        bad_header = True
    if bad_header:
        return None
    max_entries: int = limits.MAX_ENTRIES_PER_FILE
    basename = path.name
    targets: list[Target] = []
    index = 0
    next_line = reader.line_num + 1
    while True:
        if problems.full:
            break
        try:
            row = next(rows, None)
        except csv.Error as error:
            file_problem(f"not valid CSV: {error}", reader.line_num)
            break
        if row is None:
            break
        line, next_line = next_line, reader.line_num + 1
        if not row or all(not cell.strip() for cell in row):
            continue
        index += 1
        if index > max_entries:
            file_problem(f"more than {max_entries} rows, the cap per file", line)
            break
        ctx = EntryContext(name, index, line, strict, field_names=_CSV_FIELD_NAMES, unique_derived_ids=True)
        if len(row) != len(columns):
            ctx.problem(problems, None, f"has {len(row)} fields; the header has {len(columns)}")
            continue
        cells = {column: cell.strip() for column, cell in zip(columns, row, strict=True)}
        target = validate_entry(_csv_entry(cells, basename), ctx, problems, ids)
        if target is not None:
            targets.append(target)
    return TargetFile(path, name, tuple(targets), title=f"Citizen Lab test list {basename}")


def _csv_entry(cells: dict[str, str], basename: str) -> dict[str, Any]:
    """A CSV row as a YAML-style entry, citing the Citizen Lab list as its source."""
    entry: dict[str, Any] = {"url": cells.get("url", "")}
    if cells.get("category_code"):
        entry["category"] = cells["category_code"]
    document = f"Citizen Lab test list {basename} ({CITIZEN_LAB_LISTS})"
    if cells.get("source"):
        document += f", contributed by {cells['source']}"
    listed = f"listed under {cells.get('category_code') or 'no category'}"
    if cells.get("category_description"):
        listed += f" ({cells['category_description']})"
    source: dict[str, Any] = {"document": document, "reports": cells.get("notes") or listed}
    if cells.get("date_added"):
        source["date"] = cells["date_added"]
    entry["sources"] = [source]
    return entry
