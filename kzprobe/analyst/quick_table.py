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

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

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


class _Cell(NamedTuple):
    text: Text | None  # None: a plain string
    plain: str
    width: int  # cells on the terminal: the widest line's


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
            natural = max([cell.width for cell in cells[index]] + ([header[index].width] if header else []), default=0)
            widths.append(max(natural, column.min_width or 0) + sum(pads[index]) or 1)
        if sum(widths) > options.max_width - (last if table.box else 0):
            yield from table.__rich_console__(console, options)  # rich folds or crops what does not fit
            return
        drawn = table.box.substitute(options, safe=table.safe_box if table.safe_box is not None
                                     else console.safe_box) if table.box else None
        divider = [Segment(" ")] if drawn else []
        # Without colours (a pipe, a file) each line is one segment; with them, runs of one style.
        plain = console.color_system is None and not console.record
        new_line = Segment.line()
        if header is not None:
            styles = [console.get_style(table.header_style or "") + console.get_style(column.header_style or "")
                      for column in table.columns]
            split = [[_cell_of(line) for line in _as_text(cell).split("\n", allow_blank=True)] for cell in header]
            height = max(len(lines) for lines in split)
            for line in range(height):
                shown = [lines[line - (height - len(lines))] if line >= height - len(lines) else None
                         for lines in split]
                yield from _line(console, shown, widths, pads, styles, divider, plain)
                yield new_line
            if drawn:
                yield Segment(drawn.get_row(widths, "head", edge=False))
                yield new_line
        styles = [console.get_style(column.style or "") for column in table.columns]
        for number, row in enumerate(table.rows):
            yield from _line(console, [column[number] for column in cells], widths, pads, styles, divider, plain)
            yield new_line
            if row.end_section and drawn and number < len(table.rows) - 1:
                yield Segment(drawn.get_row(widths, "row", edge=False))
                yield new_line


def _line(console: Console, cells: list[_Cell | None], widths: list[int], pads: list[tuple[int, int]],
          styles: list[Style], divider: list[Segment], plain: bool) -> list[Segment]:
    """One line of the table: its cells joined by the divider, adjacent segments of one style
    joined (or, `plain`, the whole line one unstyled segment)."""
    if plain:
        between = divider[0].text if divider else ""
        return [Segment(between.join(
            " " * width if cell is None else
            " " * left + cell.plain + " " * (width - left - right - cell.width) + " " * right
            for cell, width, (left, right) in zip(cells, widths, pads, strict=True)))]
    segments: list[Segment] = []
    last = len(cells) - 1
    for index, cell in enumerate(cells):
        segments += _segments(console, cell, widths[index], pads[index], styles[index])
        if index < last:
            segments += divider
    joined: list[Segment] = []
    for segment in segments:
        if joined and (joined[-1].style or _NULL) == (segment.style or _NULL):
            joined[-1] = Segment(joined[-1].text + segment.text, joined[-1].style)
        else:
            joined.append(segment)
    return joined


_NULL = Style.null()


def _texts(table: Table) -> tuple[list[_Cell] | None, list[list[_Cell]]] | None:
    """The header and the cells of each column; None when a cell is not one line of text (or a
    header not text)."""
    header = [_cell_of(column.header, lines=True) for column in table.columns] if table.show_header else None
    if header is not None and any(cell is None for cell in header):
        return None
    cells = []
    for column in table.columns:
        made = [_cell_of(cell) for cell in column.cells]
        if any(cell is None for cell in made):
            return None
        cells.append([cell for cell in made if cell is not None])
    return [cell for cell in header if cell is not None] if header is not None else None, cells


def _cell_of(cell: Any, *, lines: bool = False) -> _Cell | None:
    """A cell's text, plain text and width: Text as it is, a string without markup as plain
    text; None for anything else, or a line break where `lines` does not allow one."""
    text: Text | None = None
    if isinstance(cell, Text):
        if cell.justify not in (None, "left"):
            return None
        text, plain = cell, cell.plain
    elif isinstance(cell, str) and "[" not in cell:
        plain = cell
    else:
        return None
    if "\t" in plain or ("\n" in plain and not lines):
        return None
    if plain.isascii() and plain.isprintable():  # one cell a character
        return _Cell(text, plain, len(plain))
    return _Cell(text, plain, max(cell_len(line) for line in plain.split("\n")))


def _as_text(cell: _Cell) -> Text:
    return cell.text if cell.text is not None else Text(cell.plain)


def _segments(console: Console, cell: _Cell | None, width: int, pads: tuple[int, int],
              style: Style) -> list[Segment]:
    """One line of a cell, as rich's Padding and left justification draw it: the left pad, the
    text in its styles, the rest of the width in the text's own style, the right pad; all over
    the column's style."""
    if cell is None:  # a header line above a shorter header: one blank, as rich aligns it
        return [Segment(" " * width, style)]
    left, right = pads
    made = [Segment(" " * left, style)] if left else []
    # rich pads the text with spaces to the width (in the text's own style) and draws it with
    # its spans over that style: one segment when it has no spans.
    text = _as_text(cell)
    fill = " " * (width - left - right - cell.width)
    if text.spans:
        padded = text.copy()
        padded.append(fill)
        segments = list(padded.render(console))
    else:
        segments = [Segment(cell.plain + fill, console.get_style(text.style) if text.style else Style.null())]
    made += Segment.apply_style(segments, style) if style else segments
    if right:
        made.append(Segment(" " * right, style))
    return made


# A cell of QuickRows: text; text in one style; or rich Text (several styles).
RowCell = str | tuple[str, str] | Text


class QuickRows:
    """The timeline's kind of table (a simple-head box, no edge, left-aligned columns of one-line
    cells, sections) given as rows of cells, drawn as `quick` draws the rich Table of the same
    cells without making that Table and a Text per cell: for tens of thousands of rows (58,570
    periods of a hundred vantages) making them cost more than drawing the lines. A table that
    does not fit the width, or holds a cell of more than one line, is made and left to rich."""

    def __init__(self, headers: list[str], no_wrap: list[bool]) -> None:
        self.headers = headers
        self.no_wrap = no_wrap
        self.rows: list[tuple[RowCell, ...]] = []
        self.section_ends: set[int] = set()  # rows after which a section line is drawn

    def add_row(self, *cells: RowCell) -> None:
        self.rows.append(cells)

    def add_section(self) -> None:
        """A line after the last row added (as rich's Table.add_section)."""
        if self.rows:
            self.section_ends.add(len(self.rows) - 1)

    def table(self) -> Table:
        """The rich Table of these rows: what is drawn when these lines cannot be."""
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for header, no_wrap in zip(self.headers, self.no_wrap, strict=True):
            table.add_column(header, no_wrap=no_wrap)
        for number, row in enumerate(self.rows):
            table.add_row(*[_rich_cell(cell) for cell in row], end_section=number in self.section_ends)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Any]:
        plains = [[cell if isinstance(cell, str) else cell[0] if isinstance(cell, tuple) else cell.plain
                   for cell in row] for row in self.rows]
        if any("\n" in text or "\t" in text for row in plains for text in row):
            yield quick(self.table())
            return
        last = len(self.headers) - 1
        pads = [(0 if index == 0 else 1, 0 if index == last else 1) for index in range(last + 1)]
        columns = list(zip(*plains, strict=True)) if plains else [()] * len(self.headers)
        # A column of printable ASCII (dates, states, counts) is as wide as its characters.
        ascii_columns = ["".join(texts).isascii() and "".join(texts).isprintable() for texts in columns]
        widths = [max(max(map(len if plain else _width, texts), default=0), _width(header)) + sum(pad) or 1
                  for texts, header, pad, plain in zip(columns, self.headers, pads, ascii_columns, strict=True)]
        if sum(widths) > options.max_width - last:
            yield self.table()  # rich folds or crops what does not fit
            return
        drawn = box.SIMPLE_HEAD.substitute(options, safe=console.safe_box)
        rules = {"head": drawn.get_row(widths, "head", edge=False), "row": drawn.get_row(widths, "row", edge=False)}
        new_line = Segment.line()
        if console.color_system is None and not console.record:  # one plain segment a line
            draw = _plain_line(widths, pads, ascii_columns)
            lines = [_plain_line(widths, pads, [False] * len(widths))(self.headers), rules["head"]]
            for number, texts in enumerate(plains):
                lines.append(draw(texts))
                if number in self.section_ends and number < len(plains) - 1:
                    lines.append(rules["row"])
            for line in lines:
                yield Segment(line)
                yield new_line
            return
        header_style = console.get_style("table.header")
        styles = [Style.null()] * len(widths)
        header: list[_Cell | None] = [_Cell(Text(text), text, _width(text)) for text in self.headers]
        yield from _line(console, header, widths, pads, [header_style] * len(widths), [Segment(" ")], False)
        yield new_line
        yield Segment(rules["head"])
        yield new_line
        for number, row in enumerate(self.rows):
            cells: list[_Cell | None] = [_Cell(_rich_cell(cell), text, _width(text))
                                         for cell, text in zip(row, plains[number], strict=True)]
            yield from _line(console, cells, widths, pads, styles, [Segment(" ")], False)
            yield new_line
            if number in self.section_ends and number < len(self.rows) - 1:
                yield Segment(rules["row"])
                yield new_line


def _rich_cell(cell: RowCell) -> Text:
    if isinstance(cell, str):
        return Text(cell)
    if isinstance(cell, tuple):
        return Text(cell[0], style=cell[1])
    return cell


def _width(text: str) -> int:
    return len(text) if text.isascii() and text.isprintable() else cell_len(text)


def _plain_line(widths: list[int], pads: list[tuple[int, int]],
                ascii_columns: list[bool]) -> Callable[[Sequence[str]], str]:
    """What draws a row's texts as one line: a format that pads the ASCII columns, the others
    (whose characters may take two cells, or none) padded by their width on the terminal."""
    fields = [" " * left + (f"{{:<{width - left - right}}}" if plain else "{}") + " " * right
              for width, (left, right), plain in zip(widths, pads, ascii_columns, strict=True)]
    template = " ".join(fields)
    if all(ascii_columns):
        return lambda texts: template.format(*texts)
    inner = [width - left - right for width, (left, right) in zip(widths, pads, strict=True)]
    return lambda texts: template.format(*[text if plain else text + " " * (room - _width(text))
                                           for text, room, plain in zip(texts, inner, ascii_columns, strict=True)])
