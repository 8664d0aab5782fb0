"""Load a control scan (a report from an uncensored vantage) from a file or an http(s) URL.

A URL is fetched through kzprobe's own resolver path like every other request, with a size
and time cap: the control is someone else's file and is validated before use.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from kzprobe.probes.failures import failure_from_exception
from kzprobe.report.observations import Observations
from kzprobe.probes.session import SessionTransport, TargetSession
from kzprobe.probes.web import ProbeKit
from kzprobe.report.read import ReportError, parse_report, read_report

# A control report for a few hundred targets is a few MB; 200 MB leaves room for thousands.
MAX_CONTROL_BYTES = 200 * 1024 * 1024


class ControlError(Exception):
    """The control scan could not be fetched or is not a usable report."""


def load_control(spec: str, kit: ProbeKit) -> dict:
    if urlsplit(spec).scheme in ("http", "https"):
        data = asyncio.run(_fetch(spec, kit))
        try:
            return parse_report(data, spec)
        except ReportError as exc:
            raise ControlError(str(exc)) from exc
    try:
        return read_report(spec)
    except ReportError as exc:
        raise ControlError(str(exc)) from exc


async def _fetch(url: str, kit: ProbeKit) -> bytes:
    observations: Observations = {}
    session = TargetSession(kit.dns, kit.connector, observations)
    try:
        async with httpx.AsyncClient(transport=SessionTransport(session), timeout=kit.timeout, trust_env=False) as client:
            async with asyncio.timeout(kit.timeout * 6):
                async with client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
                    if response.status_code != 200:
                        raise ControlError(f"{url} answered HTTP {response.status_code}")
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_raw():
                        size += len(chunk)
                        if size > MAX_CONTROL_BYTES:
                            raise ControlError(f"{url} is larger than {MAX_CONTROL_BYTES} bytes")
                        chunks.append(chunk)
                    return b"".join(chunks)
    except ControlError:
        raise
    except Exception as exc:  # any network failure: say what happened, in the vocabulary
        raise ControlError(f"cannot fetch {url}: {failure_from_exception(exc)}") from exc
    finally:
        await session.close_kept()
