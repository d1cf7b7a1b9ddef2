"""Bulk load: an ingest far larger than what the archive holds (a first load, a backfill of years
of lists) builds the bulk tables' secondary indexes once at the end instead of row by row and, on
PostgreSQL, checks their foreign keys once, set-wise, instead of by a trigger per row -- what
``pg_restore`` does (data first, then indexes and constraints).

    with bulk.loading(archive) as state:      # (ingest.pipeline.ingest(..., bulk=True))
        ... write ...
    state -> {"indexes": N, "foreign_keys": N, "restore_seconds": s}

What is taken off
    The secondary (non-unique) indexes of the tables an ingest fills per hearing entry
    (`BULK_TABLES`) and, on PostgreSQL, those tables' foreign keys.  Primary keys and unique
    constraints stay: the writer's look-ups (content hash, case key) and its idempotency rest on
    them; so does every index of ``publication`` (one row per list: its indexes cost little, and
    superseding reads them).  SQLite checks a foreign key by a primary-key look-up as it inserts,
    cheaply, and cannot drop one without rebuilding the table: it keeps them.

Safety
    Each object is recorded in ``bulk_load`` (its DDL as the database defined it) in the transaction
    that drops it, and put back and its row deleted in one transaction, so the record is always
    exactly what is missing.  A bulk load holds a lock for its whole run (SQLite: ``flock`` on
    ``<archive>.bulk-lock``; PostgreSQL: a session advisory lock per schema), which the OS or the
    server drops when its process dies however it dies.  Rows in ``bulk_load`` whose lock is free
    were left by a load that died: `restore_interrupted` (every ingest and ``init`` call it) puts
    them back.  While a load runs, readers (the portal, searches) work without those indexes:
    correct, slower -- run it when the archive is not being served.  A foreign key that no longer
    holds when it is checked again is an error naming it, and stays recorded (nothing is lost:
    the rows are there; the check is what failed).

When it pays
    Rebuilding an index reads the whole table, so a bulk load costs in proportion to the archive
    plus the load; row by row costs in proportion to the load.  Measured in bench/RESULTS.md
    ("bulk load").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from typing import Iterator

import sqlalchemy as sa

from .archive import Archive, StoreError
from .engine import writing
from .locks import ArchiveLock
from .tables import bulk_load as BL

log = logging.getLogger(__name__)

#: the tables an ingest fills per hearing entry (``publication`` is per list: left alone)
BULK_TABLES = ("case", "hearing", "party", "offence", "complainant", "party_coarse")

#: how long taking the tables' exclusive locks may wait for readers (PostgreSQL) before giving up
LOCK_TIMEOUT = "10s"

class BulkLoadBusy(StoreError):
    """Another process is bulk-loading this archive."""


def _Lock(archive: Archive) -> ArchiveLock:
    """The bulk load's lock on one archive (`store.locks`)."""
    return ArchiveLock(archive, "bulk", pg_key="bulk_load")


# ---------------------------------------------------------------------------------- what is dropped
#: PostgreSQL: the memory an index put back is built in (``maintenance_work_mem``)
INDEX_BUILD_MEMORY = "256MB"


def droppable(archive: Archive, conn, tables: tuple[str, ...] = BULK_TABLES) -> list[dict]:
    """The objects a bulk load takes off ``tables``, as the database defines them now (name, kind,
    table, ddl): their non-unique indexes and, on PostgreSQL, their foreign keys."""
    names = tuple(tables)
    if archive.sqlite:
        marks = ", ".join("?" * len(names))
        rows = conn.exec_driver_sql(
            f"SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks}) ORDER BY tbl_name, name", names).all()
        return [dict(name=n, kind="index", table_name=t, ddl=d) for n, t, d in rows
                if not d.lstrip().upper().startswith("CREATE UNIQUE")]
    q = archive.engine.dialect.identifier_preparer.quote
    idx = conn.exec_driver_sql(
        "SELECT i.relname, t.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "WHERE t.relnamespace = current_schema()::regnamespace AND NOT x.indisunique "
        "AND NOT x.indisprimary AND t.relname = ANY(%s) ORDER BY t.relname, i.relname", (list(names),)).all()
    fks = conn.exec_driver_sql(
        "SELECT c.conname, t.relname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid WHERE c.contype = 'f' "
        "AND c.connamespace = current_schema()::regnamespace AND t.relname = ANY(%s) "
        "ORDER BY t.relname, c.conname", (list(names),)).all()
    return ([dict(name=n, kind="index", table_name=t, ddl=d) for n, t, d in idx]
            + [dict(name=n, kind="foreign_key", table_name=t,
                    ddl=f"ALTER TABLE {q(t)} ADD CONSTRAINT {q(n)} {d}") for n, t, d in fks])


def drop_sql(archive: Archive, obj: dict) -> str:
    q = archive.engine.dialect.identifier_preparer.quote
    if obj["kind"] == "index":
        return f"DROP INDEX {q(obj['name'])}"
    return f"ALTER TABLE {q(obj['table_name'])} DROP CONSTRAINT {q(obj['name'])}"


def _said(e: sa.exc.DBAPIError) -> str:
    """What the database said: the first line of its message (not SQLAlchemy's SQL and links)."""
    return (str(e.orig if e.orig is not None else e).splitlines() or [""])[0]


def pending(archive: Archive) -> list[dict]:
    """What ``bulk_load`` records as taken off (by a load running now, or one that died)."""
    with archive.engine.connect() as conn:
        if not sa.inspect(conn).has_table("bulk_load"):
            return []                       # (an archive not yet at migration 0018: nothing was)
        return [dict(r._mapping) for r in conn.execute(sa.select(BL).order_by(BL.c.kind.desc(), BL.c.name))]


def _drop(archive: Archive) -> dict:
    """Take the objects off, each recorded, in one transaction (all or none).  A database that
    refuses (PostgreSQL: a reader holding a table past the lock timeout) is a StoreError saying so,
    with nothing changed."""
    try:
        return _drop_all(archive)
    except sa.exc.DBAPIError as e:
        raise StoreError(f"bulk load: the indexes and keys could not be taken off ({_said(e)}); nothing was "
                         "changed -- ingest without --bulk, or run it as the owner of the archive's tables "
                         "when nothing else is reading them") from None


def _drop_all(archive: Archive) -> dict:
    with writing(archive.engine) as conn:
        if not archive.sqlite:
            # DROP takes its tables' exclusive lock: a reader holding one would stall every
            # other query behind this one -- give up instead, and say why
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        have = {r.name for r in conn.execute(sa.select(BL.c.name))}
        objs = [o for o in droppable(archive, conn) if o["name"] not in have]
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        for o in objs:
            conn.execute(sa.insert(BL).values(**o, dropped_at=now))
            conn.exec_driver_sql(drop_sql(archive, o))
    kinds = [o["kind"] for o in objs]
    return {"indexes": kinds.count("index"), "foreign_keys": kinds.count("foreign_key")}


def _restore(archive: Archive) -> dict:
    """Put back what ``bulk_load`` records: indexes first (a foreign key's check reads the parent's
    primary key, not them, but the tables' own look-ups do), each with its row deleted in one
    transaction.  The caller holds the lock."""
    t0 = time.perf_counter()
    done = {"indexes": 0, "foreign_keys": 0}
    failed: list[str] = []
    for o in pending(archive):
        try:
            with writing(archive.engine) as conn:
                if not archive.sqlite:
                    conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
                else:
                    # a pooled connection parses DDL against the schema it cached, which may predate
                    # the DROP another connection made ("index ... already exists"): a read of the
                    # catalogue inside the transaction makes it load the current one
                    conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
                conn.exec_driver_sql(o["ddl"])
                conn.execute(sa.delete(BL).where(BL.c.name == o["name"]))
        except sa.exc.DBAPIError as e:     # (the others are still put back: then each failure is named)
            failed.append(f"{o['kind'].replace('_', ' ')} {o['name']} on {o['table_name']}: {_said(e)}")
            continue
        done["indexes" if o["kind"] == "index" else "foreign_keys"] += 1
    if failed:
        raise StoreError(f"bulk load: could not put back {'; '.join(failed)} -- still recorded in bulk_load; "
                         "the next ingest or `courtarchive init` tries again")
    done["restore_seconds"] = round(time.perf_counter() - t0, 3)
    return done


@contextlib.contextmanager
def loading(archive: Archive) -> Iterator[dict]:
    """Hold the bulk lock, take the objects off, yield a dict that gets the counts, and put
    everything back when the block ends however it ends (an exception in the block: restored,
    then re-raised).  `BulkLoadBusy` when another process is bulk-loading this archive."""
    lock = _Lock(archive)
    if not lock.acquire():
        raise BulkLoadBusy("another process is bulk-loading this archive (`ingest --bulk`): "
                           "wait for it to end, or ingest without --bulk")
    state: dict = {}
    try:
        if pending(archive):                # a load that died left these: back first
            log.warning("restoring what an interrupted bulk load took off")
            _restore(archive)
        state.update(_drop(archive))
        try:
            yield state
        finally:
            state.update({k: v for k, v in _restore(archive).items() if k == "restore_seconds"})
    finally:
        lock.release()


def restore_interrupted(archive: Archive) -> dict | None:
    """Put back what a bulk load that died took off (its lock is free, its rows are still in
    ``bulk_load``).  None when nothing was missing, or when a bulk load is running now."""
    if not pending(archive):
        return None
    lock = _Lock(archive)
    if not lock.acquire():
        return None                         # (running: it restores when it ends)
    try:
        if not pending(archive):
            return None
        log.warning("restoring the indexes and keys an interrupted bulk load took off")
        return _restore(archive)
    finally:
        lock.release()
