"""The site refusing the vantage: neither reachable nor blocked.

Sites and the CDNs they pay refuse clients all the time - a bot challenge for an unfamiliar
client or a datacentre address, a country they do not serve (HTTP 451, "not available in your
country"), a firewall rule. None of that is a censor's doing, and none of it shows the page: the
verdict is `inconclusive` with `http.site_refused`, naming who refused.

A refusal is recognised (1) by a CDN's or web firewall's own marks (fingerprints.yaml
`site_refusals`: Cloudflare's `cf-mitigated: challenge` and challenge page, Akamai, Imperva,
Sucuri, DDoS-Guard, AWS WAF and others), over any transport - no censor dresses its blockpage as
Cloudflare's challenge; or (2) by a 403, 429 or 451 from the site itself: over TLS validated for
its host, or over plain HTTP from an address the site's name really resolves to (the control
resolver or a validated handshake agrees) unless the site's own validated HTTPS page here is its
page (then the plain refusal is not the site's: an on-path censor can inject one). A
fingerprinted blockpage is checked before this and wins.
"""

from __future__ import annotations

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.conclusion import Verdict, inconclusive
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import ControlView
from kzprobe.analysis.dns_rules import check_address, dns_control
from kzprobe.analysis.explain import cite, quote, sentence
from kzprobe.analysis.facts import HopFact, TargetFacts
from kzprobe.analysis.https_twin import twin_page


def _control_clause(view: ControlView, ctx: Context) -> str:
    final = view.final_hop
    if final is None:
        return ""
    refusal = ctx.fingerprints.refusal(final)
    if refusal is not None:
        return f"the control scan was refused too ({refusal.service})"
    if final.status in th.SITE_REFUSAL_STATUSES:
        return f"the control scan got {final.status} too"
    return f"the control scan got {final.status} from {cite(final.url, 100)}"


def _from_the_site(facts: TargetFacts, final: HopFact, view: ControlView, ctx: Context,
                   authentic: bool) -> str | None:
    """How we know the response came from the site itself, in words; None when we do not."""
    if authentic:
        return f"over TLS validated for {final.host}"
    if final.host != facts.hostname or not final.address:
        return None
    twin = twin_page(facts, ctx)
    if twin is not None and twin.status is not None and 200 <= twin.status < 300:
        # The site served this vantage its page over validated HTTPS: the refusal over plain HTTP
        # is not the site refusing the vantage (a censor injecting a 451 or 403 page on the path
        # looks so, RFC 7725 section 3 names intermediaries among who sends 451). The page rules
        # compare it with the control's page, or with that HTTPS page.
        return None
    check = check_address(final.address, facts, dns_control(facts, view), ctx)
    if check.kind == "consistent":
        return (f"from {cite(final.address)}, the site's own address ({check.detail}); over plain HTTP an "
                "on-path box could also have sent it, so it is no proof either way")
    return None


def site_refusal(facts: TargetFacts, final: HopFact, view: ControlView, ctx: Context,
                 authentic: bool, answered: str) -> Verdict | None:
    """`inconclusive` + `http.site_refused` when the final response is the site refusing us."""
    refusal = ctx.fingerprints.refusal(final)
    if refusal is not None:
        what = "bot challenge" if refusal.kind == "challenge" else "access-denied answer"
        return inconclusive(["http.site_refused"], sentence(
            answered, f"its {refusal.page.location} marks it as {refusal.service}'s {what} "
                      f"(fingerprint {refusal.id}: {quote(refusal.page.pattern, 60)})",
            f"{refusal.service}, which the site uses, refused this vantage instead of showing the page; "
            "that is the site's protection, not a censor, and the page itself was not seen",
            _control_clause(view, ctx)))
    if final.status not in th.SITE_REFUSAL_STATUSES:
        return None
    source = _from_the_site(facts, final, view, ctx, authentic)
    if source is None:
        return None
    meaning = {451: "unavailable for legal reasons, as geo-blocking sites answer",
               429: "too many requests: the site's rate limit or bot check"}.get(final.status, "forbidden")
    return inconclusive(["http.site_refused"], sentence(
        answered, f"status {final.status} ({meaning}) {source}",
        f"the site itself ({final.host}) refused this vantage: not a censor's block, and not the page",
        _control_clause(view, ctx)))
