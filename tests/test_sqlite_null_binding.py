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


def test_dates_and_flags_are_bound_as_sqlalchemy_stores_them():
    """The bulk writer leaves dates and bools to the adapters (`Archive._rows`): they must give
    what SQLAlchemy's SQLite DATE and BOOLEAN store, so both paths write the same text / integer."""
    import datetime as dt

    import sqlalchemy as sa

    import courtarchive.store.engine  # noqa: F401 - registers them

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (d DATE, b BOOLEAN)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(dt.date(987, 3, 4), True), (dt.date(2024, 12, 31), False)])
    assert db.execute("SELECT d, typeof(d), b, typeof(b) FROM t").fetchall() == [
        ("0987-03-04", "text", 1, "integer"), ("2024-12-31", "text", 0, "integer")]
    eng = sa.create_engine("sqlite://")
    md = sa.MetaData()
    t = sa.Table("t", md, sa.Column("d", sa.Date), sa.Column("b", sa.Boolean))
    md.create_all(eng)
    with eng.begin() as c:
        c.execute(t.insert(), [{"d": dt.date(987, 3, 4), "b": True}])
        assert c.exec_driver_sql("SELECT d, b FROM t").fetchall() == [("0987-03-04", 1)]


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
