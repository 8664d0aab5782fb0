"""Webhook delivery and its outbox, against a real HTTPS receiver on loopback: one row per way a
receiver can fail (down, slow, 500, redirect) and the next scan delivering what waited, once.
Also which URLs may be webhooks, how they are printed, and the outbox's bounds."""

from __future__ import annotations

import json
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from kzprobe.probes.dns import parse_resolver
from kzprobe.scan.run import ScanOptions, build_probe_kit
from kzprobe.vantage.alerts import AlertSettings, publish_changes
from kzprobe.vantage.alerts.outbox import OUTBOX_DIR, load_outbox
from kzprobe.vantage.alerts.webhook import WebhookClient, check_webhook_url, redact_url, signature
from support import reports as f
from support.webhook import WebhookReceiver

HOOKS = "127.0.0.6"
SECRET = "0123456789abcdef0123456789abcdef"
NOW = datetime(2022, 1, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hooks")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOOKS).configure_cert(context)
    hook = WebhookReceiver(HOOKS, context).start()
    hook.ca_file = directory / "ca.pem"  # type: ignore[attr-defined]  # where the tests find the CA
    yield hook
    hook.stop()


@pytest.fixture
def kit(receiver):
    return build_probe_kit(ScanOptions(resolver=parse_resolver("127.0.0.1:53"), control_resolver=None,
                                       ca_file=str(receiver.ca_file), timeout=2))


def scans():
    """Hourly reports of one vantage: orda-kz reachable, then blocked, then the same."""
    states = ["reachable", "tls_reset", "tls_reset", "tls_reset"]
    return [f.report([f.web_result("orda-kz", state)], started_at=f.START + timedelta(hours=hour))
            for hour, state in enumerate(states)]


def publish(settings, report, directory: Path, kit):
    return publish_changes(settings, report, directory / "scan.json", dns=kit.dns, connector=kit.connector, now=NOW)


def secret_file(directory: Path) -> Path:
    path = directory / "secret"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("mode, attempts, failure", [
    ("down", 0, "connection_refused"),
    ("error", 2, "HTTP 500"),
    ("redirect", 2, "HTTP 302 (redirects are not followed: configure the final URL)"),
    ("drip", 2, "no answer within 1 s"),
])
def test_a_failed_delivery_waits_in_the_outbox_and_is_delivered_once_at_the_next_scan(
        receiver, kit, tmp_path, mode, attempts, failure):
    receiver.received.clear()
    receiver.set_mode(mode)
    url = receiver.url(HOOKS, "/hook/secret-token")
    settings = AlertSettings(feed=False, webhooks=(url,), secret_file=secret_file(tmp_path), webhook_timeout=1,
                             webhook_retries=1)
    first, second, third, fourth = scans()
    assert publish(settings, first, tmp_path, kit).baseline
    failed = publish(settings, second, tmp_path, kit)
    assert failed.record is not None and failed.delivered == 0 and failed.waiting == 1
    assert len(receiver.received) == attempts  # the first attempt and one retry, no more
    [warning] = failed.warnings
    assert warning == (f"webhook https://{HOOKS}:{receiver.port}/…: {failure} (2 attempt(s)); "
                       "1 record(s) wait in the outbox for the next scan")
    [outbox] = (tmp_path / OUTBOX_DIR).iterdir()
    assert oct(outbox.stat().st_mode & 0o777) == "0o600"
    assert "secret-token" not in outbox.read_text() and SECRET not in outbox.read_text()

    receiver.set_mode("ok")
    drained = publish(settings, third, tmp_path, kit)  # nothing new changed: the outbox is delivered
    assert drained.record is None and drained.delivered == 1 and drained.waiting == 0 and drained.warnings == []
    delivered = receiver.received[-1]
    assert delivered.headers["x-kzprobe-delivery"] == failed.record["id"]
    assert delivered.headers["x-kzprobe-signature"] == signature(
        SECRET.encode(), int(delivered.headers["x-kzprobe-timestamp"]), delivered.body)
    assert not outbox.exists()
    count = len(receiver.received)
    publish(settings, fourth, tmp_path, kit)
    assert len(receiver.received) == count  # never twice


def test_a_secret_that_cannot_be_read_sends_nothing_unsigned(receiver, kit, tmp_path):
    receiver.received.clear()
    receiver.set_mode("ok")
    secret = secret_file(tmp_path)
    settings = AlertSettings(feed=False, webhooks=(receiver.url(HOOKS),), secret_file=secret, webhook_timeout=1)
    first, second, *_ = scans()
    publish(settings, first, tmp_path, kit)
    secret.chmod(0o644)
    outcome = publish(settings, second, tmp_path, kit)
    assert receiver.received == [] and outcome.waiting == 1
    assert "may be read by other users" in outcome.warnings[0] and SECRET not in outcome.warnings[0]


def test_no_attempt_is_started_past_the_delivery_deadline(receiver, kit):
    import asyncio
    import time

    async def late():
        async with WebhookClient(receiver.url(HOOKS), kit.dns, kit.connector, 1, 3) as client:
            return await client.deliver("id", b"{}", None, time.monotonic() - 1)

    delivery = asyncio.run(late())
    assert (delivery.delivered, delivery.attempts) == (False, 0)


def test_the_outbox_keeps_the_newest_records_of_the_last_week(tmp_path):
    outbox = load_outbox(tmp_path, "key", "https://hooks.example/…", NOW)
    for day in range(10):
        outbox.add({"id": f"old-{day}"}, NOW - timedelta(days=10 - day))
    for n in range(120):
        outbox.add({"id": f"new-{n}"}, NOW)
    outbox.add({"id": "new-119"}, NOW)  # the same record again is not queued twice
    assert [e.record["id"] for e in outbox.entries] == [f"new-{n}" for n in range(20, 120)]
    outbox.save()
    reread = load_outbox(tmp_path, "key", "https://hooks.example/…", NOW + timedelta(days=8))
    assert reread.entries == [] and reread.dropped == 100


def test_an_unreadable_outbox_is_replaced_not_fatal(tmp_path):
    (tmp_path / OUTBOX_DIR).mkdir()
    (tmp_path / OUTBOX_DIR / "key.json").write_text("{not json")
    outbox = load_outbox(tmp_path, "key", "https://hooks.example/…", NOW)
    assert outbox.entries == [] and outbox.dropped == 1
    outbox.add({"id": "r"}, NOW)
    outbox.save()
    assert json.loads((tmp_path / OUTBOX_DIR / "key.json").read_text())["entries"][0]["record"] == {"id": "r"}


@pytest.mark.parametrize("url, problem", [
    ("https://hooks.example.org/k/T0KEN", None),
    ("https://[2001:db8::1]:8443/hook", None),
    ("http://127.0.0.1:9000/hook", None),
    ("http://[::1]/hook", None),
    ("http://hooks.example.org/hook", "plain http is refused for http://hooks.example.org/…"),
    ("http://localhost/hook", "plain http is refused"),
    ("ftp://hooks.example.org/", "must be an https URL"),
    ("https://user:pass@hooks.example.org/", "cannot carry a user name or password"),
    ("https://hooks.example.org/#frag", "cannot have a #fragment"),
    ("https://hooks.example.org/a b", "without spaces"),
    ("https:///nohost", "must be an https URL with a host"),
    ("https://почта.example/", "ASCII (punycode) form"),
    ("https://hooks.example.org:99999/", "not a URL"),
])
def test_which_urls_can_be_webhooks(url, problem):
    if problem is None:
        assert check_webhook_url(url) == url
    else:
        with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
            check_webhook_url(url)


@pytest.mark.parametrize("url, shown", [
    ("https://hooks.example.org/services/T00/B00/XXXX", "https://hooks.example.org/…"),
    ("https://hooks.example.org:8443/?token=abc", "https://hooks.example.org:8443/…"),
    ("https://hooks.example.org/", "https://hooks.example.org/"),
    ("http://[::1]:9000/x", "http://[::1]:9000/…"),
])
def test_a_webhook_is_printed_without_its_path(url, shown):
    assert redact_url(url) == shown
