"""NULLs reach SQLite through the adapter the store registers for ``None`` (store/engine.py): the
ingest writer binds ~10 per row and pysqlite's default path for them (the adapter protocol, missed)
cost ~20 us of the writer's ~100 per hearing entry.  What is stored must not change: SQL NULL."""

from __future__ import annotations

import sqlite3

from courtarchive.ingest.pipeline import ingest


def test_none_has_an_adapter_that_gives_none():
    import courtarchive.store.engine  # noqa: F401 - registers it

    adapt = sqlite3.adapters.get((type(None), sqlite3.PrepareProtocol))
    assert adapt is not None, "no adapter for None: every NULL bound takes pysqlite's slow path"
    assert adapt(None) is None


def test_nulls_are_stored_as_sql_null(sqlite_archive, keyring, shared_cath):
    lists = sorted((shared_cath / "examples").rglob("*.json"))
    lists = [p for p in lists if "Invalid" not in p.name and "magistrates-standard-list" in str(p)][:4]
    assert lists
    ingest(sqlite_archive, lists, keyring=keyring)
    raw = sqlite3.connect(sqlite_archive.engine.url.database)
    try:
        for table, column in (("party", "organisation_name"), ("party", "middle_names"), ("offence", "plea_date"),
                              ("hearing", "case_id")):
            kinds = dict(raw.execute(f'SELECT typeof({column}), count(*) FROM "{table}" GROUP BY 1').fetchall())
            assert set(kinds) <= {"null", "text", "integer"}, (table, column, kinds)
            assert not raw.execute(f"SELECT count(*) FROM \"{table}\" WHERE {column} IN ('None', '')").fetchone()[0]
        # some NULLs were written (else the check above proves nothing)
        assert raw.execute("SELECT count(*) FROM party WHERE organisation_name IS NULL").fetchone()[0] > 0
    finally:
        raw.close()
