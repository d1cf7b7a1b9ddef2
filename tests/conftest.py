"""Shared fixtures. The store suite runs on SQLite and, when COURTARCHIVE_TEST_PG is set, on
PostgreSQL (each test in a schema of its own, dropped afterwards)."""

from __future__ import annotations

import gc
import os
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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive.db'}"
        return
    if not PG:
        pytest.skip("COURTARCHIVE_TEST_PG is not set: PostgreSQL store tests skipped")
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
def sqlite_archive(tmp_path):
    """An initialised archive in a SQLite file only (for what concerns the embedded backend alone)."""
    from courtarchive.store import Archive

    a = Archive.open(f"sqlite:///{tmp_path / 'sqlite-archive.db'}")
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
