"""A webhook receiver on loopback for the alert tests: HTTPS (or plain HTTP), records every
request it reads, and answers as its `mode` says.

Modes: "ok" (200), "error" (500), "redirect" (302 to /elsewhere), "drip" (the status line one
byte every DRIP_INTERVAL_S: a receiver too slow to wait for), "down" (not listening: the
connection is refused).

Run as a script inside a lab namespace, it logs each request as a JSON line:

    python tests/support/webhook.py ADDRESS PORT CERT_PEM KEY_PEM LOG_JSONL
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

DRIP_INTERVAL_S = 0.25
DRIP_BYTES = 40  # 10 s of dripping: longer than any timeout the tests give


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    address: str
    ssl_context: ssl.SSLContext | None
    mode: str = "ok"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    log: Path | None = None

    def __post_init__(self) -> None:
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    # -- listening

    def start(self) -> WebhookReceiver:
        listener = socket.socket(socket.AF_INET6 if ":" in self.address else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.address, self.port))
        listener.listen(16)
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def set_mode(self, mode: str) -> None:
        """Change how the next requests are answered; "down" stops listening, any other mode
        listens again on the same port."""
        self.mode = mode
        if mode == "down":
            self.stop()
        elif self._listener is None:
            self.start()

    def url(self, host: str, path: str = "/hook") -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    # -- one connection

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self.ssl_context is not None:
                conn = self.ssl_context.wrap_socket(conn, server_side=True)
            request = self._read_request(conn)
            if request is None:
                return
            with self._lock:
                self.received.append(request)
                if self.log is not None:
                    with open(self.log, "a", encoding="utf-8") as f:
                        f.write(json.dumps({"path": request.path, "headers": request.headers,
                                            "body": request.body.decode("utf-8")}) + "\n")
            self._answer(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            conn.close()

    @staticmethod
    def _read_request(conn: socket.socket) -> Received | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        return Received(lines[0].split(" ")[1], headers, body[:length])

    def _answer(self, conn: socket.socket) -> None:
        if self.mode == "drip":
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[:DRIP_BYTES]:
                conn.sendall(bytes([byte]))
                time.sleep(DRIP_INTERVAL_S)
            return
        status, extra = {"ok": ("200 OK", ""), "error": ("500 Internal Server Error", ""),
                         "redirect": ("302 Found", "Location: /elsewhere\r\n")}[self.mode]
        conn.sendall(f"HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n".encode())


def main() -> None:
    address, port, cert, key, log = sys.argv[1:6]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    WebhookReceiver(address, context, port=int(port), log=Path(log)).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
