"""Endpoint records read as typed facts: untrusted, from this scan or from someone else's report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from kzprobe.analysis.facts import DnsFact, TcpFact, TlsFact, read_dns, read_tcp, read_tls

# Endpoint records read per service (targets.MAX_ENDPOINTS_PER_TARGET is 64), and attempts
# per endpoint (the probe makes at most 2 per family).
MAX_ENDPOINTS: Final = 128
MAX_ATTEMPTS: Final = 16


@dataclass(frozen=True)
class DirectoryFact:
    """One GET of a Tor directory port's small document (probes/tor_endpoints.py)."""

    address: str
    status: int | None
    tor_document: bool
    failure: str | None


@dataclass(frozen=True)
class EndpointFacts:
    label: str  # "host:port"
    host: str
    role: str
    tls: bool
    ca: str | None  # pinned CA bundle name
    dns: DnsFact | None
    control_dns: DnsFact | None
    tcp: tuple[TcpFact, ...]
    tls_handshakes: tuple[TlsFact, ...]
    setup_failure: str | None
    kind: str | None = None  # targets.ENDPOINT_KINDS
    directory: tuple[DirectoryFact, ...] = ()
    # An obfs4 bridge's handshake through the real client: (failure or None), when one ran.
    obfs4_failure: str | None = None
    obfs4_ran: bool = False


def text(value: Any, limit: int) -> str | None:
    """A non-empty string field cut to `limit` characters; None for anything else."""
    return value[:limit] if isinstance(value, str) and value else None


def _read_all(value: Any, reader) -> tuple:
    if not value or not isinstance(value, list):
        return ()
    return tuple([fact for fact in map(reader, value[:MAX_ATTEMPTS]) if fact is not None])


def _directory(item: Any) -> DirectoryFact | None:
    if not isinstance(item, dict) or not isinstance(item.get("address"), str):
        return None
    status = item.get("status")
    return DirectoryFact(
        address=item["address"][:64],
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        tor_document=item.get("tor_document") is True, failure=text(item.get("failure"), 300),
    )


def read_endpoint(record: Any) -> EndpointFacts | None:
    """One endpoint record as typed facts; None when it is not a record at all."""
    if not isinstance(record, dict):
        return None
    host = (text(record.get("host"), 260) or "").lower()
    port = record.get("port")
    label = text(record.get("endpoint"), 300)
    if label is None:
        if not host or not isinstance(port, int) or isinstance(port, bool):
            return None
        label = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    obfs4_ran = _obfs4_ran(record.get("obfs4"))
    return EndpointFacts(
        label=label, host=host, role=text(record.get("role"), 40) or "service",
        tls=record.get("tls") is True, ca=text(record.get("ca"), 64),
        dns=read_dns(record.get("dns")), control_dns=read_dns(record.get("control_dns")),
        tcp=_read_all(record.get("tcp"), read_tcp), tls_handshakes=_read_all(record.get("tls_handshakes"), read_tls),
        setup_failure=text(record.get("failure"), 300), kind=text(record.get("kind"), 20),
        directory=_read_all(record.get("directory"), _directory),
        obfs4_ran=obfs4_ran,
        obfs4_failure=text(record["obfs4"].get("failure"), 300) if obfs4_ran else None,
    )


def _obfs4_ran(value: Any) -> bool:
    """A handshake was attempted through a client (not: no client installed)."""
    return isinstance(value, dict) and isinstance(value.get("client"), str) and "duration_ms" in value


def read_endpoints(observations: Any) -> list[EndpointFacts]:
    """The endpoint records of a result's observations, in order ([] for a web target)."""
    records = observations.get("endpoints") if isinstance(observations, dict) else None
    if not isinstance(records, list):
        return []
    return [f for f in (read_endpoint(r) for r in records[:MAX_ENDPOINTS]) if f is not None]
