"""Every number the verdict rules use, each with its reason or source (docs/methodology.md).

Sources: OONI Web Connectivity (ooni/spec nettests/ts-017-web-connectivity.md, ooni/probe-cli
internal/minipipeline), OONI's throttling design (ooni/probe-cli docs/design/dd-007-throttling.md)
and the Russian Twitter policer (Xue et al., IMC 2021, https://censoredplanet.org/throttling).
"Ours" marks a choice made for kzprobe, with the reasoning next to it.
"""

from __future__ import annotations

from typing import Final

# --- Page comparison with the control (unknown blockpages) -----------------------------------

# OONI: two bodies "match" when the shorter is more than 70% of the longer. Loose on purpose:
# pages change between two fetches, blockpages are usually a fraction of the real page.
BODY_LENGTH_RATIO: Final = 0.7

# OONI compares titles by their "long" words: at least 5 bytes in UTF-8 (so a 3-letter
# Cyrillic word, 6 bytes, counts). Short words ("the", "и", "|") say nothing about the page.
TITLE_WORD_MIN_BYTES: Final = 5

# Ours: titles match when at least half of the shorter title's long words are in the other.
# OONI's code wants all words shared (a changing headline breaks it), its spec prose one word;
# half keeps "Orda.kz - 24 ноября" equal to "Orda.kz - 25 ноября". A blockpage that names the
# site in its title ("Orda.kz заблокирован") is caught by its body instead (pages.py).
TITLE_SHARED_FRACTION: Final = 0.5

# Ours: a page that changes on every request keeps its template (navigation, footer, most of
# the text). Visible-text word sets sharing 30% or more are the same page; a blockpage and an
# article share a few percent at most. Needs enough words on both sides to mean anything.
TEXT_SIMILARITY_MIN: Final = 0.3
TEXT_MIN_WORDS: Final = 5
TEXT_WORD_MIN_CHARS: Final = 3

# OONI's list of response headers every server sends: only the *other* ("uncommon") header
# names identify a server, and two responses sharing one come from the same kind of server.
COMMON_HEADERS: Final = frozenset(
    {
        "date", "content-type", "server", "cache-control", "vary", "set-cookie", "location",
        "expires", "x-powered-by", "content-encoding", "last-modified", "accept-ranges",
        "pragma", "x-frame-options", "etag", "x-content-type-options", "age", "via", "p3p",
        "x-xss-protection", "content-language", "cf-ray", "strict-transport-security", "link",
        "x-varnish",
        # Ours: framing headers every HTTP/1.1 response may carry, equally uninformative.
        "content-length", "connection", "transfer-encoding", "keep-alive",
    }
)

# --- Throughput (throttling) ------------------------------------------------------------------

# Policers let a burst through at line rate before holding the flow down (Russia's Twitter
# policer: ~16 KB, then ~16 KB/s; Xue et al., IMC 2021): ignore roughly the first 64 KB.
BURST_BYTES: Final = 64 * 1024

# Ours, from TCP slow start (RFC 6928): judge a steady rate only over >= 3-5 s or >= 256 KB
# after the burst; less measures latency and TCP slow start, not the path's rate.
MIN_SUSTAINED_MS: Final = 3_000.0
MIN_SUSTAINED_BYTES: Final = 256 * 1024

# Cloudflare's speed test discards requests shorter than 10 ms: below that, timer resolution
# and buffering make a rate meaningless.
MIN_RATE_SPAN_MS: Final = 10.0

# Ours: a policer with a large bucket passes more than BURST_BYTES at line rate; the second
# half of a long transfer shows the held-down rate regardless of the bucket size. Only used
# when that half lasts long enough to hold several samples (the probe samples every 50 ms).
TAIL_MIN_SPAN_MS: Final = 1_000.0

# OONI dd-007: "extreme" throttling is 10x or more below what is typical on the same network.
THROTTLED_RATIO: Final = 0.1

# Ours: above this rate nothing is called throttled, however fast the baseline. Documented
# policers sit at 16-19 KB/s (128-150 kbit/s, Xue et al., IMC 2021); 256 KB/s (about 2 Mbit/s) leaves
# 16x headroom and keeps a healthy but slow server on a fast datacentre link from reading as
# throttled.
THROTTLED_MAX_KBPS: Final = 256.0

# Ours: when the control vantage fetched the same resource at no more than twice our rate,
# the site is slow everywhere (its server, not our path).
SLOW_EVERYWHERE_RATIO: Final = 0.5

# Ours: a gap of 3 s between two received chunks is three times the ~1 s silences a policer
# leaves (Xue et al., IMC 2021) and well beyond a healthy transfer's pauses: the flow stalled.
STALL_MS: Final = 3_000.0

# --- TLS without a control ---------------------------------------------------------------------

# Ours: a TLS handshake takes about one round trip more than the TCP connect. A handshake that
# timed out where the connect alone took a third of the wait or more may just be late (a
# 600 ms satellite round trip against a 1 s timeout): its silence is no SNI-filter signature.
SLOW_PATH_SHARE: Final = 1 / 3
# Ours: and only when the connect itself was slow; round trips from Kazakhstan to European
# hosting are ~60-120 ms, a geostationary satellite link's ~600 ms.
SLOW_PATH_MIN_MS: Final = 200.0

# --- Timeouts against the control -----------------------------------------------------------------

# Ours: a step that timed out here is blocked when the control did it - unless the control itself
# needed at least half the time this scan waited: then the site is as slow as the timeout (a
# server answering after 0.99 s against --timeout 1 wins the race in one scan and loses it in the
# other), and its timeout here is no sign of a censor. The same for a page still flowing when the
# target's time ran out here, which the control needed about as long to fetch whole.
SLOW_CONTROL_SHARE: Final = 0.5

# --- Explanations -----------------------------------------------------------------------------

# Strings from the network quoted in an explanation (titles, failure texts) are cut here: the
# explanation is one sentence, and a hostile title must not fill a terminal.
MAX_QUOTED_CHARS: Final = 80
# Addresses cited per list in an explanation; the full list is in the observations.
MAX_CITED_ADDRESSES: Final = 3

# --- Fingerprints file ------------------------------------------------------------------------

# The bundled file is a few KB; a file a hundred times that is not a fingerprint list.
FINGERPRINTS_MAX_BYTES: Final = 1024 * 1024
FINGERPRINTS_MAX_ENTRIES: Final = 5_000
FINGERPRINT_MAX_PATTERN_CHARS: Final = 500

# --- Throughput that means something (issue 22, item 7) ----------------------------------------

# OONI's Kazakhstan throttling report (2023-throttling-kz-elections): throttled names took more
# than 2 s to complete the TLS handshake (daily medians often above 4 s) while a baseline on the
# same CDN stayed normal; Turkey 2023: 70-100 ms became more than 3 s. Ours: 1.5 s, three
# quarters of the least OONI saw and five times the 100-300 ms a handshake from Kazakhstan to
# European hosting takes.
SLOW_HANDSHAKE_MIN_MS: Final = 1_500.0
# Ours: and at least this many times the median handshake of the scan's baselines (same link,
# same moment): a congested or satellite link slows every handshake alike.
SLOW_HANDSHAKE_BASELINE_RATIO: Final = 5.0
# Ours: and at least this many round trips (the TCP connect to the same address): a handshake is
# one or two round trips plus the server's work, so a long path alone cannot explain it. Not more:
# a busy probe times its own connects late too (hundreds of ms at a scan's start), and the
# baselines' ratio above already covers a slow path.
SLOW_HANDSHAKE_RTT_RATIO: Final = 4.0

# Ours: a small page (below BURST_BYTES) is judged on its time to last byte. A 16 KB/s policer
# needs 1.5 s for the 24 KB of a 40 KB page beyond its 16 KB burst; under 1 s a page's body
# time measures latency, not a rate.
SLOW_PAGE_MIN_MS: Final = 1_000.0
# Ours: and at least this many round trips (the TCP connect to the same address): TCP slow start
# delivers 44 KB in two round trips (RFC 6928: a 10-segment initial window), so a page that
# took five was held back, not just far away (more would miss it on a busy probe, whose own
# connect timings run late).
SLOW_PAGE_RTT_RATIO: Final = 5.0

# --- The site refusing the vantage (issue 22, item 6) ------------------------------------------

# RFC 9110 15.5.4 (403 Forbidden: the server understood and refuses), RFC 7725 (451 Unavailable
# For Legal Reasons, what geo-blocking sites send) and RFC 6585 section 4 (429 Too Many Requests:
# the site's rate limit, which bot checks such as Vercel's and Kasada's answer with too): from the
# site itself - over TLS validated for it, or from an address its name really resolves to - the
# site refused this vantage, which is neither reachable nor a censor's block.
SITE_REFUSAL_STATUSES: Final = frozenset({403, 429, 451})
# RFC 6585 section 4 (429 Too Many Requests) and RFC 9110 section 15.6 (5xx, the server failing):
# a keyword request answered so, where its neutral twin got another status, met the server's own
# rate limit or trouble (the keyword requests follow their twins to the same address at once), not
# a censor's blockpage or redirect (analysis/keyword_rules.py).
RATE_LIMITED_STATUS: Final = 429
# --- A live control -------------------------------------------------------------------------------

# Ours: a control scan this much older (or newer) than a measurement can no longer say that a step
# works *now*: the rules that need a live control (a refusal or a timeout here against a success
# there) say `control.stale` instead of `blocked`. An outside vantage scans hourly
# (docs/vantage-point.md); three hours lets two of its runs fail before its report goes stale,
# while most web outages are over well within that (a site down for an hour is the common case,
# and an outage that outlasts the control's age reads as blocked). Configurable
# (`control_max_age`, `--control-max-age`).
CONTROL_MAX_AGE_S: Final = 3 * 3600.0

# --- Captive portals ------------------------------------------------------------------------------

# Ours: distinct names resolved to one address alone, or plain-HTTP sites redirected to one host,
# before that address or host can be a portal (analysis/captive.py). Two sites may share a server
# by chance; three sharing it while no baseline works on its own is the portal's answer for all.
CAPTIVE_MIN_NAMES: Final = 3

# --- HTTPS inspected on this machine or its network ----------------------------------------------

# Ours: one root that only this machine trusts (or nobody does) ending the chains of at least this
# many HTTPS targets, the international baselines among them, before it reads as the machine's
# own inspection (an antivirus, a corporate proxy) rather than a censor's (analysis/inspection.py).
# Three, as for a captive portal: two sites may share a private CA (an organisation's own).
LOCAL_INSPECTION_MIN_TARGETS: Final = 3
# Ours: and at least this share of the HTTPS targets whose handshake brought a certificate.
# Inspecting software re-signs every site but those on its exclusion list (Kaspersky keeps one
# of sites it cannot decrypt and lets users add trusted ones; ESET skips applications and
# certificates it is told to), so "nearly every" rather than every; a censor re-signing a list
# (2019: a few dozen domains) stays far below, and never re-signs the baselines.
LOCAL_INSPECTION_MIN_SHARE: Final = 0.8

# --- Captive portals answering with their own page --------------------------------------------------

# RFC 6585 section 6: 511 Network Authentication Required, the status a portal that follows the
# RFC answers intercepted requests with (most answer 200 with their login page).
CAPTIVE_PORTAL_STATUS: Final = 511
# Ours: two answers are one portal page when their titles match and their lengths differ by at most
# this many bytes or this share of the longer (identical bodies always match). A portal echoes the
# URL it stopped (a hidden form field, a "continue to" link): a few hundred bytes at most, for URLs
# of the length target lists hold; two different sites' pages with one title differ by far more.
CAPTIVE_PAGE_LENGTH_SLACK_BYTES: Final = 512
CAPTIVE_PAGE_LENGTH_SLACK: Final = 0.05

# --- The tor daemon's bootstrap (analysis/tor_bootstrap_rules.py) ---------------------------------

# Ours: a bootstrap that ended at its bound is "stuck" when tor reported no progress during its
# last 20 s (or the last third of a shorter bound): tor retries a failed directory source within
# seconds and moves through healthy phases every few seconds (OONI's vanilla_tor example went
# from 0 % to 100 % in 3.6 s, github.com/ooni/spec nettests/ts-016-vanilla-tor.md); one that
# still advanced then was slow, not stopped, and is never called blocked.
TOR_BOOTSTRAP_STALL_S: Final = 20.0
# Ours: blocked only against a control that bootstrapped the same path within half the bound
# this attempt had. A path that takes the control most of the bound (busy default bridges, a
# slow uplink) fails here by chance as often as by a censor's hand.
TOR_BOOTSTRAP_CONTROL_SHARE: Final = 0.5
