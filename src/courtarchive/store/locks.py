"""Locks a process holds on one archive for the length of a job that must not run twice at once
(a bulk load, a link run), taken without waiting and dropped by the OS or the server when the
process dies, however it dies.

    lock = ArchiveLock(archive, "link")
    if not lock.acquire():
        ... another process is doing it ...
    try: ... finally: lock.release()

SQLite: an ``flock`` on ``<archive file>.<name>-lock`` beside the archive.  PostgreSQL: a session
advisory lock keyed by the schema (each archive has its own) and the name, on a connection kept
out of the pool while it is held.  A database in memory has no other process: the lock is always
free.  (The write queues of `store.engine.QUEUES` are another thing: a transaction's turn to
write, waited for; these say whether a whole job is already running.)
"""

from __future__ import annotations

import fcntl
import os

from .archive import Archive


def lock_file(archive: Archive, suffix: str) -> str | None:
    """SQLite: the lock file ``<archive file><suffix>`` beside the archive file; None for a
    database in memory (no other process sees it)."""
    db = archive.engine.url.database or ""
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return os.path.realpath(db) + suffix


class ArchiveLock:
    """A job's lock on one archive, held from `acquire` until `release` (or the process's death).
    ``name``: the job's (``bulk`` for a bulk load, ``link`` for a link run); ``pg_key``: the
    advisory lock's key text after the schema (default ``name``)."""

    def __init__(self, archive: Archive, name: str, *, pg_key: str | None = None):
        self.archive = archive
        self.suffix = f".{name}-lock"
        self.pg_lock = f"hashtextextended(current_schema() || '.{pg_key or name}', 0)"
        self.fd: int | None = None
        self.conn = None

    def acquire(self) -> bool:
        """Take the lock if it is free; False when another process holds it."""
        a = self.archive
        if a.sqlite:
            path = lock_file(a, self.suffix)
            if path is None:
                return True
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self.fd = fd
            return True
        conn = a.engine.connect()           # (kept out of the pool while held: the lock is its session's)
        try:
            got = bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({self.pg_lock})").scalar())
            conn.commit()
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self.conn = conn
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)               # (the flock goes with the descriptor)
            self.fd = None
        if self.conn is not None:
            try:
                self.conn.exec_driver_sql(f"SELECT pg_advisory_unlock({self.pg_lock})")
                self.conn.commit()
            except Exception:
                self.conn.invalidate()      # (its session ends: the lock with it)
            finally:
                self.conn.close()
                self.conn = None
