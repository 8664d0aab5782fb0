"""HTTP without a control: the site's own HTTPS page as the reference, and redirects off the site.

For an http:// target the probe also fetches the same URL over HTTPS (observations.https_check).
When every hop of that fetch came over TLS validated for its host, its page is the site's own -
no censor can forge it - and the plain page is checked against it: the same page is the site,
reachable; a different page is evidence (`http.diff`), though not proof: a blockpage no
fingerprint knows looks the same as a site serving other content over HTTP than over HTTPS.

A plain-HTTP redirect to another registrable domain that lands on a page over validated TLS is
no proof of a block either: sites send visitors to a national domain or a regional page by where
they come from. Unless a fingerprint knows the destination or the page (checked before), it is
`inconclusive` with `http.offsite_redirect` - or the site's own doing, reachable, when the site's
HTTPS fetch is sent to the same registrable domain over validated TLS.
"""

from __future__ import annotations

from kzprobe.analysis.conclusion import Verdict, inconclusive
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import ControlView
from kzprobe.analysis.domains import registrable_domain, same_site
from kzprobe.analysis.explain import cite, sentence
from kzprobe.analysis.facts import HopFact, TargetFacts
from kzprobe.analysis.pages import PageComparison, compare_pages
from kzprobe.analysis.throttling import reachable_or_throttled
from kzprobe.report import vocabulary as v


def twin_page(facts: TargetFacts, ctx: Context) -> HopFact | None:
    """The HTTPS fetch's final page when every hop of it came over TLS validated for its host
    (and no CDN or firewall refused it): the site's own page. None otherwise."""
    twin = facts.https_check
    if twin is None or not twin.http:
        return None
    final = twin.final_hop
    if final is None or (final.failure and final.failure != v.BODY_TOO_LARGE):
        return None
    if not all(h.scheme == "https" and ctx.host_authenticated(twin, h.host, h.address) for h in twin.http):
        return None
    return None if ctx.fingerprints.refusal(final) is not None else final


def same_as_twin(facts: TargetFacts, final: HopFact, ctx: Context) -> str | None:
    """Why a page that came without TLS authenticating it is still the site's own, in words: it is
    the same page as the site's validated HTTPS page here. None when there is no such page, or it
    differs. Checked before a difference from the control's page or a redirect off the site
    blocks anything: a site that localises by country (another language, a national domain)
    serves the control another page, and its own validated page here shows which one is real."""
    twin = twin_page(facts, ctx)
    if twin is None or twin.status is None or not 200 <= twin.status < 300:
        return None
    comparison = compare_pages(final, twin, "over HTTPS")
    if comparison.same is not True:
        return None
    return (f"the site's own page over validated HTTPS here ({cite(twin.url, 100)}) is the same page "
            f"({comparison.reason}), which no censor can forge")


def plain_page_against_twin(facts: TargetFacts, final: HopFact, view: ControlView, ctx: Context, index: int,
                            answered: str, no_control: str) -> Verdict | None:
    """A plain-HTTP page without the control's: compared with the site's own HTTPS page."""
    twin = twin_page(facts, ctx)
    if twin is None or twin.status is None or not 200 <= twin.status < 300:
        return None
    comparison = compare_pages(final, twin, "over HTTPS")
    where = f"the site's own page over validated HTTPS ({cite(twin.url, 100)})"
    if comparison.same is True:
        return reachable_or_throttled(facts, view, ctx, index, answered,
                                      f"{where} is the same page ({comparison.reason})")
    if comparison.same is False:
        return inconclusive([view.reason, "http.diff"], sentence(
            answered, f"over plain HTTP, and {no_control}", f"{where} differs: {comparison.reason}",
            "a blockpage no fingerprint knows, or a site serving other content over HTTP than over HTTPS; "
            "a control scan would tell"))
    return None


def offsite_landing(facts: TargetFacts, final: HopFact, redirect: HopFact, view: ControlView, ctx: Context,
                    index: int, answered: str, comparison: PageComparison | None, no_control: str) -> Verdict:
    """A plain-HTTP redirect to another registrable domain, ending on a page over validated TLS that
    no fingerprint knows: the site's own doing when its HTTPS fetch goes there too, else no proof."""
    twin = twin_page(facts, ctx)
    landed = f"over TLS validated for {final.host}, reached by a plain-HTTP redirect from {cite(redirect.url, 100)}"
    if twin is not None and same_site(twin.host, final.host):
        return reachable_or_throttled(facts, view, ctx, index, answered, landed, (
            f"the site's own HTTPS fetch, validated at every hop, also leads to {registrable_domain(final.host or '')} "
            f"({cite(twin.url, 100)}): the redirect is the site's"))
    evidence = ["http.offsite_redirect"]
    if comparison is not None and comparison.same is False:
        evidence.append("http.diff")
        control = f"the control scan's page differs: {comparison.reason}"
    elif comparison is not None:
        control = comparison.reason
    else:
        control = no_control
    return inconclusive(evidence, sentence(
        answered, landed, f"to another site ({registrable_domain(final.host or '')}, not "
                          f"{registrable_domain(facts.hostname)})", control,
        "a validated page no blockpage fingerprint knows is no proof of a block: sites send visitors to a "
        "national domain or a regional page by where they come from, and the page there is that site's own"))
