"""What every rule may consult besides the target itself: fingerprints, connectivity, and what
this scan taught about blockpage servers."""

from __future__ import annotations

from dataclasses import dataclass, field

from kzprobe.analysis.connectivity import Connectivity
from kzprobe.analysis.facts import TargetFacts, TlsFact
from kzprobe.analysis.fingerprints import Fingerprints
from kzprobe.analysis.inspection import SYSTEM_ONLY, LocalInspection


@dataclass(frozen=True)
class Context:
    fingerprints: Fingerprints
    connectivity: Connectivity
    # Addresses that served a fingerprinted blockpage for a name the control resolves
    # elsewhere, in this scan: address -> fingerprint id.
    learned_blockpages: dict[str, str] = field(default_factory=dict)
    # The median validated TLS handshake of this scan's baselines (ms): the link's normal
    # handshake time, against which a slow handshake for one name is throttling evidence.
    handshake_ms: float | None = None
    # The root re-signing nearly every HTTPS target of this scan, the baselines included: an
    # antivirus or a proxy inspecting HTTPS on this machine or its network (analysis/inspection.py).
    local_inspection: LocalInspection | None = None

    def locally_inspected(self, attempt: TlsFact) -> bool:
        """`attempt`'s chain is one the local inspection re-signed: it says nothing about the site."""
        return self.local_inspection is not None and self.local_inspection.covers(attempt, self.fingerprints)

    def blockpage_address(self, address: str) -> str | None:
        """Why `address` is a known blockpage server, in words; None when it is not one."""
        known = self.fingerprints.address(address)
        if known is not None:
            return f"a known blockpage address ({known.id})"
        learned = self.learned_blockpages.get(address)
        if learned is not None:
            return f"an address that served a blockpage matching {learned} in this scan"
        return None

    def tls_authenticates(self, attempt: TlsFact) -> bool:
        """The handshake proves the server holds the name's key: validated, and no
        interception root in the chain (a user may have installed one, making it "valid"), and
        not validated only through a root installed on this system (unless Kazakhstan's
        national CA, which users install for government sites)."""
        if not attempt.ok or self.fingerprints.authority(attempt.chain, "interception") is not None:
            return False
        return attempt.root_store != SYSTEM_ONLY or self.fingerprints.authority(attempt.chain, "national") is not None

    def host_authenticated(self, facts: TargetFacts, host: str | None, address: str | None = None) -> bool:
        """Some TLS handshake with `host` (at `address`, when given) authenticated the server."""
        return any(self.tls_authenticates(t) for t in facts.tls_for(host or "")
                   if address is None or t.address == address)
