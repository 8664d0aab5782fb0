"""What to test: the Target model, and the loader that validates target files nobody vouched for.

A target file is YAML (a mapping with a `targets` list, or a bare list) or a Citizen Lab test
list CSV. A user's own file needs only `url` per entry; the bundled lists (`strict=True`) must
also give every entry an id, a name, a category and its sources. Every problem in every file is
collected, each naming file, entry and field, before one TargetFileError is raised: someone
fixing a list wants all of its mistakes at once. docs/targets.md describes the format.

The modules, one job each: target (Target, Endpoint, problems, vocabularies), limits (caps),
hosts (URLs and hosts), ids (derived and unique ids), entries and endpoint_specs (one entry's
fields), problems (collecting them), messages (showing file values in them), loader (files,
YAML, the public loading API), csv_files (Citizen Lab CSV), bundled (kzprobe's own data).
Everything other code uses is imported from here, kzprobe.targets.
"""

from __future__ import annotations

from kzprobe.targets.bundled import BASELINES_FILE, CA_DIR, bundled_target_files, ca_names
from kzprobe.targets.hosts import is_ip_literal, normalize_host
from kzprobe.targets.ids import derive_id
from kzprobe.targets.limits import MAX_ENDPOINTS_PER_TARGET, MAX_ENTRIES_PER_FILE, MAX_TARGET_FILE_BYTES
from kzprobe.targets.loader import load_target_files, load_targets, targets_from_urls
from kzprobe.targets.target import (
    BASELINE_DOMESTIC,
    BASELINE_INTERNATIONAL,
    BASELINES,
    CATEGORIES,
    ENDPOINT_KINDS,
    ENDPOINT_ROLES,
    Endpoint,
    Target,
    TargetFile,
    TargetFileError,
    TargetProblem,
)

__all__ = [
    "BASELINES",
    "BASELINES_FILE",
    "BASELINE_DOMESTIC",
    "BASELINE_INTERNATIONAL",
    "CA_DIR",
    "CATEGORIES",
    "ENDPOINT_KINDS",
    "ENDPOINT_ROLES",
    "MAX_ENDPOINTS_PER_TARGET",
    "MAX_ENTRIES_PER_FILE",
    "MAX_TARGET_FILE_BYTES",
    "Endpoint",
    "Target",
    "TargetFile",
    "TargetFileError",
    "TargetProblem",
    "bundled_target_files",
    "ca_names",
    "derive_id",
    "is_ip_literal",
    "load_target_files",
    "load_targets",
    "normalize_host",
    "targets_from_urls",
]
