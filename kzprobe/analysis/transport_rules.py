"""TCP and TLS to the target's own addresses: is the path to the server being cut?

With a control scan, a step that fails here and works there is blocked at that step; failing in
both is the site's own problem (down). Without a usable control, only intrinsic signs decide:
a handshake reset, closed or silenced right after the ClientHello while TCP to the same address
connects (Kazakhstan's usual SNI block), or a certificate chain from an interception root or an
untrusted issuer. One working address is enough for the step to be working.
"""

from __future__ import annotations

from kzprobe.analysis import codes
from kzprobe.analysis import thresholds as th
from kzprobe.analysis.certificate_rules import certificate_verdict, installed_root_verdict
from kzprobe.analysis.conclusion import Verdict, blocked, down, inconclusive
from kzprobe.analysis.conclusion import codes as evidence_codes
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import EARLIER, FAILED, OK, ControlView
from kzprobe.analysis.explain import addresses, cite, quote, sentence
from kzprobe.analysis.facts import TargetFacts, TcpFact, TlsFact
from kzprobe.analysis.slowness import as_slow_in_the_control, slow_site
from kzprobe.report import vocabulary as v


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
        said,
        f"{no_control_clause(view, 'tcp')}, and a refused or silent port alone cannot be told from a dead server"),
        failure_based=True)


def tls_attempt_verdict(facts: TargetFacts, host: str, attempts: list[TlsFact], view: ControlView,
                        ctx: Context, control_step: str) -> Verdict | None:
    """The verdict on the TLS handshakes with `host`, or None when one of them authenticated."""
    for attempt in attempts:
        interception = ctx.fingerprints.authority(attempt.chain, "interception")
        if interception is not None:
            return blocked("tls", ["tls.mitm"], sentence(
                f"TLS to {cite(attempt.address)} for {host} was intercepted: the chain names "
                f"{quote(interception.matched)}, a known interception authority ({interception.authority.id})"))
    installed = installed_root_verdict(facts, host, attempts, view, ctx)
    if installed is not None:
        return installed
    if any(t.ok for t in attempts):  # validated: interception and installed roots were ruled out above
        return None
    certificate = [t for t in attempts if t.completed]
    if certificate:
        return certificate_verdict(facts, host, certificate[0], view, ctx, control_step,
                                   no_control_clause(view, "tls"))
    return handshake_failure_verdict(facts, host, attempts, view, control_step)


def _neutral_for(facts: TargetFacts, host: str, attempts: list[TlsFact]) -> tuple[TlsFact | None, bool]:
    """(a neutral-name handshake that the server answered at an address where the real name
    failed, or None; whether a neutral retry was recorded at all - a handshake, or a connection
    that failed before it)."""
    failed = {t.address for t in attempts if not t.completed}
    neutral = [t for t in facts.extra_tls(host, v.PURPOSE_NEUTRAL_SNI) if t.address in failed]
    tried = bool(neutral) or any(t.address in failed for t in facts.extra_tcp(host, v.PURPOSE_NEUTRAL_SNI))
    return next((t for t in neutral if t.answered), None), tried


def _failed_again(attempts: list[TlsFact], neutral: TlsFact | None) -> TlsFact | None:
    """The real name's second try (purpose "sni_confirm") at the address that answered the
    neutral name, when it failed before a certificate came too; None otherwise (not recorded,
    its connection failed, or it passed: one failure of a flaky server)."""
    if neutral is None:
        return None
    return next((t for t in attempts if t.purpose == v.PURPOSE_SNI_CONFIRM and t.address == neutral.address
                 and not t.completed and t.failure is not None), None)


def sni_filtered_at(facts: TargetFacts, host: str, addresses: list[str]) -> bool:
    """At one of `addresses`, the name was reset, closed or silenced after the ClientHello, the
    same address answered the neutral name and the name failed there again: the name is what is
    cut there."""
    failed = [t for t in facts.tls_for(host) if t.address in addresses and not t.completed
              and t.failure in codes.SNI_FILTER_FAILURES]
    neutral, _ = _neutral_for(facts, host, failed) if failed else (None, False)
    return _failed_again(failed, neutral) is not None


def flaky_handshake_clause(facts: TargetFacts, host: str) -> str:
    """The real name failed once after the ClientHello, then passed on its second try after the
    neutral name: said in the explanation of whatever the rest of the chain decides."""
    attempts = facts.tls_for(host)
    passed = [t for t in attempts if t.purpose == v.PURPOSE_SNI_CONFIRM and t.ok]
    if not passed:
        return ""
    first = next((t for t in attempts if t.purpose is None and t.address == passed[0].address and not t.ok), None)
    failure = f" with {cite(first.failure)}" if first is not None and first.failure else ""
    return (f"the first TLS handshake with {cite(passed[0].address)} for {host} failed{failure}, but the address "
            f"answered the neutral name {quote(_neutral_name(facts, host))} and the real name on a second try: "
            "one failure of a flaky server or path, not a filter on the name")


def _neutral_name(facts: TargetFacts, host: str) -> str:
    """The neutral server name the SNI split sent, as recorded."""
    return next((t.sni for t in facts.extra_tls(host, v.PURPOSE_NEUTRAL_SNI) if t.sni), "a neutral name")


def handshake_failure_verdict(facts: TargetFacts, host: str, attempts: list[TlsFact], view: ControlView,
                              control_step: str) -> Verdict:
    """Every handshake failed before a certificate came (reset, close, silence, an alert).

    The SNI split decides without a control: the same address answering a neutral name where
    the real name failed, and the real name failing there again on a second try, is SNI
    filtering (a second try that passes was a flaky server: the step works); failing a neutral
    name too, the server or the address
    refuses every ClientHello, which only a control can tell apart (IP blocking, or a broken server)."""
    first = attempts[0]
    evidence = evidence_codes(*(codes.evidence("tls", t.failure) for t in attempts))
    said = (f"the TLS handshake with {cite(first.address)} for {host} failed with {cite(first.failure)} "
            "after the ClientHello")
    neutral, split_tried = _neutral_for(facts, host, attempts)
    again = _failed_again(attempts, neutral)
    split = (f"a handshake naming {quote(neutral.sni)} instead got an answer from {cite(neutral.address)}"
             if neutral is not None else "")
    if again is not None:
        split = f"{split}, and the real name failed again on a new connection ({cite(again.failure)})"
    neither = _neutral_failed_clause(facts, host) if split_tried and neutral is None else ""
    elsewhere = _at_control_addresses_clause(facts, host)
    if control_step == OK:
        # Whatever the neutral name got: a server slow for everyone may answer a name it does not
        # serve at once (an alert) and the real one only after its backend, as slowly in the control.
        if first.failure == v.GENERIC_TIMEOUT and view.facts is not None:
            control_ms = as_slow_in_the_control(
                [first.duration_ms], [t.duration_ms for t in view.facts.tls_for(host) if t.ok])
            if control_ms is not None:
                return slow_site(evidence, sentence(said, split) if split else said, "TLS handshake", control_ms,
                                 first.duration_ms or 0.0)
        return blocked("tls", [*evidence, "tls.sni_filter"] if again else evidence,
                       sentence(said, elsewhere, split,
                                neither and f"{neither}: the address, not only the name, is cut",
                                "the control scan completed it"), failure_based=again is None)
    if control_step == FAILED:
        return down(evidence, sentence(said, "the control scan failed the handshake too: the site's TLS is broken"))
    connects = [t for t in facts.tcp_for(host) if t.ok and t.address == first.address]
    late = _late_on_a_slow_path(first, connects)
    if first.failure in codes.SNI_FILTER_FAILURES and again is not None and not late:
        return blocked("tls", [*evidence, "tls.sni_filter"], sentence(
            said, elsewhere, split, "the name, not the server, is what is cut: SNI filtering "
                         f"({no_control_clause(view, 'tls')})"),
            # The address answered the neutral name: the path works, so no cut of the link explains it.
            failure_based=False)
    if first.failure in codes.SNI_FILTER_FAILURES and neutral is not None and not late:
        return inconclusive([view.reason, *evidence], sentence(
            said, split, "but the real name was not tried again there (or its new connection failed), so one "
                         "failure of a flaky server cannot be told from a filter on the name "
                         f"({no_control_clause(view, 'tls')})"), failure_based=True)
    if first.failure in codes.SNI_FILTER_FAILURES and split_tried and neutral is None:
        return inconclusive([view.reason, *evidence], sentence(
            said, neither,
            "the server or its address refuses every ClientHello, which looks the same whether a censor blocks "
            f"the address or the server is broken ({no_control_clause(view, 'tls')})"), failure_based=True)
    slow = (f"TCP to it alone took {min(t.duration_ms or 0.0 for t in connects):,.0f} ms, so on a path this slow "
            "the handshake may just have been late") if late else ""
    unsplit = ("no handshake with a neutral name was recorded, so SNI filtering cannot be told from a server that "
               "refuses every ClientHello") if first.failure in codes.SNI_FILTER_FAILURES and not late else ""
    return inconclusive([view.reason, *evidence], sentence(said, slow, unsplit, no_control_clause(view, "tls")),
                        failure_based=True)


def _neutral_failed_clause(facts: TargetFacts, host: str) -> str:
    """How the neutral-name retry failed, in words."""
    handshakes = facts.extra_tls(host, v.PURPOSE_NEUTRAL_SNI)
    if handshakes:
        first = handshakes[0]
        return (f"a handshake naming {quote(first.sni or 'a neutral name')} to the same address failed too "
                f"({cite(first.failure)})")
    connects = [t for t in facts.extra_tcp(host, v.PURPOSE_NEUTRAL_SNI) if t.failure]
    failure = cite(connects[0].failure) if connects else "no answer"
    return f"a new connection to the same address, for a handshake with a neutral name, failed too ({failure})"


def _at_control_addresses_clause(facts: TargetFacts, host: str) -> str:
    """The real name tried at the addresses only the control resolver returned, when it failed there too."""
    tried = facts.extra_tcp(host, v.PURPOSE_CONTROL_ADDRESS)
    handshakes = facts.extra_tls(host, v.PURPOSE_CONTROL_ADDRESS)
    if not tried or any(t.ok for t in handshakes):
        return ""
    steps: list[TlsFact | TcpFact] = [*handshakes, *tried]
    failures = ", ".join(dict.fromkeys(cite(t.failure) for t in steps if t.failure))
    return (f"the name failed at {addresses([t.address for t in tried])} too, which the control resolver "
            f"returned ({failures}), so the resolver's answer is not what stops it")


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
