"""A slow control resolver (DoH across a throttled international link) must not hold up the
measurement: the connections start once the measured resolver has answered, and the control
answer is still recorded, in its place."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from kzprobe.probes.web import ProbeKit, measure_web_target
from kzprobe.report.scrub import Scrubber


def resolution(hostname: str, resolver: str) -> dict:
    return {"hostname": hostname, "resolver": resolver, "addresses": ["127.0.0.1"], "failure": None,
            "queries": [], "duration_ms": 1.0}


class Resolver:
    def __init__(self, name: str, delay: float) -> None:
        self.name, self.delay, self.answered_at = name, delay, None

    async def lookup(self, hostname: str) -> dict:
        await asyncio.sleep(self.delay)
        self.answered_at = time.monotonic()
        return resolution(hostname, self.name)


class RefusingConnector:
    """Every connection refused: the measurement ends after TCP."""

    def __init__(self) -> None:
        self.connected_at = None

    async def tcp_connect(self, hostname, address, port):
        self.connected_at = time.monotonic()
        return {"hostname": hostname, "address": address, "port": port, "failure": "connection_refused_error",
                "duration_ms": 0.1}, None


def kit(control_delay: float) -> tuple[ProbeKit, Resolver, RefusingConnector]:
    control, connector = Resolver("control", control_delay), RefusingConnector()
    return ProbeKit(dns=Resolver("measured", 0.0), control_dns=control, connector=connector,
                    scrub=Scrubber(set()), timeout=2.0), control, connector


def target() -> SimpleNamespace:
    return SimpleNamespace(hostname="orda.kz", port=443, scheme="https", url="https://orda.kz/", download=None)


def test_connections_do_not_wait_for_the_control_resolver():
    probe_kit, control, connector = kit(control_delay=0.3)
    observations: dict = {}
    asyncio.run(measure_web_target(probe_kit, target(), observations))
    assert connector.connected_at < control.answered_at - 0.2
    assert observations["control_dns"]["resolver"] == "control"
    assert list(observations)[:3] == ["dns", "control_dns", "tcp"]  # the usual order


def test_a_target_cut_short_keeps_no_half_control_answer():
    probe_kit, _, _ = kit(control_delay=5.0)
    observations: dict = {}

    async def cut_short():
        try:
            async with asyncio.timeout(0.2):
                await measure_web_target(probe_kit, target(), observations)
        except TimeoutError:
            pass

    asyncio.run(cut_short())
    assert "control_dns" not in observations and observations["dns"]["resolver"] == "measured"
