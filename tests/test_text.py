"""One sanitiser (kzprobe/text.py) for every string from the network or a file that reaches a
terminal, a report or a CSV cell: no escape sequences (parameters included), controls or bidi
tricks, one line; and the CSV writer's formula guard."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from kzprobe.analyst.export import csv_cell
from kzprobe.analyst.style import safe
from kzprobe.probes.body import title_of
from kzprobe.text import clean_text

# One row per trick: what a hostile file or server sends, what is stored or shown.
CLEANING = [
    ("rich markup stays literal text", "[bold red]x[/]", "[bold red]x[/]"),
    ("clear screen", "a\x1b[2Jb", "ab"),
    ("colour", "\x1b[31mred\x1b[0m", "red"),
    ("window title (OSC, BEL)", "a\x1b]0;pwned\x07b", "ab"),
    ("hyperlink (OSC 8, ST)", "\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\", "x"),
    ("terminal reset", "\x1bcx", "x"),
    ("8-bit CSI, parameters too", "a\x9b2Jb", "ab"),
    ("8-bit OSC up to its terminator", "a\x9d0;pwned\x9cb", "ab"),
    ("an escape cut short at the end", "x\x1b[", "x"),
    ("backspace, bell, DEL", "ab\x08\x07\x7fc", "abc"),
    ("newlines fold to one space", "line1\nline2\r\n", "line1 line2"),
    ("tabs and runs of spaces collapse", "  a\t\t b  ", "a b"),
    ("Unicode line and paragraph separators", "a\u2028b\u2029c\x85d", "a b c d"),
    ("no-break spaces are spaces", "a\xa0\xa0b", "a b"),
    ("right-to-left override", "kz.\u202eexample", "kz.example"),
    ("isolates", "\u2066a\u2069", "a"),
    ("marks: LRM, RLM, Arabic letter mark", "\u200ea\u200fb\u061cc", "abc"),
    ("embeddings", "\u202aa\u202bb\u202cc\u202dd", "abcd"),
    ("Cyrillic stays", "Доступ ограничен", "Доступ ограничен"),
    ("None is empty", None, ""),
    ("numbers as text", 12.5, "12.5"),
]


@pytest.mark.parametrize("name, raw, shown", CLEANING, ids=[row[0] for row in CLEANING])
def test_clean_text(name, raw, shown):
    assert clean_text(raw) == shown


def test_plain_text_is_returned_as_it_is():
    text = "Orda.kz: news, analysis [and] 100% Cyrillic: Новости"
    assert clean_text(text) is text


def test_long_text_is_shortened_with_an_ellipsis():
    assert clean_text("x" * 50, max_chars=10) == "x" * 9 + "…"
    assert clean_text("x" * 10, max_chars=10) == "x" * 10


def test_a_recorded_title_is_cleaned_the_same_way():
    # This is why recorded titles may differ from earlier kzprobe versions: an escape
    # sequence's parameters and the Arabic letter mark used to stay in.
    head = b"<html><title>Blocked\x1b[31;1m \xd8\x9c\n  page</title>"
    assert title_of(head, "utf-8") == "Blocked page"


@pytest.mark.parametrize(
    "raw, cell",
    [("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"), ("+1", "'+1"), ("-1", "'-1"),
     ("@SUM(A1)", "'@SUM(A1)"),
     ("orda-kz", "orda-kz"), (-1.5, -1.5), (3, 3), (None, ""), (True, "true"), ("\x1b[2J=1", "'=1"),
     ("  =1", "'=1"), ("\t@x", "'@x")],
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
