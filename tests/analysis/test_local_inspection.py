"""HTTPS inspected on this machine or its network (analysis/inspection.py): an antivirus or a
corporate proxy re-signing every site is `inconclusive` with `tls.local_inspection`, never the
censor's `tls.mitm`; a censor re-signing some sites, the baselines clean, stays `tls.mitm`."""

from __future__ import annotations

import copy

import pytest

from kzprobe.analysis import analyse_scan
from kzprobe.report import vocabulary as v
from support.local_inspection import AV_ROOT, NATIONAL_ROOT, PROXY_ROOT, resign, scan, site
from support.observations import (
    ADDRESS,
    HOST,
    add_split,
    baselines,
    control_of,
    dns,
    hop,
    result,
    tcp,
    tls,
    web,
)


def healthy_control(results: list[dict]) -> dict:
    """A control scan that validated every site's own certificate."""
    return control_of(*[site(n) for n in range(len(results) - 3)])


def verdicts(results: list[dict], control: dict | None = None) -> tuple[list[dict], dict]:
    analysis = analyse_scan(copy.deepcopy(results), control)
    return analysis.verdicts, analysis.baselines


def of(ident: str, got: list[dict], results: list[dict]) -> dict:
    return next(g for g, r in zip(got, results, strict=True) if r["target"]["id"] == ident)


ROWS = [
    # id, scan, control, verdict of the re-signed targets, evidence, recorded
    ("antivirus_root_installed_here_re_signs_every_site", scan(6), None, v.INCONCLUSIVE, ["tls.local_inspection"],
     True),
    ("the_control_s_other_certificate_does_not_flip_it_back", scan(6), "control", v.INCONCLUSIVE,
     ["tls.local_inspection"], True),
    ("nearly_every_site_one_excluded_by_the_software", scan(9, 1), None, v.INCONCLUSIVE, ["tls.local_inspection"],
     True),
    ("proxy_root_not_installed_here_whole_chain_sent", scan(6, root=PROXY_ROOT, installed=False), None, v.INCONCLUSIVE,
     ["tls.local_inspection"], True),
    ("proxy_root_not_installed_here_with_a_control", scan(6, root=PROXY_ROOT, installed=False), "control",
     v.INCONCLUSIVE, ["tls.local_inspection"], True),
    ("selective_re_signing_baselines_clean_stays_interception", scan(3, 3, baselines_resigned=False), None,
     v.BLOCKED, ["tls.mitm"], False),
    ("selective_re_signing_with_a_control", scan(3, 3, baselines_resigned=False), "control", v.BLOCKED, ["tls.mitm"],
     False),
    ("half_the_sites_and_the_baselines_is_no_software_s_habit", scan(3, 5), None, v.BLOCKED, ["tls.mitm"], False),
    ("a_known_interception_authority_everywhere_stays_interception", scan(6, root="CN=Qaznet Trust Network,C=KZ"),
     None, v.BLOCKED, ["tls.mitm"], False),
    ("kazakhstan_s_national_ca_installed_is_no_inspection", scan(6, root=NATIONAL_ROOT), None, v.REACHABLE, [],
     False),
]


@pytest.mark.parametrize("name, results, control, verdict, evidence, recorded", ROWS, ids=[r[0] for r in ROWS])
def test_local_inspection_rule(name, results, control, verdict, evidence, recorded):
    got, scan_baselines = verdicts(results, healthy_control(results) if control else None)
    resigned = [g for g, r in zip(got, results, strict=True)
                if any(c["issuer"] != "CN=R11,O=Let's Encrypt,C=US" for t in r["observations"].get("tls", [])
                       for c in t["peer_chain"][-1:])]
    assert resigned
    for item in resigned:
        assert (item["verdict"], item["evidence"][:len(evidence)]) == (verdict, evidence), item["explanation"]
    assert ("local_inspection" in scan_baselines) is recorded, scan_baselines
    clean = [g for g, r in zip(got, results, strict=True) if g not in resigned and r["target"]["url"][:6] == "https:"]
    assert all(g["verdict"] == v.REACHABLE for g in clean), clean


def test_the_scan_records_the_root_and_how_widely_it_re_signed():
    _, scan_baselines = verdicts(scan(9, 1))
    assert scan_baselines["local_inspection"] == {
        "root": AV_ROOT, "targets": 11, "https_targets": 12, "baselines": ["intl-baseline"]}


def test_the_explanation_names_the_root_and_says_what_to_do():
    results = scan(6)
    got, _ = verdicts(results)
    explanation = of("site5", got, results)["explanation"]
    assert "Kaspersky Anti-Virus Personal Root Certificate" in explanation
    assert "on this machine or its network" in explanation and "antivirus" in explanation
    assert "turn off the HTTPS scanning" in explanation and "intl-baseline" in explanation


def test_too_few_https_targets_say_nothing_of_the_machine():
    """The international baseline and one site: two chains are no habit of the machine's."""
    results = [r for r in scan(1) if r["target"]["id"] != "dom-baseline"]
    got, scan_baselines = verdicts(results)
    assert "local_inspection" not in scan_baselines
    assert of("site0", got, results)["verdict"] == v.BLOCKED and of("site0", got, results)["evidence"] == ["tls.mitm"]


def test_an_international_baseline_the_software_left_alone_is_a_censor_s_sign():
    results = scan(8)
    results[0]["observations"] = baselines()[0]["observations"]  # the international baseline, its own chain
    got, scan_baselines = verdicts(results)
    assert "local_inspection" not in scan_baselines
    assert of("site7", got, results)["verdict"] == v.BLOCKED and of("site7", got, results)["evidence"] == ["tls.mitm"]


def _cdn_answer(obs: dict) -> dict:
    """The local resolver answered an in-ISP CDN node, the control resolver the site's address."""
    obs = copy.deepcopy(obs)
    node = "95.57.9.9"
    obs["dns"] = dns(HOST, [node])
    obs["control_dns"] = dns(HOST, [ADDRESS], resolver="https://1.1.1.1/dns-query")
    obs["tcp"] = [tcp(node)]
    for attempt in obs["tls"]:
        attempt["address"] = node
    obs["http"] = [hop(address=node, title="Новости: региональная версия")]
    return obs


def test_another_answer_than_the_control_resolver_s_is_not_called_a_dns_block():
    """Behind the software no handshake proves the address holds the name: DNS cannot be judged by it."""
    results = scan(6)
    target = result(resign(_cdn_answer(web())))
    got, _ = verdicts([*results, target], control_of(result(web())))
    assert (got[-1]["verdict"], got[-1]["evidence"]) == (v.INCONCLUSIVE, ["tls.local_inspection"]), got[-1]


def test_a_real_sni_block_still_reads_blocked_behind_the_software():
    obs = web()
    obs.update(tls=[tls(failure=v.CONNECTION_RESET)], http=[])
    add_split(obs, again=v.CONNECTION_RESET)
    got, scan_baselines = verdicts([*scan(6), result(obs)])
    assert "local_inspection" in scan_baselines
    assert (got[-1]["verdict"], got[-1]["evidence"]) == (v.BLOCKED, ["tls.reset", "tls.sni_filter"])


def test_a_lying_resolver_still_reads_blocked_behind_the_software():
    obs = {"dns": dns(HOST, ["127.0.0.1"]), "control_dns": dns(HOST, [ADDRESS], resolver="doh"),
           "tcp": [tcp("127.0.0.1", v.CONNECTION_REFUSED)], "tls": [], "http": []}
    got, _ = verdicts([*scan(6), result(obs)])
    assert (got[-1]["verdict"], got[-1]["blocking"], got[-1]["evidence"][0]) == (v.BLOCKED, "dns", "dns.bogon")


def test_an_http_site_redirected_to_https_through_the_software_is_inconclusive():
    """http:// to its own HTTPS page, re-signed: neither the site's proven page nor a censor's."""
    url = f"http://{HOST}/"
    obs = web(scheme="http")
    obs["tcp"].append(tcp(ADDRESS))
    obs["tls"] = [tls()]
    obs["http"] = [hop(url, 301, title=None, body="", location=f"https://{HOST}/"),
                   hop(title="Новости: региональная версия")]
    obs = resign(obs)
    control = control_of(result(web(scheme="http"), scheme="http"))
    got, _ = verdicts([*scan(6), result(obs, scheme="http")], control)
    assert (got[-1]["verdict"], got[-1]["evidence"]) == (v.INCONCLUSIVE, ["tls.local_inspection"]), got[-1]


def pinned_service(issuer: str) -> dict:
    """A messenger whose one chat host is pinned to its own CA; its handshake met a chain ending at `issuer`."""
    host = "chat.messenger.example"
    handshake = dict(tls("31.13.1.1", v.SSL_UNKNOWN_AUTHORITY, host, completed=True, verified=False,
                         chain=[{"subject": f"CN={host}", "issuer": issuer, "sans": [host], "not_before": "",
                                 "not_after": "", "sha256": "ab" * 32}]),
                     # Without the pin, the chain validates through the root installed here.
                     public_verification={"verified": True, "failure": None, "root_store": "system_only"})
    chat = {"endpoint": f"{host}:443", "host": host, "port": 443, "role": "chat", "tls": True, "sni": host,
            "ca": "signal", "dns": dns(host, ["31.13.1.1"]), "control_dns": None,
            "tcp": [tcp("31.13.1.1", host=host)], "tls_handshakes": [handshake], "failure": None}
    return {"target": {"id": "messenger", "name": "Messenger"}, "observations": {"endpoints": [chat]},
            "started_at": "2026-11-22T10:00:00Z", "duration_ms": 1.0}


@pytest.mark.parametrize("name, results, verdict", [
    ("pinned_endpoint_re_signed_by_the_software_here_is_unclear", scan(6), v.INCONCLUSIVE),
    ("pinned_endpoint_under_an_unknown_root_with_the_baselines_clean_is_intercepted",
     scan(3, 3, baselines_resigned=False), v.BLOCKED),
], ids=lambda value: value if isinstance(value, str) else "")
def test_a_pinned_service_endpoint_behind_the_software(name, results, verdict):
    got, _ = verdicts([*results, pinned_service(AV_ROOT)])
    assert got[-1]["verdict"] == verdict, got[-1]["explanation"]
    if verdict == v.INCONCLUSIVE:
        assert "inspecting HTTPS on this machine" in got[-1]["explanation"]
