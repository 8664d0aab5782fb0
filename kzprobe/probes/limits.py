"""Every bound on one measurement in one place, each with its reason (docs/architecture.md:
everything is bounded). Bounds on the scan as a whole are in scan/limits.py."""

from typing import Final

# A target resolving or connecting this long, or holding a turn for CPU work this long, is
# almost always waiting out a timeout: it parks, stepping aside (scan.run_scan, turns.py).
# Healthy sites answer well within a second or two.
ACTIVE_SLOT_S: Final = 1.0
# A connection made ahead and left idle this long waiting for its turn is replaced by a fresh
# one before its TLS handshake: a server or middlebox may close a connection that does not
# start its handshake soon, and that close would read as blocking (probes/web.py). Servers
# commonly wait 5 s to a minute for a ClientHello (Apache has no limit by default, nginx 60 s);
# 2 s stays below the strict ones without reconnecting every target of a long queue.
IDLE_CONNECTION_S: Final = 2.0
# Addresses tried per target and family: enough to see that one replica works while another
# is blocked, bounded so that a name answering 50 addresses cannot fan out.
ADDRESSES_PER_FAMILY: Final = 2
# Redirect hops followed, one at a time (browsers allow ~20; OONI stops at 10).
MAX_REDIRECTS: Final = 10
# Body caps. Compressed bytes read from the wire, and decompressed bytes produced, per
# response: a 10 MB decompression bomb stops at the cap instead of filling memory.
MAX_BODY_WIRE_BYTES: Final = 4 * 1024 * 1024
MAX_BODY_DECODED_BYTES: Final = 8 * 1024 * 1024
# The part of a body kept in the report (docs/report-format.md: the first 64 KiB), enough for titles and
# blockpage fingerprints.
RECORDED_BODY_BYTES: Final = 64 * 1024
# A response body's whole read, when the target has no deadline to bound it (a probe run on its
# own), in multiples of the per-read timeout: the target's deadline (scan/limits.py, 6 timeouts)
# bounds it in a scan. Each wait for data is one timeout; a page that keeps flowing is no timeout.
BODY_READ_TIMEOUTS: Final = 6.0
# What a body read leaves of the target's deadline, so that the partial page is still recorded
# before the deadline cancels the target.
BODY_DEADLINE_MARGIN_S: Final = 0.5
# Response headers kept per response, and length of each value kept.
MAX_RECORDED_HEADERS: Final = 64
MAX_HEADER_VALUE_CHARS: Final = 2048
MAX_TITLE_CHARS: Final = 300
# Download (throughput) budget: stop after this many bytes or this many seconds, whichever
# first. 4 MB at 16 KB/s is far beyond the time budget, so a throttled link is judged on the
# time cap with at least a few hundred KB measured.
DOWNLOAD_MAX_BYTES: Final = 4 * 1024 * 1024
DOWNLOAD_MAX_SECONDS: Final = 8.0
# Samples of (time, bytes) kept for the report; thinned evenly beyond this.
DOWNLOAD_MAX_SAMPLES: Final = 200
DOWNLOAD_SAMPLE_INTERVAL_MS: Final = 50.0
# DNS: answers kept per query (a hostile resolver can send thousands).
MAX_DNS_ANSWERS: Final = 32
# DNS queries one resolver has from us at once; more wait their turn (their clock starts when
# sent). A burst beyond what a resolver buffers is dropped, and a dropped query reads as
# dns.timeout, a false "blocked": the lab's resolver lost 30 % of the queries of a
# --concurrency 256 scan (its socket buffer overflowed). 128 is the default concurrency's
# A+AAAA burst (64 targets x 2), so the default scan never waits.
DNS_QUERIES_IN_FLIGHT: Final = 128
# Certificates kept per chain and SANs kept per certificate.
MAX_CHAIN_CERTIFICATES: Final = 8
MAX_CERT_SANS: Final = 100
# Resolvers are allowed to be flaky: a query answered SERVFAIL or REFUSED, or not answered at
# all, is asked again before its failure counts, as every stub resolver does (glibc sends each
# query twice by default, `attempts:2` in resolv.conf(5); RFC 1536 section 1 asks for
# retransmission with backoff). Attempts per query, the first included.
DNS_ATTEMPTS: Final = 3
# The waits before the second and third attempts: a resolver that failed while its own query to
# the authoritative servers was still in flight (the usual cause of a passing SERVFAIL) has
# finished it a quarter of a second later; growing, as stub resolvers back off.
DNS_RETRY_WAITS_S: Final = (0.25, 0.75)
# Every retry of one query ends within this many --timeouts after its first attempt: a resolver
# that stays silent costs a target one timeout more, never more (a silent query is asked once
# again; a SERVFAIL, answered at once, the full DNS_ATTEMPTS times).
DNS_RETRY_BUDGET_TIMEOUTS: Final = 1.0
# Hosts met in redirects, answered here with an address that is not global, looked up again
# through the control resolver (probes/web.py): a chain follows at most 10 redirects (RFC 9110
# 15.4 leaves the bound to the client; browsers stop at 20), and a lie about more than a few
# hosts of one chain says no more than about the first ones.
CONTROL_REDIRECT_LOOKUPS: Final = 4
# Trust store files read to tell public roots from installed ones (probes/trust.py): a CA
# bundle is about 200 KB and a distribution's directory about 150 files.
TRUST_FILE_MAX_BYTES: Final = 2 * 1024 * 1024
TRUST_FILES_MAX: Final = 1000
# AIA fetching of a missing intermediate (probes/aia.py), as browsers do for servers that omit
# it: at most two hops (leaf -> intermediate -> a second intermediate), each over plain HTTP
# (RFC 5280 4.2.2.1: caIssuers is http or ldap; https would need the very chain being built),
# each reply at most 16 KB (an intermediate is 1-2 KB, a PKCS#7 bundle of a few a few KB), each
# fetch within the scan's timeout and at most AIA_MAX_SECONDS.
AIA_MAX_HOPS: Final = 2
AIA_MAX_BYTES: Final = 16 * 1024
AIA_MAX_SECONDS: Final = 5.0
# Certificates taken from one AIA reply (a PKCS#7 bundle may hold several).
AIA_MAX_CERTIFICATES: Final = 4
# The server name of the SNI split: a handshake that failed after the ClientHello is tried once
# more to the same address with this name. It is reserved for examples (RFC 2606 section 3),
# so no censor's list names it and no site's visitors use it; a server that does not host it
# answers with its default certificate or a TLS alert (a CDN's "unrecognized name"), either of
# which shows that the address itself answers TLS.
NEUTRAL_SNI: Final = "example.com"
# A keyword request's answer is read up to this many bytes: the status line, the headers and
# the start of a page are what tell an answer from a blockpage; the rest costs time for nothing.
KEYWORD_READ_BYTES: Final = 16 * 1024

# A validated handshake at least this slow is followed by one handshake with NEUTRAL_SNI to the
# same address (purpose "slow_check"): a server slow for every name answers it as slowly, a name
# held back by a censor does not. The same value as analysis/thresholds.SLOW_HANDSHAKE_MIN_MS,
# the least the analysis calls slow (a test keeps them equal; probes do not import analysis).
SLOW_HANDSHAKE_CHECK_MS: Final = 1_500.0
# A Tor directory port's answer (probes/tor_endpoints.py): the authority's own descriptor is
# 2-4 KB; 16 KB reads all of it and bounds what a middlebox's endless answer can cost.
TOR_DIRECTORY_READ_BYTES: Final = 16 * 1024
# The obfs4 client (obfs4proxy or lyrebird) announcing its SOCKS port at start-up.
OBFS4_CLIENT_START_SECONDS: Final = 5.0
# The tor daemon's bootstrap (probes/tor_bootstrap.py). `tor --version` answers at once; a tor
# that does not within this long is not usable.
TOR_VERSION_SECONDS: Final = 10.0
# After SIGTERM, tor (a client) exits at once, closing its pluggable-transport client; a process
# group still alive this long after is killed (SIGKILL).
TOR_STOP_SECONDS: Final = 3.0
# Warnings kept per bootstrap attempt, and characters per warning: tor repeats its bootstrap
# problem every few seconds (the repeats are counted, not kept), and a warning is one line of a
# few hundred characters.
TOR_WARNINGS_KEPT: Final = 16
TOR_WARNING_CHARS: Final = 400
# Progress lines kept per attempt: tor has 26 phases and logs progress inside one (loading
# descriptors) at most every 5 %; the rest are counted.
TOR_PROGRESS_KEPT: Final = 48
