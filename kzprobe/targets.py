"""What to test: the Target model, and the loader that validates target files nobody vouched for.

A target file is YAML (a mapping with a `targets` list, or a bare list) or a Citizen Lab test
list CSV. A user's own file needs only `url` per entry; the bundled lists (`strict=True`) must
also give every entry an id, a name, a category and its sources. Every problem in every file is
collected, each naming file, entry and field, before one TargetFileError is raised: someone
fixing a list wants all of its mistakes at once. docs/targets.md describes the format.
"""

from __future__ import annotations

import csv
import datetime
import difflib
import functools
import hashlib
import io
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import SplitResult, urlsplit

import idna

from kzprobe.safe_yaml import YamlError, load_yaml

# ---------------------------------------------------------------------------------------------
# Limits and vocabularies

# Same reasoning as safe_yaml.MAX_YAML_BYTES: Citizen Lab's global list is 0.16 MB as CSV and
# ~0.4 MB as YAML; 5 MiB is ten times any real list and refuses a file meant to exhaust memory.
MAX_TARGET_FILE_BYTES: Final = 5 * 1024 * 1024
# Citizen Lab's global list has 1,722 rows and the largest country list a few thousand; a scan
# of 10,000 targets already takes hours at the default concurrency. More is a mistake or an attack.
MAX_ENTRIES_PER_FILE: Final = 10_000
# WhatsApp, the largest real service, has 16 chat hosts on 2 ports plus 2 web hosts (34).
MAX_ENDPOINTS_PER_TARGET: Final = 64
# A target worth citing has a handful of documents; dozens are a copy-paste accident.
MAX_SOURCES_PER_TARGET: Final = 32
# Browsers and servers commonly stop at 2,000-8,000 characters; no list entry needs more.
MAX_URL_CHARS: Final = 2048
# Names and the document/reports/date texts of sources: a sentence or two.
MAX_TEXT_CHARS: Final = 2000
# Ids end up in report files, CSV exports and terminal tables.
MAX_ID_CHARS: Final = 80
# Problems reported per load: after a thousand, the file is simply not a target list.
MAX_PROBLEMS: Final = 1000

# Citizen Lab category codes (citizenlab/test-lists, lists/00-LEGEND-new_category_codes.csv);
# the meanings are our short paraphrase.
CATEGORIES: Final[dict[str, str]] = {
    "ALDR": "alcohol and drugs",
    "REL": "religion",
    "PORN": "pornography",
    "PROV": "provocative attire",
    "POLR": "political criticism",
    "HUMR": "human rights",
    "ENV": "environment",
    "MILX": "terrorism and militants",
    "HATE": "hate speech",
    "NEWS": "news media",
    "XED": "sex education",
    "PUBH": "public health",
    "GMB": "gambling",
    "ANON": "anonymization and circumvention tools",
    "DATE": "online dating",
    "GRP": "social networking",
    "LGBT": "LGBTQ",
    "FILE": "file sharing",
    "HACK": "hacking tools",
    "COMT": "communication tools",
    "MMED": "media sharing",
    "HOST": "hosting and blogging platforms",
    "SRCH": "search engines",
    "GAME": "gaming",
    "CULTR": "culture",
    "ECON": "economics",
    "GOVT": "government",
    "COMM": "e-commerce",
    "CTRL": "control content",
    "IGO": "intergovernmental organizations",
    "MISC": "miscellaneous",
}

# Baselines: targets that should always work, from which a scan tells "online" from
# "international_cut" (only domestic ones work) and "offline", and gets a throughput reference.
BASELINE_DOMESTIC: Final = "domestic"
BASELINE_INTERNATIONAL: Final = "international"
BASELINES: Final = (BASELINE_DOMESTIC, BASELINE_INTERNATIONAL)

# What a service endpoint is for; a closed list so that a typo is caught.
ENDPOINT_ROLES: Final = (
    "web",  # the service's web front end
    "chat",  # message delivery
    "registration",  # account registration / login
    "media",  # photos, voice notes, video
    "datacenter",  # a data centre reached by IP (Telegram)
    "api",  # application API
    "storage",  # encrypted backups / storage service
    "contacts",  # contact discovery
    "calling",  # voice and video calls
    "cdn",  # static content
)

# Fields of a YAML target file.
TOP_LEVEL_METADATA: Final = ("title", "description", "licence")
ENTRY_FIELDS: Final = ("id", "url", "name", "category", "sources", "download", "baseline", "endpoints")
SOURCE_FIELDS: Final = ("document", "reports", "date")
ENDPOINT_FIELDS: Final = ("host", "port", "tls", "sni", "ca", "role")

# Citizen Lab CSV columns (lists/*.csv); only `url` is required in a CSV given to kzprobe.
CSV_COLUMNS: Final = ("url", "category_code", "category_description", "date_added", "source", "notes")
CSV_HEADER_PREFIX: Final = "url,category_code"
CITIZEN_LAB_LISTS: Final = "github.com/citizenlab/test-lists, CC BY-NC-SA 4.0"

# Pinned CA bundles for service endpoints (`ca: signal` -> kzprobe/data/cas/signal.pem).
CA_DIR: Final = Path(__file__).resolve().parent / "data" / "cas"

# Bundled lists: in a source checkout <repo>/targets/; in an installed wheel, package data.
BUNDLED_TARGET_NAMES: Final = ("kz.yaml", "messengers.yaml", "baselines.yaml")
_SOURCE_CHECKOUT: Final = Path(__file__).resolve().parent.parent
_PACKAGED_TARGETS: Final = Path(__file__).resolve().parent / "data" / "targets"

_ID_RE: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_CA_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LABEL_RE: Final = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_DATE_RE: Final = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
# Second-level labels under which a country code hands out names (orda.com.kz): used to
# approximate "same site" without shipping the Public Suffix List.
_GENERIC_SECOND_LEVEL: Final = frozenset({"com", "net", "org", "gov", "edu", "ac", "co", "mil"})


# ---------------------------------------------------------------------------------------------
# Model


@dataclass(frozen=True)
class Endpoint:
    """A host and port a service uses besides its web front end (e.g. a messenger's chat servers)."""

    host: str  # IDNA lower-case name, or an IP address (IPv6 without brackets)
    port: int
    tls: bool = False
    sni: str | None = None  # server name to send when it differs from host
    ca: str | None = None  # pinned CA bundle kzprobe/data/cas/<ca>.pem
    role: str | None = None  # one of ENDPOINT_ROLES

    @property
    def ca_file(self) -> Path | None:
        """The pinned CA bundle's path, when the endpoint names one."""
        return CA_DIR / f"{self.ca}.pem" if self.ca else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: host, port and tls always; sni, ca and role when set."""
        data: dict[str, Any] = {"host": self.host, "port": self.port, "tls": self.tls}
        for name in ("sni", "ca", "role"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


@dataclass(frozen=True)
class Target:
    """One thing to test: a web URL, a service's endpoints, or both."""

    id: str  # unique slug; derived from the host (and path) when a user file gives none
    url: str | None  # http(s) URL, as written in the file; None only for pure service targets
    name: str | None = None
    category: str | None = None  # Citizen Lab category code
    sources: tuple[dict, ...] = ()  # each {"document", "reports", "date"}: why it is on the list
    download: str | None = None  # a larger resource on the same site, for throughput
    baseline: str | None = None  # "domestic" | "international" | None
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def hostname(self) -> str:
        """The URL's host as asked on the wire: IDNA (punycode), lower case, no trailing dot."""
        return _url_parts(self._require_url()).hostname

    @property
    def port(self) -> int:
        """The URL's port, or the scheme's default."""
        return _url_parts(self._require_url()).port

    @property
    def scheme(self) -> str:
        """"http" or "https"."""
        return _url_parts(self._require_url()).scheme

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the report's "target" field: only the fields that are set."""
        data: dict[str, Any] = {"id": self.id}
        if self.url is not None:
            data["url"] = self.url
            data["hostname"] = self.hostname
        for name in ("name", "category"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.sources:
            data["sources"] = [dict(source) for source in self.sources]
        for name in ("download", "baseline"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.endpoints:
            data["endpoints"] = [endpoint.to_dict() for endpoint in self.endpoints]
        return data

    def __hash__(self) -> int:
        # The generated hash would fail on the source dicts; equal targets share id and url.
        return hash((self.id, self.url))

    def _require_url(self) -> str:
        if self.url is None:
            raise ValueError(f"target {self.id!r} has no url (it is a service target: see endpoints)")
        return self.url


@dataclass(frozen=True)
class TargetProblem:
    """One thing wrong in a target file, precise enough to fix without reading code."""

    file: str
    entry: str | None  # e.g. "entry 3 (orda-kz)"; None for the file as a whole
    field: str | None
    message: str
    line: int | None = None  # 1-based line in the file, when known

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field_part = None if self.field is None else f"field {self.field!r}"
        parts = [part for part in (self.entry, field_part) if part]
        return f"{where}: {', '.join(parts)}: {self.message}" if parts else f"{where}: {self.message}"


class TargetFileError(Exception):
    """One or more target files are unusable; `problems` lists everything that was found."""

    def __init__(self, problems: Sequence[TargetProblem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        first = str(self.problems[0]) if self.problems else "no details"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"{first}{more}")


@dataclass(frozen=True)
class TargetFile:
    """A loaded target file: its metadata and its targets, in file order."""

    path: Path
    name: str  # as given, for messages
    targets: tuple[Target, ...]
    title: str | None = None
    description: str | None = None
    licence: str | None = None


# ---------------------------------------------------------------------------------------------
# Public loading API


def load_targets(paths: Sequence[str | Path], *, strict: bool = False) -> list[Target]:
    """All targets of all files, in order. Raises TargetFileError listing every problem found.

    Duplicate ids within or across files are errors. strict=True applies the bundled-list rules:
    every entry has an id, a name, a category and at least one complete source.
    """
    files = load_target_files(paths, strict=strict)
    return [target for target_file in files for target in target_file.targets]


def load_target_files(paths: Sequence[str | Path], *, strict: bool = False) -> list[TargetFile]:
    """Like load_targets, keeping each file's metadata and targets apart (for listings and counts)."""
    if isinstance(paths, (str, Path)):
        raise TypeError("paths must be a list of paths, not a single path")
    problems = _Problems()
    loaded: list[TargetFile] = []
    ids = _IdRegistry(problems)
    seen_files: dict[Path, str] = {}
    for raw_path in paths:
        path = Path(raw_path)
        name = str(raw_path)
        key = _file_key(path)
        if key in seen_files:
            problems.add(TargetProblem(name, None, None, f"given twice (also as {seen_files[key]})"))
            continue
        seen_files[key] = name
        target_file = _load_one_file(path, name, strict, problems, ids)
        if target_file is not None:
            loaded.append(target_file)
        if problems.full:
            break
    if problems:
        raise TargetFileError(problems.items)
    return loaded


def targets_from_urls(urls: Iterable[str], *, source_name: str = "command line") -> list[Target]:
    """Targets for URLs given directly (e.g. on the command line), validated like a user file."""
    problems = _Problems()
    ids = _IdRegistry(problems)
    targets: list[Target] = []
    for index, url in enumerate(urls, start=1):
        ctx = _EntryContext(source_name, index, None, strict=False)
        target = _validate_entry({"url": url}, ctx, problems, ids)
        if target is not None:
            targets.append(target)
    if problems:
        raise TargetFileError(problems.items)
    return targets


def bundled_target_files() -> list[Path]:
    """The lists shipped with kzprobe: kz.yaml, messengers.yaml, baselines.yaml, then any others.

    From a source checkout they are <repo>/targets/*.yaml; an installed wheel carries them as
    package data in kzprobe/data/targets/.
    """
    source_dir = _SOURCE_CHECKOUT / "targets"
    if (_SOURCE_CHECKOUT / "pyproject.toml").is_file() and (source_dir / BUNDLED_TARGET_NAMES[0]).is_file():
        directory = source_dir
    else:
        directory = _PACKAGED_TARGETS
    extra = sorted(p.name for p in directory.glob("*.yaml") if p.name not in BUNDLED_TARGET_NAMES)
    return [directory / name for name in (*BUNDLED_TARGET_NAMES, *extra)]


def ca_names() -> list[str]:
    """Names of the pinned CA bundles shipped in kzprobe/data/cas/."""
    return sorted(p.stem for p in CA_DIR.glob("*.pem")) if CA_DIR.is_dir() else []


# ---------------------------------------------------------------------------------------------
# Problems and ids


class _Problems:
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
class _IdOwner:
    file: str
    index: int
    line: int | None
    url: str | None


class _IdRegistry:
    """Every id across all files loaded together, to report duplicates with both places."""

    def __init__(self, problems: _Problems) -> None:
        self._problems = problems
        self._owners: dict[str, _IdOwner] = {}

    def claim(self, target_id: str, derived: bool, ctx: "_EntryContext", url: str | None) -> str | None:
        """The id the entry gets, or None after reporting a duplicate with the place of the first.

        Rows of a CSV cannot carry an id, and Citizen Lab's lists test http:// and https:// of the
        same host as two rows: there, a derived id already taken by a *different* URL gets a
        short hash of the URL appended. The same URL twice is a duplicate everywhere.
        """
        owner = self._owners.get(target_id)
        if owner is not None and derived and ctx.unique_derived_ids and url is not None and owner.url != url:
            target_id = _with_hash(target_id, url)
            owner = self._owners.get(target_id)
        if owner is None:
            self._owners[target_id] = _IdOwner(ctx.file, ctx.index, ctx.line, url)
            return target_id
        place = f"entry {owner.index}" + (f" (line {owner.line})" if owner.line else "")
        if owner.file != ctx.file:
            place += f" of {owner.file}"
        if derived and owner.url == url:
            message = f"the same URL as {place}; remove one of them"
        elif derived:
            message = (
                f"the id {target_id!r}, derived from the host and path, is already used by {place}; "
                "give one of them an explicit id, or remove the duplicate"
            )
        else:
            message = f"duplicate id {target_id!r}: also used by {place}"
        ctx.problem(self._problems, "id", message)
        return None


def _file_key(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


# ---------------------------------------------------------------------------------------------
# Files: reading, YAML, CSV


def _load_one_file(
    path: Path, name: str, strict: bool, problems: _Problems, ids: _IdRegistry
) -> TargetFile | None:
    def file_problem(message: str, line: int | None = None) -> None:
        problems.add(TargetProblem(name, None, None, message, line))

    text = _read_text(path, name, file_problem)
    if text is None:
        return None
    if path.suffix.lower() == ".csv" or text.lstrip("\ufeff").lower().startswith(CSV_HEADER_PREFIX):
        return _load_csv(path, name, text, strict, problems, ids)
    try:
        document = load_yaml(text, source_name=name, max_bytes=MAX_TARGET_FILE_BYTES)
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
            data = handle.read(MAX_TARGET_FILE_BYTES + 1)  # never more than the cap, whatever the file
    except OSError as error:
        file_problem(f"cannot be read: {error.strerror or error}")
        return None
    if len(data) > MAX_TARGET_FILE_BYTES:
        file_problem(f"larger than the {MAX_TARGET_FILE_BYTES // (1024 * 1024)} MiB cap for target files")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        file_problem(f"not UTF-8 text (byte {error.start})", data.count(b"\n", 0, error.start) + 1)
        return None


def _load_yaml_document(
    path: Path, name: str, document: Any, strict: bool, problems: _Problems, ids: _IdRegistry
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
                message = _unknown_key_message("top-level key", key, ("targets", *TOP_LEVEL_METADATA))
                problems.add(TargetProblem(name, None, None, message, line))
            elif not isinstance(value, str) or not value.strip():
                problems.add(TargetProblem(name, None, key, "must be a non-empty string", line))
            elif (bad := _first_unsafe_char(value.replace("\n", " "))) is not None:
                message = f"contains the control or formatting character U+{ord(bad):04X}"
                problems.add(TargetProblem(name, None, key, message, line))
            else:
                metadata[key] = value.strip()
        if "targets" not in document:
            file_problem("no 'targets' list", line)
            return None
        entries = document["targets"]
        if not isinstance(entries, list):
            message = f"must be a list of entries, not {_type_name(entries)}"
            problems.add(TargetProblem(name, None, "targets", message, line))
            return None
    else:
        file_problem(f"expected a mapping with a 'targets' list (or a list), not {_type_name(document)}")
        return None
    if len(entries) > MAX_ENTRIES_PER_FILE:
        file_problem(f"{len(entries)} entries; the cap is {MAX_ENTRIES_PER_FILE} per file")
        return None
    targets: list[Target] = []
    for index, entry in enumerate(entries, start=1):
        if problems.full:
            break
        ctx = _EntryContext(name, index, getattr(entry, "line", None), strict)
        target = _validate_entry(entry, ctx, problems, ids)
        if target is not None:
            targets.append(target)
    return TargetFile(path, name, tuple(targets), **metadata)


def _load_csv(
    path: Path, name: str, text: str, strict: bool, problems: _Problems, ids: _IdRegistry
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
            file_problem(_unknown_key_message("column", column, CSV_COLUMNS), 1)
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
        if index > MAX_ENTRIES_PER_FILE:
            file_problem(f"more than {MAX_ENTRIES_PER_FILE} rows, the cap per file", line)
            break
        ctx = _EntryContext(name, index, line, strict, field_names=_CSV_FIELD_NAMES, unique_derived_ids=True)
        if len(row) != len(columns):
            ctx.problem(problems, None, f"has {len(row)} fields; the header has {len(columns)}")
            continue
        cells = {column: cell.strip() for column, cell in zip(columns, row)}
        target = _validate_entry(_csv_entry(cells, basename), ctx, problems, ids)
        if target is not None:
            targets.append(target)
    return TargetFile(path, name, tuple(targets), title=f"Citizen Lab test list {basename}")


# Entry fields as the CSV columns they came from, for problem messages.
_CSV_FIELD_NAMES: Final = {
    "category": "category_code",
    "sources[1].document": "source",
    "sources[1].reports": "notes",
    "sources[1].date": "date_added",
}


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


# ---------------------------------------------------------------------------------------------
# Entries


@dataclass
class _EntryContext:
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

    def problem(self, problems: _Problems, field_name: str | None, message: str) -> None:
        shown = None if field_name is None else self.field_names.get(field_name, field_name)
        problems.add(TargetProblem(self.file, self.label(), shown, message, self.line))


def _validate_entry(entry: Any, ctx: _EntryContext, problems: _Problems, ids: _IdRegistry) -> Target | None:
    """One entry to a Target, or None after reporting every problem it has."""
    if not isinstance(entry, dict):
        hint = " (write '- url: …')" if isinstance(entry, str) else ""
        ctx.problem(problems, None, f"must be a mapping with at least 'url'{hint}, not {_type_name(entry)}")
        return None
    before = len(problems.items)
    raw_id = entry.get("id")
    if isinstance(raw_id, str) and _ID_RE.match(raw_id):
        ctx.target_id = raw_id
    for key in entry:
        if key not in ENTRY_FIELDS:
            ctx.problem(problems, None, _unknown_key_message("field", key, ENTRY_FIELDS))

    url = _check_url_field(entry, "url", ctx, problems)
    endpoints = _check_endpoints(entry, ctx, problems)
    if "url" not in entry and "endpoints" not in entry:
        ctx.problem(problems, "url", "required (or 'endpoints' for a service target)")

    target_id, derived = _check_id(entry, url, endpoints, ctx, problems)
    if ctx.target_id is None and target_id is not None:
        ctx.target_id = target_id

    name = _check_text(entry, "name", ctx, problems, required=ctx.strict)
    category = _check_category(entry, ctx, problems)
    sources = _check_sources(entry, ctx, problems)
    baseline = _check_baseline(entry, ctx, problems)
    if baseline is not None and "url" not in entry:
        ctx.problem(problems, "baseline", "needs the target's 'url': baselines are judged on web access")
    download = _check_download(entry, url, ctx, problems)

    if len(problems.items) > before or target_id is None:
        return None
    claimed = ids.claim(target_id, derived, ctx, url)
    if claimed is None:
        return None
    return Target(
        id=claimed,
        url=url,
        name=name,
        category=category,
        sources=sources,
        download=download,
        baseline=baseline,
        endpoints=endpoints,
    )


def _check_id(
    entry: dict, url: str | None, endpoints: tuple[Endpoint, ...], ctx: _EntryContext, problems: _Problems
) -> tuple[str | None, bool]:
    """(id, derived): the entry's own id, or one derived from its URL or first endpoint."""
    if "id" in entry:
        value = entry["id"]
        if not isinstance(value, str):
            ctx.problem(problems, "id", f"must be a string, not {_type_name(value)}")
        elif not value:
            ctx.problem(problems, "id", "must not be empty")
        elif len(value) > MAX_ID_CHARS:
            ctx.problem(problems, "id", f"longer than {MAX_ID_CHARS} characters")
        elif not _ID_RE.match(value):
            ctx.problem(problems, "id", f"{_show(value)} must be lower-case letters, digits, inner hyphens")
        else:
            return value, False
        return None, False
    if ctx.strict:
        ctx.problem(problems, "id", "required in the bundled lists")
        return None, False
    if url is not None:
        return derive_id(url), True
    if endpoints:
        return _host_slug(endpoints[0].host), True
    return None, False


def derive_id(url: str) -> str:
    """The id a user file's entry gets when it has none: host, then path and query, as a slug.

    orda.kz -> "orda-kz"; https://kk.wikipedia.org/wiki/ -> "kk-wikipedia-org-wiki". Long ones
    are cut and made unique with a hash of the URL.
    """
    parts = urlsplit(url)
    host = _url_parts(url).hostname
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    slug = _host_slug(host)
    rest_slug = _slug(rest)
    if rest_slug:
        slug = f"{slug}-{rest_slug}"
    return _with_hash(slug, url) if len(slug) > MAX_ID_CHARS else slug


def _with_hash(slug: str, url: str) -> str:
    """The slug, cut to fit, with 8 hex digits of the URL's hash: unique for each URL."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    return f"{slug[: MAX_ID_CHARS - 9].rstrip('-')}-{digest}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _host_slug(host: str) -> str:
    # Hyphens inside a host are kept as they are, so that punycode stays readable: xn--e1afmkfd-kz.
    return re.sub(r"[^a-z0-9-]+", "-", host.lower()).strip("-")


def _check_text(
    entry: dict, key: str, ctx: _EntryContext, problems: _Problems, *, required: bool
) -> str | None:
    if key not in entry:
        if required:
            ctx.problem(problems, key, "required in the bundled lists")
        return None
    return _text_value(entry[key], key, ctx, problems)


def _text_value(value: Any, key: str, ctx: _EntryContext, problems: _Problems) -> str | None:
    """A short human text: a string, not empty, no control or formatting characters."""
    if not isinstance(value, str):
        ctx.problem(problems, key, f"must be a string, not {_type_name(value)}")
        return None
    text = value.strip()
    if not text:
        ctx.problem(problems, key, "must not be empty")
        return None
    if len(text) > MAX_TEXT_CHARS:
        ctx.problem(problems, key, f"longer than {MAX_TEXT_CHARS} characters")
        return None
    bad = _first_unsafe_char(text)
    if bad is not None:
        ctx.problem(problems, key, f"contains the control or formatting character U+{ord(bad):04X}")
        return None
    return text


def _check_category(entry: dict, ctx: _EntryContext, problems: _Problems) -> str | None:
    if "category" not in entry:
        if ctx.strict:
            ctx.problem(problems, "category", "required in the bundled lists")
        return None
    value = entry["category"]
    if not isinstance(value, str):
        ctx.problem(problems, "category", f"must be a Citizen Lab category code, not {_type_name(value)}")
        return None
    if value in CATEGORIES:
        return value
    hint = f"; did you mean {value.strip().upper()!r}?" if value.strip().upper() in CATEGORIES else ""
    message = f"{_show(value)} is not a Citizen Lab category code{hint} (see docs/targets.md)"
    ctx.problem(problems, "category", message)
    return None


def _check_baseline(entry: dict, ctx: _EntryContext, problems: _Problems) -> str | None:
    if "baseline" not in entry:
        return None
    value = entry["baseline"]
    if value in BASELINES:
        return value
    ctx.problem(problems, "baseline", f"{_show(value)} is not one of: {', '.join(BASELINES)}")
    return None


def _check_sources(entry: dict, ctx: _EntryContext, problems: _Problems) -> tuple[dict, ...]:
    if "sources" not in entry:
        if ctx.strict:
            message = "required in the bundled lists: at least one {document, reports, date}"
            ctx.problem(problems, "sources", message)
        return ()
    value = entry["sources"]
    if not isinstance(value, list):
        message = f"must be a list of {{document, reports, date}}, not {_type_name(value)}"
        ctx.problem(problems, "sources", message)
        return ()
    if not value and ctx.strict:
        ctx.problem(problems, "sources", "must list at least one source in the bundled lists")
    if len(value) > MAX_SOURCES_PER_TARGET:
        ctx.problem(problems, "sources", f"{len(value)} sources; the cap is {MAX_SOURCES_PER_TARGET}")
        return ()
    sources: list[dict] = []
    for number, source in enumerate(value, start=1):
        checked = _check_source(source, f"sources[{number}]", ctx, problems)
        if checked is not None:
            sources.append(checked)
    return tuple(sources)


def _check_source(source: Any, where: str, ctx: _EntryContext, problems: _Problems) -> dict | None:
    if not isinstance(source, dict):
        message = f"must be a mapping {{document, reports, date}}, not {_type_name(source)}"
        ctx.problem(problems, where, message)
        return None
    ok = True
    for key in source:
        if key not in SOURCE_FIELDS:
            ctx.problem(problems, where, _unknown_key_message("key", key, SOURCE_FIELDS))
            ok = False
    checked: dict[str, str] = {}
    for key in SOURCE_FIELDS:
        if key not in source:
            if key == "document" or ctx.strict:
                message = "required" if key == "document" else "required in the bundled lists"
                ctx.problem(problems, f"{where}.{key}", message)
                ok = False
            continue
        value = source[key]
        if key == "date":
            text = _check_date(value, f"{where}.date", ctx, problems)
        else:
            text = _text_value(value, f"{where}.{key}", ctx, problems)
        if text is None:
            ok = False
        else:
            checked[key] = text
    return checked if ok else None


def _check_date(value: Any, where: str, ctx: _EntryContext, problems: _Problems) -> str | None:
    """YYYY, YYYY-MM or YYYY-MM-DD, a real calendar date; an unquoted year (int) is accepted."""
    if isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 9999:
        return str(value)
    if not isinstance(value, str):
        message = f"must be a date string YYYY, YYYY-MM or YYYY-MM-DD, not {_type_name(value)}"
        ctx.problem(problems, where, message)
        return None
    match = _DATE_RE.match(value.strip())
    if match:
        year, month, day = (int(part) if part else None for part in match.groups())
        try:
            datetime.date(year, month or 1, day or 1)  # type: ignore[arg-type]
            return value.strip()
        except ValueError:
            pass
    ctx.problem(problems, where, f"{_show(value)} is not a date YYYY, YYYY-MM or YYYY-MM-DD")
    return None


# ---------------------------------------------------------------------------------------------
# URLs and hosts


@dataclass(frozen=True)
class _UrlParts:
    scheme: str
    hostname: str  # normalized: IDNA lower case, or an IP address without brackets
    port: int


@functools.lru_cache(maxsize=4096)
def _url_parts(url: str) -> _UrlParts:
    """The parts of an http(s) URL, or ValueError with a message for the user.

    Cached: a scan asks each target for its hostname, port and scheme many times.
    """
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"longer than {MAX_URL_CHARS} characters")
    for char in url:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            kind = "whitespace" if char.isspace() else "a control or formatting character"
            raise ValueError(f"contains {kind} (U+{ord(char):04X}); percent-encode it or remove it")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise ValueError(f"not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not url.lower().startswith(f"{scheme}://"):
        raise ValueError("not an http(s) URL (it must start with http:// or https://)")
    if not parts.netloc:
        raise ValueError("has no host")
    if "@" in parts.netloc:
        raise ValueError("contains a user name or password; they would be sent to whoever answers")
    return _UrlParts(scheme, _split_netloc_host(parts), _split_netloc_port(parts, scheme))


def _split_netloc_host(parts: SplitResult) -> str:
    netloc = parts.netloc
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise ValueError("has an unclosed '[' in its host")
        return normalize_host(netloc[: end + 1])
    host = netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
    if not host:
        raise ValueError("has no host")
    return normalize_host(host)


def _split_netloc_port(parts: SplitResult, scheme: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if port is None:
        return 443 if scheme == "https" else 80
    if port == 0:
        raise ValueError("has port 0; a port is a number from 1 to 65535")
    return port


def normalize_host(host: str) -> str:
    """A host as kzprobe asks for it: IDNA (punycode) lower case, or a canonical IP address.

    Accepts names (Unicode ones too: пример.kz -> xn--e1afmkfd.kz), IPv4 addresses and IPv6
    addresses in brackets or bare. Raises ValueError with a message for the user.
    """
    if host.startswith("[") or ":" in host:
        inner = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if "%" in inner:
            raise ValueError("an IPv6 zone (%…) is not allowed in a host")
        try:
            return ipaddress.IPv6Address(inner).compressed
        except ValueError:
            raise ValueError(f"{_show(host)} is not a valid IPv6 address") from None
    name = host[:-1] if host.endswith(".") else host
    if not name:
        raise ValueError("has an empty host")
    if name.isascii():
        name = name.lower()
    else:
        try:
            name = idna.encode(name, uts46=True, std3_rules=False, transitional=False).decode("ascii").lower()
        except (idna.IDNAError, UnicodeError, ValueError) as error:
            raise ValueError(f"the host {_show(host)} cannot be encoded as IDNA: {error}") from None
    labels = name.split(".")
    if all(label.isdigit() for label in labels if label) or labels[-1].isdigit():
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise ValueError(f"{_show(host)} is neither a valid IPv4 address nor a domain name") from None
    if len(name) > 253:
        raise ValueError("the host name is longer than 253 characters")
    for label in labels:
        if not _LABEL_RE.match(label):
            raise ValueError(f"the host {_show(host)} has an invalid label {_show(label)}")
        if label.startswith("xn--"):
            try:
                label[4:].encode("ascii").decode("punycode")
            except UnicodeError:
                message = f"the host {_show(host)} has an invalid punycode label {_show(label)}"
                raise ValueError(message) from None
    return name


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _site(host: str) -> str:
    """The registrable part of a host, approximately: orda.kz for www.orda.kz, x.com.kz for a.x.com.kz."""
    if _is_ip_address(host):
        return host
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def _check_url_field(entry: dict, key: str, ctx: _EntryContext, problems: _Problems) -> str | None:
    if key not in entry:
        return None
    value = entry[key]
    if not isinstance(value, str):
        ctx.problem(problems, key, f"must be a string, not {_type_name(value)}")
        return None
    if not value:
        ctx.problem(problems, key, "must not be empty")
        return None
    try:
        _url_parts(value)
    except ValueError as error:
        ctx.problem(problems, key, str(error))
        return None
    return value


def _check_download(entry: dict, url: str | None, ctx: _EntryContext, problems: _Problems) -> str | None:
    download = _check_url_field(entry, "download", ctx, problems)
    if download is None:
        return None
    if url is None:
        if "url" not in entry:
            ctx.problem(problems, "download", "needs the target's 'url': the download measures that site")
        return None
    target_site = _site(_url_parts(url).hostname)
    download_site = _site(_url_parts(download).hostname)
    if target_site != download_site:
        ctx.problem(
            problems,
            "download",
            f"is on {download_site}, a different site from the target's {target_site}; "
            "its throughput would say nothing about this target",
        )
        return None
    return download


# ---------------------------------------------------------------------------------------------
# Endpoints


def _check_endpoints(entry: dict, ctx: _EntryContext, problems: _Problems) -> tuple[Endpoint, ...]:
    if "endpoints" not in entry:
        return ()
    value = entry["endpoints"]
    if not isinstance(value, list):
        message = f"must be a list of 'host:port' or {{host, port, …}}, not {_type_name(value)}"
        ctx.problem(problems, "endpoints", message)
        return ()
    if not value:
        ctx.problem(problems, "endpoints", "must not be empty (leave the field out instead)")
        return ()
    if len(value) > MAX_ENDPOINTS_PER_TARGET:
        ctx.problem(problems, "endpoints", f"{len(value)} endpoints; the cap is {MAX_ENDPOINTS_PER_TARGET}")
        return ()
    endpoints: list[Endpoint] = []
    seen: dict[tuple, int] = {}
    for number, item in enumerate(value, start=1):
        where = f"endpoints[{number}]"
        if isinstance(item, str):
            endpoint = _endpoint_from_string(item, where, ctx, problems)
        else:
            endpoint = _endpoint_from_mapping(item, where, ctx, problems)
        if endpoint is None:
            continue
        key = (endpoint.host, endpoint.port, endpoint.tls, endpoint.sni)
        if key in seen:
            ctx.problem(problems, where, f"repeats endpoints[{seen[key]}]")
            continue
        seen[key] = number
        endpoints.append(endpoint)
    return tuple(endpoints)


def _endpoint_from_string(item: str, where: str, ctx: _EntryContext, problems: _Problems) -> Endpoint | None:
    """'host:port', '1.2.3.4:443' or '[2001:db8::1]:443': a plain TCP endpoint."""
    text = item.strip()
    if text.startswith("["):
        host, sep, port_text = text.partition("]:")
        host += "]"
        if not sep:
            ctx.problem(problems, where, f"{_show(item)} must be '[IPv6]:port'")
            return None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            ctx.problem(problems, where, f"{_show(item)} must be 'host:port'")
            return None
        if ":" in host:
            message = f"{_show(item)}: write an IPv6 address in brackets, '[2001:db8::1]:443'"
            ctx.problem(problems, where, message)
            return None
    port = _port_value(port_text, where, ctx, problems)
    try:
        normalized = normalize_host(host)
    except ValueError as error:
        ctx.problem(problems, where, str(error))
        return None
    return Endpoint(host=normalized, port=port) if port is not None else None


def _endpoint_from_mapping(item: Any, where: str, ctx: _EntryContext, problems: _Problems) -> Endpoint | None:
    if not isinstance(item, dict):
        message = f"must be 'host:port' or a mapping {{host, port, tls, sni, ca, role}}, not {_type_name(item)}"
        ctx.problem(problems, where, message)
        return None
    before = len(problems.items)
    for key in item:
        if key not in ENDPOINT_FIELDS:
            ctx.problem(problems, where, _unknown_key_message("key", key, ENDPOINT_FIELDS))
    host = None
    if "host" not in item:
        ctx.problem(problems, f"{where}.host", "required")
    elif not isinstance(item["host"], str) or not item["host"]:
        ctx.problem(problems, f"{where}.host", "must be a non-empty string (a name or an IP address)")
    else:
        try:
            host = normalize_host(item["host"])
        except ValueError as error:
            ctx.problem(problems, f"{where}.host", str(error))
    port = None
    if "port" not in item:
        ctx.problem(problems, f"{where}.port", "required")
    else:
        port = _port_value(item["port"], f"{where}.port", ctx, problems)
    tls = item.get("tls", False)
    if not isinstance(tls, bool):
        ctx.problem(problems, f"{where}.tls", f"must be true or false, not {_type_name(tls)}")
        tls = False
    sni = _endpoint_sni(item, tls, where, ctx, problems)
    ca = _endpoint_ca(item, tls, where, ctx, problems)
    role = item.get("role")
    if role is not None and role not in ENDPOINT_ROLES:
        ctx.problem(problems, f"{where}.role", f"{_show(role)} is not one of: {', '.join(ENDPOINT_ROLES)}")
    if len(problems.items) > before or host is None or port is None:
        return None
    return Endpoint(host=host, port=port, tls=tls, sni=sni, ca=ca, role=role)


def _endpoint_sni(item: dict, tls: bool, where: str, ctx: _EntryContext, problems: _Problems) -> str | None:
    if "sni" not in item:
        return None
    value = item["sni"]
    if not tls:
        ctx.problem(problems, f"{where}.sni", "only makes sense with 'tls: true'")
        return None
    if not isinstance(value, str) or not value:
        ctx.problem(problems, f"{where}.sni", "must be a non-empty host name")
        return None
    try:
        sni = normalize_host(value)
    except ValueError as error:
        ctx.problem(problems, f"{where}.sni", str(error))
        return None
    if _is_ip_address(sni):
        ctx.problem(problems, f"{where}.sni", "must be a host name; TLS sends no IP address as server name")
        return None
    return sni


def _endpoint_ca(item: dict, tls: bool, where: str, ctx: _EntryContext, problems: _Problems) -> str | None:
    if "ca" not in item:
        return None
    value = item["ca"]
    if not tls:
        ctx.problem(problems, f"{where}.ca", "only makes sense with 'tls: true'")
        return None
    if not isinstance(value, str) or not _CA_NAME_RE.match(value):
        message = f"{_show(value)} must be the name of a bundle in kzprobe/data/cas/, e.g. 'signal'"
        ctx.problem(problems, f"{where}.ca", message)
        return None
    if not (CA_DIR / f"{value}.pem").is_file():
        known = ", ".join(ca_names()) or "none"
        ctx.problem(problems, f"{where}.ca", f"no CA bundle {value!r} in kzprobe/data/cas/ (known: {known})")
        return None
    return value


def _port_value(value: Any, where: str, ctx: _EntryContext, problems: _Problems) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        ctx.problem(problems, where, f"{_show(value)} is not a port number from 1 to 65535")
        return None
    return value


# ---------------------------------------------------------------------------------------------
# Message helpers


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _show(value: Any, limit: int = 60) -> str:
    """A value from a file, quoted and made safe to print: escapes, never raw control characters."""
    text = _type_name(value) if isinstance(value, (list, dict)) else repr(value)
    text = "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_unsafe_char(text: str) -> str | None:
    """Texts are one-liners in tables and problem lines: no control, line or formatting characters."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            return char
    return None


def _unknown_key_message(kind: str, key: Any, known: Sequence[str]) -> str:
    if not isinstance(key, str):
        return f"unknown {kind} {_show(key)}; known: {', '.join(known)}"
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
    return f"unknown {kind} {_show(key)}{hint}"


__all__ = [
    "BASELINES",
    "CATEGORIES",
    "ENDPOINT_ROLES",
    "Endpoint",
    "Target",
    "TargetFile",
    "TargetFileError",
    "TargetProblem",
    "bundled_target_files",
    "ca_names",
    "derive_id",
    "load_target_files",
    "load_targets",
    "normalize_host",
    "targets_from_urls",
]
