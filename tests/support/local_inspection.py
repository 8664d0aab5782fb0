"""A scan whose HTTPS is inspected on the volunteer's machine: an antivirus (or a corporate proxy)
re-signing every site with its own root, as the probes record it. Shared by the analysis and
the CLI tests."""

from __future__ import annotations

import copy

from kzprobe.report import vocabulary as v
from support.observations import baselines, result, tls, web

AV_ROOT = "CN=Kaspersky Anti-Virus Personal Root Certificate,O=AO Kaspersky Lab"
PROXY_ROOT = "CN=Corp Inspection Root,O=Example Corp"
NATIONAL_ROOT = "C=KZ,CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)"


def _cert(subject: str, issuer: str, sha: str) -> dict:
    return {"subject": subject, "issuer": issuer, "sans": [], "not_before": "", "not_after": "",
            "sha256": sha * 32, "spki_sha256": sha[::-1] * 32}


def resigned_chain(host: str, root: str, *, with_intermediate: bool = False) -> list[dict]:
    """The software's copy of `host`'s certificate: the site's name, its own key, issued by its root
    (or by an intermediate under it, which it sends)."""
    if with_intermediate:
        return [_cert(f"CN={host}", "CN=Inspection CA,O=Example Corp", "c1"), _cert("CN=Inspection CA,O=Example Corp",
                                                                                     root, "c2")]
    return [_cert(f"CN={host}", root, "c0")]


def resign(obs: dict, root: str = AV_ROOT, *, installed: bool = True) -> dict:
    """Every handshake of `obs` re-signed by `root`: validated through it when it is installed here
    ("system_only"), else failing with an unknown authority, the whole chain sent."""
    obs = copy.deepcopy(obs)
    for i, attempt in enumerate(obs.get("tls", [])):
        host = attempt["hostname"]
        if installed:
            chain = resigned_chain(host, root)
            obs["tls"][i] = dict(tls(attempt["address"], host=host, chain=chain), root_store="system_only",
                                 chain_complete=True)
        else:
            chain = resigned_chain(host, root, with_intermediate=True)
            obs["tls"][i] = dict(tls(attempt["address"], v.SSL_UNKNOWN_AUTHORITY, host, completed=True, verified=False,
                                     chain=chain), chain_complete=False)
            obs["http"] = []
    return obs


def site(n: int, **kwargs) -> dict:
    host = f"site{n}.example"
    return result(web(host, address=f"88.198.9.{n + 1}", title=f"{host} front page"), ident=f"site{n}", host=host,
                  **kwargs)


def scan(resigned_sites: int, clean_sites: int = 0, *, root: str = AV_ROOT, installed: bool = True,
         baselines_resigned: bool = True) -> list[dict]:
    """The two baselines and `resigned_sites` + `clean_sites` HTTPS sites; the software re-signs the
    baselines (or not) and the first `resigned_sites` sites."""
    results = baselines()
    if baselines_resigned:
        for r in results:
            r["observations"] = resign(r["observations"], root, installed=installed)
    for n in range(resigned_sites + clean_sites):
        r = site(n)
        if n < resigned_sites:
            r["observations"] = resign(r["observations"], root, installed=installed)
        results.append(r)
    # A plain-HTTP site answers as ever: the vantage is online whatever its HTTPS meets.
    results.append(result(web("plain.example", "http", "88.198.8.8", title="plain.example front page"),
                          ident="plain", host="plain.example", scheme="http"))
    return results
