"""Service target records as probes/service_endpoints.py writes them, built by hand for the
service analysis' tests: a host, a port, a role, and what happened at DNS, TCP and TLS (and, after
a failed handshake, the SNI split). Addresses are public-looking: a bogon answer is itself a
signature of blocking."""

from __future__ import annotations

from kzprobe.analysis.services import analyse_service
from kzprobe.report import vocabulary as v

TELEGRAM_DCS = ["149.154.175.50", "149.154.167.51", "149.154.175.100", "149.154.167.91", "149.154.171.5",
                "95.161.76.100"]
SIGNAL_ROLES = {"chat": "chat.signal.org", "contacts": "cdsi.signal.org", "storage": "storage.signal.org",
                "calling": "sfu.voip.signal.org"}


def endpoint(host: str, port: int, role: str, *, dns="ok", tcp="ok", tls=None, ca=None, issuer="CN=Signal Messenger",
             control_dns=None, address=None, split=None, public=None) -> dict:
    """One endpoint record. dns: "ok", a failure string, or a list of addresses; tcp: "ok" or a
    failure string; tls: None (no TLS), "ok" or a failure string; control_dns like dns, or None.
    split: the SNI split after a failed handshake (split_records); public: a pinned handshake's
    public_verification root_store ("public", "ca_file", "system_only"; "none": it did not verify)."""
    literal = host.replace(".", "").isdigit() or ":" in host
    address = address or (host if literal else f"31.13.{len(host)}.{port % 250}")
    record = {"endpoint": f"[{host}]:{port}" if ":" in host else f"{host}:{port}", "host": host, "port": port,
              "role": role, "tls": tls is not None, "sni": host if tls is not None else None, "ca": ca,
              "dns": None if literal else _dns(host, dns, address), "control_dns": _dns(host, control_dns, address)
              if control_dns is not None else None, "tcp": [], "tls_handshakes": [], "failure": None}
    if record["dns"] is not None and not record["dns"]["addresses"]:
        return record
    target = (record["dns"] or {"addresses": [address]})["addresses"][0]
    record["tcp"] = [{"hostname": host, "address": target, "port": port,
                      "failure": None if tcp == "ok" else tcp, "duration_ms": 20.0}]
    if tcp == "ok" and tls is not None:
        failure = None if tls == "ok" else tls
        completed = tls == "ok" or tls in (v.SSL_UNKNOWN_AUTHORITY, v.SSL_INVALID_HOSTNAME)
        record["tls_handshakes"] = [{
            "hostname": host, "address": target, "port": port, "sni": host, "failure": failure,
            "handshake_completed": completed, "verified": tls == "ok", "version": "TLSv1.3" if completed else None,
            "cipher": None, "alpn": None, "duration_ms": 30.0,
            "peer_chain": [{"subject": "", "issuer": issuer, "sans": [host], "not_before": "", "not_after": "",
                            "sha256": "ab" * 32, "spki_sha256": "cd" * 32}] if completed else [],
        }]
        if public is not None:
            record["tls_handshakes"][0]["public_verification"] = (
                {"verified": False, "failure": v.SSL_UNKNOWN_AUTHORITY} if public == "none"
                else {"verified": True, "failure": None, "root_store": public})
        if split is not None:
            tcp_extra, tls_extra = split_records(host, target, port, split)
            record["tcp"] += tcp_extra
            record["tls_handshakes"] += tls_extra
    return record


def split_records(host: str, address: str, port: int, split: str) -> tuple[list[dict], list[dict]]:
    """The SNI split's connections and handshakes after the real name failed: "sni" (the neutral
    name answered, the real name failed again), "flaky" (answered, then the real name validated),
    "unconfirmed" (answered, the second try's connection failed), "neutral_failed" (the neutral
    name reset too), "neutral_no_connect" (its connection failed)."""
    def tcp(purpose, failure=None):
        return {"hostname": host, "address": address, "port": port, "failure": failure, "duration_ms": 20.0,
                "purpose": purpose}

    def tls(purpose, sni, failure, completed, verified=False):
        return {"hostname": host, "address": address, "port": port, "sni": sni, "failure": failure,
                "handshake_completed": completed, "verified": verified, "version": None, "cipher": None,
                "alpn": None, "peer_chain": [], "duration_ms": 30.0, "purpose": purpose}

    if split == "neutral_no_connect":
        return [tcp("neutral_sni", v.CONNECTION_REFUSED)], []
    if split == "neutral_failed":
        return [tcp("neutral_sni")], [tls("neutral_sni", "example.com", v.CONNECTION_RESET, False)]
    answered = tls("neutral_sni", "example.com", None, True)
    if split == "unconfirmed":
        return [tcp("neutral_sni"), tcp("sni_confirm", v.GENERIC_TIMEOUT)], [answered]
    again = (tls("sni_confirm", host, None, True, verified=True) if split == "flaky"
             else tls("sni_confirm", host, v.CONNECTION_RESET, False))
    return [tcp("neutral_sni"), tcp("sni_confirm")], [answered, again]


def _dns(host, dns, address) -> dict:
    addresses = dns if isinstance(dns, list) else [address] if dns == "ok" else []
    return {"hostname": host, "resolver": "system", "addresses": addresses,
            "failure": None if addresses else dns, "queries": [], "duration_ms": 5.0}


def service(name: str, endpoints: list[dict], url: str | None = None) -> dict:
    target = {"id": name.lower(), "name": name}
    if url:
        target["url"] = url
    return {"target": target, "observations": {"endpoints": endpoints}, "started_at": "", "duration_ms": 1.0}


def telegram(dropped=(), ports=(80, 443)) -> dict:
    return service("Telegram", [endpoint(ip, port, "datacenter", tcp=v.GENERIC_TIMEOUT if ip in dropped else "ok")
                                for ip in TELEGRAM_DCS for port in ports], url="https://web.telegram.org/")


def whatsapp(chat_tcp="ok", chat_tls=None, registration="ok", chat_dns="ok", chat_control_dns=None,
             chat_split=None, registration_split=None) -> dict:
    chat = [endpoint(f"e{i}.whatsapp.net", port, "chat", dns=chat_dns, tcp=chat_tcp,
                     tls=chat_tls if port == 443 else None,
                     control_dns=chat_control_dns, split=chat_split if port == 443 else None)
            for i in range(1, 17) for port in (443, 5222)]
    registration_record = endpoint("v.whatsapp.net", 443, "registration", tls=registration, split=registration_split)
    return service("WhatsApp", chat + [registration_record], url="https://web.whatsapp.com/")


def signal(**failing) -> dict:
    """Signal's four service hosts, pinned to the signal CA; failing: role -> (step, failure)."""
    records = []
    for role, host in SIGNAL_ROLES.items():
        step, failure = failing.get(role, (None, None))
        kwargs = {"tls": "ok"}
        if step == "tls":
            kwargs["tls"] = failure
            kwargs["issuer"] = ("CN=Qaznet Trust Network,C=KZ" if failure == v.SSL_UNKNOWN_AUTHORITY
                                else "CN=Signal Messenger")
        elif step == "tcp":
            kwargs["tcp"] = failure
        elif step == "dns":
            kwargs["dns"] = failure
        records.append(endpoint(host, 443, role, ca="signal", **kwargs))
    return service("Signal", records)


REACHABLE_WEB = {"verdict": "reachable", "blocking": None, "evidence": [], "explanation": "", "control": None}
BLOCKED_WEB = {"verdict": "blocked", "blocking": "dns", "evidence": ["dns.nxdomain"], "explanation": "",
               "control": None}


class Context:
    def __init__(self, connectivity=v.ONLINE, fingerprints=None):
        self.connectivity = connectivity
        self.fingerprints = fingerprints


def analyse(result, control=None, connectivity=v.ONLINE, front_end=None, fingerprints=None, *,
            interference=False, stale=False):
    return analyse_service(result, control, Context(connectivity, fingerprints), front_end=front_end,
                           interference_elsewhere=interference, control_stale=stale,
                           control_age_s=36_000.0 if stale else None).to_dict()
