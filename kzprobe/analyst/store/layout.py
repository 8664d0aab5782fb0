"""A store on disk: Parquet files under Hive-style directories, and the manifest that commits them.

    DIR/manifest.json                                  the committed files (replaced atomically)
    DIR/results/vantage=<name>/month=<YYYY-MM>/part-<batch>.parquet
    DIR/scans/vantage=<name>/part-<batch>.parquet
    DIR/.lock                                          one writer at a time (flock)

Each partition is one file, rewritten whole by the batch that touches it under a new name; the
manifest names the live file of every partition. A batch writes its files first, then replaces
the manifest (the commit: rename(2) of a synced file), then deletes the files it superseded. A
crash before the commit leaves the old manifest, whose files are all still there: the store
reads as before and the batch can be run again. Files that no manifest names (left by such a
crash) are deleted by the next writer. Vantage names are percent-encoded in directory names,
as Hive escapes partition values.

Results are partitioned by month, not day: an hourly vantage's day is 24 scans, a file of a
few thousand rows, and a year of a hundred vantages would be 36,500 of them; engines pay per
file (DuckDB about half a millisecond to open one), so a query over 50 million rows spent most
of its time opening files (benchmarks/store.py: 14 s to count the rows of 26,100 day files;
the same rows in month files, 25 times faster). Each row keeps its `day`, and files are in
time order, so a question about days still reads little.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import quote

from kzprobe.errors import BadInputError
from kzprobe.report.atomic import replace_atomically

STORE_FORMAT: Final = "kzprobe-store"
STORE_VERSION: Final = 1
MANIFEST_NAME: Final = "manifest.json"
LOCK_NAME: Final = ".lock"
RESULTS_DIR: Final = "results"
SCANS_DIR: Final = "scans"
# A manifest is a few bytes per partition (a year of 100 hourly vantages: ~3 MB); anything
# far larger is not one of ours.
MAX_MANIFEST_BYTES: Final = 256 * 1024 * 1024


class StoreError(BadInputError):
    """The store cannot be used (missing, not a store, newer format, locked); says which and why."""


class QueryError(BadInputError):
    """A query the store refuses, or one the engine could not run (the message says which).
    Beside StoreError so that every engine module can raise it without importing the others."""


@dataclass
class Manifest:
    """The committed state: the live file of each partition (paths relative to the store)."""

    batch: int = 0
    results: dict[str, str] = field(default_factory=dict)  # "vantage\tmonth" -> file
    scans: dict[str, str] = field(default_factory=dict)  # vantage -> file

    def files(self) -> set[str]:
        return set(self.results.values()) | set(self.scans.values())

    def to_json(self) -> dict[str, Any]:
        return {"format": STORE_FORMAT, "format_version": STORE_VERSION, "batch": self.batch,
                "results": dict(sorted(self.results.items())), "scans": dict(sorted(self.scans.items()))}


def results_partition(vantage: str, month: str) -> str:
    return f"{vantage}\t{month}"


def partition_directory(kind: str, vantage: str, month: str | None = None) -> str:
    """'results/vantage=almaty-vps/month=2022-01' (the vantage name percent-encoded)."""
    parts = [kind, f"vantage={quote(vantage, safe='')}"]
    if month is not None:
        parts.append(f"month={month}")
    return "/".join(parts)


def read_manifest(store: Path) -> Manifest:
    """The committed manifest; an empty one for a store not yet written; StoreError otherwise."""
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
        if loaded.get("format_version") != STORE_VERSION:
            raise StoreError(f"{path}: store format {loaded.get('format_version')!r}; this kzprobe reads "
                             f"{STORE_VERSION}")
        manifest = Manifest(int(loaded["batch"]), dict(loaded["results"]), dict(loaded["scans"]))
    except StoreError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise StoreError(f"{path}: damaged manifest ({type(error).__name__})") from None
    for name in manifest.files():
        if not isinstance(name, str) or name.startswith("/") or ".." in name.split("/"):
            raise StoreError(f"{path}: a file outside the store is named")
    return manifest


def write_manifest(store: Path, manifest: Manifest) -> None:
    """The commit: the manifest replaced in one rename, after every file it names is synced."""
    encoded = json.dumps(manifest.to_json(), indent=1, ensure_ascii=True).encode()
    def fill(handle: IO[bytes]) -> None:
        handle.write(encoded)

    replace_atomically(store / MANIFEST_NAME, fill, mode=0o644)


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
    superseded files of one that died after it); returns how many. Only under a writer_lock."""
    live = manifest.files()
    removed = 0
    for kind in (RESULTS_DIR, SCANS_DIR):
        for path in sorted((store / kind).rglob("*")) if (store / kind).is_dir() else []:
            relative = path.relative_to(store).as_posix()
            if path.is_file() and relative not in live:
                path.unlink()
                removed += 1
    for kind in (RESULTS_DIR, SCANS_DIR):  # empty partition directories, deepest first
        for directory in sorted((store / kind).rglob("*"), reverse=True) if (store / kind).is_dir() else []:
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
    return removed


def absolute_files(store: Path, names: Iterator[str] | list[str]) -> list[str]:
    """The manifest's relative names as absolute paths, sorted (what an engine reads)."""
    root = store.resolve()
    return sorted(str(root / name) for name in names)
