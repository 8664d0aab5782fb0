"""The lab itself, before kzprobe: every namespace behaves as its scenario says, seen by a plain client.

One lab (all scenarios, both cuts) is built for the module; tests/support/lab_client.py runs every
check of a namespace at once inside it. Each row names what a censor or a healthy network does
and what a client must then see - the ground truth the end-to-end tests rely on.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kzprobe.lab import SCENARIOS, Lab, availability
from kzprobe.lab import addresses as a
from kzprobe.lab.pages import DOWNLOAD_PATH
from kzprobe.lab.plan import BLOCKPAGE_HOST

UNAVAILABLE = availability()
pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"network namespaces impossible here: {UNAVAILABLE}"),
]
CLIENT = Path(__file__).resolve().parents[1] / "support" / "lab_client.py"
ROLES = ("outside", "inside", "inside-international", "inside-everything")


@dataclass(frozen=True)
class Row:
    id: str
    role: str
    op: str
    site: str | None = None  # scenario id whose host/address the check uses
    args: dict = field(default_factory=dict)
    expect: dict = field(default_factory=dict)  # result fields that must be equal


def _row(id: str, role: str, op: str, site: str | None = None, expect: dict | None = None, **args) -> Row:
    return Row(id, role, op, site, args, expect or {})


ROWS = [
    # DNS through each namespace's resolv.conf (ISP resolver inside, honest resolver outside)
    _row("isp-nxdomain", "inside", "resolve", "dns-nxdomain", {"outcome": "NXDOMAIN"}),
    _row("isp-servfail", "inside", "resolve", "dns-servfail", {"outcome": "SERVFAIL"}),
    _row("isp-no-answer", "inside", "resolve", "dns-no-answer", {"outcome": "NOERROR", "answers": []}),
    _row("isp-localhost", "inside", "resolve", "dns-localhost", {"answers": ["127.0.0.1"]}),
    _row("isp-private", "inside", "resolve", "dns-private", {"answers": [a.PRIVATE_ANSWER]}),
    _row("isp-blockpage", "inside", "resolve", "dns-blockpage-http", {"answers": [a.BLOCKPAGE_SERVER]}),
    _row("isp-replica", "inside", "resolve", "dns-replica", {"answers": ["@replica"]}),
    _row("isp-honest-name", "inside", "resolve", "tls-reset", {"answers": ["@site"]}),
    _row("isp-aaaa", "inside", "resolve", "baseline-international-1", {"answers": ["@site6"]}, qtype="AAAA"),
    _row("isp-unknown-name", "inside", "resolve", None, {"outcome": "NXDOMAIN"}, name="nowhere.kzlab.test"),
    _row("isp-dead-domain", "inside", "resolve", "domain-gone", {"outcome": "NXDOMAIN"}),
    _row("control-from-inside", "inside", "resolve", "dns-nxdomain", {"answers": ["@site"]}, server=a.HONEST_RESOLVER),
    _row("honest-nxdomain-site", "outside", "resolve", "dns-nxdomain", {"answers": ["@site"]}),
    _row("honest-dead-domain", "outside", "resolve", "domain-gone", {"outcome": "NXDOMAIN"}),
    # TCP
    _row("syn-dropped", "inside", "connect", "tcp-syn-dropped", {"outcome": "timeout"}, port=443),
    _row("syn-dropped-outside", "outside", "connect", "tcp-syn-dropped", {"outcome": "ok"}, port=443),
    _row("refused", "inside", "connect", "tcp-refused", {"outcome": "refused"}, port=443),
    _row("refused-outside", "outside", "connect", "tcp-refused", {"outcome": "ok"}, port=443),
    _row("down-inside", "inside", "connect", "site-down", {"outcome": "refused"}, port=443),
    _row("down-outside", "outside", "connect", "site-down", {"outcome": "refused"}, port=443),
    _row("loopback-answer", "inside", "connect", None, {"outcome": "refused"}, address="127.0.0.1", port=443),
    _row("private-answer", "inside", "connect", None, {"outcome": "unreachable"}, address=a.PRIVATE_ANSWER, port=80),
    # TLS: the middlebox acts on the SNI
    _row("tls-reset", "inside", "tls", "tls-reset", {"outcome": "reset"}),
    _row("tls-reset-outside", "outside", "tls", "tls-reset", {"outcome": "ok"}),
    _row("tls-reset-by-sni", "inside", "tls", "tls-reset", {"outcome": "reset"}, via="baseline-international-2"),
    _row("tls-fin", "inside", "tls", "tls-fin", {"outcome": "eof"}),
    _row("tls-swallow", "inside", "tls", "tls-swallow", {"outcome": "timeout"}),
    _row("tls-mitm", "inside", "tls", "tls-mitm-qaznet",
         {"outcome": "verify_failed", "issuer": "CN=Security Certificate,C=KZ", "exponent": 3, "verify_code": 20}),
    _row("tls-mitm-outside", "outside", "tls", "tls-mitm-qaznet",
         {"outcome": "ok", "issuer": {"commonName": "kzprobe lab CA"}}),
    _row("tls-blockpage-server", "inside", "tls", "dns-blockpage-https",
         {"outcome": "verify_failed", "verify_code": 62},
         address=a.BLOCKPAGE_SERVER),
    _row("tls-replica", "inside", "tls", "dns-replica", {"outcome": "ok"}, address="@replica"),
    _row("tls-ipv6", "inside", "tls", "baseline-international-1", {"outcome": "ok"}, address="@site6"),
    # HTTP: the middlebox acts on the Host
    _row("http-blockpage", "inside", "http", "http-blockpage-known", {"status": 200}),
    _row("http-blockpage-outside", "outside", "http", "http-blockpage-known", {"status": 200}),
    _row("http-unknown-blockpage", "inside", "http", "http-blockpage-unknown", {"status": 200}),
    _row("http-redirect", "inside", "http", "http-redirect-blockpage", {"status": 302}),
    _row("http-reset", "inside", "http", "http-reset", {"outcome": "reset"}),
    _row("http-reset-outside", "outside", "http", "http-reset", {"status": 200}),
    _row("blockpage-server", "inside", "http", "dns-blockpage-http", {"status": 200}, address=a.BLOCKPAGE_SERVER),
    _row("http-to-https", "inside", "http", "http-to-https", {"status": 301}),
    _row("https-site-port-80", "outside", "http", "baseline-domestic-1", {"status": 301}),
    _row("throttled", "inside", "http", "throttled", {"status": 200}, path=DOWNLOAD_PATH, tls=True, seconds=2.5),
    _row("throttled-outside", "outside", "http", "throttled", {"status": 200}, path=DOWNLOAD_PATH, tls=True),
    _row("slow-inside", "inside", "http", "slow-site", {"status": 200}, tls=True),
    _row("slow-outside", "outside", "http", "slow-site", {"status": 200}, tls=True),
    _row("dynamic-1", "inside", "http", "dynamic-page", {"status": 200}),
    _row("dynamic-2", "inside", "http", "dynamic-page", {"status": 200}),
    _row("large", "inside", "http", "large-page", {"status": 200}, tls=True),
    # Service endpoints: behaviour by address and port, certificates for address literals
    _row("endpoint-dropped", "inside", "connect", "service-datacentres-dropped", {"outcome": "timeout"},
         address="@endpoint:@dc1", port=443),
    _row("endpoint-outside", "outside", "connect", "service-datacentres-dropped", {"outcome": "ok"},
         address="@endpoint:@dc2", port=80),
    _row("endpoint-answers-http-on-443", "outside", "http", "service-datacentres-dropped", {"status": 200},
         address="@endpoint:@dc1", host="@endpoint:@dc1", port=443),
    _row("endpoint-reset-5222", "inside", "tls", "service-chat-reset", {"outcome": "reset"},
         address="@endpoint:chat1.service-chat-reset.kzlab.test", sni="chat1.service-chat-reset.kzlab.test", port=5222),
    _row("endpoint-5222-outside", "outside", "tls", "service-chat-reset", {"outcome": "ok"},
         address="@endpoint:chat1.service-chat-reset.kzlab.test", sni="chat1.service-chat-reset.kzlab.test", port=5222),
    _row("endpoint-registration-untouched", "inside", "tls", "service-chat-reset", {"outcome": "ok"},
         address="@endpoint:register.service-chat-reset.kzlab.test", sni="register.service-chat-reset.kzlab.test"),
    _row("endpoint-name-resolves", "inside", "resolve", None,
         {"answers": ["@endpoint:chat2.service-chat-reset.kzlab.test"]},
         name="chat2.service-chat-reset.kzlab.test", scenario="service-chat-reset"),
    # Whole-network cuts
    _row("cut-domestic-resolves", "inside-international", "resolve", "baseline-domestic-1", {"answers": ["@site"]}),
    _row("cut-control-resolver-gone", "inside-international", "resolve", "baseline-domestic-1", {"outcome": "timeout"},
         server=a.HONEST_RESOLVER),
    _row("cut-domestic-works", "inside-international", "tls", "baseline-domestic-1", {"outcome": "ok"}),
    _row("cut-international-vanishes", "inside-international", "connect", "baseline-international-1",
         {"outcome": "timeout"}, port=443),
    _row("cut-international-v6-vanishes", "inside-international", "connect", "baseline-international-1",
         {"outcome": "timeout"}, port=443, address="@site6"),
    _row("offline-resolver-gone", "inside-everything", "resolve", "baseline-domestic-1", {"outcome": "timeout"}),
    _row("offline-domestic-vanishes", "inside-everything", "connect", "baseline-domestic-1", {"outcome": "timeout"},
         port=443),
]


def _symbol(lab: Lab, site: str | None, value: str) -> str:
    """Lab addresses named in rows: @site, @site6, @replica of the row's scenario, and
    @endpoint:<host> for one of its endpoints."""
    if site is None or not value.startswith("@"):
        return value
    if value.startswith("@endpoint:"):
        return lab.allocation.endpoints[(site, value.split(":", 1)[1])]
    where = lab.addresses[f"{site}.kzlab.test"]
    return {"@site": where.v4[0] if where.v4 else "", "@site6": where.v6[0] if where.v6 else "",
            "@replica": where.replica or ""}[value]


def _check(lab: Lab, row: Row) -> dict:
    host = f"{row.site}.kzlab.test" if row.site else None
    args = dict(row.args)
    via = args.pop("via", None)
    address = _symbol(lab, via or row.site, args.pop("address", "@site"))
    host = _symbol(lab, row.site, args.pop("host", None) or host or "")
    if "sni" in args:
        args["sni"] = _symbol(lab, row.site, args["sni"])
    args.pop("scenario", None)  # names the scenario of a row about another name (see _symbol)
    check = {"op": row.op}
    if row.op == "resolve":
        check |= {"name": args.pop("name", host)}
    elif row.op == "connect":
        check |= {"address": address}
    elif row.op == "tls":
        check |= {"address": address, "sni": host, "ca": str(lab.ca_file)}
    else:
        tls = args.get("tls", False)
        check |= {"address": address, "port": 443 if tls else 80, "host": host, "path": "/", "ca": str(lab.ca_file)}
    return check | args


@pytest.fixture(scope="module")
def lab_results(tmp_path_factory):
    guard_log = tmp_path_factory.mktemp("lab-guard") / "violations.log"
    with Lab(SCENARIOS, cuts=["international", "everything"], env={"KZPROBE_GUARD_LOG": str(guard_log)}) as lab:
        results: dict[str, dict] = {}
        for role in ROLES:
            rows = [r for r in ROWS if r.role == role]
            checks = [_check(lab, r) for r in rows]
            proc = lab.run(role, [sys.executable, str(CLIENT)], input=json.dumps(checks),
                           capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0, proc.stderr
            for row, result in zip(rows, json.loads(proc.stdout), strict=True):
                results[row.id] = result
        topology = {role: {
            "links": lab.run(role, ["ip", "-o", "link"], capture_output=True, text=True).stdout,
            "route_out": lab.run(role, ["ip", "route", "get", "1.1.1.1"], capture_output=True, text=True),
            "route6_out": lab.run(role, ["ip", "-6", "route", "get", "2001:4860::1"], capture_output=True, text=True),
            "resolv_conf": lab.run(role, ["cat", "/etc/resolv.conf"], capture_output=True, text=True).stdout,
        } for role in ROLES}
        yield {"results": results, "topology": topology, "lab": lab, "guard_log": guard_log}


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_namespace_behaves_as_its_scenario_says(lab_results, row):
    lab = lab_results["lab"]
    result = lab_results["results"][row.id]
    for key, expected in row.expect.items():
        if key == "answers":
            expected = [_symbol(lab, row.site or row.args.get("scenario"), x) for x in expected]
        assert result.get(key) == expected, f"{row.id}: {key} is {result.get(key)!r}, expected {expected!r}: {result}"


def test_blockpages_are_what_the_isp_serves(lab_results):
    r = lab_results["results"]
    assert "Страница заблокирована" in r["http-blockpage"]["body"]
    assert "Страница заблокирована" in r["blockpage-server"]["body"]
    assert "Qazline" in r["http-unknown-blockpage"]["body"]
    assert "<title>Http Blockpage Known" in r["http-blockpage-outside"]["body"]
    assert r["http-blockpage-outside"]["length"] > 10 * r["http-blockpage"]["length"]
    assert r["http-redirect"]["headers"]["location"].startswith(f"http://{BLOCKPAGE_HOST}/")
    assert r["http-to-https"]["headers"]["location"] == "https://http-to-https.kzlab.test/"


def test_throttled_inside_only(lab_results):
    inside, outside = lab_results["results"]["throttled"], lab_results["results"]["throttled-outside"]
    assert 16_000 <= inside["bytes_per_s"] <= 64_000, inside["bytes_per_s"]
    assert outside["bytes_per_s"] > 1_000_000 and outside["length"] == 2_000_000


def test_slow_site_is_slow_but_answers(lab_results):
    for row in ("slow-inside", "slow-outside"):
        assert 1.0 <= lab_results["results"][row]["first_byte_s"] <= 2.0


def test_dynamic_page_changes_and_large_page_is_large(lab_results):
    r = lab_results["results"]
    assert r["dynamic-1"]["sha256"] != r["dynamic-2"]["sha256"]
    assert r["large"]["length"] > 1_900_000


@pytest.mark.parametrize("role", ROLES)
def test_nothing_can_leave_the_namespace(lab_results, role):
    topology = lab_results["topology"][role]
    links = sorted(line.split(":")[1].strip().split("@")[0] for line in topology["links"].splitlines())
    assert links == ["kzdrop0", "kzdrop1", "lo"]
    for attempt in (topology["route_out"], topology["route6_out"]):
        assert attempt.returncode != 0 and "unreachable" in attempt.stderr.lower()


def test_resolv_conf_names_the_lab_resolver(lab_results):
    topology = lab_results["topology"]
    assert topology["outside"]["resolv_conf"].split() == ["nameserver", a.HONEST_RESOLVER]
    for role in ("inside", "inside-international", "inside-everything"):
        assert topology[role]["resolv_conf"].split() == ["nameserver", a.ISP_RESOLVER]


def test_lab_processes_stayed_inside_the_lab(lab_results):
    log = lab_results["guard_log"]
    assert not log.exists() or not log.read_text().strip(), log.read_text()
