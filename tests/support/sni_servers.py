"""A loopback TLS server that acts like a censor's SNI filter, or like a server refusing TLS.

It peeks at each ClientHello (without consuming it): a ClientHello naming one of `reset_names`
is answered with an RST, as Kazakhstan's DPI does by server name; `reset_every_name` resets every
ClientHello, whatever it names (a server that refuses TLS, or an address cut after the TCP
handshake); anything else completes TLS with the server's certificate and is then held until the
client goes away. Threads, not asyncio, so that a test's own event loop is free for the probe.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections.abc import Iterable

_LINGER_RESET = struct.pack("ii", 1, 0)


class SniServer:
    """Listens on (address, an ephemeral port) until closed; counts ClientHellos and resets."""

    def __init__(self, address: str, context: ssl.SSLContext, reset_names: Iterable[str] = (),
                 reset_every_name: bool = False) -> None:
        self._context = context
        self._reset_names = [name.encode("ascii") for name in reset_names]
        self._reset_every_name = reset_every_name
        self._listener = socket.create_server((address, 0))
        self.port = self._listener.getsockname()[1]
        self.hellos = 0
        self.resets = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            hello = conn.recv(16384, socket.MSG_PEEK)
            with self._lock:
                self.hellos += 1
            # The server name travels in clear in the ClientHello: a byte match is what a DPI box does.
            if self._reset_every_name or any(name in hello for name in self._reset_names):
                with self._lock:
                    self.resets += 1
                conn.recv(len(hello))  # consume what was peeked, then close with an RST
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                return
            tls = self._context.wrap_socket(conn, server_side=True)
            conn = tls
            while tls.recv(4096):
                pass
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        # Wake the accepting thread first: a socket closed under a blocked accept() leaves it
        # blocked on a descriptor number the next server may be given.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()

    def __enter__(self) -> SniServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
