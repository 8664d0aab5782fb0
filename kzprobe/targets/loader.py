"""Loading target files: reading each one safely, its YAML document, and all of them together.

Every problem in every file is collected before one TargetFileError is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from kzprobe.safe_yaml import YamlError, load_yaml

# The caps are read as limits.X at call time, so that a test lowers one in one place
# (kzprobe.targets.limits) rather than writing 10,001 entries.
from kzprobe.targets import limits
from kzprobe.targets.csv_files import CSV_HEADER_PREFIX, load_csv
from kzprobe.targets.entries import validate_entry
from kzprobe.targets.ids import IdRegistry
from kzprobe.targets.messages import first_unsafe_char, type_name, unknown_key_message
from kzprobe.targets.problems import EntryContext, Problems
from kzprobe.targets.target import Target, TargetFile, TargetFileError, TargetProblem

# Top-level fields of a YAML target file, besides its `targets` list.
TOP_LEVEL_METADATA: Final = ("title", "description", "licence")


def load_targets(paths: Sequence[str | Path], *, strict: bool = False,
                 fetched: Mapping[str, bytes] | None = None) -> list[Target]:
    """All targets of all files, in order. Raises TargetFileError listing every problem found.

    Duplicate ids within or across files are errors. strict=True applies the bundled-list rules:
    every entry has an id, a name, a category and at least one complete source. `fetched` holds
    the bytes of lists named by URL (fetched by the caller), checked exactly like a file's.
    """
    files = load_target_files(paths, strict=strict, fetched=fetched)
    return [target for target_file in files for target in target_file.targets]


def load_target_files(paths: Sequence[str | Path], *, strict: bool = False,
                      fetched: Mapping[str, bytes] | None = None) -> list[TargetFile]:
    """Like load_targets, keeping each file's metadata and targets apart (for listings and counts)."""
    if isinstance(paths, (str, Path)):
        raise TypeError("paths must be a list of paths, not a single path")
    problems = Problems()
    loaded: list[TargetFile] = []
    ids = IdRegistry(problems)
    seen_files: dict[Path, str] = {}
    for raw_path in paths:
        path = Path(raw_path)
        name = str(raw_path)
        key = _file_key(path)
        if key in seen_files:
            problems.add(TargetProblem(name, None, None, f"given twice (also as {seen_files[key]})"))
            continue
        seen_files[key] = name
        target_file = _load_one_file(path, name, strict, problems, ids, (fetched or {}).get(name))
        if target_file is not None:
            loaded.append(target_file)
        if problems.full:
            break
    if problems:
        raise TargetFileError(problems.items)
    return loaded


def targets_from_urls(urls: Iterable[str], *, source_name: str = "command line") -> list[Target]:
    """Targets for URLs given directly (e.g. on the command line), validated like a user file."""
    problems = Problems()
    ids = IdRegistry(problems)
    targets: list[Target] = []
    for index, url in enumerate(urls, start=1):
        ctx = EntryContext(source_name, index, None, strict=False)
        target = validate_entry({"url": url}, ctx, problems, ids)
        if target is not None:
            targets.append(target)
    if problems:
        raise TargetFileError(problems.items)
    return targets


def _file_key(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _load_one_file(
    path: Path, name: str, strict: bool, problems: Problems, ids: IdRegistry, data: bytes | None = None
) -> TargetFile | None:
    def file_problem(message: str, line: int | None = None) -> None:
        problems.add(TargetProblem(name, None, None, message, line))

    text = _read_text(path, name, file_problem) if data is None else _decode_text(data, file_problem)
    if text is None:
        return None
    if path.suffix.lower() == ".csv" or text.lstrip("\ufeff").lower().startswith(CSV_HEADER_PREFIX):
        return load_csv(path, name, text, strict, problems, ids)
    try:
        document = load_yaml(text, source_name=name, max_bytes=limits.MAX_TARGET_FILE_BYTES)
    except YamlError as error:
        column = f" (column {error.column})" if error.column is not None else ""
        file_problem(f"{error.message}{column}", error.line)
        return None
    return _load_yaml_document(path, name, document, strict, problems, ids)


def _read_text(path: Path, name: str, file_problem: Callable[..., None]) -> str | None:
    """The file's text, or None after reporting why not (missing, too large, not UTF-8)."""
    try:
        if not path.is_file():
            file_problem("not a regular file" if path.exists() else "no such file")
            return None
        with path.open("rb") as handle:
            data = handle.read(limits.MAX_TARGET_FILE_BYTES + 1)  # never more than the cap, whatever the file
    except OSError as error:
        file_problem(f"cannot be read: {error.strerror or error}")
        return None
    return _decode_text(data, file_problem)


def _decode_text(data: bytes, file_problem: Callable[..., None]) -> str | None:
    """Text of a list's bytes within the cap, or None after reporting why not."""
    if len(data) > limits.MAX_TARGET_FILE_BYTES:
        file_problem(f"larger than the {limits.MAX_TARGET_FILE_BYTES // (1024 * 1024)} MiB cap for target files")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        file_problem(f"not UTF-8 text (byte {error.start})", data.count(b"\n", 0, error.start) + 1)
        return None


def _load_yaml_document(
    path: Path, name: str, document: Any, strict: bool, problems: Problems, ids: IdRegistry
) -> TargetFile | None:
    def file_problem(message: str, line: int | None = None) -> None:
        problems.add(TargetProblem(name, None, None, message, line))

    metadata: dict[str, str | None] = {key: None for key in TOP_LEVEL_METADATA}
    if document is None:
        file_problem("the file is empty; expected a mapping with a 'targets' list")
        return None
    if isinstance(document, list):
        entries = document
    elif isinstance(document, dict):
        line = getattr(document, "line", None)
        for key, value in document.items():
            if key == "targets":
                continue
            if key not in TOP_LEVEL_METADATA:
                message = unknown_key_message("top-level key", key, ("targets", *TOP_LEVEL_METADATA))
                problems.add(TargetProblem(name, None, None, message, line))
            elif not isinstance(value, str) or not value.strip():
                problems.add(TargetProblem(name, None, key, "must be a non-empty string", line))
            elif (bad := first_unsafe_char(value.replace("\n", " "))) is not None:
                message = f"contains the control or formatting character U+{ord(bad):04X}"
                problems.add(TargetProblem(name, None, key, message, line))
            else:
                metadata[key] = value.strip()
        if "targets" not in document:
            file_problem("no 'targets' list", line)
            return None
        entries = document["targets"]
        if not isinstance(entries, list):
            message = f"must be a list of entries, not {type_name(entries)}"
            problems.add(TargetProblem(name, None, "targets", message, line))
            return None
    else:
        file_problem(f"expected a mapping with a 'targets' list (or a list), not {type_name(document)}")
        return None
    max_entries: int = limits.MAX_ENTRIES_PER_FILE
    if len(entries) > max_entries:
        file_problem(f"{len(entries)} entries; the cap is {max_entries} per file")
        return None
    targets: list[Target] = []
    for index, entry in enumerate(entries, start=1):
        if problems.full:
            break
        ctx = EntryContext(name, index, getattr(entry, "line", None), strict)
        target = validate_entry(entry, ctx, problems, ids)
        if target is not None:
            targets.append(target)
    return TargetFile(path, name, tuple(targets), **metadata)
