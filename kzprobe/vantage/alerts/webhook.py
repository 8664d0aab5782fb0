"""Deliver a change record to a webhook: an HTTPS POST of the record as JSON, signed with a
shared secret when one is configured, bounded in time, never following a redirect.

The receiver is reached like a control URL: through kzprobe's own resolver path (the resolver
it measures, the system's trust store plus `ca_file`). A webhook URL often carries a token in
its path (chat services put one there), so only its scheme, host and port are ever printed
(`redact_url`), and the outbox knows it by a hash (`destination_key`). Only the response status
is read: a receiver's body never reaches a log.

Signature (docs/vantage-point.md): `X-Kzprobe-Signature: sha256=<hex HMAC-SHA256 of
"<X-Kzprobe-Timestamp>.<body>" with the secret>`; the timestamp lets a receiver refuse replays.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx

from kzprobe import __version__
from kzprobe.probes.connection import Connector
from kzprobe.probes.dns import DnsProbe
from kzprobe.probes.failures import failure_from_exception
from kzprobe.probes.session import SessionTransport, TargetSession
from kzprobe.vantage.alerts.limits import RETRY_DELAYS_S

SIGNATURE_HEADER: Final = "X-Kzprobe-Signature"
TIMESTAMP_HEADER: Final = "X-Kzprobe-Timestamp"
DELIVERY_HEADER: Final = "X-Kzprobe-Delivery"
EVENT_HEADER: Final = "X-Kzprobe-Event"
EVENT: Final = "changes"
MAX_URL_CHARS: Final = 2048


def check_webhook_url(text: str) -> str:
    """The URL as kzprobe will use it; ValueError saying why it cannot be a webhook.

    https to any host; plain http only to a loopback address literal (a relay on the same
    machine, or a test receiver): anything else would send the alerts, and their signature,
    readable to every network on the way."""
    url = text.strip()
    if not url or len(url) > MAX_URL_CHARS or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ValueError("a webhook must be one http(s) URL without spaces or control characters, "
                         f"at most {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc})") from None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("https", "http") or not host:
        raise ValueError(f"a webhook must be an https URL with a host, not {redact_url(url)!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("a webhook URL cannot carry a user name or password (use the shared secret)")
    if parts.fragment:
        raise ValueError("a webhook URL cannot have a #fragment")
    if not host.isascii():
        raise ValueError(f"write the host in its ASCII (punycode) form, not {host!r}")
    if scheme == "http" and not _is_loopback(host):
        raise ValueError(f"plain http is refused for {redact_url(url)}: use https (http only to a loopback address)")
    if port == 0:
        raise ValueError("port 0 is not a port")
    return url


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """The URL with its path and query hidden: 'https://hooks.example.org/…'."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(a malformed URL)"
    if ":" in host:
        host = f"[{host}]"
    shown = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")
    return shown + ("/…" if parts.path.strip("/") or parts.query else "/")


def destination_key(url: str) -> str:
    """A name for the webhook's outbox that does not reveal its URL."""
    return hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:20]


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (Unix seconds)."""
    return "sha256=" + hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def request_headers(record_id: str, body: bytes, secret: bytes | None, timestamp: int) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"kzprobe/{__version__}",
        EVENT_HEADER: EVENT,
        DELIVERY_HEADER: record_id,
        TIMESTAMP_HEADER: str(timestamp),
    }
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return headers


@dataclass(frozen=True)
class Delivery:
    """How one record's delivery went: delivered, or why not, after how many attempts."""

    delivered: bool
    attempts: int
    failure: str | None = None


class WebhookClient:
    """POSTs to one webhook through kzprobe's resolver path; use as an async context manager."""

    def __init__(self, url: str, dns: DnsProbe, connector: Connector, timeout: float, retries: int) -> None:
        self.url, self.timeout, self.retries = url, timeout, retries
        self._session = TargetSession(dns, connector, {}, recording=False)
        self._client = httpx.AsyncClient(transport=SessionTransport(self._session, max_connections=1),
                                         trust_env=False, follow_redirects=False, timeout=timeout)

    async def __aenter__(self) -> WebhookClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._session.close_kept()

    async def deliver(self, record_id: str, body: bytes, secret: bytes | None, deadline: float) -> Delivery:
        """Up to 1 + retries attempts, a pause between them, all before `deadline` (monotonic)."""
        failure: str | None = "no time left in this scan's delivery budget"
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt:
                pause = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S)) - 1]
                if time.monotonic() + pause + 0.1 >= deadline:
                    break
                await asyncio.sleep(pause)
            left = deadline - time.monotonic()
            if left <= 0.1:
                break
            attempts += 1
            failure = await self._post(record_id, body, secret, min(self.timeout, left))
            if failure is None:
                return Delivery(True, attempts)
        return Delivery(False, attempts, failure)

    async def _post(self, record_id: str, body: bytes, secret: bytes | None, limit: float) -> str | None:
        """One attempt: None when the receiver answered 2xx, else what happened."""
        headers = request_headers(record_id, body, secret, int(time.time()))
        try:
            # The whole exchange, not each read: a receiver dripping its answer a byte at a
            # time would otherwise hold the scan for as long as it likes.
            async with asyncio.timeout(limit):
                async with self._client.stream("POST", self.url, content=body, headers=headers) as response:
                    status = response.status_code
        except TimeoutError:
            return f"no answer within {limit:g} s"
        except Exception as exc:  # any network failure: said in the probes' vocabulary
            return self._without_url(failure_from_exception(exc))
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return f"HTTP {status} (redirects are not followed: configure the final URL)"
        return f"HTTP {status}"

    def _without_url(self, text: str) -> str:
        """A failure string with the URL, or its path, replaced by the redacted form."""
        parts = urlsplit(self.url)
        for secret_part in (self.url, parts.path + (f"?{parts.query}" if parts.query else "")):
            if len(secret_part) > 1:
                text = text.replace(secret_part, redact_url(self.url))
        return text
