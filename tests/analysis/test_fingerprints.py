"""The fingerprint file: bundled entries valid and sourced, hostile files refused, matching exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.facts import CertFact, read_result
from kzprobe.analysis.fingerprint_file import BUNDLED, FingerprintError, bundled_fingerprints, load_fingerprints
from kzprobe.analysis.fingerprints import parse_dn
from support.observations import KZ_BLOCKPAGE, hop

HEADER = "format: kzprobe-fingerprints\nversion: 1\n"


def page(body: str = "", title: str | None = None, headers: dict | None = None):
    return read_result({"target": {"url": "http://x.example/"},
                        "observations": {"http": [
                            hop("http://x.example/", title=title, body=body, headers=headers)]}}).http[0]


def cert(subject: str = "CN=x.example", issuer: str = "CN=Some CA", sha256: str = "") -> CertFact:
    return CertFact(subject, issuer, sha256)


def test_bundled_file_loads_and_every_entry_has_a_source():
    fingerprints = bundled_fingerprints()
    entries = [*fingerprints.pages, *fingerprints.redirects, *fingerprints.authorities, *fingerprints.addresses]
    assert entries and all(len(e.source) > 20 for e in entries)
    assert any(a.role == "interception" for a in fingerprints.authorities)


@pytest.mark.parametrize("name,text,message", [
    ("wrong_header", "format: other\nversion: 1\n", "expected 'format"),
    ("unknown_section", HEADER + "regexes: []\n", "unknown section"),
    ("unknown_field", HEADER + "page_patterns:\n  - {id: a, where: body, pattern: x, source: s, regex: y}\n",
     "unknown field"),
    ("missing_source", HEADER + "page_patterns:\n  - {id: a, where: body, pattern: x}\n", "'source'"),
    ("bad_where", HEADER + "page_patterns:\n  - {id: a, where: cookies, pattern: x, source: s}\n", "'where'"),
    ("bad_match", HEADER + "page_patterns:\n  - {id: a, where: body, match: regex, pattern: x, source: s}\n",
     "'match'"),
    ("duplicate_id",
     HEADER + "redirect_targets:\n  - {id: a, host: a.kz, source: s}\n  - {id: a, host: b.kz, source: s}\n",
     "duplicate id"),
    ("bad_address", HEADER + "blockpage_addresses:\n  - {id: a, address: 999.1.1.1, source: s}\n", "not an IP"),
    ("bad_hash", HEADER + "certificate_authorities:\n  - {id: a, role: interception, sha256: [abc], source: s}\n",
     "64-hex"),
    ("authority_without_names_or_hashes",
     HEADER + "certificate_authorities:\n  - {id: a, role: interception, source: s}\n",
     "needs 'names'"),
    ("bad_role", HEADER + "certificate_authorities:\n  - {id: a, role: friendly, names: {CN: x}, source: s}\n",
     "'role'"),
    ("aliases_refused",
     HEADER + "page_patterns: &a\n  - {id: a, where: body, pattern: x, source: s}\nredirect_targets: *a\n",
     "alias"),
    ("not_a_mapping", "- 1\n- 2\n", "mapping"),
    ("too_long_pattern", HEADER + "page_patterns:\n  - {id: a, where: body, pattern: " + "x" * 600 + ", source: s}\n",
     "longer than"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_invalid_files_are_refused_with_a_reason(name, text, message):
    with pytest.raises(FingerprintError) as error:
        load_fingerprints(text)
    assert message.lower() in str(error.value).lower()


def test_oversized_file_is_refused_unread(tmp_path: Path):
    big = tmp_path / "fingerprints.yaml"
    big.write_bytes(HEADER.encode() + b"#" * (th.FINGERPRINTS_MAX_BYTES + 10))
    with pytest.raises(FingerprintError):
        load_fingerprints(big)


def test_patterns_are_literal_text_never_regular_expressions():
    entry = "page_patterns:\n  - {id: a, where: body, pattern: '(a+)+$', source: s}\n"
    fingerprints = load_fingerprints(HEADER + entry)
    assert fingerprints.page(page("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")) is None
    assert fingerprints.page(page("literal (a+)+$ here")) is not None


@pytest.mark.parametrize("name,hop_args,expected", [
    ("kazakh_blockpage_body", {"body": KZ_BLOCKPAGE}, "kz-page-blocked"),
    ("case_and_spacing_do_not_matter", {"body": "<h1>СТРАНИЦА   заблокирована</h1>"}, "kz-page-blocked"),
    ("certificate_stub_page", {"body": "Целью применения сертификата безопасности является ограничение "
                                       "распространения запрещенной информации"}, "kz-2019-certificate-stub"),
    ("russian_title_exact", {"title": "Ресурс заблокирован", "body": ""}, "ru-resource-blocked-title"),
    ("russian_title_must_be_exact", {"title": "Ресурс заблокирован: новости", "body": ""}, None),
    ("ordinary_page", {"body": "<p>Новости Казахстана</p>"}, None),
], ids=lambda x: x if isinstance(x, str) else "")
def test_page_patterns(name, hop_args, expected):
    match = bundled_fingerprints().page(page(**hop_args))
    assert (match.id if match else None) == expected


def test_header_patterns():
    fingerprints = load_fingerprints(HEADER + "page_patterns:\n  - {id: h, where: 'header:X-Filter', match: prefix, "
                                     "pattern: 'blocked', source: s}\n")
    assert fingerprints.page(page(headers={"x-filter": "Blocked by policy"})) is not None
    assert fingerprints.page(page(headers={"x-filter": "not blocked"})) is None


@pytest.mark.parametrize("name,certificate,role,expected", [
    ("qaznet_root_as_issuer", cert(issuer="CN=Qaznet Trust Network,C=KZ"), "interception", "kz-qaznet-trust-network"),
    ("qaznet_named_without_country", cert(issuer="CN=Qaznet Trust Network"), "interception", "kz-qaznet-trust-network"),
    ("security_certificate_needs_kz", cert(issuer="CN=Security Certificate,C=US"), "interception", None),
    ("security_certificate_in_kz", cert(issuer="C=KZ,CN=Security Certificate"), "interception",
     "kz-security-certificate"),
    ("isca_prefix", cert(issuer="CN=Information Security Certification Authority CA,O=ISCA,C=KZ"), "interception",
     "kz-isca-information-security-ca"),
    ("chromium_blocklist_hash", cert(sha256="1df696f021ab1c3ace9a376b07ed7256a40214cd3396d7934087614924e2d7ef"),
     "interception", "kz-qaznet-chromium-blocklist"),
    ("national_ca_is_not_interception", cert(issuer="C=KZ,CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)"), "interception", None),
    ("national_ca_recognised", cert(issuer="C=KZ,CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA) 2022"), "national",
     "kz-nca-national"),
    ("ordinary_ca", cert(issuer="CN=R11,O=Let's Encrypt,C=US"), "interception", None),
    ("escaped_name", cert(issuer="CN=Qaznet Trust Network\\,,C=KZ"), "interception", None),
], ids=lambda x: x if isinstance(x, str) else "")
def test_certificate_authorities(name, certificate, role, expected):
    match = bundled_fingerprints().authority((certificate,), role)
    assert (match.authority.id if match else None) == expected


def test_redirect_targets_match_host_and_subdomains():
    fingerprints = bundled_fingerprints()
    assert fingerprints.redirect("http://qca.kz/install").id == "kz-qca-certificate-install"
    assert fingerprints.redirect("https://www.qca.kz/") is not None
    assert fingerprints.redirect("https://notqca.kz/") is None


def test_distinguished_names_parse_with_escapes():
    assert parse_dn("CN=a\\,b+O=x,C=KZ") == [("CN", "a,b"), ("O", "x"), ("C", "KZ")]
    assert parse_dn("CN=\\D0\\A4") == [("CN", "Ф")]
    assert parse_dn("") == []


def test_bundled_path_is_the_shipped_data_file():
    assert BUNDLED.name == "fingerprints.yaml" and BUNDLED.parent.name == "data"


def test_a_body_pattern_is_ruled_out_before_the_body_is_folded(monkeypatch):
    """Folding a 64 KiB body for every response and pattern was most of the analysis' time: a body
    lacking a pattern's word is not folded at all, and matching is unchanged where it has it."""
    from kzprobe.analysis import fingerprints as fp

    folded: list[int] = []
    real_fold = fp.fold.__wrapped__
    monkeypatch.setattr(fp, "fold", lambda text: folded.append(len(text)) or real_fold(text))
    pattern = fp.PagePattern("x", "body", None, "contains", real_fold("Incapsula incident ID"), None, "test")
    page = "<html>" + "plain news text " * 4000 + "</html>"

    class Hop:
        body, title, headers = page, None, {}

    assert not pattern.matches(Hop()) and folded == []
    Hop.body = page.replace("plain", "INCAPSULA   Incident  id", 1)
    assert pattern.matches(Hop()) and len(folded) == 1


# Bodies whose case mapping is tricky, and patterns in ASCII and Cyrillic: the quick checks that
# rule a pattern out before folding never rule out one the folded body holds.
TRICKY_BODIES = [
    "Access DENIED by the operator",
    "ACCESS DEN\u0130ED",  # İ lowers to "i" and a combining dot
    "\u212aazakhtelecom blocked this page",  # the Kelvin sign lowers to "k"
    "STRAẞE gesperrt",  # ẞ casefolds to "ss" only
    "Страница ЗАБЛОКИРОВАНА по решению",
    "Страница заблокирована",
    "страница за\u1c80локирована",  # a rounded ve: casefolds to "в", lowers to itself
    "plain ascii page without it",
    "<script>Ресурс по данному IP-адресу заблокирован</script>",
]
TRICKY_PATTERNS = ["access denied", "kazakhtelecom blocked", "strasse gesperrt", "страница заблокирована",
                   "заблокирована", "за\u0432локирована", "denied", "Ресурс по данному IP-адресу заблокирован"]


@pytest.mark.parametrize("body", TRICKY_BODIES)
def test_quick_checks_never_rule_out_a_pattern_the_folded_body_holds(body):
    from kzprobe.analysis import fingerprints as fp

    class Hop:
        title, headers = None, {}

    Hop.body = body * 3
    for text in TRICKY_PATTERNS:
        pattern = fp.PagePattern("x", "body", None, "contains", fp.fold(text), None, "test")
        assert pattern.matches(Hop()) == (fp.fold(text) in fp.fold(Hop.body)), (body, text)
