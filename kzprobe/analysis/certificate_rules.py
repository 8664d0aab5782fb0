"""Certificates: interception, or the site's own misconfiguration?

Interception shows as a certificate that is not the site's: one that differs from the
certificate the control scan got for the same name (another issuer, another key), one from a
known interception authority (analysis/fingerprints.py), one that validates here only through a
root installed on this system, or one from an untrusted issuer that a missing intermediate does
not explain. A server that sent its certificate without the intermediate is completed the way
browsers do (the probe fetches it through AIA); one that still cannot be completed is the site's
own fault unless the control shows another certificate: `inconclusive` with
`tls.chain_incomplete`, never `blocked`.
"""

from __future__ import annotations

from typing import Final

from kzprobe.analysis.conclusion import Verdict, blocked, down, inconclusive
from kzprobe.analysis.context import SYSTEM_ONLY, Context
from kzprobe.analysis.control import FAILED, OK, ControlView
from kzprobe.analysis.explain import cite, quote, sentence
from kzprobe.analysis.facts import CertFact, TargetFacts, TlsFact
from kzprobe.report import vocabulary as v

SAME: Final = "same"
DIFFERENT: Final = "different"
CA_FILE: Final = "ca_file"  # TlsObservation root_store: a root given with --ca-file
PUBLIC: Final = "public"  # TlsObservation root_store: a root of Mozilla's public set


def _leaf(attempt: TlsFact) -> CertFact | None:
    return attempt.chain[0] if attempt.chain else None


def same_certificate(here: CertFact, there: CertFact) -> bool:
    """Same issuer and same key (the certificate itself when a report did not record the key:
    a renewed certificate keeps neither its hash nor, often, its key, so this errs towards "different",
    which only matters where validation failed here)."""
    if here.issuer != there.issuer:
        return False
    if here.spki_sha256 and there.spki_sha256:
        return here.spki_sha256 == there.spki_sha256
    return bool(here.sha256) and here.sha256 == there.sha256


def control_leaves(view: ControlView, host: str) -> list[CertFact]:
    """The leaf certificates the control scan's handshakes with `host` received."""
    if view.facts is None:
        return []
    return [t.chain[0] for t in view.facts.tls_for(host) if t.completed and t.chain]


def compare_with_control(attempt: TlsFact, view: ControlView, host: str) -> tuple[str | None, CertFact | None]:
    """(SAME, DIFFERENT or None without a control certificate, the control's leaf cited)."""
    leaf = _leaf(attempt)
    theirs = control_leaves(view, host)
    if leaf is None or not theirs:
        return None, None
    for other in theirs:
        if same_certificate(leaf, other):
            return SAME, other
    return DIFFERENT, theirs[0]


def issuer_missing(attempt: TlsFact, facts: TargetFacts, host: str) -> bool:
    """The leaf's issuer was neither sent by the server nor fetched through AIA: an untrusted
    issuer may then be no more than a missing intermediate (the site's misconfiguration)."""
    leaf = _leaf(attempt)
    if leaf is None or not leaf.issuer or leaf.issuer == leaf.subject:
        return False
    if any(c.subject == leaf.issuer for c in attempt.chain[1:]):
        return False
    return not any(leaf.issuer in a.subjects for a in facts.aia)


def self_signed(attempt: TlsFact) -> bool:
    leaf = _leaf(attempt)
    return leaf is not None and len(attempt.chain) == 1 and bool(leaf.subject) and leaf.subject == leaf.issuer


def _differs(other: CertFact | None) -> str:
    if other is None:
        return ""
    return f"the control scan got another certificate for the name (issued by {quote(other.issuer)})"


def _aia_clause(facts: TargetFacts) -> str:
    """What fetching the missing intermediate gave, for the explanation."""
    if not facts.aia:
        return "the certificate names no place (AIA) to fetch its issuer from"
    first = facts.aia[0]
    if first.failure:
        return f"fetching its issuer from {cite(first.url)} failed with {cite(first.failure)}"
    if first.status is not None and first.status != 200:
        return f"fetching its issuer from {cite(first.url)} got HTTP {first.status}"
    return f"{cite(first.url)} did not give its issuer"


def local_inspection_verdict(attempt: TlsFact, host: str, view: ControlView, ctx: Context) -> Verdict:
    """A chain the scan-wide local inspection re-signed (analysis/inspection.py): inconclusive,
    whatever the control's certificate - it differs for every site the software re-signs."""
    inspection = ctx.local_inspection
    assert inspection is not None
    root = quote(inspection.root, 120)
    said = (f"TLS to {cite(attempt.address)} for {host} validated only through {root}, a root installed on this "
            "machine that is neither in Mozilla's public set nor given with --ca-file" if attempt.ok else
            f"TLS to {cite(attempt.address)} for {host} failed validation ({cite(attempt.failure)}): its chain ends at "
            f"{root}, a root this machine does not trust")
    control = ("the control scan got another certificate, as it does for every site re-signed here"
               if compare_with_control(attempt, view, host)[0] == DIFFERENT else "")
    return inconclusive(["tls.local_inspection"], sentence(
        said, control,
        inspection.clause(),
        "the site's own certificate cannot be seen from here, so this says nothing about blocking; turn off the "
        "HTTPS scanning for kzprobe, or scan from another machine or network"))


def installed_root_verdict(facts: TargetFacts, host: str, attempts: list[TlsFact], view: ControlView,
                           ctx: Context) -> Verdict | None:
    """A handshake that validated only through a root outside Mozilla's public set: one installed
    on this system ("system_only") is interception, unless it is Kazakhstan's national CA or the
    control scan got the same certificate (the site's own chain under a root this system has and
    Mozilla's set lacks); one from --ca-file ("ca_file", the operator's own) only when the control
    scan got another certificate for the name."""
    private = [t for t in attempts if t.ok and t.root_store in (SYSTEM_ONLY, CA_FILE)
               and ctx.fingerprints.authority(t.chain, "national") is None]
    for attempt in sorted(private, key=lambda t: t.root_store != SYSTEM_ONLY):
        comparison, other = compare_with_control(attempt, view, host)
        if comparison == SAME or (comparison is None and attempt.root_store == CA_FILE):
            continue
        if ctx.locally_inspected(attempt):
            return local_inspection_verdict(attempt, host, view, ctx)
        root = attempt.chain[-1].issuer if attempt.chain else ""
        where = ("which this system trusts but which is neither in Mozilla's public set nor given with --ca-file: "
                 "a root installed here" if attempt.root_store == SYSTEM_ONLY else
                 "a root given with --ca-file, outside Mozilla's public set")
        said = (f"TLS to {cite(attempt.address)} for {host} validated only through "
                f"{quote(root) if root else 'a root'}, {where}")
        if comparison == DIFFERENT:
            return blocked("tls", ["tls.mitm"], sentence(said, _differs(other), "the connection was intercepted"))
        return blocked("tls", ["tls.mitm"], sentence(
            said, "a certificate that only an installed root vouches for is the mark of interception "
                  "(Kazakhstan had users install its roots in 2019 and 2020)"))
    return None


def certificate_verdict(facts: TargetFacts, host: str, attempt: TlsFact, view: ControlView,
                        ctx: Context, control_step: str, no_control: str) -> Verdict:
    """A handshake that completed with a certificate that does not validate for `host`.

    `no_control` says in words why the control cannot decide, when it cannot."""
    if ctx.locally_inspected(attempt):
        return local_inspection_verdict(attempt, host, view, ctx)
    failure = attempt.failure or v.SSL_INVALID_CERTIFICATE
    leaf = _leaf(attempt)
    issuer = leaf.issuer if leaf else ""
    unknown_authority = failure == v.SSL_UNKNOWN_AUTHORITY
    incomplete = unknown_authority and issuer_missing(attempt, facts, host)
    said = (f"the certificate {cite(attempt.address)} presented for {host} failed validation ({cite(failure)})"
            + (f", issued by {quote(issuer)}" if issuer else ""))
    if incomplete:
        said += f", which the server did not send; {_aia_clause(facts)}"
    comparison, other = compare_with_control(attempt, view, host)
    own_code = "tls.chain_incomplete" if incomplete else "tls.invalid_cert"
    if control_step == OK:
        if comparison == SAME:
            return inconclusive([own_code], sentence(
                said, "the control scan validated this same certificate (same issuer and key), so it was not "
                      "replaced on the way: this vantage could not complete or trust its chain"))
        code = "tls.mitm" if unknown_authority else "tls.invalid_cert"
        return blocked("tls", [code], sentence(said, _differs(other), "the control scan validated the site's "
                                               "certificate, so the chain was replaced on the way"))
    if control_step == FAILED:
        if comparison == DIFFERENT and other is not None and unknown_authority and other.issuer != issuer:
            return blocked("tls", ["tls.mitm"],
                           sentence(said, _differs(other), "the certificate here is not the site's"))
        if incomplete:
            return inconclusive(["tls.chain_incomplete"], sentence(
                said, "the control scan could not validate it either: the site's chain is incomplete"))
        return down(["tls.invalid_cert"], sentence(said, "the control scan could not validate it either: "
                                                         "the site's own certificate is at fault"))
    national = ctx.fingerprints.authority(attempt.chain, "national")
    if unknown_authority and national is None and not self_signed(attempt) and attempt.chain:
        if incomplete:
            return inconclusive([view.reason, "tls.chain_incomplete"], sentence(
                said, f"{no_control}, and a site that forgets its intermediate looks the same as an interceptor "
                      "whose root is not here"))
        return blocked("tls", ["tls.mitm"], sentence(
            said, "a chain from an issuer no browser trusts, on the server's own address, is the mark of "
                  f"interception ({no_control})"))
    why = (f"the issuer is Kazakhstan's national CA ({national.authority.id}), which some sites use for their own "
           "certificates" if national else
           "the chain could not be read, so who issued it is unknown" if not attempt.chain else
           "a site's own broken or self-signed certificate looks the same")
    return inconclusive([view.reason, "tls.invalid_cert"], sentence(said, f"{no_control}, and {why}"))
