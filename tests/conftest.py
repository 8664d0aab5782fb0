"""Test-wide fixtures: the network guard that keeps every test inside loopback and the lab."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GUARD_DIR = Path(__file__).parent / "netguard"


def pytest_configure(config: pytest.Config) -> None:
    import sys

    sys.path.insert(0, str(GUARD_DIR))
    import guard

    guard.install()
    # Subprocesses (the real CLI) load the guard through sitecustomize on PYTHONPATH.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(GUARD_DIR)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )


@pytest.fixture(autouse=True)
def network_guard_log(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Fail the test if it, or any process it started, tried to reach beyond the lab."""
    log = tmp_path_factory.mktemp("guard") / "violations.log"
    monkeypatch.setenv("KZPROBE_GUARD_LOG", str(log))
    yield log
    if log.exists() and log.read_text().strip():
        pytest.fail("network guard: traffic outside loopback/lab was attempted:\n" + log.read_text())
