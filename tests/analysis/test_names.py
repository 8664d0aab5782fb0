"""Host names in the analysis (analysis/names.py) compared the way the target files write them."""

from __future__ import annotations

import pytest

from kzprobe.analysis.names import host_key
from kzprobe.targets import normalize_host


@pytest.mark.parametrize("name", ["straße.kz", "ςαφ.kz", "пример.kz", "Орда.KZ."])
def test_analysis_host_names_match_the_targets_idna_mapping(name):
    assert host_key(name) == normalize_host(name.rstrip("."))
