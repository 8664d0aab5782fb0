"""The HTML report's cells: periods chosen by span and cap, runs, and looks that survive greyscale."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from kzprobe.analyst.html.grid import DAY, HOUR, WEEK, TimeGrid, runs
from kzprobe.analyst.html.palette import CONNECTIVITY_LOOKS, STATE_LOOKS, connectivity_look, state_look
from kzprobe.analyst.reading import digest_report
from kzprobe.report import vocabulary as v
from kzprobe.report.read import check_report
from support import reports as f

START = datetime(2022, 1, 3, tzinfo=UTC)


def scan(moment: datetime, states: dict[str, str], *, vantage: str = "almaty-vps", connectivity: str = v.ONLINE,
         explanation: str | None = None):
    """The digest of a scan whose targets end as `states` (target id -> fixture scenario)."""
    results = [f.web_result(target, scenario, started_at=moment) for target, scenario in states.items()]
    if explanation is not None:
        for result in results:
            result["explanation"] = explanation
    made = f.report(results, vantage=vantage, started_at=moment, connectivity=connectivity)
    return digest_report(check_report(made, "test"), "test", detail=False)


def hourly(hours: int, states: dict[str, str], **kwargs):
    return [scan(START + timedelta(hours=hour), states, **kwargs) for hour in range(hours)]


def folded(grid: TimeGrid, vantage: str = "almaty-vps", target: str = "orda-kz"):
    cells = grid.vantages[vantage].rows[grid.targets[target].index]
    return [(run.first_bucket - grid.span()[0], run.length, run.dominant, run.totals()) for run in runs(cells)]


@pytest.mark.parametrize(
    ("days", "resolution", "columns"),
    [
        (1, HOUR, 24),
        (14, HOUR, 14 * 24),  # two weeks exactly: still hours
        (15, DAY, 15),  # beyond two weeks: days
    ],
)
def test_columns_are_hours_up_to_two_weeks_then_days(days, resolution, columns):
    grid = TimeGrid()
    for item in hourly(days * 24 + (1 if days == 14 else 0), {"orda-kz": "reachable"}):
        grid.add(item)
    grid.finish()
    first, last = grid.span()
    assert grid.resolution == resolution
    assert last - first + 1 == columns + (1 if days == 14 else 0)


def test_folding_hours_into_days_keeps_every_scan_and_the_latest_explanation():
    grid = TimeGrid(hourly_span=timedelta(hours=30))
    scans = hourly(24, {"orda-kz": "reachable"}) + [
        scan(START + timedelta(hours=24 + hour), {"orda-kz": "tls_reset"}, explanation=f"reset {hour}")
        for hour in range(12)
    ]
    for item in scans:
        grid.add(item)
    grid.finish()
    assert grid.resolution == DAY
    assert folded(grid) == [(0, 1, "reachable", {"reachable": 24}), (1, 1, "blocked/tls", {"blocked/tls": 12})]
    day_two = grid.vantages["almaty-vps"].rows[0][DAY.bucket(START) + 1]
    assert day_two.states["blocked/tls"].explanation == "reset 11"
    assert day_two.scans == 12 and day_two.first == START + timedelta(hours=24)


def test_too_many_cells_fold_into_days_then_weeks_then_refuse_and_count():
    targets = {f"site-{number}": "reachable" for number in range(10)}
    grid = TimeGrid(max_cells=300)
    for item in hourly(24 * 3, targets):  # 3 days: 720 hour cells > 300, 30 day cells
        grid.add(item)
    grid.finish()
    assert (grid.resolution, grid.folded_for_cells, grid.refused) == (DAY, True, 0)
    tight = TimeGrid(max_cells=12)
    for item in hourly(24 * 12, targets):  # 3 Jan 2022 was a Monday: two weeks, 22 week cells > 12
        tight.add(item)
    tight.finish()
    assert tight.resolution == WEEK and tight.folded_for_cells
    assert tight.cells <= 12 and tight.refused > 0
    drawn = sum(cell.scans for grid_ in tight.vantages.values()
                for cells in grid_.rows.values() for cell in cells.values())
    assert drawn + tight.refused == 24 * 12 * 10


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        # scenario per hour -> runs (first column, columns, state, mixed)
        (["reachable", "reachable", "tls_reset", "tls_reset"],
         [(0, 2, "reachable", False), (2, 2, "blocked/tls", False)]),
        (["reachable", None, "reachable"], [(0, 1, "reachable", False), (2, 1, "reachable", False)]),
        # a gap ends a run
    ],
)
def test_runs_are_periods_of_the_same_states(hours, expected):
    grid = TimeGrid()
    for hour, scenario in enumerate(hours):
        if scenario is not None:
            grid.add(scan(START + timedelta(hours=hour), {"orda-kz": scenario}))
    cells = grid.vantages["almaty-vps"].rows[0]
    first = grid.span()[0]
    assert [(r.first_bucket - first, r.length, r.dominant, r.mixed) for r in runs(cells)] == expected


def test_a_cell_whose_scans_disagree_is_mixed_and_ties_go_to_the_more_severe_state():
    grid = TimeGrid(hourly_span=timedelta(0))  # day columns from the start
    for minute, scenario in ((0, "reachable"), (20, "tls_reset"), (40, "reachable"), (50, "dns_nxdomain")):
        grid.add(scan(START + timedelta(minutes=minute), {"orda-kz": scenario}))
    grid.add(scan(START + timedelta(days=1), {"orda-kz": "tls_reset"}))
    grid.add(scan(START + timedelta(days=1, hours=1), {"orda-kz": "reachable"}))
    (day_one, day_two) = list(runs(grid.vantages["almaty-vps"].rows[0]))
    assert (day_one.dominant, day_one.mixed, day_one.totals()) == (
        "reachable", True, {"reachable": 2, "blocked/tls": 1, "blocked/dns": 1})
    assert (day_two.dominant, day_two.mixed) == ("blocked/tls", True)


def test_the_connectivity_band_counts_each_scan_once_per_vantage():
    grid = TimeGrid()
    for item in hourly(3, {"a": "reachable", "b": "reachable"}, connectivity=v.OFFLINE) + hourly(
            2, {"a": "reachable"}, vantage="shymkent-beeline"):
        grid.add(item)
    band = grid.vantages["almaty-vps"].connectivity
    assert [(r.length, r.totals()) for r in runs(band)] == [(3, {v.OFFLINE: 3})]
    assert sum(cell.scans for cell in grid.vantages["shymkent-beeline"].connectivity.values()) == 2


def _luminance(colour: str) -> float:
    """Relative luminance (WCAG 2 definition), what a greyscale printout keeps of a colour."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("looks", [STATE_LOOKS, CONNECTIVITY_LOOKS], ids=["states", "connectivity"])
def test_every_two_looks_differ_in_pattern_or_in_lightness(looks):
    for a, b in itertools.combinations(looks, 2):
        assert a.pattern != b.pattern or abs(_luminance(a.colour) - _luminance(b.colour)) > 0.2, (a.key, b.key)
    assert len({look.label for look in looks}) == len(looks)


@pytest.mark.parametrize(
    ("state", "key"),
    [("reachable", "ok"), ("blocked/dns", "dns"), ("blocked/tcp", "tcp"), ("blocked/tls", "tls"),
     ("blocked/http", "http"), ("blocked/network", "net"), ("blocked", "blk"), ("throttled/tls", "slow"),
     ("down", "down"), ("inconclusive", "inc"), ("unanalysed", "una")],
)
def test_each_state_has_its_look(state, key):
    assert state_look(state).key == key


@pytest.mark.parametrize(
    ("connectivity", "key"),
    [(v.ONLINE, "online"), (v.INTERNATIONAL_CUT, "cut"), (v.OFFLINE, "offline"), ("captive_portal", "portal"),
     (None, "unknown"), ("something new", "unknown")],
)
def test_each_connectivity_has_its_look(connectivity, key):
    assert connectivity_look(connectivity).key == key
