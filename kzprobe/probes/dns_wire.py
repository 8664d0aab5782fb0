"""DNS replies of the common shape read without dnspython.

A scan reads four replies per target, and dnspython's general parser (names, rdata classes,
sections) was most of the probe's DNS time: about a fifth of its CPU on a 1,000-target list,
on the path every connection waits for. `read_reply` reads the shape a resolver sends for our
plain A/AAAA query — one question, address records of class IN in the answer section, nothing
else — and returns None for anything else (a CNAME, an authority or additional record, EDNS,
an unknown type, anything malformed), which dnspython then reads exactly as before. What it
returns is what the dnspython path makes of the same bytes (tests/probes/test_dns_wire.py compares
them on mutated replies).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

_A, _AAAA, _IN = 1, 28, 1
_ADDRESS_LENGTHS = {_A: 4, _AAAA: 16}
_HEADER = struct.Struct("!HHHHHH")
_FIXED = struct.Struct("!HHIH")  # type, class, TTL, rdata length
_MAX_POINTERS = 16  # compression pointers followed in one name (dnspython's limit too)


@dataclass(frozen=True)
class Reply:
    qid: int
    flags: int
    rcode: int
    question: tuple[bytes, int, int]  # (name in lower-case wire form, type, class)
    addresses: dict[int, list[str]]  # record type -> addresses, deduplicated, in dnspython's order


def read_reply(data: bytes) -> Reply | None:
    """The reply, if it has the common shape (module docstring); else None."""
    try:
        return _read(data)
    except (IndexError, ValueError, struct.error):
        return None


def _read(data: bytes) -> Reply | None:
    qid, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data, 0)
    if qdcount != 1 or nscount or arcount or (flags >> 11) & 0xF:  # opcode QUERY only
        return None
    name, offset = _name(data, _HEADER.size)
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    offset += 4
    # dnspython's grouping: one rrset per (owner, class, type), in order of first appearance,
    # each holding its distinct records in order.
    groups: dict[tuple[bytes, int], list[str]] = {}
    for _ in range(ancount):
        owner, offset = _name(data, offset)
        rtype, rclass, _ttl, length = _FIXED.unpack_from(data, offset)
        offset += _FIXED.size
        if rclass != _IN or _ADDRESS_LENGTHS.get(rtype) != length or offset + length > len(data):
            return None
        address = str(ipaddress.ip_address(data[offset:offset + length]))
        offset += length
        records = groups.setdefault((owner, rtype), [])
        if address not in records:
            records.append(address)
    if offset != len(data):
        return None  # trailing bytes: dnspython refuses the message
    addresses: dict[int, list[str]] = {}
    for (_, rtype), records in groups.items():
        addresses.setdefault(rtype, []).extend(records)
    return Reply(qid, flags, flags & 0xF, (name, qtype, qclass), addresses)


def _name(data: bytes, offset: int) -> tuple[bytes, int]:
    """(the name in lower-case wire form, the offset after it where it was written), under
    dnspython's rules: every compression pointer points before the previous one, at most
    _MAX_POINTERS of them, and what a pointer leads to ends before where it was followed from."""
    labels: list[bytes] = []
    biggest = start = offset
    limit = len(data)
    after: int | None = None
    hops = 0

    def byte_at(position: int) -> int:
        if position >= limit:
            raise ValueError("past the end")
        return data[position]

    count = byte_at(offset)
    offset += 1
    while count != 0:
        if count < 64:
            if offset + count > limit:
                raise ValueError("short label")
            labels.append(data[offset:offset + count].lower())
            offset += count
        elif count >= 192:
            pointer = (count & 0x3F) << 8 | byte_at(offset)
            offset += 1
            if after is None:
                after = offset
            if pointer >= biggest:
                raise ValueError("pointer not backwards")
            biggest = pointer
            hops += 1
            if hops > _MAX_POINTERS:
                raise ValueError("pointer chain too long")
            limit = start
            offset = start = pointer
        else:
            raise ValueError("unknown label type")
        count = byte_at(offset)
        offset += 1
    wire = b"".join(bytes([len(label)]) + label for label in labels) + b"\0"
    if len(wire) > 255:
        raise ValueError("name too long")
    return wire, after if after is not None else offset
