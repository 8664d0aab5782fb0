"""`kzprobe collect` (issue 16): what is new at each vantage, fetched over HTTPS through kzprobe's
resolver path, checked against the vantage's index and as a report, into the store; a vantage
that misbehaves is named and left while the others are collected. Loopback servers only: every
name resolves through the loopback resolver."""

from __future__ import annotations

import hashlib
import json
import ssl
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import trustme

from kzprobe.analyst.store import collect as store_collect
from kzprobe.analyst.store.engine import DuckDBEngine
from kzprobe.errors import ExitCode
from kzprobe.vantage import report_index
from kzprobe.vantage.report_files import report_file_name
from support import reports as f
from support.loopback import DnsTable, Drip, LoopbackServers

ADDRESS = "127.0.0.2"
GOOD = ("almaty.test", "shymkent.test")
HOSTILE = {  # vantage -> what it does, as collect names it
    "html.test": "an HTML page, not an index",
    "huge.test": "is larger than",
    "drip.test": "not done within",
    "badhash.test": "SHA-256 is not the one the index lists",
    "loop.test": "more than 5 redirects",
    "notreport.test": "malformed JSON",
}


def _vantage_directory(root: Path, vantage: str, hours: int) -> Path:
    directory = root / vantage
    for hour in range(hours):
        made = f.kz_report(vantage=vantage.split(".")[0], started_at=f.START + timedelta(hours=hour))
        f.write_json(directory / report_file_name(made["vantage"]["name"], made["started_at"]), made)
    report_index.publish_index(directory)
    return directory


def _index(entries: list[tuple[str, bytes]], *, sha256: str | None = None) -> bytes:
    return json.dumps({"format": "kzprobe-index", "format_version": 1, "reports": [
        {"name": name, "size": len(body), "sha256": sha256 or hashlib.sha256(body).hexdigest()} for name,
        body in entries
    ]}).encode()


@pytest.fixture(scope="module")
def vantages(tmp_path_factory):
    root = tmp_path_factory.mktemp("vantages")
    for name in GOOD:
        _vantage_directory(root, name, hours=3)
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*GOOD, *HOSTILE).configure_cert(context)
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    report = json.dumps(f.kz_report(vantage="elsewhere")).encode()
    html = b"<html><body>Login to continue</body></html>"

    def page(host: str, path: str):
        if host in GOOD and path.startswith("/results/"):
            served = root / host / path.removeprefix("/results/")
            if served.is_file():
                return 200, {"Content-Type": "application/json"}, served.read_bytes()
            return 404, {}, b"no"
        if host == "html.test":
            return 200, {"Content-Type": "text/html"}, html
        if host == "huge.test":
            if path.endswith("index.json"):
                return 200, {}, _index([("huge-20220105T100000Z.json", report)])
            return 200, {}, report + b" " * (10 * 1024 * 1024)
        if host == "drip.test":
            if path.endswith("index.json"):
                return 200, {}, _index([("drip-20220105T100000Z.json", report)])
            return 200, {}, Drip(report, chunk=64, delay=0.2)
        if host == "badhash.test":
            if path.endswith("index.json"):
                return 200, {}, _index([(f"bad-2022010{n}T100000Z.json", report) for n in range(1, 5)], sha256="0" * 64)
            return 200, {}, report
        if host == "loop.test":
            return 302, {"Location": "/results/index.json"}, b""
        if host == "notreport.test":
            if path.endswith("index.json"):
                return 200, {}, _index([("page-20220105T100000Z.json", html)])
            return 200, {}, html
        return 404, {}, b"no"

    table = DnsTable({name: [ADDRESS] for name in (*GOOD, *HOSTILE)})
    with LoopbackServers(ADDRESS, table, page, context) as servers:
        yield root, servers


def collect(vantages, store: Path, *hosts: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    root, servers = vantages
    urls = [f"https://{host}:{servers.https_port}/results/" for host in hosts]
    command = [sys.executable, "-m", "kzprobe", "collect", *urls, "--store", str(store),
               "--resolver", f"{ADDRESS}:{servers.dns_port}", "--ca-file", str(root / "ca.pem"),
               "--timeout", "2", "--file-time", "1.5", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _scans(store: Path) -> list[tuple]:
    with DuckDBEngine(store) as engine:
        return engine.rows("SELECT vantage, count(*) FROM scans GROUP BY vantage ORDER BY vantage")


def test_collect_fetches_each_vantages_new_reports_once(vantages, tmp_path):
    root, _ = vantages
    store = tmp_path / "store"
    first = collect(vantages, store, *GOOD)
    assert first.returncode == ExitCode.OK, first.stderr
    assert _scans(store) == [("almaty", 3), ("shymkent", 3)]
    assert "3 new, 0 replaced, 0 already in the store, of 3 listed" in first.stderr
    again = collect(vantages, store, *GOOD)
    assert again.returncode == ExitCode.OK and again.stderr.count("0 new, 0 replaced, 3 already") == 2, again.stderr
    _vantage_directory(root, "almaty.test", hours=4)  # the next hourly scan, and its index
    third = collect(vantages, store, "almaty.test")
    assert "1 new, 0 replaced, 3 already in the store, of 4 listed" in third.stderr
    with DuckDBEngine(store) as engine:
        files = [row[0] for row in engine.rows("SELECT file FROM scans WHERE vantage = 'almaty' ORDER BY started_at")]
    assert files[-1].startswith("https://almaty.test:") and files[-1].endswith("/results/almaty-20220105T130000Z.json")


def test_a_hostile_vantage_is_named_and_left_while_the_others_are_collected(vantages, tmp_path):
    store = tmp_path / "store"
    outcome = collect(vantages, store, "html.test", GOOD[0], *list(HOSTILE)[1:], GOOD[1])
    assert outcome.returncode == ExitCode.FAILED, outcome.stderr
    collected = dict(_scans(store))
    assert collected.keys() == {"almaty", "shymkent"} and min(collected.values()) >= 3  # the good ones, whole
    lines = outcome.stderr.splitlines()
    for host, what in HOSTILE.items():
        said = "\n".join(line for line in lines if host in line or line.startswith("kzprobe:   skipped"))
        assert what in said, (host, outcome.stderr)
    assert sum("SKIPPED" in line for line in lines) == 3  # html, loop: their index; badhash: failures in a row


def test_only_https_vantages_are_collected(tmp_path):
    outcome = subprocess.run([sys.executable, "-m", "kzprobe", "collect", "http://127.0.0.2/results/", "--store",
                              str(tmp_path / "s")], capture_output=True, text=True, timeout=60)
    assert outcome.returncode == ExitCode.BAD_INPUT and "https:// only" in outcome.stderr


@pytest.mark.parametrize(("index", "problem"), [
    (b"<!doctype html><p>hi", "HTML page"),
    (b"{\"format\": \"kzprobe-index\", \"format_version\": 9, \"reports\": []}", "format_version"),
    (b"[1, 2]", "not a kzprobe index"),
    (b"\x00\x01", "not JSON"),
])
def test_an_index_that_is_not_one_is_refused_whole(index, problem):
    with pytest.raises(ValueError, match=problem):
        store_collect.parse_index(index)


@pytest.mark.parametrize(("entry", "problem"), [
    ({"name": "../../etc/passwd.json", "size": 10, "sha256": "a" * 64}, "not a report name"),
    ({"name": ".hidden.json", "size": 10, "sha256": "a" * 64}, "not a report name"),
    ({"name": "a.json", "size": 10**12, "sha256": "a" * 64}, "out of bounds"),
    ({"name": "a.json", "size": True, "sha256": "a" * 64}, "out of bounds"),
    ({"name": "a.json", "size": 10, "sha256": "xyz"}, "not a SHA-256"),
])
def test_bad_index_entries_are_named_and_the_rest_kept(entry, problem):
    good = {"name": "v-20220105T100000Z.json", "size": 10, "sha256": "b" * 64}
    usable, problems = store_collect.parse_index(json.dumps(
        {"format": "kzprobe-index", "format_version": 1, "reports": [entry, good]}).encode())
    assert usable == [good] and len(problems) == 1 and problem in problems[0]


def test_the_index_lists_reports_only_and_hashes_only_what_changed(tmp_path, monkeypatch):
    directory = _vantage_directory(tmp_path, "almaty.test", hours=2)
    f.write_journal(directory / "almaty-20220105T120000Z.journal.jsonl", f.kz_report(vantage="almaty"))
    f.write_json(directory / "notes.json", {"mine": True})
    f.write_json(directory / "latest.json", f.kz_report(vantage="almaty"))
    hashed: list[Path] = []
    real = report_index._sha256
    monkeypatch.setattr(report_index, "_sha256", lambda path: hashed.append(path) or real(path))
    report_index.publish_index(directory)
    listed = json.loads((directory / "index.json").read_text())
    assert [e["name"] for e in listed["reports"]] == ["almaty-20220105T100000Z.json", "almaty-20220105T110000Z.json"]
    assert hashed == []  # unchanged since the index was written: hashes reused
    (directory / "almaty-20220105T100000Z.json").write_text(json.dumps(f.kz_report(vantage="almaty", complete=False)))
    report_index.publish_index(directory)
    assert [p.name for p in hashed] == ["almaty-20220105T100000Z.json"]
    assert store_collect.INDEX_FORMAT == report_index.INDEX_FORMAT
    # An analyst reading the directory reads the reports, not the index.
    assert "index.json" not in f.cli("summary", directory).stderr
