"""Bounds of a vantage's alerts, each with its reason: the change record, the flapping rule, the
files beside the results and the webhook's deliveries."""

from __future__ import annotations

from typing import Final

# --- flapping (docs/vantage-point.md, "Alerts") ----------------------------------------------

# A target whose state changed this many times within the window is unstable: the first
# changes are news (blocked, then unblocked an hour later is a one-hour block worth telling);
# the third within a few scans says the measurement or the censor oscillates, and repeating it
# every hour would train subscribers to ignore the feed.
FLAP_CHANGES: Final = 3
# The window, in complete scans (`flap_scans`): six hours of hourly scans by default. An
# unstable target is reported again once it has held one state for a whole window.
DEFAULT_FLAP_SCANS: Final = 6
MIN_FLAP_SCANS: Final = FLAP_CHANGES + 1  # three changes need four scans
MAX_FLAP_SCANS: Final = 168  # a week of hourly scans: beyond, "unstable" would never end

# --- the change record -----------------------------------------------------------------------

# Targets listed in one record; the rest are counted. A list of thousands going offline at
# once is one event (the connectivity change says it); a webhook body of megabytes is refused
# by many receivers.
MAX_TARGETS_PER_RECORD: Final = 500

# Targets of the previous scans that this scan did not measure (a scan of a few targets with
# --target, a list shortened for a day) keep their last state, so that the next scan measuring
# them is compared with it; at most this many, so that one-off URLs cannot grow the state forever.
MAX_CARRIED_TARGETS: Final = 10_000

# --- files beside the results ------------------------------------------------------------------

# changes.jsonl keeps the newest records within this size (rewritten atomically on each new
# record): years of hourly records of a few KB each, and a bound on what a rewrite copies.
MAX_HISTORY_BYTES: Final = 16 * 1024 * 1024
# One record is a few KB (tens with hundreds of targets); a longer line is not ours.
MAX_RECORD_BYTES: Final = 1024 * 1024
# Entries in changes.xml: what feed readers fetch every few minutes stays small; the whole
# history is in changes.jsonl.
FEED_ENTRIES: Final = 50
# The state file: the previous scan's verdicts (about 80 bytes a target) and each target's
# last states; 10,000 targets need about 2 MB.
MAX_STATE_BYTES: Final = 32 * 1024 * 1024

# --- webhook deliveries ------------------------------------------------------------------------

DEFAULT_WEBHOOK_TIMEOUT_S: Final = 10.0
# One POST of a few KB: a receiver slower than a minute is down, and every attempt delays the
# end of the scan (the output directory stays locked while it delivers).
MAX_WEBHOOK_TIMEOUT_S: Final = 60.0
# Attempts after a failed one, within one scan; the outbox retries at the next scan anyway.
DEFAULT_WEBHOOK_RETRIES: Final = 2
MAX_WEBHOOK_RETRIES: Final = 5
# Wait before retry n (1-based): a receiver restarting or shedding load gets a moment.
RETRY_DELAYS_S: Final = (1.0, 2.0, 4.0, 8.0, 16.0)
# All deliveries of one scan: the next hourly slot must not find the directory still locked.
DELIVERY_BUDGET_S: Final = 180.0
# At most this many webhook URLs: each is a receiver to wait for after every scan.
MAX_WEBHOOKS: Final = 5
# Records waiting per webhook (the oldest are dropped beyond): four days of a change every
# hour. And how old a waiting record may get: a week-old alert is history, not news (the feed
# and changes.jsonl keep it).
MAX_OUTBOX_RECORDS: Final = 100
MAX_OUTBOX_AGE_DAYS: Final = 7
# The outbox file of one webhook: MAX_OUTBOX_RECORDS records of at most MAX_RECORD_BYTES.
MAX_OUTBOX_BYTES: Final = 64 * 1024 * 1024

# --- the shared secret -------------------------------------------------------------------------

# HMAC-SHA256 keys shorter than 16 bytes are guessable; `openssl rand -hex 32` gives 64.
MIN_SECRET_CHARS: Final = 16
MAX_SECRET_BYTES: Final = 4096
