"""The lab's QUIC (HTTP/3) side of a site, and the censor's view of a QUIC Initial.

A QUIC Initial packet is encrypted, but with keys anyone can derive: they come from the
client's destination connection ID, sent in clear in the same packet (RFC 9001 section 5.2).
A middlebox that derives them reads the ClientHello and its server name as easily as over TCP,
which is how censors filter HTTP/3 by name. `initial_server_name` does exactly that with
aioquic's own packet and key code; `FilteringQuicServer` is an aioquic server that drops every
datagram of a connection the censor's rule names (the site's whole UDP/443, or Initials with
its name), as a censor's box in front of it would.
"""

from __future__ import annotations

import asyncio
import logging

from aioquic.asyncio.server import QuicServer
from aioquic.buffer import Buffer, BufferReadError
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.crypto import CryptoError, CryptoPair
from aioquic.quic.packet import QuicPacketType, pull_quic_header

from kzprobe.lab.servers.clienthello import server_name

log = logging.getLogger("kzprobe.lab.quic")

_FRAME_PADDING, _FRAME_PING, _FRAME_ACK, _FRAME_CRYPTO = 0x00, 0x01, 0x02, 0x06


def initial_server_name(datagram: bytes) -> str | None:
    """The server name in a client's QUIC Initial, read as a censor would; None when the datagram
    is no decryptable Initial or its first CRYPTO frame carries no server name."""
    try:
        buf = Buffer(data=datagram)
        header = pull_quic_header(buf, host_cid_length=8)
        if header.packet_type != QuicPacketType.INITIAL or header.version is None:
            return None
        crypto = CryptoPair()
        crypto.setup_initial(cid=header.destination_cid, is_client=False, version=header.version)
        _plain_header, payload, _number = crypto.decrypt_packet(datagram[:header.packet_length], buf.tell(), 0)
        hello = _crypto_data(payload)
    except (BufferReadError, CryptoError, ValueError):
        return None
    if not hello:
        return None
    # The CRYPTO stream carries TLS handshake messages without TLS records: wrap one so that the
    # TCP side's ClientHello reader serves here too.
    record = b"\x16\x03\x01" + len(hello).to_bytes(2, "big") + hello
    return server_name(record)


def _crypto_data(payload: bytes) -> bytes:
    """The CRYPTO frames' bytes from offset 0 on, in order (an Initial carries the ClientHello)."""
    buf = Buffer(data=payload)
    pieces: dict[int, bytes] = {}
    while not buf.eof():
        frame = buf.pull_uint_var()
        if frame in (_FRAME_PADDING, _FRAME_PING):
            continue
        if frame == _FRAME_CRYPTO:
            offset = buf.pull_uint_var()
            pieces[offset] = buf.pull_bytes(buf.pull_uint_var())
        elif frame == _FRAME_ACK:
            buf.pull_uint_var()  # largest acknowledged
            buf.pull_uint_var()  # delay
            ranges = buf.pull_uint_var()
            buf.pull_uint_var()  # first range
            for _ in range(ranges * 2):
                buf.pull_uint_var()
        else:
            break  # nothing else comes before the ClientHello in a client's first Initial
    data, offset = b"", 0
    while offset in pieces:
        data += pieces[offset]
        offset += len(pieces[offset])
    return data


class FilteringQuicServer(QuicServer):
    """An aioquic server for one address behind the censor's rules: `drop_all` drops every
    datagram to it (site_spec QUIC_DROP), `drop_names` the connections whose Initial names one
    of them (QUIC_DROP_NAME), whatever address they go to."""

    def __init__(self, *, configuration: QuicConfiguration, drop_all: bool, drop_names: frozenset[str]) -> None:
        super().__init__(configuration=configuration)
        self._drop_all, self._drop_names = drop_all, drop_names
        self._dropped_cids: set[bytes] = set()

    def datagram_received(self, data: bytes | str, addr: tuple) -> None:
        if self._drop_all or not isinstance(data, bytes):
            return
        if self._drop_names:
            try:
                cid = pull_quic_header(Buffer(data=data), host_cid_length=8).destination_cid
            except (BufferReadError, ValueError):
                return
            if cid in self._dropped_cids:
                return
            name = initial_server_name(data)
            if name is not None and name in self._drop_names:
                log.info("QUIC Initial sni=%s -> drop", name)
                self._dropped_cids.add(cid)
                return
        super().datagram_received(data, addr)


async def serve_quic(address: str, chain: str, key: str, drop_all: bool,
                     drop_names: frozenset[str]) -> asyncio.BaseTransport:
    """Listen on UDP address:443 with the site's certificate; ALPN h3."""
    configuration = QuicConfiguration(is_client=False, alpn_protocols=["h3"])
    configuration.load_cert_chain(chain, key)
    loop = asyncio.get_running_loop()
    transport, _protocol = await loop.create_datagram_endpoint(
        lambda: FilteringQuicServer(configuration=configuration, drop_all=drop_all, drop_names=drop_names),
        local_addr=(address, 443))
    return transport
