"""The addresses this machine's network interfaces have, for the scrubber (kzprobe/report/scrub.py).

Every address but loopback's: a VPS has its public address on an interface; behind a NAT the
interface address is private, but a middlebox of the same network may still echo it; an IPv6
address on an interface is usually the public one, and a link-local one carries a hardware
address or a stable host identifier. Read with getifaddrs(3) (every address of every interface,
secondary ones included); where that is unavailable, the primary IPv4 address of each interface
and /proc/net/if_inet6.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ipaddress
import socket
import struct
import sys
from pathlib import Path

_IFF_LOOPBACK = 0x8  # net/if.h


class _IfAddrs(ctypes.Structure):
    pass


_IfAddrs._fields_ = [
    ("ifa_next", ctypes.POINTER(_IfAddrs)),
    ("ifa_name", ctypes.c_char_p),
    ("ifa_flags", ctypes.c_uint),
    ("ifa_addr", ctypes.c_void_p),
    ("ifa_netmask", ctypes.c_void_p),
    ("ifa_ifu", ctypes.c_void_p),
    ("ifa_data", ctypes.c_void_p),
]


def interface_addresses() -> set[str]:
    """Every non-loopback address of every interface, as `ipaddress` writes it (no zone)."""
    found = _from_getifaddrs()
    if found is None:
        found = _from_ioctl_and_proc()
    return {a for a in found if not ipaddress.ip_address(a).is_loopback}


def _family_of(sockaddr: int) -> int:
    # Linux: sa_family is the first two bytes; the BSDs and macOS: sa_len, then a one-byte family.
    if sys.platform.startswith("linux"):
        return ctypes.c_ushort.from_address(sockaddr).value
    return ctypes.c_ubyte.from_address(sockaddr + 1).value


def _from_getifaddrs() -> set[str] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        getifaddrs, freeifaddrs = libc.getifaddrs, libc.freeifaddrs
    except (OSError, AttributeError):
        return None
    head = ctypes.POINTER(_IfAddrs)()
    if getifaddrs(ctypes.byref(head)) != 0:
        return None
    found: set[str] = set()
    try:
        entry = head
        while entry:
            item = entry.contents
            if item.ifa_addr and not item.ifa_flags & _IFF_LOOPBACK:
                family = _family_of(item.ifa_addr)
                if family == socket.AF_INET:  # sockaddr_in: family, port, then 4 bytes
                    found.add(socket.inet_ntop(socket.AF_INET, ctypes.string_at(item.ifa_addr + 4, 4)))
                elif family == socket.AF_INET6:  # sockaddr_in6: family, port, flow info, then 16
                    found.add(socket.inet_ntop(socket.AF_INET6, ctypes.string_at(item.ifa_addr + 8, 16)))
            entry = item.ifa_next
    finally:
        freeifaddrs(head)
    return {str(ipaddress.ip_address(a)) for a in found}


def _from_ioctl_and_proc() -> set[str]:
    """Without getifaddrs: each interface's primary IPv4 address, and Linux's IPv6 list. The
    lab puts public-looking addresses on loopback ("lo"): those are servers, not this machine."""
    found: set[str] = set()
    try:
        interfaces = [name for _, name in socket.if_nameindex()]
    except OSError:
        interfaces = []
    for name in interfaces:
        address = _primary_ipv4(name) if name != "lo" else None
        if address:
            found.add(address)
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 6 and fields[5] != "lo":
                found.add(str(ipaddress.ip_address(int(fields[0], 16))))
    except (OSError, ValueError):
        pass
    return found


def _primary_ipv4(interface: str) -> str | None:
    """The interface's primary IPv4 address (SIOCGIFADDR), or None."""
    try:
        import fcntl

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack("256s", interface.encode()[:15])
            reply = fcntl.ioctl(sock.fileno(), 0x8915, request)  # SIOCGIFADDR
        return socket.inet_ntoa(reply[20:24])
    except (OSError, ImportError):
        return None
