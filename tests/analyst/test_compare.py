"""`kzprobe compare A B`: what differs between two vantages at one hour, or one vantage on two days."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from kzprobe.errors import ExitCode
from support import reports as f


@pytest.fixture
def pair(tmp_path):
    """Almaty's scan, and Shymkent's five minutes later: Orda.kz works there, KazTAG is reset
    instead of timing out, the blockpage site is gone from the list, a new target appears."""
    a = f.kz_report()
    b = f.kz_report(vantage="shymkent-home", asn="AS206026", started_at=f.START + timedelta(minutes=5))
    results = b["results"]
    results[0] = f.web_result("orda-kz", "reachable")
    results[1] = f.web_result("kaztag-kz", "tls_reset")
    results[3]["evidence"] = list(reversed(results[3]["evidence"]))  # same facts, other order
    del results[4]  # ca-news-info
    results.append(f.web_result("vpn-example", "tcp_timeout", category="ANON"))
    return f.write_json(tmp_path / "a.json", a), f.write_json(tmp_path / "b.json", b)


def test_compare_lists_the_changed_targets_and_hides_the_unchanged(pair):
    result = f.cli("compare", *pair)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "1 changed" not in out
    assert "2 changed · 1 only in A · 1 only in B · 7 unchanged (hidden; --all shows them)" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert re.search(
        r"orda-kz\s+NEWS\s+changed\s+blocked/tls tls\.reset\s+reachable\s+verdict, blocking, evidence", lines["orda-kz"]
    )
    assert re.search(
        r"kaztag-kz\s+NEWS\s+changed\s+blocked/tls tls\.timeout\s+blocked/tls tls\.reset\s+evidence$",
        lines["kaztag-kz"].rstrip(),
    )
    assert re.search(r"ca-news-info\s+NEWS\s+only in A\s+blocked/http", lines["ca-news-info"])
    assert re.search(r"vpn-example\s+ANON\s+only in B\s+-\s+blocked/tcp", lines["vpn-example"])
    assert "livejournal-com" not in lines  # evidence order changed only
    assert lines["A"].startswith("A  almaty-vps · AS9198 · KZ  2022-01-05T10:00:00Z  online  complete")
    assert lines["B"].startswith("B  shymkent-home · AS206026 · KZ  2022-01-05T10:05:00Z")


def test_all_shows_the_unchanged_too(pair):
    out = f.cli("compare", *pair, "--all").stdout
    assert re.search(r"tengrinews-kz\s+NEWS\s+unchanged\s+reachable\s+reachable", out)
    assert "(hidden" not in out


def test_json_for_machines(pair):
    data = json.loads(f.cli("compare", *pair, "--json").stdout)
    assert data["counts"] == {"changed": 2, "only_a": 1, "only_b": 1, "unchanged": 7}
    assert data["a"]["vantage"]["name"] == "almaty-vps" and data["b"]["vantage"]["asn"] == "AS206026"
    by_target = {entry["target"]: entry for entry in data["targets"]}
    assert set(by_target) == {"orda-kz", "kaztag-kz", "ca-news-info", "vpn-example"}
    assert by_target["orda-kz"]["changed"] == ["verdict", "blocking", "evidence"]
    assert by_target["orda-kz"]["a"]["verdict"] == "blocked" and by_target["orda-kz"]["b"]["blocking"] is None
    assert by_target["vpn-example"]["a"] is None and by_target["vpn-example"]["status"] == "only_b"
    everything = json.loads(f.cli("compare", *pair, "--json", "--all").stdout)
    assert len(everything["targets"]) == 11


def test_filters_narrow_the_targets(pair):
    data = json.loads(f.cli("compare", *pair, "--json", "--category", "ANON").stdout)
    assert [entry["target"] for entry in data["targets"]] == ["vpn-example"]
    data = json.loads(f.cli("compare", *pair, "--json", "--target", "ka*", "--all").stdout)
    assert [entry["target"] for entry in data["targets"]] == ["kaztag-kz"]


def test_different_connectivity_and_incomplete_scans_are_pointed_out(tmp_path):
    a = f.write_json(tmp_path / "a.json", f.kz_report())
    b = f.write_json(tmp_path / "b.json", f.kz_report(connectivity="international_cut", complete=False))
    out = f.cli("compare", a, b).stdout
    assert "Connectivity differs (online in A, international_cut in B)" in out
    assert "B is INCOMPLETE" in out
    assert "No target differs between A and B." in out


def test_an_unreadable_side_is_bad_input(pair, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "kzprobe-report", "format_version": 1, "results": [')
    result = f.cli("compare", pair[0], broken)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "broken.json: truncated JSON" in result.stderr
