"""The HTTPS twin of an http:// target: the same URL fetched over validated TLS.

Without a control scan, a plain-HTTP page could be the site's or a censor's; the same host's
page over TLS validated for it can only be the site's own. So for http:// targets (and only
them: HTTPS targets cost nothing more), once the target's own measurement is done, the same
host and path are fetched over HTTPS, redirects followed, on connections of their own, and
recorded as `observations["https_check"]` for the analysis to compare (analysis/https_twin.py).
Skipped when the plain chain already reached the same host over HTTPS (its http-to-https
redirect did the work), when the name did not resolve, or when no HTTP exchange happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import httpx

from kzprobe.probes.http import fetch_chain
from kzprobe.probes.session import SessionTransport, TargetSession
from kzprobe.probes.turns import cpu_turn
from kzprobe.report.observations import HttpsCheckObservation, Observations

if TYPE_CHECKING:
    from kzprobe.probes.kit import ProbeKit
    from kzprobe.targets import Target


def https_twin_url(url: str) -> str | None:
    """https:// with the same host and path (default port), None for anything but an http:// URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() != "http" or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return urlunsplit(("https", host, parts.path or "/", parts.query, ""))


def _bare(host: str) -> str:
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _needed(target: Target, observations: Observations) -> bool:
    """Only after an HTTP exchange on a resolved name, and unless the chain itself already went
    to the same host (or its www. twin) over HTTPS."""
    dns = observations.get("dns")
    if not dns or not dns.get("addresses") or not observations.get("http"):
        return False
    own = _bare(target.hostname)
    for hop in observations["http"]:
        try:
            parts = urlsplit(hop["url"])
        except ValueError:
            continue
        if parts.scheme == "https" and _bare(parts.hostname or "") == own:
            return False
    return True


async def check_https_twin(kit: ProbeKit, target: Target, observations: Observations) -> None:
    """For an http:// target, fetch its HTTPS twin and record it in observations["https_check"]."""
    url = https_twin_url(target.url or "")
    if url is None or not _needed(target, observations):
        return
    recorded: Observations = {}
    session = TargetSession(kit.dns, kit.connector, recorded)
    session.remember_resolution(observations["dns"])  # the same name: no second lookup
    check = HttpsCheckObservation(url=url)
    observations["https_check"] = check
    try:
        async with cpu_turn():
            # trust_env=False: a proxy from the environment would take requests off our resolver path.
            async with httpx.AsyncClient(transport=SessionTransport(session), timeout=httpx.Timeout(kit.timeout),
                                         trust_env=False, follow_redirects=False) as client:
                await fetch_chain(client, url, recorded, kit.timeout)
    finally:
        await session.close_kept()
        for key in ("tcp", "tls", "http", "redirect_dns"):
            if key in recorded:
                check[key] = recorded[key]
