"""Engines for the two backends: SQLite (embedded default) and PostgreSQL (server)."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
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


#: the archive's data generation (`store.governance.data_generation`): a store-private row of
#: ``id_sequence`` that every committed transaction that changed a row moves on, in that same
#: transaction -- whatever it wrote and whichever process wrote it (the CLI's ingest, expiry,
#: erasure, the link stage, a restriction order) -- so that a reader that reads it *before* what
#: it caches knows, by reading it again, whether its copy may be stale.  Exempt are only the
#: writers that say so (`unkept_write`: the audit chain's own appends -- every disclosed page
#: appends one --, web sessions, login attempts, API tokens' last use), so one that forgets costs
#: readers their copies, never a stale one.  An archive made before migration 0015 has no such
#: row: nothing is moved, and readers keep nothing.
GENERATION = "data_generation"
BUMP_GENERATION = f"UPDATE id_sequence SET next_id = next_id + 1 WHERE name = '{GENERATION}'"

#: Write queues.  A writer's connection (execution option ``writer``) begins IMMEDIATE on SQLite,
#: where every writer so waits for the one before it.  On PostgreSQL a writer in a queue (option
#: ``queue``) first takes a transaction-level advisory lock keyed on the archive's schema (two
#: archives in one database do not queue on each other) and the queue's name, held to the
#: transaction's end; readers, and writers with a lock of their own (the audit chain's appends,
#: which every page and API answer makes; the search index's upkeep), never wait for it.  Each
#: queue's writers look rows up and then write from what they found, which two at once got wrong:
#:   ingest        storing lists (`Archive.writer`): two ingests' case updates deadlocked and a list
#:                 both were storing broke the content hash's unique key -- valid lists quarantined;
#:   link          a link run's writing (`link.run`);
#:   restrictions  recording reporting restrictions (`governance.restrictions`), looked up by their
#:                 source before one is added: two expiry runs' syncs added the same one;
#:   governance    a batch of an expiry, erasure or rectification (`governance.retention`, `.rights`),
#:                 rewritten from the rows it read: two expiry runs rewrote and counted each other's
#:                 rows.  (SQLite: such a batch begun as a reader failed "database is locked" when
#:                 an ingest committed between its read and its write.)
QUEUES = frozenset({"ingest", "link", "restrictions", "governance"})
WRITER_LOCK_KEY = 0x436F7572          # "Cour"
WRITER_LOCK_SQL = f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY}, hashtext(current_schema() || ':' || %s))"


def writer_options(queue: str) -> dict:
    """The execution options of a writer's connection in ``queue`` (one of `QUEUES`)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown write queue {queue!r}: one of {', '.join(sorted(QUEUES))}")
    return {"writer": True, "queue": queue}


@contextlib.contextmanager
def writing(engine: sa.Engine, **options):
    """A write transaction (execution option ``writer``): the connection, begun; committed at the end.

    Every transaction that writes begins so.  On SQLite a transaction begun DEFERRED reads from a
    snapshot, and when another writer commits between its first read and its first write it cannot
    write at all: "database is locked", at once, whatever the busy timeout (session 28: with a
    second writer committing, as an ingest does every second, 190 of 200 review decisions and 177
    of 200 account saves -- every portal login -- failed so).  Begun IMMEDIATE it waits its turn
    instead.  On PostgreSQL it is an ordinary transaction (READ COMMITTED reads what is committed
    at each statement); ``queue`` makes it wait in a write queue (`queued_write`)."""
    with engine.connect().execution_options(**{"writer": True, **options}) as conn, conn.begin():
        yield conn


def queued_write(engine: sa.Engine, queue: str):
    """A write transaction in ``queue`` (see `QUEUES`): the connection, begun; committed at the end."""
    return writing(engine, **writer_options(queue))


def _counts(conn) -> bool:
    """Whether this committing transaction moves the data generation on (`GENERATION`)."""
    return not conn.get_execution_options().get("generation_unchanged")


@contextlib.contextmanager
def unkept_write(engine: sa.Engine, **options):
    """A write transaction whose rows no reader keeps between calls (the audit chain, web sessions,
    API tokens' last use, login attempts): the data generation stays (`GENERATION`)."""
    with engine.connect().execution_options(generation_unchanged=True, **options) as conn, conn.begin():
        yield conn


#: pysqlite binds ``None`` the slow way: it is not one of the types bound directly, so each NULL
#: goes through the adapter protocol (a tuple key built, the adapter registry missed, ``__adapt__``
#: and ``__conform__`` looked up) -- ~0.45 us per NULL on this project's VM, and a row of the bulk
#: tables carries ~10 of them: ~20 us of the ingest writer's ~100 us per hearing entry
#: (bench/RESULTS.md, session 20).  With an adapter registered for ``NoneType`` it is one registry
#: hit and one C call that returns ``None`` (``{}.get(None)``), which pysqlite binds as NULL, as
#: before.  Process-wide, like every pysqlite adapter; ``None`` is not a base type, so pysqlite's
#: fast path for int, float, str and bytes is untouched.
sqlite3.register_adapter(type(None), {}.get)
#: the same for the store's own bulk writes of dates and flags (`Archive._rows`), which would
#: otherwise convert them value by value in Python: a date is bound as the text SQLAlchemy's SQLite
#: DATE stores (ISO, ``YYYY-MM-DD``), a bool as the integer its BOOLEAN stores (1 / 0).  Both are C
#: calls.  (Datetimes stay converted by the writer: SQLAlchemy stores them with microseconds always,
#: which ``datetime.isoformat`` leaves out when they are zero.)
sqlite3.register_adapter(dt.date, dt.date.isoformat)
sqlite3.register_adapter(bool, int)


#: the one driver per backend the store is written for (psycopg 3's COPY, pysqlite's connection):
#: another (``postgresql+psycopg2://``, ``+asyncpg``) is refused as a setting, not left to fail
#: as an import or driver traceback from whichever statement runs first
DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}


def make_engine(url: str) -> sa.Engine:
    try:
        u = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseError(f"COURTARCHIVE_DB / --db: {url!r} is not a database URL: use sqlite:///PATH or "
                            "postgresql+psycopg://user@host:5432/db") from None
    backend = u.get_backend_name()
    if backend in DRIVERS and u.get_driver_name() != DRIVERS[backend]:
        raise DatabaseError(f"COURTARCHIVE_DB / --db: {describe(url)}: courtarchive reaches {backend} through "
                            f"{DRIVERS[backend]} only, not {u.get_driver_name()}: use sqlite:///PATH or "
                            "postgresql+psycopg://user@host:5432/db")
    if backend == "sqlite":
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
            db = conn.connection.dbapi_connection
            db.execute("BEGIN IMMEDIATE" if conn.get_execution_options().get("writer") else "BEGIN")
            conn.info["changes_at_begin"] = db.total_changes

        @event.listens_for(engine, "commit")
        def _commit(conn):  # pragma: no cover - exercised by every test that writes
            db = conn.connection.dbapi_connection
            if db.total_changes != conn.info.get("changes_at_begin") and _counts(conn):
                try:
                    db.execute(BUMP_GENERATION)
                except sqlite3.OperationalError as e:     # (no archive tables: a migration down to none)
                    if "no such table" not in str(e):
                        raise

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
            options = conn.get_execution_options()
            if options.get("queue"):          # a queued writer (`QUEUES`)
                conn.exec_driver_sql(WRITER_LOCK_SQL, (options["queue"],))
            if options.get("bulk"):
                conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")

        @event.listens_for(engine, "commit")
        def _commit_pg(conn):  # pragma: no cover - exercised by the PostgreSQL store tests
            # (a transaction that wrote nothing has no transaction id)
            if _counts(conn):
                with conn.connection.dbapi_connection.cursor() as cur:
                    cur.execute("SELECT pg_current_xact_id_if_assigned() IS NOT NULL "
                                "AND to_regclass('id_sequence') IS NOT NULL")     # (see the SQLite one)
                    if cur.fetchone()[0]:
                        cur.execute(BUMP_GENERATION)

        return engine
    raise DatabaseError(f"COURTARCHIVE_DB / --db: unsupported database URL {describe(url)}: use sqlite:///PATH or "
                        "postgresql+psycopg://user@host:5432/db")


def probe(engine: sa.Engine) -> None:
    """Connect once, so that a URL that cannot be used fails here, as one DatabaseError naming it
    (bad host or port, refused user or password, no such database), instead of as a driver
    traceback from whichever statement runs first.  PostgreSQL: the search_path must name a schema
    that exists (``?options=-csearch_path%3DNAME``; ``CREATE SCHEMA NAME`` first), or every table
    would be looked for, and created, nowhere.  And the role must own the archive's tables there (or
    be a member of their owner): PostgreSQL lets only the owner VACUUM a table and merge its GIN
    pending lists -- a role with grants alone broke the search index's refresh after every ingest
    and, worse, had expiry's and erasure's VACUUM FULL skipped with a warning, the old names left in
    the table files.  The connection goes back to the pool for the command's own work."""
    where = describe(engine.url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name != "postgresql":
                return
            from .tables import metadata

            schema, user, owners = conn.exec_driver_sql(
                "SELECT current_schema(), current_user, ARRAY(SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                "AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s) AND NOT pg_has_role(c.relowner, 'USAGE') "
                "ORDER BY 1)", (sorted(metadata.tables),)).one()
            if schema is None:
                path = conn.exec_driver_sql("SHOW search_path").scalar()
                raise DatabaseError(f"cannot use the database {where}: its search_path ({path}) names no schema "
                                    "that exists: create it first (CREATE SCHEMA ...) or correct the URL")
            if owners:
                raise DatabaseError(
                    f"cannot use the database {where} as role {user}: the archive's tables in schema {schema} belong "
                    f"to {', '.join(owners)}, and PostgreSQL lets only their owner vacuum them (expiry's and erasure's "
                    "VACUUM FULL, which leaves no old name in the table files) and upkeep the search index: connect "
                    f"as {owners[0]}, or make {user} a member of it (GRANT {owners[0]} TO {user})")
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
