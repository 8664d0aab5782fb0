"""The lab's web servers: every site, the ISP's blockpage server, and the middlebox in front.

One process per namespace listens on the ports of every address that hosts something (80 and
443 for sites, any port for a service's endpoints), each address bound on its own so that an
address with no listener refuses connections as a dead server does. A connection is first
shown to the middlebox, which looks at what a DPI box sees (the ClientHello's SNI, the
request's Host; for an endpoint, its address and port) and may reset, close, swallow,
intercept, redirect, or slow it; what passes reaches the server that owns the address.

The web configuration (written by plan.py):
    listeners: [{"address", "server": "site" | "blockpage" | "endpoint" | "pki", "hosts": [names there],
                 "ports": [{"port", "tls", and for endpoints "certificate", "middlebox"}]}]
    sites: {host: {"page", "https_redirect", "download_bytes", "tls", "http", "rate", "burst", "delay",
                   "site", "redirect_to", "drip", "freeze", "tls_delay", "paths"}}
    blockpage_host: the blockpage server's name (its certificate and redirect target)
    keywords: [{"keyword", "action", "redirect_to"}]: the censor's rules for any plaintext request
              whose Host or URL contains the keyword, at any address

What every connection to a site needs and never changes - the site's TLS context (about 1 ms of
OpenSSL work each) and its standard page (about 1 ms to generate) - is built before the server
reports ready, not on a site's first connection: the server shares the cores with the probe it
serves, and work done during a scan slows the timings the probe records.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ipaddress
import logging
import socket
import ssl
import time
from pathlib import Path
from typing import Final
from urllib.parse import quote

from kzprobe.lab import pages
from kzprobe.lab import site_spec as m
from kzprobe.lab.servers import flow, middlebox
from kzprobe.lab.servers.clienthello import RECORD_HEADER, looks_like_tls, record_length, server_name
from kzprobe.lab.servers.quic import serve_quic

log = logging.getLogger("kzprobe.lab.web")

# Bounds on what a client may make the server wait for or read.
_CLIENT_HELLO_WAIT_S: Final = 10.0
_MAX_CLIENT_HELLO: Final = 16384 + RECORD_HEADER
_REQUEST_WAIT_S: Final = 10.0
_MAX_REQUEST_HEAD: Final = 16 * 1024
_HANDSHAKE_TIMEOUT_S: Final = 10.0
_PEEK_RETRY_S: Final = 0.01

_REASONS: Final = {200: "OK", 301: "Moved Permanently", 302: "Found", 400: "Bad Request", 403: "Forbidden",
                   404: "Not Found", 451: "Unavailable For Legal Reasons", 503: "Service Unavailable"}
# Where a site that redirects in a loop (SITE_LOOP) sends "/" and back.
LOOP_PATH: Final = "/loop"


class WebServer:
    def __init__(self, config: dict, certs_dir: Path) -> None:
        self.listeners: list[dict] = config["listeners"]
        self.sites: dict[str, dict] = config["sites"]
        self.blockpage_host: str = config["blockpage_host"]
        self.keywords: list[dict] = config.get("keywords", [])
        # An antivirus on the user's machine (the local-inspection run): every site's TLS that
        # completes is re-signed with its root, whatever the censor lets through.
        self.inspection: bool = bool(config.get("inspection"))
        self.certs_dir = certs_dir
        self._contexts: dict[str, ssl.SSLContext] = {}
        # host -> its standard page (~20 KB; large pages stay with pages.py's small cache)
        self._pages: dict[str, bytes] = {}
        self._sockets: list[socket.socket] = []
        self._datagram_transports: list[asyncio.BaseTransport] = []
        self._tasks: set[asyncio.Task] = set()

    # -- listening

    async def start(self) -> None:
        self._prepare()
        for listener in self.listeners:
            family = socket.AF_INET6 if ipaddress.ip_address(listener["address"]).version == 6 else socket.AF_INET
            for port in listener["ports"]:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((listener["address"], port["port"]))
                sock.listen(512)
                sock.setblocking(False)
                self._sockets.append(sock)
                self._spawn(self._accept_loop(sock, listener, port))
            if listener.get("quic"):
                await self._serve_quic(listener)

    async def _serve_quic(self, listener: dict) -> None:
        """HTTP/3's UDP side of a site, behind the censor's QUIC rules: the address's own (every
        datagram dropped) and every site's by name (its Initials dropped, at any address)."""
        host = listener["hosts"][0]
        chain, key = middlebox.certificate_files(self.certs_dir, host, m.TLS_PASS)
        drop_all = any(self.sites.get(h, {}).get("quic") == m.QUIC_DROP for h in listener["hosts"])
        drop_names = frozenset(name for name, site in self.sites.items() if site.get("quic") == m.QUIC_DROP_NAME)
        transport = await serve_quic(listener["address"], str(chain), str(key), drop_all, drop_names)
        self._datagram_transports.append(transport)

    def _prepare(self) -> None:
        """Build the TLS contexts and the fixed pages that connections to this namespace's
        addresses will use (what the middlebox lets through), as the first connection would."""
        for listener in self.listeners:
            names = listener["hosts"] if listener["server"] == "site" else []
            for port in listener["ports"]:
                if not port["tls"]:
                    continue
                for sni in names or [None]:
                    action = self._tls_action(listener, port, sni)
                    if action != m.TLS_PASS and action not in m.TLS_INTERCEPTIONS:
                        continue  # the middlebox ends these connections before any handshake
                    name = self._certificate_name(listener, port, sni)
                    try:
                        pinned = port.get("pinned", False)
                        self._context(*middlebox.certificate_files(self.certs_dir, name, action, pinned))
                    except OSError:
                        pass  # missing or bad files: the connection fails then, as it always has
            for host in names:
                site = self.sites.get(host)
                if site is not None and site["page"] == m.PAGE_STANDARD:
                    self._pages[host] = pages.standard_page(host)

    def _page(self, kind: str, host: str) -> bytes:
        page = self._pages.get(host) if kind == m.PAGE_STANDARD else None
        return page if page is not None else pages.page(kind, host)  # dynamic: fresh on every request

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept_loop(self, sock: socket.socket, listener: dict, port: dict) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _peer = await loop.sock_accept(sock)
            except OSError as exc:  # e.g. out of file descriptors: back off, keep serving
                log.warning("accept on %s:%s failed: %s", listener["address"], port["port"], exc)
                await asyncio.sleep(0.1)
                continue
            conn.setblocking(False)
            self._spawn(self._handle(conn, listener, port))

    async def _handle(self, conn: socket.socket, listener: dict, port: dict) -> None:
        try:
            if port["tls"]:
                await self._handle_tls(conn, listener, port)
            else:
                reader, writer = await self._streams(conn, None)
                await self._serve_http(reader, writer, listener, port, tls=False)
        except Exception as exc:  # one client's trouble must not stop the lab
            log.info("%s:%s connection ended: %s", listener["address"], port["port"], exc.__class__.__name__)
            conn.close()

    async def _streams(self, conn: socket.socket, context: ssl.SSLContext | None):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_MAX_REQUEST_HEAD)
        transport, protocol = await loop.connect_accepted_socket(
            lambda: asyncio.StreamReaderProtocol(reader), sock=conn, ssl=context,
            ssl_handshake_timeout=_HANDSHAKE_TIMEOUT_S if context else None)
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    # -- TLS: the middlebox reads the ClientHello first

    def _middlebox(self, port: dict, name: str | None) -> dict | None:
        """What the middlebox does to this connection: by endpoint (address and port), else by name."""
        return port.get("middlebox") or self.sites.get(name or "")

    def _site_at_address(self, listener: dict) -> dict | None:
        """The site a site listener's address belongs to (its first host), else None."""
        return self.sites.get(listener["hosts"][0]) if listener["server"] == "site" and listener["hosts"] else None

    def _tls_action(self, listener: dict, port: dict, sni: str | None) -> str:
        """By the name the ClientHello carries, at any address; a rule for the address first (middlebox.py):
        a site's, or an endpoint port's own."""
        at_address = self._site_at_address(listener) or port.get("middlebox")
        keyword = next((k for k in self.keywords if k.get("at") == m.KEYWORD_IN_SNI and sni
                        and k["keyword"] in sni.lower()), None)
        if keyword is not None:  # the censor's word in the server name, at any address
            return keyword["tls"]
        action = middlebox.tls_action(middlebox.tls_rules(self.sites, sni, port), at_address)
        if self.inspection and listener["server"] == "site" and action in (m.TLS_PASS, *m.TLS_INTERCEPTIONS):
            return m.TLS_MITM_LOCAL  # what the censor let through, the antivirus here re-signs
        return action

    async def _handle_tls(self, conn: socket.socket, listener: dict, port: dict) -> None:
        hello = await _peek_client_hello(conn)
        sni = server_name(hello) if looks_like_tls(hello) else None
        action = self._tls_action(listener, port, sni)
        log.info("TLS %s sni=%s -> %s", listener["address"], sni, action)
        if action in (m.TLS_RESET, m.TLS_FIN, m.TLS_SWALLOW):
            # Consume what was peeked: closing a socket with unread data sends an RST.
            await asyncio.get_running_loop().sock_recv(conn, len(hello) or 1)
            if action == m.TLS_RESET:
                middlebox.reset(conn)
                conn.close()
            elif action == m.TLS_FIN:
                conn.close()
            else:
                await middlebox.swallow(conn)
            return
        rules = middlebox.tls_rules(self.sites, sni, port)
        if rules and rules.get("tls_delay"):
            await asyncio.sleep(rules["tls_delay"])  # the ClientHello held by the censor: a slow handshake
        at_address = self._site_at_address(listener)
        if at_address and at_address.get("tls_delay_any_name"):
            await asyncio.sleep(at_address["tls_delay_any_name"])  # the server slow for every name
        name = self._certificate_name(listener, port, sni)
        chain, key = middlebox.certificate_files(self.certs_dir, name, action, port.get("pinned", False))
        reader, writer = await self._streams(conn, self._context(chain, key))
        await self._serve_http(reader, writer, listener, port, tls=True)

    def _certificate_name(self, listener: dict, port: dict, sni: str | None) -> str:
        if listener["server"] == "blockpage":
            return self.blockpage_host
        if listener["server"] == "endpoint":
            return port["certificate"]
        return sni if sni is not None and sni in listener["hosts"] else listener["hosts"][0]

    def _context(self, chain: Path, key: Path) -> ssl.SSLContext:
        cache_key = str(chain)
        if cache_key not in self._contexts:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(chain, key)
            context.set_alpn_protocols(["http/1.1"])
            self._contexts[cache_key] = context
        return self._contexts[cache_key]

    # -- HTTP: the middlebox reads the Host, then the owner of the address answers

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          listener: dict, port: dict, tls: bool) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_WAIT_S)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError, ssl.SSLError):
            writer.close()
            return
        request = _parse_request(head)
        if request is None:
            await self._respond(writer, 400, b"bad request\n", "text/plain", None, "GET")
            return
        method, path, host = request
        rules = self._middlebox(port, host)
        keyword = None if tls else next((k for k in self.keywords if _keyword_in_request(k, host, path)), None)
        action = keyword["action"] if keyword else rules["http"] if rules and not tls else m.HTTP_PASS
        log.info("HTTP%s %s %s %s%s -> %s", "S" if tls else "", listener["address"], method, host, path, action)
        if action == m.HTTP_RESET:
            middlebox.reset_transport(writer.transport)
            return
        if action == m.HTTP_BLOCKPAGE:
            return await self._respond(writer, 200, pages.FINGERPRINTED_BLOCKPAGE.encode(), "text/html; charset=utf-8",
                                       None, method)
        if action == m.HTTP_UNKNOWN_BLOCKPAGE:
            return await self._respond(writer, 200, pages.UNKNOWN_BLOCKPAGE.encode(), "text/html; charset=utf-8", None,
                                       method)
        if action == m.HTTP_REDIRECT_BLOCKPAGE:
            location = f"http://{self.blockpage_host}/?host={quote(host)}"
            return await self._respond(writer, 302, b"", "text/html", None, method, location)
        if action == m.HTTP_REDIRECT_AWAY:
            return await self._respond(writer, 302, b"", "text/html", None, method,
                                       (keyword or rules or {})["redirect_to"])
        if rules and rules["delay"]:
            await asyncio.sleep(rules["delay"])
        rate = (rules["rate"], rules.get("burst")) if rules and rules["rate"] else None
        if listener["server"] == "blockpage":
            return await self._respond(writer, 200, pages.FINGERPRINTED_BLOCKPAGE.encode(), "text/html; charset=utf-8",
                                       None, method)
        if listener["server"] == "pki":  # a CA's AIA server: the issuer certificates it publishes
            published = self.certs_dir / path.lstrip("/")
            if path.count("/") == 1 and path.endswith(".der") and published.is_file():
                return await self._respond(writer, 200, published.read_bytes(), "application/pkix-cert", None, method)
            return await self._respond(writer, 404, pages.not_found_page(), "text/html", None, method)
        if listener["server"] == "endpoint":
            if path == pages.TOR_DESCRIPTOR_PATH:
                return await self._respond(writer, 200, pages.TOR_DESCRIPTOR, "text/plain", rate, method)
            return await self._respond(writer, 200, pages.ENDPOINT_REPLY, "text/plain", rate, method)
        site = self.sites.get(host)
        if site is None or host not in listener["hosts"]:
            return await self._respond(writer, 404, pages.not_found_page(), "text/html", None, method)
        if not tls and site["https_redirect"]:
            return await self._respond(writer, 301, b"", "text/html", None, method, f"https://{host}{path}")
        answer = await self._site_answer(writer, site, host, path, tls, method)
        if answer:
            return
        if path in site["paths"]:
            return await self._respond(writer, 200, self._page(site["page"], host), "text/html; charset=utf-8", rate,
                                       method, flow_options={"drip_s": site["drip"], "freeze_after": site["freeze"]})
        if path == pages.DOWNLOAD_PATH and site["download_bytes"]:
            body = pages.download_body(site["download_bytes"])
            return await self._respond(writer, 200, body, "application/octet-stream", rate, method)
        await self._respond(writer, 404, pages.not_found_page(), "text/html", None, method)

    async def _site_answer(self, writer: asyncio.StreamWriter, site: dict, host: str, path: str, tls: bool,
                           method: str) -> bool:
        """What the site itself answers instead of its page here (geo-blocking, a CDN's challenge,
        a redirect loop, a regional redirect); False when it serves the page."""
        answer = site["site"]
        scheme = "https" if tls else "http"
        if answer == m.SITE_LOOP and path in (*site["paths"], LOOP_PATH):
            location = f"{scheme}://{host}{'/' if path == LOOP_PATH else LOOP_PATH}"
            await self._respond(writer, 302, b"", "text/html", None, method, location)
            return True
        if path not in site["paths"]:
            return False
        if answer == m.SITE_451:
            await self._respond(writer, 451, pages.GEO_451_PAGE.encode(), "text/html; charset=utf-8", None, method)
            return True
        if answer == m.SITE_503:
            await self._respond(writer, 503, pages.SERVER_ERROR_503_PAGE.encode(), "text/html", None, method)
            return True
        if answer == m.SITE_REGIONAL:
            await self._respond(writer, 200, pages.regional_page(host), "text/html; charset=utf-8", None, method)
            return True
        if answer == m.SITE_CHALLENGE:
            await self._respond(writer, 403, pages.CHALLENGE_PAGE.encode(), "text/html; charset=UTF-8", None, method,
                                server="cloudflare", extra=["cf-mitigated: challenge", "cf-ray: 8f0e4b6a2c1d9e37-ALA"])
            return True
        if answer == m.SITE_REDIRECT and site["redirect_to"] and f"{host}{path}" != _host_path(site["redirect_to"]):
            await self._respond(writer, 302, b"", "text/html", None, method, site["redirect_to"])
            return True
        return False

    async def _respond(self, writer: asyncio.StreamWriter, status: int, body: bytes, content_type: str,
                       rate: tuple[int, int | None] | None, method: str, location: str | None = None, *,
                       server: str = "nginx", extra: list[str] | None = None, flow_options: dict | None = None) -> None:
        """`rate`: (bytes per second, burst bytes or None for the default burst), or None: full speed;
        `flow_options`: drip_s and freeze_after (lab/servers/flow.py)."""
        headers = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}",
            f"Server: {server}",
            f"Date: {_http_date()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        if location:
            headers.append(f"Location: {location}")
        headers += extra or []
        head = ("\r\n".join(headers) + "\r\n\r\n").encode()
        try:
            await flow.send(writer, head, body if method != "HEAD" else b"", rate=rate[0] if rate else None,
                            burst=rate[1] if rate else None, **(flow_options or {}))
        finally:
            writer.close()


@functools.lru_cache(maxsize=1)
def _http_date_at(second: int) -> str:
    return email.utils.formatdate(second, usegmt=True)


def _http_date() -> str:
    """The current time as an HTTP Date (RFC 9110 IMF-fixdate), formatted once per second."""
    return _http_date_at(int(time.time()))


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _peek_client_hello(conn: socket.socket) -> bytes:
    """The first TLS record, read without consuming it, so that TLS can still be done on it."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + _CLIENT_HELLO_WAIT_S
    while (left := deadline - time.monotonic()) > 0:
        ready = loop.create_future()
        loop.add_reader(conn.fileno(), _wake, ready)
        try:
            await asyncio.wait_for(ready, left)
        except TimeoutError:
            return b""
        finally:
            loop.remove_reader(conn.fileno())
        data = conn.recv(_MAX_CLIENT_HELLO, socket.MSG_PEEK)
        total = record_length(data)
        if not data or total is None or len(data) >= min(total, _MAX_CLIENT_HELLO):
            return data
        await asyncio.sleep(_PEEK_RETRY_S)  # the rest of the record is still on its way
    return b""


def _host_path(url: str) -> str:
    """"host/path" of a URL, as the site sees a request for it."""
    rest = url.split("://", 1)[-1]
    return rest if "/" in rest else rest + "/"


def _parse_request(head: bytes) -> tuple[str, str, str] | None:
    """(method, path, host) of a request head; None when it is not HTTP/1.x."""
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1."):
        return None
    host = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "host":
            host = value.strip().lower()
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
    if host.startswith("["):
        host = host[1:].split("]")[0]
    else:
        host = host.split(":")[0]
    return method.upper(), target.split("?")[0] or "/", host.rstrip(".")


def _keyword_in_request(rule: dict, host: str, path: str) -> bool:
    """A plaintext request the censor's keyword rule hits: the word where the rule looks for it."""
    at = rule.get("at", m.KEYWORD_URL)
    if at == m.KEYWORD_IN_SNI:
        return False
    where = {m.KEYWORD_IN_PATH: path, m.KEYWORD_IN_HOST: host}.get(at, f"{host}{path}")
    return rule["keyword"] in where.lower()
