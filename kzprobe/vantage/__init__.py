"""Unattended vantage points: configuration, the output-directory lock, latest.json, retention,
the vantage's network (ASN, country), the schedule that runs it, and its alerts (alerts/: what
changed since the previous scan, to a feed and webhooks).

Each module is usable without the CLI; `kzprobe scan` wires them in this order: settings ->
lock -> geo -> scan -> report -> latest -> retention -> alerts -> unlock.
"""

from kzprobe.vantage.config import (
    ConfigError,
    ConfigProblem,
    EffectiveSettings,
    find_config_file,
    load_config,
    resolve_settings,
)
from kzprobe.vantage.latest import LATEST_NAME, LatestError, publish_latest
from kzprobe.vantage.lock import LockedError, OutputDirError, OutputLock, acquire_output_lock
from kzprobe.vantage.retention import RetentionError, apply_retention

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "EffectiveSettings",
    "LATEST_NAME",
    "LatestError",
    "LockedError",
    "OutputDirError",
    "OutputLock",
    "RetentionError",
    "acquire_output_lock",
    "apply_retention",
    "find_config_file",
    "load_config",
    "publish_latest",
    "resolve_settings",
]
