"""YAML from files nobody vouched for: target lists, configuration, other people's files.

PyYAML's SafeLoader builds no objects beyond plain data, but it still expands aliases (a
"billion laughs" file of a few hundred bytes becomes gigabytes), recurses once per nesting
level, reads any size, and follows YAML 1.1's surprises (`name: no` is False, `date: 2022-01-05`
a date object, `port: 1:20` the number 80). This loader keeps the data model small and
predictable:

- aliases, merge keys (`<<`) and explicit tags other than the core ones are refused, and so
  are control characters in strings (other than tab and line breaks);
- the file size, the number of values (nodes) and the nesting depth are capped;
- duplicate keys in a mapping are an error, not a silent overwrite;
- scalars resolve like YAML 1.2's core schema: booleans are only true/false, integers only
  decimal, and dates stay strings, so what is loaded is JSON-ready as it stands.

Mappings are returned as `YamlMapping`, a dict that remembers the line it started on, so a
caller validating the data can point its user at the right line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kzprobe.errors import BadInputError

# A target list holding all of Citizen Lab's global list (1,722 rows) written as YAML is about
# 0.4 MB; 5 MiB leaves ten times that for any real list or configuration. Anything larger is
# refused unread. Pure-Python PyYAML parses about 0.5 MB/s, so the cap also bounds what a
# hostile file costs to some ten seconds of CPU and a few hundred MB of memory at worst.
MAX_YAML_BYTES: Final = 5 * 1024 * 1024

# No kzprobe file nests deeper than 5 levels (targets > entry > endpoints > endpoint > field).
# The cap stops a small file of "[[[[…" from driving the recursive composer into the Python
# stack limit; 32 is far beyond any honest file.
MAX_YAML_DEPTH: Final = 32

# Values (scalars, lists, mappings) composed per document. The byte cap alone does not bound
# the cost: PyYAML spends ~25 µs and ~700 bytes on each node, and a flow list "[1,1,1,…]" packs
# one into 2 bytes (4 MB took 50 s and 1.4 GB). The bundled lists hold a node per ~24 bytes, so
# a 5 MiB file written like them has ~220,000; a user's 10,000 bare URLs have 30,000. Beyond
# 250,000 the file is refused, after ~6 s and ~200 MB at worst.
MAX_YAML_NODES: Final = 250_000

_CORE_TAGS: Final = frozenset(
    {
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:seq",
        "tag:yaml.org,2002:map",
    }
)


class YamlError(BadInputError, ValueError):
    """A YAML file or text that cannot be loaded; the message names the source and position."""

    def __init__(
        self, source_name: str, message: str, *, line: int | None = None, column: int | None = None
    ) -> None:
        self.source_name = source_name
        self.message = message
        self.line = line  # 1-based, None when unknown
        self.column = column  # 1-based, None when unknown
        where = source_name
        if line is not None:
            where += f", line {line}"
            if column is not None:
                where += f", column {column}"
        super().__init__(f"{where}: {message}")


class YamlMapping(dict):
    """A mapping loaded from YAML; `line` is the 1-based line where it starts."""

    __slots__ = ("line",)

    def __init__(self, *args: Any, line: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line


class _MarkedProblem(Exception):
    """Raised inside the loader with the node position; turned into YamlError at the boundary."""

    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _UntrustedLoader(yaml.SafeLoader):
    """SafeLoader without aliases, merges, non-core tags, YAML 1.1 scalar surprises or duplicates."""

    # Rebuilt below from scratch: only the YAML 1.2 core-schema scalars.
    yaml_implicit_resolvers: dict = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        # Read at load time, so that tests (and callers) can lower it.
        self._max_nodes = MAX_YAML_NODES

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _MarkedProblem(
                "aliases (*name) are not allowed in kzprobe files; write the value out in full",
                event.start_mark,
            )
        self._nodes += 1
        if self._nodes > self._max_nodes:
            raise _MarkedProblem(
                f"more than {self._max_nodes} values; no kzprobe file needs that many", self.peek_event().start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _MarkedProblem(
                    f"nested more than {MAX_YAML_DEPTH} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if node.tag not in _CORE_TAGS:
            raise _MarkedProblem(f"the tag {node.tag!r} is not allowed", node.start_mark)
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> YamlMapping:
        if not isinstance(node, MappingNode):
            raise _MarkedProblem("expected a mapping", node.start_mark)
        mapping = YamlMapping(line=node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise _MarkedProblem("a mapping key must be a plain value", key_node.start_mark) from None
            # A plain scalar's style is None from PyYAML's parser, "" from libyaml's.
            if key == "<<" and isinstance(key_node, ScalarNode) and not key_node.style:
                raise _MarkedProblem("merge keys (<<) are not allowed in kzprobe files", key_node.start_mark)
            if key in mapping:
                raise _MarkedProblem(f"duplicate key {key!r}", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=True)
        return mapping


def _construct_map(loader: _UntrustedLoader, node: MappingNode) -> YamlMapping:
    # Not a generator like PyYAML's own: without aliases there are no cycles to resolve lazily.
    return loader.construct_mapping(node, deep=True)


def _construct_seq(loader: _UntrustedLoader, node: SequenceNode) -> list:
    if not isinstance(node, SequenceNode):  # "!!seq abc"
        raise _MarkedProblem("expected a list", node.start_mark)
    return [loader.construct_object(child, deep=True) for child in node.value]


def _construct_bool(loader: _UntrustedLoader, node: ScalarNode) -> bool:
    # YAML 1.2's spellings only, also under an explicit !!bool ("!!bool maybe" is no boolean).
    value = loader.construct_scalar(node)
    if value not in _BOOLEANS:
        raise _MarkedProblem(f"{value!r} is not true or false", node.start_mark)
    return _BOOLEANS[value]


_BOOLEANS: Final = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


def _construct_str(loader: _UntrustedLoader, node: ScalarNode) -> str:
    # The reader refuses raw control characters, but a double-quoted "\e[31m" makes one. No
    # kzprobe file needs them, and in a terminal they are commands: refuse all but tab and
    # line breaks here, for every caller.
    value = loader.construct_scalar(node)
    for offset, char in enumerate(value):
        if _is_forbidden_control(char):
            raise _MarkedProblem(
                f"the control character U+{ord(char):04X} is not allowed in a string (character {offset + 1})",
                node.start_mark,
            )
    return value


def _is_forbidden_control(char: str) -> bool:
    # Surrogates ("\ud800") are not characters: no UTF-8 file or report can hold them.
    code = ord(char)
    return (code < 0x20 and char not in "\t\n\r") or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF


def _construct_int(loader: _UntrustedLoader, node: ScalarNode) -> int:
    # Decimal only: PyYAML's own reads "0777" as octal 511 and "1:20" as 80.
    return int(loader.construct_scalar(node))


_UntrustedLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_UntrustedLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_UntrustedLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_UntrustedLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)
_UntrustedLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), first characters
# listed as PyYAML's resolver wants them.
_UntrustedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_UntrustedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
_UntrustedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_UntrustedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


def load_yaml(
    path_or_text: str | bytes | Path,
    *,
    source_name: str | None = None,
    max_bytes: int = MAX_YAML_BYTES,
) -> Any:
    """Load one YAML document from a file (`Path`) or from text (`str` or UTF-8 `bytes`).

    Returns plain data (YamlMapping, list, str, int, float, bool, None); an empty document is
    None. Raises YamlError naming `source_name` (default: the path, or "<text>") and, where
    known, the line and column.
    """
    if isinstance(path_or_text, Path):
        name = source_name or str(path_or_text)
        data: str | bytes = _read_capped(path_or_text, name, max_bytes)
    else:
        name = source_name or "<text>"
        data = path_or_text
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise YamlError(name, _too_large(len(data), max_bytes))
        text = _decode_utf8(data, name)
    else:
        # A character is at least one byte: only text short enough in characters is encoded.
        size = len(data) if len(data) > max_bytes else len(data.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise YamlError(name, _too_large(size, max_bytes))
        text = data
    return _load_text(text, name)


def _load_text(text: str, name: str) -> Any:
    if _UntrustedCLoader is not None:
        try:
            c_loader = _UntrustedCLoader(text)
            try:
                return c_loader.get_single_data()
            finally:
                c_loader.dispose()
        except _MarkedProblem as problem:  # one of our checks (a bomb's node cap among them)
            raise _positioned(name, problem.message, problem.mark) from None
        except (yaml.YAMLError, ValueError, OverflowError, RecursionError, KeyError, AttributeError, TypeError):
            pass  # not valid YAML: reported below by the pure-Python loader, with its own words
    try:
        loader = _UntrustedLoader(text)
    except yaml.reader.ReaderError as error:
        raise _reader_error(error, text, name) from None
    try:
        return loader.get_single_data()
    except _MarkedProblem as problem:
        raise _positioned(name, problem.message, problem.mark) from None
    except yaml.reader.ReaderError as error:
        raise _reader_error(error, text, name) from None
    except yaml.MarkedYAMLError as error:
        message = error.problem or error.context or "not valid YAML"
        if error.context and error.problem:
            message = f"{error.problem} ({error.context})"
        raise _positioned(name, message, error.problem_mark or error.context_mark) from None
    except yaml.YAMLError as error:
        raise YamlError(name, f"not valid YAML: {error}") from None
    except (ValueError, OverflowError) as error:
        # e.g. an integer with more digits than Python converts (sys.get_int_max_str_digits).
        raise YamlError(name, f"a value cannot be read: {error}") from None
    except (KeyError, AttributeError, TypeError) as error:  # a construct PyYAML does not expect
        raise YamlError(name, f"a value cannot be read ({error.__class__.__name__})") from None
    except RecursionError:
        raise YamlError(name, "nested too deeply") from None
    finally:
        loader.dispose()


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _UntrustedCLoader(CParser, _UntrustedLoader):
        """_UntrustedLoader reading its events from libyaml: the same composer with the same
        checks, the same constructors and resolvers, four times faster on a long target list
        (pure-Python scanning and parsing was most of loading 1,000 targets). Used only for
        files it loads without error; any problem is reported by _UntrustedLoader, so that
        messages and positions stay the same."""

        # Composed in Python, node by node, so that the checks above apply.
        check_node = yaml.composer.Composer.check_node
        get_node = yaml.composer.Composer.get_node
        get_single_node = yaml.composer.Composer.get_single_node

        def __init__(self, stream: str) -> None:
            _UntrustedLoader.__init__(self, stream)  # the reader refuses control characters here
            CParser.__init__(self, stream)

        def dispose(self) -> None:
            CParser.dispose(self)
else:  # pragma: no cover - PyYAML built without libyaml
    _UntrustedCLoader = None  # type: ignore[assignment,misc]  # no libyaml: the Python loader alone


def _read_capped(path: Path, name: str, max_bytes: int) -> bytes:
    """Read at most max_bytes + 1 bytes, so a huge or endless file is refused without reading it."""
    try:
        if not path.is_file():
            raise YamlError(name, "not a regular file" if path.exists() else "no such file")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise YamlError(name, f"cannot be read: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise YamlError(name, _too_large(None, max_bytes))
    return data


def _too_large(size: int | None, max_bytes: int) -> str:
    cap = f"{max_bytes / (1024 * 1024):g} MiB" if max_bytes >= 1024 * 1024 else f"{max_bytes} bytes"
    actual = f" ({size} bytes)" if size is not None else ""
    return f"the file is larger than the {cap} cap for YAML files{actual}"


def _decode_utf8(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise YamlError(name, f"not UTF-8 text (byte {error.start})", line=line) from None


def _positioned(name: str, message: str, mark: yaml.Mark | None) -> YamlError:
    if mark is None:
        return YamlError(name, message)
    return YamlError(name, message, line=mark.line + 1, column=mark.column + 1)


def _reader_error(error: yaml.reader.ReaderError, text: str, name: str) -> YamlError:
    """PyYAML's reader refuses control characters; report where, without echoing the character."""
    position = max(0, min(error.position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = error.character if isinstance(error.character, int) else ord(error.character)
    return YamlError(
        name, f"the character U+{code:04X} is not allowed in YAML text", line=line, column=column
    )


__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "YamlError", "YamlMapping", "load_yaml"]
