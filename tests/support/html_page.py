"""Reading an HTML report back in tests: its elements, attributes, text, JSON data and SVGs."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self.rows: list[list[str]] = []  # the cells' text of every <tr>
        self._raw: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, dict(attrs)))
        if tag in ("script", "style"):
            self._raw = tag
            if tag == "script":
                self.scripts.append((dict(attrs), ""))
            else:
                self.styles.append("")
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == self._raw:
            self._raw = None
        elif tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._raw == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        elif self._raw == "style":
            self.styles[-1] += data
        else:
            self.text.append(data)
            if self._cell is not None:
                self._cell.append(data)


@dataclass
class Page:
    html: str
    elements: list[Element]
    scripts: list[tuple[dict[str, str | None], str]]
    styles: list[str]
    text: str
    rows: list[list[str]]
    data: dict[str, Any] = field(default_factory=dict)

    def svgs(self) -> list[ElementTree.Element]:
        """Every chart and swatch, parsed as XML (as a downloaded SVG must parse)."""
        return [ElementTree.fromstring(chunk) for chunk in re.findall(r"<svg\b.*?</svg>", self.html, re.S)]

    def string(self, index: int) -> str | None:
        return None if index < 0 else self.data["strings"][index]

    def row_runs(self, chart: str, label: str) -> list[tuple[int, int, dict[str, int]]]:
        """(first column, columns, {state: scans}) of each run of the row of `label` (a target
        id, or "connectivity") in `chart`."""
        for row in self.data["charts"][chart]["rows"]:
            if row.get("ref"):
                row = self.data["charts"][row["ref"][0]]["rows"][row["ref"][1]]
            name = "connectivity" if row["k"] == "c" else self.string(self.data["targets"][row["t"]][0])
            if name == label:
                return [(run[0], run[1], {self.string(s): n for s, n in zip(run[2][::2], run[2][1::2], strict=True)})
                        for run in row["r"]]
        raise KeyError(label)


def parse_page(html: str) -> Page:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    page = Page(html, parser.elements, parser.scripts, parser.styles, "".join(parser.text), parser.rows)
    for attrs, text in parser.scripts:
        if attrs.get("type") == "application/json":
            page.data = json.loads(text)
    return page
