"""Issue 22, items 1-3 (docs/methodology.md, TLS and DNS): certificates compared with the control,
incomplete chains, roots installed here, the SNI split, and the control resolver's addresses.
One row per rule edge, with and without a control scan; a healthy target changed by one step."""

from __future__ import annotations

import copy

import pytest

from support.observations import (
    ADDRESS,
    HOST,
    QAZNET_CHAIN,
    add_split,
    control_of,
    dns,
    neutral,
    result,
    tcp,
    tls,
    verdict_of,
    web,
)

CDN_NODE = "95.57.9.9"  # an in-ISP node the local resolver answers
PRIVATE_NODE = "172.20.9.9"  # an in-ISP cache inside the ISP's private network
LEAF_KEY = "5a" * 32


def https(**changes) -> dict:
    obs = web()
    obs.update(changes)
    return obs


def cert(subject: str, issuer: str, sha: str, key: str = "") -> dict:
    info = {"subject": subject, "issuer": issuer, "sans": [], "not_before": "", "not_after": "", "sha256": sha * 32}
    if key:
        info["spki_sha256"] = key
    return info


SITE_LEAF = cert(f"CN={HOST}", "CN=R11,O=Let's Encrypt,C=US", "ab", LEAF_KEY)
SITE_CHAIN = [SITE_LEAF,
              cert("CN=R11,O=Let's Encrypt,C=US", "CN=ISRG Root X1,O=Internet Security Research Group,C=US", "a1")]
# The server forgot its intermediate: only the leaf came, and its issuer is not a root.
INCOMPLETE = [SITE_LEAF]
# An interceptor's forgery: the site's name, another issuer and another key.
FORGED = [cert(f"CN={HOST}", "CN=Gateway Inspection CA,O=Some ISP", "f0", "f1" * 32),
          cert("CN=Gateway Inspection CA,O=Some ISP", "CN=Gateway Root,O=Some ISP", "f2")]
FORGED_LEAF_ONLY = FORGED[:1]
FORGED_WITH_ROOT = [*FORGED, cert("CN=Gateway Root,O=Some ISP", "CN=Gateway Root,O=Some ISP", "f3")]
ISRG_ROOT = cert("CN=ISRG Root X1,O=Internet Security Research Group,C=US",
                 "CN=ISRG Root X1,O=Internet Security Research Group,C=US", "a0")
# leaf <- issuing CA <- policy CA <- root (a public hierarchy of three levels).
THREE_LEVELS = [cert(f"CN={HOST}", "CN=Issuing CA 2,O=Some Trust", "b1", "b2" * 32),
                cert("CN=Issuing CA 2,O=Some Trust", "CN=Policy CA,O=Some Trust", "b3"),
                cert("CN=Policy CA,O=Some Trust", "CN=Some Trust Root,O=Some Trust", "b4")]
# Another edge of the site's CDN: its own certificate (another key) from the same issuer as the control's.
EDGE_LEAF = cert(f"CN={HOST}", "CN=R11,O=Let's Encrypt,C=US", "e5", "e6" * 32)
# That edge's certificate left to expire (the scan starts 2026-11-22), or not yet valid; a forgery out
# of date, from its own issuer; one in date that fails verification (a bad signature).
EXPIRED_EDGE = dict(EDGE_LEAF, not_before="2026-08-01T00:00:00Z", not_after="2026-10-30T00:00:00Z")
EARLY_EDGE = dict(EDGE_LEAF, not_before="2026-12-01T00:00:00Z", not_after="2027-03-01T00:00:00Z")
EXPIRED_FORGERY = dict(FORGED[0], not_before="2026-08-01T00:00:00Z", not_after="2026-10-30T00:00:00Z")
CURRENT_EDGE = dict(EDGE_LEAF, not_before="2026-11-01T00:00:00Z", not_after="2027-01-30T00:00:00Z")
NATIONAL = [cert(f"CN={HOST}", "C=KZ,CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)", "ef", "e1" * 32)]
RU_MINISTRY = "O=The Ministry of Digital Development and Communications,C=RU"
RU_NATIONAL = [cert(f"CN={HOST}", f"CN=Russian Trusted Sub CA,{RU_MINISTRY}", "d1", "d2" * 32),
               cert(f"CN=Russian Trusted Sub CA,{RU_MINISTRY}", f"CN=Russian Trusted Root CA,{RU_MINISTRY}", "d3"),
               cert(f"CN=Russian Trusted Root CA,{RU_MINISTRY}", f"CN=Russian Trusted Root CA,{RU_MINISTRY}", "d4")]


def validated(chain: list[dict], root_store: str = "public", **extra) -> dict:
    return dict(tls(chain=chain), root_store=root_store, chain_complete=True, **extra)


def unverified(chain: list[dict], complete: bool | None, failure: str = "ssl_unknown_authority") -> dict:
    return dict(tls(failure=failure, completed=True, verified=False, chain=chain), chain_complete=complete)


def trust_check(chain: list[dict], *, trusted: bool, root_store: str = "public") -> dict:
    """The neutral name's handshake at the same address, its chain checked for trust whatever name
    it is for (purpose "cert_check"): trusted, or completed with an untrusted chain."""
    check = dict(tls(failure=None if trusted else "ssl_unknown_authority", completed=True, verified=trusted,
                     chain=chain if trusted else []), sni="example.com", purpose="cert_check")
    if trusted:
        check["root_store"] = root_store
    return check


def failed_tls(*handshakes: dict, aia: list[dict] | None = None) -> dict:
    obs = https(tls=list(handshakes), http=[])
    if aia is not None:
        obs["aia"] = aia
    return obs


def aia_fetch(failure: str | None = None, subjects: tuple[str, ...] = ()) -> dict:
    return {"url": "http://r11.i.lencr.example/", "for_certificate": "ab" * 32, "hostname": "r11.i.lencr.example",
            "addresses": ["88.198.3.3"], "address": "88.198.3.3", "status": None if failure else 200,
            "bytes": 0 if failure else 1300, "certificates": [cert(s, "CN=Root", "a9") for s in subjects],
            "failure": failure, "duration_ms": 12.0}


def control(obs: dict) -> dict:
    return control_of(result(obs))


def stale(report: dict) -> dict:
    """A copy of the control report measured eight hours before the scan (past the 3 h bound)."""
    report = copy.deepcopy(report)
    for item in report["results"]:
        item["started_at"] = "2026-11-22T02:00:00Z"
    return report


CONTROL_VALIDATES = control(https(tls=[validated(SITE_CHAIN)]))
CONTROL_VALIDATES_AFTER_AIA = control(https(tls=[unverified(INCOMPLETE, False),
                                                 validated(INCOMPLETE, intermediates_fetched=["a1" * 32])]))
CONTROL_FAILS_SAME = control(failed_tls(unverified(INCOMPLETE, False)))


SAME = "same"  # the real name's second try fails as the first did


def sni_split(failure: str, neutral_failure: str | None = None, *, tcp_failure: str | None = None,
              address: str = ADDRESS, again: str | None = SAME) -> dict:
    """The real name failed with `failure`; the neutral name then (answered, or `neutral_failure`,
    `tcp_failure`); when answered, the real name once more (`again`; None: it passed)."""
    obs = https(dns=dns(HOST, [address]), tcp=[tcp(address)], tls=[tls(address, failure)], http=[])
    return add_split(obs, address, failure if again == SAME else again, neutral_failure=neutral_failure,
                     tcp_failure=tcp_failure)


def neutral_answered_only(failure: str, *, confirm_tcp_failure: str | None = None) -> dict:
    """An older probe's SNI split (no second try of the real name), or one whose second
    connection failed."""
    obs = https(tls=[tls(failure=failure)], http=[])
    extra = neutral()
    obs["tcp"].append(extra[0])
    obs["tls"].append(extra[1])
    if confirm_tcp_failure:
        obs["tcp"].append(dict(tcp(failure=confirm_tcp_failure), purpose="sni_confirm"))
    return obs


def at_control_addresses(local: dict, *, tls_failure: str | None = None, tcp_failure: str | None = None) -> dict:
    """The local resolver answered CDN_NODE, the control resolver ADDRESS; the probe then tried
    ADDRESS with the real name (purpose "control_address")."""
    obs = copy.deepcopy(local)
    obs["control_dns"] = dns(HOST, [ADDRESS], resolver="https://1.1.1.1/dns-query")
    obs["tcp"].append(dict(tcp(ADDRESS, tcp_failure), purpose="control_address"))
    if tcp_failure is None:
        obs["tls"].append(dict(tls(ADDRESS, tls_failure), purpose="control_address"))
    return obs


CDN_SNI_FILTERED = sni_split("generic_timeout_error", address=CDN_NODE)

ROWS = [
    # Certificates: a chain the server sent without its intermediate
    ("incomplete_chain_completed_through_aia_is_reachable",
     https(tls=[unverified(INCOMPLETE, False), validated(INCOMPLETE, intermediates_fetched=["a1" * 32])],
           aia=[aia_fetch(subjects=("CN=R11,O=Let's Encrypt,C=US",))]),
     None, "reachable", None, []),
    ("incomplete_chain_not_completed_without_control",
     failed_tls(unverified(INCOMPLETE, False), aia=[aia_fetch("generic_timeout_error")]), None,
     "inconclusive", None, ["control.missing", "tls.chain_incomplete"]),
    ("incomplete_chain_with_no_aia_without_control", failed_tls(unverified(INCOMPLETE, False)), None,
     "inconclusive", None, ["control.missing", "tls.chain_incomplete"]),
    ("incomplete_chain_the_control_completed_is_not_interception",
     failed_tls(unverified(INCOMPLETE, False), aia=[aia_fetch("generic_timeout_error")]), CONTROL_VALIDATES_AFTER_AIA,
     "inconclusive", None, ["tls.chain_incomplete"]),
    ("incomplete_chain_incomplete_in_the_control_too", failed_tls(unverified(INCOMPLETE, False)), CONTROL_FAILS_SAME,
     "inconclusive", None, ["tls.chain_incomplete"]),
    ("incomplete_chain_where_the_control_got_another_certificate",
     failed_tls(unverified(FORGED_LEAF_ONLY, False)), CONTROL_VALIDATES, "blocked", "tls", ["tls.mitm"]),
    ("incomplete_chain_where_the_control_failed_with_another_issuer",
     failed_tls(unverified(FORGED_LEAF_ONLY, False)), CONTROL_FAILS_SAME, "blocked", "tls", ["tls.mitm"]),
    ("issuer_fetched_whose_own_issuer_is_missing_is_still_incomplete",
     failed_tls(unverified(FORGED_LEAF_ONLY, False),
                dict(unverified([], True), intermediates_fetched=["f2" * 32], handshake_completed=True),
                aia=[aia_fetch(subjects=("CN=Gateway Inspection CA,O=Some ISP",))]),
     None, "inconclusive", None, ["control.missing", "tls.chain_incomplete"]),
    # Issue 22, item 1, beyond the lab's chains: the intermediate below the root missing (three
    # levels, the server sending only the first); a CDN edge sending another certificate of the same
    # issuer without its intermediate; chains that end at a root nobody trusts.
    ("three_level_chain_whose_second_intermediate_was_not_sent",
     failed_tls(unverified(THREE_LEVELS[:2], False), trust_check(THREE_LEVELS[:2], trusted=False)), None,
     "inconclusive", None, ["control.missing", "tls.chain_incomplete"]),
    ("three_level_chain_the_control_completed", failed_tls(unverified(THREE_LEVELS[:2], False)),
     control(https(tls=[validated(THREE_LEVELS)])), "inconclusive", None, ["tls.chain_incomplete"]),
    ("cdn_edge_sending_another_certificate_of_the_same_issuer_without_its_intermediate",
     failed_tls(unverified([EDGE_LEAF], False)), CONTROL_VALIDATES, "inconclusive", None, ["tls.chain_incomplete"]),
    ("untrusted_root_fetched_through_aia_no_trust_check_recorded",
     failed_tls(unverified(FORGED_LEAF_ONLY, False),
                aia=[dict(aia_fetch(), certificates=[FORGED[1]]),
                     dict(aia_fetch(), certificates=[FORGED_WITH_ROOT[2]])]),
     None, "inconclusive", None, ["control.missing", "tls.invalid_cert"]),
    ("private_ca_whose_neutral_name_gets_the_same_untrusted_chain",
     failed_tls(unverified(FORGED_WITH_ROOT, True), trust_check(FORGED_WITH_ROOT, trusted=False)), None,
     "inconclusive", None, ["control.missing", "tls.invalid_cert"]),
    ("untrusted_chain_while_a_neutral_name_gets_a_trusted_one_is_interception",
     failed_tls(unverified(FORGED_WITH_ROOT, True), trust_check(SITE_CHAIN, trusted=True)), None,
     "blocked", "tls", ["tls.mitm"]),
    ("interceptor_sending_no_root_while_a_neutral_name_gets_a_trusted_chain",
     failed_tls(unverified(FORGED, False), trust_check(SITE_CHAIN, trusted=True)), None,
     "blocked", "tls", ["tls.mitm"]),
    ("neutral_name_trusted_only_through_an_installed_root_proves_nothing",
     failed_tls(unverified(FORGED_WITH_ROOT, True), trust_check(SITE_CHAIN, trusted=True, root_store="system_only")),
     None, "inconclusive", None, ["control.missing", "tls.invalid_cert"]),
    ("neutral_name_refused_proves_nothing",
     failed_tls(unverified(FORGED_WITH_ROOT, True), dict(trust_check([], trusted=False), failure="connection_reset",
                                                         handshake_completed=False)),
     None, "inconclusive", None, ["control.missing", "tls.invalid_cert"]),
    ("old_report_leaf_only_untrusted_issuer_is_inconclusive",
     failed_tls(dict(unverified(FORGED_LEAF_ONLY, None), chain_complete=None)), None,
     "inconclusive", None, ["control.missing", "tls.chain_incomplete"]),
    ("untrusted_issuer_whose_chain_could_not_be_read", failed_tls(unverified([], None)), None,
     "inconclusive", None, ["control.missing", "tls.invalid_cert"]),
    # Certificates: compared with the control for the same name
    ("complete_chain_untrusted_issuer_without_control", failed_tls(unverified(FORGED_WITH_ROOT, True)), None,
     "inconclusive", None, ["control.missing", "tls.invalid_cert"]),
    ("complete_chain_untrusted_issuer_where_the_control_validates_another",
     failed_tls(unverified(FORGED_WITH_ROOT, True)), CONTROL_VALIDATES, "blocked", "tls", ["tls.mitm"]),
    ("untrusted_chain_identical_to_the_control_s_validated_one",
     failed_tls(unverified(SITE_CHAIN, True)), CONTROL_VALIDATES, "inconclusive", None, ["tls.chain_incomplete"]),
    ("self_signed_root_sent_identical_to_the_control_s_validated_one",
     failed_tls(unverified(SITE_CHAIN + [ISRG_ROOT], True)), CONTROL_VALIDATES, "inconclusive", None,
     ["tls.invalid_cert"]),
    ("expired_here_the_same_certificate_the_control_validated",
     failed_tls(unverified(SITE_CHAIN, True, "ssl_invalid_certificate")), CONTROL_VALIDATES,
     "inconclusive", None, ["tls.invalid_cert"]),
    # An edge of the site's CDN whose certificate, from the control's issuer, was not renewed (read
    # blocked/tls [tls.invalid_cert] before); out of date from another issuer, or in date, stays blocked
    ("expired_certificate_from_the_control_s_issuer_on_another_edge",
     failed_tls(unverified([EXPIRED_EDGE, SITE_CHAIN[1]], True, "ssl_invalid_certificate")), CONTROL_VALIDATES,
     "inconclusive", None, ["tls.invalid_cert"]),
    ("not_yet_valid_certificate_from_the_control_s_issuer_on_another_edge",
     failed_tls(unverified([EARLY_EDGE, SITE_CHAIN[1]], True, "ssl_invalid_certificate")), CONTROL_VALIDATES,
     "inconclusive", None, ["tls.invalid_cert"]),
    ("expired_certificate_from_another_issuer_than_the_control_s",
     failed_tls(unverified([EXPIRED_FORGERY, *FORGED[1:]], True, "ssl_invalid_certificate")), CONTROL_VALIDATES,
     "blocked", "tls", ["tls.invalid_cert"]),
    ("certificate_in_date_from_the_control_s_issuer_failing_verification",
     failed_tls(unverified([CURRENT_EDGE, SITE_CHAIN[1]], True, "ssl_invalid_certificate")), CONTROL_VALIDATES,
     "blocked", "tls", ["tls.invalid_cert"]),
    ("expired_certificate_without_recorded_dates_stays_blocked",
     failed_tls(unverified([EDGE_LEAF, SITE_CHAIN[1]], True, "ssl_invalid_certificate")), CONTROL_VALIDATES,
     "blocked", "tls", ["tls.invalid_cert"]),
    ("another_key_than_the_control_but_valid_here_is_a_cdn",
     https(tls=[validated([dict(SITE_LEAF, spki_sha256="77" * 32, sha256="78" * 32)])]), CONTROL_VALIDATES,
     "reachable", None, []),
    # Certificates: validated only through a root installed here
    ("installed_root_without_control", https(tls=[validated(FORGED, "system_only")]), None,
     "blocked", "tls", ["tls.mitm"]),
    ("installed_root_with_another_certificate_than_the_control", https(tls=[validated(FORGED, "system_only")]),
     CONTROL_VALIDATES, "blocked", "tls", ["tls.mitm"]),
    ("installed_root_for_the_site_s_own_certificate", https(tls=[validated(SITE_CHAIN, "system_only")]),
     CONTROL_VALIDATES, "reachable", None, []),
    ("installed_national_root_is_not_interception", https(tls=[validated(NATIONAL, "system_only")]), None,
     "reachable", None, []),
    # Russia's national root, which Sberbank's and state sites moved to in 2022 and ask users to install.
    ("installed_russian_national_root_is_not_interception", https(tls=[validated(RU_NATIONAL, "system_only")]),
     None, "reachable", None, []),
    ("russian_national_root_not_installed_is_no_interception", failed_tls(unverified(RU_NATIONAL, True)), None,
     "inconclusive", None, ["control.missing", "tls.invalid_cert"]),
    ("ca_file_root_is_the_operator_s_own", https(tls=[validated(FORGED, "ca_file")]), None, "reachable", None, []),
    ("ca_file_root_for_the_certificate_the_control_got_too", https(tls=[validated(SITE_CHAIN, "ca_file")]),
     CONTROL_VALIDATES, "reachable", None, []),
    ("ca_file_root_for_another_certificate_than_the_control", https(tls=[validated(FORGED, "ca_file")]),
     CONTROL_VALIDATES, "blocked", "tls", ["tls.mitm"]),
    ("ca_file_root_for_another_certificate_than_a_stale_control_is_no_proof",
     https(tls=[validated(FORGED, "ca_file")]), stale(CONTROL_VALIDATES), "reachable", None, []),
    ("public_root_for_another_certificate_than_the_control_is_a_cdn", https(tls=[validated(FORGED, "public")]),
     CONTROL_VALIDATES, "reachable", None, []),
    ("known_interception_root_installed_here", https(tls=[validated(QAZNET_CHAIN, "system_only")]), None,
     "blocked", "tls", ["tls.mitm"]),
    # The SNI split
    ("neutral_name_answered_after_a_reset", sni_split("connection_reset"), None,
     "blocked", "tls", ["tls.reset", "tls.sni_filter"]),
    ("neutral_name_answered_with_an_alert", sni_split("eof_error", "ssl_failed_handshake"), None,
     "blocked", "tls", ["tls.eof", "tls.sni_filter"]),
    ("neutral_name_answered_where_the_control_completes", sni_split("generic_timeout_error"), CONTROL_VALIDATES,
     "blocked", "tls", ["tls.timeout", "tls.sni_filter"]),
    ("every_clienthello_closed_without_control", sni_split("eof_error", "eof_error"), None,
     "inconclusive", None, ["control.missing", "tls.eof"]),
    ("every_clienthello_closed_in_the_control_too", sni_split("eof_error", "eof_error"),
     control(sni_split("eof_error", "eof_error")), "down", None, ["tls.eof"]),
    ("every_clienthello_closed_only_here", sni_split("eof_error", "eof_error"), CONTROL_VALIDATES,
     "blocked", "tls", ["tls.eof"]),
    ("neutral_retry_could_not_connect", sni_split("connection_reset", tcp_failure="generic_timeout_error"), None,
     "inconclusive", None, ["control.missing", "tls.reset"]),
    ("no_neutral_retry_recorded", https(tls=[tls(failure="connection_reset")], http=[]), None,
     "inconclusive", None, ["control.missing", "tls.reset"]),
    # ... the real name once more after the neutral name was answered (issue 22 item 2, review):
    # a server that failed once by chance passes it, a filter on the name does not.
    ("real_name_passing_its_second_try_is_a_flaky_server", dict(sni_split("eof_error", again=None), http=web()["http"]),
     None, "reachable", None, []),
    ("real_name_passing_its_second_try_with_a_control", dict(sni_split("eof_error", again=None), http=web()["http"]),
     CONTROL_VALIDATES, "reachable", None, []),
    ("real_name_failing_again_differently_is_still_the_name", sni_split("eof_error", again="connection_reset"), None,
     "blocked", "tls", ["tls.eof", "tls.reset", "tls.sni_filter"]),
    ("neutral_answered_but_the_real_name_not_tried_again", neutral_answered_only("eof_error"), None,
     "inconclusive", None, ["control.missing", "tls.eof"]),
    ("neutral_answered_but_the_second_try_could_not_connect",
     neutral_answered_only("eof_error", confirm_tcp_failure="generic_timeout_error"), None,
     "inconclusive", None, ["control.missing", "tls.eof"]),
    ("neutral_answered_without_a_second_try_where_the_control_completes", neutral_answered_only("eof_error"),
     CONTROL_VALIDATES, "blocked", "tls", ["tls.eof"]),
    # The control resolver's addresses: which layer stops the name
    ("cdn_node_and_the_true_address_both_sni_filtered", at_control_addresses(CDN_SNI_FILTERED,
                                                                             tls_failure="generic_timeout_error"),
     None, "blocked", "tls", ["tls.timeout", "tls.sni_filter"]),
    ("cdn_node_and_sni_filter_with_a_control", at_control_addresses(CDN_SNI_FILTERED,
                                                                    tls_failure="generic_timeout_error"),
     CONTROL_VALIDATES, "blocked", "tls", ["tls.timeout", "tls.sni_filter"]),
    ("the_true_address_works_here_so_the_answer_is_the_block",
     at_control_addresses(https(dns=dns(HOST, [CDN_NODE]), tcp=[tcp(CDN_NODE, "generic_timeout_error")], tls=[],
                                http=[])), None, "blocked", "dns", ["dns.inconsistent", "tcp.timeout"]),
    ("cdn_node_answering_a_neutral_name_is_sni_filtering_even_untried_at_the_true_address",
     dict(CDN_SNI_FILTERED, control_dns=dns(HOST, [ADDRESS], resolver="doh")),
     None, "blocked", "tls", ["tls.timeout", "tls.sni_filter"]),
    # The in-ISP node at a private address (another range than the lab's): the layer is still TLS
    # when the name fails at the true address too; at loopback, or working at the true address, DNS.
    ("cdn_node_at_a_private_address_and_the_true_address_both_sni_filtered",
     at_control_addresses(sni_split("connection_reset", address=PRIVATE_NODE), tls_failure="connection_reset"),
     None, "blocked", "tls", ["tls.reset", "tls.sni_filter"]),
    ("private_answer_whose_true_address_works_here_is_the_block",
     at_control_addresses(sni_split("connection_reset", address=PRIVATE_NODE)),
     None, "blocked", "dns", ["dns.bogon", "dns.inconsistent"]),
    ("loopback_answer_stays_a_dns_lie_whatever_the_true_address_does",
     at_control_addresses(sni_split("connection_reset", address="127.0.0.2"), tls_failure="connection_reset"),
     None, "blocked", "dns", ["dns.bogon", "dns.inconsistent"]),
    ("another_answer_failing_every_name_keeps_the_dns_rule",
     dict(sni_split("generic_timeout_error", "generic_timeout_error", address=CDN_NODE),
          control_dns=dns(HOST, [ADDRESS], resolver="doh")),
     None, "blocked", "dns", ["dns.inconsistent"]),
]


@pytest.mark.parametrize("name,observations,control_report,verdict,blocking,evidence", ROWS, ids=[r[0] for r in ROWS])
def test_tls_trap_rule(name, observations, control_report, verdict, blocking, evidence):
    got = verdict_of(result(copy.deepcopy(observations)), control_report)
    assert (got["verdict"], got["blocking"]) == (verdict, blocking), got["explanation"]
    assert got["evidence"][:len(evidence)] == evidence, got
    assert got["explanation"] and got["explanation"].endswith(".")


def test_sni_filter_explanation_names_the_neutral_name_and_who_answered():
    got = verdict_of(result(sni_split("connection_reset")))
    assert '"example.com"' in got["explanation"] and ADDRESS in got["explanation"]
    assert "SNI filtering" in got["explanation"]


def test_sni_filter_explanation_says_the_real_name_failed_again():
    got = verdict_of(result(sni_split("connection_reset")))
    assert "failed again" in got["explanation"]


def test_a_flaky_first_handshake_is_named_in_the_reachable_explanation():
    got = verdict_of(result(dict(sni_split("eof_error", again=None), http=web()["http"])))
    assert got["verdict"] == "reachable"
    assert "eof_error" in got["explanation"] and "second try" in got["explanation"], got["explanation"]


def test_incomplete_chain_explanation_says_what_fetching_the_issuer_gave():
    got = verdict_of(result(failed_tls(unverified(INCOMPLETE, False), aia=[aia_fetch("generic_timeout_error")])))
    assert "did not send" in got["explanation"] and "generic_timeout_error" in got["explanation"]


def test_installed_root_explanation_names_the_root():
    got = verdict_of(result(https(tls=[validated(FORGED, "system_only")])))
    assert "Gateway Root" in got["explanation"] and "installed" in got["explanation"]


def test_the_control_s_own_extra_handshakes_do_not_count_as_its_tls_step():
    """A control scan whose own handshake failed but whose neutral retry completed still failed TLS."""
    control_report = control(sni_split("eof_error"))
    got = verdict_of(result(sni_split("eof_error", "eof_error")), control_report)
    assert got["verdict"] == "down", got


def test_analysts_read_the_target_s_own_handshake_not_the_neutral_retry():
    from kzprobe.analyst.measures import measures_of

    measures = measures_of(sni_split("connection_reset"))
    assert measures.tls_failure == "connection_reset" and measures.tls_handshake_ms is None


def test_sni_filtering_is_not_blamed_on_an_international_cut():
    """The address answered the neutral name, so the path works: the name is blocked, not the link."""
    from support.observations import baselines

    cut = baselines(international=False)
    got = verdict_of(result(sni_split("generic_timeout_error")), None, scan_baselines=cut)
    assert (got["verdict"], got["blocking"]) == ("blocked", "tls"), got
    both_failed = verdict_of(result(sni_split("generic_timeout_error", "generic_timeout_error")), None,
                             scan_baselines=cut)
    assert (both_failed["verdict"], both_failed["blocking"]) == ("blocked", "network"), both_failed


def _timed(obs: dict, ms: float) -> dict:
    for attempt in obs["tls"]:
        if attempt.get("purpose") is None:
            attempt["duration_ms"] = ms
    return obs


def _handshake_timeout(neutral_failure: str | None) -> dict:
    """The real name's handshake times out after 1 s; the neutral name, at once, gets `neutral_failure`
    (an alert from a server that does not serve example.com, or None: a completed handshake)."""
    obs = web()
    obs["tls"] = [tls(failure="generic_timeout_error", completed=False)]
    obs["http"] = []
    # The split as the probe records it: the neutral name, then the real name failing again.
    add_split(obs, again="generic_timeout_error", neutral_failure=neutral_failure)
    return _timed(obs, 1000.0)


def _control_handshake(ms: float) -> dict:
    return control_of(result(_timed(web(), ms)))


SNI_TIMING_ROWS = [
    # id, neutral name's outcome, control handshake (ms), verdict, evidence
    ("neutral_alert_and_a_control_as_slow_as_the_timeout", "ssl_failed_handshake", 950.0, "inconclusive",
     ["tls.timeout"]),
    ("neutral_completed_and_a_control_as_slow_as_the_timeout", None, 950.0, "inconclusive", ["tls.timeout"]),
    ("neutral_alert_and_a_fast_control_is_sni_filtering", "ssl_failed_handshake", 40.0, "blocked",
     ["tls.timeout", "tls.sni_filter"]),
    ("neutral_completed_and_a_fast_control_is_sni_filtering", None, 40.0, "blocked", ["tls.timeout", "tls.sni_filter"]),
]


@pytest.mark.parametrize("name, neutral_failure, control_ms, verdict, evidence", SNI_TIMING_ROWS,
                         ids=[row[0] for row in SNI_TIMING_ROWS])
def test_the_sni_split_is_no_block_when_the_control_was_as_slow(name, neutral_failure, control_ms, verdict, evidence):
    got = verdict_of(result(_handshake_timeout(neutral_failure)), _control_handshake(control_ms))
    assert (got["verdict"], got["evidence"]) == (verdict, evidence), got["explanation"]
    if verdict == "inconclusive":
        assert "as slow as the timeout" in got["explanation"] and "instead got an answer" in got["explanation"]
