"""`keyword: WORD` entries: what loads, and every problem named by file, entry and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kzprobe.targets import TargetFileError, load_targets
from kzprobe.targets.keywords import host_label


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "words.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("word", "target_id", "label"),
    [
        pytest.param("guljan", "keyword-guljan", "guljan", id="ascii"),
        pytest.param("Ablyazov-2", "keyword-ablyazov-2", "ablyazov-2", id="capitals, digits, inner hyphen"),
        pytest.param("жаңаөзен", "keyword-xn--80aapbh1b01drr", "xn--80aapbh1b01drr", id="kazakh, IDNA"),
        pytest.param("a" * 63, f"keyword-{'a' * 63}", "a" * 63, id="63 characters"),
    ],
)
def test_a_keyword_entry_loads_stored_as_given(tmp_path: Path, word: str, target_id: str, label: str) -> None:
    [target] = load_targets([write(tmp_path, f"targets:\n  - keyword: {word}\n")])
    assert (target.id, target.keyword, target.url, target.label) == (target_id, word, None, f"keyword: {word}")
    assert host_label(word) == label
    assert target.to_dict() == {"id": target_id, "keyword": word}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param('keyword: ""', "field 'keyword': must not be empty", id="empty"),
        pytest.param("keyword: two words", "'two words' must be letters, digits and inner hyphens", id="space"),
        pytest.param("keyword: guljan.org", "'guljan.org' must be letters, digits and inner hyphens", id="dot"),
        pytest.param("keyword: /guljan", "must be letters, digits and inner hyphens", id="slash"),
        pytest.param("keyword: -guljan", "must be letters, digits and inner hyphens", id="leading hyphen"),
        pytest.param("keyword: guljan-", "must be letters, digits and inner hyphens", id="trailing hyphen"),
        pytest.param("keyword: gul_jan", "must be letters, digits and inner hyphens", id="underscore"),
        pytest.param(f"keyword: {'a' * 64}", "longer than 63 characters", id="64 characters"),
        pytest.param(f"keyword: {'ж' * 60}", "is not a valid internationalised host-name label (Label too long)",
                     id="IDNA form too long"),
        pytest.param("keyword: 12", "must be a string, not a number", id="number"),
        pytest.param("keyword: guljan\n    url: https://guljan.org/", "a keyword entry has no 'url'", id="with url"),
        pytest.param("keyword: guljan\n    baseline: domestic", "a keyword entry has no 'baseline'", id="baseline"),
    ],
)
def test_a_bad_keyword_names_file_entry_and_field_and_nothing_loads(tmp_path: Path, entry: str, message: str) -> None:
    path = write(tmp_path, f"targets:\n  - url: https://orda.kz/\n  - id: word\n    {entry}\n")
    with pytest.raises(TargetFileError) as caught:
        load_targets([path])
    text = [str(p) for p in caught.value.problems]
    assert any(t.startswith(f"{path}:3: entry 2 (word), field 'keyword'") and message in t for t in text), text


def test_a_bundled_keyword_needs_what_every_bundled_entry_needs(tmp_path: Path) -> None:
    path = write(tmp_path, "targets:\n  - keyword: guljan\n")
    with pytest.raises(TargetFileError) as caught:
        load_targets([path], strict=True)
    fields = {p.field for p in caught.value.problems}
    assert {"id", "name", "category", "sources"} <= fields
