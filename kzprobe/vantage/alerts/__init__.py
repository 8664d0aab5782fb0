"""Alerts: what changed since a vantage's previous complete scan, told to whoever listens.

After each complete scan (kzprobe.scan.job), `publish_changes` compares it with the vantage's
previous complete scan (the comparison of `kzprobe compare`, kzprobe.report.compare), applies
the flapping rule, and writes the change record to changes.jsonl and the Atom feed changes.xml
and POSTs it to the configured webhooks, keeping what they did not accept in an outbox.

Modules: settings (what the configuration may say), record (the change record: pure),
flapping (the unstable-target rule: pure), state (what a vantage remembers between scans),
history (changes.jsonl), atom (changes.xml), webhook (one signed, bounded POST), outbox
(records waiting for a webhook), publish (the order of it all), limits (every bound).
"""

from kzprobe.vantage.alerts.publish import AlertOutcome, publish_changes
from kzprobe.vantage.alerts.settings import AlertSettings

__all__ = ["AlertOutcome", "AlertSettings", "publish_changes"]
