"""Imports point down the layers of docs/architecture.md, and never in a circle.

cli → scan, analyst, vantage, lab → probes, analysis → report, targets → leaves (text,
safe_yaml, docs_links) → errors and kzprobe/__init__. The check reads the source (tests/support/
import_layers.py), function-level imports included; the tests below the first one show that it
fails when a module imports upward, across a layer, or in a cycle.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support.import_layers import LAYERS, check, import_edges, module_names, part_of

ROOT = Path(__file__).resolve().parent.parent


def test_kzprobe_keeps_the_import_contract() -> None:
    assert check(ROOT) == []


def test_every_part_of_kzprobe_is_in_a_layer() -> None:
    parts = {part_of(name) for name in module_names(ROOT)}
    assert parts <= {part for layer in LAYERS for part in layer}, parts


def test_function_level_imports_are_edges_too() -> None:
    edges = {(e.importer, e.imported) for e in import_edges(ROOT)}
    # kzprobe/scan/job.py imports the analysis inside run_scan_job's tail (start-up cost).
    assert ("kzprobe.scan.job", "kzprobe.analysis") in edges


@pytest.fixture
def copy_of_kzprobe(tmp_path: Path) -> Path:
    """The real package, copied, for a deliberate violation."""
    shutil.copytree(ROOT / "kzprobe", tmp_path / "kzprobe", ignore=shutil.ignore_patterns("__pycache__", "data"))
    return tmp_path


def _append(root: Path, module: str, code: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text(encoding="utf-8") + "\n" + code + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("module", "code", "expected"),
    [
        ("kzprobe.report.write", "def _bad():\n    from kzprobe.cli import app\n",
         "kzprobe.report.write (line"),
        ("kzprobe.probes.dns", "from kzprobe.analysis import thresholds\n",
         "probes and analysis share a layer and stay independent"),
        ("kzprobe.text", "import kzprobe.targets\n", "targets is in a layer above text"),
        ("kzprobe.vantage.lock", "from kzprobe.scan.run import utc_now\n",
         "vantage and scan share a layer and stay independent"),
        ("kzprobe.analysis.names", "def _later():\n    from kzprobe.analysis.verdict import target_verdict\n",
         "import cycle: "),
    ],
    ids=["upward-in-a-function", "probes-to-analysis", "leaf-to-targets", "vantage-to-scan", "cycle-in-a-function"],
)
def test_the_check_fails_on_a_deliberate_violation(copy_of_kzprobe: Path, module: str, code: str,
                                                    expected: str) -> None:
    assert check(copy_of_kzprobe) == []
    _append(copy_of_kzprobe, module, code)
    problems = check(copy_of_kzprobe)
    assert any(expected in problem for problem in problems), problems


def test_a_relative_import_is_resolved(copy_of_kzprobe: Path) -> None:
    _append(copy_of_kzprobe, "kzprobe.targets.hosts", "from ..probes import dns\n")
    assert any("kzprobe.targets.hosts (line" in p and "kzprobe.probes.dns" in p for p in check(copy_of_kzprobe))


def test_a_package_importing_itself_is_a_cycle(copy_of_kzprobe: Path) -> None:
    _append(copy_of_kzprobe, "kzprobe.targets.hosts", "from kzprobe import targets as _package\n")
    assert any(p.startswith("import cycle: ") and "kzprobe.targets.hosts" in p for p in check(copy_of_kzprobe))
