"""Review: hostile YAML must cost bounded time and memory, whatever its shape.

The byte cap (5 MiB) alone does not bound the cost: PyYAML builds a node (with two position
marks) per scalar, about 25 µs and 700 bytes each, and `[1,1,1,…]` packs a node into 2 bytes.
A 4 MB flow list took 50 s and 1.4 GB before the node budget; it must be refused early.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kzprobe import safe_yaml
from kzprobe.safe_yaml import YamlError, load_yaml
from kzprobe.targets import TargetFileError, bundled_target_files, load_targets


def test_the_node_budget_is_one_a_honest_file_never_meets():
    # A 5 MiB file written like the bundled lists (24 bytes a node) holds ~220,000 nodes; a
    # budget far above that would let a dense file cost minutes again.
    assert 200_000 <= safe_yaml.MAX_YAML_NODES <= 300_000


def test_a_dense_flow_list_is_refused_at_the_budget_not_after_the_whole_file(monkeypatch, tmp_path):
    monkeypatch.setattr(safe_yaml, "MAX_YAML_NODES", 20_000)
    path = tmp_path / "dense.yaml"
    path.write_text("targets: [" + ",".join(["1"] * 2_000_000) + "]\n")  # 4 MB, 2 million nodes
    start = time.monotonic()
    with pytest.raises(YamlError, match="more than 20000 values"):
        load_yaml(path)
    assert time.monotonic() - start < 3.0


def test_a_dense_target_file_is_a_target_file_problem(monkeypatch, tmp_path):
    monkeypatch.setattr(safe_yaml, "MAX_YAML_NODES", 20_000)
    path = tmp_path / "dense.yaml"
    path.write_text("targets:\n" + "".join(f"  - {{url: 'https://s{i}.example/'}}\n" for i in range(20_000)))
    with pytest.raises(TargetFileError) as error:
        load_targets([path])
    assert "values" in str(error.value)


def test_honest_files_stay_within_the_budget(tmp_path):
    assert load_targets(bundled_target_files(), strict=True)
    path = tmp_path / "many.yaml"
    path.write_text("targets:\n" + "".join(f"  - url: https://site{i}.example/\n" for i in range(10_000)))
    assert len(load_targets([path])) == 10_000


def test_billion_laughs_is_refused_at_the_first_alias(tmp_path):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    lines.append("targets: *a9")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    with pytest.raises(TargetFileError, match="aliases"):
        load_targets([path])
    assert time.monotonic() - start < 1.0


def test_a_bloated_configuration_file_is_refused_unread(tmp_path):
    # A configuration holds a dozen settings; a 4 MB one (here a flow list of 2 million values)
    # cost ~6.5 s and ~220 MB before being refused, on every cron run.
    from kzprobe.scan.settings import ConfigError, load_config

    path = tmp_path / "kzprobe.yaml"
    path.write_text("targets: [" + ",".join(["a"] * 2_000_000) + "]\n")
    start = time.monotonic()
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path)
    assert time.monotonic() - start < 1.0
