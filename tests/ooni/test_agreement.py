"""kzprobe on OONI's QA scenarios (support/ooni_qa_cases.py): the verdict each scenario's injected
condition calls for, and agreement with that truth scored beside OONI's own verdict on the same
measurements - at least as often right, with the layer named where OONI's "http-failure" has none."""

from __future__ import annotations

import pytest

from support.ooni_import import imported_result
from support.ooni_qa_cases import CASES, QaCase, agrees, kzprobe_outcome, ooni_outcome


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_kzprobe_gives_each_qa_scenario_the_verdict_its_condition_calls_for(tmp_path, case: QaCase):
    result = imported_result(tmp_path, case.build())
    first = result["evidence"][0] if result["evidence"] else None
    assert (result["verdict"], result["blocking"], first) == (case.verdict, case.blocking, case.evidence), \
        result["explanation"]
    assert agrees(kzprobe_outcome(result), case.truth), (case.truth, case.why)


def test_kzprobe_agrees_with_the_truth_at_least_as_often_as_ooni_and_names_the_layer(tmp_path):
    kzprobe, ooni = [], []
    for index, case in enumerate(CASES):
        data = case.build()
        kzprobe.append(kzprobe_outcome(imported_result(tmp_path / str(index), data)))
        ooni.append(ooni_outcome(data["test_keys"]))
    truths = [case.truth for case in CASES]

    def score(outcomes: list[str], layer: bool) -> int:
        return sum(agrees(o, t, layer=layer) for o, t in zip(outcomes, truths, strict=True))

    assert score(kzprobe, layer=False) >= score(ooni, layer=False)
    assert score(kzprobe, layer=True) >= score(ooni, layer=True)
    assert score(kzprobe, layer=True) == len(CASES)
    # Never a block where the condition is no block: OONI has five here (a CDN's challenge, a
    # broken redirect twice, a throttled flow twice), kzprobe none.
    unblocked = [i for i, t in enumerate(truths) if not any(x.startswith("blocked") for x in t)]
    assert [CASES[i].name for i in unblocked if kzprobe[i].startswith("blocked")] == []
    assert len([i for i in unblocked if ooni[i].startswith("blocked")]) == 5
