"""TCP and TLS to the target's own addresses: is the path to the server being cut?

With a control scan, a step that fails here and works there is blocked at that step; failing in
both is the site's own problem (down). Without a usable control, only intrinsic signs decide:
a handshake reset, closed or silenced right after the ClientHello while TCP to the same address
connects (Kazakhstan's usual SNI block), or a certificate chain from an interception root or an
untrusted issuer. One working address is enough for the step to be working.
"""

from __future__ import annotations

from kzprobe.report import vocabulary as v
from kzprobe.analysis import codes
from kzprobe.analysis import thresholds as th
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import EARLIER, FAILED, OK, ControlView
from kzprobe.analysis.explain import addresses, cite, quote, sentence
from kzprobe.analysis.facts import TargetFacts, TlsFact
from kzprobe.analysis.conclusion import Verdict, blocked, codes as evidence_codes, down, inconclusive
from kzprobe.analysis.slowness import as_slow_in_the_control, slow_site


def no_control_clause(view: ControlView, layer: str) -> str:
    """Why the control cannot decide, in words."""
    if view.step(layer) == EARLIER:
        return "the control scan failed before reaching this step, so it cannot tell"
    return f"{view.problem or 'the control has no data for this step'}"


def tcp_verdict(facts: TargetFacts, view: ControlView, ctx: Context) -> Verdict | None:
    attempts = facts.tcp_for(facts.hostname)
    if not attempts:
        return None
    usable = [t for t in attempts if not t.vantage_lacks_ipv6]
    if not usable:
        return inconclusive(["connectivity.offline"], sentence(
            f"every address tried for {facts.hostname} ({addresses([t.address for t in attempts])}) is IPv6 "
            f"and this vantage has no IPv6 route ({cite(attempts[0].failure)})",
            "it cannot test the site, which says nothing about blocking"))
    if any(t.ok for t in usable):
        return None
    evidence = evidence_codes(*(codes.evidence("tcp", t.failure) for t in usable))
    failures = ", ".join(dict.fromkeys(cite(t.failure) for t in usable))
    said = f"TCP connections to {addresses([t.address for t in usable])} for {facts.hostname} failed ({failures})"
    step = view.step("tcp")
    if step == OK:
        if all(t.failure == v.GENERIC_TIMEOUT for t in usable) and view.facts is not None:
            control_ms = as_slow_in_the_control(
                [t.duration_ms for t in usable], [t.duration_ms for t in view.facts.tcp_for(facts.hostname) if t.ok])
            if control_ms is not None:
                return slow_site(evidence, said, "TCP connect", control_ms, max(t.duration_ms or 0.0 for t in usable))
        return blocked("tcp", evidence, sentence(said, "the control scan connected to the site"), failure_based=True)
    if step == FAILED:
        return down(evidence, sentence(said, "the control scan could not connect either: the site is down"))
    return inconclusive([view.reason, *evidence], sentence(
        said, f"{no_control_clause(view, 'tcp')}, and a refused or silent port alone cannot be told from a dead server"),
        failure_based=True)


def _self_signed(attempt: TlsFact) -> bool:
    leaf = attempt.chain[0] if attempt.chain else None
    return leaf is not None and len(attempt.chain) == 1 and bool(leaf.subject) and leaf.subject == leaf.issuer


def certificate_verdict(facts: TargetFacts, host: str, attempt: TlsFact, view: ControlView,
                        ctx: Context, control_step: str) -> Verdict:
    """A handshake that completed with a certificate that does not validate for `host`."""
    failure = attempt.failure or v.SSL_INVALID_CERTIFICATE
    issuer = attempt.chain[0].issuer if attempt.chain else ""
    said = (f"the certificate {cite(attempt.address)} presented for {host} failed validation ({cite(failure)})"
            + (f", issued by {quote(issuer)}" if issuer else ""))
    if control_step == OK:
        code = "tls.mitm" if failure == v.SSL_UNKNOWN_AUTHORITY else "tls.invalid_cert"
        return blocked("tls", [code], sentence(said, "the control scan validated the site's certificate, "
                                                     "so the chain was replaced on the way"))
    if control_step == FAILED:
        return down(["tls.invalid_cert"], sentence(said, "the control scan could not validate it either: "
                                                         "the site's own certificate is at fault"))
    national = ctx.fingerprints.authority(attempt.chain, "national")
    if failure == v.SSL_UNKNOWN_AUTHORITY and national is None and not _self_signed(attempt):
        return blocked("tls", ["tls.mitm"], sentence(
            said, "a chain from an issuer no browser trusts, on the server's own address, is the mark of "
                  f"interception ({no_control_clause(view, 'tls')})"))
    why = (f"the issuer is Kazakhstan's national CA ({national.authority.id}), which some sites use for their own "
           "certificates" if national else "a site's own broken or self-signed certificate looks the same")
    return inconclusive([view.reason, "tls.invalid_cert"], sentence(said, f"{no_control_clause(view, 'tls')}, and {why}"))


def tls_attempt_verdict(facts: TargetFacts, host: str, attempts: list[TlsFact], view: ControlView,
                        ctx: Context, control_step: str) -> Verdict | None:
    """The verdict on the TLS handshakes with `host`, or None when one of them authenticated."""
    for attempt in attempts:
        interception = ctx.fingerprints.authority(attempt.chain, "interception")
        if interception is not None:
            return blocked("tls", ["tls.mitm"], sentence(
                f"TLS to {cite(attempt.address)} for {host} was intercepted: the chain names "
                f"{quote(interception.matched)}, a known interception authority ({interception.authority.id})"))
    if any(ctx.tls_authenticates(t) for t in attempts):
        return None
    certificate = [t for t in attempts if t.completed]
    if certificate:
        return certificate_verdict(facts, host, certificate[0], view, ctx, control_step)
    first = attempts[0]
    evidence = evidence_codes(*(codes.evidence("tls", t.failure) for t in attempts))
    said = (f"the TLS handshake with {cite(first.address)} for {host} failed with {cite(first.failure)} "
            "after the ClientHello")
    if control_step == OK:
        if first.failure == v.GENERIC_TIMEOUT and view.facts is not None:
            control_ms = as_slow_in_the_control(
                [first.duration_ms], [t.duration_ms for t in view.facts.tls_for(host) if t.ok])
            if control_ms is not None:
                return slow_site(evidence, said, "TLS handshake", control_ms, first.duration_ms or 0.0)
        return blocked("tls", evidence, sentence(said, "the control scan completed it"), failure_based=True)
    if control_step == FAILED:
        return down(evidence, sentence(said, "the control scan failed the handshake too: the site's TLS is broken"))
    connects = [t for t in facts.tcp_for(host) if t.ok and t.address == first.address]
    late = _late_on_a_slow_path(first, connects)
    if first.failure in codes.SNI_FILTER_FAILURES and connects and not late:
        return blocked("tls", evidence, sentence(
            said + " although TCP to the same address connected",
            f"that is how SNI filtering cuts a connection ({no_control_clause(view, 'tls')})"), failure_based=True)
    slow = (f"TCP to it alone took {min(t.duration_ms or 0.0 for t in connects):,.0f} ms, so on a path this slow "
            "the handshake may just have been late") if late else ""
    return inconclusive([view.reason, *evidence], sentence(said, slow, no_control_clause(view, "tls")), failure_based=True)


def _late_on_a_slow_path(attempt: TlsFact, connects: list) -> bool:
    """A handshake that timed out on a path where TCP alone took a large share of the wait.

    A TLS handshake costs about one round trip more than the TCP connect: when the connect took
    at least SLOW_PATH_SHARE of the time waited for the handshake (and SLOW_PATH_MIN_MS), the
    handshake may simply have been late (a satellite link, a timeout set near the round trip),
    not silenced by a middlebox."""
    if attempt.failure != v.GENERIC_TIMEOUT or not attempt.duration_ms:
        return False
    fastest = min((t.duration_ms for t in connects if t.duration_ms is not None), default=None)
    return fastest is not None and fastest >= max(th.SLOW_PATH_MIN_MS, th.SLOW_PATH_SHARE * attempt.duration_ms)


def tls_verdict(facts: TargetFacts, view: ControlView, ctx: Context) -> Verdict | None:
    if facts.scheme != "https":
        return None
    attempts = facts.tls_for(facts.hostname)
    if not attempts:
        return None
    return tls_attempt_verdict(facts, facts.hostname, attempts, view, ctx, view.step("tls"))
