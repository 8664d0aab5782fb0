"""The store's layout (issue 16): results by vantage and day, the runs table derived from them,
and a store of the earlier month layout rewritten by day in one commit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kzprobe.analyst.store import ingest, layout, writer, writing
from kzprobe.analyst.store.clickhouse import ClickHouseEngine
from kzprobe.analyst.store.engine import DuckDBEngine
from kzprobe.analyst.store.views import periods_sql, row_runs_sql
from kzprobe.errors import ExitCode
from support import reports as f
from support.month_store import as_month_layout

ENGINES = (DuckDBEngine, ClickHouseEngine)
FIRST = datetime(2022, 1, 3, tzinfo=UTC)


def _add(store: Path, *paths: Path, batch: int = 1000, workers: int | None = 1) -> ingest.IngestCount:
    return ingest.add_paths(store, list(paths), on_problem=pytest.fail, batch_size=batch, workers=workers)


def _flipping_reports(directory: Path, hours: int = 40) -> Path:
    """Hourly scans of two vantages whose targets change state within days, one of them changing
    category too (NEWS, then HUMR for a few hours, then NEWS): runs split where the rows do."""
    for hour in range(hours):
        moment = FIRST + timedelta(hours=hour)
        for vantage in ("almaty-vps", "shymkent-beeline"):
            results = [
                f.web_result("orda-kz", "tls_reset" if hour % 7 in (2, 3) else "reachable", started_at=moment,
                             category="HUMR" if 5 <= hour < 9 or hour == 30 else "NEWS"),
                f.web_result("kaztag-kz", "dns_nxdomain" if hour >= 17 else "reachable", started_at=moment),
                f.web_result("vpn-example", "tcp_timeout", started_at=moment, category="ANON"),
            ]
            f.write_json(directory / vantage / f"{(hour * 37) % 101:03d}.json",
                         f.report(results, vantage=vantage, started_at=moment))
    return directory


@pytest.fixture(scope="module")
def flipping(tmp_path_factory):
    directory = _flipping_reports(tmp_path_factory.mktemp("reports"))
    store = tmp_path_factory.mktemp("store") / "s"
    _add(store, directory, batch=13)
    return directory, store


@pytest.mark.parametrize("engine", ENGINES, ids=["duckdb", "chdb"])
def test_the_runs_table_holds_what_the_rows_hold(flipping, engine):
    """Scans per target, vantage, day and state, and the periods, are the same from the runs
    as from every row: the runs are derived from the rows and committed with them."""
    _, store = flipping
    with_rows = f"({row_runs_sql(engine.dialect, '(SELECT * FROM results)')})"
    opened = engine(store)
    try:
        counts = ("SELECT target, vantage, day, state, {} FROM {} GROUP BY target, vantage, day, state "
                  "ORDER BY 1, 2, 3, 4")
        assert opened.rows(counts.format("count(*)", "results")) == opened.rows(
            counts.format("CAST(sum(scans) AS BIGINT)", "runs"))
        periods = ("SELECT target, vantage, state, first_scan, last_scan, scans, incomplete_scans FROM ({}) AS p "
                   "ORDER BY target, vantage, first_scan")
        from_rows = opened.rows(periods.format(periods_sql(engine.dialect, with_rows)))
        assert opened.rows(periods.format("SELECT * FROM periods")) == from_rows
        assert len(from_rows) > 20
        # The category change splits orda-kz's runs, not its periods.
        assert opened.rows("SELECT count(DISTINCT category) FROM runs WHERE target = 'orda-kz'") == [(2,)]
    finally:
        opened.close()


@pytest.mark.parametrize("args", [
    ("timeline", "--json", "--category", "NEWS"),
    ("timeline", "--json", "--category", "humr"),
    ("timeline", "--json", "--since", "2022-01-03T05:30", "--until", "2022-01-04T07:10"),
    ("timeline", "--json", "--category", "NEWS", "--since", "2022-01-03T08:00", "--until", "2022-01-04T00:00"),
    ("summary", "--csv", "--category", "NEWS", "--since", "2022-01-03T06:00"),
    ("summary", "--max-columns", "4", "--since", "2022-01-03T05:30", "--until", "2022-01-04T07:10"),
    ("summary", "--max-columns", "8", "--until", "2022-01-03T04:30", "--verdict", "blocked"),
])
@pytest.mark.parametrize("engine", ["duckdb", "chdb"])
def test_filters_that_cut_days_or_split_runs_answer_as_the_files_do(flipping, args, engine):
    directory, store = flipping
    from_files = f.cli(*args, directory)
    from_store = f.cli(*args, "--store", store, "--engine", engine)
    assert from_files.exit_code == 0 and from_store.exit_code == 0, from_store.stderr
    assert from_store.stdout == from_files.stdout and from_files.stdout.strip()


def test_results_are_a_file_per_vantage_and_day_and_each_day_is_written_once(tmp_path, monkeypatch):
    """Files are added in scan-time order whatever their names: a batch touches the few days its
    scans fall in, and a day is not rewritten by every batch."""
    reports = _flipping_reports(tmp_path / "reports", hours=72)  # three days, names out of time order
    written: list[str] = []
    real = writing.write_partition

    def counted(store, table, directory, batch):
        written.append(directory)
        return real(store, table, directory, batch)

    monkeypatch.setattr(writer, "write_partition", counted)
    _add(tmp_path / "store", reports, batch=48)  # 144 reports: three batches of a day each
    days = [name for name in written if name.startswith("results/")]
    assert sorted(days) == sorted(set(days)) and len(days) == 6  # 2 vantages x 3 days, once each
    manifest = layout.read_manifest(tmp_path / "store")
    assert sorted(manifest.results) == [f"{vantage}\t2022-01-0{day}" for vantage in ("almaty-vps", "shymkent-beeline")
                                        for day in (3, 4, 5)]
    assert sorted(manifest.runs) == ["almaty-vps", "shymkent-beeline"]


def test_two_workers_make_the_same_store_as_one(tmp_path):
    reports = _flipping_reports(tmp_path / "reports", hours=30)  # 60 files: worker processes start
    tables = []
    for workers in (1, 2):
        store = tmp_path / f"store-{workers}"
        assert _add(store, reports, batch=17, workers=workers).added == 60
        manifest = layout.read_manifest(store)
        tables.append([pq.read_table(store / manifest.results[key]) for key in sorted(manifest.results)]
                      + [pq.read_table(store / manifest.runs[key]) for key in sorted(manifest.runs)]
                      + [pq.read_table(store / manifest.scans[key]).drop_columns(["ingested_at"])
                         for key in sorted(manifest.scans)])
    assert len(tables[0]) == len(tables[1]) and all(a.equals(b) for a, b in zip(*tables, strict=True))


@pytest.fixture
def month_store(tmp_path, flipping):
    directory, _ = flipping
    store = tmp_path / "old"
    _add(store, directory)
    as_month_layout(store)
    assert sorted(path.parent.name for path in store.glob("results/*/*/*.parquet")) == ["month=2022-01"] * 2
    return directory, store


def test_a_reader_refuses_a_month_store_and_names_the_command_that_rewrites_it(month_store):
    _, store = month_store
    refused = f.cli("summary", "--store", store)
    assert refused.exit_code == ExitCode.BAD_INPUT
    assert f"kzprobe store migrate --store {store}" in refused.stderr


def test_store_migrate_rewrites_a_month_store_by_day_in_place(month_store):
    directory, store = month_store
    migrated = f.cli("store", "migrate", "--store", store)
    assert migrated.exit_code == 0 and "rewritten from 2 month files to 4 day files" in migrated.stderr
    manifest = json.loads((store / layout.MANIFEST_NAME).read_text())
    assert manifest["format_version"] == layout.STORE_VERSION and len(manifest["runs"]) == 2
    assert not list(store.glob("results/*/month=*"))
    for args in (("timeline", "--json"), ("summary", "--csv"), ("export", "--format", "jsonl")):
        assert f.cli(*args, "--store", store).stdout == f.cli(*args, directory).stdout
    again = f.cli("store", "migrate", "--store", store)
    assert again.exit_code == 0 and "already by day" in again.stderr


def test_a_migration_interrupted_before_its_commit_leaves_the_month_store_and_runs_again(month_store, monkeypatch):
    directory, store = month_store
    month_files = sorted(path.name for path in store.rglob("*.parquet"))

    def crash(*args, **kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(layout, "write_manifest", crash)
    with pytest.raises(OSError), layout.writer_lock(store):
        writer.open_writer(store)
    assert json.loads((store / layout.MANIFEST_NAME).read_text())["format_version"] == 1
    assert len(list(store.rglob("*.parquet"))) > len(month_files)  # day files written, not committed
    monkeypatch.undo()
    added = f.cli("store", "add", directory, "--store", store)  # any writer migrates first
    assert added.exit_code == 0 and "day files (store format 2)" in added.stderr, added.stderr
    assert "0 added" in added.stderr and "80 unchanged" in added.stderr
    assert len(list(store.rglob("*.parquet"))) == len(layout.read_manifest(store).files())
    assert f.cli("timeline", "--json", "--store", store).stdout == f.cli("timeline", "--json", directory).stdout


def test_chdb_refuses_a_store_whose_path_it_would_read_as_a_pattern(tmp_path):
    f.write_json(tmp_path / "in" / "a.json", f.kz_report())
    store = tmp_path / "my,store"
    _add(store, tmp_path / "in")
    refused = f.cli("summary", "--store", store, "--engine", "chdb")
    assert refused.exit_code == ExitCode.BAD_INPUT and "--engine duckdb" in refused.stderr
    assert f.cli("summary", "--store", store).exit_code == 0


def test_a_runs_file_rewritten_by_a_later_batch_keeps_the_other_days(tmp_path):
    reports = _flipping_reports(tmp_path / "reports", hours=50)
    store = tmp_path / "store"
    _add(store, reports, batch=10)
    manifest = layout.read_manifest(store)
    runs = pq.read_table(store / manifest.runs["almaty-vps"])
    assert sorted(set(runs["day"].to_pylist())) == [date(2022, 1, 3), date(2022, 1, 4), date(2022, 1, 5)]
    scans = pc.sum(pc.cast(runs["scans"], pa.int64())).as_py()
    assert scans == 50 * 3  # every row of the vantage, once
