"""The control: what an uncensored vantage saw for the same target, step by step.

Two sources. The control *resolver* (observations["control_dns"], measured in this scan) says
what the name really resolves to. The control *scan* (a report from an uncensored vantage, e.g.
an hourly VPS run) says whether each step - DNS, TCP, TLS, HTTP - works from outside, and what
the page looks like there. A target is matched in the control scan by id, then by URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.explain import cite
from kzprobe.analysis.facts import HopFact, TargetFacts, read_result
from kzprobe.analysis.names import url_path
from kzprobe.analysis.throughput import Throughput, measure
from kzprobe.report import vocabulary as v
from kzprobe.report.read import parse_time

# Resolver answers that say something about the name everywhere (it does not exist, has no
# address, its servers fail), as opposed to a resolver that could not be reached at all.
DEFINITIVE_DNS_FAILURES: Final = (v.DNS_NXDOMAIN, v.DNS_NO_ANSWER, v.DNS_SERVFAIL)

# Layer outcomes in the control, relative to the layer where the probe failed.
OK: Final = "ok"  # the control passed this step
FAILED: Final = "failed"  # the control failed at this same step: the site is down
EARLIER: Final = "earlier"  # the control failed before reaching it: it says nothing here
UNKNOWN: Final = "unknown"  # no usable control data for this step
STALE: Final = "stale"  # the control measured this step too long before or after this measurement

_LAYERS: Final = ("dns", "tcp", "tls", "http")


@dataclass(frozen=True)
class ControlView:
    """The control scan's facts for one target, or why there are none."""

    facts: TargetFacts | None
    verdict: str | None  # the control's own verdict for the target, as reported
    problem: str | None  # why there is no usable control, in words
    missing: bool = False  # no control data at all (as opposed to control data that failed)
    # Seconds from the control's measurement of the target to this one (negative: the control
    # is the later); None when either time is unknown.
    age_s: float | None = None
    # Older (or newer) than the bound: it says what worked then, not what works now.
    stale: bool = False

    @property
    def usable(self) -> bool:
        return self.facts is not None

    @property
    def reason(self) -> str:
        """The evidence code saying why the control cannot decide."""
        if self.stale:
            return "control.stale"
        return "control.missing" if self.missing else "control.failed"

    def step(self, layer: str) -> str:
        """How the control fared at `layer`: OK, FAILED, EARLIER (failed before it), UNKNOWN, or
        STALE (a stale control, passed or failed: it cannot say how the step fares now, so neither
        a block against its success nor `down` from its own old failure)."""
        if self.facts is None:
            return UNKNOWN
        for current in _LAYERS:
            state = _layer_state(self.facts, current)
            if current == layer:
                if state is not None and self.stale:
                    return STALE
                return {True: OK, False: FAILED, None: UNKNOWN}[state]
            if state is False:
                return STALE if self.stale else EARLIER
        return UNKNOWN

    @property
    def final_hop(self) -> HopFact | None:
        return self.facts.final_hop if self.facts else None

    @property
    def live_page(self) -> HopFact | None:
        """The control's final page when the control is live: a stale one is no reference for a
        page difference (`http.diff`) nor for the site failing (`down`). It may still excuse (an
        article quoting a blockpage phrase there too): that never calls a block."""
        return None if self.stale else self.final_hop

    def throughput(self) -> Throughput | None:
        return measure(self.facts) if self.facts else None


def _layer_state(facts: TargetFacts, layer: str) -> bool | None:
    """True when the step worked, False when it failed, None when it was not measured."""
    host = facts.hostname
    if layer == "dns":
        if facts.host_is_ip or facts.dns is None:
            return None
        return bool(facts.dns.addresses)
    if layer == "tcp":
        attempts = [t for t in facts.tcp_for(host) if not t.vantage_lacks_ipv6]
        return any(t.ok for t in attempts) if attempts else None
    if layer == "tls":
        if facts.scheme != "https":
            return None
        handshakes = facts.tls_for(host)
        if handshakes:
            return any(t.ok for t in handshakes)
        # No handshake recorded, yet the https page came: the control completed one (OONI's
        # test helper before Web Connectivity 0.5 reports the page, not its handshakes).
        return True if facts.final_hop is not None and facts.final_hop.scheme == "https" else None
    if facts.http:
        return facts.final_hop is not None
    return None


def dns_failure_is_definitive(failure: str | None) -> bool:
    return failure in DEFINITIVE_DNS_FAILURES


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time with a zone ("2026-11-22T10:00:00Z"), as reports write it; None otherwise."""
    return parse_time(value) if isinstance(value, str) and len(value) <= 40 else None


def _age_clause(age_s: float, max_age_s: float) -> str:
    hours, bound = abs(age_s) / 3600, max_age_s / 3600
    when = "before" if age_s >= 0 else "after"
    return (f"the control is stale (control.stale): the control scan measured it {hours:,.1f} h {when} this "
            f"measurement, beyond the {bound:g} h a control stays live: it cannot say how the site fares now "
            "(neither that a step works nor that the site is down)")


class ControlScan:
    """A control report indexed for lookups; tolerant of any shape, never trusted blindly.

    `max_age_s`: how far apart in time the control's measurement of a target and this scan's
    may be for the control to count as live (thresholds.CONTROL_MAX_AGE_S by default)."""

    def __init__(self, report: Any, max_age_s: float | None = None) -> None:
        self.present = isinstance(report, dict)
        self.problem: str | None = None
        self.max_age_s = th.CONTROL_MAX_AGE_S if max_age_s is None else max_age_s
        self._started = _time(report.get("started_at")) if isinstance(report, dict) else None
        self._by_id: dict[str, dict] = {}
        self._by_url: dict[str, dict] = {}
        self._by_path: dict[str, dict] = {}
        if not self.present:
            return
        connectivity = report.get("connectivity")
        if connectivity in (v.OFFLINE, v.INTERNATIONAL_CUT, v.CAPTIVE_PORTAL):
            self.problem = f"the control scan's own connectivity was {connectivity}"
        results = report.get("results")
        for result in results if isinstance(results, list) else []:
            target = result.get("target") if isinstance(result, dict) else None
            if not isinstance(target, dict):
                continue
            ident, url = target.get("id"), target.get("url")
            if isinstance(ident, str) and ident:
                self._by_id.setdefault(ident, result)
            if isinstance(url, str) and url:
                self._by_url.setdefault(url, result)
                self._by_path.setdefault(_url_key(url), result)

    def raw_result(self, facts: TargetFacts) -> dict | None:
        """The control scan's result for the same target: by id, then by URL."""
        return (self._by_id.get(facts.id) if facts.id else None) \
            or (self._by_url.get(facts.url) if facts.url else None) \
            or (self._by_path.get(_url_key(facts.url)) if facts.url else None)

    def age_s(self, facts: TargetFacts, result: dict) -> float | None:
        """Seconds from the control's measurement of the target (its result's start, else the
        control scan's) to this measurement's start; None when either is unknown."""
        measured = _time(facts.measured_at)
        controlled = _time(result.get("started_at")) or self._started
        if measured is None or controlled is None:
            return None
        return round((measured - controlled).total_seconds(), 1)

    def view(self, facts: TargetFacts) -> ControlView:
        if not self.present:
            return ControlView(None, None, "no control scan was given", missing=True)
        result = self.raw_result(facts)
        if result is None:
            return ControlView(None, None, "the control scan has no result for this target", missing=True)
        verdict = result.get("verdict") if isinstance(result.get("verdict"), str) else None
        age = self.age_s(facts, result)
        if self.problem:
            return ControlView(None, verdict, self.problem, age_s=age)
        control = read_result(result)
        if not (control.dns or control.tcp or control.http or _has_tor_bootstrap(result)):
            return ControlView(None, verdict, "the control scan measured nothing for this target", age_s=age)
        if age is not None and abs(age) > self.max_age_s:
            return ControlView(control, verdict, _age_clause(age, self.max_age_s), age_s=age, stale=True)
        return ControlView(control, verdict, None, age_s=age)


def _has_tor_bootstrap(result: dict) -> bool:
    """The result is a tor bootstrap's (analysis/tor_bootstrap_rules.py): it measured no web step."""
    observations = result.get("observations")
    return isinstance(observations, dict) and isinstance(observations.get("tor_bootstrap"), dict)


def _url_key(url: str) -> str:
    scheme = url.split(":", 1)[0].lower()
    return f"{scheme}://{url_path(url)}"


def control_summary(view: ControlView) -> dict | None:
    """The compact, JSON-ready control facts recorded with the verdict (None without a control scan)."""
    if view.facts is None:
        if view.missing:
            return None
        return {"verdict": view.verdict, "usable": False, "problem": view.problem, **_age(view)}
    facts = view.facts
    final = facts.final_hop
    last = facts.http[-1] if facts.http else None
    tcp = _layer_state(facts, "tcp")
    tls = _layer_state(facts, "tls")
    speed = view.throughput()
    return {
        "verdict": view.verdict,
        "usable": True,
        "dns_addresses": list(facts.dns.addresses) if facts.dns else None,
        "dns_failure": facts.dns.failure if facts.dns else None,
        "tcp_ok": tcp,
        "tls_ok": tls,
        "http_failure": last.failure if last is not None and final is None else None,
        "final_url": cite(final.url, 300) if final else None,
        "http_status": final.status if final else None,
        "http_title": cite(final.title, 120) if final and final.title else None,
        "http_body_length": final.body_length if final else None,
        "kilobytes_per_second": round(speed.rate_kbps, 1) if speed and speed.rate_kbps is not None else None,
        **_age(view),
    }


def _age(view: ControlView) -> dict:
    """The control's age at this measurement, and whether it was past the bound (when known)."""
    if view.age_s is None:
        return {}
    return {"age_s": view.age_s, "stale": view.stale}
