"""Certificates: interception, or the site's own misconfiguration?

Interception shows as a certificate that is not the site's: one that differs from the
certificate the control scan got for the same name (another issuer, another key), one from a
known interception authority (analysis/fingerprints.py), one that validates here only through a
root installed on this system, or one from an untrusted issuer that a missing intermediate does
not explain. A server that sent its certificate without the intermediate is completed the way
browsers do (the probe fetches it through AIA); one that still cannot be completed is the site's
own fault unless the control shows another certificate: `inconclusive` with
`tls.chain_incomplete`, never `blocked`. A certificate out of date from the issuer of the one the
control validated is a server of the site left unrenewed, not a forgery: `inconclusive`.
"""

from __future__ import annotations

from typing import Final

from kzprobe.analysis.conclusion import Verdict, blocked, down, inconclusive
from kzprobe.analysis.context import SYSTEM_ONLY, Context
from kzprobe.analysis.control import FAILED, OK, ControlView
from kzprobe.analysis.explain import cite, quote, sentence
from kzprobe.analysis.facts import CertFact, TargetFacts, TlsFact
from kzprobe.report import vocabulary as v
from kzprobe.report.read import parse_time

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


def missing_issuer(attempt: TlsFact, facts: TargetFacts) -> str | None:
    """The name of the certificate the chain lacks, or None. Following issuers up from the leaf,
    through the certificates the server sent and those fetched through AIA, the chain stops at a
    certificate whose issuer is missing (not a self-signed root): the leaf's own issuer, or the
    one below the root (a chain of three levels whose server sent only the first intermediate)."""
    leaf = _leaf(attempt)
    if leaf is None or not leaf.issuer:
        return None
    known = [*attempt.chain[1:], *(c for a in facts.aia for c in a.certificates)]
    current, seen = leaf, {leaf.subject}
    while current.issuer != current.subject:
        above = next((c for c in known if c.subject == current.issuer), None)
        if above is None:
            # Reports made before AIA fetches kept issuers: a fetched subject still counts as found.
            return None if any(current.issuer in a.subjects for a in facts.aia) else current.issuer
        if above.subject in seen or not above.issuer:
            return None  # a loop, or a certificate that could not be read: nothing to say
        seen.add(above.subject)
        current = above
    return None


def out_of_date(cert: CertFact, at: str | None) -> str | None:
    """"expired" or "not yet valid" when the moment `at` (ISO 8601) lies outside `cert`'s validity
    period; None when it lies inside, or a date is missing or unreadable."""
    when, start, end = (parse_time(t) if t else None for t in (at, cert.not_before, cert.not_after))
    if when is None or start is None or end is None:
        return None
    return "expired" if when > end else "not yet valid" if when < start else None


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


def _trust_checks(facts: TargetFacts, host: str, attempt: TlsFact) -> list[TlsFact]:
    """The neutral name's handshakes at the attempt's address, their chains checked for trust
    whatever name they are for (purpose "cert_check")."""
    return [t for t in facts.extra_tls(host, v.PURPOSE_CERT_CHECK) if t.address == attempt.address]


def _replaced_for_the_name(facts: TargetFacts, host: str, attempt: TlsFact) -> str | None:
    """In words, why the chain the name got was replaced on the way; None when nothing shows it.

    The same address answered a neutral server name with a chain that validates here through a
    public root (or one from --ca-file), from another issuer than the untrusted one the name got:
    the server's own chain is trusted, and something between picked this name to replace it
    (Kazakhstan's interception replaced the chains of the names on its list and passed the others
    to the server: Censored Planet, 2019)."""
    leaf = _leaf(attempt)
    for check in _trust_checks(facts, host, attempt):
        theirs = _leaf(check)
        if check.ok and check.root_store in (PUBLIC, CA_FILE) and theirs is not None and leaf is not None \
                and theirs.issuer != leaf.issuer:
            return (f"the same address answered the neutral name {quote(check.sni or 'a neutral name')} with a "
                    f"chain that validates here (issued by {quote(theirs.issuer)})")
    return None


def _trust_check_clause(facts: TargetFacts, host: str, attempt: TlsFact) -> str:
    """What the neutral name's chain at the same address showed, when it was checked."""
    checks = _trust_checks(facts, host, attempt)
    if not checks:
        return ""
    check = checks[0]
    if check.ok and check.root_store in (PUBLIC, CA_FILE):
        return ("the same address answered a neutral name with a trusted chain from the same issuer, so nothing "
                "shows the name's chain replaced")
    if check.completed:
        return "the same address answered a neutral name with a chain that is not trusted here either"
    return f"a handshake naming a neutral name at the same address failed ({cite(check.failure)})"


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
    on this system ("system_only") is interception, unless it is a national CA (Kazakhstan's, Russia's) or the
    control scan got the same certificate (the site's own chain under a root this system has and
    Mozilla's set lacks); one from --ca-file ("ca_file", the operator's own) only when the control
    scan got another certificate for the name."""
    private = [t for t in attempts if t.ok and t.root_store in (SYSTEM_ONLY, CA_FILE)
               and ctx.fingerprints.authority(t.chain, "national") is None]
    for attempt in sorted(private, key=lambda t: t.root_store != SYSTEM_ONLY):
        comparison, other = compare_with_control(attempt, view, host)
        if comparison == DIFFERENT and view.stale:
            # Hours apart, the site may have renewed its certificate: a stale control may excuse
            # (the same certificate), never accuse.
            comparison, other = None, None
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
    missing = missing_issuer(attempt, facts) if unknown_authority else None
    incomplete = missing is not None
    said = (f"the certificate {cite(attempt.address)} presented for {host} failed validation ({cite(failure)})"
            + (f", issued by {quote(issuer)}" if issuer else ""))
    if missing is not None:
        lacks = "which the server did not send" if missing == issuer else \
            f"and its chain lacks {quote(missing)}, which the server did not send"
        said += f", {lacks}; {_aia_clause(facts)}"
    comparison, other = compare_with_control(attempt, view, host)
    own_code = "tls.chain_incomplete" if incomplete else "tls.invalid_cert"
    if control_step == OK:
        if comparison == SAME:
            return inconclusive([own_code], sentence(
                said, "the control scan validated this same certificate (same issuer and key), so it was not "
                      "replaced on the way: this vantage could not complete or trust its chain"))
        if incomplete and other is not None and other.issuer == issuer:
            # Another certificate from the same issuing CA, only sent without its intermediate: a
            # CDN's edges hold certificates of their own, and one of them misconfigured is no
            # interceptor's forgery (which names its own issuer).
            return inconclusive(["tls.chain_incomplete"], sentence(
                said, f"the control scan validated another certificate for the name from the same issuer "
                      f"({quote(issuer)}): a server of the site that omits its intermediate, not a chain replaced "
                      "on the way"))
        dated = out_of_date(leaf, facts.measured_at) if leaf is not None and failure == v.SSL_INVALID_CERTIFICATE \
            else None
        if leaf is not None and dated and other is not None and other.issuer == issuer:
            # The site's own certificate from the same CA, left to expire on one of its servers (an
            # edge of its CDN): a forgery names its interceptor's issuer, and no interceptor forges
            # a certificate out of date.
            return inconclusive(["tls.invalid_cert"], sentence(
                said, f"it is {dated} (valid {leaf.not_before or '?'} to {leaf.not_after or '?'}), and the control "
                      f"scan validated another certificate for the name from the same issuer ({quote(issuer)}): a "
                      "server of the site whose certificate was not renewed, not a chain replaced on the way"))
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
        replaced = _replaced_for_the_name(facts, host, attempt)
        if replaced is not None:
            return blocked("tls", ["tls.mitm"], sentence(
                said, replaced, "the chain was replaced on the way for this name only: interception that picks "
                                f"names, as Kazakhstan's did ({no_control})"))
        checked = _trust_check_clause(facts, host, attempt)
        if incomplete:
            return inconclusive([view.reason, "tls.chain_incomplete"], sentence(
                said, checked, f"{no_control}, and a site that forgets its intermediate looks the same as an "
                               "interceptor whose root is not here"))
        return inconclusive([view.reason, "tls.invalid_cert"], sentence(
            said, checked, f"{no_control}, and a site whose own chain ends at a root no browser trusts (a private "
                           "or distrusted CA) looks the same as an interceptor whose root is unknown here"))
    why = (f"the issuer is a national CA ({national.authority.id}), which sites of that country use for their own "
           "certificates" if national else
           "the chain could not be read, so who issued it is unknown" if not attempt.chain else
           "a site's own broken or self-signed certificate looks the same")
    return inconclusive([view.reason, "tls.invalid_cert"], sentence(said, f"{no_control}, and {why}"))
