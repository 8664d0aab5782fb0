"""The decision for one target, in the order of docs/methodology.md.

1. An offline vantage, or one behind a captive portal, decides nothing: every target is
   inconclusive.
2. Service targets (observations["endpoints"]) go to analysis/services/.
3. DNS, TCP, TLS, HTTP - the first step that explains the outcome gives the verdict; a
   reachable page is then checked for throttling.
4. When the international link is cut, a target reached abroad that failed with only silence
   (timeouts, unreachables) and no positive sign of censorship is blocked by the cut: blocking
   "network". A target reached inside the country, or whose failure proves the path to its
   server works (a refusal, a reset or alert after the ClientHello, a neutral-name handshake
   answered: analysis/domestic.py), keeps its own verdict.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kzprobe.analysis.captive import portal_clause
from kzprobe.analysis.conclusion import Verdict, blocked, inconclusive
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import ControlView, control_summary
from kzprobe.analysis.dns_rules import RESOLVES, dns_control, dns_verdict
from kzprobe.analysis.domestic import Answered, path_answered, reached_inside, reached_inside_at, silent_failures
from kzprobe.analysis.explain import addresses, sentence
from kzprobe.analysis.facts import TargetFacts
from kzprobe.analysis.http_rules import http_verdict
from kzprobe.analysis.keyword_rules import keyword_verdict
from kzprobe.analysis.services import analyse_service
from kzprobe.analysis.tor_bootstrap_rules import bootstrap_result, judge_bootstrap
from kzprobe.analysis.transport_rules import flaky_handshake_clause, tcp_verdict, tls_verdict
from kzprobe.report import vocabulary as v


def web_verdict(facts: TargetFacts, view: ControlView, ctx: Context, index: int) -> Verdict:
    """The web rules in order; `index` is the result's place in the scan (a baseline's throughput
    is never its own reference)."""
    for rule in (dns_verdict, tcp_verdict, tls_verdict):
        verdict = rule(facts, view, ctx)
        if verdict is not None:
            return verdict
    verdict = http_verdict(facts, view, ctx, index)
    flaky = flaky_handshake_clause(facts, facts.hostname) if facts.scheme == "https" else ""
    return replace(verdict, explanation=sentence(verdict.explanation, flaky)) if flaky else verdict


def _cut_clause(ctx: Context) -> str:
    baselines = ctx.connectivity.baselines
    failing = baselines.get("international", {}).get("failing", [])
    working = baselines.get("domestic", {}).get("working", [])
    return (f"the international link is cut (international baselines {addresses(failing)} fail "
            f"while domestic {addresses(working)} answer)")


def _blame_the_cut(verdict: Verdict, facts: TargetFacts, ctx: Context) -> Verdict:
    """Only silence, at a site not known to be domestic: what the cut itself does. The target's
    own (failure-based) explanation is not repeated - it says what a control would tell, and the
    cut is what tells here."""
    observed = [code for code in verdict.evidence if not code.startswith("control.")]
    return blocked("network", ["connectivity.international_cut", *observed], sentence(
        _cut_clause(ctx), f"{facts.hostname or facts.url} got only silence ({silent_failures(facts)}), which is what "
                          "the cut does, and nothing shows it is reached inside the country"))


def _keep_own_verdict(verdict: Verdict, why: str, ctx: Context) -> Verdict:
    """A target reached inside the country during the cut: its own failure, not the cut's."""
    return replace(verdict, explanation=sentence(
        verdict.explanation, f"{_cut_clause(ctx)}, but {why}: the cut does not explain this failure"))


def _behind_portal(facts: TargetFacts, index: int, view: ControlView, ctx: Context) -> Verdict:
    seen = web_verdict(facts, view, ctx, index).explanation.rstrip(".") if facts.dns is not None else ""
    if seen[:1].isupper() and seen[1:2].islower():
        seen = seen[:1].lower() + seen[1:]
    return inconclusive(["connectivity.captive_portal"], sentence(
        "this network is behind a captive portal or walled garden: "
        f"{portal_clause(ctx.connectivity.baselines.get('captive_portal'))}, and no baseline worked on its own",
        "nothing measured behind it says anything about blocking; log in to the network and scan again",
        f"here {seen}" if seen else ""))


def target_verdict(facts: TargetFacts, index: int, view: ControlView, ctx: Context,
                   result: Any = None, control_result: Any = None, *,
                   answered: Answered | None = None, interference_elsewhere: bool = False,
                   judged: dict | None = None) -> Verdict:
    """The verdict for result `index`, with the control facts it used.

    `answered`: the addresses that answered in this scan (for the cut's rule); computed from
    this target alone when not given. `interference_elsewhere`: another target of the scan is
    blocked or throttled on its own evidence (the services' mass-failure floor needs it).
    `judged`: the scan's services' endpoints judged so far (analysis/services/analyse.py)."""
    if ctx.connectivity.state == v.OFFLINE:
        return inconclusive(["connectivity.offline"], sentence(
            "nothing answered from this vantage, not even the baseline sites "
            f"({addresses(_baseline_ids(ctx))})",
            "the vantage was offline, so no failure here can be blamed on a censor"))
    bootstrap = bootstrap_result(result)
    if bootstrap is not None:  # the tor daemon's bootstrap (--tor-bootstrap): its own rules
        return judge_bootstrap(bootstrap, control_result, ctx.connectivity.state, view)
    if ctx.connectivity.state == v.CAPTIVE_PORTAL and not facts.has_endpoints:
        return _behind_portal(facts, index, view, ctx).with_control(control_summary(view))
    word = facts.raw_target.get("keyword")
    if isinstance(word, str) and not facts.url:
        # A word, not a site: judged by its neutral twins, which stand in for a control.
        observations = result.get("observations") if isinstance(result, dict) else None
        return keyword_verdict(word, observations).with_control(control_summary(view))
    answered = answered if answered is not None else Answered.of([facts])
    if facts.has_endpoints:
        # Service targets (messengers): judged endpoint by endpoint, with the web rules' verdict
        # for their url as one more member; connectivity and the control summary are theirs.
        front_end = _with_the_cut(web_verdict(facts, view, ctx, index), facts, ctx, answered) \
            if facts.url and facts.dns is not None else None

        def inside(host: str, address: str | None) -> str | None:
            return reached_inside_at(host, [address] if address else [], answered)

        return analyse_service(result, control_result, ctx, front_end=front_end, control_age_s=view.age_s,
                               control_stale=view.stale, interference_elsewhere=interference_elsewhere,
                               judged=judged, inside=inside)
    return _with_the_cut(web_verdict(facts, view, ctx, index), facts, ctx, answered).with_control(
        control_summary(view))


def _with_the_cut(verdict: Verdict, facts: TargetFacts, ctx: Context, answered: Answered) -> Verdict:
    """During an international cut: blocked by the cut when the verdict rests on silence at a site
    not known to be inside the country; else the verdict of its own failure, said to be so."""
    if ctx.connectivity.state != v.INTERNATIONAL_CUT or not verdict.failure_based or verdict.verdict == v.DOWN:
        return verdict
    inside = reached_inside(facts, answered) or path_answered(facts)
    return _keep_own_verdict(verdict, inside, ctx) if inside else _blame_the_cut(verdict, facts, ctx)


def own_interference(verdict: dict) -> bool:
    """A verdict that shows interference on its own evidence: blocked at a layer of its own (not
    by the cut) or throttled, and not by the services' mass-failure floor."""
    if verdict.get("verdict") == v.THROTTLED:
        return True
    if verdict.get("verdict") != v.BLOCKED or verdict.get("blocking") == "network":
        return False
    return not any(isinstance(e, dict) and e.get("reason") == "mass" for e in verdict.get("endpoints") or [])


def _baseline_ids(ctx: Context) -> list[str]:
    b = ctx.connectivity.baselines
    return [*b.get("international", {}).get("failing", []), *b.get("domestic", {}).get("failing", [])]


def learn_blockpage_addresses(results: list[TargetFacts], views: list[ControlView], ctx: Context) -> dict[str, str]:
    """Addresses that served a fingerprinted blockpage for a name the control resolves elsewhere.

    A lying resolver points many names at one blockpage server; once one of them shows the
    page, the others (https ones, which show only a certificate error) are recognised by the
    address. Pages injected on the site's own (consistent) address teach nothing."""
    learned: dict[str, str] = {}
    for facts, view in zip(results, views, strict=True):
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
