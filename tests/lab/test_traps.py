"""The lab's pieces for issue 22's traps, without namespaces: the flaky resolver, the captive
portal's resolver and namespace, and the runs without a control scan."""

from __future__ import annotations

import ipaddress

import dns.edns
import dns.message
import dns.rcode
import pytest

from kzprobe.lab import NETWORK_RUNS, SCENARIOS
from kzprobe.lab import addresses as a
from kzprobe.lab import site_spec as m
from kzprobe.lab.plan import (
    CUT_INSPECTION,
    CUT_PORTAL,
    CUT_PORTAL_PAGE,
    INSIDE,
    PORTAL_HOST,
    allocate,
    inside_role,
    plan_namespace,
)
from kzprobe.lab.scenarios import no_control_expectations, scenario_by_id
from kzprobe.lab.servers.dns import LabResolver
from kzprobe.lab.servers.portal import login_page_for
from kzprobe.report import vocabulary as v

FLAKY = {"flaky.kzlab.test": {"action": m.DNS_FLAKY, "a": ["88.198.1.9"], "aaaa": []}}


def _ask(resolver: LabResolver, name: str, qtype: str = "A", *, edns: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, qtype, use_edns=0 if edns else None)
    return dns.message.from_wire(resolver.answer(query.to_wire()))


@pytest.mark.parametrize("edns", [False, True], ids=["plain", "edns"])
def test_the_flaky_resolver_fails_every_other_query_per_name_and_type(edns):
    resolver = LabResolver("127.0.0.1", FLAKY, "isp")
    replies = [_ask(resolver, "flaky.kzlab.test", edns=edns) for _ in range(4)]
    assert [r.rcode() for r in replies] == [dns.rcode.SERVFAIL, dns.rcode.NOERROR] * 2
    assert [rr.to_text() for rrset in replies[1].answer for rr in rrset] == ["88.198.1.9"]
    # AAAA counts on its own: its first query fails too.
    assert _ask(resolver, "flaky.kzlab.test", "AAAA").rcode() == dns.rcode.SERVFAIL


def test_the_flaky_resolver_counts_queries_that_take_the_dnspython_path():
    resolver = LabResolver("127.0.0.1", FLAKY, "isp")
    # An EDNS option (client subnet): not the plain shape, so dnspython renders the reply.
    query = dns.message.make_query("flaky.kzlab.test", "A", use_edns=0, options=[dns.edns.ECSOption("95.57.1.0", 24)])
    rcodes = [dns.message.from_wire(resolver.answer(query.to_wire())).rcode() for _ in range(2)]
    assert rcodes == [dns.rcode.SERVFAIL, dns.rcode.NOERROR]


def test_a_default_record_answers_every_other_name():
    portal = {"action": m.DNS_SPOOF, "a": [a.PORTAL_ADDRESS], "aaaa": []}
    resolver = LabResolver("127.0.0.1", {}, "portal", default=portal)
    for name in ("anything.example", PORTAL_HOST, "x.kz"):
        reply = _ask(resolver, name)
        assert [rr.to_text() for rrset in reply.answer for rr in rrset] == [a.PORTAL_ADDRESS]
    assert LabResolver("127.0.0.1", {}, "isp").answer(dns.message.make_query("x.kz", "A").to_wire()) is not None
    assert _ask(LabResolver("127.0.0.1", {}, "isp"), "x.kz").rcode() == dns.rcode.NXDOMAIN


def test_behind_the_portal_only_the_resolver_and_the_portal_answer():
    allocation = allocate(SCENARIOS)
    plan = plan_namespace(INSIDE, SCENARIOS, allocation, CUT_PORTAL)
    assert plan.role == inside_role(CUT_PORTAL) == "inside-portal"
    assert set(plan.local) == {a.ISP_RESOLVER, a.PORTAL_ADDRESS}
    assert {str(a.INTERNATIONAL_V4), str(a.DOMESTIC_V4), str(a.INTERNATIONAL_V6)} <= set(plan.dropped)
    [resolver] = plan.config["resolvers"]
    assert resolver["default"]["a"] == [a.PORTAL_ADDRESS]
    assert all(record["a"] == [a.PORTAL_ADDRESS] for record in resolver["records"].values())
    assert plan.config["portal"] == {"address": a.PORTAL_ADDRESS, "host": PORTAL_HOST}
    assert ipaddress.ip_address(a.PORTAL_ADDRESS).is_private  # what hotel and café gateways use
    assert f"{a.PORTAL_ADDRESS}/32" in a.guard_allow()


def test_a_portal_that_leaves_dns_alone_takes_every_address_and_answers_in_place():
    allocation = allocate(SCENARIOS)
    plan = plan_namespace(INSIDE, SCENARIOS, allocation, CUT_PORTAL_PAGE)
    assert plan.role == "inside-portal-page" and plan.dropped == ()
    every_site = {address for where in allocation.sites.values() for address in where.all}
    assert every_site <= set(plan.local)
    assert plan.config["web"]["listeners"] == [], "only the portal answers on the sites' ports"
    assert plan.config["portal"] == {"address": None, "host": PORTAL_HOST}
    isp = next(r for r in plan.config["resolvers"] if r["label"] == "isp")
    assert "default" not in isp and isp["records"]["dynamic-page.kzlab.test"]["a"] == list(
        allocation.sites["dynamic-page.kzlab.test"].v4), "DNS left honest"
    page = login_page_for("http://dynamic-page.kzlab.test/?a=<b>")
    assert b"<title>Wi-Fi: log in</title>" in page and b"http://dynamic-page.kzlab.test/?a=&lt;b&gt;" in page


def test_an_antivirus_on_the_machine_changes_nothing_of_the_network():
    allocation = allocate(SCENARIOS)
    plain, inspected = (plan_namespace(INSIDE, SCENARIOS, allocation, cut) for cut in (None, CUT_INSPECTION))
    assert (inspected.local, inspected.dropped) == (plain.local, plain.dropped)
    assert inspected.config["web"]["inspection"] is True and plain.config["web"]["inspection"] is False


def test_runs_without_a_control_cover_every_trap_and_speak_the_vocabulary():
    catalogue = scenario_by_id()
    without = no_control_expectations(SCENARIOS)
    for sid in ("dns-flaky", "domestic-sni", "domestic-refused", "service-outage-refused", "dns-blockpage-shared"):
        assert sid in without and catalogue[sid].expect is not None
    runs = {r.id: r for r in NETWORK_RUNS}
    assert runs["captive-portal"].connectivity == v.CAPTIVE_PORTAL and runs["captive-portal"].no_control
    assert runs["captive-portal-page"].connectivity == v.CAPTIVE_PORTAL and runs["captive-portal-page"].no_control
    assert runs["local-inspection"].connectivity == v.ONLINE and runs["local-inspection"].no_control
    assert {"domestic-sni", "domestic-refused"} <= set(runs["international-cut"].expect)
    for run in NETWORK_RUNS:
        assert set(run.no_control) <= set(run.scenario_ids)
    for expect in [*without.values(), *(e for r in NETWORK_RUNS for e in r.no_control.values())]:
        assert expect.verdict in v.VERDICTS and all(code in v.EVIDENCE_CODES for code in expect.evidence)
        assert expect.verdict != v.INCONCLUSIVE or expect.evidence


def test_the_domestic_sites_share_a_routed_network_with_the_domestic_baselines():
    allocation = allocate(SCENARIOS)
    baseline = ipaddress.ip_network(f"{allocation.sites['baseline-domestic-1.kzlab.test'].v4[0]}/24", strict=False)
    for host in ("domestic-sni.kzlab.test", "domestic-refused.kzlab.test"):
        assert ipaddress.ip_address(allocation.sites[host].v4[0]) in baseline
