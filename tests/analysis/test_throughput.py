"""Throttling (docs/methodology.md, "Throughput"): the sustained rate after the burst, the minimum
measurement before a judgement, the ratio to the baselines, the ceiling, stalls."""

from __future__ import annotations

import pytest

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.facts import DownloadFact
from kzprobe.analysis.throughput import Throughput, from_download, judge
from support.observations import (
    HOST,
    HTTP_URL,
    control_of,
    download,
    hop,
    http_target,
    https_target,
    report,
    result,
    verdict_of,
    web,
)


def fact(samples: list[tuple[float, int]], *, status: int = 200, complete: bool = True,
         stall: float = 0.0, duration: float | None = None) -> DownloadFact:
    return DownloadFact("https://x/big", status, samples[-1][1] if samples else 0,
                        duration if duration is not None else (samples[-1][0] if samples else 0.0), 10.0,
                        tuple(samples), stall, complete, None)


def steady(kbps: float, ms: float, start_bytes: int = 0, t0: float = 10.0) -> list[tuple[float, int]]:
    """Samples every 50 ms at `kbps` (bytes per ms) for `ms`."""
    return [(t0 + i * 50.0, start_bytes + int(kbps * 50.0 * (i + 1))) for i in range(int(ms // 50) + 1)]


def measured(rate: float, *, judged: bool = True, complete: bool = True, stall: float = 0.0,
             reference: float | None = None, nbytes: int = 300_000) -> Throughput:
    return Throughput("download", "https://x/big", nbytes, rate, judged, 5_000.0, reference, stall, complete)


@pytest.mark.parametrize("name,samples,judged", [
    ("window_just_under_min_time", steady(10.0, th.MIN_SUSTAINED_MS - 50 + (th.BURST_BYTES // 500) * 50), False),
    ("window_at_min_time", steady(10.0, th.MIN_SUSTAINED_MS + (th.BURST_BYTES // 500) * 50 + 50), True),
    ("short_fast_transfer_below_min_bytes", [(10.0, 70_000), (20.0, 70_000 + th.MIN_SUSTAINED_BYTES - 1)], False),
    ("short_fast_transfer_at_min_bytes", [(10.0, 70_000), (20.0, 70_000 + th.MIN_SUSTAINED_BYTES)], True),
    ("single_sample_cannot_be_judged", [(10.0, 5_000_000)], False),
], ids=lambda x: x if isinstance(x, str) else "")
def test_minimum_measurement_before_a_judgement(name, samples, judged):
    got = from_download(fact(samples))
    assert got is not None and got.judged is judged


def test_rate_skips_the_burst():
    """16 KB at once then 32 KB/s: the sustained rate is 32 KB/s, not inflated by the burst."""
    samples = [(10.0, 16_000)] + [(10.0 + 50 * i, 16_000 + 1_600 * i) for i in range(1, 161)]
    got = from_download(fact(samples, complete=False))
    assert got.judged and 31.0 <= got.rate_kbps <= 33.0


def test_rate_sees_through_a_large_burst():
    """A bucket of 512 KB passes at line rate; the second half of the transfer shows the 32 KB/s."""
    samples = [(10.0, 512_000)] + [(10.0 + 50 * i, 512_000 + 1_600 * i) for i in range(1, 161)]
    got = from_download(fact(samples, complete=False))
    assert 31.0 <= got.rate_kbps <= 33.0


def test_error_status_or_empty_download_is_not_a_measurement():
    assert from_download(fact([(10.0, 1000), (60.0, 2000)], status=404)) is None
    assert from_download(fact([], status=200)) is None


@pytest.mark.parametrize("name,target,reference,control,expected", [
    ("ratio_at_threshold_is_throttled", measured(25.6), 256.0, None, ("throughput.low",)),
    ("ratio_just_above_threshold_is_not", measured(25.7), 256.0, None, None),
    ("far_below_baseline_is_throttled", measured(32.0), 30_000.0, None, ("throughput.low",)),
    ("at_the_ceiling_can_be_throttled", measured(th.THROTTLED_MAX_KBPS), 30_000.0, None, ("throughput.low",)),
    ("above_the_ceiling_never_throttled", measured(th.THROTTLED_MAX_KBPS + 1), 30_000.0, None, None),
    ("not_judged_is_never_throttled", measured(5.0, judged=False), 30_000.0, None, None),
    ("no_reference_compares_with_control", measured(32.0), None, measured(20_000.0, reference=20_000.0),
     ("throughput.low",)),
    ("no_reference_no_control_cannot_judge", measured(32.0), None, None, None),
    ("slow_in_the_control_too_is_the_server", measured(32.0), 30_000.0, measured(40.0), None),
    ("low_and_stalled", measured(20.0, stall=th.STALL_MS, complete=False), 30_000.0, None,
     ("throughput.low", "throughput.stall")),
    ("stall_alone_where_control_completed", measured(400.0, stall=th.STALL_MS, complete=False), 30_000.0,
     measured(20_000.0), ("throughput.stall",)),
    ("short_stall_is_not_a_stall", measured(400.0, stall=th.STALL_MS - 1, complete=False), 30_000.0,
     measured(20_000.0), None),
    ("stall_without_control_is_not_judged", measured(400.0, stall=th.STALL_MS, complete=False), 30_000.0,
     None, None),
], ids=lambda x: x if isinstance(x, str) else "")
def test_throttling_judgement(name, target, reference, control, expected):
    finding = judge(target, reference, "the baselines", control)
    assert (finding.evidence if finding else None) == expected
    if finding:
        assert "KB/s" in finding.explanation or "stalled" in finding.explanation


THROTTLED = download(kbps=32.0, seconds=8.0, burst_bytes=16_000, complete=False)


@pytest.mark.parametrize("name,obs,control,verdict,evidence", [
    ("throttled_after_a_burst", web(with_download=THROTTLED), control_of(result(web(with_download=download()))),
     "throttled", ["throughput.low"]),
    ("low_rate_without_control_is_no_evidence_alone", web(with_download=THROTTLED), None,
     "reachable", []),
    ("large_download_at_full_speed", web(with_download=download(kbps=50_000.0, seconds=0.05)), None,
     "reachable", []),
    ("slow_everywhere_is_not_throttled", web(with_download=THROTTLED),
     control_of(result(web(with_download=download(kbps=40.0, seconds=8.0))))
     , "reachable", []),
    ("small_slow_download_is_not_judged", web(with_download=download(kbps=30.0, seconds=1.0)), None,
     "reachable", []),
], ids=lambda x: x if isinstance(x, str) else "")
def test_throttling_verdict(name, obs, control, verdict, evidence):
    got = verdict_of(result(obs, download_url=f"https://{HOST}/big.bin"), control)
    assert (got["verdict"], got["evidence"]) == (verdict, evidence), got["explanation"]


def test_throttled_explanation_gives_rate_and_ratio():
    got = verdict_of(result(web(with_download=THROTTLED)), None)
    assert "KB/s" in got["explanation"] and "of the international baselines' median" in got["explanation"]


def test_large_page_without_download_is_judged_as_a_page():
    obs = web()
    obs["http"][0]["body_length"] = 4_000_000
    obs["http"][0]["body_read_ms"] = 80.0
    got = verdict_of(result(obs), None)
    assert got["verdict"] == "reachable" and "KB/s" in got["explanation"]


def test_baselines_are_compared_with_each_other_not_themselves():
    """One baseline alone has no reference: it cannot be called throttled by itself."""
    from kzprobe.analysis import analyse_scan
    from support.observations import baselines
    # The control scan's fast baselines corroborate the low rate (a low rate alone would not).
    slow = baselines()[0]
    slow["observations"]["download"] = THROTTLED
    analysis = analyse_scan([slow], None)
    assert analysis.verdicts[0]["verdict"] == "reachable"
    both = baselines()
    both[0]["observations"]["download"] = THROTTLED
    analysis = analyse_scan(both, report([*baselines()]))
    assert analysis.verdicts[0]["verdict"] == "throttled"


@pytest.mark.parametrize("name,control_rate,expected", [
    ("control_at_twice_our_rate_is_slow_everywhere", 64.0, None),
    ("control_just_above_twice_is_not", 64.1, ("throughput.low",)),
], ids=lambda x: x if isinstance(x, str) else "")
def test_slow_everywhere_edge(name, control_rate, expected):
    finding = judge(measured(32.0), 30_000.0, "the baselines", measured(control_rate))
    assert (finding.evidence if finding else None) == expected


def test_baseline_figure_ignores_a_sustained_rate_measured_too_briefly():
    """Under 10 ms a rate is timer noise: only the whole-request rate (a lower bound) counts."""
    brief = Throughput("download", "u", 1_000_000, 900_000.0, True, th.MIN_RATE_SPAN_MS - 1, 5_000.0, 0.0, True)
    assert brief.reference_kbps == 5_000.0
    long_enough = Throughput("download", "u", 1_000_000, 900_000.0, True, th.MIN_RATE_SPAN_MS, 5_000.0, 0.0, True)
    assert long_enough.reference_kbps == 900_000.0


DRIP = dict(failure="generic_timeout_error", body_length=57, truncated=True, body_read_ms=2000.0)


# -- a page that drips one byte a second, here and in the control ------------------------------

def test_a_page_that_drips_everywhere_is_not_throttled():
    dripping = http_target(http=[hop(HTTP_URL, **DRIP)])
    verdict = verdict_of(dripping, control_of(http_target(http=[hop(HTTP_URL, **DRIP)])))
    assert verdict["verdict"] == "down", verdict
    assert "throughput.stall" not in verdict["evidence"]
    assert "control scan fetched the whole page" not in verdict["explanation"]


def test_a_page_that_breaks_off_everywhere_is_down_not_blocked():
    reset = dict(DRIP, failure="connection_reset")
    verdict = verdict_of(http_target(http=[hop(HTTP_URL, **reset)]),
                         control_of(http_target(http=[hop(HTTP_URL, **reset)])))
    assert verdict["verdict"] == "down", verdict


def test_a_page_that_stalls_only_here_is_still_throttled():
    verdict = verdict_of(http_target(http=[hop(HTTP_URL, **DRIP)]), control_of(http_target()))
    assert (verdict["verdict"], verdict["evidence"]) == ("throttled", ["throughput.stall"])


# -- a policer slower than its burst: 16 KB at line rate, then 8 KB/s ----------------------------

def policed(kbps: float, burst: int = 16 * 1024, seconds: float = 7.9) -> dict:
    return https_target(download=download(f"https://{HOST}/big.bin", kbps=kbps, seconds=seconds,
                                          burst_bytes=burst, complete=False))


FAST_CONTROL = control_of(https_target(download=download(f"https://{HOST}/big.bin", kbps=50_000, seconds=0.1)))


@pytest.mark.parametrize("kbps", [8.0, 10.0, 12.0])
def test_a_slow_policer_after_a_small_burst_is_throttled(kbps):
    # 64 KB arrive only after ~6 s: the rate after them spans < 3 s, but the whole transfer
    # (burst included, which can only overstate the rate) ran 8 s at ~10 KB/s.
    verdict = verdict_of(policed(kbps), FAST_CONTROL)
    assert verdict["verdict"] == "throttled", verdict
    assert verdict["evidence"] == ["throughput.low"]


def test_a_slow_policer_without_a_control_or_a_slow_handshake_is_only_slow():
    """A low rate alone cannot tell a throttled path from a slow server (issue 22, item 7)."""
    verdict = verdict_of(policed(8.0))
    assert verdict["verdict"] == "reachable", verdict
    assert "cannot tell a throttled path from a slow server" in verdict["explanation"]


def test_a_slow_policer_after_a_small_burst_is_throttled_with_a_control_scan():
    control = control_of(https_target(download=download(f"https://{HOST}/big.bin", kbps=50_000, seconds=0.1)))
    assert verdict_of(policed(8.0), control)["verdict"] == "throttled"


def test_a_site_as_slow_from_the_control_is_not_throttled():
    control = control_of(policed(8.0))
    verdict = verdict_of(policed(8.0), control)
    assert verdict["verdict"] == "reachable", verdict


def test_a_short_fast_transfer_is_still_not_judged():
    fast = https_target(download=download(f"https://{HOST}/big.bin", kbps=20, seconds=1.0, burst_bytes=16 * 1024))
    assert verdict_of(fast)["verdict"] == "reachable"
