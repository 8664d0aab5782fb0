"""HTTPS inspected on this machine or its network: an antivirus or a corporate proxy, not a censor.

Antivirus suites scan encrypted connections by installing a root of their own and re-signing
every site with it (Kaspersky's "encrypted connections scan", ESET's "SSL/TLS protocol
filtering"), and so do corporate TLS-inspection proxies: Durumeric et al. found 4-11% of the
HTTPS connections they watched intercepted so ("The Security Impact of HTTPS Interception",
NDSS 2017). Read target by target, each re-signed chain is a certificate that only a root
installed here vouches for: the mark of interception (TLS rule 2), on every HTTPS target. Read as
a whole it is no censor's: a censor re-signs the sites it wants to watch - Kazakhstan's 2019
interception re-signed a list of domains with its own known root - and leaves the rest, the
international baselines among them, alone.

The scan's HTTPS is inspected locally when one root that is neither public nor the operator's
(`root_store` "system_only", or an untrusted issuer whose chain the server sent whole), and not a
known interception authority or Kazakhstan's national CA, ends the chains of

1. at least LOCAL_INSPECTION_MIN_TARGETS HTTPS targets,
2. at least LOCAL_INSPECTION_MIN_SHARE of the HTTPS targets whose handshake brought a
   certificate, and
3. every international baseline whose handshake brought a certificate (at least one).

Each target whose chain that root ends is then `inconclusive` with `tls.local_inspection`
(certificate_rules.py), whatever a control scan's certificate is: behind the inspecting software
the site's own certificate cannot be seen from this machine at all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.facts import TargetFacts, TlsFact
from kzprobe.analysis.fingerprints import Fingerprints
from kzprobe.report import vocabulary as v

SYSTEM_ONLY = "system_only"  # TlsObservation root_store: a root only this system trusts


def root_name(attempt: TlsFact) -> str:
    """The name of the root that ends the chain: the issuer of its last certificate (a server
    rarely sends the root itself; when it does, the root names itself as issuer)."""
    return attempt.chain[-1].issuer if attempt.chain else ""


def _whole_untrusted_chain(attempt: TlsFact) -> bool:
    """An untrusted issuer the server sent the leaf's issuer for: no missing intermediate explains it."""
    leaf = attempt.chain[0]
    return attempt.failure == v.SSL_UNKNOWN_AUTHORITY and bool(leaf.issuer) and leaf.issuer != leaf.subject \
        and any(c.subject == leaf.issuer for c in attempt.chain[1:])


def private_root(attempt: TlsFact, fingerprints: Fingerprints) -> str | None:
    """The root ending `attempt`'s chain when it is one only this machine (or nobody) trusts -
    validated through a root installed here, or untrusted with the whole chain sent - and
    neither a known interception authority nor Kazakhstan's national CA; None otherwise."""
    if not attempt.completed or not attempt.chain or not root_name(attempt):
        return None
    installed = attempt.ok and attempt.root_store == SYSTEM_ONLY
    if not installed and not _whole_untrusted_chain(attempt):
        return None
    if fingerprints.authority(attempt.chain, "interception") or fingerprints.authority(attempt.chain, "national"):
        return None
    return root_name(attempt)


@dataclass(frozen=True)
class LocalInspection:
    """The root that re-signs this scan's HTTPS, and how widely."""

    root: str
    resigned: tuple[str, ...]  # ids (or URLs) of the HTTPS targets whose chains it ends
    https_targets: int  # HTTPS targets whose handshake brought a certificate
    baselines: tuple[str, ...]  # the international baselines among them

    def covers(self, attempt: TlsFact, fingerprints: Fingerprints) -> bool:
        """`attempt`'s chain is one this root re-signed."""
        return private_root(attempt, fingerprints) == self.root

    def to_dict(self) -> dict:
        return {"root": self.root, "targets": len(self.resigned), "https_targets": self.https_targets,
                "baselines": list(self.baselines)}

    def clause(self) -> str:
        """The scan-wide picture, for an explanation."""
        return (f"the same root signed the certificates of {len(self.resigned)} of the {self.https_targets} HTTPS "
                f"targets of this scan, the international baselines ({', '.join(self.baselines)}) included: "
                "HTTPS is inspected on this machine or its network (an antivirus's HTTPS scanning or a corporate "
                "proxy), which re-signs every site, not by a censor choosing sites")


def _key(facts: TargetFacts) -> str:
    return facts.id or facts.url


def find_local_inspection(results: list[TargetFacts], fingerprints: Fingerprints) -> LocalInspection | None:
    """The root inspecting this scan's HTTPS (the module docstring gives the rule), or None."""
    measured: list[TargetFacts] = []
    roots: dict[str, set[str]] = {}
    for facts in results:
        if facts.has_endpoints or facts.scheme != "https" or not facts.url:
            continue
        completed = [t for t in facts.tls_for(facts.hostname) if t.completed and t.chain]
        if not completed:
            continue
        measured.append(facts)
        for attempt in completed:
            root = private_root(attempt, fingerprints)
            if root is not None:
                roots.setdefault(root, set()).add(_key(facts))
    if not roots:
        return None
    counts = Counter({root: len(keys) for root, keys in roots.items()})
    best = max(counts.values())
    root = min(r for r, n in counts.items() if n == best)
    resigned = roots[root]
    baselines = [_key(f) for f in measured if f.baseline == "international"]
    if best < th.LOCAL_INSPECTION_MIN_TARGETS or best < th.LOCAL_INSPECTION_MIN_SHARE * len(measured):
        return None
    if not baselines or any(key not in resigned for key in baselines):
        return None  # a censor re-signs what it watches; the baselines stay the sites' own
    return LocalInspection(root, tuple(_key(f) for f in measured if _key(f) in resigned), len(measured),
                           tuple(baselines))
