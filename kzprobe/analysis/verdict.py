"""The decision for one target, in the order of docs/methodology.md.

1. An offline vantage decides nothing: every target is inconclusive.
2. Service targets (observations["endpoints"]) go to analysis/services/.
3. DNS, TCP, TLS, HTTP - the first step that explains the outcome gives the verdict; a
   reachable page is then checked for throttling.
4. When the international link is cut, a target that failed without a positive sign of
   censorship (only timeouts, resets, refusals) is blocked by the cut: blocking "network".
"""

from __future__ import annotations

from typing import Any

from kzprobe.report import vocabulary as v
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import ControlView, control_summary
from kzprobe.analysis.dns_rules import RESOLVES, dns_control, dns_verdict
from kzprobe.analysis.explain import addresses, sentence
from kzprobe.analysis.facts import TargetFacts
from kzprobe.analysis.http_rules import http_verdict
from kzprobe.analysis.conclusion import Verdict, blocked, inconclusive
from kzprobe.analysis.services import analyse_service
from kzprobe.analysis.transport_rules import tcp_verdict, tls_verdict


def web_verdict(facts: TargetFacts, index: int, view: ControlView, ctx: Context) -> Verdict:
    for rule in (dns_verdict, tcp_verdict, tls_verdict):
        verdict = rule(facts, view, ctx)
        if verdict is not None:
            return verdict
    return http_verdict(facts, view, ctx, index)


def _cut_clause(ctx: Context) -> str:
    baselines = ctx.connectivity.baselines
    failing = baselines.get("international", {}).get("failing", [])
    working = baselines.get("domestic", {}).get("working", [])
    return (f"the international link is cut (international baselines {addresses(failing)} fail "
            f"while domestic {addresses(working)} answer)")


def _blame_the_cut(verdict: Verdict, facts: TargetFacts, ctx: Context) -> Verdict:
    observed = [code for code in verdict.evidence if not code.startswith("control.")]
    detail = verdict.explanation.rstrip(".")
    if detail[:1].isupper() and detail[1:2].islower():  # "The TLS…" reads on as "the TLS…", "TCP…" stays
        detail = detail[:1].lower() + detail[1:]
    return blocked("network", ["connectivity.international_cut", *observed], sentence(
        _cut_clause(ctx), f"{facts.hostname or facts.url} fails with it: {detail}"))


def target_verdict(facts: TargetFacts, index: int, view: ControlView, ctx: Context,
                   result: Any = None, control_result: Any = None) -> Verdict:
    """The verdict for result `index`, with the control facts it used."""
    if ctx.connectivity.state == v.OFFLINE:
        return inconclusive(["connectivity.offline"], sentence(
            "nothing answered from this vantage, not even the baseline sites "
            f"({addresses(_baseline_ids(ctx))})",
            "the vantage was offline, so no failure here can be blamed on a censor"))
    if facts.has_endpoints:
        # Service targets (messengers): judged endpoint by endpoint, with the web rules' verdict
        # for their url as one more member; connectivity and the control summary are theirs.
        front_end = web_verdict(facts, index, view, ctx) if facts.url and facts.dns is not None else None
        return analyse_service(result, control_result, ctx, front_end=front_end)
    verdict = web_verdict(facts, index, view, ctx)
    if ctx.connectivity.state == v.INTERNATIONAL_CUT and verdict.failure_based and verdict.verdict != v.DOWN:
        verdict = _blame_the_cut(verdict, facts, ctx)
    return verdict.with_control(control_summary(view))


def _baseline_ids(ctx: Context) -> list[str]:
    b = ctx.connectivity.baselines
    return [*b.get("international", {}).get("failing", []), *b.get("domestic", {}).get("failing", [])]


def learn_blockpage_addresses(results: list[TargetFacts], views: list[ControlView], ctx: Context) -> dict[str, str]:
    """Addresses that served a fingerprinted blockpage for a name the control resolves elsewhere.

    A lying resolver points many names at one blockpage server; once one of them shows the
    page, the others (https ones, which show only a certificate error) are recognised by the
    address. Pages injected on the site's own (consistent) address teach nothing."""
    learned: dict[str, str] = {}
    for facts, view in zip(results, views):
        final = facts.final_hop
        if final is None or not final.address or ctx.host_authenticated(facts, final.host, final.address):
            continue
        pattern = ctx.fingerprints.page(final)
        if pattern is None or (view.final_hop is not None and pattern.matches(view.final_hop)):
            continue
        control = dns_control(facts, view)
        if control.state == RESOLVES and final.address not in control.addresses:
            learned.setdefault(final.address, pattern.id)
    return learned
