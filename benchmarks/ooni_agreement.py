"""How often kzprobe and OONI agree with the truth on OONI's own QA measurements.

OONI runs Web Connectivity against an emulated Internet, one scenario per kind of censorship or
breakage, and keeps the measurements (ooni/probe-cli
internal/minipipeline/testdata/webconnectivity/generated/<scenario>/measurement.json; real runs
beside them in .../manual/). This script imports each through the real `kzprobe ooni import`,
reads OONI's own verdict from the same file, and scores both against the truth of the scenario
(tests/support/ooni_qa_cases.py: what its injected condition makes true). A measurement with no
known scenario (the manual ones) is listed with both verdicts and no score. Nothing touches the
network; the files come from a checkout you made:

    git clone --depth 1 https://github.com/ooni/probe-cli /tmp/probe-cli
    python benchmarks/ooni_agreement.py /tmp/probe-cli

PATH may also be a directory of <scenario>/measurement.json or <scenario>.json files.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from kzprobe.ooni import import_measurements  # noqa: E402
from support.ooni_qa_cases import CASES, agrees, kzprobe_outcome, ooni_outcome  # noqa: E402

TESTDATA = Path("internal/minipipeline/testdata/webconnectivity")


def measurements(root: Path) -> list[tuple[str, Path]]:
    """(scenario name, file) for every measurement under `root`, in name order."""
    if (root / TESTDATA).is_dir():
        root = root / TESTDATA
    found = []
    for path in sorted(root.rglob("*.json")):
        if path.name == "measurement.json":
            found.append((path.parent.name, path))
        elif path.parent == root and path.stem not in ("analysis", "observations"):
            found.append((path.stem, path))
    return found


def kzprobe_result(path: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="kzprobe-ooni-agreement-") as work:
        summary = import_measurements([path], Path(work))
        report = json.loads(summary.paths[0].read_text(encoding="utf-8"))
    return report["results"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path, help="a checkout of ooni/probe-cli, or a directory of measurements")
    args = parser.parse_args()
    truths = {case.name: case.truth for case in CASES}
    rows = []
    for name, path in measurements(args.path):
        data = json.loads(path.read_text(encoding="utf-8"))
        result = kzprobe_result(path)
        rows.append((name, truths.get(name), kzprobe_outcome(result), ooni_outcome(data["test_keys"]),
                     result["evidence"][:2]))
    print(f"{'scenario':58} {'truth':26} {'kzprobe':14} {'OONI':14} kzprobe's evidence")
    for name, truth, ours, theirs, evidence in rows:
        marks = "" if truth is None else ("" if agrees(ours, truth) else " (kzprobe off)") + \
            ("" if agrees(theirs, truth) else " (OONI off)")
        print(f"{name:58} {'/'.join(truth) if truth else '-':26} {ours:14} {theirs:14} {', '.join(evidence)}{marks}")
    scored = [row for row in rows if row[1] is not None]
    for label, index in (("kzprobe", 2), ("OONI", 3)):
        verdicts = sum(agrees(row[index], row[1], layer=False) for row in scored)
        layers = sum(agrees(row[index], row[1]) for row in scored)
        false_blocks = sum(row[index].startswith("blocked") and not any(t.startswith("blocked") for t in row[1])
                           for row in scored)
        print(f"{label}: agrees with the truth on {verdicts} of {len(scored)} scenarios by verdict, {layers} by "
              f"verdict and layer; 'blocked' where nothing blocks: {false_blocks}")
    unscored = [row for row in rows if row[1] is None]
    if unscored:
        blocked = sum(row[2].startswith("blocked") for row in unscored)
        print(f"{len(unscored)} measurements without a known scenario (real runs): kzprobe says blocked for {blocked}")


if __name__ == "__main__":
    main()
