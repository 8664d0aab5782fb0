"""`kzprobe store migrate` end to end, through the real CLI in its own process (issue 16): a store
of the month layout (format 1) is refused by the commands that read, rewritten by day, and then
answers as the report files do; killed outright in the middle, it is left readable and the
next migrate finishes it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kzprobe.analyst.store import ingest, layout
from kzprobe.errors import ExitCode
from support import reports as f
from support.month_store import as_month_layout

FIRST = datetime(2022, 1, 20, tzinfo=UTC)
DAYS = 24  # 20 January to 12 February: two months, 48 day files of two vantages
# The commands whose output from the store must be the files' (the same data, read two ways).
ANSWERS = (("summary", "--csv"), ("timeline", "--json"), ("export", "--format", "jsonl"))


def kzprobe(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kzprobe", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def month_store(tmp_path_factory):
    """Report files, and a format-1 store of them: scans every eight hours of two vantages whose
    targets change state now and then."""
    reports = tmp_path_factory.mktemp("reports")
    for step in range(DAYS * 3):
        moment = FIRST + timedelta(hours=8 * step)
        for vantage in ("almaty-vps", "shymkent-beeline"):
            results = [
                f.web_result("orda-kz", "tls_reset" if step % 5 in (1, 2) else "reachable", started_at=moment),
                f.web_result("kaztag-kz", "dns_nxdomain" if step > 30 else "reachable", started_at=moment),
            ]
            f.write_json(reports / vantage / f"{step:03d}.json", f.report(results, vantage=vantage, started_at=moment))
    store = tmp_path_factory.mktemp("store") / "month"
    ingest.add_paths(store, [reports], on_problem=pytest.fail)
    as_month_layout(store)
    return reports, store


@pytest.fixture
def store(month_store, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(month_store[1], copy)
    return copy


def _format(store: Path) -> int:
    return json.loads((store / layout.MANIFEST_NAME).read_text())["format_version"]


def _day_files(store: Path) -> list[Path]:
    return sorted(store.glob("results/*/day=*/*.parquet"))


def test_commands_refuse_a_month_store_until_migrate_rewrites_it_and_then_answer_as_the_files_do(
        month_store, store):
    reports, _ = month_store
    for command in ("summary", "timeline"):
        refused = kzprobe(command, "--store", store)
        assert refused.returncode == ExitCode.BAD_INPUT, refused.stderr
        assert f"kzprobe store migrate --store {store}" in refused.stderr and "Traceback" not in refused.stderr
    migrated = kzprobe("store", "migrate", "--store", store)
    assert migrated.returncode == ExitCode.OK, migrated.stderr
    assert "rewritten from 4 month files to 48 day files (store format 2)" in migrated.stderr
    assert _format(store) == layout.STORE_VERSION and not list(store.glob("results/*/month=*"))
    for args in ANSWERS:
        answered = kzprobe(*args, "--store", store)
        assert answered.returncode == ExitCode.OK, answered.stderr
        assert answered.stdout == kzprobe(*args, reports).stdout, args
    again = kzprobe("store", "migrate", "--store", store)
    assert again.returncode == ExitCode.OK and "already by day" in again.stderr


def test_a_migration_killed_outright_midway_leaves_the_month_store_readable_and_migrate_finishes_it(
        month_store, store):
    reports, _ = month_store
    month_files = sorted(path.relative_to(store) for path in store.rglob("*.parquet"))
    process = subprocess.Popen([sys.executable, "-m", "kzprobe", "store", "migrate", "--store", str(store)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        midway = _stopped_when(process, lambda: bool(_day_files(store)) and _format(store) == 1)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert midway, "the migration ended before it could be stopped with day files written"
    # Killed between writing day files and its commit: the store is the format-1 store it was.
    assert _format(store) == 1 and _day_files(store)
    assert all((store / name).is_file() for name in month_files)
    refused = kzprobe("summary", "--store", store)
    assert refused.returncode == ExitCode.BAD_INPUT and "kzprobe store migrate" in refused.stderr, refused.stderr
    finished = kzprobe("store", "migrate", "--store", store)
    assert finished.returncode == ExitCode.OK and "to 48 day files" in finished.stderr, finished.stderr
    assert len(list(store.rglob("*.parquet"))) == len(layout.read_manifest(store).files())  # nothing left over
    for args in ANSWERS:
        assert kzprobe(*args, "--store", store).stdout == kzprobe(*args, reports).stdout, args


def _stopped_when(process: subprocess.Popen[bytes], condition: Callable[[], bool], step: float = 0.002) -> bool:
    """Let `process` run a few milliseconds at a time (SIGCONT, then SIGSTOP) and leave it
    stopped as soon as `condition` holds between two steps; False when it ended first. Looked at
    only while the process is stopped, the store cannot change under the condition."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        os.kill(process.pid, signal.SIGSTOP)
        while _state(process.pid) not in ("T", "t", "Z", ""):
            time.sleep(0.0005)
        if condition():
            return True
        os.kill(process.pid, signal.SIGCONT)
        time.sleep(step)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""
