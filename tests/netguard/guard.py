"""Refuse, and record, any socket traffic from this process to an address outside the lab.

Installed in the pytest process by conftest.py and in every kzprobe subprocess the tests start
(through sitecustomize.py on PYTHONPATH). Allowed: loopback, Unix sockets, and the CIDRs in
KZPROBE_GUARD_ALLOW (the lab's addresses). A refused attempt raises PermissionError and is
appended to the file KZPROBE_GUARD_LOG so that the test that caused it fails.
"""

from __future__ import annotations

import ipaddress
import os
import socket

_ALWAYS = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    extra = os.environ.get("KZPROBE_GUARD_ALLOW", "")
    return _ALWAYS + [ipaddress.ip_network(c.strip()) for c in extra.split(",") if c.strip()]


def address_allowed(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False  # a name here means something resolved behind our back: refuse
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in _allowed_networks())


def _check(sock: socket.socket, address: object) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0] if isinstance(address, tuple) else str(address)
    if not address_allowed(str(host)):
        log = os.environ.get("KZPROBE_GUARD_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"pid {os.getpid()} tried {address!r}\n")
        raise PermissionError(f"kzprobe test guard: traffic to {address!r} is outside the lab")


def install() -> None:
    if getattr(socket.socket, "_kzprobe_guarded", False):
        return
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto

    def connect(self: socket.socket, address: object) -> None:
        _check(self, address)
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        _check(self, address)
        return original_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: object) -> int:
        _check(self, args[-1])
        return original_sendto(self, data, *args)  # type: ignore[arg-type]

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign]
    socket.socket._kzprobe_guarded = True  # type: ignore[attr-defined]
