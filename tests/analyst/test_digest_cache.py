"""The digest cache: unchanged files are not parsed again; any change, or any trouble, reads the file."""

from __future__ import annotations

import csv
import functools
import io
import os
import sqlite3

import kzprobe
from kzprobe.analyst import digest_cache, streaming
from kzprobe.analyst.digest_cache import file_stamp, open_cache
from kzprobe.analyst.export import format_rows
from kzprobe.analyst.filters import TargetFilter
from kzprobe.analyst.reading import read_scan
from support import reports as f


def _forge_same_stamp(path, text: str) -> None:
    """Rewrite a file in place with other content of the same size and modification time."""
    before = os.stat(path)
    assert len(text.encode()) == before.st_size
    with open(path, "r+", encoding="utf-8") as handle:
        handle.write(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_a_digest_round_trips_through_the_cache(tmp_path):
    imported = f.kz_report(scan_id="imported")
    imported["provenance"] = {"source": "OONI", "licence": "CC BY-NC-SA 4.0"}
    cache = open_cache(tmp_path / "cache")
    for path in (f.write_json(tmp_path / "kz.json", f.kz_report()), f.write_json(tmp_path / "ooni.json", imported)):
        for detail in (True, False):
            scan = read_scan(path, detail=detail)
            cache.put(str(path), detail, file_stamp(str(path)), digest_cache.serialize(scan))
            assert cache.get(str(path), detail, file_stamp(str(path))) == scan
    assert read_scan(tmp_path / "ooni.json").provenance == ("OONI", "CC BY-NC-SA 4.0")
    cache.close()


def test_an_unchanged_file_is_answered_from_the_cache_and_a_touched_one_is_read(tmp_path):
    path = f.write_json(tmp_path / "kz.json", f.kz_report())
    first = f.cli("summary", tmp_path, "--csv")
    assert first.exit_code == 0
    size = os.stat(path).st_size
    _forge_same_stamp(path, "[" + " " * (size - 2) + "]")  # same size, inode and time: not read again
    second = f.cli("summary", tmp_path, "--csv")
    assert second.stdout == first.stdout and second.stderr == ""
    fresh = f.cli("summary", tmp_path, "--csv", "--no-cache")
    assert "kz.json: not a kzprobe report" in fresh.stderr
    os.utime(path, ns=(0, 0))  # any change of the stamp: read again
    assert "kz.json: not a kzprobe report" in f.cli("summary", tmp_path).stderr


def test_export_uses_the_detailed_digests_from_the_cache(tmp_path):
    f.write_json(tmp_path / "kz.json", f.kz_report())
    first = f.cli("export", tmp_path).stdout
    assert f.cli("export", tmp_path).stdout == first
    rows = list(csv.DictReader(io.StringIO(first)))
    assert rows[0]["tls_failure"] == "connection_reset" and rows[-1]["endpoints_total"] == "5"


def test_journals_are_never_cached(tmp_path):
    path = f.write_journal(tmp_path / "s.journal.jsonl", f.kz_report())
    assert not digest_cache.cacheable(str(path))
    assert digest_cache.cacheable(str(tmp_path / "s.json"))


def test_an_unusable_cache_only_turns_caching_off(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setenv("KZPROBE_CACHE_DIR", str(blocker / "cache"))
    assert open_cache() is None
    f.write_json(tmp_path / "r" / "kz.json", f.kz_report())
    result = f.cli("summary", tmp_path / "r")
    assert result.exit_code == 0 and "orda-kz" in result.stdout


def test_off_means_off(tmp_path, monkeypatch):
    monkeypatch.setenv("KZPROBE_CACHE_DIR", "off")
    assert digest_cache.cache_directory() is None and open_cache() is None


def test_databases_of_other_versions_are_removed(tmp_path):
    old = tmp_path / "digests-0-0.0.1.sqlite3"
    old.write_text("old")
    open_cache(tmp_path).close()
    assert [p.name for p in tmp_path.iterdir()] == [
        f"digests-{digest_cache.DIGEST_FORMAT}-{kzprobe.__version__}.sqlite3"
    ]


def test_a_corrupt_entry_is_a_miss(tmp_path):
    path = f.write_json(tmp_path / "kz.json", f.kz_report())
    cache = open_cache(tmp_path / "cache")
    stamp = file_stamp(str(path))
    cache._db.execute("INSERT INTO digests VALUES (?, 1, ?, ?, ?, ?)", (str(path), *stamp, '["not", "a digest"]'))
    assert cache.get(str(path), True, stamp) is None
    cache.close()


def test_cached_digests_feed_the_workers_like_fresh_ones(tmp_path, monkeypatch):
    f.write_january_2022(tmp_path / "reports", hours=12)
    monkeypatch.setattr(streaming, "PARALLEL_MIN_FILES", 2)
    rows_of = functools.partial(format_rows, format="csv", target_filter=TargetFilter())

    def export() -> list[str]:
        cache = open_cache(tmp_path / "cache")
        scans = streaming.map_scans([tmp_path / "reports"], rows_of, strict=True, detail=True, workers=2, cache=cache)
        return [chunk.text for chunk in scans]

    filling = export()
    database = sqlite3.connect(next((tmp_path / "cache").glob("digests-*.sqlite3")))
    assert database.execute("SELECT count(*) FROM digests WHERE detail = 1").fetchone() == (12,)
    database.execute("UPDATE digests SET data = 'garbage' WHERE rowid = 1")  # a damaged entry: the file is read
    database.commit()
    database.close()
    assert export() == filling and len(filling) == 12
