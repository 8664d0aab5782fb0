"""A captive portal's web server: what a hotel's or café's network shows before you log in.

It listens on the portal's address (where the portal resolver sends every name): plain HTTP on
80 answers every request with a 302 to its login page (http://<portal host>/login), and serves
that page to requests for the portal host itself; TLS on 443 completes with the portal host's own
certificate, whatever name the client asked for - so every https site meets a certificate for
the wrong name, as behind a real portal (RFC 8952, section 2; a portal cannot hold the sites'
keys). Nothing here is interference: kzprobe must see the portal, and not call it a censor.

A portal that leaves DNS alone (config "address" null) takes every connection to ports 80 and
443, at any address, and answers every plain-HTTP request with its login page itself - a 200,
no redirect - echoing the URL it stopped in a form field, as many portals do.
"""

from __future__ import annotations

import asyncio
import html
import logging
import ssl
from pathlib import Path
from typing import Final
from urllib.parse import quote

log = logging.getLogger("kzprobe.lab.portal")

_REQUEST_WAIT_S: Final = 10.0
_MAX_REQUEST_HEAD: Final = 16 * 1024
LOGIN_PATH: Final = "/login"
LOGIN_PAGE: Final = (
    b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Wi-Fi: log in</title></head><body>"
    b"<h1>Welcome to the guest Wi-Fi</h1><p>Accept the terms of use to browse the Internet.</p>"
    b"<form method=\"post\" action=\"/login\"><label><input type=\"checkbox\" name=\"accept\"> I accept</label>"
    b"<button>Connect</button></form></body></html>"
)
# Where the URL a portal answering in place stopped goes: a hidden field of its form.
_FORM_END: Final = b"<button>"


def login_page_for(url: str) -> bytes:
    """The login page as a portal answering in place serves it: with the URL it stopped."""
    field = f'<input type="hidden" name="url" value="{html.escape(url)}">'.encode()
    return LOGIN_PAGE.replace(_FORM_END, field + _FORM_END, 1)


class PortalServer:
    """The portal's HTTP and HTTPS listeners on one address, or on every address when it
    leaves DNS alone (config: {"address": str | None, "host"})."""

    def __init__(self, config: dict, certs_dir: Path) -> None:
        self.address: str | None = config["address"]
        self.host: str = config["host"]
        self.certs_dir = certs_dir
        self._servers: list[asyncio.Server] = []

    async def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certs_dir / f"{self.host}.pem", self.certs_dir / "leaf.key")
        self._servers = [
            await asyncio.start_server(self._serve, self.address, 80, limit=_MAX_REQUEST_HEAD),
            await asyncio.start_server(self._serve, self.address, 443, ssl=context, limit=_MAX_REQUEST_HEAD),
        ]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_WAIT_S)
            method, path, host = _request(head)
            log.info("portal %s %s%s", method, host, path)
            if self.address is None:  # answering in place: every request gets the login page
                status, body, location = 200, login_page_for(f"http://{host}{path}"), None
            elif host == self.host and path.startswith(LOGIN_PATH):
                status, body, location = 200, LOGIN_PAGE, None
            else:
                status, body = 302, b""
                location = f"http://{self.host}{LOGIN_PATH}?url={quote(f'http://{host}{path}', safe='')}"
            lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Found'}", "Server: portal",
                     "Content-Type: text/html; charset=utf-8", f"Content-Length: {len(body)}", "Connection: close",
                     "Cache-Control: no-store"]
            if location:
                lines.append(f"Location: {location}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body if method != "HEAD" else b""))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError,
                ssl.SSLError, ValueError):
            pass  # a client that went away or sent no request: nothing to answer
        finally:
            writer.close()

    def close(self) -> None:
        for server in self._servers:
            server.close()


def _request(head: bytes) -> tuple[str, str, str]:
    """(method, path, host) of a request head; ValueError when it is not one."""
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ")
    host = next((line.split(":", 1)[1].strip().lower() for line in lines[1:]
                 if line.lower().startswith("host:")), "")
    return method.upper(), target if target.startswith("/") else "/", host.split(":")[0].rstrip(".")
