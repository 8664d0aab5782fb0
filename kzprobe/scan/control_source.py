"""Files a scan takes from elsewhere: a control scan (a report from an uncensored vantage), from a
file or an http(s) URL, and target lists by URL.

A URL is fetched through kzprobe's own resolver path like every other request, with a size
and time cap: the control is someone else's file and is validated before use.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin, urlsplit

import httpx

from kzprobe.errors import BadInputError
from kzprobe.probes.dns import SYSTEM_RESOLVER, ResolverConfigError, parse_resolver
from kzprobe.probes.failures import failure_from_exception
from kzprobe.probes.kit import ProbeKit
from kzprobe.probes.session import SessionTransport, TargetSession
from kzprobe.report.observations import Observations
from kzprobe.report.read import ReportError, parse_report, read_report
from kzprobe.scan.limits import DEFAULT_TIMEOUT_S

# A control report for a few hundred targets is a few MB; 200 MB leaves room for thousands.
MAX_CONTROL_BYTES = 200 * 1024 * 1024


class RemoteFileError(BadInputError):
    """A file named by URL could not be fetched (the message says what failed)."""


class ControlError(BadInputError):
    """The control scan could not be fetched or is not a usable report."""


def load_control(spec: str, kit: ProbeKit | None) -> dict:
    """The control scan from a file, or from a URL through `kit` (needed only for a URL)."""
    if urlsplit(spec).scheme in ("http", "https"):
        if kit is None:
            raise ControlError(f"{spec}: a control by URL needs the scan's resolver path")
        try:
            data = fetch_file(spec, kit, MAX_CONTROL_BYTES)
        except RemoteFileError as exc:
            raise ControlError(str(exc)) from exc
        try:
            return parse_report(data, spec)
        except ReportError as exc:
            raise ControlError(str(exc)) from exc
    try:
        return read_report(spec)
    except ReportError as exc:
        raise ControlError(str(exc)) from exc


def load_control_alone(spec: str, *, resolver: str | None = None, ca_file: str | None = None,
                       timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """A control scan outside a scan (`kzprobe analyse --control`): a file, or a URL fetched
    through kzprobe's resolver path (`resolver`, default the system's) and trust store."""
    if urlsplit(spec).scheme not in ("http", "https"):
        return load_control(spec, None)
    from kzprobe.scan.run import ScanOptions, build_probe_kit

    try:
        options = ScanOptions(resolver=parse_resolver(resolver) if resolver else SYSTEM_RESOLVER,
                              control_resolver=None, ca_file=ca_file, timeout=timeout)
        kit = build_probe_kit(options)
    except (ResolverConfigError, OSError, ValueError) as exc:
        raise ControlError(str(exc)) from exc
    return load_control(spec, kit)


def fetch_file(url: str, kit: ProbeKit, max_bytes: int, *, max_redirects: int = 0,
               deadline_s: float | None = None) -> bytes:
    """Someone else's file by URL (a control scan, a target list, a vantage's reports): through
    kzprobe's own resolver path, within `max_bytes` and `deadline_s` in all (default six
    timeouts), following at most `max_redirects` redirects to https URLs; raises RemoteFileError
    saying what failed."""
    return asyncio.run(_fetch(url, kit, max_bytes, max_redirects, deadline_s or kit.timeout * 6))


async def _fetch(url: str, kit: ProbeKit, max_bytes: int, max_redirects: int, deadline_s: float) -> bytes:
    observations: Observations = {}
    session = TargetSession(kit.dns, kit.connector, observations)
    try:
        async with httpx.AsyncClient(transport=SessionTransport(session), timeout=kit.timeout,
                                     trust_env=False) as client:
            async with asyncio.timeout(deadline_s):
                for _ in range(max_redirects + 1):
                    async with client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
                        location = response.headers.get("location") if response.is_redirect else None
                        if location is not None and max_redirects:
                            url = _redirect_target(url, location)
                            continue
                        if response.status_code != 200:
                            raise RemoteFileError(f"{url} answered HTTP {response.status_code}")
                        chunks: list[bytes] = []
                        size = 0
                        async for chunk in response.aiter_raw():
                            size += len(chunk)
                            if size > max_bytes:
                                raise RemoteFileError(f"{url} is larger than {max_bytes} bytes")
                            chunks.append(chunk)
                        return b"".join(chunks)
                raise RemoteFileError(f"{url}: more than {max_redirects} redirects")
    except RemoteFileError:
        raise
    except TimeoutError:
        raise RemoteFileError(f"cannot fetch {url}: not done within {deadline_s:g} s") from None
    except Exception as exc:  # any network failure: say what happened, in the vocabulary
        raise RemoteFileError(f"cannot fetch {url}: {failure_from_exception(exc)}") from exc
    finally:
        await session.close_kept()


def _redirect_target(url: str, location: str) -> str:
    """Where a redirect points, refused unless https (a redirect must not downgrade the fetch)."""
    target = urljoin(url, location)
    if urlsplit(target).scheme != "https":
        raise RemoteFileError(f"{url} redirects to {target[:200]}, not an https URL")
    return target
