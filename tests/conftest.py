"""Test-wide fixtures: the network guard that keeps every test inside loopback and the lab, and a
private digest cache. Shared helpers (builders of observations and reports, loopback servers,
the lab client, tmpfs runs, the import contract) live in the tests/support/ package.

The tests mirror the package: tests/analysis/ for kzprobe/analysis/, tests/cli/ for the
commands, and so on; tests of the leaves (text, safe_yaml) and of the import layers sit here.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

GUARD_DIR = Path(__file__).parent / "netguard"


def pytest_configure(config: pytest.Config) -> None:
    import sys

    sys.path.insert(0, str(GUARD_DIR))
    import guard

    guard.install()
    # A shell runs a background command with SIGINT ignored, and every process inherits that:
    # the tests that press Ctrl-C on a lab or a scan would then wait for nothing. Ctrl-C works
    # in the processes the tests start, wherever pytest itself was started from.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
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


@pytest.fixture(autouse=True)
def private_digest_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own empty digest cache (the analyst commands'), never the user's ~/.cache."""
    monkeypatch.setenv("KZPROBE_CACHE_DIR", str(tmp_path_factory.mktemp("digest-cache")))
