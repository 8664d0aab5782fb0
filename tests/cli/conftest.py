"""The loopback sites the CLI tests scan (tests/support/loopback_cli.py), once per module."""

from __future__ import annotations

import pytest

from support.loopback_cli import loopback_sites


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from loopback_sites(tmp_path_factory.mktemp("loopback"))
