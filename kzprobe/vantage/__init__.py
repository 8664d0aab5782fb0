"""Unattended vantage points: the output-directory lock, latest.json, retention, the vantage's
network (ASN, country), the schedule that runs it, and its alerts (alerts/: what changed since
the previous scan, to a feed and webhooks).

Each module is usable without the CLI; a scan job (scan/job.py) wires them in this order:
settings (scan/settings.py) -> lock -> geo -> scan -> report -> latest -> retention -> alerts ->
unlock. Nothing here imports scan/: the job uses the vantage, not the other way round.
"""

from kzprobe.vantage.latest import LATEST_NAME, LatestError, publish_latest
from kzprobe.vantage.lock import LockedError, OutputDirError, OutputLock, acquire_output_lock
from kzprobe.vantage.retention import RetentionError, apply_retention

__all__ = [
    "LATEST_NAME",
    "LatestError",
    "LockedError",
    "OutputDirError",
    "OutputLock",
    "RetentionError",
    "acquire_output_lock",
    "apply_retention",
    "publish_latest",
]
