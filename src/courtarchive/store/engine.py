"""Engines for the two backends: SQLite (embedded default) and PostgreSQL (server)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from ..config import sqlite_mmap_size


def make_engine(url: str) -> sa.Engine:
    u = sa.make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(u, connect_args={"timeout": 60})
        mmap = sqlite_mmap_size()

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            # let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is off)
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA cache_size=-65536")
            # reads through a memory map instead of a read() per page missing from the cache:
            # the search engine's CPU p95 at 1M people went from 10.8 to 9.4 ms (bench/RESULTS.md)
            cur.execute(f"PRAGMA mmap_size={mmap}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # pragma: no cover
            # writers (connections with execution option writer=True) take the write lock at
            # the start (IMMEDIATE), so two writers queue instead of failing half-way with
            # "database is locked"; readers begin DEFERRED and never wait for a writer (WAL)
            if conn.get_execution_options().get("writer"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine
    if u.get_backend_name() == "postgresql":
        if u.drivername == "postgresql":
            u = u.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(u, pool_pre_ping=True)

        @event.listens_for(engine, "begin")
        def _begin_pg(conn):  # pragma: no cover - exercised by the PostgreSQL store tests
            # bulk writers (execution option bulk=True: the search index's rebuild and refresh)
            # look up the rows they have just written -- tables that grow by the million inside
            # one transaction.  psycopg prepares a statement on its 5th run, and PostgreSQL may then
            # keep one generic plan for it, made while the table was small or analysed empty: a
            # sequential scan, re-run on a table growing under it (a 1M-people index rebuild had
            # not finished after 15 minutes; 130 s so).  Such transactions plan every statement
            # for its values and the table's size at that moment; reads keep their prepared plans.
            if conn.get_execution_options().get("bulk"):
                conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")

        return engine
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql+psycopg://...")


def is_sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"
