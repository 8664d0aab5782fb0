"""After each complete scan: the change record against the vantage's previous complete scan,
then the feed and the webhooks. Nothing here can fail the scan: every problem becomes a warning,
and a record that could not be delivered waits in the outbox.

Order, under the output directory's lock: the state (so a scan killed later never makes the
same record twice), changes.jsonl and changes.xml, then each webhook's outbox (the new record
added before any POST), then the deliveries, oldest record first.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kzprobe.probes.connection import Connector
from kzprobe.probes.dns import DnsProbe
from kzprobe.report.read import parse_time
from kzprobe.vantage.alerts.atom import FEED_NAME, write_feed
from kzprobe.vantage.alerts.history import HISTORY_NAME, append_record, read_history
from kzprobe.vantage.alerts.limits import DELIVERY_BUDGET_S, MAX_OUTBOX_AGE_DAYS, MAX_OUTBOX_RECORDS
from kzprobe.vantage.alerts.outbox import load_outbox
from kzprobe.vantage.alerts.record import decide_changes
from kzprobe.vantage.alerts.settings import AlertSettings, read_secret
from kzprobe.vantage.alerts.state import ScanState, VantageMemory, load_state, save_state
from kzprobe.vantage.alerts.webhook import WebhookClient, destination_key, redact_url


@dataclass
class AlertOutcome:
    """What the alerts of one scan did, for the scan's summary line and warnings."""

    record: dict[str, Any] | None = None
    baseline: bool = False  # the first scan of this vantage here: the next ones are compared with it
    delivered: int = 0  # records webhooks accepted during this scan (from the outbox included)
    waiting: int = 0  # records still waiting in the outboxes
    warnings: list[str] = field(default_factory=list)


def publish_changes(settings: AlertSettings, report: Mapping[str, Any], report_path: Path, *,
                    dns: DnsProbe, connector: Connector, now: datetime | None = None) -> AlertOutcome:
    """Record, publish and deliver what changed since the vantage's previous complete scan."""
    outcome = AlertOutcome()
    if not settings.active or report.get("complete") is not True:
        return outcome
    try:
        _publish(settings, report, report_path, dns, connector, now or datetime.now(UTC), outcome)
    except KeyboardInterrupt:
        outcome.warnings.append("alerts interrupted: undelivered records wait in the outbox for the next scan")
    except Exception as exc:  # never fail a complete scan for its alerts: say it and go on
        outcome.warnings.append(f"alerts: {type(exc).__name__}: {exc}")
    return outcome


def _publish(settings: AlertSettings, report: Mapping[str, Any], report_path: Path, dns: DnsProbe,
             connector: Connector, now: datetime, outcome: AlertOutcome) -> None:
    directory = report_path.parent
    vantage = report["vantage"]
    name = str(vantage["name"])
    state, problem = load_state(directory)
    if problem:
        outcome.warnings.append(f"alerts: {problem}")
    current = ScanState.from_report(report)
    memory = state.vantages.get(name)
    if memory is None:
        outcome.baseline = True
        state.vantages[name] = VantageMemory.baseline(current)
    elif not _later(current, memory.previous):
        outcome.warnings.append(f"alerts: this scan started at {current.started_at}, before the last one compared "
                                f"({memory.previous.started_at}): no change record for it")
    else:
        results = {str(r["target"]["id"]): r for r in report["results"]}
        decided = decide_changes(vantage, memory, current, results, settings.flap_scans, report_path.name,
                                 report.get("baselines"))
        state.vantages[name] = decided.memory
        outcome.record = decided.record
    try:
        save_state(directory, state)
    except OSError as exc:
        outcome.warnings.append(f"alerts: cannot save what this scan saw ({exc.strerror or exc}): "
                                "the next scan may report the same changes again")
    if settings.feed:
        _write_feed(directory, outcome.record, state.feed_id)
    if settings.webhooks:
        _deliver(settings, directory, outcome, dns, connector, now)


def _later(current: ScanState, previous: ScanState) -> bool:
    """Whether `current` started after `previous` (or in the same second: times are to the second);
    a resumed old scan may complete after newer ones."""
    now, before = parse_time(current.started_at), parse_time(previous.started_at)
    return now is not None and before is not None and now >= before and current.scan_id != previous.scan_id


def _write_feed(directory: Path, record: dict[str, Any] | None, feed_id: str) -> None:
    if record is not None:
        append_record(directory, record)
    elif (directory / FEED_NAME).exists():
        return
    history_path = directory / HISTORY_NAME
    records = read_history(history_path).records if history_path.exists() else []
    write_feed(directory, records, feed_id)


def record_body(record: Mapping[str, Any]) -> bytes:
    """The bytes POSTed (and signed): the record as compact UTF-8 JSON."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _deliver(settings: AlertSettings, directory: Path, outcome: AlertOutcome, dns: DnsProbe, connector: Connector,
             now: datetime) -> None:
    secret = None
    if settings.secret_file is not None:
        try:
            secret = read_secret(settings.secret_file)
        except ValueError as exc:
            # Never sent unsigned when a secret is configured: the receiver would rightly refuse it.
            outcome.warnings.append(f"webhook secret: {exc}; nothing was sent, records wait in the outbox")
    deadline = time.monotonic() + DELIVERY_BUDGET_S

    async def deliver_all() -> None:
        for url in settings.webhooks:
            outbox = load_outbox(directory, destination_key(url), redact_url(url), now)
            if outcome.record is not None:
                outbox.add(outcome.record, now)
            outbox.save()
            if outbox.entries and (secret is not None or settings.secret_file is None):
                async with WebhookClient(url, dns, connector, settings.webhook_timeout,
                                         settings.webhook_retries) as client:
                    while outbox.entries:
                        entry = outbox.entries[0]
                        delivery = await client.deliver(entry.record["id"], record_body(entry.record), secret,
                                                        deadline)
                        if delivery.delivered:
                            outbox.entries.pop(0)
                            outcome.delivered += 1
                            outbox.save()
                            continue
                        entry.tries += 1
                        entry.last_failure = delivery.failure
                        outbox.save()
                        outcome.warnings.append(
                            f"webhook {redact_url(url)}: {delivery.failure} ({delivery.attempts} attempt(s)); "
                            f"{len(outbox.entries)} record(s) wait in the outbox for the next scan")
                        break
            if outbox.dropped:
                outcome.warnings.append(
                    f"webhook {redact_url(url)}: {outbox.dropped} undelivered record(s) dropped (older than "
                    f"{MAX_OUTBOX_AGE_DAYS} days, beyond {MAX_OUTBOX_RECORDS}, or unreadable)")
            outcome.waiting += len(outbox.entries)

    asyncio.run(deliver_all())
