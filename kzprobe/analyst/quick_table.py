"""rich's table, drawn line by line when it is simple and fits: the same characters and styles,
a few times faster.

rich lays a table out cell by cell with padding, measurement, wrapping and cropping, general
enough for any content, and costs some 50 microseconds a cell: `kzprobe timeline` over a year
of a hundred vantages lists tens of thousands of periods (six cells each) and took a minute
in rich's layout, ten times its queries. The analysts' tables are simple: one-line cells of
text, left-aligned, no edge, and most of the time narrower than the terminal. For such a table
the layout is a sum (each column as wide as its widest cell, plus padding) and each line is
its cells joined. `quick(table)` draws that; a table that is not that simple, or does not fit
(rich would fold its cells), is drawn by rich itself. tests/analyst/test_quick_table.py checks
the two agree character by character and style by style.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text


def quick(table: Table) -> RenderableType:
    """A renderable that draws `table` as rich would: itself when it is not one of the simple
    shapes drawn here (padding (0, 1), no edge, a simple-head box or none, no title, footer or
    row styles, left-justified columns without a fixed width)."""
    simple = (
        table.box in (box.SIMPLE_HEAD, None) and not table.show_edge and not table.pad_edge
        and tuple(table.padding) == (0, 1, 0, 1) and not table.collapse_padding and not table.expand
        and table.width is None and table.min_width is None and not table.title and not table.caption
        and not table.show_footer and not table.show_lines and not table.leading and not table.row_styles
        and table.style in (None, "", "none") and table.border_style in (None, "", "none")
        and all(column.justify == "left" and column.width is None and column.max_width is None and not column.ratio
                and column.vertical == "top" for column in table.columns)
        and all(row.style is None for row in table.rows)
    )
    return _QuickTable(table) if simple and table.columns else table


class _QuickTable:
    def __init__(self, table: Table) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Any]:
        table = self.table
        texts = _texts(table)
        if texts is None:
            yield from table.__rich_console__(console, options)
            return
        header, cells = texts
        last = len(table.columns) - 1
        pads = [(0 if index == 0 else 1, 0 if index == last else 1) for index in range(last + 1)]
        widths = []
        for index, column in enumerate(table.columns):
            column_texts = (header or [])[index:index + 1] + cells[index]
            natural = max((max(cell_len(line) for line in text.plain.split("\n")) for text in column_texts),
                          default=0)
            width = max(natural, column.min_width or 0) + sum(pads[index])
            widths.append(width or 1)
        extra = last if table.box else 0
        if sum(widths) > options.max_width - extra:
            yield from table.__rich_console__(console, options)  # rich folds or crops what does not fit
            return
        drawn = table.box.substitute(options, safe=table.safe_box if table.safe_box is not None
                                     else console.safe_box) if table.box else None
        divider = [Segment(" ")] if drawn else []
        new_line = Segment.line()
        if header is not None:
            styles = [console.get_style(table.header_style or "") + console.get_style(column.header_style or "")
                      for column in table.columns]
            split = [text.split("\n", allow_blank=True) for text in header]
            height = max(len(lines) for lines in split)
            for line in range(height):
                for index, lines in enumerate(split):
                    shown = lines[line - (height - len(lines))] if line >= height - len(lines) else None
                    yield from _cell(console, shown, widths[index], pads[index], styles[index])
                    if index < last:
                        yield from divider
                yield new_line
            if drawn:
                yield Segment(drawn.get_row(widths, "head", edge=False))
                yield new_line
        styles = [console.get_style(column.style or "") for column in table.columns]
        for number, row in enumerate(table.rows):
            for index in range(last + 1):
                yield from _cell(console, cells[index][number], widths[index], pads[index], styles[index])
                if index < last:
                    yield from divider
            yield new_line
            if row.end_section and drawn and number < len(table.rows) - 1:
                yield Segment(drawn.get_row(widths, "row", edge=False))
                yield new_line


def _texts(table: Table) -> tuple[list[Text] | None, list[list[Text]]] | None:
    """The header and the cells of each column as Text; None when a cell is not one line of
    text (or a header not text)."""
    header = [_text(column.header) for column in table.columns] if table.show_header else None
    cells = [[_text(cell) for cell in column.cells] for column in table.columns]
    if header is not None and any(text is None for text in header):
        return None
    if any(text is None or "\n" in text.plain for column in cells for text in column):
        return None
    return ([text for text in header if text is not None] if header is not None else None,
            [[text for text in column if text is not None] for column in cells])


def _text(cell: Any) -> Text | None:
    """A cell as Text: Text as it is, a string without markup as plain text, else None (a
    renderable this module does not lay out)."""
    if isinstance(cell, Text):
        return cell if cell.justify in (None, "left") and "\t" not in cell.plain else None
    if isinstance(cell, str) and not any(character in cell for character in "[\n\t"):
        return Text(cell)
    return None


def _cell(console: Console, text: Text | None, width: int, pads: tuple[int, int], style: Style) -> Iterator[Segment]:
    """One line of a cell, as rich's Padding and left justification draw it: the left pad, the
    text in its styles, the rest of the width in the text's own style, the right pad; all over
    the column's style."""
    if text is None:  # a header line above a shorter header: one blank, as rich aligns it
        yield Segment(" " * width, style)
        return
    left, right = pads
    if left:
        yield Segment(" " * left, style)
    # rich pads the text with spaces to the width (in the text's own style) and draws it with
    # its spans over that style: one segment when it has no spans.
    fill = " " * (width - left - right - text.cell_len)
    if text.spans:
        padded = text.copy()
        padded.append(fill)
        segments = list(padded.render(console))
    else:
        segments = [Segment(text.plain + fill, console.get_style(text.style) if text.style else Style.null())]
    yield from Segment.apply_style(segments, style) if style else segments
    if right:
        yield Segment(" " * right, style)
