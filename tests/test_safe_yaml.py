"""safe_yaml: plain data from untrusted YAML, or a YamlError that says where and why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kzprobe import safe_yaml
from kzprobe.safe_yaml import MAX_YAML_BYTES, MAX_YAML_DEPTH, YamlError, YamlMapping, load_yaml
from support.work import count_work

# A "billion laughs": nine levels of aliases, each repeating the previous one nine times.
BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


# --- what loads, and as what ------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("url: https://orda.kz/\n", {"url": "https://orda.kz/"}, id="plain mapping"),
        pytest.param("- 1\n- two\n", [1, "two"], id="bare list"),
        pytest.param("", None, id="empty document is None"),
        pytest.param("name: no\n", {"name": "no"}, id="yaml 1.1 'no' stays a string (Norway problem)"),
        pytest.param("tls: yes\n", {"tls": "yes"}, id="yaml 1.1 'yes' stays a string"),
        pytest.param("tls: true\n", {"tls": True}, id="true is a boolean"),
        pytest.param("tls: False\n", {"tls": False}, id="False is a boolean"),
        pytest.param("date: 2022-01-05\n", {"date": "2022-01-05"}, id="dates stay strings"),
        pytest.param("port: 0777\n", {"port": 777}, id="leading zero is decimal, not octal"),
        pytest.param("port: 1:20\n", {"port": "1:20"}, id="no sexagesimal numbers"),
        pytest.param("n: 0x1F\n", {"n": "0x1F"}, id="hex stays a string"),
        pytest.param("x: 1.5\n", {"x": 1.5}, id="float"),
        pytest.param("x: -3\n", {"x": -3}, id="negative int"),
        pytest.param("x: ~\ny: null\nz:\n", {"x": None, "y": None, "z": None}, id="nulls"),
        pytest.param("x: '<<'\n", {"x": "<<"}, id="'<<' as a quoted value is just text"),
        pytest.param('t: "tab\\tand\\nnewline"\n', {"t": "tab\tand\nnewline"}, id="tab and newline escapes allowed"),
        pytest.param("name: Қазақстан\n", {"name": "Қазақстан"}, id="unicode text"),
        pytest.param("\ufeffa: 1\n", {"a": 1}, id="byte order mark"),
    ],
)
def test_loads_plain_data(text: str, expected: object) -> None:
    assert load_yaml(text, source_name="t.yaml") == expected


def test_mappings_remember_their_line() -> None:
    data = load_yaml("title: x\ntargets:\n  - url: a\n  - url: b\n", source_name="t.yaml")
    assert isinstance(data, YamlMapping) and data.line == 1
    assert [entry.line for entry in data["targets"]] == [3, 4]


def test_loads_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("a: [1, 2]\n", encoding="utf-8")
    assert load_yaml(path) == {"a": [1, 2]}


# --- what is refused, and how it is reported ---------------------------------------------------

@pytest.mark.parametrize(
    "text, message, line",
    [
        pytest.param("a: &x [1]\nb: *x\n", "aliases", 2, id="alias"),
        pytest.param("base: {a: 1}\nb:\n  <<: {c: 2}\n", "merge keys", 3, id="merge key"),
        pytest.param("a: 1\nb: 2\na: 3\n", "duplicate key 'a'", 3, id="duplicate key"),
        pytest.param("a: !!binary aGk=\n", "tag", 1, id="binary tag"),
        pytest.param("a: !!python/object/apply:os.system [ls]\n", "tag", 1, id="python tag"),
        pytest.param("a: !!timestamp 2022-01-01\n", "tag", 1, id="explicit timestamp"),
        pytest.param("a: !custom x\n", "tag", 1, id="custom tag"),
        pytest.param("a: !!set {x}\n", "tag", 1, id="set"),
        pytest.param("? [1, 2]\n: x\n", "plain value", 1, id="unhashable key"),
        pytest.param("a: 1\n---\nb: 2\n", "single document", 2, id="two documents"),
        pytest.param("a: [1, 2\n", "expected ','", 2, id="unclosed flow list"),
        pytest.param("a: b\x07c\n", "U+0007", 1, id="raw control character"),
        pytest.param('a: "\\e[31mred"\n', "U+001B", 1, id="escape sequence made by a double-quoted escape"),
        pytest.param('a: "\\x9b31m"\n', "U+009B", 1, id="C1 control (8-bit CSI)"),
        pytest.param("a: " + "9" * 5000 + "\n", "cannot be read", None, id="integer too long to convert"),
    ],
)
def test_refuses_with_a_positioned_message(text: str, message: str, line: int | None) -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml(text, source_name="list.yaml")
    error = caught.value
    assert message in str(error)
    assert str(error).startswith("list.yaml")
    assert error.line == line


def test_error_message_never_echoes_control_characters() -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml("a: b\x1b[31m\n", source_name="x.yaml")
    assert "\x1b" not in str(caught.value)


def test_billion_laughs_is_refused_at_the_first_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    work = count_work(monkeypatch)
    with pytest.raises(YamlError, match="aliases"):
        load_yaml(BILLION_LAUGHS, source_name="bomb.yaml")
    assert work.yaml_values <= 16  # the first line's 12 values, the next key and list, the alias


def test_deep_nesting_is_refused_before_the_stack_runs_out() -> None:
    depth = 5_000
    with pytest.raises(YamlError, match=f"nested more than {MAX_YAML_DEPTH} levels"):
        load_yaml("[" * depth + "]" * depth, source_name="deep.yaml")


def test_nesting_up_to_the_cap_is_fine() -> None:
    depth = MAX_YAML_DEPTH
    assert load_yaml("[" * depth + "]" * depth, source_name="ok.yaml") is not None


def test_text_over_the_size_cap_is_refused_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    work = count_work(monkeypatch)
    with pytest.raises(YamlError, match="larger than"):
        load_yaml("a: " + "x" * (MAX_YAML_BYTES + 10), source_name="big.yaml")
    assert work.yaml_values == 0


def test_huge_file_is_refused_after_reading_only_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:  # sparse: 1 GiB on paper, nothing on disk
        handle.truncate(1024 * 1024 * 1024)
    work = count_work(monkeypatch)
    with pytest.raises(YamlError, match="larger than the 1 MiB cap"):
        load_yaml(path, max_bytes=1024 * 1024)
    assert (work.bytes_read, work.yaml_values) == (1024 * 1024 + 1, 0)


@pytest.mark.parametrize(
    "make, message",
    [
        pytest.param(lambda tmp: tmp / "missing.yaml", "no such file", id="missing file"),
        pytest.param(lambda tmp: tmp, "not a regular file", id="directory"),
    ],
)
def test_unreadable_paths(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(YamlError, match=message):
        load_yaml(make(tmp_path))


def test_bytes_that_are_not_utf8_are_refused_with_their_line() -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml(b"a: 1\nb: \xff\xfe\n", source_name="latin.yaml")
    assert "not UTF-8" in str(caught.value)
    assert caught.value.line == 2


# --- libyaml reads, the same checks apply ----------------------------------------------------

needs_libyaml = pytest.mark.skipif(safe_yaml._UntrustedCLoader is None, reason="PyYAML built without libyaml")


def _with_lines(data: object) -> object:
    if isinstance(data, YamlMapping):
        return ("mapping", data.line, [(_with_lines(k), _with_lines(v)) for k, v in data.items()])
    if isinstance(data, list):
        return [_with_lines(item) for item in data]
    return (type(data).__name__, data)


def _load_with(loader_class: type, text: str) -> object:
    loader = loader_class(text)
    try:
        return _with_lines(loader.get_single_data())
    finally:
        loader.dispose()


@needs_libyaml
def test_libyaml_and_pure_python_read_every_bundled_file_alike() -> None:
    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "targets").glob("*.yaml")) + sorted((root / "kzprobe" / "data").glob("*.yaml"))
    assert len(files) >= 4
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _load_with(safe_yaml._UntrustedCLoader, text) == _load_with(safe_yaml._UntrustedLoader, text), path


@needs_libyaml
def test_long_lists_are_read_by_libyaml_and_its_problems_keep_their_position(monkeypatch) -> None:
    used = []

    class Spy(safe_yaml._UntrustedCLoader):  # type: ignore[misc, valid-type]
        def get_single_data(self):
            used.append(True)
            return super().get_single_data()

    monkeypatch.setattr(safe_yaml, "_UntrustedCLoader", Spy)
    text = "targets:\n" + "".join(f"- id: site-{i}\n  url: https://site-{i}.test/\n" for i in range(500))
    assert len(load_yaml(text)["targets"]) == 500 and used
    # Our own checks run on libyaml's events too, with the same message and line.
    with pytest.raises(YamlError) as caught:
        load_yaml("base: {a: 1}\nb:\n  <<: {c: 2}\n", source_name="list.yaml")
    assert "merge keys" in str(caught.value) and caught.value.line == 3


# --- the node budget: a dense file costs at most the budget, whatever its size ------------------
# PyYAML builds a node (with two position marks) per value, ~25 µs and 700 bytes each, and
# `[1,1,1,…]` packs a value into 2 bytes: the 5 MiB cap alone let a 4 MB flow list cost 50 s and
# 1.4 GB. The budget refuses it early.

def test_the_node_budget_is_one_a_honest_file_never_meets():
    # A 5 MiB file written like the bundled lists (24 bytes a node) holds ~220,000 nodes; a
    # budget far above that would let a dense file cost minutes again.
    assert 200_000 <= safe_yaml.MAX_YAML_NODES <= 300_000


def test_a_dense_flow_list_is_refused_at_the_budget_not_after_the_whole_file(monkeypatch, tmp_path):
    monkeypatch.setattr(safe_yaml, "MAX_YAML_NODES", 20_000)
    path = tmp_path / "dense.yaml"
    path.write_text("targets: [" + ",".join(["1"] * 2_000_000) + "]\n")  # 4 MB, 2 million values
    work = count_work(monkeypatch)
    with pytest.raises(YamlError, match="more than 20000 values"):
        load_yaml(path)
    assert work.yaml_values <= 20_001


# --- both loaders (libyaml events, pure Python) refuse the same things ---------------------------

@pytest.fixture(params=["libyaml", "pure-python"])
def yaml_path(request, monkeypatch):
    if request.param == "pure-python":
        monkeypatch.setattr(safe_yaml, "_UntrustedCLoader", None)
    elif safe_yaml._UntrustedCLoader is None:
        pytest.skip("PyYAML built without libyaml")
    return request.param


@pytest.mark.parametrize("text, message", [
    ("a: &x 1\nb: *x\n", "aliases"),
    ("b: {<<: {c: 2}}\n", "merge keys"),
    ("b: {!!merge <<: {c: 1}}\n", "is not allowed"),
    ("a: !foo x\n", "is not allowed"),
    ("a: !!python/object:os.system x\n", "is not allowed"),
    ("a: !!binary aGk=\n", "is not allowed"),
    ('a: "\\e[31m"\n', "U+001B"),
    ('a: "\\N"\n', "U+0085"),
    ("a: x\u0080\n", "U+0080"),
    ("a: 1\na: 2\n", "duplicate key"),
    ("a: 1\n---\nb: 2\n", "another document"),
    ("[" * 40 + "]" * 40 + "\n", "nested more than"),
])
def test_forbidden_constructs_are_refused_on_both_paths(yaml_path, text, message):
    with pytest.raises(YamlError, match=re.escape(message)):
        load_yaml(text)


# A core tag on the wrong kind of value once escaped as a raw exception.
@pytest.mark.parametrize("text", ["a: !!bool maybe\n", "a: !!seq abc\n", "a: !!seq {b: 1}\n"])
def test_a_core_tag_on_the_wrong_value_is_a_yaml_error(yaml_path, text):
    with pytest.raises(YamlError):
        load_yaml(text)


# A lone surrogate once got through, and the journal could not be written.
def test_a_lone_surrogate_escape_is_refused(yaml_path):
    with pytest.raises(YamlError):
        load_yaml('targets:\n  - url: https://a.test/\n    name: "x\\ud800y"\n')
