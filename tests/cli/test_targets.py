"""`kzprobe targets list` and `kzprobe targets validate`, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kzprobe.cli import app
from kzprobe.errors import ExitCode

BAD_INPUT, OK = ExitCode.BAD_INPUT, ExitCode.OK

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def invoke(*args: str):
    return runner.invoke(app, ["targets", *args])


# --- validate -------------------------------------------------------------------------------

def test_validate_bundled_lists_strictly_by_default() -> None:
    result = invoke("validate")
    assert result.exit_code == OK, result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith("OK: ") and line.endswith("; strict rules")
    assert "kz.yaml: " in line and "messengers.yaml: " in line and "baselines.yaml: " in line
    assert result.stderr == ""


def test_validate_user_file_with_user_rules(tmp_path: Path) -> None:
    path = write(tmp_path, "- url: https://orda.kz/\n- url: https://vlast.kz/\n")
    result = invoke("validate", str(path))
    assert result.exit_code == OK, result.stderr
    assert result.stdout.strip() == f"OK: 2 targets in 1 file ({path}: 2); user rules"


def test_validate_user_file_with_strict_rules(tmp_path: Path) -> None:
    path = write(tmp_path, "- url: https://orda.kz/\n")
    result = invoke("validate", "--strict", str(path))
    assert result.exit_code == BAD_INPUT
    lines = result.stderr.splitlines()
    assert len(lines) == 5  # id, name, category, sources, then the count
    assert all(line.startswith(f"{path}:1: entry 1") for line in lines[:4])
    assert lines[-1].startswith("kzprobe: 4 problems in 1 file")
    assert result.stdout == ""


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("- url: ftp://orda.kz/\n", "field 'url': not an http(s) URL", id="bad url"),
        pytest.param("- {url: 'https://orda.kz/', colour: red}\n", "unknown field 'colour'", id="unknown field"),
        pytest.param("a: &x 1\ntargets: [*x]\n", "aliases", id="yaml alias"),
        pytest.param("- {url: 'https://orda.kz/', category: MEDIA}\n", "not a Citizen Lab category", id="bad category"),
    ],
)
def test_validate_reports_one_line_per_problem_and_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    result = invoke("validate", str(path))
    assert result.exit_code == BAD_INPUT
    problem_lines = result.stderr.splitlines()[:-1]
    assert any(expected in line for line in problem_lines), result.stderr
    assert all(line.startswith(str(path)) for line in problem_lines)


def test_validate_collects_problems_across_files(tmp_path: Path) -> None:
    first = write(tmp_path, "- url: https://orda.kz/\n", "a.yaml")
    second = write(tmp_path, "- url: https://orda.kz/\n", "b.yaml")
    result = invoke("validate", str(first), str(second), str(tmp_path / "missing.yaml"))
    assert result.exit_code == BAD_INPUT
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"{second}:1: entry 1 (orda-kz), field 'id'") for line in lines)
    assert f"{tmp_path / 'missing.yaml'}: no such file" in lines
    assert lines[-1].startswith("kzprobe: 2 problems in 2 files")


def test_validate_citizen_lab_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "url,category_code,category_description,date_added,source,notes\n"
                           "https://orda.kz/,NEWS,News Media,2022-11-14,test-lists.ooni.org contribution,\n", "kz.csv")
    result = invoke("validate", str(path))
    assert result.exit_code == OK, result.stderr
    assert result.stdout.startswith("OK: 1 targets in 1 file")


def test_problem_lines_carry_no_terminal_escapes(tmp_path: Path) -> None:
    # A hostile file: escape sequences in keys and values, bidi override in a category.
    path = write(tmp_path, "- {url: 'https://x.kz/', category: \"\\u202eSWEN\", \"\\e[2J\": 1}\n")
    result = invoke("validate", str(path))
    assert result.exit_code == BAD_INPUT
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr


# --- list -----------------------------------------------------------------------------------

def test_list_bundled_as_json() -> None:
    result = invoke("list", "--json")
    assert result.exit_code == OK, result.stderr
    targets = json.loads(result.stdout)
    assert len(targets) >= 60
    assert {"id", "url", "hostname", "name", "category", "sources"} <= set(targets[0])
    assert len({t["id"] for t in targets}) == len(targets)


def test_list_filters_by_category_case_insensitively() -> None:
    result = invoke("list", "--json", "--category", "anon", "-c", "HUMR")
    assert result.exit_code == OK, result.stderr
    categories = {t["category"] for t in json.loads(result.stdout)}
    assert categories == {"ANON", "HUMR"}


def test_list_unknown_category_is_bad_input() -> None:
    result = invoke("list", "--category", "MEDIA")
    assert result.exit_code == BAD_INPUT
    assert "unknown category 'MEDIA'" in result.stderr


def test_list_table_shows_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - id: orda
          url: https://orda.kz/
          name: Orda.kz
          category: NEWS
          sources: [{document: d, reports: r, date: '2022'}]
        - {id: svc, endpoints: ['e1.whatsapp.net:443', 'e2.whatsapp.net:443']}
        """)
    result = invoke("list", "--targets", str(path))
    assert result.exit_code == OK, result.stderr
    header = result.stdout.splitlines()[0]
    for column in ("id", "name", "category", "url", "baseline", "sources"):
        assert column in header
    assert "https://orda.kz/" in result.stdout and "Orda.kz" in result.stdout
    assert "2 endpoints" in result.stdout
    assert "2 targets from 1 file" in result.stdout


def test_list_never_renders_file_content_as_markup(tmp_path: Path) -> None:
    path = write(tmp_path, "- {url: 'https://x.kz/', name: '[bold red]pwned[/] [link=https://evil]x[/link]'}\n")
    result = invoke("list", "-t", str(path))
    assert result.exit_code == OK, result.stderr
    assert "[bold red]pwned[/]" in result.stdout
    assert "\x1b" not in result.stdout


def test_list_with_a_broken_file_is_bad_input(tmp_path: Path) -> None:
    result = invoke("list", "-t", str(write(tmp_path, "targets: [\n")))
    assert result.exit_code == BAD_INPUT
    assert result.stdout == ""


# --- the installed entry point ---------------------------------------------------------------

def test_python_dash_m_kzprobe_targets_validate(tmp_path: Path) -> None:
    bad = write(tmp_path, "- url: 'https://user:pw@orda.kz/'\n")
    env = {**os.environ, "NO_COLOR": "1"}
    ok = subprocess.run([sys.executable, "-m", "kzprobe", "targets", "validate"], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == OK, ok.stderr
    assert ok.stdout.startswith("OK: ") and "targets/kz.yaml" in ok.stdout
    failed = subprocess.run([sys.executable, "-m", "kzprobe", "targets", "validate", str(bad)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == BAD_INPUT
    assert "user name or password" in failed.stderr


def test_list_piped_is_plain_columns_one_target_a_line_with_whole_urls(tmp_path: Path) -> None:
    long_url = "https://www.very-long-host-name-of-a-news-site.kz/section/subsection/article-with-a-long-slug?id=12345"
    path = write(tmp_path, f"""\
        - {{id: long-one, url: '{long_url}', name: A site whose name is long enough to wrap in any table at all}}
        - {{id: short, url: 'https://a.kz/'}}
        """)
    result = invoke("list", "--targets", str(path))
    assert result.exit_code == OK, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4  # header, two targets, caption
    assert long_url in lines[1] and lines[1].startswith("long-one ")
    assert not any(ch in result.stdout for ch in "┃│━─")  # no box drawing to copy around


def test_validate_names_bundled_lists_by_their_short_name_when_installed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # outside the checkout, as a pip user is
    result = invoke("validate")
    assert result.exit_code == OK, result.stderr
    assert "(kz.yaml: " in result.stdout and "/" not in result.stdout.split("(")[1]
