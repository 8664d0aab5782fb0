"""The outcome of one endpoint: "ok", or the first step that failed (DNS, TCP, TLS) as a code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from kzprobe.analysis import explain
from kzprobe.analysis.addresses import special_block
from kzprobe.analysis.certificate_rules import CA_FILE, PUBLIC
from kzprobe.analysis.codes import SNI_FILTER_FAILURES
from kzprobe.analysis.context import SYSTEM_ONLY
from kzprobe.analysis.facts import TlsFact
from kzprobe.analysis.names import is_ip_literal
from kzprobe.analysis.services.records import EndpointFacts
from kzprobe.report import vocabulary as v

# Outcomes that are not failures of the network.
OK: Final = "ok"
NOT_MEASURED: Final = "not_measured"  # cut short by the target deadline, or its pinned CA unusable
NO_IPV6: Final = "no_ipv6"  # IPv6 addresses only, and this vantage has no IPv6 route
UNTESTED_OUTCOMES: Final = (NOT_MEASURED, NO_IPV6)
# A chain re-signed by the software inspecting this machine's HTTPS (analysis/inspection.py): the
# endpoint's own certificate cannot be seen from here, so its pin proves nothing either way.
LOCAL_INSPECTION: Final = "tls.local_inspection"
# A pinned endpoint's chain that misses its pin but validates for the name through a public root
# (or one from --ca-file), or that the control scan got too: the service changed its certificate
# authority and kzprobe's pin is stale (Signal moved a host to a new root in October 2022, and
# OONI's test read it as blocking until its pin was updated). Not interception: docs/methodology.md.
PIN_STALE: Final = "tls.pin_stale"
# Roots a stale pin's chain may validate through: Mozilla's public set, and the operator's own.
_TRUSTED_ROOTS: Final = (PUBLIC, CA_FILE)

# What the SNI split (the same address with a neutral name, then the real name once more) said
# about a handshake reset, closed or silenced after the ClientHello (Outcome.split):
SPLIT_SNI_FILTER: Final = "sni_filter"  # neutral name answered, the real name failed again: the name is cut
SPLIT_UNCONFIRMED: Final = "unconfirmed"  # neutral name answered, the real name not failed a second time
SPLIT_NEUTRAL_FAILED: Final = "neutral_failed"  # the neutral name failed too: the server or its address
SPLIT_UNTRIED: Final = "untried"  # no split recorded (a report made before it, an imported measurement)
_SPLIT_DETAILS: Final = {
    SPLIT_SNI_FILTER: "a neutral server name was answered at the same address and the real name failed again",
    SPLIT_UNCONFIRMED: "a neutral server name was answered at the same address, the real name not tried again",
    SPLIT_NEUTRAL_FAILED: "a neutral server name failed at the same address too",
}

# Layers an outcome code can name, in the order a connection goes through them.
LAYER_ORDER: Final = ("dns", "tcp", "tls", "http", "network")

# Failure string -> outcome code, per step. Codes outside vocabulary.EVIDENCE_CODES
# ("tcp.unreachable", "tls.failed", "<layer>.unknown") appear in the endpoint list, not in evidence.
_DNS_CODES: Final = {
    v.DNS_NXDOMAIN: "dns.nxdomain", v.DNS_NO_ANSWER: "dns.no_answer", v.DNS_SERVFAIL: "dns.servfail",
    v.DNS_REFUSED: "dns.refused", v.DNS_TIMEOUT: "dns.timeout",
}
_TCP_CODES: Final = {
    v.GENERIC_TIMEOUT: "tcp.timeout", v.CONNECTION_REFUSED: "tcp.refused", v.CONNECTION_RESET: "tcp.reset",
    v.EOF_ERROR: "tcp.reset", v.NETWORK_UNREACHABLE: "tcp.unreachable", v.HOST_UNREACHABLE: "tcp.unreachable",
}
_TLS_CODES: Final = {
    v.CONNECTION_RESET: "tls.reset", v.EOF_ERROR: "tls.eof", v.GENERIC_TIMEOUT: "tls.timeout",
    v.SSL_FAILED_HANDSHAKE: "tls.failed",
}
# A Tor directory port's GET (probes/tor_endpoints.py): how the exchange failed.
_DIRECTORY_CODES: Final = {
    v.CONNECTION_RESET: "http.reset", v.EOF_ERROR: "http.eof", v.GENERIC_TIMEOUT: "http.timeout",
}
_VERIFICATION_FAILURES: Final = (v.SSL_UNKNOWN_AUTHORITY, v.SSL_INVALID_HOSTNAME, v.SSL_INVALID_CERTIFICATE)


@dataclass(frozen=True)
class Outcome:
    code: str  # OK, NOT_MEASURED, NO_IPV6 or "<layer>.<what>"
    address: str | None = None  # where it worked, or where it failed
    failure: str | None = None  # the failure string behind the code
    detail: str | None = None  # e.g. the issuer of the chain an interceptor presented
    split: str | None = None  # SPLIT_*: a TLS reset, close or silence's SNI split (not a Tor OR port's)
    trust: str | None = None  # PIN_STALE: the origin of the root its chain validated through
    pinned: bool = False  # the chain missed its pin (PIN_STALE, or tls.mitm by the pin alone)

    @property
    def failing(self) -> bool:
        return self.code != OK and self.code not in UNTESTED_OUTCOMES

    @property
    def layer(self) -> str:
        layer = self.code.split(".", 1)[0]
        return layer if layer in LAYER_ORDER else "http"


def endpoint_outcome(facts: EndpointFacts, fingerprints: Any = None, local_root: str | None = None) -> Outcome:
    """"ok", or the first step that failed (DNS, then TCP, then TLS) and how. `local_root`: the
    root inspecting this scan's HTTPS on the machine, if any (analysis/inspection.py)."""
    if facts.setup_failure:
        return Outcome(NOT_MEASURED, failure=facts.setup_failure)
    if not is_ip_literal(facts.host):
        if facts.dns is None:
            return Outcome(NOT_MEASURED)
        if not facts.dns.addresses:
            failure = facts.dns.failure or v.DNS_NO_ANSWER
            return Outcome(_DNS_CODES.get(failure, "dns.unknown"), failure=failure)
        blocks = [special_block(a) for a in facts.dns.addresses]
        if all(block is not None for block in blocks):
            return Outcome("dns.bogon", facts.dns.addresses[0], detail=blocks[0].label)  # type: ignore[union-attr]  # all() above: none is None
        known = _blockpage_address(facts.dns.addresses, fingerprints)
        if known:
            return Outcome("dns.blockpage_ip", known)
    own = [t for t in facts.tcp if t.purpose is None]  # not the SNI split's connections
    attempts = [t for t in own if not t.vantage_lacks_ipv6]
    if not attempts:
        return Outcome(NO_IPV6 if own else NOT_MEASURED)
    connected = [t for t in attempts if t.ok]
    if not connected:
        first = attempts[0]
        return Outcome(_TCP_CODES.get(first.failure or "", "tcp.unknown"), first.address, first.failure)
    if facts.kind == "tor_dir":
        return _directory_outcome(facts, {t.address for t in connected}, connected[0].address)
    if facts.kind == "obfs4" and facts.obfs4_ran and facts.obfs4_failure is not None:
        # The bridge took TCP but the obfs4 handshake through the real client failed: a censor
        # that recognises obfs4, or a bridge gone bad; the control scan decides.
        return Outcome("tls.obfs4", connected[0].address, facts.obfs4_failure)
    if not facts.tls:
        return Outcome(OK, connected[0].address)
    addresses = {t.address for t in connected}
    handshakes = [h for h in facts.tls_handshakes if h.address in addresses and h.purpose is None]
    if not handshakes:
        return Outcome(NOT_MEASURED, connected[0].address)
    good = next((h for h in handshakes if h.ok or (facts.kind == "tor_or" and h.completed and h.failure is None)), None)
    # The real name's second try after the neutral one was answered: a flaky first handshake.
    good = good or next((h for h in facts.tls_handshakes if h.purpose == v.PURPOSE_SNI_CONFIRM and h.ok
                         and h.address in addresses), None)
    if good is not None:
        # A Tor OR port's certificate is self-signed by design and never checked: for it the
        # handshake completing is the whole test (docs/circumvention.md).
        return Outcome(OK, good.address)
    return _tls_outcome(facts, handshakes[0], fingerprints, local_root)


def sni_split(facts: EndpointFacts) -> str:
    """What the SNI split recorded at the addresses whose own handshake was reset, closed or
    silenced after the ClientHello (SPLIT_*), as the web rules read it (analysis/transport_rules.py)."""
    failed = {h.address for h in facts.tls_handshakes
              if h.purpose is None and not h.completed and h.failure in SNI_FILTER_FAILURES}
    neutral = [h for h in facts.tls_handshakes if h.purpose == v.PURPOSE_NEUTRAL_SNI and h.address in failed]
    answered = {h.address for h in neutral if h.answered}
    if any(h.purpose == v.PURPOSE_SNI_CONFIRM and h.address in answered and not h.completed and h.failure is not None
           for h in facts.tls_handshakes):
        return SPLIT_SNI_FILTER
    if answered:
        return SPLIT_UNCONFIRMED
    if neutral or any(t.purpose == v.PURPOSE_NEUTRAL_SNI and t.address in failed for t in facts.tcp):
        return SPLIT_NEUTRAL_FAILED
    return SPLIT_UNTRIED


def _directory_outcome(facts: EndpointFacts, addresses: set[str], first: str) -> Outcome:
    """A directory port works when it answers 200 with a Tor descriptor; an answer of any other
    kind (another status, a page that is no descriptor) is "http.not_tor": what answered is not
    the authority, or not as a Tor client needs it."""
    fetches = [d for d in facts.directory if d.address in addresses]
    if not fetches:
        return Outcome(NOT_MEASURED, first)
    good = next((d for d in fetches if d.status == 200 and d.tor_document), None)
    if good is not None:
        return Outcome(OK, good.address)
    fetch = fetches[0]
    if fetch.status is None:
        failure = fetch.failure or v.EOF_ERROR
        return Outcome(_DIRECTORY_CODES.get(failure, "http.unknown"), fetch.address, failure)
    return Outcome("http.not_tor", fetch.address, detail=f"HTTP {fetch.status}")


def _tls_outcome(facts: EndpointFacts, handshake: TlsFact, fingerprints: Any, local_root: str | None) -> Outcome:
    failure = handshake.failure or v.SSL_INVALID_CERTIFICATE  # completed, yet not verified
    if failure not in _VERIFICATION_FAILURES:
        code = _TLS_CODES.get(failure, "tls.unknown")
        if failure not in SNI_FILTER_FAILURES or facts.kind == "tor_or":
            return Outcome(code, handshake.address, failure)  # an OR port's name is random: no split
        split = sni_split(facts)
        return Outcome(code, handshake.address, failure, _SPLIT_DETAILS.get(split), split=split)
    known = _interception_authority(handshake, fingerprints)
    if known is not None:
        return Outcome("tls.mitm", handshake.address, failure, f"known interception authority {known}")
    top = handshake.chain[-1] if handshake.chain else None
    detail = f"issuer {explain.cite(top.issuer, 120)}" if top is not None and top.issuer else None
    if local_root and top is not None and top.issuer == local_root:
        return Outcome(LOCAL_INSPECTION, handshake.address, failure, detail)
    if facts.ca is not None and failure == v.SSL_UNKNOWN_AUTHORITY:
        if handshake.public_verified and handshake.public_root_store in _TRUSTED_ROOTS:
            # Valid for the name without the pin: the service changed its authority (judgement.py
            # still compares a --ca-file root's certificate with the control's).
            where = "a public root" if handshake.public_root_store == PUBLIC else "a root given with --ca-file"
            stale = f"{detail}, valid for the name through {where}" if detail else f"valid for the name through {where}"
            return Outcome(PIN_STALE, handshake.address, failure, stale, trust=handshake.public_root_store,
                           pinned=True)
        # A pinned endpoint's chain that validates only through a root installed here is
        # interception, as for any site (TLS rule 2).
        if handshake.public_verified and handshake.public_root_store == SYSTEM_ONLY:
            detail = f"{detail}, valid only through a root installed on this machine" if detail else None
            return Outcome("tls.mitm", handshake.address, failure, detail, pinned=True)
        # A chain that validates nowhere: an interceptor whose root is unknown here, or the service
        # moved to a root of its own (Signal's in October 2022, which OONI's pinned test read as
        # blocking everywhere): the control scan decides (judgement.py), nothing else can.
        missed = "misses the pinned CA and validates through no root here"
        return Outcome("tls.invalid_cert", handshake.address, failure, f"{detail}, {missed}" if detail else missed,
                       pinned=True)
    # An unrecognised authority on a public-CA endpoint may be a broken server as well as an
    # interceptor nobody has fingerprinted: the control scan decides.
    return Outcome("tls.invalid_cert", handshake.address, failure, detail)


def _blockpage_address(addresses: tuple[str, ...], fingerprints: Any) -> str | None:
    finder = getattr(fingerprints, "address", None)
    return next((a for a in addresses if finder(a) is not None), None) if finder else None


def _interception_authority(handshake: TlsFact, fingerprints: Any) -> str | None:
    finder = getattr(fingerprints, "authority", None)
    match = finder(handshake.chain, "interception") if finder is not None and handshake.chain else None
    return explain.cite(match.matched, 120) if match is not None else None
