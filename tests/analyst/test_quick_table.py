"""analyst/quick_table.py draws what rich draws, character by character and style by style."""

from __future__ import annotations

import io

import pytest
from rich import box
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from kzprobe.analyst.quick_table import QuickRows, quick


def _drawn(renderable, width: int, *, color: bool) -> tuple[str, list[tuple[str, Style]] | None]:
    """The text printed, and (in colour) each character with its style: what a terminal shows,
    however the segments are cut (without colour no style reaches the output)."""
    console = Console(file=io.StringIO(), width=width, color_system="truecolor" if color else None,
                      force_terminal=color, legacy_windows=False, markup=False, highlight=False)
    segments = list(console.render(renderable, console.options))
    chars = [(char, segment.style or Style.null()) for segment in segments if not segment.control
             for char in segment.text]
    return "".join(segment.text for segment in segments), chars if color else None


def _timeline_like() -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("Target", "Vantage", "State", "From", "To", "Scans"):
        table.add_column(name, no_wrap=name not in ("Target", "Vantage"))
    for target in range(3):
        if target:
            table.add_section()
        for number in range(4):
            scans = Text(f"{number + 2} scans")
            if number == 2:
                scans.append(" (1 incomplete)", style="bold red")
            label = Text.assemble(Text(f"site-{target}", style="bold"), " ", "(NEWS)") if number == 0 else Text("")
            table.add_row(label, Text("almaty-vps" if number == 0 else ""),
                          Text(["reachable", "blocked/tls", "down", "блок/dns"][number],
                               style=["green", "bold red", "magenta", "dim"][number]),
                          f"2022-01-0{number + 1} 10:00Z", "2022-01-09 11:00Z", scans)
    return table


def _summary_like(columns: int) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Target", no_wrap=True, min_width=12)
    table.add_column("Cat", no_wrap=True)
    for number in range(columns):
        heading = Text("almaty-vps" if number % 3 == 0 else "", style="bold")
        heading.append(f"\n2022-W0{number % 9 + 1}\n{number * 7} scans")
        if number == 2:
            heading.append("\n1 INCOMPLETE", style="bold red")
        table.add_column(heading, no_wrap=True, overflow="ellipsis")
    table.add_row(Text("connectivity", style="italic"), Text(""), *[Text("online", style="green")] * columns)
    table.add_section()
    for target in range(5):
        table.add_row(Text(f"t{target}"), Text("NEWS"),
                      *[Text(["ok", "tls 3/9", "-", "net"][(target + n) % 4], style=["green", "bold red", "dim", ""][
                          (target + n) % 4]) for n in range(columns)])
    return table


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize(("make", "width"), [
    (_timeline_like, 200),
    (lambda: _summary_like(6), 160),
    (lambda: _summary_like(1), 60),
])
def test_a_simple_table_that_fits_is_drawn_as_rich_draws_it(make, width, color):
    table = make()
    assert quick(table) is not table  # drawn here, not handed back to rich
    assert _drawn(quick(make()), width, color=color) == _drawn(make(), width, color=color)


@pytest.mark.parametrize(("make", "width"), [(_timeline_like, 60), (lambda: _summary_like(12), 100)])
def test_a_table_too_wide_is_left_to_rich_which_folds_it(make, width):
    assert _drawn(quick(make()), width, color=True) == _drawn(make(), width, color=True)


def test_a_table_of_another_shape_is_rich_s():
    table = Table(title="x")
    table.add_column("a")
    assert quick(table) is table
    markup = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    markup.add_column("a")
    markup.add_row("[bold]x[/]")
    assert _drawn(quick(markup), 40, color=True) == _drawn(markup, 40, color=True)


def test_segments_are_plain_lines():
    segments = list(Console(width=40).render(quick(_timeline_like())))
    assert any(segment == Segment.line() for segment in segments)


def _timeline_rows(*, wide: str = "almaty-vps", lines: str = "") -> QuickRows:
    """The timeline's periods as QuickRows: plain, one-style and several-style cells, a vantage
    name of characters two cells wide, sections between targets."""
    rows = QuickRows(["Target", "Vantage", "State", "From", "To", "Scans"], [False, False, True, True, True, True])
    for target in range(3):
        rows.add_section()
        for number in range(4):
            scans = Text(f"{number + 2} scans")
            if number == 2:
                scans.append(" (1 incomplete)", style="bold red")
            rows.add_row(Text.assemble(Text(f"site-{target}", style="bold"), " ", "(NEWS)") if number == 0 else "",
                         (wide if target == 1 else "шымкент-業務") + lines if number == 0 else "",
                         (["reachable", "blocked/tls", "down", "блок/dns"][number],
                          ["green", "bold red", "magenta", "dim"][number]),
                         f"2022-01-0{number + 1} 10:00Z", "2022-01-09 11:00Z",
                         scans if number == 2 else f"{number} scans")
    return rows


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize(("make", "width"), [
    (_timeline_rows, 200),
    (lambda: _timeline_rows(wide="a-vantage-name-" * 3), 200),
    (_timeline_rows, 60),  # too wide: rich folds it
    (lambda: _timeline_rows(lines="\nsecond line"), 200),  # a cell of two lines: rich draws it
])
def test_rows_are_drawn_as_rich_draws_the_table_of_them(make, width, color):
    assert _drawn(make(), width, color=color) == _drawn(make().table(), width, color=color)


@pytest.mark.parametrize("args", [("timeline",), ("summary", "--max-columns", "12")])
def test_the_commands_tables_are_the_same_drawn_here_or_by_rich(tmp_path, monkeypatch, args):
    """End to end: timeline and summary on a terminal wide enough for their tables print what
    rich alone prints."""
    from kzprobe.analyst import summary_render, timeline
    from support import reports as f

    f.write_january_2022(tmp_path / "hourly", hours=60, vantages=("almaty-vps", "shymkent-beeline"))
    monkeypatch.setenv("COLUMNS", "220")
    by_rich: list[Table] = []
    layout = Table.__rich_console__

    def laid_out_by_rich(table, console, options):
        by_rich.append(table)
        return layout(table, console, options)

    monkeypatch.setattr(Table, "__rich_console__", laid_out_by_rich)
    quick_drawn = f.cli(*args, tmp_path / "hourly")
    assert len(by_rich) == (2 if args[0] == "timeline" else 0)  # only the vantages' small tables
    monkeypatch.setattr(timeline.QuickRows, "__rich_console__", lambda rows, console, options: iter([rows.table()]))
    monkeypatch.setattr(summary_render, "quick", lambda table: table)
    rich_drawn = f.cli(*args, tmp_path / "hourly")
    assert quick_drawn.exit_code == 0 and quick_drawn.stdout == rich_drawn.stdout
    assert "─" * 40 in quick_drawn.stdout and max(map(len, quick_drawn.stdout.splitlines())) > 80
