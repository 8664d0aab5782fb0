"""changes.jsonl and changes.xml: bounded, atomic, and safe whatever the strings they carry; the
feed read back by a well-kept Atom parser; `kzprobe changes DIR` printing the history."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta

import feedparser
import pytest

from kzprobe.vantage.alerts import history as history_module
from kzprobe.vantage.alerts.atom import FEED_NAME, render_feed, write_feed
from kzprobe.vantage.alerts.history import HISTORY_NAME, append_record, read_history
from kzprobe.vantage.alerts.limits import FEED_ENTRIES
from kzprobe.vantage.alerts.record import decide_changes
from kzprobe.vantage.alerts.state import ScanState, VantageMemory
from support import reports as f

HOSTILE = "</content><entry><title>pwned</title>&amp;<![CDATA[x]]>\x00\x1b[31m\ufffe\u202eevil"


def make_record(hour: int, *, vantage: str = "almaty-vps", target: str = "orda-kz", explanation: str | None = None):
    before = f.report([f.web_result(target)], vantage=vantage, started_at=f.START + timedelta(hours=hour))
    after = f.report([f.web_result(target, "tls_reset")], vantage=vantage,
                     started_at=f.START + timedelta(hours=hour, minutes=30))
    if explanation is not None:
        after["results"][0]["explanation"] = explanation
    results = {r["target"]["id"]: r for r in after["results"]}
    return decide_changes(after["vantage"], VantageMemory.baseline(ScanState.from_report(before)),
                          ScanState.from_report(after), results, 6, f"{vantage}-{hour}.json").record


def test_the_feed_is_atom_a_feed_reader_reads_back():
    records = [make_record(hour) for hour in range(3)]
    feed = feedparser.parse(render_feed(records, "urn:uuid:0c7e1f4e-5a8e-4d7e-9b1f-2a3c4d5e6f70"))
    assert not feed.bozo and feed.version == "atom10"
    assert feed.feed.id == "urn:uuid:0c7e1f4e-5a8e-4d7e-9b1f-2a3c4d5e6f70"
    assert feed.feed.title == "kzprobe: blocking changes seen from almaty-vps"
    assert [e.id for e in feed.entries] == [f"urn:uuid:{r['id']}" for r in reversed(records)]  # newest first
    entry = feed.entries[0]
    assert entry.author == "kzprobe vantage almaty-vps (AS9198, KZ)"
    assert entry.updated == records[-1]["current"]["finished_at"]
    assert [t.term for t in entry.tags] == ["newly_blocked"]
    assert entry.content[0].type == "text/plain"


def test_hostile_strings_stay_text_in_the_feed():
    record = make_record(0, explanation=HOSTILE)
    record["current"]["report"] = "javascript:alert(1)"
    document = render_feed([record], "urn:uuid:0c7e1f4e-5a8e-4d7e-9b1f-2a3c4d5e6f70")
    root = ET.fromstring(document)  # well-formed: no character XML 1.0 cannot carry
    atom = "{http://www.w3.org/2005/Atom}"
    assert len(root.findall(f"{atom}entry")) == 1
    [content] = root.iter(f"{atom}content")
    assert "</content><entry><title>pwned</title>&amp;<![CDATA[x]]>" in content.text
    assert "\x00" not in content.text and "\ufffe" not in content.text
    assert root.find(f"{atom}entry/{atom}link") is None  # only a report file name becomes a link
    assert not feedparser.parse(document).bozo


def test_the_feed_holds_the_newest_entries_only(tmp_path):
    records = [make_record(hour) for hour in range(FEED_ENTRIES + 5)]
    write_feed(tmp_path, records, "urn:uuid:0c7e1f4e-5a8e-4d7e-9b1f-2a3c4d5e6f70")
    feed = feedparser.parse(str(tmp_path / FEED_NAME))
    assert len(feed.entries) == FEED_ENTRIES and feed.entries[0].id == f"urn:uuid:{records[-1]['id']}"
    assert oct((tmp_path / FEED_NAME).stat().st_mode & 0o777) == "0o644"  # published on purpose


def test_changes_jsonl_keeps_the_newest_whole_records_within_its_bound(tmp_path, monkeypatch):
    records = [make_record(hour) for hour in range(10)]
    line = len(json.dumps(records[0], ensure_ascii=False, separators=(",", ":")).encode()) + 1
    monkeypatch.setattr(history_module, "MAX_HISTORY_BYTES", int(line * 4.5))
    for record in records:
        append_record(tmp_path, record)
    kept = read_history(tmp_path / HISTORY_NAME)
    assert [r["id"] for r in kept.records] == [r["id"] for r in records[-4:]] and kept.skipped == 0
    assert not list(tmp_path.glob(".*.tmp"))  # replaced atomically, nothing left behind


# --- kzprobe changes DIR ----------------------------------------------------------------------


@pytest.fixture
def results(tmp_path):
    path = tmp_path / "results"
    path.mkdir()
    lines = [json.dumps(make_record(0, target="orda-kz")),
             "{not a record",
             json.dumps({"format": "kzprobe-changes", "format_version": 99}),
             json.dumps(make_record(24, vantage="shymkent-home", target="kaztag-kz", explanation=HOSTILE)),
             json.dumps(make_record(48, target="tengrinews-kz"))]
    (path / HISTORY_NAME).write_text("\n".join(lines) + "\n")
    return path


def test_changes_prints_the_history_and_cleans_what_it_prints(results):
    result = f.cli("changes", results)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "2022-01-05 10:31Z  almaty-vps (AS9198, KZ)" in out
    assert "orda-kz is now blocked at the tls layer (tls.reset); it was reachable in the previous scan." in out
    assert "kzprobe: </content><entry><title>pwned</title>" in out and "\x1b" not in out and "\u202e" not in out
    assert out.rstrip().endswith(f"3 change record(s) in {results / HISTORY_NAME}")
    assert "skipped 2 line(s)" in result.stderr


@pytest.mark.parametrize("args, targets", [
    (["--vantage", "shymkent-home"], ["kaztag-kz"]),
    (["--target", "*-kz"], ["orda-kz", "kaztag-kz", "tengrinews-kz"]),
    (["--target", "orda*"], ["orda-kz"]),
    (["--since", "2022-01-06T00:00"], ["kaztag-kz", "tengrinews-kz"]),
    (["--since", "2000w"], ["orda-kz", "kaztag-kz", "tengrinews-kz"]),
    (["--since", "1h"], []),
])
def test_changes_narrowed_by_vantage_target_and_time(results, args, targets):
    result = f.cli("changes", results, "--json", *args)
    assert result.exit_code == 0, result.stderr
    shown = [json.loads(line)["changes"][0]["target"] for line in result.stdout.splitlines()]
    assert shown == targets


def test_changes_of_a_directory_without_history_and_bad_options(tmp_path):
    result = f.cli("changes", tmp_path)
    assert result.exit_code == 0 and "No change records" in result.stdout
    assert f.cli("changes", tmp_path / "missing").exit_code == 2
    assert "--since: not a time: 'last week'" in f.cli("changes", tmp_path, "--since", "last week").stderr
