"""Speed regression guards that count work instead of timing it (benchmarks/scan_throughput.py
times it): a scan's cost per target must not grow with the list, and what is built once per
scan (TLS contexts, resolvers) must not be built again per target."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import importlib.machinery
import json
import ssl
import sys
from pathlib import Path
from types import SimpleNamespace

import dns.asyncresolver
import dns.exception
import dns.resolver
import pytest
import trustme

from kzprobe.probes.dns import DnsProbe, parse_resolver
from kzprobe.report import write as report_module
from kzprobe.scan import run as scan
from kzprobe.targets import load_targets
from support.loopback import DnsTable, LoopbackServers

ADDRESS = "127.0.0.9"


def python_calls(function, *args) -> int:
    """How many Python functions run while `function(*args)` runs (C calls are not counted)."""
    calls = 0

    def profile(frame, event, arg):
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(profile)
    try:
        function(*args)
    finally:
        sys.setprofile(None)
    return calls


# -- the scheduler


def scheduled(count: int, concurrency: int = 8) -> int:
    targets = [SimpleNamespace(id=f"t{i}", baseline=None, url=None, download=None, endpoints=())
               for i in range(count)]
    results: list[dict] = []

    async def measure(kit, target):
        await asyncio.sleep(0)
        return {"target": {"id": target.id}}

    async def main() -> None:
        original = scan.measure_target
        scan.measure_target = measure
        try:
            assert await scan.run_scan(None, targets, concurrency, results.append)
        finally:
            scan.measure_target = original

    calls = python_calls(asyncio.run, main())
    assert len(results) == count
    return calls


def test_scheduling_work_per_target_does_not_grow_with_the_list():
    small, large = scheduled(200), scheduled(2000)
    assert large / 2000 <= 1.15 * small / 200


def test_garbage_collection_runs_less_often_while_measuring(monkeypatch):
    seen = []

    async def measure(kit, target):
        seen.append(gc.get_threshold()[0])
        return {"target": {"id": target.id}}

    monkeypatch.setattr(scan, "measure_target", measure)
    before = gc.get_threshold()
    asyncio.run(scan.run_scan(None, [SimpleNamespace(id="t", baseline=None)], 1, lambda r: None))
    assert seen == [max(before[0], scan.GC_YOUNG_ALLOCATIONS)] and gc.get_threshold() == before


def test_longest_targets_start_first_after_the_baselines():
    # A messenger with many endpoints or a download may take several timeouts: started last, it
    # would keep the scan running long after everything else finished (LPT scheduling).
    def target(tid, baseline=None, download=None, endpoints=()):
        return SimpleNamespace(id=tid, baseline=baseline, download=download, endpoints=endpoints)

    targets = [target("plain-1"), target("messenger", endpoints=(object(),) * 34), target("plain-2"),
               target("with-download", download="https://x.test/big"), target("baseline", baseline="domestic"),
               target("plain-3")]
    order = [t.id for t in scan.scheduling_order(targets, timeout=10.0)]
    assert order == ["baseline", "messenger", "with-download", "plain-1", "plain-2", "plain-3"]


def test_targets_slow_in_the_previous_scan_start_first():
    # An hourly vantage knows which targets waited out a timeout last time: started first, their
    # waits overlap the rest of the scan instead of trailing after it.
    targets = [SimpleNamespace(id=tid, baseline="domestic" if tid == "base" else None)
               for tid in ("fast", "new", "dropped", "base", "reset", "swallowed")]
    previous = {"fast": 40.0, "dropped": 3012.0, "reset": 15.0, "swallowed": 3005.0, "base": 900.0,
                "gone-from-the-list": 9000.0}
    order = [t.id for t in scan.scheduling_order(targets, 3.0, previous)]
    # "new" was not scanned before: it counts as the median previous duration (900 ms).
    assert order == ["base", "dropped", "swallowed", "new", "fast", "reset"]


def test_targets_that_waited_in_the_previous_scan_do_not_hold_a_slot(monkeypatch):
    # With one slot and no parking before 10 s, the fast targets could only start once the
    # slow one finished, unless the previous scan's durations park it from the start.
    monkeypatch.setattr(scan.limits, "ACTIVE_SLOT_S", 10.0)
    running: set[str] = set()
    alongside: dict[str, set[str]] = {}

    async def measure(kit, target):
        alongside[target.id] = set(running)
        running.add(target.id)
        await asyncio.sleep(0.3 if target.id == "dropped" else 0)
        running.discard(target.id)
        return {"target": {"id": target.id}}

    monkeypatch.setattr(scan, "measure_target", measure)
    targets = [SimpleNamespace(id=tid, baseline=None) for tid in ("fast-1", "dropped", "fast-2")]
    results: list[dict] = []
    asyncio.run(scan.run_scan(None, targets, 1, results.append, previous_ms={"dropped": 30010.0, "fast-1": 20.0}))
    assert [r["target"]["id"] for r in results] == ["fast-1", "fast-2", "dropped"]
    assert alongside["fast-1"] == {"dropped"}


@pytest.mark.parametrize("failure, expected, sent_per_query", [
    (dns.resolver.NXDOMAIN, "dns_nxdomain_error", 1),
    # Retries of a failed query (probes/dns_retry.py) take slots like first attempts do.
    (dns.exception.Timeout, "dns_timeout_error", 3),
])
def test_a_resolver_never_has_more_than_its_share_of_queries_at_once(monkeypatch, failure, expected, sent_per_query):
    # A burst beyond what a resolver buffers is dropped, and a dropped query reads as
    # dns.timeout: a scan with a high --concurrency must queue its queries instead.
    probe = DnsProbe(parse_resolver("127.0.0.1:53"), timeout=2.0, queries_in_flight=8)
    outstanding, most, sent = 0, 0, 0

    async def exchange(hostname, rdtype, timeout):
        nonlocal outstanding, most, sent
        outstanding += 1
        sent += 1
        most = max(most, outstanding)
        await asyncio.sleep(0.001)
        outstanding -= 1
        raise failure()

    monkeypatch.setattr(probe, "_exchange", exchange)

    async def main():
        return await asyncio.gather(*(probe.lookup(f"site{i}.test") for i in range(100)))

    lookups = asyncio.run(main())
    assert most == 8 and all(lookup["failure"] == expected for lookup in lookups)
    assert sent == 200 * sent_per_query


def test_processes_measuring_one_scan_share_a_resolver_s_queries_in_flight():
    options = scan.ScanOptions(resolver=parse_resolver("127.0.0.1:53"),
                               control_resolver=parse_resolver("127.0.0.2:53"), timeout=2.0, processes=2)
    kit = scan.build_probe_kit(options)
    assert kit.dns.queries_in_flight == kit.control_dns.queries_in_flight == scan.limits.DNS_QUERIES_IN_FLIGHT // 2
    assert scan.build_probe_kit(dataclasses.replace(options, processes=1)).dns.queries_in_flight == \
        scan.limits.DNS_QUERIES_IN_FLIGHT


# -- the report


def fake_report(results: int) -> dict:
    result = {"target": {"id": "x", "url": "https://x.test/"}, "verdict": "reachable", "evidence": [],
              "observations": {"http": [{"status": 200, "body": "Страница " * 200, "headers": {"a": "b"}}]},
              "duration_ms": 12.5}
    return {"format": "kzprobe-report", "summary": {"reachable": results}, "results": [result] * results}


def test_report_json_is_what_json_dumps_writes():
    document = fake_report(3) | {"complete": True, "connectivity": None, "baselines": {"x": [1.5, None]}}
    assert "".join(report_module.json_pieces(document)) == json.dumps(document, ensure_ascii=False,
                                                                     separators=(",", ":"))


def test_report_is_encoded_by_the_c_encoder(tmp_path, monkeypatch):
    # The pure-Python encoder (what JSONEncoder.iterencode always uses) is twice as slow.
    def refuse(*args, **kwargs):
        raise AssertionError("the pure-Python JSON encoder was used")

    monkeypatch.setattr(json.encoder, "_make_iterencode", refuse)
    report_module.write_json_atomically(tmp_path / "r.json", fake_report(5))
    assert len(json.loads((tmp_path / "r.json").read_text())["results"]) == 5


def test_report_writing_work_per_result_does_not_grow_with_the_report(tmp_path):
    def write(count: int) -> int:
        return python_calls(report_module.write_json_atomically, tmp_path / f"{count}.json", fake_report(count))

    small, large = write(100), write(1000)
    assert large / 1000 <= 1.15 * small / 100


# -- a real scan on loopback: what is built once per scan stays built once


def page(host: str, path: str):
    return 200, {"Content-Type": "text/html; charset=utf-8"}, f"<title>{host}</title>".encode()


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    directory = tmp_path_factory.mktemp("speed")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("news.test").configure_cert(server_context)
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    with LoopbackServers(ADDRESS, DnsTable({"news.test": [ADDRESS]}), page, server_context) as servers:
        yield directory, servers


class Counts:
    """Counts, while a scan runs, what must not be repeated per target."""

    def __init__(self, monkeypatch) -> None:
        self.tls_contexts = self.resolvers = self.path_searches = 0
        original_context = ssl.SSLContext.__new__
        original_resolver = dns.asyncresolver.Resolver.__init__
        original_find_spec = importlib.machinery.PathFinder.find_spec.__func__

        def new_context(cls, *args, **kwargs):
            self.tls_contexts += 1
            return original_context(cls, *args, **kwargs)

        def new_resolver(resolver, *args, **kwargs):
            self.resolvers += 1
            original_resolver(resolver, *args, **kwargs)

        def find_spec(cls, *args, **kwargs):
            self.path_searches += 1
            return original_find_spec(cls, *args, **kwargs)

        monkeypatch.setattr(ssl.SSLContext, "__new__", new_context)
        monkeypatch.setattr(dns.asyncresolver.Resolver, "__init__", new_resolver)
        monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", classmethod(find_spec))


def loopback_scan(directory: Path, servers: LoopbackServers, count: int, monkeypatch) -> Counts:
    targets_file = directory / f"targets-{count}.yaml"
    targets_file.write_text("targets:\n" + "".join(
        f"  - id: news-{i}\n    url: https://news.test:{servers.https_port}/{i}\n" for i in range(count)))
    targets = load_targets([targets_file])
    resolver = parse_resolver(f"{ADDRESS}:{servers.dns_port}")
    options = scan.ScanOptions(resolver=resolver, control_resolver=resolver, ca_file=str(directory / "ca.pem"),
                               timeout=5.0, concurrency=4)
    results: list[dict] = []
    with monkeypatch.context() as patched:
        counts = Counts(patched)

        async def main() -> None:
            kit = scan.build_probe_kit(options)
            try:
                assert await scan.run_scan(kit, targets, options.concurrency, results.append)
            finally:
                await kit.aclose()

        asyncio.run(main())
    assert [r["observations"]["http"][-1]["status"] for r in results] == [200] * count
    return counts


def test_per_scan_objects_are_not_rebuilt_per_target(loopback, monkeypatch):
    directory, servers = loopback
    loopback_scan(directory, servers, 1, monkeypatch)  # first use imports modules lazily, once
    few, many = (loopback_scan(directory, servers, count, monkeypatch) for count in (2, 8))
    # TLS contexts (each loads a trust store) and resolvers are built once per scan, and no
    # import searches sys.path while measuring (httpcore's per-request probe for sniffio did).
    assert (many.tls_contexts, many.resolvers, many.path_searches) == (few.tls_contexts, few.resolvers,
                                                                       few.path_searches)


def test_the_trust_store_is_loaded_at_the_first_handshake_but_a_bad_ca_file_stops_the_scan_at_once(tmp_path):
    options = scan.ScanOptions(resolver=parse_resolver("127.0.0.1:53"), control_resolver=None, timeout=2.0)
    kit = scan.build_probe_kit(options)
    assert kit.connector._contexts is None  # not yet: the first lookups need not wait for it
    assert isinstance(kit.connector.verifying, ssl.SSLContext) and kit.connector._contexts is not None
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ssl.SSLError):
        scan.build_probe_kit(dataclasses.replace(options, ca_file=str(bad)))
