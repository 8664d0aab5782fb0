"""Validation of a service target's `endpoints`: 'host:port' strings or {host, port, tls, sni, ca, role, kind, …}."""

from __future__ import annotations

import re
from typing import Any, Final

from kzprobe.targets.bundled import ca_bundle_path, ca_names
from kzprobe.targets.hosts import is_ip_literal, normalize_host
from kzprobe.targets.limits import MAX_ENDPOINTS_PER_TARGET
from kzprobe.targets.messages import show_value, type_name, unknown_key_message
from kzprobe.targets.problems import EntryContext, Problems
from kzprobe.targets.target import ENDPOINT_KINDS, ENDPOINT_ROLES, Endpoint

# Fields of an endpoint given as a mapping.
ENDPOINT_FIELDS: Final = ("host", "port", "tls", "sni", "ca", "role", "kind", "cert", "fingerprint")

_CA_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# An obfs4 bridge's cert (base64 of its node id and public key, 70 characters in Tor Browser's
# bridge lines) and a relay's identity fingerprint (SHA-1, 40 hex digits). Matched whole
# (fullmatch: "$" would let a final newline through, and both go into a torrc's Bridge line).
_OBFS4_CERT_RE: Final = re.compile(r"^[A-Za-z0-9+/]{40,120}={0,2}$")
_FINGERPRINT_RE: Final = re.compile(r"^[0-9A-F]{40}$")


def check_endpoints(entry: dict, ctx: EntryContext, problems: Problems) -> tuple[Endpoint, ...]:
    if "endpoints" not in entry:
        return ()
    value = entry["endpoints"]
    if not isinstance(value, list):
        message = f"must be a list of 'host:port' or {{host, port, …}}, not {type_name(value)}"
        ctx.problem(problems, "endpoints", message)
        return ()
    if not value:
        ctx.problem(problems, "endpoints", "must not be empty (leave the field out instead)")
        return ()
    if len(value) > MAX_ENDPOINTS_PER_TARGET:
        ctx.problem(problems, "endpoints", f"{len(value)} endpoints; the cap is {MAX_ENDPOINTS_PER_TARGET}")
        return ()
    endpoints: list[Endpoint] = []
    seen: dict[tuple, int] = {}
    for number, item in enumerate(value, start=1):
        where = f"endpoints[{number}]"
        if isinstance(item, str):
            endpoint = _endpoint_from_string(item, where, ctx, problems)
        else:
            endpoint = _endpoint_from_mapping(item, where, ctx, problems)
        if endpoint is None:
            continue
        key = (endpoint.host, endpoint.port, endpoint.tls, endpoint.sni)
        if key in seen:
            ctx.problem(problems, where, f"repeats endpoints[{seen[key]}]")
            continue
        seen[key] = number
        endpoints.append(endpoint)
    return tuple(endpoints)


def _endpoint_from_string(item: str, where: str, ctx: EntryContext, problems: Problems) -> Endpoint | None:
    """'host:port', '1.2.3.4:443' or '[2001:db8::1]:443': a plain TCP endpoint."""
    text = item.strip()
    if text.startswith("["):
        host, sep, port_text = text.partition("]:")
        host += "]"
        if not sep:
            ctx.problem(problems, where, f"{show_value(item)} must be '[IPv6]:port'")
            return None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            ctx.problem(problems, where, f"{show_value(item)} must be 'host:port'")
            return None
        if ":" in host:
            message = f"{show_value(item)}: write an IPv6 address in brackets, '[2001:db8::1]:443'"
            ctx.problem(problems, where, message)
            return None
    port = _port_value(port_text, where, ctx, problems)
    try:
        normalized = normalize_host(host)
    except ValueError as error:
        ctx.problem(problems, where, str(error))
        return None
    return Endpoint(host=normalized, port=port) if port is not None else None


def _endpoint_from_mapping(item: Any, where: str, ctx: EntryContext, problems: Problems) -> Endpoint | None:
    if not isinstance(item, dict):
        message = f"must be 'host:port' or a mapping {{host, port, tls, sni, ca, role}}, not {type_name(item)}"
        ctx.problem(problems, where, message)
        return None
    before = len(problems.items)
    for key in item:
        if key not in ENDPOINT_FIELDS:
            ctx.problem(problems, where, unknown_key_message("key", key, ENDPOINT_FIELDS))
    host = None
    if "host" not in item:
        ctx.problem(problems, f"{where}.host", "required")
    elif not isinstance(item["host"], str) or not item["host"]:
        ctx.problem(problems, f"{where}.host", "must be a non-empty string (a name or an IP address)")
    else:
        try:
            host = normalize_host(item["host"])
        except ValueError as error:
            ctx.problem(problems, f"{where}.host", str(error))
    port = None
    if "port" not in item:
        ctx.problem(problems, f"{where}.port", "required")
    else:
        port = _port_value(item["port"], f"{where}.port", ctx, problems)
    tls = item.get("tls", item.get("kind") == "tor_or")
    if not isinstance(tls, bool):
        ctx.problem(problems, f"{where}.tls", f"must be true or false, not {type_name(tls)}")
        tls = False
    sni = _endpoint_sni(item, tls, where, ctx, problems)
    ca = _endpoint_ca(item, tls, where, ctx, problems)
    role = item.get("role")
    if role is not None and role not in ENDPOINT_ROLES:
        ctx.problem(problems, f"{where}.role", f"{show_value(role)} is not one of: {', '.join(ENDPOINT_ROLES)}")
    kind, cert, fingerprint = _endpoint_kind(item, tls, where, ctx, problems)
    if len(problems.items) > before or host is None or port is None:
        return None
    return Endpoint(host=host, port=port, tls=tls, sni=sni, ca=ca, role=role, kind=kind, cert=cert,
                    fingerprint=fingerprint)


def _endpoint_kind(item: dict, tls: bool, where: str, ctx: EntryContext,
                   problems: Problems) -> tuple[str | None, str | None, str | None]:
    """(kind, cert, fingerprint). A Tor OR port is TLS by nature (`tls: true` is implied, and a
    pinned CA or server name would contradict what Tor does); a directory port and a bridge are
    plain TCP to kzprobe (obfs4 looks like random bytes, never TLS)."""
    kind = item.get("kind")
    if kind is not None and kind not in ENDPOINT_KINDS:
        ctx.problem(problems, f"{where}.kind", f"{show_value(kind)} is not one of: {', '.join(ENDPOINT_KINDS)}")
        kind = None
    if kind == "tor_or" and ("ca" in item or "sni" in item):
        ctx.problem(problems, f"{where}.kind", "a Tor OR port takes no 'ca' or 'sni': its certificate is never checked")
    if kind in ("tor_dir", "obfs4") and tls:
        ctx.problem(problems, f"{where}.tls", f"must not be true for kind {kind!r}: kzprobe speaks no TLS to it")
    cert = item.get("cert")
    if cert is not None and (kind != "obfs4" or not isinstance(cert, str) or not _OBFS4_CERT_RE.fullmatch(cert)):
        message = "only for kind 'obfs4'" if kind != "obfs4" else "must be the bridge line's base64 cert= value"
        ctx.problem(problems, f"{where}.cert", message)
        cert = None
    fingerprint = item.get("fingerprint")
    if fingerprint is not None and (kind is None or not isinstance(fingerprint, str)
                                    or not _FINGERPRINT_RE.fullmatch(fingerprint)):
        message = "only for a Tor kind" if kind is None else "must be 40 upper-case hex digits"
        ctx.problem(problems, f"{where}.fingerprint", message)
        fingerprint = None
    return kind, cert, fingerprint


def _endpoint_sni(item: dict, tls: bool, where: str, ctx: EntryContext, problems: Problems) -> str | None:
    if "sni" not in item:
        return None
    value = item["sni"]
    if not tls:
        ctx.problem(problems, f"{where}.sni", "only makes sense with 'tls: true'")
        return None
    if not isinstance(value, str) or not value:
        ctx.problem(problems, f"{where}.sni", "must be a non-empty host name")
        return None
    try:
        sni = normalize_host(value)
    except ValueError as error:
        ctx.problem(problems, f"{where}.sni", str(error))
        return None
    if is_ip_literal(sni):
        ctx.problem(problems, f"{where}.sni", "must be a host name; TLS sends no IP address as server name")
        return None
    return sni


def _endpoint_ca(item: dict, tls: bool, where: str, ctx: EntryContext, problems: Problems) -> str | None:
    if "ca" not in item:
        return None
    value = item["ca"]
    if not tls:
        ctx.problem(problems, f"{where}.ca", "only makes sense with 'tls: true'")
        return None
    if not isinstance(value, str) or not _CA_NAME_RE.fullmatch(value):
        message = f"{show_value(value)} must be the name of a bundle in kzprobe/data/cas/, e.g. 'signal'"
        ctx.problem(problems, f"{where}.ca", message)
        return None
    if not ca_bundle_path(value).is_file():
        known = ", ".join(ca_names()) or "none"
        ctx.problem(problems, f"{where}.ca", f"no CA bundle {value!r} in kzprobe/data/cas/ (known: {known})")
        return None
    return value


def _port_value(value: Any, where: str, ctx: EntryContext, problems: Problems) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        ctx.problem(problems, where, f"{show_value(value)} is not a port number from 1 to 65535")
        return None
    return value
