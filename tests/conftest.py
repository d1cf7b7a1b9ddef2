"""Shared fixtures. The store suite runs on SQLite and, when COURTARCHIVE_TEST_PG is set, on
PostgreSQL (each test in a schema of its own, dropped afterwards)."""

from __future__ import annotations

import gc
import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CATH = SHARED / "cath"
PG = os.environ.get("COURTARCHIVE_TEST_PG")


def pg_schema_url(base: str, schema: str) -> str:
    u = sa.make_url(base)
    return u.set(query={**u.query, "options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


# ---------------------------------------------------------------- initialised archives, fast
# `Archive.init` runs every Alembic migration: ~0.2 s on SQLite, ~0.45 s on PostgreSQL, for each
# of the ~1,100 tests that start from an initialised archive -- a third of the suite's time.  So
# each test process initialises one archive per backend with `Archive.init` (the template) and a
# test that asks for `archive` gets a copy of it: the SQLite file copied, on PostgreSQL a database
# made from the template (CREATE DATABASE ... TEMPLATE, ~30 ms).  The fixture then runs `init`
# on the copy as before (idempotent: it finds the schema at head and the courts loaded).  Tests
# that take `db_url` alone still get an empty archive -- on PostgreSQL a schema of its own, named
# by search_path, so both ways of pointing courtarchive at PostgreSQL stay under test.  Where the
# server refuses CREATE DATABASE (a role without CREATEDB), PostgreSQL tests fall back to a schema
# and a full `init` each.


class _Templates:
    """One test process's initialised archives (made on first use, dropped when it ends)."""

    def __init__(self, root: Path):
        self.root = root
        self.sqlite_file: Path | None = None
        self.pg_db: str | None = None
        self.pg_refused = False
        self._admin = None

    @staticmethod
    def _initialise(url: str) -> None:
        from courtarchive.store import Archive

        a = Archive.open(url)
        a.init()
        a.close()     # no connection left: SQLite folds the WAL into the file; PostgreSQL copies only an unused template

    def sqlite(self) -> Path:
        if self.sqlite_file is None:
            f = self.root / "template.db"
            self._initialise(f"sqlite:///{f}")
            self.sqlite_file = f
        return self.sqlite_file

    def admin(self):
        if self._admin is None:
            from sqlalchemy.pool import NullPool

            self._admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        return self._admin

    def pg_url(self, database: str) -> str:
        return sa.make_url(PG).set(database=database).render_as_string(hide_password=False)

    def pg(self) -> str | None:
        """The template database's name; None where this server does not let us make databases."""
        if self.pg_db is None and not self.pg_refused:
            name = f"ca_tmpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            try:
                with self.admin().connect() as c:
                    c.exec_driver_sql(f"CREATE DATABASE {name}")
            except sa.exc.DBAPIError:
                self.pg_refused = True
                return None
            self._initialise(self.pg_url(name))
            self.pg_db = name
        return self.pg_db

    def drop(self, database: str) -> None:
        with self.admin().connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")

    def close(self) -> None:
        if self.pg_db:
            self.drop(self.pg_db)
        if self._admin is not None:
            self._admin.dispose()


@pytest.fixture(scope="session")
def _templates(tmp_path_factory):
    t = _Templates(tmp_path_factory.mktemp("templates"))
    yield t
    t.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, _templates):
    """An archive's URL on each backend: empty, or -- when the test takes `archive` too, directly
    or through another fixture -- a copy of an initialised one (see `_Templates`)."""
    initialised = "archive" in request.fixturenames
    if request.param == "sqlite":
        f = tmp_path / "archive.db"
        if initialised:
            shutil.copyfile(_templates.sqlite(), f)
        yield f"sqlite:///{f}"
        return
    if not PG:
        pytest.skip("COURTARCHIVE_TEST_PG is not set: PostgreSQL store tests skipped")
    template = _templates.pg() if initialised else None
    if template is not None:
        name = "ca_t_" + uuid.uuid4().hex[:12]
        with _templates.admin().connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
        try:
            yield _templates.pg_url(name)
        finally:
            _templates.drop(name)
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(PG)
    with eng.begin() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield pg_schema_url(PG, schema)
    finally:
        with eng.begin() as c:
            c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        eng.dispose()


@pytest.fixture
def archive(db_url):
    from courtarchive.store import Archive

    a = Archive.open(db_url)
    a.init()
    yield a
    a.close()


@pytest.fixture
def sqlite_archive(tmp_path, _templates):
    """An initialised archive in a SQLite file only (for what concerns the embedded backend alone)."""
    from courtarchive.store import Archive

    f = tmp_path / "sqlite-archive.db"
    shutil.copyfile(_templates.sqlite(), f)
    a = Archive.open(f"sqlite:///{f}")
    a.init()
    yield a
    a.close()


@pytest.fixture
def keyring(tmp_path):
    from courtarchive.governance.pseudonym import Keyring

    return Keyring(bytes(range(32)))


@pytest.fixture
def shared_cath():
    if not CATH.exists():
        pytest.skip(f"{CATH} not found: the shared CaTH schemas/examples sit beside the checkout in CI")
    return CATH


@pytest.fixture(scope="module")
def standard_list(tmp_path_factory):
    """A generated magistrates' standard list (CaTH JSON) and its sidecar (the generator writes one)."""
    from courtarchive.generate.driver import generate

    out = tmp_path_factory.mktemp("standard_list")
    generate(out, cases=15, seed=4, years=0.2, workers=0)
    f = next(p for p in sorted((out / "lists").rglob("*_MAGISTRATES_STANDARD_LIST.json")))
    return f, f.with_name(f.stem + ".meta.json")


def pytest_sessionfinish(session):
    """Collect a test process's garbage once more and freeze what survives, before pytest-xdist
    reports the worker finished.  After that report execnet gives the worker 5 s to end and then
    interrupts it (``KeyboardInterrupt`` in whatever runs: a PytestUnraisableExceptionWarning at
    the end of the run); pytest's last full collection, at unconfigure, traversed the worker's
    million-odd live objects (1-2 s at a quarter of the suite, more at the whole on a slow box)
    inside those 5 s.  Frozen objects are not traversed again."""
    gc.collect()
    gc.freeze()


# ------------------------------------------------------------ reads that turn into writes (SQLite)
# A SQLite transaction begun as a reader (DEFERRED) whose first statement reads and a later one
# writes fails "database is locked", at once, whenever another writer commits in between -- an
# ingest commits every second (session 28: review decisions, account saves, holds... failed so).
# The store begins every write transaction as a writer (`store.engine.writing`); this guard fails
# any test in which courtarchive's own code opens such a transaction, naming the call site.
# (The test's own SQL is not held to it.)
_READ_THEN_WRITE: list[str] = []
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
_READS = ("SELECT", "WITH", "PRAGMA")


@sa.event.listens_for(sa.engine.Engine, "begin")
def _rw_begin(conn):
    if conn.engine.dialect.name == "sqlite":
        conn.info["rw_first"] = "writer" if conn.get_execution_options().get("writer") else None


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _rw_statement(conn, cursor, statement, parameters, context, executemany):
    first = conn.info.get("rw_first", "writer")
    if first in ("writer", "w", "flagged"):
        return
    word = statement.lstrip()[:8].split(None, 1)[0].upper() if statement.strip() else ""
    if first is None:
        conn.info["rw_first"] = "r" if word in _READS else "w" if word in _WRITES else None
    elif word in _WRITES:
        import traceback

        ours = [f for f in traceback.extract_stack()
                if f"{os.sep}courtarchive{os.sep}" in f.filename and f"{os.sep}tests{os.sep}" not in f.filename
                and f"{os.sep}migrations{os.sep}" not in f.filename]
        conn.info["rw_first"] = "flagged"
        if ours:
            _READ_THEN_WRITE.append(" <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(ours[-4:])))


def _rw_end(conn):
    if not conn.invalidated:        # (an invalidated connection's ``info`` would try to reconnect)
        conn.info.pop("rw_first", None)


for _name in ("commit", "rollback"):
    sa.event.listen(sa.engine.Engine, _name, _rw_end)


@pytest.fixture(autouse=True)
def _no_read_then_write():
    _READ_THEN_WRITE.clear()
    yield
    found, _READ_THEN_WRITE[:] = list(_READ_THEN_WRITE), []
    assert not found, ("a SQLite transaction begun as a reader read, then wrote (begin it with "
                       f"store.engine.writing): {found[0]}")
