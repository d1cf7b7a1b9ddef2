"""Engines for the two backends: SQLite (embedded default) and PostgreSQL (server)."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from ..config import ConfigError, sqlite_mmap_size


class DatabaseError(ConfigError):
    """The database URL ($COURTARCHIVE_DB, ``--db``) cannot be used as it is: no such backend, a
    server that does not answer or refuses the connection, a schema that is not there, or one
    holding another application's tables.  A ConfigError: every command prints it as one line
    (exit code 2), before anything is read or written."""


def describe(url) -> str:
    """The URL as the messages show it (password hidden)."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL at all: said as given
        return repr(url)


def make_engine(url: str) -> sa.Engine:
    try:
        u = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseError(f"COURTARCHIVE_DB / --db: {url!r} is not a database URL: use sqlite:///PATH or "
                            "postgresql+psycopg://user@host:5432/db") from None
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
            # (straight on the driver's connection: through exec_driver_sql the BEGIN cost ~50 µs of
            # SQLAlchemy's execution machinery, more than the read it opens, and a page or API answer
            # opens 5-13 of these)
            conn.connection.dbapi_connection.execute(
                "BEGIN IMMEDIATE" if conn.get_execution_options().get("writer") else "BEGIN")

        return engine
    if u.get_backend_name() == "postgresql":
        if u.drivername == "postgresql":
            u = u.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(u)
        _ping_when_idle(engine)

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
    raise DatabaseError(f"COURTARCHIVE_DB / --db: unsupported database URL {describe(url)}: use sqlite:///PATH or "
                        "postgresql+psycopg://user@host:5432/db")


def probe(engine: sa.Engine) -> None:
    """Connect once, so that a URL that cannot be used fails here, as one DatabaseError naming it
    (bad host or port, refused user or password, no such database), instead of as a driver
    traceback from whichever statement runs first.  PostgreSQL: the search_path must name a schema
    that exists (``?options=-csearch_path%3DNAME``; ``CREATE SCHEMA NAME`` first), or every table
    would be looked for, and created, nowhere.  The connection goes back to the pool for the
    command's own work."""
    where = describe(engine.url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql" and conn.exec_driver_sql("SELECT current_schema()").scalar() is None:
                path = conn.exec_driver_sql("SHOW search_path").scalar()
                raise DatabaseError(f"cannot use the database {where}: its search_path ({path}) names no schema "
                                    "that exists: create it first (CREATE SCHEMA ...) or correct the URL")
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
        reason = " ".join(str(getattr(e, "orig", None) or e).split())
        raise DatabaseError(f"cannot connect to the database {where}: {reason}") from None


#: PostgreSQL: a pooled connection idle for longer than this (seconds) is pinged before use
PING_AFTER_IDLE = 2.0


def _ping_when_idle(engine: sa.Engine) -> None:
    """Check a pooled PostgreSQL connection before use when it has been idle PING_AFTER_IDLE
    seconds or more (the server may have restarted, or dropped it), not at every checkout as
    ``pool_pre_ping`` does: an API answer checks a connection out ~7 times, and each ping is a
    round trip -- 15 % of a name search's time through the API at 1M people (bench/RESULTS.md).
    A connection used a moment ago is taken as it is; were the server to go away within that
    window the statement fails, SQLAlchemy invalidates the pool, and the next checkout connects
    afresh.  A failed ping raises DisconnectionError: the pool drops that connection and checks
    out (or opens) another."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn, record):  # pragma: no cover - exercised by the PostgreSQL tests
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, _proxy):  # pragma: no cover
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return                   # just connected, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as e:       # noqa: BLE001 - any failure: a fresh connection instead
            raise sa.exc.DisconnectionError(f"pooled connection failed its ping: {e}") from e


def is_sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"
