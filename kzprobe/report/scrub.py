"""Keep the volunteer's own addresses out of reports (DESIGN.md, principle 6).

A blockpage or a proxy may echo the client's address ("your IP: ..."); bodies and headers are
recorded, so every public address this machine is known to have is replaced before storing.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from collections.abc import Iterable
from pathlib import Path

SCRUBBED = "[scrubbed]"


def local_public_addresses() -> set[str]:
    """Global unicast addresses on this machine's network interfaces (a VPS has its public IP
    there). Loopback is left out: addresses there are local services, not how others see us."""
    found: set[str] = set()
    for _, name in _interfaces():
        if name != "lo":
            address = _ipv4_of(name)
            if address:
                found.add(address)
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 6 and fields[5] != "lo":
                found.add(str(ipaddress.ip_address(int(fields[0], 16))))
    except (OSError, ValueError):
        pass
    return {a for a in found if _is_public(a)}


def _interfaces() -> list[tuple[int, str]]:
    try:
        return socket.if_nameindex()
    except OSError:
        return []


def _ipv4_of(interface: str) -> str | None:
    """The interface's primary IPv4 address (SIOCGIFADDR), or None."""
    try:
        import fcntl

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack("256s", interface.encode()[:15])
            reply = fcntl.ioctl(sock.fileno(), 0x8915, request)  # SIOCGIFADDR
        return socket.inet_ntoa(reply[20:24])
    except (OSError, ImportError):
        return None


def _is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


class Scrubber:
    """Replaces the given addresses in text; a no-op when there are none."""

    def __init__(self, addresses: Iterable[str]) -> None:
        self.addresses = sorted({a for a in addresses if a}, key=len, reverse=True)
        self._pattern = (
            re.compile(r"(?<![0-9A-Fa-f.:])(" + "|".join(re.escape(a) for a in self.addresses) + r")(?![0-9A-Fa-f.:])")
            if self.addresses else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(SCRUBBED, text)
