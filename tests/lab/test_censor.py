"""The lab's censor acts on TLS as Kazakhstan's DPI does: by the server name a ClientHello
carries, at any address; a rule for every name at one address (a blocked address, a server that
refuses every ClientHello) comes first. Pure rules of lab/servers/middlebox.py, one row each."""

from __future__ import annotations

import pytest

from kzprobe.lab import site_spec as m
from kzprobe.lab.servers import middlebox

SITES = {
    "blocked.kzlab.test": {"tls": m.TLS_RESET, "tls_any_name": m.TLS_PASS},
    "healthy.kzlab.test": {"tls": m.TLS_PASS, "tls_any_name": m.TLS_PASS},
    "closes.kzlab.test": {"tls": m.TLS_PASS, "tls_any_name": m.TLS_FIN},
}
SITE_PORT = {"port": 443, "tls": True}
NAMED_ENDPOINT = {"port": 5222, "tls": True, "middlebox": {"tls": m.TLS_RESET, "names": ["chat.kzlab.test"]}}
LITERAL_ENDPOINT = {"port": 443, "tls": True, "middlebox": {"tls": m.TLS_SWALLOW, "names": []}}


def action(sni: str | None, port: dict, hosts: list[str]) -> str:
    at_address = SITES.get(hosts[0]) if hosts and "middlebox" not in port else None
    return middlebox.tls_action(middlebox.tls_rules(SITES, sni, port), at_address)


@pytest.mark.parametrize("sni, port, hosts, expected", [
    ("blocked.kzlab.test", SITE_PORT, ["blocked.kzlab.test"], m.TLS_RESET),  # its own address
    ("blocked.kzlab.test", SITE_PORT, ["healthy.kzlab.test"], m.TLS_RESET),  # another site's address (a CDN)
    ("example.com", SITE_PORT, ["blocked.kzlab.test"], m.TLS_PASS),  # a neutral name to the same address
    (None, SITE_PORT, ["blocked.kzlab.test"], m.TLS_PASS),  # no name at all
    ("healthy.kzlab.test", SITE_PORT, ["healthy.kzlab.test"], m.TLS_PASS),
    ("example.com", SITE_PORT, ["closes.kzlab.test"], m.TLS_FIN),  # every name at that address
    ("closes.kzlab.test", SITE_PORT, ["closes.kzlab.test"], m.TLS_FIN),
    ("chat.kzlab.test", NAMED_ENDPOINT, ["chat.kzlab.test"], m.TLS_RESET),
    ("example.com", NAMED_ENDPOINT, ["chat.kzlab.test"], m.TLS_PASS),  # a named endpoint by its name only
    ("anything", LITERAL_ENDPOINT, [], m.TLS_SWALLOW),  # an address literal has no name to key on
], ids=["own_address", "another_address", "neutral_name", "no_name", "healthy", "address_rule_any_name",
        "address_rule_own_name", "named_endpoint", "named_endpoint_neutral", "literal_endpoint"])
def test_the_censor_keys_tls_on_the_name(sni, port, hosts, expected):
    assert action(sni, port, hosts) == expected


def test_each_interception_has_its_own_certificate_files(tmp_path):
    files = {a: middlebox.certificate_files(tmp_path, "x.kzlab.test", a) for a in (m.TLS_PASS, *m.TLS_INTERCEPTIONS)}
    assert files[m.TLS_PASS] == (tmp_path / "x.kzlab.test.pem", tmp_path / "leaf.key")
    assert len({chain for chain, _ in files.values()}) == len(files)


@pytest.mark.parametrize("sni, hosts, expected", [
    ("healthy.kzlab.test", ["healthy.kzlab.test"], m.TLS_MITM_LOCAL),  # what passes the censor is re-signed
    ("example.com", ["blocked.kzlab.test"], m.TLS_MITM_LOCAL),  # a neutral name too
    ("blocked.kzlab.test", ["blocked.kzlab.test"], m.TLS_RESET),  # the censor's reset stays a reset
    ("example.com", ["closes.kzlab.test"], m.TLS_FIN),  # and so does a server refusing every name
], ids=["passed", "neutral_name", "censor_reset", "server_closes"])
def test_an_antivirus_on_the_machine_re_signs_what_gets_through(sni, hosts, expected):
    from kzprobe.lab.servers.web import WebServer

    server = WebServer({"listeners": [], "sites": SITES, "blockpage_host": "b.kzlab.test", "inspection": True}, None)
    listener = {"address": "88.198.1.1", "server": "site", "hosts": hosts, "ports": [SITE_PORT]}
    assert server._tls_action(listener, SITE_PORT, sni) == expected
    blockpage = dict(listener, server="blockpage")
    assert server._tls_action(blockpage, SITE_PORT, "example.com") == m.TLS_PASS  # only the sites' TLS
