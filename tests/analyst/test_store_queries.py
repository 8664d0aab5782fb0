"""summary, timeline, compare, export and report from a store print what they print from the
report files it was built from, on DuckDB and on ClickHouse (chdb); `store sql` only reads."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kzprobe.analyst.store.clickhouse import ClickHouseEngine
from kzprobe.analyst.store.engine import DuckDBEngine
from kzprobe.errors import ExitCode
from support import reports as f

ENGINES = ("duckdb", "chdb")


@pytest.fixture(scope="module")
def reports_and_store(tmp_path_factory):
    """Two vantages through January 2022's shutdown, a scan cut off from abroad and incomplete,
    the lab's scan, and a journal of a scan that never finished; then the store of them all."""
    directory = tmp_path_factory.mktemp("reports")
    f.write_january_2022(directory / "hourly", hours=24 * 4 + 6, vantages=("almaty-vps", "shymkent-beeline"))
    f.write_json(directory / "kz.json", f.kz_report(started_at=f.START + timedelta(minutes=30)))
    cut = f.kz_report(vantage="shymkent-home", asn="AS206026", started_at=f.START + timedelta(hours=1, minutes=7),
                      connectivity="international_cut", complete=False)
    cut["results"] = cut["results"][:4]
    f.write_json(directory / "cut.json", cut)
    lab = f.lab_report(started_at=f.START + timedelta(hours=2, minutes=3))
    lab["results"].append({  # a keyword target: tables show it as `keyword: guljan`
        "target": {"id": "keyword-guljan", "keyword": "guljan", "name": "The word Guljan", "category": "POLR"},
        "verdict": "blocked", "blocking": "tls", "evidence": ["keyword.sni"],
        "explanation": "The word in the SNI was reset.",
        "control": None, "observations": {"keyword": []}, "started_at": f.iso(f.START), "duration_ms": 90.0})
    f.write_json(directory / "lab.json", lab)
    f.write_journal(directory / "died.journal.jsonl",
                    f.kz_report(vantage="oral-home", started_at=f.START + timedelta(hours=3)))
    store = tmp_path_factory.mktemp("store") / "s"
    added = f.cli("store", "add", directory, "--store", store, "--batch", "40")
    assert added.exit_code == 0, added.stderr
    return directory, store


def _both(reports_and_store, engine: str, *args: object) -> tuple[str, str]:
    directory, store = reports_and_store
    from_files = f.cli(*args, directory)
    from_store = f.cli(*args, "--store", store, "--engine", engine)
    assert from_files.exit_code == 0, from_files.stderr
    assert from_store.exit_code == 0, from_store.stderr
    return from_files.stdout, from_store.stdout


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("args", [
    ("summary",),
    ("summary", "--max-columns", "3"),
    ("summary", "--max-columns", "9"),
    ("summary", "--csv"),
    ("summary", "--csv", "--vantage", "almaty-vps", "--since", "2022-01-05T09:00", "--until", "2022-01-06"),
    ("summary", "--category", "host", "--verdict", "blocked"),
    ("summary", "--target", "*-kz", "--target", "lab-t?????ttled"),
    ("timeline",),
    ("timeline", "--json"),
    ("timeline", "--json", "--vantage", "shymkent-beeline", "--since", "2022-01-04T12:00", "--target", "orda*"),
    ("timeline", "--json", "--category", "NEWS", "--until", "2022-01-05T12:00"),
    ("timeline", "--json", "--since", "2022-01-04T13:30", "--until", "2022-01-06T10:30"),
    ("summary", "--max-columns", "6", "--since", "2022-01-04T13:30", "--until", "2022-01-06T10:30"),
    ("export",),
    ("export", "--format", "jsonl"),
    ("export", "--verdict", "blocked", "--verdict", "down", "--category", "news"),
    ("export", "--format", "jsonl", "--target", "telegram", "--vantage", "oral-home", "--vantage", "shymkent-home"),
])
def test_a_store_answers_as_its_report_files_do(reports_and_store, engine, args):
    from_files, from_store = _both(reports_and_store, engine, *args)
    assert from_files == from_store
    assert from_files.strip()
    if args in (("summary",), ("timeline",)):
        assert "keyword: guljan" in from_store


def test_the_store_holds_every_scan_once_journals_judged_and_incomplete_scans_marked(reports_and_store):
    _, store = reports_and_store
    with DuckDBEngine(store) as engine:
        assert engine.rows("SELECT count(*), sum(CASE WHEN complete THEN 0 ELSE 1 END), sum(CASE WHEN from_journal "
                           "THEN 1 ELSE 0 END) FROM scans") == [(2 * 102 + 4, 2, 1)]
        assert engine.rows("SELECT count(*) FROM results WHERE vantage = 'oral-home' AND verdict IS NOT NULL")[0][0] > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_compare_takes_scans_by_id_or_file_name(reports_and_store, engine):
    directory, store = reports_and_store
    files = f.cli("compare", directory / "kz.json", directory / "cut.json", "--json", "--all")
    stored = f.cli("compare", "kz.json", "shymkent-home-20220105T1107", "--json", "--all", "--store", store,
                   "--engine", engine)
    assert stored.exit_code == 0, stored.stderr
    assert json.loads(stored.stdout) == json.loads(files.stdout)
    missing = f.cli("compare", "nope.json", "kz.json", "--store", store)
    assert missing.exit_code == ExitCode.BAD_INPUT and "no such scan" in missing.stderr


@pytest.mark.parametrize("engine", ENGINES)
def test_export_parquet_is_the_same_table_from_files_and_from_the_store(reports_and_store, tmp_path, engine):
    directory, store = reports_and_store
    assert f.cli("export", directory, "--format", "parquet", "-o", tmp_path / "a.parquet").exit_code == 0
    assert f.cli("export", "--store", store, "--engine", engine, "--format", "parquet", "-o", tmp_path / "b.parquet",
                 ).exit_code == 0
    a, b = pq.read_table(tmp_path / "a.parquet"), pq.read_table(tmp_path / "b.parquet")
    assert a.num_rows > 800 and a.equals(b)
    assert str(a.schema.field("scan_started_at").type) == "timestamp[us, tz=UTC]"
    assert f.cli("export", directory, "--format", "parquet").exit_code == ExitCode.BAD_INPUT  # a file is needed


def test_the_html_report_from_a_store_is_the_page_from_its_files(reports_and_store, tmp_path):
    directory, store = reports_and_store
    assert f.cli("report", directory, "-o", tmp_path / "a.html").exit_code == 0
    assert f.cli("report", "--store", store, "-o", tmp_path / "b.html").exit_code == 0

    def without_clock(page: Path) -> str:
        return "\n".join(line for line in page.read_text().splitlines() if "Generated" not in line)

    assert without_clock(tmp_path / "a.html") == without_clock(tmp_path / "b.html")


def test_the_views_answer_alike_on_both_engines(reports_and_store):
    _, store = reports_and_store
    queries = [
        "SELECT vantage, state, count(*) FROM results GROUP BY vantage, state ORDER BY 1, 2",
        "SELECT target, vantage, state, scans, incomplete_scans FROM periods ORDER BY target, vantage, first_scan",
        "SELECT vantage, asn, country, connectivity, complete, count(*) FROM scans GROUP BY ALL ORDER BY ALL",
    ]
    duck, house = DuckDBEngine(store), ClickHouseEngine(store)
    try:
        for query in queries:
            assert duck.rows(query) == house.rows(query.replace("GROUP BY ALL ORDER BY ALL",
                                                                "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"))
    finally:
        duck.close()
        house.close()


@pytest.mark.parametrize(("query", "refusal"), [
    ("COPY (SELECT * FROM results) TO 'out.csv'", "COPY statements are refused"),
    ("SELECT * FROM read_csv('/etc/passwd')", "Permission Error"),
    ("SELECT * FROM read_text('/etc/hostname')", "Permission Error"),
    ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH statements are refused"),
    ("INSTALL httpfs", "refused"),
    ("LOAD httpfs", "refused"),
    ("SET enable_external_access = true", "refused"),
    ("SELECT 1; DROP VIEW results", "one statement at a time"),
    ("CREATE TABLE t AS SELECT * FROM results", "CREATE statements are refused"),
    ("SELECT * FROM glob('/etc/*')", "Permission Error"),
])
def test_store_sql_reads_the_store_and_nothing_else(reports_and_store, query, refusal):
    _, store = reports_and_store
    result = f.cli("store", "sql", "--store", store, query)
    assert result.exit_code == ExitCode.BAD_INPUT and refusal in result.stderr, result.stderr


def test_store_sql_prints_tables_csv_and_json_lines(reports_and_store):
    _, store = reports_and_store
    query = "SELECT vantage, count(*) AS scans FROM scans GROUP BY vantage ORDER BY vantage"
    csv_out = f.cli("store", "sql", "--store", store, query, "--format", "csv")
    assert csv_out.stdout.splitlines()[:2] == ["vantage,scans", "almaty-vps,103"]
    lines = f.cli("store", "sql", "--store", store, query, "--format", "jsonl").stdout.splitlines()
    assert json.loads(lines[-1]) == {"vantage": "shymkent-home", "scans": 1}
    table = f.cli("store", "sql", "--store", store, "SELECT target, state FROM periods WHERE target = 'orda-kz'")
    assert table.exit_code == 0 and "blocked/tls" in table.stdout and "blocked/network" in table.stdout


def test_a_missing_or_foreign_store_is_named(tmp_path):
    assert "no such store" in f.cli("summary", "--store", tmp_path / "nothing").stderr
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    assert "not a kzprobe store" in f.cli("timeline", "--store", tmp_path / "other").stderr
    both = f.cli("summary", tmp_path, "--store", tmp_path / "other")
    assert both.exit_code == ExitCode.BAD_INPUT and "not both" in both.stderr


def test_without_the_store_extra_files_still_work_and_the_store_says_how_to_install(reports_and_store, tmp_path):
    """A volunteer's install has no pyarrow or duckdb: every command on files works, and the
    store's commands name the extra to install instead of failing with a traceback."""
    import subprocess
    import sys

    directory, store = reports_and_store
    blocked = "import sys; sys.modules['pyarrow'] = sys.modules['duckdb'] = None; from kzprobe.cli import main; main()"

    def run(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", blocked, *map(str, args)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "KZPROBE_CACHE_DIR": "off"})

    assert run("summary", directory / "kz.json").returncode == ExitCode.OK
    for args in (("store", "add", directory, "--store", tmp_path / "s"), ("summary", "--store", store),
                 ("export", directory / "kz.json", "--format", "parquet", "-o", tmp_path / "x.parquet")):
        refused = run(*args)
        assert refused.returncode == ExitCode.BAD_INPUT and "pip install 'kzprobe[store]'" in refused.stderr, args
