"""Strings from reports reach the terminal as plain text: no escapes, controls, bidi or markup."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from kzprobe.analyst.safe_text import clean, csv_cell, safe

# One row per trick: what a hostile file holds, what is shown.
CLEANING = [
    ("rich markup stays literal text", "[bold red]x[/]", "[bold red]x[/]"),
    ("clear screen", "a\x1b[2Jb", "ab"),
    ("colour", "\x1b[31mred\x1b[0m", "red"),
    ("window title (OSC, BEL)", "a\x1b]0;pwned\x07b", "ab"),
    ("hyperlink (OSC 8, ST)", "\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\", "x"),
    ("terminal reset", "\x1bcx", "x"),
    ("8-bit CSI", "a\x9b2Jb", "a2Jb"),
    ("backspace and bell", "ab\x08\x07c", "abc"),
    ("newlines fold to spaces", "line1\nline2\r\n", "line1 line2  "),
    ("right-to-left override", "kz.\u202eexample", "kz.example"),
    ("isolates", "\u2066a\u2069", "a"),
    ("Cyrillic stays", "Доступ ограничен", "Доступ ограничен"),
    ("None is empty", None, ""),
    ("numbers as text", 12.5, "12.5"),
]


@pytest.mark.parametrize("name, raw, shown", CLEANING, ids=[row[0] for row in CLEANING])
def test_clean(name, raw, shown):
    assert clean(raw) == shown


def test_long_text_is_shortened_with_an_ellipsis():
    assert clean("x" * 50, max_chars=10) == "x" * 9 + "…"


@pytest.mark.parametrize(
    "raw, cell",
    [("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
     ("orda-kz", "orda-kz"), (-1.5, -1.5), (3, 3), (None, ""), (True, "true"), ("\x1b[2J=1", "'=1")],
)
def test_csv_cells_cannot_become_formulas(raw, cell):
    assert csv_cell(raw) == cell


def test_a_colour_terminal_receives_only_our_own_colour_codes():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", width=100)
    console.print(safe("[bold red]x[/]\x1b[2J\x1b]0;t\x07", style="green"))
    text = out.getvalue()
    assert "[bold red]x[/]" in text
    assert "\x1b[2J" not in text and "\x1b]0;" not in text
