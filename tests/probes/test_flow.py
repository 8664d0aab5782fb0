"""Measurement of issue 22's traps on loopback: a page that keeps flowing past --timeout, a page
that freezes with the connection open, and the HTTPS twin of an http:// target."""

from __future__ import annotations

import asyncio
import ssl
import threading

import dns.message
import dns.rrset
import pytest
import trustme

from kzprobe.probes.dns import ResolverSpec
from kzprobe.probes.https_check import https_twin_url
from kzprobe.scan.run import ScanOptions, build_probe_kit, measure_target
from kzprobe.targets import targets_from_urls

ADDRESS = "127.83.22.7"  # an address of its own: port 443 must be free for the HTTPS twin
PAGE = b"<html><head><title>Flow site</title></head><body>" + b"x" * 9_000 + b"</body></html>"
TIMEOUT_S = 0.6


class _Site:
    """DNS (every name -> ADDRESS) and a site on 80 and 443 whose paths say how it sends the page:
    /flow in chunks 0.25 s apart (1.5 s, longer than the timeout), /freeze 4,000 bytes and then
    nothing with the connection open, /to-https a redirect to https on the same host."""

    def __init__(self, ca: trustme.CA) -> None:
        self.ca = ca
        self.loop = asyncio.new_event_loop()
        self.dns_port = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        class Dns(asyncio.DatagramProtocol):
            def connection_made(self, transport):  # type: ignore[override]
                self.transport = transport

            def datagram_received(self, data, addr):  # type: ignore[override]
                query = dns.message.from_wire(data)
                reply = dns.message.make_response(query)
                if dns.rdatatype.to_text(query.question[0].rdtype) == "A":
                    reply.answer.append(dns.rrset.from_text_list(query.question[0].name, 60, "IN", "A", [ADDRESS]))
                self.transport.sendto(reply.to_wire(), addr)

        transport, _ = await self.loop.create_datagram_endpoint(Dns, local_addr=(ADDRESS, 0))
        self.dns_port = transport.get_extra_info("sockname")[1]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("site.test").configure_cert(context)
        self.servers = [await asyncio.start_server(self._http, ADDRESS, 80),
                        await asyncio.start_server(self._http, ADDRESS, 443, ssl=context)]

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ")[1]
            if path == b"/to-https":
                writer.write(b"HTTP/1.1 301 Moved\r\nLocation: https://site.test/\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(PAGE))
            if path == b"/flow":
                for start in range(0, len(PAGE), len(PAGE) // 6 + 1):
                    writer.write(PAGE[start:start + len(PAGE) // 6 + 1])
                    await writer.drain()
                    await asyncio.sleep(0.25)
            elif path == b"/freeze":
                writer.write(PAGE[:4000])
                await writer.drain()
                await asyncio.sleep(5)
            else:
                writer.write(PAGE)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> _Site:
        self.thread.start()
        assert self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with _Site(ca) as running:
        yield running, str(ca_file)


def _measure(site, url: str) -> dict:
    running, ca_file = site
    kit = build_probe_kit(ScanOptions(ResolverSpec("dns", address=ADDRESS, port=running.dns_port), None,
                                      ca_file=ca_file, timeout=TIMEOUT_S))
    return asyncio.run(measure_target(kit, targets_from_urls([url])[0]))["observations"]


def test_a_page_that_keeps_flowing_past_the_timeout_is_read_whole(site):
    hop = _measure(site, "http://site.test/flow")["http"][0]
    assert hop["failure"] is None and hop["body_length"] == len(PAGE), hop
    assert hop["body_read_ms"] > 2 * TIMEOUT_S * 1000 and "body_stopped" not in hop


def test_a_page_that_freezes_is_recorded_with_its_bytes_and_the_idle_wait(site):
    hop = _measure(site, "http://site.test/freeze")["http"][0]
    assert (hop["failure"], hop.get("body_stopped"), hop["body_length"]) == ("generic_timeout_error", "idle", 4000)


def test_an_http_target_is_fetched_again_over_validated_https(site):
    observations = _measure(site, "http://site.test/")
    check = observations["https_check"]
    assert check["url"] == "https://site.test/"
    assert [t["verified"] for t in check["tls"]] == [True]
    assert [(h["status"], h["body_length"]) for h in check["http"]] == [(200, len(PAGE))]
    assert not observations["tls"], "the twin's handshakes stay in its own record"


@pytest.mark.parametrize("url", ["http://site.test/to-https", "https://site.test/"])
def test_no_twin_when_the_target_already_reached_https_on_its_host(site, url):
    assert "https_check" not in _measure(site, url)


@pytest.mark.parametrize("url, twin", [
    ("http://site.test/a/b?q=1", "https://site.test/a/b?q=1"),
    ("http://site.test:8080/", "https://site.test/"),
    ("https://site.test/", None),
    ("ftp://site.test/", None),
])
def test_the_twin_is_the_same_host_and_path_over_https(url, twin):
    assert https_twin_url(url) == twin
