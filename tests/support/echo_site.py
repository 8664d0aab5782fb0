"""A network that tells the visitor its address everywhere it can, for tests/lab/test_scrub_nat.py.

    python tests/support/echo_site.py CONFIG.json

Run inside the lab's "network" namespace; prints "ready" once every socket is bound. It is the
far side of an emulated NAT: the visitor's packets come from its private interface address, and
everything here also calls it by the "public" address a NAT would give it. Config keys:
public_v4, public_v6 (what the visitor is called), site (address of the web servers), dns
(addresses of the DNS server: the resolver, the echo server), self_name (a name whose answer is
the visitor's own interface address), interface_v4, certificate and key (PEM files).

- DNS: myip.nat.test answers the public addresses (A, AAAA), as OpenDNS's myip.opendns.com
  does; <reversed public address>.origin.asn.cymru.com answers a Team Cymru origin; the sites'
  names answer through CNAMEs that spell the public address; self_name answers the visitor's
  interface address.
- HTTP and HTTPS: every response carries the addresses in headers, cookies and a header name;
  "/" redirects to a URL with them in its query, which redirects again (percent-encoded); the
  last page has them in its title and in every spelling in its body, sentences ending with a
  period, beside neighbouring addresses that must stay as they are. "/slow" answers after a
  few seconds, so that a test can read a scan's journal while it runs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
import sys
from pathlib import Path
from urllib.parse import quote

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

SLOW_S = 4.0


def reversed_v4(address: str) -> str:
    return ".".join(reversed(address.split(".")))


class EchoDns(asyncio.DatagramProtocol):
    def __init__(self, config: dict) -> None:
        v4, v6 = config["public_v4"], config["public_v6"]
        dashed = v4.replace(".", "-")
        site = config["site"]
        self.records: dict[tuple[str, str], list[tuple[str, str, str]]] = {
            ("myip.nat.test", "A"): [("myip.nat.test", "A", v4)],
            ("myip.nat.test", "AAAA"): [("myip.nat.test", "AAAA", v6)],
            (f"{reversed_v4(v4)}.origin.asn.cymru.com", "TXT"): [
                (f"{reversed_v4(v4)}.origin.asn.cymru.com", "TXT",
                 '"9198 | 95.56.0.0/14 | KZ | ripencc | 2006-04-11"')],
            (config["self_name"], "A"): [(config["self_name"], "A", config["interface_v4"])],
        }
        for name in ("echo.nat.test", "plain.nat.test", "slow.nat.test"):
            chain = [(name, "CNAME", f"{dashed}.visitor.nat.test."),
                     (f"{dashed}.visitor.nat.test", "CNAME", f"{reversed_v4(v4)}.in-addr.nat.test."),
                     (f"{reversed_v4(v4)}.in-addr.nat.test", "A", site)]
            self.records[(name, "A")] = chain
            self.records[(name, "AAAA")] = chain[:2]

    def connection_made(self, transport):  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        question = query.question[0]
        key = (question.name.to_text().rstrip(".").lower(), dns.rdatatype.to_text(question.rdtype))
        answers = self.records.get(key)
        if answers is None and not any(name == key[0] for name, _ in self.records):
            reply.set_rcode(dns.rcode.NXDOMAIN)
        for name, rdtype, value in answers or []:
            reply.answer.append(dns.rrset.from_text(name + ".", 60, "IN", rdtype, value))
        self.transport.sendto(reply.to_wire(), addr)


def spellings_of(v4: str, v6: str, interface: str) -> list[str]:
    value = int(ipaddress.IPv4Address(v4))
    return [
        f"Welcome, visitor from {v4}.", f"Your address is {v4}!", f"Seen from {interface}.",
        f"Reverse name: {reversed_v4(v4)}.in-addr.arpa.", f"Host: {v4.replace('.', '-')}.dyn.telecom.kz,",
        f"user_{v4.replace('.', '_')}", f"hex 0x{value:08x}, bare {value:08X}, integer {value}.",
        f"mapped ::ffff:{v4} and {ipaddress.IPv6Address('::ffff:' + v4).compressed};",
        f"expanded {ipaddress.IPv6Address('::ffff:' + v4).exploded}.",
        f"IPv6 {v6}. Expanded: {ipaddress.IPv6Address(v6).exploded.upper()}.",
        f"<a href='/x?ip={quote(v4, safe='')}&v6={quote(v6, safe='')}'>link</a>",
        f"encoded {v4.replace('.', '%2E')} and {v6.replace(':', '%3A')} and {v4.replace('.', '&#46;')}.",
        f"{ipaddress.IPv6Address(v6).reverse_pointer}.",
        # Neighbours: other addresses that contain ours, which must stay.
        f"Not you: {v4}8, 1{v4}, {interface}0 and {v6}5.",
    ]


def response(config: dict, path: str, peer: str, tls: bool, host: str) -> tuple[int, dict[str, str], bytes]:
    v4, v6 = config["public_v4"], config["public_v6"]
    scheme = "https" if tls else "http"
    headers = {
        "X-Your-IP": v4, "X-Forwarded-For": f"{peer}, {v4}", "X-Seen-" + v4.replace(".", "-"): "yes",
        "Set-Cookie": f"visitor={v4}; Path=/; Domain={v4.replace('.', '-')}.visitor.nat.test",
        "Content-Type": "text/html; charset=utf-8",
    }
    if path == "/":
        headers["Location"] = f"/hop?ip={v4}&src={peer}"
        return 302, headers, b""
    if path.startswith("/hop"):
        headers["Location"] = (f"{scheme}://{host}/landed?ip={quote(v4, safe='')}&v6={quote(v6, safe='')}"
                               f"&src={peer}&ptr={reversed_v4(v4)}.in-addr.arpa")
        return 302, headers, b""
    body = "\n".join(f"<p>{line}</p>" for line in spellings_of(v4, v6, peer))
    page = f"<html><head><title>Your IP: {v4}</title></head><body>{body}</body></html>"
    return 200, headers, page.encode()


async def serve_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, config: dict, tls: bool) -> None:
    peer = writer.get_extra_info("peername")[0]
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            host = fields.get("host", "").split(":")[0]
            if path == "/" and host == "slow.nat.test":
                await asyncio.sleep(SLOW_S)
                path = "/landed"
            status, headers, body = response(config, path, peer, tls, host)
            out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"] + [f"{k}: {v}" for k, v in headers.items()]
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, IndexError):
        pass
    finally:
        writer.close()


async def main(config: dict) -> None:
    loop = asyncio.get_running_loop()
    for address in config["dns"]:
        await loop.create_datagram_endpoint(lambda: EchoDns(config), local_addr=(address, 53))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config["certificate"], config["key"])
    await asyncio.start_server(lambda r, w: serve_http(r, w, config, False), config["site"], 80)
    await asyncio.start_server(lambda r, w: serve_http(r, w, config, True), config["site"], 443, ssl=context)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
