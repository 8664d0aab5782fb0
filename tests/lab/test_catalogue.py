"""The lab's catalogue and plan as data: complete, consistent, and honest about its addresses.

No namespaces here: these run everywhere and say what the lab promises before it is built.
"""

from __future__ import annotations

import ipaddress
import ssl

import dns.flags
import dns.message
import dns.rcode
import pytest

from kzprobe.lab import NETWORK_RUNS, SCENARIOS
from kzprobe.lab import addresses as a
from kzprobe.lab import site_spec as m
from kzprobe.lab.generate import generate_scenarios
from kzprobe.lab.plan import CUT_EVERYTHING, CUT_INTERNATIONAL, INSIDE, OUTSIDE, allocate, plan_namespace
from kzprobe.lab.scenarios import scenario_by_id, select
from kzprobe.lab.servers.clienthello import server_name
from kzprobe.lab.servers.dns import LabResolver
from kzprobe.lab.site_spec import Conditions, Expectation
from kzprobe.lab.targets_file import targets_yaml
from kzprobe.report import vocabulary as v

# What the issue asks the lab to reproduce, as (description, predicate on a scenario).
REQUIRED = [
    ("DNS NXDOMAIN", lambda s: s.inside.dns == m.DNS_NXDOMAIN and s.outside.dns == m.DNS_ANSWER),
    ("DNS answer 127.0.0.1", lambda s: s.inside.spoofed == ("127.0.0.1",)),
    ("DNS answer another bogon", lambda s: s.inside.spoofed == (a.PRIVATE_ANSWER,)),
    ("DNS to blockpage server, http URL",
     lambda s: s.inside.spoofed == (m.SPOOF_BLOCKPAGE,) and s.site.scheme == "http"),
    ("DNS to blockpage server, https URL",
     lambda s: s.inside.spoofed == (m.SPOOF_BLOCKPAGE,) and s.site.scheme == "https"),
    ("DNS no answer", lambda s: s.inside.dns == m.DNS_NO_ANSWER),
    ("DNS SERVFAIL", lambda s: s.inside.dns == m.DNS_SERVFAIL),
    ("DNS valid replica stays reachable",
     lambda s: s.inside.spoofed == (m.SPOOF_REPLICA,) and s.expect.verdict == v.REACHABLE),
    ("TCP SYN dropped", lambda s: s.inside.path == m.PATH_DROP and s.outside.path == m.PATH_OPEN),
    ("TCP refused", lambda s: s.inside.path == m.PATH_REFUSE and s.outside.path == m.PATH_OPEN),
    ("TLS reset after ClientHello", lambda s: s.inside.tls == m.TLS_RESET),
    ("TLS FIN after ClientHello", lambda s: s.inside.tls == m.TLS_FIN),
    ("ClientHello swallowed", lambda s: s.inside.tls == m.TLS_SWALLOW),
    ("Qaznet interception", lambda s: s.inside.tls == m.TLS_MITM),
    ("fingerprinted blockpage", lambda s: s.inside.http == m.HTTP_BLOCKPAGE),
    ("unknown blockpage", lambda s: s.inside.http == m.HTTP_UNKNOWN_BLOCKPAGE),
    ("302 to blockpage", lambda s: s.inside.http == m.HTTP_REDIRECT_BLOCKPAGE),
    ("HTTP reset after request", lambda s: s.inside.http == m.HTTP_RESET),
    ("throttled to 16-64 KB/s", lambda s: 16_000 <= (s.inside.rate_bytes_per_s or 0) <= 64_000
     and s.expect.verdict == v.THROTTLED and s.site.download_bytes),
    ("slow but healthy (1-2 s)", lambda s: 1 <= s.inside.delay_s <= 2 and s.expect.verdict == v.REACHABLE),
    ("page changing on every request", lambda s: s.site.page == m.PAGE_DYNAMIC and s.expect.verdict == v.REACHABLE),
    ("large page at full speed", lambda s: s.site.page == m.PAGE_LARGE and s.site.download_bytes
     and s.expect.verdict == v.REACHABLE),
    ("down everywhere", lambda s: s.expect.verdict == v.DOWN and s.outside != m.HONEST),
    ("healthy http->https redirect", lambda s: s.site.scheme == "http" and s.site.redirects_to_https
     and s.expect.verdict == v.REACHABLE),
]


@pytest.mark.parametrize("what, predicate", REQUIRED, ids=[r[0] for r in REQUIRED])
def test_catalogue_reproduces(what, predicate):
    assert any(predicate(s) for s in SCENARIOS), f"no scenario for: {what}"


def test_whole_network_runs():
    by_id = {r.id: r for r in NETWORK_RUNS}
    assert by_id["international-cut"].connectivity == v.INTERNATIONAL_CUT
    assert by_id["offline"].connectivity == v.OFFLINE
    assert all(e.verdict == v.INCONCLUSIVE for e in by_id["offline"].expect.values())
    for run in NETWORK_RUNS:
        assert set(run.expect) == set(run.scenario_ids) <= set(scenario_by_id())


def test_baselines_for_connectivity_and_throughput():
    for kind in (m.DOMESTIC, m.INTERNATIONAL):
        baselines = [s for s in SCENARIOS if s.site.baseline == kind]
        assert len(baselines) >= 2
        assert all(s.site.hosting == kind and s.site.download_bytes >= 1_000_000 for s in baselines)
        assert all(s.inside == s.outside == m.HONEST for s in baselines)


def test_expectations_speak_the_report_vocabulary():
    expectations = [s.expect for s in SCENARIOS] + [e for r in NETWORK_RUNS for e in r.expect.values()]
    for e in expectations:
        assert e.verdict in v.VERDICTS
        assert (e.blocking in v.BLOCKING_LAYERS) if e.verdict == v.BLOCKED else e.blocking is None
        assert set(e.evidence) <= set(v.EVIDENCE_CODES)
        assert e.verdict != v.BLOCKED or e.evidence


def test_ids_and_names_are_unique_and_lab_only():
    assert len({s.id for s in SCENARIOS}) == len(SCENARIOS)
    assert len({s.site.host for s in SCENARIOS}) == len(SCENARIOS)
    assert all(s.site.host.endswith(".kzlab.test") for s in SCENARIOS)


def test_healthy_sites_get_public_addresses_inside_the_guarded_lab_ranges():
    allowed = [ipaddress.ip_network(c) for c in a.guard_allow()]
    for host, where in allocate(SCENARIOS).sites.items():
        for address in where.all:
            ip = ipaddress.ip_address(address)
            assert ip.is_global and not ip.is_private, f"{host}: {address} looks like a bogon"
            assert any(ip in net for net in allowed), f"{host}: {address} outside the guard's lab ranges"
    for infrastructure in (a.ISP_RESOLVER, a.HONEST_RESOLVER, a.BLOCKPAGE_SERVER):
        assert ipaddress.ip_address(infrastructure).is_global


def test_select_keeps_baselines_and_rejects_unknown_ids():
    chosen = select(["tls-reset"])
    assert [s.id for s in chosen if not s.site.baseline] == ["tls-reset"]
    assert sum(1 for s in chosen if s.site.baseline) == 4
    with pytest.raises(KeyError, match="no-such"):
        select(["no-such"])


def test_conditions_reject_unknown_behaviours():
    with pytest.raises(ValueError):
        Conditions(tls="explode")
    with pytest.raises(ValueError):
        Conditions(dns=m.DNS_SPOOF)  # spoofing needs the answers


# -- the plan


def _plan(role, cut=None, scenarios=SCENARIOS):
    return plan_namespace(role, scenarios, allocate(scenarios), cut)


def test_outside_has_the_honest_resolver_only_and_serves_blocked_sites():
    plan = _plan(OUTSIDE)
    assert plan.resolver == a.HONEST_RESOLVER
    assert [r["label"] for r in plan.config["resolvers"]] == ["honest"]
    where = allocate(SCENARIOS).sites
    assert where["tcp-syn-dropped.kzlab.test"].v4[0] in plan.local
    assert not any(d.endswith("/32") for d in plan.dropped)


def test_inside_drops_and_refuses_per_scenario():
    plan = _plan(INSIDE)
    where = allocate(SCENARIOS).sites
    dropped = where["tcp-syn-dropped.kzlab.test"].v4[0]
    refused = where["tcp-refused.kzlab.test"].v4[0]
    assert f"{dropped}/32" in plan.dropped and dropped not in plan.local
    listening = {listener["address"] for listener in plan.config["web"]["listeners"]}
    assert refused in plan.local and refused not in listening
    assert plan.resolver == a.ISP_RESOLVER
    batch = plan.ip_batch()
    assert f"route add {dropped}/32 via {a.DROP_GATEWAY_V4} dev kzdrop0 onlink" in batch
    assert "nud permanent" in batch


def test_cuts_take_away_whole_pools():
    international = _plan(INSIDE, CUT_INTERNATIONAL)
    assert str(a.INTERNATIONAL_V4) in international.dropped and str(a.INTERNATIONAL_V6) in international.dropped
    assert a.HONEST_RESOLVER not in international.local and a.ISP_RESOLVER in international.local
    assert not any(ipaddress.ip_address(x) in a.INTERNATIONAL_V4 for x in international.local)
    everything = _plan(INSIDE, CUT_EVERYTHING)
    assert str(a.DOMESTIC_V4) in everything.dropped
    assert everything.local == () and everything.config["resolvers"] == []


def test_generated_sites_scale_to_a_thousand():
    scenarios = generate_scenarios(1000, {"healthy": 0.8, "tcp-syn-dropped": 0.1, "tls-reset": 0.1})
    assert len(scenarios) == 1000
    kinds = ("healthy", "tcp-syn-dropped", "tls-reset")
    counts = {kind: sum(1 for s in scenarios if s.id.startswith(kind)) for kind in kinds}
    assert counts == {"healthy": 800, "tcp-syn-dropped": 100, "tls-reset": 100}
    plan = _plan(INSIDE, scenarios=scenarios)
    # The dropped ones have none; + the blockpage server and the PKI (AIA) server.
    assert len(plan.config["web"]["listeners"]) == 900 + 2
    assert len(plan.dropped) == 100


# -- the servers' pure parts


def _client_hello(sni: str) -> bytes:
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_sni_is_read_from_a_real_client_hello():
    hello = _client_hello("tls-reset.kzlab.test")
    assert server_name(hello) == "tls-reset.kzlab.test"


@pytest.mark.parametrize("data", [b"", b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\xff\xff" + b"\x01" * 50,
                                  b"\x16\x03\x01\x00\x10" + b"\xff" * 16])
def test_sni_parser_survives_garbage(data):
    assert server_name(data) is None


def test_sni_parser_survives_truncation():
    hello = _client_hello("a.kzlab.test")
    assert all(server_name(hello[:n]) is None for n in range(0, len(hello) - 1, 7))


RESOLVER_TABLE = {
    "answer.kzlab.test": {"action": m.DNS_ANSWER, "a": ["88.198.1.1"], "aaaa": []},
    "nx.kzlab.test": {"action": m.DNS_NXDOMAIN, "a": [], "aaaa": []},
    "fail.kzlab.test": {"action": m.DNS_SERVFAIL, "a": [], "aaaa": []},
    "empty.kzlab.test": {"action": m.DNS_NO_ANSWER, "a": ["88.198.1.1"], "aaaa": []},
    "drop.kzlab.test": {"action": m.DNS_TIMEOUT, "a": [], "aaaa": []},
}


@pytest.mark.parametrize("name, qtype, rcode, answers", [
    ("answer.kzlab.test", "A", dns.rcode.NOERROR, ["88.198.1.1"]),
    ("answer.kzlab.test", "AAAA", dns.rcode.NOERROR, []),
    ("nx.kzlab.test", "A", dns.rcode.NXDOMAIN, []),
    ("fail.kzlab.test", "A", dns.rcode.SERVFAIL, []),
    ("empty.kzlab.test", "A", dns.rcode.NOERROR, []),
    ("unknown.kzlab.test", "A", dns.rcode.NXDOMAIN, []),
])
def test_resolver_answers_per_table(name, qtype, rcode, answers):
    resolver = LabResolver("127.0.0.1", RESOLVER_TABLE, "test")
    query = dns.message.make_query(name, qtype)
    reply = dns.message.from_wire(resolver.answer(query.to_wire()))
    assert reply.id == query.id and reply.flags & dns.flags.QR and reply.flags & dns.flags.RA
    assert reply.rcode() == rcode
    assert [r.to_text() for rrset in reply.answer for r in rrset] == answers


def test_resolver_stays_silent_when_told_to_and_on_garbage():
    resolver = LabResolver("127.0.0.1", RESOLVER_TABLE, "test")
    assert resolver.answer(dns.message.make_query("drop.kzlab.test", "A").to_wire()) is None
    assert resolver.answer(b"\x00\x01garbage") is None


def test_targets_file_is_an_ordinary_target_list(tmp_path, monkeypatch):
    from kzprobe.lab.certs import PINS_DIR, CertificateFactory
    from kzprobe.lab.site_spec import LAB_SERVICE_CA
    from kzprobe.targets import load_targets

    # The lab's service CA, which its pinned endpoints name (`ca:`), as a built lab has it.
    CertificateFactory(tmp_path / "certs").pinned_leaf("chat.kzlab.test", LAB_SERVICE_CA)
    monkeypatch.setenv("KZPROBE_CA_DIR", str(tmp_path / "certs" / PINS_DIR))
    path = tmp_path / "lab.yaml"
    allocation = allocate(SCENARIOS)
    path.write_text(targets_yaml(SCENARIOS, allocation), encoding="utf-8")
    targets = {t.id: t for t in load_targets([path])}
    assert list(targets) == [s.id for s in SCENARIOS]
    assert targets["baseline-domestic-1"].baseline == "domestic"
    assert targets["throttled"].download == "https://throttled.kzlab.test/download.bin"
    assert targets["http-to-https"].url == "http://http-to-https.kzlab.test/"
    datacentres = targets["service-datacentres-dropped"].endpoints
    assert [(e.host, e.port, e.role) for e in datacentres[:2]] == [
        (allocation.endpoints[("service-datacentres-dropped", "@dc1")], port, "datacenter") for port in (80, 443)]
    assert all(e.tls for e in targets["service-chat-reset"].endpoints)
    assert [e.ca for e in targets["service-pin-stale"].endpoints] == [LAB_SERVICE_CA, LAB_SERVICE_CA]
    assert targets["service-pin-stale"].endpoints[0].ca_file == tmp_path / "certs" / PINS_DIR / "kzlab-service.pem"


def test_certificates_name_hosts_and_address_literals(tmp_path):
    from cryptography import x509

    from kzprobe.lab.certs import CertificateFactory

    factory = CertificateFactory(tmp_path)
    for name, kind in (("a.kzlab.test", x509.DNSName), ("88.198.1.4", x509.IPAddress)):
        cert = x509.load_pem_x509_certificate(factory.leaf(name).chain.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert [str(v) for v in sans.get_values_for_type(kind)] == [name]
        forged = x509.load_pem_x509_certificate(factory.forged(name).chain.read_bytes())
        assert forged.issuer.rfc4514_string() == "CN=Security Certificate,C=KZ"
        assert forged.subject == cert.subject and forged.public_key().public_numbers().e == 3


# -- the lab against kzprobe's own fingerprints


def _hop(body: bytes):
    from kzprobe.analysis.facts import HopFact
    from kzprobe.probes.body import title_of

    return HopFact(url="http://x.kzlab.test/", host="x.kzlab.test", scheme="http", address=None, status=200,
                   headers={}, location=None, body_length=len(body), body=body[:65536].decode("utf-8"),
                   title=title_of(body, "utf-8"), truncated=False, body_read_ms=None, failure=None)


def test_lab_pages_against_the_bundled_fingerprints():
    """The 'known' blockpage is one a Kazakh fingerprint matches; the unknown one and every
    site's page match none; the ISP's blockpage server and redirect host are not listed, so the
    verdicts for them must come from the page and the control."""
    from kzprobe.analysis.fingerprint_file import bundled_fingerprints
    from kzprobe.lab import pages
    from kzprobe.lab.plan import BLOCKPAGE_HOST

    fingerprints = bundled_fingerprints()
    known = fingerprints.page(_hop(pages.FINGERPRINTED_BLOCKPAGE.encode()))
    assert known is not None and known.country == "KZ"
    assert fingerprints.page(_hop(pages.UNKNOWN_BLOCKPAGE.encode())) is None
    for scenario in SCENARIOS:
        assert fingerprints.page(_hop(pages.standard_page(scenario.site.host))) is None, scenario.id
    assert fingerprints.address(a.BLOCKPAGE_SERVER) is None
    assert fingerprints.redirect(f"http://{BLOCKPAGE_HOST}/?host=x") is None


def test_forged_chain_is_a_known_interception_authority(tmp_path):
    from cryptography import x509

    from kzprobe.analysis.facts import CertFact
    from kzprobe.analysis.fingerprint_file import bundled_fingerprints
    from kzprobe.lab.certs import CertificateFactory

    factory = CertificateFactory(tmp_path)
    forged = x509.load_pem_x509_certificates(factory.forged("tls-mitm-qaznet.kzlab.test").chain.read_bytes())
    honest = x509.load_pem_x509_certificate(factory.leaf("tls-mitm-qaznet.kzlab.test").chain.read_bytes())

    def facts(cert: x509.Certificate) -> tuple:
        return (CertFact(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(), sha256=""),)

    fingerprints = bundled_fingerprints()
    assert fingerprints.authority(facts(forged[0]), "interception") is not None  # the leaf alone suffices
    assert fingerprints.authority(facts(forged[1]), "interception").authority.id == "kz-qaznet-trust-network"
    assert fingerprints.authority(facts(honest), "interception") is None


# -- comparing a report with the expectations


@pytest.mark.parametrize("result, problems", [
    ({"verdict": "blocked", "blocking": "tls", "evidence": ["tls.reset", "tcp.reset"]}, []),
    ({"verdict": "reachable", "blocking": None, "evidence": []},
     ["verdict 'reachable', expected 'blocked'", "blocking None, expected 'tls'", "evidence lacks tls.reset"]),
    ({"verdict": "blocked", "blocking": "tcp", "evidence": ["tls.reset"]}, ["blocking 'tcp', expected 'tls'"]),
    ({"verdict": "blocked", "blocking": "tls", "evidence": ["tls.eof"]}, ["evidence lacks tls.reset"]),
    (None, ["the report has no result for this target"]),
], ids=["match, more evidence is fine", "everything differs", "wrong layer", "wrong evidence", "no result"])
def test_compare_names_every_difference(result, problems):
    from kzprobe.lab.runner import compare

    _actual, found = compare(Expectation(v.BLOCKED, "tls", ("tls.reset",)), result)
    assert list(found) == problems


def test_compare_report_checks_connectivity_and_survives_a_missing_report():
    from kzprobe.lab.runner import CONNECTIVITY_SUBJECT, compare_report

    expect = {"tls-reset": Expectation(v.BLOCKED, "tls", ("tls.reset",), pending="later")}
    report = {"connectivity": "offline", "results": [
        {"target": {"id": "tls-reset"}, "verdict": "blocked", "blocking": "tls", "evidence": ["tls.reset"],
         "explanation": "reset"}]}
    rows = {c.subject: c for c in compare_report("inside", report, expect, v.ONLINE)}
    assert rows[CONNECTIVITY_SUBJECT].problems == ("connectivity 'offline', expected 'online'",)
    assert rows["tls-reset"].matches and rows["tls-reset"].explanation == "reset"
    missing = compare_report("inside", None, expect, v.ONLINE)
    assert [c.problems for c in missing] == [("the scan wrote no report",)] and missing[0].pending == "later"
