"""The closed vocabularies of the report contract (docs/report-format.md): verdicts, layers,
evidence, failures.

Other tools read these strings; add to them only together with docs/report-format.md.
"""

from typing import Final

# Verdicts
REACHABLE: Final = "reachable"
BLOCKED: Final = "blocked"
THROTTLED: Final = "throttled"
DOWN: Final = "down"
INCONCLUSIVE: Final = "inconclusive"
VERDICTS: Final = (REACHABLE, BLOCKED, THROTTLED, DOWN, INCONCLUSIVE)

# Blocking layers (only with verdict "blocked"; "throttled" may name the layer it was seen at)
# "quic" only in a result's "quic" part (analysis/quic_rules.py), never as the target's own layer.
BLOCKING_LAYERS: Final = ("dns", "tcp", "tls", "http", "network", "quic")

# Connectivity of a whole scan, from its baselines
ONLINE: Final = "online"
INTERNATIONAL_CUT: Final = "international_cut"
OFFLINE: Final = "offline"
# A captive portal or walled garden answers for everything: nothing measured behind it is evidence.
CAPTIVE_PORTAL: Final = "captive_portal"
CONNECTIVITY: Final = (ONLINE, INTERNATIONAL_CUT, OFFLINE, CAPTIVE_PORTAL)

# Evidence codes, roughly most decisive first
EVIDENCE_CODES: Final = (
    "dns.nxdomain",
    "dns.no_answer",
    "dns.bogon",
    "dns.blockpage_ip",
    "dns.inconsistent",
    "dns.timeout",
    "dns.servfail",
    "dns.refused",
    "tcp.timeout",
    "tcp.refused",
    "tcp.reset",
    "tls.reset",
    "tls.eof",
    "tls.timeout",
    "tls.mitm",
    "tls.invalid_cert",
    "http.blockpage",
    "http.blockpage_redirect",
    "http.reset",
    "http.timeout",
    "http.eof",
    "http.diff",
    "throughput.low",
    "throughput.stall",
    "connectivity.international_cut",
    "connectivity.offline",
    "control.failed",
    "control.missing",
    # Issue 22, items 5-7 (docs/methodology.md): the site's own doing, and throughput that means something.
    "http.site_refused",
    "http.site_loop",
    "http.offsite_redirect",
    # Issue 21 (docs/methodology.md, "A redirect to nowhere"): the site's Location leads nowhere.
    "http.broken_redirect",
    # A server error (5xx) over plain HTTP, no blockpage in it, where the control got the page: the
    # server's trouble as often as a censor's (docs/methodology.md, "Server errors"): inconclusive.
    "http.server_error",
    "throughput.freeze",
    "throughput.slow_page",
    "throughput.slow_handshake",
    "control.stale",
    "connectivity.captive_portal",
    "tls.sni_filter",
    "tls.chain_incomplete",
    # Issue 22 (docs/methodology.md, "HTTPS inspected on this machine"): a root that re-signs nearly every
    # HTTPS target, the baselines included - an antivirus or a proxy here, not a censor.
    "tls.local_inspection",
    "keyword.path",
    "keyword.host",
    "keyword.sni",
    "keyword.neutral_failed",
    "keyword.no_baseline",
    # A keyword request caught once but not confirmed by its second try (or answered with the server's
    # own trouble, 429 or 5xx): inconclusive.
    "keyword.unconfirmed",
    # Issue 22 (docs/methodology.md, "Stale pins"): a pinned service endpoint's chain that misses its
    # pin but validates for the name - the service changed its CA, kzprobe's pin is stale: inconclusive.
    "tls.pin_stale",
    # Issue 18 (docs/methodology.md, "QUIC"): a QUIC handshake unanswered, closed, or failed otherwise.
    "quic.timeout",
    "quic.closed",
    "quic.failed",
    # Issue 18 (docs/methodology.md, "The tor bootstrap"): the tor daemon's bootstrap stopped below
    # 100 %, was still advancing when its time ran out, or could not be run at all.
    "tor.bootstrap_stuck",
    "tor.bootstrap_slow",
    "tor.not_run",
)

# Where a keyword target's word is sent (KeywordObservation "placement").
KEYWORD_PATH: Final = "path"
KEYWORD_HOST: Final = "host"
KEYWORD_SNI: Final = "sni"
KEYWORD_PLACEMENTS: Final = (KEYWORD_PATH, KEYWORD_HOST, KEYWORD_SNI)

# Failure strings: the only values an observation's "failure" field may hold
# (besides None and "unknown_failure: <text>"). Mapped from exceptions in probes/failures.py.
DNS_NXDOMAIN: Final = "dns_nxdomain_error"
DNS_NO_ANSWER: Final = "dns_no_answer"
DNS_SERVFAIL: Final = "dns_servfail_error"
DNS_REFUSED: Final = "dns_refused_error"
DNS_TIMEOUT: Final = "dns_timeout_error"
CONNECTION_REFUSED: Final = "connection_refused"
CONNECTION_RESET: Final = "connection_reset"
GENERIC_TIMEOUT: Final = "generic_timeout_error"
EOF_ERROR: Final = "eof_error"
NETWORK_UNREACHABLE: Final = "network_unreachable"
HOST_UNREACHABLE: Final = "host_unreachable"
SSL_INVALID_HOSTNAME: Final = "ssl_invalid_hostname"
SSL_UNKNOWN_AUTHORITY: Final = "ssl_unknown_authority"
SSL_INVALID_CERTIFICATE: Final = "ssl_invalid_certificate"
SSL_FAILED_HANDSHAKE: Final = "ssl_failed_handshake"
HTTP_PROTOCOL_ERROR: Final = "http_protocol_error"
BODY_TOO_LARGE: Final = "body_too_large"
TOO_MANY_REDIRECTS: Final = "too_many_redirects"
UNKNOWN_FAILURE_PREFIX: Final = "unknown_failure: "

FAILURES: Final = (
    DNS_NXDOMAIN, DNS_NO_ANSWER, DNS_SERVFAIL, DNS_REFUSED, DNS_TIMEOUT,
    CONNECTION_REFUSED, CONNECTION_RESET, GENERIC_TIMEOUT, EOF_ERROR,
    NETWORK_UNREACHABLE, HOST_UNREACHABLE,
    SSL_INVALID_HOSTNAME, SSL_UNKNOWN_AUTHORITY, SSL_INVALID_CERTIFICATE, SSL_FAILED_HANDSHAKE,
    HTTP_PROTOCOL_ERROR, BODY_TOO_LARGE, TOO_MANY_REDIRECTS,
)

# Why an extra connection or handshake was made (TcpObservation / TlsObservation "purpose"):
# the same address retried with a neutral server name after a failure after the ClientHello;
# the real name tried once more after that neutral name was answered (a flaky server, not a
# filter, passes it); an address only the control resolver returned, tried with the real name;
# or a neutral name tried at an address whose real-name handshake was slow (a server slow for
# every name, not a name held back); or a neutral name whose chain is checked against the trust
# store for any name, at an address that sent the real name a chain from an untrusted issuer (a
# trusted chain there from another issuer shows the real name's chain replaced on the way).
PURPOSE_NEUTRAL_SNI: Final = "neutral_sni"
PURPOSE_SNI_CONFIRM: Final = "sni_confirm"
PURPOSE_CONTROL_ADDRESS: Final = "control_address"
PURPOSE_SLOW_CHECK: Final = "slow_check"
PURPOSE_CERT_CHECK: Final = "cert_check"
PURPOSES: Final = (PURPOSE_NEUTRAL_SNI, PURPOSE_SNI_CONFIRM, PURPOSE_CONTROL_ADDRESS, PURPOSE_SLOW_CHECK,
                   PURPOSE_CERT_CHECK)
