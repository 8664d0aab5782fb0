"""The analysts' store: reports as Parquet files (pyarrow), queried with SQL (DuckDB by default).

layout keeps the files and the manifest that commits them; columns says what a row holds;
ingest adds reports; engine opens them as the views `results`, `scans` and `periods`
(views, for DuckDB and ClickHouse); queries answers summary, timeline, compare and export from
them; collect fetches reports from vantages. Needs the `store` extra: pip install 'kzprobe[store]'.
"""
