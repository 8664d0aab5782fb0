"""The import contract of docs/architecture.md, read from the source with `ast`.

Every `import` and `from … import` of a kzprobe module is an edge, wherever it stands: at the
top of a module, inside a function, under `if TYPE_CHECKING:`. A function-level import is a
dependency all the same (it only runs later), and a cycle hidden in a function is still a
cycle. `check(root)` returns the violations as sentences, [] when the contract holds.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# Top to bottom. A part is a package or a leaf module directly under kzprobe/ ("" is
# kzprobe/__init__.py itself); a part may import any part of a lower layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__",),
    ("cli",),
    ("scan", "analyst", "vantage", "lab", "ooni"),
    ("probes", "analysis"),
    ("report", "targets"),
    ("text", "safe_yaml", "docs_links"),
    ("errors", ""),
)
# Parts of one layer stay independent, except these uses (importer, imported): a scan job takes
# the vantage's output lock, publishes latest.json and applies its retention.
SIBLING_USES: frozenset[tuple[str, str]] = frozenset({("scan", "vantage")})


@dataclass(frozen=True)
class Edge:
    importer: str  # dotted module name
    imported: str  # dotted name of the most specific kzprobe module the statement names
    line: int


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file for every module of the kzprobe package under `root`."""
    names = {}
    for path in sorted((root / "kzprobe").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _most_specific(name: str, modules: Mapping[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports_of(name: str, path: Path, modules: Mapping[str, Path]) -> Iterable[Edge]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from kzprobe.analysis import thresholds` names a module; `… import Verdict` does not.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "kzprobe" or target.startswith("kzprobe."):
                imported = _most_specific(target, modules)
                if imported is not None and imported != name:
                    yield Edge(name, imported, node.lineno)


def import_edges(root: Path) -> list[Edge]:
    modules = module_names(root)
    edges = [edge for name, path in modules.items() for edge in _imports_of(name, path, modules)]
    return list(dict.fromkeys(edges))  # `from x import a, b` names x once


def part_of(module: str) -> str:
    """The layer part a module belongs to: kzprobe.analysis.services.records -> "analysis"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(part: str) -> int | None:
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    return None


def layer_violations(edges: Iterable[Edge]) -> list[str]:
    problems = []
    for edge in edges:
        importer, imported = part_of(edge.importer), part_of(edge.imported)
        if importer == imported:
            continue
        above, below = _layer(importer), _layer(imported)
        where = f"{edge.importer} (line {edge.line}) imports {edge.imported}"
        if above is None or below is None:
            unknown = importer if above is None else imported
            problems.append(f"{where}: kzprobe/{unknown or '__init__'} is in no layer of the contract")
        elif above > below:
            problems.append(f"{where}: {imported or 'kzprobe'} is in a layer above {importer or 'kzprobe'}")
        elif above == below and (importer, imported) not in SIBLING_USES:
            problems.append(f"{where}: {importer} and {imported} share a layer and stay independent")
    return problems


def cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """Every import cycle between modules, as the modules in it (Tarjan's strongly connected
    components, iterative: no recursion limit to meet)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _cycle_through(start: str, members: set[str], lines: Mapping[tuple[str, str], int]) -> list[str]:
    """The shortest way from `start` back to itself inside one strongly connected component."""
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for (a, b) in sorted(lines):
            if a != node or b not in members:
                continue
            if b == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                path.reverse()
                return [f"{a} (line {lines[(a, b)]})" for a, b in zip(path, path[1:] + [start], strict=True)] + [start]
            if b not in previous:
                previous[b] = node
                queue.append(b)
    return [start]


def check(root: Path) -> list[str]:
    """Every breach of the contract in the kzprobe package under `root`, as sentences."""
    edges = import_edges(root)
    lines: dict[tuple[str, str], int] = {}
    for edge in edges:
        lines.setdefault((edge.importer, edge.imported), edge.line)
    problems = layer_violations(edges)
    for component in cycles(edges):
        problems.append("import cycle: " + " -> ".join(_cycle_through(component[0], set(component), lines)))
    return problems
