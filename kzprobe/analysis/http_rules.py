"""HTTP: the redirect chain and the page it ends on.

Checked in order: a redirect to a known blockpage destination; a chain that ends on a redirect
to nowhere (an empty or hostless Location: the site's misconfiguration); a hop that failed (its
DNS, TCP, TLS or the request itself, located by the host the hop went to - a redirect can lead
into a block); a page matching a blockpage fingerprint; a plain-HTTP redirect off the site that the
control did not see; and the final page against the control's. A page that came over TLS
validated for its own host is the site's own: no censor can forge it, so it is never compared.
Before a difference from the control or a redirect off the site blocks, the plain page is checked
against the site's own validated HTTPS page here (https_twin.same_as_twin): the same page is the
site's, localised for this vantage, not a censor's.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from kzprobe.analysis import codes
from kzprobe.analysis.certificate_rules import local_inspection_verdict
from kzprobe.analysis.conclusion import Verdict, blocked, down, inconclusive, throttled
from kzprobe.analysis.context import Context
from kzprobe.analysis.control import FAILED, OK, UNKNOWN, ControlView
from kzprobe.analysis.dns_rules import RedirectLie, redirect_host_lie
from kzprobe.analysis.domains import registrable_domain, same_site
from kzprobe.analysis.explain import addresses, cite, quote, sentence
from kzprobe.analysis.facts import HopFact, TargetFacts
from kzprobe.analysis.https_twin import offsite_landing, plain_page_against_twin, same_as_twin, twin_page
from kzprobe.analysis.names import url_host, url_path
from kzprobe.analysis.pages import compare_pages
from kzprobe.analysis.refusals import site_refusal
from kzprobe.analysis.slowness import as_slow_in_the_control, budget_race, slow_site
from kzprobe.analysis.throttling import freeze_clause, reachable_or_throttled
from kzprobe.analysis.transport_rules import no_control_clause, tls_attempt_verdict
from kzprobe.report import vocabulary as v

# A Location with an authority part ("//..."), with or without a scheme.
_AUTHORITY: Final = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?//")


def _authentic(facts: TargetFacts, hop: HopFact, ctx: Context) -> bool:
    """The hop came over TLS that authenticated its host: its content is the server's own."""
    return hop.scheme == "https" and ctx.host_authenticated(facts, hop.host, hop.address)


def _answered(hop: HopFact) -> str:
    title = f" titled {quote(hop.title)}" if hop.title else ""
    via = f" from {cite(hop.address)}" if hop.address else ""
    return f"{cite(hop.url, 100)} answered {hop.status}{title}{via}"


def _unexpected_redirect(facts: TargetFacts, view: ControlView, ctx: Context, *,
                         off_site_only: bool) -> HopFact | None:
    """The first plain-HTTP (forgeable) redirect that the control's chain did not take - how a
    censor sends a request to its blockpage. `off_site_only`: only one to another site, by
    registrable domain (a site redirects within itself - www, a language, a region - and then
    its validated page is still its own)."""
    control = view.facts.http if view.facts else ()
    control_paths = {url_path(h.url) for h in control}
    for hop in facts.http[:-1]:
        if not hop.is_redirect or _authentic(facts, hop, ctx):
            continue
        destination = url_host(hop.location or "") or ""
        off_site = bool(destination) and not same_site(destination, facts.hostname) \
            and registrable_domain(destination) not in {registrable_domain(h.host or "") for h in control}
        if off_site or (not off_site_only and url_path(hop.location or "") not in control_paths):
            return hop
    return None


def _by_control(layer: str, evidence: list[str], said: str, view: ControlView, *,
                failure_based: bool = True) -> Verdict:
    step = view.step("http")
    final = view.final_hop
    if step == OK and final is not None and final.status is not None and final.status >= 500:
        # The control reached the server, which said it is failing: not a page this scan missed.
        return down(evidence, sentence(said, f"the control scan got {final.status} from {cite(final.url, 100)}: "
                                             "the site's server is failing"))
    if step == OK:
        got = (f"the control scan fetched {cite(final.url, 100)} ({final.status})" if final
               else "the control scan got the page")
        return blocked(layer, evidence, sentence(said, got), failure_based=failure_based)
    if step == FAILED:
        return down(evidence, sentence(said, "the control scan's request failed too: the site is down"))
    return inconclusive([view.reason, *evidence], sentence(said, no_control_clause(view, "http")),
                        failure_based=failure_based)


def failed_hop(facts: TargetFacts, index: int, view: ControlView, ctx: Context) -> Verdict:
    """A hop that brought no (complete) response: find which step of it failed, then compare."""
    hop = facts.http[index]
    host = hop.host or facts.hostname
    where = f"the request to {cite(hop.url, 100)}"
    if index:
        where += f" (redirected from {cite(facts.http[index - 1].url, 100)})"
    if hop.failure == v.TOO_MANY_REDIRECTS:
        said = f"{where} kept redirecting ({len(facts.http)} hops, {cite(hop.failure)})"
        control_final = view.live_page
        if control_final is not None and control_final.failure == v.TOO_MANY_REDIRECTS:
            # The control never reached a page either: the site's own redirect loop.
            return down(["http.blockpage_redirect"], sentence(
                said,
                f"the control scan's chain never ended either ({len(view.facts.http) if view.facts else 0} hops): "
                      "the site redirects in a loop everywhere"))
        if _site_loop(facts, ctx) and view.step("http") != FAILED:  # failed there too: down, below
            got = (f"the control scan reached {cite(control_final.url, 100)} ({control_final.status})"
                   if control_final is not None and control_final.status is not None
                   else no_control_clause(view, "http"))
            return inconclusive(["http.site_loop"], sentence(
                said, "every redirect of the loop came over TLS validated for its host, so the site itself sent them "
                      "(no censor can forge them)", got,
                "a site that loops for this vantage only treats it differently (by country, address or cookies): "
                "the site's doing, not a censor's"))
        return _by_control("http", ["http.blockpage_redirect"], said, view, failure_based=False)
    if host != facts.hostname:
        resolution = facts.resolution_for(host)
        if resolution is not None and not resolution.addresses:
            code = codes.evidence("dns", resolution.failure)
            return _by_control("dns", [code], f"{where} could not resolve {host} ({cite(resolution.failure)})",
                               view, failure_based=code not in codes.DNS_STATEMENTS)
        lie = redirect_host_lie(facts, host, view, ctx,
                                authentic_redirect=index > 0 and _authentic(facts, facts.http[index - 1], ctx))
        if lie is not None:
            return _lying_redirect_host(facts, hop, host, lie, where, ctx)
    # The connects of this hop: to its host, on its port (an http -> https redirect on the same
    # host opens port 443 after port 80 worked). Reports without ports count every connect.
    tcp = [t for t in facts.tcp_for(host) if not t.vantage_lacks_ipv6
           and (t.port is None or hop.port is None or t.port == hop.port)]
    if not hop.responded and tcp and not any(t.ok for t in tcp):
        evidence = [codes.evidence("tcp", t.failure) for t in tcp]
        return _by_control("tcp", evidence, f"{where}: TCP to {cite(tcp[0].address)} port {hop.port or '?'} "
                                            f"failed with {cite(tcp[0].failure)}", view)
    if hop.scheme == "https" and not hop.responded:
        attempts = facts.tls_for(host)
        if attempts and not any(ctx.tls_authenticates(t) for t in attempts):
            step = view.step("http")
            verdict = tls_attempt_verdict(facts, host, attempts, view, ctx, step if step in (OK, FAILED) else UNKNOWN)
            if verdict is not None:
                return verdict
    code = codes.evidence("http", hop.failure)
    froze = hop.responded and hop.failure == v.GENERIC_TIMEOUT and bool(hop.body_length) and hop.stopped == "idle"
    if froze:
        code = "throughput.freeze"
    # Some body came: counted, or recorded as cut short (imported OONI data whose body was not
    # kept says only that more arrived than it holds).
    some_body = bool(hop.body_length) or hop.truncated
    if hop.responded:
        got = f"{hop.body_length:,} bytes" if hop.body_length or not hop.truncated else "a body not kept"
        said = f"{where} began answering ({hop.status}, {got}) then failed with {cite(hop.failure)}"
        if froze:
            said = freeze_clause(hop.url, hop.status, hop.body_length or 0)
        elif hop.stopped == "time_budget":
            said += " while still arriving, when the target's time ran out"
        control_final = view.live_page
        if control_final is not None and control_final.failure and control_final.failure != v.BODY_TOO_LARGE:
            # The control's page broke off too (a server dripping its body, or closing midway,
            # for everyone): the site's own failure, neither throttling nor blocking.
            return down([code], sentence(said, f"the control scan's page broke off too "
                                               f"({cite(control_final.failure)} after "
                                               f"{control_final.body_length or 0:,} "
                                               "bytes): the site itself fails to deliver it"))
        if hop.failure == v.GENERIC_TIMEOUT and some_body and view.step("http") == OK:
            control_ms = budget_race(hop, view)  # a page dripping as slowly in the control: a race it won
            if control_ms is not None:
                return slow_site([code], said, "fetch of the whole page", control_ms, hop.total_ms or 0.0)
            stall = "throughput.freeze" if froze else "throughput.slow_page" if hop.stopped == "time_budget" \
                else "throughput.stall"
            return throttled([stall], sentence(said, "the control scan fetched the whole page"))
    else:
        said = f"{where} failed with {cite(hop.failure)}"
        if hop.failure == v.GENERIC_TIMEOUT and view.step("http") == OK and view.facts is not None:
            same = [h.first_byte_ms for h in view.facts.http if h.responded and url_path(h.url) == url_path(hop.url)]
            control_ms = as_slow_in_the_control([hop.total_ms], same)
            if control_ms is not None:
                return slow_site([code], said, "request", control_ms, hop.total_ms or 0.0)
    return _by_control("http", [code], said, view)


def _lying_redirect_host(facts: TargetFacts, hop: HopFact, host: str, lie: RedirectLie, where: str,
                         ctx: Context, page_evidence: tuple[str, str] | None = None) -> Verdict:
    """Blocked at DNS: the resolver lied about a host the site's own redirect led to; then what
    its answer gave - a failed connection, a handshake, or a page that is not the site's."""
    evidence = list(lie.evidence)
    clauses = [f"{where} went to {addresses(lie.addresses)}, the resolver's answer for {host}", *lie.reasons]
    failed_tcp = [t for t in facts.tcp_for(host) if t.address in lie.addresses and not t.ok]
    tls_failed = [t for t in facts.tls_for(host) if t.address in lie.addresses and not ctx.tls_authenticates(t)]
    if page_evidence is not None:
        evidence.append(page_evidence[0])
        clauses.append(page_evidence[1])
    elif failed_tcp and not any(t.ok for t in facts.tcp_for(host) if t.address in lie.addresses):
        evidence.append(codes.evidence("tcp", failed_tcp[0].failure))
        clauses.append(f"TCP to {cite(failed_tcp[0].address)} failed with {cite(failed_tcp[0].failure)}")
    elif tls_failed:
        attempt = tls_failed[0]
        interception = ctx.fingerprints.authority(attempt.chain, "interception")
        evidence.append("tls.mitm" if interception else codes.evidence("tls", attempt.failure))
        clauses.append(f"TLS to {cite(attempt.address)} failed with {cite(attempt.failure)}" if attempt.failure
                       else f"TLS to {cite(attempt.address)} was intercepted")
    elif hop.failure:
        evidence.append(codes.evidence("http", hop.failure))
        clauses.append(f"the request failed with {cite(hop.failure)}")
    # As for the target's own name: another address followed by a failure alone is no positive
    # sign (during an international cut, the cut may explain it).
    positive = any(code in evidence for code in ("dns.bogon", "dns.blockpage_ip", "tls.mitm", "tls.invalid_cert",
                                                 "http.blockpage", "http.diff"))
    return blocked("dns", evidence, sentence(*clauses), failure_based=not positive)


_reachable = reachable_or_throttled  # a page that arrived: reachable, unless throughput says throttled


def final_page(facts: TargetFacts, view: ControlView, ctx: Context, index: int) -> Verdict:
    final = facts.final_hop
    assert final is not None
    control_final = view.live_page  # a stale control's page decides nothing
    authentic = _authentic(facts, final, ctx)
    own_site = final.host == facts.hostname or same_site(final.host, facts.hostname)
    off_site = _unexpected_redirect(facts, view, ctx, off_site_only=True)
    unexpected = _unexpected_redirect(facts, view, ctx, off_site_only=False)
    redirect_clause = f"reached by a redirect from {cite(unexpected.url, 100)}" if unexpected else ""
    # A page over TLS validated for its host, reached by redirects that all came over validated TLS
    # too, is the site's own choice of page (a geo-block page on its CDN's domain, in Russian
    # saying access is blocked): no censor can forge any of it, so no blockpage pattern applies.
    chain_authentic = authentic and (own_site or all(_authentic(facts, hop, ctx) for hop in facts.http))
    pattern = None if chain_authentic else ctx.fingerprints.page(final)
    if not authentic and final.host and final.host != facts.hostname and len(facts.http) > 1:
        lie = redirect_host_lie(facts, final.host, view, ctx, authentic_redirect=_authentic(facts, facts.http[-2], ctx))
        if lie is not None and final.address in lie.addresses:
            comparison = compare_pages(final, control_final) if control_final is not None else None
            if pattern is not None:
                page = ("http.blockpage", f"it served a page matching blockpage fingerprint {pattern.id}")
            elif comparison is not None and comparison.same is False:
                page = ("http.diff", f"it served a different page ({comparison.reason})")
            else:
                page = None
            only_inconsistent = lie.evidence == ["dns.inconsistent"] and page is None
            if (comparison is None or comparison.same is not True) and not only_inconsistent:
                where = f"the request to {cite(final.url, 100)} (redirected from {cite(facts.http[-2].url, 100)})"
                return _lying_redirect_host(facts, final, final.host, lie, where, ctx, page)
    if pattern is not None and view.final_hop is not None and pattern.matches(view.final_hop):
        pattern = None  # the site's own text (an article about blocking), the control sees it too (even stale)
    answered = _answered(final)
    own_page = None if authentic else same_as_twin(facts, final, ctx)
    # The site's own validated HTTPS page here: the page own_page compared with, or one answered
    # with the same status (a refusal of its own, 451 in Russian saying access is blocked).
    twin = twin_page(facts, ctx) if not authentic else None
    if twin is not None and own_page is None and (twin.status != final.status or _ok_status(twin.status)):
        twin = None
    if pattern is not None and twin is not None and pattern.matches(twin):
        # The site's own text again, shown by its validated HTTPS page here rather than the control.
        answered = sentence(answered, f"its {pattern.location} matches blockpage fingerprint {pattern.id} "
                                      f"({quote(pattern.pattern, 60)}), and so does the site's own page over "
                                      "validated HTTPS: the site's own text").rstrip(".")
        pattern = None
    if pattern is not None:
        evidence = ["http.blockpage_redirect", "http.blockpage"] if unexpected else ["http.blockpage"]
        return blocked("http", evidence, sentence(
            _answered(final), f"its {pattern.location} matches blockpage fingerprint {pattern.id} "
                              f"({quote(pattern.pattern, 60)})", redirect_clause))
    known_server = ctx.fingerprints.address(final.address) if final.address and not authentic else None
    if known_server is not None and (control_final is None or compare_pages(final, control_final).same is not True):
        return blocked("http", ["http.blockpage"], sentence(
            _answered(final), f"{cite(final.address)} is a known blockpage address ({known_server.id})"))
    inspected = next((t for t in facts.tls_for(final.host or "") if t.address == final.address
                      and ctx.locally_inspected(t)), None) if final.scheme == "https" and not authentic else None
    if inspected is not None:
        # A page over a connection the software on this machine re-signed (an http:// site
        # redirected to HTTPS): neither the site's proven page nor a censor's.
        return local_inspection_verdict(inspected, final.host or facts.hostname, view, ctx)
    refused = site_refusal(facts, final, view, ctx, authentic, _answered(final))
    if refused is not None:
        return refused
    if final.failure and final.failure != v.BODY_TOO_LARGE:
        return failed_hop(facts, len(facts.http) - 1, view, ctx)
    server_error = final.status is not None and final.status >= 500
    no_control = no_control_clause(view, "http")
    control_refusal = ctx.fingerprints.refusal(control_final) if control_final is not None else None
    if control_refusal is not None:
        # A datacentre vantage is challenged more often than a home: its refusal is no reference page.
        control_final = None
        no_control = f"the control scan was refused by {control_refusal.service}, so its page is no reference"
    if control_final is not None:
        if server_error and control_final.status is not None and control_final.status >= 500:
            return down([], sentence(_answered(final), f"the control scan got {control_final.status} too: "
                                                       "the site's server is failing"))
        comparison = compare_pages(final, control_final)
        if own_page is not None and comparison.same is not True:
            # Before a difference or a redirect off the site blocks: the site's own validated page here.
            control_said = (f"the control scan got a different page ({comparison.reason})" if comparison.same is False
                            else f"the control's page is no reference ({comparison.reason})")
            return _reachable(facts, view, ctx, index, answered, redirect_clause, control_said,
                              f"but {own_page}: the site serves this vantage another page than the control's "
                              "(by country or language), not a censor")
        if off_site and comparison.same is not True:
            if authentic:
                return offsite_landing(facts, final, off_site, view, ctx, index, _answered(final), comparison,
                                       no_control)
            if comparison.same is None:
                return inconclusive(["control.failed", "http.blockpage_redirect"], sentence(
                    _answered(final), redirect_clause, comparison.reason))
            return blocked("http", ["http.blockpage_redirect", "http.diff"], sentence(
                _answered(final), f"{redirect_clause} the control scan did not take",
                f"the control's page differs: {comparison.reason}"))
        if authentic:
            return _reachable(facts, view, ctx, index, _answered(final), f"over TLS validated for {final.host}")
        if comparison.same is True:
            return _reachable(facts, view, ctx, index, _answered(final),
                              f"the control's page matches ({comparison.reason})")
        if server_error and not unexpected:
            return _server_error_here(facts, final, control_final, ctx, _answered(final))
        if comparison.same is False:
            evidence = ["http.blockpage_redirect", "http.diff"] if unexpected else ["http.diff"]
            return blocked("http", evidence, sentence(
                _answered(final), redirect_clause and f"{redirect_clause} the control scan did not take",
                f"the control scan got a different page: {comparison.reason}"))
        return inconclusive(["control.failed"], sentence(_answered(final), comparison.reason))
    if authentic:
        if off_site:
            return offsite_landing(facts, final, off_site, view, ctx, index, _answered(final), None, no_control)
        if server_error:
            return down([],
                        sentence(_answered(final), "the site's own server, over validated TLS, answered with an error"))
        return _reachable(facts, view, ctx, index, _answered(final), f"over TLS validated for {final.host}")
    if server_error and view.usable and not view.stale:
        # The control got no page at all (it failed at some step): an error page here - often a
        # proxy's "bad gateway" - says the same, the site is down, not blocked.
        return down([], sentence(_answered(final), "the control scan could not fetch the page either"))
    against_https = plain_page_against_twin(facts, final, view, ctx, index, answered, no_control)
    if against_https is not None:
        return against_https
    return inconclusive([view.reason], sentence(
        _answered(final), f"over plain HTTP, and {no_control}",
        "a blockpage no fingerprint knows cannot be ruled out without the control's page"))


def _server_error_here(facts: TargetFacts, final: HopFact, control_final: HopFact, ctx: Context,
                       answered: str) -> Verdict:
    """A server error (5xx) over plain HTTP, no blockpage in it, while the control got the page:
    `inconclusive` + `http.server_error`. A server fails for its own reasons - an overloaded edge
    of its CDN serving this region, a moment's outage between the two fetches - as often as a
    censor answers with a failure (Kazakhstan's filters time out, reset or show a blockpage);
    OONI reads any status difference as http-diff, kzprobe will not publish it as a block. The
    site's own validated HTTPS fetch here, when it was made, says which side erred."""
    validated = twin_page(facts, ctx)
    if validated is not None and validated.status is not None and validated.status >= 500:
        clauses = [f"the site's own server answered {validated.status} over validated HTTPS here too "
                   f"({cite(validated.url, 100)}): the site fails for this vantage or at this moment, "
                   "no censor's doing"]
    else:
        if validated is not None and _ok_status(validated.status):
            twin_clause = (f"the site's own page over validated HTTPS ({cite(validated.url, 100)}) was served here: "
                           "only its plain-HTTP answer failed")
        elif facts.https_check is not None and facts.https_check.final_hop is not None:
            twin_clause = "the site's HTTPS fetch here is no reference (not validated, refused or failed)"
        else:
            twin_clause = ""
        clauses = [twin_clause, f"a server error ({final.status}) matching no blockpage fingerprint is the server's "
                                "own trouble as often as a censor's: no evidence of a block either way"]
    return inconclusive(["http.server_error"], sentence(
        answered, f"the control scan got {control_final.status} from {cite(control_final.url, 100)}", *clauses))


def _ok_status(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _site_loop(facts: TargetFacts, ctx: Context) -> bool:
    """The redirects that loop (from the first repeated URL on; without a repeat, every hop after
    the first) all came over TLS validated for their hosts: the site's own, which no censor forges."""
    hops = facts.http
    last = hops[-1].location if hops else None
    start = next((i for i, h in enumerate(hops) if h.url == last), 1)
    cycle = hops[start:]
    return bool(cycle) and all(h.is_redirect and _authentic(facts, h, ctx) for h in cycle)


def broken_location(hop: HopFact) -> str | None:
    """The Location of a redirect that leads nowhere - empty, or an authority without a host
    ("http://", "https:///") - which no browser can follow; None for any other hop. Python's
    urljoin reads such a Location as the same URL again, so a probe records a loop."""
    if hop.status is None or not 300 <= hop.status < 400:
        return None
    raw = hop.headers.get("location")
    if raw is None:
        return None
    raw = raw.strip()
    if not raw:
        return raw
    if _AUTHORITY.match(raw):
        try:
            host = urlsplit(raw).hostname
        except ValueError:
            return raw
        if not host:
            return raw
    return None


def _broken_redirect(hop: HopFact, location: str, view: ControlView) -> Verdict:
    """The chain ends on a redirect to nowhere: the site's misconfiguration, never a block. A
    censor's redirect leads to its blockpage; one that leads nowhere is not a censor's way."""
    said = sentence(f"{_answered(hop)} with a Location that leads nowhere ({quote(location or '(empty)', 60)})",
                    "no browser can follow it")
    if view.step("http") == FAILED:
        return down(["http.broken_redirect"], sentence(said, "the control scan's request failed too: "
                                                             "the site's own redirect is broken"))
    control_final = view.live_page
    got = (f"the control scan got {control_final.status} from {cite(control_final.url, 100)}"
           if control_final is not None and control_final.status is not None else no_control_clause(view, "http"))
    return inconclusive(["http.broken_redirect"], sentence(
        said, got, "a censor redirects to its blockpage, not to nowhere: the site's broken redirect, not a block"))


def http_verdict(facts: TargetFacts, view: ControlView, ctx: Context, index: int) -> Verdict:
    hops = facts.http
    if not hops:
        return nothing_fetched(facts, view)
    for hop in hops:
        if hop.is_redirect and not _authentic(facts, hop, ctx):
            destination = ctx.fingerprints.redirect(hop.location or "")
            if destination is not None:
                return blocked("http", ["http.blockpage_redirect"], sentence(
                    f"{cite(hop.url, 100)} redirected to {cite(hop.location, 100)}",
                    f"a known blockpage destination ({destination.id})"))
    nowhere = broken_location(hops[-1])
    if nowhere is not None:
        return _broken_redirect(hops[-1], nowhere, view)
    if not hops[-1].responded:
        return failed_hop(facts, len(hops) - 1, view, ctx)
    return final_page(facts, view, ctx, index)


def nothing_fetched(facts: TargetFacts, view: ControlView) -> Verdict:
    """DNS (and maybe TCP/TLS) went through but no HTTP exchange was recorded."""
    if not facts.tcp:
        step, code = "TCP connect", "tcp.timeout"
    elif facts.scheme == "https" and not facts.tls:
        step, code = "TLS handshake", "tls.timeout"
    else:
        step, code = "HTTP request", "http.timeout"
    if facts.deadline_exceeded:
        return inconclusive([code], sentence(
            f"the target's time budget ran out before the {step} to {facts.hostname} finished",
            "a budget is the probe's own limit, not an answer from the network"))
    return inconclusive([view.reason], sentence(
        f"no {step} to {facts.hostname} was recorded, so there is nothing to judge"))
