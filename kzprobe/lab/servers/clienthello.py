"""Read the server name (SNI) out of a TLS ClientHello, as a censor's DPI box does.

Only the first record is parsed; a ClientHello split across records (which evades real DPI
too) yields no name. Every length is checked, so hostile bytes give None, never an exception.
"""

from __future__ import annotations

from typing import Final

RECORD_HEADER: Final = 5
_HANDSHAKE: Final = 22
_CLIENT_HELLO: Final = 1
_SERVER_NAME_EXTENSION: Final = 0
_HOST_NAME: Final = 0


def record_length(data: bytes) -> int | None:
    """Bytes of the whole first TLS record (header included), None if `data` is not TLS."""
    if len(data) < RECORD_HEADER:
        return None
    if data[0] != _HANDSHAKE or data[1] != 3:
        return None
    return RECORD_HEADER + int.from_bytes(data[3:5], "big")


def looks_like_tls(data: bytes) -> bool:
    return len(data) >= 2 and data[0] == _HANDSHAKE and data[1] == 3


def server_name(record: bytes) -> str | None:
    """The host_name in the server_name extension of a ClientHello record, lower case."""
    total = record_length(record)
    if total is None or len(record) < total:
        return None
    body = record[RECORD_HEADER:total]
    if len(body) < 4 or body[0] != _CLIENT_HELLO:
        return None
    hello = body[4 : 4 + int.from_bytes(body[1:4], "big")]
    pos = 2 + 32  # client_version, random
    for length_bytes in (1, 2, 1):  # session_id, cipher_suites, compression_methods
        if pos + length_bytes > len(hello):
            return None
        pos += length_bytes + int.from_bytes(hello[pos : pos + length_bytes], "big")
    if pos + 2 > len(hello):
        return None
    end = min(len(hello), pos + 2 + int.from_bytes(hello[pos : pos + 2], "big"))
    pos += 2
    while pos + 4 <= end:
        ext_type = int.from_bytes(hello[pos : pos + 2], "big")
        ext_len = int.from_bytes(hello[pos + 2 : pos + 4], "big")
        ext = hello[pos + 4 : pos + 4 + ext_len]
        pos += 4 + ext_len
        if ext_type != _SERVER_NAME_EXTENSION or len(ext) < 2:
            continue
        names = ext[2 : 2 + int.from_bytes(ext[0:2], "big")]
        i = 0
        while i + 3 <= len(names):
            name_type = names[i]
            name_len = int.from_bytes(names[i + 1 : i + 3], "big")
            name = names[i + 3 : i + 3 + name_len]
            i += 3 + name_len
            if name_type == _HOST_NAME and len(name) == name_len:
                try:
                    return name.decode("ascii").lower().rstrip(".")
                except UnicodeDecodeError:
                    return None
        return None
    return None
