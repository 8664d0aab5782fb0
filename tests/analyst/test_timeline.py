"""`kzprobe timeline`: the periods of each state, and the shape of a shutdown, from hourly scans."""

from __future__ import annotations

import json
import re

import pytest

from kzprobe.errors import ExitCode
from support import reports as f

# Hours after 3 Jan 2022 00:00 UTC with no scan: the vantage itself was unreachable.
MISSING_HOURS = set(range(60, 66))  # 5 Jan 12:00 to 17:00


@pytest.fixture(scope="module")
def january(tmp_path_factory):
    directory = tmp_path_factory.mktemp("january")
    f.write_january_2022(directory, vantages=("almaty-vps", "astana-home"), skip=MISSING_HOURS)
    return directory


def _periods(data: dict, target: str, vantage: str) -> list[tuple[str, str, str, int]]:
    entry = next(e for e in data["targets"] if e["target"] == target and e["vantage"] == vantage)
    return [(p["state"], p["from"], p["to"], p["scans"]) for p in entry["periods"]]


def test_periods_follow_scan_time_not_file_names(january):
    result = f.cli("timeline", january, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert _periods(data, "orda-kz", "almaty-vps") == [
        ("reachable", "2022-01-03T00:00:00Z", "2022-01-05T09:00:00Z", 58),
        ("blocked/tls", "2022-01-05T10:00:00Z", "2022-01-05T10:00:00Z", 1),
        ("blocked/network", "2022-01-05T11:00:00Z", "2022-01-11T02:00:00Z", 130),
        ("blocked/tls", "2022-01-11T03:00:00Z", "2022-01-11T23:00:00Z", 21),
    ]
    assert _periods(data, "telegram", "astana-home") == [
        ("reachable", "2022-01-03T00:00:00Z", "2022-01-04T13:00:00Z", 38),
        ("blocked/tcp", "2022-01-04T14:00:00Z", "2022-01-11T23:00:00Z", 172),
    ]


def test_the_shape_of_the_shutdown_per_vantage(january):
    data = json.loads(f.cli("timeline", january, "--json").stdout)
    almaty = next(v for v in data["vantages"] if v["vantage"] == "almaty-vps")
    assert almaty["scans"] == 216 - len(MISSING_HOURS)
    assert [(p["state"], p["from"], p["to"]) for p in almaty["connectivity"]] == [
        ("online", "2022-01-03T00:00:00Z", "2022-01-05T10:00:00Z"),
        ("offline", "2022-01-05T11:00:00Z", "2022-01-10T08:00:00Z"),
        ("international_cut", "2022-01-10T09:00:00Z", "2022-01-11T02:00:00Z"),
        ("online", "2022-01-11T03:00:00Z", "2022-01-11T23:00:00Z"),
    ]
    assert almaty["gaps"] == [{"from": "2022-01-05T11:00:00Z", "to": "2022-01-05T18:00:00Z"}]


def test_the_table_reads_like_the_events(january):
    out = f.cli("timeline", january).stdout
    assert re.search(
        r"Vantage almaty-vps · AS9198 · KZ: 210 scans from 2022-01-03 00:00Z to 2022-01-11 23:00Z, "
        r"usually every 60 min",
        out,
    )
    assert re.search(r"offline\s+from 2022-01-05 11:00Z to 2022-01-10 08:00Z\s+112 scans", out)
    assert re.search(r"international_cut\s+from 2022-01-10 09:00Z to 2022-01-11 02:00Z\s+18 scans", out)
    assert re.search(r"no scans\s+from 2022-01-05 11:00Z to 2022-01-05 18:00Z\s+7\.0 h without a scan", out)
    assert re.search(
        r"orda-kz \(NEWS\)\s+almaty-vps\s+reachable\s+2022-01-03 00:00Z\s+2022-01-05 09:00Z\s+58 scans", out
    )
    assert re.search(r"^\s+blocked/tls\s+2022-01-05 10:00Z\s+2022-01-05 10:00Z\s+1 scan\b", out, re.M)


def test_filters_by_target_and_vantage(january):
    data = json.loads(f.cli("timeline", january, "--json", "--target", "orda-kz", "--vantage", "astana-home").stdout)
    assert [v["vantage"] for v in data["vantages"]] == ["astana-home"]
    assert {(e["target"], e["vantage"]) for e in data["targets"]} == {("orda-kz", "astana-home")}
    data = json.loads(
        f.cli("timeline", january, "--json", "--since", "2022-01-10", "--until", "2022-01-10T12:00").stdout
    )
    assert data["vantages"][0]["scans"] == 12
    assert _periods(data, "tengrinews-kz", "almaty-vps") == [
        ("blocked/network", "2022-01-10T00:00:00Z", "2022-01-10T08:00:00Z", 9),
        ("reachable", "2022-01-10T09:00:00Z", "2022-01-10T11:00:00Z", 3),
    ]


def test_incomplete_scans_are_counted_in_their_period(tmp_path):
    paths = f.write_january_2022(tmp_path, hours=4)
    interrupted = json.loads(paths[2].read_text())
    interrupted["complete"] = False
    interrupted["finished_at"] = None
    f.write_json(paths[2], interrupted)
    result = f.cli("timeline", tmp_path)
    assert "4 scans from 2022-01-03 00:00Z to 2022-01-03 03:00Z, usually every 60 min (1 INCOMPLETE)" in result.stdout
    assert re.search(r"4 scans \(1 incomplete\)", result.stdout)
    data = json.loads(f.cli("timeline", tmp_path, "--json").stdout)
    assert data["targets"][0]["periods"][0]["incomplete_scans"] == 1


def test_a_vantage_always_online_says_so(tmp_path):
    f.write_january_2022(tmp_path, hours=3)
    assert "online in every scan" in f.cli("timeline", tmp_path).stdout


def test_nothing_readable_is_bad_input(tmp_path):
    (tmp_path / "x.json").write_text('{"format": "kzprobe-report", "format_version": 7}')
    result = f.cli("timeline", tmp_path)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "x.json: written by a newer kzprobe" in result.stderr
