"""A store on disk: Parquet files under Hive-style directories, and the manifest that commits them.

    DIR/manifest.json                                   the committed files (replaced atomically)
    DIR/results/vantage=<name>/day=<YYYY-MM-DD>/part-<batch>.parquet
    DIR/scans/vantage=<name>/part-<batch>.parquet
    DIR/runs/vantage=<name>/part-<batch>.parquet        each target's runs of one state per day
    DIR/.lock                                           one writer at a time (flock)

Results are partitioned by vantage and by the scan's UTC start day, as the issue asks and as
ClickHouse, Spark and BigQuery partition such data: an hourly ingest rewrites one day file (at
most 24 scans) instead of a month of 720, and a question about some days or vantages opens only
their files. Engines pay per file opened (DuckDB about a quarter of a millisecond), so that a
hundred vantages for a year (36,500 day files) would make every question over all of it slow:
the `runs` table is what the whole-store questions read instead. It holds, per vantage, each
target's runs of one state within each day (first and last scan, scans, incomplete scans): a
few rows per target per day, derived from the day's results and rewritten with them in the same
commit, so that it can never disagree with them (kzprobe.analyst.store.runs).

Each partition is one file, rewritten whole by the batch that touches it under a new name; the
manifest names the live file of every partition. A batch writes its files first, then replaces
the manifest (the commit: rename(2) of a synced file), then deletes the files it superseded. A
crash before the commit leaves the old manifest, whose files are all still there: the store
reads as before and the batch can be run again. Files that no manifest names (left by such a
crash) are deleted by the next writer. Vantage names are percent-encoded in directory names,
as Hive escapes partition values.

Format 1 (kzprobe before day partitions) kept results by month and had no runs; a writer
rewrites such a store to format 2 in place, in one commit (kzprobe.analyst.store.migrate), and a
reader refuses it with the command that does so.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import quote

from kzprobe.errors import BadInputError
from kzprobe.report.atomic import replace_atomically, sync_directory

STORE_FORMAT: Final = "kzprobe-store"
STORE_VERSION: Final = 2
# Format 1: results by vantage and month, no runs table. Read only to migrate it.
MONTH_LAYOUT_VERSION: Final = 1
MANIFEST_NAME: Final = "manifest.json"
LOCK_NAME: Final = ".lock"
RESULTS_DIR: Final = "results"
SCANS_DIR: Final = "scans"
RUNS_DIR: Final = "runs"
KINDS: Final = (RESULTS_DIR, SCANS_DIR, RUNS_DIR)
# A manifest is about 100 bytes per partition (a year of 100 hourly vantages, 36,500 day files:
# ~4 MB); anything far larger is not one of ours.
MAX_MANIFEST_BYTES: Final = 256 * 1024 * 1024


class StoreError(BadInputError):
    """The store cannot be used (missing, not a store, newer format, locked); says which and why."""


class QueryError(BadInputError):
    """A query the store refuses, or one the engine could not run (the message says which).
    Beside StoreError so that every engine module can raise it without importing the others."""


def migrate_command(store: Path) -> str:
    return f"kzprobe store migrate --store {store}"


@dataclass
class Manifest:
    """The committed state: the live file of each partition (paths relative to the store)."""

    batch: int = 0
    results: dict[str, str] = field(default_factory=dict)  # "vantage\tYYYY-MM-DD" -> file
    scans: dict[str, str] = field(default_factory=dict)  # vantage -> file
    runs: dict[str, str] = field(default_factory=dict)  # vantage -> file
    version: int = STORE_VERSION

    def files(self) -> set[str]:
        return set(self.results.values()) | set(self.scans.values()) | set(self.runs.values())

    def to_json(self) -> dict[str, Any]:
        return {"format": STORE_FORMAT, "format_version": self.version, "batch": self.batch,
                "results": dict(sorted(self.results.items())), "scans": dict(sorted(self.scans.items())),
                "runs": dict(sorted(self.runs.items()))}


def results_partition(vantage: str, day: str) -> str:
    """The manifest's key of a results partition: the vantage and the day ('2022-01-05')."""
    return f"{vantage}\t{day}"


def split_partition(key: str) -> tuple[str, str]:
    """(vantage, day) of a results partition key (a vantage name may hold anything but a tab)."""
    vantage, _, day = key.rpartition("\t")
    return vantage, day


def partition_directory(kind: str, vantage: str, day: str | None = None) -> str:
    """'results/vantage=almaty-vps/day=2022-01-05' (the vantage name percent-encoded)."""
    parts = [kind, f"vantage={quote(vantage, safe='')}"]
    if day is not None:
        parts.append(f"day={day}")
    return "/".join(parts)


def read_manifest(store: Path, *, month_layout: bool = False) -> Manifest:
    """The committed manifest; an empty one for a store not yet written; StoreError otherwise.

    A format-1 store (results by month) is refused, naming the command that rewrites it by
    day, unless `month_layout` (the migration itself) asks for it."""
    path = store / MANIFEST_NAME
    if not store.is_dir():
        raise StoreError(f"{store}: no such store (create it with `kzprobe store add PATH --store {store}`)")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        if any(entry.name != LOCK_NAME for entry in store.iterdir()):
            raise StoreError(f"{store}: not a kzprobe store (no {MANIFEST_NAME}, and not empty)") from None
        return Manifest()
    except OSError as error:
        raise StoreError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        loaded = json.loads(data)
        if loaded.get("format") != STORE_FORMAT:
            raise StoreError(f"{path}: not a kzprobe store manifest")
        version = loaded.get("format_version")
        if version == MONTH_LAYOUT_VERSION and not month_layout:
            raise StoreError(f"{store}: written by an earlier kzprobe (results by month, store format 1); "
                             f"`{migrate_command(store)}` rewrites it by day in place (or any `store add`)")
        if version not in (STORE_VERSION, MONTH_LAYOUT_VERSION):
            raise StoreError(f"{path}: store format {str(version)[:20]!r}; this kzprobe reads {STORE_VERSION}")
        manifest = Manifest(int(loaded["batch"]), dict(loaded["results"]), dict(loaded["scans"]),
                            dict(loaded.get("runs") or {}) if version == STORE_VERSION else {}, int(version))
        if version == STORE_VERSION and not isinstance(loaded.get("runs"), dict):
            raise KeyError("runs")
    except StoreError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise StoreError(f"{path}: damaged manifest ({type(error).__name__})") from None
    for name in manifest.files():
        if not isinstance(name, str) or name.startswith("/") or ".." in name.split("/"):
            raise StoreError(f"{path}: a file outside the store is named")
    if any(not isinstance(key, str) or "\t" not in key for key in manifest.results):
        raise StoreError(f"{path}: damaged manifest (a results partition without its day)")
    return manifest


def write_manifest(store: Path, manifest: Manifest) -> None:
    """The commit: the manifest replaced in one rename, after every file it names is synced."""
    encoded = json.dumps(manifest.to_json(), indent=1, ensure_ascii=True).encode()

    def fill(handle: IO[bytes]) -> None:
        handle.write(encoded)

    replace_atomically(store / MANIFEST_NAME, fill, mode=0o644)


def write_parquet_file(store: Path, name: str, write: Any) -> None:
    """A partition file written under a temporary name, synced and renamed to `name`; `write`
    takes the temporary path. The directories are synced by `sync_new_files` before the commit."""
    final = store / name
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.tmp")
    write(temporary)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)


def sync_new_files(store: Path, names: Iterable[str]) -> None:
    """Every directory on the way to the new files synced, so that after a power cut the commit
    never names a file whose directory entry was lost (deepest first, each once)."""
    directories: set[Path] = set()
    for name in names:
        directory = (store / name).parent
        while directory != store and directory not in directories:
            directories.add(directory)
            directory = directory.parent
    for directory in sorted(directories, key=lambda path: len(path.parts), reverse=True):
        sync_directory(directory)
    sync_directory(store)


@contextmanager
def writer_lock(store: Path) -> Iterator[None]:
    """One writer at a time; a second `store add` or `collect` fails at once instead of waiting."""
    store.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(store / LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(f"{store}: another kzprobe is writing to this store") from None
        yield
    finally:
        os.close(descriptor)


def remove_uncommitted(store: Path, manifest: Manifest) -> int:
    """Delete the Parquet files no manifest names (a batch that died before its commit, or the
    superseded files of one that died after it), and the directories left empty; returns how
    many files. Only under a writer_lock. One pass of os.walk (a year of a hundred vantages is
    36,500 directories: each is listed once, no file is stat'ed)."""
    live = manifest.files()
    removed = 0
    for kind in KINDS:
        top = store / kind
        gone: set[str] = set()
        for directory, subdirectories, names in os.walk(top, topdown=False):
            relative = Path(directory).relative_to(store).as_posix()
            kept = False
            for name in names:
                if f"{relative}/{name}" in live:
                    kept = True
                else:
                    os.unlink(os.path.join(directory, name))
                    removed += 1
            emptied = not kept and all(os.path.join(directory, name) in gone for name in subdirectories)
            if emptied and directory != str(top):
                os.rmdir(directory)
                gone.add(directory)
    return removed


def absolute_files(store: Path, names: Iterable[str]) -> list[str]:
    """The manifest's relative names as absolute paths, sorted (what an engine reads)."""
    root = store.resolve()
    return sorted(str(root / name) for name in names)
