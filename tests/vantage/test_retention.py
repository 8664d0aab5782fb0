"""latest.json replaced atomically after complete scans only, and retention that deletes old
complete reports and nothing else (latest, incomplete, resumable, protected, foreign files)."""

from __future__ import annotations

import errno
import json
import os
import stat
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kzprobe.vantage import retention as retention_module
from kzprobe.vantage.latest import LATEST_NAME, LatestError, publish_latest
from kzprobe.vantage.report_files import read_header, report_file_name, scan_report
from kzprobe.vantage.retention import RetentionError, apply_retention
from support.tmpfs import needs_namespaces, run_on_tmpfs

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)


def stamp(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_dict(vantage: str, started_at: str, complete: bool = True, padding: int = 0) -> dict:
    """A report in the order kzprobe writes its fields (report.build_report)."""
    return {
        "format": "kzprobe-report", "format_version": 1, "scan_id": f"{vantage}-{started_at}",
        "complete": complete, "started_at": started_at, "finished_at": started_at,
        "software": {"name": "kzprobe", "version": "0.1.0"},
        "vantage": {"name": vantage, "asn": None, "country": None},
        "settings": {"timeout": 10}, "connectivity": "online", "baselines": {},
        "summary": {"reachable": 1},
        "results": [{"target": {"id": "t", "url": "https://t.test/"}, "verdict": "reachable",
                     "evidence": [], "observations": {"pad": "x" * padding}}],
    }


def write_report(directory: Path, vantage: str, hours_ago: float, complete: bool = True,
                 padding: int = 0) -> Path:
    started_at = stamp(hours_ago)
    path = directory / report_file_name(vantage, started_at)
    path.write_text(json.dumps(report_dict(vantage, started_at, complete, padding), separators=(",", ":")))
    return path


def names(paths) -> list[str]:
    return sorted(Path(p).name for p in paths)


# --- reading report files cheaply ---------------------------------------------------------


def test_report_file_name():
    assert report_file_name("vps-fra", "2026-11-22T10:00:00Z") == "vps-fra-20261122T100000Z.json"


def test_header_is_read_without_the_results(tmp_path):
    path = write_report(tmp_path, "vps", 1, padding=200_000)
    header = read_header(path)
    assert header["complete"] is True and header["vantage"]["name"] == "vps"
    assert "results" not in header


@pytest.mark.parametrize("content, why", [
    ('{"format":"kzprobe-report","complete":true,"complete":false}', "a key given twice"),
    ("[1, 2]", "not an object"),
    ("", "empty"),
    ("\x00\x01garbage", "binary"),
])
def test_headers_that_are_not_trusted(tmp_path, content, why):
    path = tmp_path / "vps-20261122T100000Z.json"
    path.write_text(content)
    assert scan_report(path) is None, why


def test_a_fifo_under_a_report_name_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "vps-20261122T100000Z.json")
    assert read_header(tmp_path / "vps-20261122T100000Z.json") == {}
    assert scan_report(tmp_path / "vps-20261122T100000Z.json") is None


# --- latest.json --------------------------------------------------------------------------


def test_latest_is_a_world_readable_copy_of_the_report(tmp_path):
    report = write_report(tmp_path, "vps", 1)
    report.chmod(0o600)
    latest = publish_latest(report, tmp_path)
    assert latest == tmp_path / LATEST_NAME
    assert latest.read_bytes() == report.read_bytes()
    assert stat.S_IMODE(latest.stat().st_mode) == 0o644
    assert not latest.is_symlink() and latest.stat().st_ino != report.stat().st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([report.name, LATEST_NAME])  # no temp left


def test_latest_is_replaced_by_the_next_scan_and_survives_retention(tmp_path):
    first = write_report(tmp_path, "vps", 2)
    second = write_report(tmp_path, "vps", 1)
    publish_latest(first, tmp_path)
    publish_latest(second, tmp_path)
    second.unlink()  # retention, or a user, removing the report does not break latest.json
    assert json.loads((tmp_path / LATEST_NAME).read_text())["started_at"] == stamp(1)


@pytest.mark.parametrize("content, message", [
    (report_dict("vps", stamp(1), complete=False), "incomplete"),
    ({"format": "something-else"}, "not a readable kzprobe report"),
    ("not json", "not a readable kzprobe report"),
])
def test_only_complete_reports_become_latest(tmp_path, content, message):
    publish_latest(write_report(tmp_path, "vps", 3), tmp_path)
    before = (tmp_path / LATEST_NAME).read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(LatestError, match=message):
        publish_latest(bad, tmp_path)
    assert (tmp_path / LATEST_NAME).read_bytes() == before


def test_readers_never_see_a_partial_latest(tmp_path):
    """A web server reading latest.json while scans replace it gets one whole report or the other."""
    small = write_report(tmp_path, "vps", 2)
    large = write_report(tmp_path, "vps", 1, padding=2_000_000)
    publish_latest(small, tmp_path)
    expected = {small.read_bytes(), large.read_bytes()}
    seen: list[bytes] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.append((tmp_path / LATEST_NAME).read_bytes())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for index in range(20):
            publish_latest(large if index % 2 == 0 else small, tmp_path)
    finally:
        stop.set()
        thread.join()
    assert seen and all(data in expected for data in seen)


PUBLISH_ON_FULL_DISK = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from kzprobe.vantage.latest import LatestError, publish_latest
    directory = Path("{directory}")
    try:
        publish_latest(directory / "big.json", directory)
        error = None
    except LatestError as exc:
        error = str(exc)
    print(json.dumps({{"error": error, "files": sorted(p.name for p in directory.iterdir()),
                       "latest": (directory / "latest.json").read_text()}}))
""")


@needs_namespaces
def test_a_full_disk_leaves_the_old_latest_in_place(tmp_path):
    mount = tmp_path / "mnt"
    big = tmp_path / "big.json"
    big.write_text(json.dumps(report_dict("vps", stamp(1), padding=600_000)))
    outcome = run_on_tmpfs(
        mount, PUBLISH_ON_FULL_DISK.format(directory=mount), size_kib=512,
        # The report lives outside the small disk (linked in); its 600 kB copy cannot fit.
        setup=f"echo '{{\"old\": true}}' > {mount}/latest.json && ln -s {big} {mount}/big.json",
    )
    assert "No space left on device" in outcome["error"]
    assert outcome["files"] == ["big.json", "latest.json"]  # no temporary file left behind
    assert json.loads(outcome["latest"]) == {"old": True}


# --- retention ----------------------------------------------------------------------------


@pytest.fixture
def vantage_dir(tmp_path):
    """Ten hourly complete scans of "vps", plus everything retention must leave alone."""
    directory = tmp_path / "results"
    directory.mkdir()
    for hours_ago in range(1, 11):
        write_report(directory, "vps", hours_ago)
    keep_alone = [
        write_report(directory, "vps", 30, complete=False),  # incomplete: never deleted
        write_report(directory, "vps", 40),  # resumable: its journal is beside it
        directory / "notes.json",  # not named like a report
        directory / "vps-20200101T000000Z.journal.jsonl",
        directory / "other-20200101T000000Z.json",  # named like a report, not one
        directory / "vps-20200102T000000Z.json",  # a report of another vantage under this name
        directory / "vps-20200103T000000Z.json",  # a directory
        directory / ".vps-20200104T000000Z.json",  # hidden (an atomic write's temporary)
        directory / "vps-20200105T000000Z.json",  # a symlink to an old report elsewhere
        directory / LATEST_NAME,
    ]
    keep_alone[1].with_suffix(".journal.jsonl").write_text('{"type":"scan"}\n')
    (directory / "notes.json").write_text(json.dumps(report_dict("vps", stamp(50))))
    keep_alone[3].write_text('{"type":"scan"}\n')
    (directory / "other-20200101T000000Z.json").write_text('{"hello": "world"}')
    (directory / "vps-20200102T000000Z.json").write_text(json.dumps(report_dict("someone-else", stamp(60))))
    (directory / "vps-20200103T000000Z.json").mkdir()
    (directory / ".vps-20200104T000000Z.json").write_text(json.dumps(report_dict("vps", stamp(70))))
    outside = tmp_path / "vps-20200105T000000Z.json"
    outside.write_text(json.dumps(report_dict("vps", stamp(80))))
    (directory / "vps-20200105T000000Z.json").symlink_to(outside)
    (directory / LATEST_NAME).write_text(json.dumps(report_dict("vps", stamp(1))))
    return directory, [p.name for p in keep_alone]


def hourly(*hours_ago: int) -> list[str]:
    return sorted(report_file_name("vps", stamp(h)) for h in hours_ago)


@pytest.mark.parametrize("keep, keep_days, deleted_hours", [
    (None, None, []),  # no policy: nothing is ever deleted
    (3, None, [4, 5, 6, 7, 8, 9, 10]),
    (10, None, []),
    (1, None, [2, 3, 4, 5, 6, 7, 8, 9, 10]),
    (None, 1, []),  # every scan is younger than a day
    # A rule keeps what either rule keeps: the newest 2, or the last day.
    (2, 1, []),
])
def test_retention_policy(vantage_dir, keep, keep_days, deleted_hours):
    directory, keep_alone = vantage_dir
    deleted = apply_retention(directory, keep, keep_days, now=NOW)
    assert names(deleted) == hourly(*deleted_hours)
    remaining = {p.name for p in directory.iterdir()}
    assert set(keep_alone) <= remaining
    assert (directory / "vps-20200105T000000Z.json").resolve().exists()


def test_keep_days(tmp_path):
    for hours_ago in (1, 20, 47, 49, 100):
        write_report(tmp_path, "vps", hours_ago)
    deleted = apply_retention(tmp_path, None, 2, now=NOW)
    assert names(deleted) == hourly(49, 100)


def test_the_newest_scan_is_kept_however_old(tmp_path):
    """A vantage back after a month offline keeps its last scan until the next one lands."""
    for hours_ago in (24 * 30, 24 * 31):
        write_report(tmp_path, "vps", hours_ago)
    assert names(apply_retention(tmp_path, None, 7, now=NOW)) == hourly(24 * 31)


def test_protected_reports_count_but_are_never_deleted(tmp_path):
    paths = {h: write_report(tmp_path, "vps", h) for h in (1, 2, 3, 4)}
    deleted = apply_retention(tmp_path, 2, None, protect={paths[4], tmp_path / "." / paths[3].name}, now=NOW)
    assert deleted == []
    # The just-written report counts towards `keep`: keep 2 leaves exactly 2 complete scans.
    assert names(apply_retention(tmp_path, 2, None, protect={paths[1]}, now=NOW)) == hourly(3, 4)


def test_each_vantage_keeps_its_own_scans(tmp_path):
    for hours_ago in (1, 2, 3):
        write_report(tmp_path, "vps-a", hours_ago)
        write_report(tmp_path, "vps-b", hours_ago + 10)
    deleted = apply_retention(tmp_path, 1, None, now=NOW)
    assert names(deleted) == sorted(
        [report_file_name("vps-a", stamp(h)) for h in (2, 3)] + [report_file_name("vps-b", stamp(h)) for h in (12, 13)]
    )


def test_incomplete_scans_do_not_count_towards_keep(tmp_path):
    write_report(tmp_path, "vps", 1, complete=False)
    write_report(tmp_path, "vps", 2)
    write_report(tmp_path, "vps", 3)
    assert names(apply_retention(tmp_path, 2, None, now=NOW)) == []


def test_a_missing_directory_has_nothing_to_delete(tmp_path):
    assert apply_retention(tmp_path / "nope", 1, None, now=NOW) == []


def test_deletions_that_fail_are_reported_after_the_others(tmp_path, monkeypatch):
    for hours_ago in (1, 2, 3, 4):
        write_report(tmp_path, "vps", hours_ago)
    stuck = tmp_path / report_file_name("vps", stamp(3))
    real_unlink = Path.unlink

    def unlink(self, missing_ok=False):
        if self == stuck:
            raise OSError(errno.EACCES, "Permission denied")
        return real_unlink(self, missing_ok)

    monkeypatch.setattr(retention_module.Path, "unlink", unlink)
    with pytest.raises(RetentionError) as caught:
        apply_retention(tmp_path, 1, None, now=NOW)
    assert names(caught.value.deleted) == hourly(2, 4)
    assert [p for p, _ in caught.value.failures] == [stuck]
    assert "Permission denied" in str(caught.value)


RETENTION_ON_READ_ONLY = textwrap.dedent("""
    import json
    from datetime import datetime, timezone
    from pathlib import Path
    from kzprobe.vantage.retention import RetentionError, apply_retention
    try:
        apply_retention(Path("{directory}"), 1, None, now=datetime(2026, 11, 22, 12, 30, tzinfo=timezone.utc))
        print(json.dumps({{"error": None}}))
    except RetentionError as exc:
        print(json.dumps({{"error": str(exc), "deleted": len(exc.deleted)}}))
""")


@needs_namespaces
def test_retention_on_a_read_only_disk(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for hours_ago in (1, 2, 3):
        write_report(source, "vps", hours_ago)
    mount = tmp_path / "mnt"
    outcome = run_on_tmpfs(mount, RETENTION_ON_READ_ONLY.format(directory=mount), size_kib=256,
                           setup=f"cp {source}/*.json {mount}/", read_only=True)
    assert outcome["deleted"] == 0
    assert "retention could not delete 2 old report(s)" in outcome["error"]
    assert "Read-only file system" in outcome["error"]
