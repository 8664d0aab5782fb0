"""Throughput: the sustained rate of a transfer, and whether it shows throttling.

Policers let a first burst through at full speed and then hold the flow down (Xue et al.,
IMC 2021, https://censoredplanet.org/throttling), and TCP slow start makes short transfers look
slow. So the rate is read from the download's (time, bytes) samples *after* the first
BURST_BYTES, judged only once enough time or data has passed, and compared with the same scan's
baselines (same link, same moment) and with the control vantage's rate for the same resource.
"""

from __future__ import annotations

from dataclasses import dataclass

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.explain import cite, kbps, ratio
from kzprobe.analysis.facts import DownloadFact, HopFact, TargetFacts
from kzprobe.report import vocabulary as v


@dataclass(frozen=True)
class Throughput:
    source: str  # "download" or "page" (the final page, when large enough and no download)
    url: str
    bytes: int
    rate_kbps: float | None  # sustained rate after the burst, KB/s (1 KB = 1000 bytes)
    judged: bool  # measured over enough time or data after the burst to be trusted
    window_ms: float  # how long the sustained rate was measured over
    whole_kbps: float | None  # bytes over the whole request, latency included: a lower bound
    longest_stall_ms: float
    complete: bool
    # The rate is the whole body's average, first burst included (a policer slower than its
    # burst left too short a window after BURST_BYTES): it can only overstate the held rate.
    burst_included: bool = False
    # The transfer stopped after some bytes and nothing more came for a whole --timeout while the
    # connection stayed open (a freeze, not a slow flow and not a closed connection).
    froze: bool = False

    @property
    def reference_kbps(self) -> float | None:
        """What this transfer says the path can carry at least, for use as a baseline.

        The whole-request rate can only understate the path; the sustained rate is used when
        it was measured over long enough to be more than timer noise."""
        candidates = [self.whole_kbps]
        if self.rate_kbps is not None and self.window_ms >= th.MIN_RATE_SPAN_MS:
            candidates.append(self.rate_kbps)
        usable = [c for c in candidates if c is not None]
        return max(usable) if usable else None


def _rate(bytes_: float, ms: float) -> float | None:
    return bytes_ / ms if ms > 0 else None  # bytes per ms == KB/s


def _burst_end(samples: tuple[tuple[float, int], ...]) -> tuple[float, float]:
    """When the first BURST_BYTES had arrived: interpolated between the samples around it (they
    are 50 ms apart, and a fast transfer passes 64 KB between two of them). The first sample
    when it already holds more; when the transfer never got that far, the first sample too."""
    previous = None
    for t, b in samples:
        if b >= th.BURST_BYTES:
            if previous is None or b == previous[1]:
                return t, b
            t0, b0 = previous
            return t0 + (th.BURST_BYTES - b0) * (t - t0) / (b - b0), th.BURST_BYTES
        previous = (t, b)
    return samples[0]


def from_download(download: DownloadFact) -> Throughput | None:
    if download.status is None or not 200 <= download.status < 300 or download.bytes <= 0:
        return None
    samples = download.samples
    rate, judged, window_ms, burst_included = None, False, 0.0, False
    if len(samples) >= 2:
        t_last, b_last = samples[-1]
        start = _burst_end(samples)
        window_ms = t_last - start[0]
        window_bytes = b_last - start[1]
        rates = [r for r in [_rate(window_bytes, window_ms)] if r is not None]
        # A bucket larger than BURST_BYTES still shows in the second half of a long transfer.
        t_mid = samples[0][0] + (t_last - samples[0][0]) / 2
        tail = next(((t, b) for t, b in samples if t >= t_mid and t < t_last), None)
        if tail is not None and t_last - tail[0] >= th.TAIL_MIN_SPAN_MS:
            rates.append((b_last - tail[1]) / (t_last - tail[0]))
        if rates:
            rate = min(rates)
            judged = window_ms >= th.MIN_SUSTAINED_MS or window_bytes >= th.MIN_SUSTAINED_BYTES
        body_ms = t_last - samples[0][0]
        if not judged and not download.complete and body_ms >= th.MIN_SUSTAINED_MS:
            # A policer slower than its burst (16 KB, then 8 KB/s) delivers BURST_BYTES only
            # seconds into the transfer, leaving too short a window after them before the
            # probe's time budget ends it. The body's average over its whole span, burst
            # included, can only overstate the held rate, so it is safe to judge by once the
            # span alone is long enough.
            rate = max(rate or 0.0, (b_last - samples[0][1]) / body_ms)
            judged, window_ms, burst_included = True, body_ms, True
    whole = _rate(download.bytes, download.duration_ms)
    froze = download.failure == v.GENERIC_TIMEOUT and download.bytes > 0 and not download.complete
    return Throughput("download", download.url, download.bytes, rate, judged, window_ms, whole,
                      download.longest_stall_ms, download.complete and download.failure is None, burst_included,
                      froze)


def from_page(hop: HopFact) -> Throughput | None:
    """The final page as a transfer, when it is large enough for throughput to mean something.

    Its rate includes any burst and is measured on decoded bytes, so it can only overstate the
    path's rate: safe for saying "not throttled", never used as a baseline."""
    if hop.status is None or not 200 <= hop.status < 300 or hop.body_length is None \
            or hop.body_length < th.BURST_BYTES or not hop.body_read_ms:
        return None
    judged = hop.body_read_ms >= th.MIN_SUSTAINED_MS or hop.body_length - th.BURST_BYTES >= th.MIN_SUSTAINED_BYTES
    rate = hop.body_length / hop.body_read_ms
    return Throughput("page", hop.url, hop.body_length, rate, judged, hop.body_read_ms, None, 0.0,
                      hop.failure is None)


def measure(facts: TargetFacts) -> Throughput | None:
    """The target's throughput: its download, else its final page when that is large."""
    if facts.download is not None:
        measured = from_download(facts.download)
        if measured is not None:
            return measured
    final = facts.final_hop
    return from_page(final) if final is not None else None


@dataclass(frozen=True)
class ThrottleFinding:
    evidence: tuple[str, ...]
    explanation: str


def _what(t: Throughput) -> str:
    return f"the download of {cite(t.url, 100)}" if t.source == "download" else f"the page {cite(t.url, 100)}"


def judge(target: Throughput, reference_kbps: float | None, reference_label: str,
          control: Throughput | None) -> ThrottleFinding | None:
    """Throttled or not, against the baseline figure and the control's rate for the same resource."""
    if target.froze and control is not None and control.complete and not control.froze:
        return ThrottleFinding(
            ("throughput.freeze",),
            f"{_what(target)} stopped after {target.bytes:,} bytes and nothing more came while the connection "
            f"stayed open, while the control fetched all {control.bytes:,} bytes")
    stalled = target.longest_stall_ms >= th.STALL_MS
    stall_note = f"with a {target.longest_stall_ms / 1000:.1f} s stall" if stalled else ""
    rate = target.rate_kbps
    if target.judged and rate is not None and rate <= th.THROTTLED_MAX_KBPS:
        slow_everywhere = control is not None and control.judged and control.rate_kbps is not None \
            and rate >= control.rate_kbps * th.SLOW_EVERYWHERE_RATIO
        compare_to, label = reference_kbps, reference_label
        if compare_to is None and control is not None:
            compare_to, label = control.reference_kbps, "the control's rate for the same resource"
        if not slow_everywhere and compare_to:
            share = rate / compare_to
            if share <= th.THROTTLED_RATIO:
                evidence = ("throughput.low", "throughput.stall") if stalled else ("throughput.low",)
                burst = f"{th.BURST_BYTES // 1024} KB"
                if target.source != "download":
                    span = "over its body"
                elif target.burst_included:
                    span = f"over the whole transfer, its first {burst} having taken most of it"
                else:
                    span = f"after the first {burst}"
                parts = [f"{_what(target)} ran at {kbps(rate)} {span} "
                         f"(over {target.window_ms / 1000:.1f} s{', ' + stall_note if stall_note else ''})",
                         f"{ratio(share)} of {label} ({kbps(compare_to)})"]
                if control is not None and control.rate_kbps is not None:
                    parts.append(f"the control fetched it at {kbps(control.rate_kbps)}")
                return ThrottleFinding(evidence, "; ".join(parts))
    if stalled and target.bytes > 0 and not target.complete and control is not None \
            and control.complete and control.longest_stall_ms < th.STALL_MS:
        return ThrottleFinding(
            ("throughput.stall",),
            f"{_what(target)} stalled for {target.longest_stall_ms / 1000:.1f} s after {target.bytes:,} bytes "
            f"and never finished, while the control fetched all {control.bytes:,} bytes without a stall")
    return None


def describe(target: Throughput) -> str:
    """A clause citing a measured rate that was not judged throttled."""
    if target.rate_kbps is None:
        return ""
    how = "" if target.judged else " (too little data after the burst to judge)"
    return f"{_what(target)} ran at {kbps(target.rate_kbps)}{how}"


def page_rate(hop: HopFact) -> float | None:
    """A complete page's body rate (KB/s over its time from first to last byte), None without one."""
    if hop.status is None or not 200 <= hop.status < 300 or hop.failure or not hop.body_length \
            or not hop.body_read_ms:
        return None
    return hop.body_length / hop.body_read_ms


def judge_page(page: HopFact, rtt_ms: float | None, reference_kbps: float | None, reference_label: str,
               control_page: HopFact | None) -> ThrottleFinding | None:
    """A small page that arrived at a policer's rate: judged on its time to last byte.

    Too small for a sustained rate (below BURST_BYTES), a 40 KB page behind a 16 KB/s policer
    still takes seconds where the link carries it in milliseconds. Slow: its body took at least
    SLOW_PAGE_MIN_MS and SLOW_PAGE_RTT_RATIO round trips (a long path alone does not explain it),
    at a rate under THROTTLED_MAX_KBPS and at most THROTTLED_RATIO of the baselines'. Not when the
    control's copy of the page came about as slowly (a backend that renders slowly for everyone)."""
    rate = page_rate(page)
    if rate is None or page.body_read_ms is None or (page.body_length or 0) >= th.BURST_BYTES:
        return None
    took = page.body_read_ms
    if took < th.SLOW_PAGE_MIN_MS or (rtt_ms is not None and took < th.SLOW_PAGE_RTT_RATIO * rtt_ms):
        return None
    if rate > th.THROTTLED_MAX_KBPS or (reference_kbps is not None and rate > th.THROTTLED_RATIO * reference_kbps):
        return None
    parts = [f"the page {cite(page.url, 100)} took {took / 1000:.1f} s to arrive ({page.body_length:,} bytes, "
             f"{kbps(rate)})"]
    if reference_kbps is not None:
        parts.append(f"{ratio(rate / reference_kbps)} of {reference_label} ({kbps(reference_kbps)})")
    if control_page is not None and control_page.body_read_ms is not None and page_rate(control_page) is not None:
        if control_page.body_read_ms >= th.SLOW_EVERYWHERE_RATIO * took:
            return None  # the control waited about as long: the site is slow, not the path
        parts.append(f"the control got it in {control_page.body_read_ms / 1000:.2f} s")
    return ThrottleFinding(("throughput.slow_page",), "; ".join(parts))
