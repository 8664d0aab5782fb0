"""OONI measurements -> kzprobe reports (`kzprobe ooni import`, docs/ooni.md).

OONI publishes years of measurements from Kazakhstan under CC BY-NC-SA 4.0. This package reads
them (JSON or JSON Lines, gzip or not), turns each web_connectivity, telegram, whatsapp, signal
and facebook_messenger measurement into the observations kzprobe's own probes record, with
OONI's test helper as the control, and lets kzprobe's analysis decide - so the verdicts are
kzprobe's, with OONI's own kept beside them - in reports every analyst command reads.

The modules, in the order a measurement goes through them: source (files, gzip, lines, JSON,
within the bounds of limits), measurement (envelope, provenance, dispatch), web_connectivity
and messengers (test_keys to observations, through steps: one OONI event each), test_helper
(OONI's control), target_ids (ids that match kzprobe's), privacy (no probe address), staging
(results by report, on disk), reports (analysis and writing), work (the batches and reports
handed to a pool of processes), importer (the whole import).
"""

from __future__ import annotations

from kzprobe.ooni.importer import ImportSummary, import_measurements
from kzprobe.ooni.source import BadInput

__all__ = ["BadInput", "ImportSummary", "import_measurements"]
