"""An archive's first search-index build writes search_name without its non-unique indexes (and on
PostgreSQL its foreign keys) and puts each back once at the end (`store.search.first_build`): the
same index as a build with them on, the indexes and keys back afterwards, a build that fails
leaves them on, and on PostgreSQL a build that cannot take the locks in time goes on with them on."""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa

from courtarchive.ingest import pipeline
from courtarchive.serve import search
from courtarchive.store import search as ss
from courtarchive.store.migrate import check


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from courtarchive.generate.driver import generate

    out = tmp_path_factory.mktemp("first_build_corpus")
    generate(out, cases=120, seed=5, years=0.5, workers=0)
    return out / "lists"


@pytest.fixture
def loaded(archive, corpus, keyring, monkeypatch):
    """The corpus ingested, the index not built (the Python API runs no after-ingest step); any
    number of parties counts as a first load."""
    pipeline.ingest(archive, [corpus], keyring=keyring, workers=0)
    monkeypatch.setattr(ss, "FIRST_BUILD_PARTIES", 1)
    return archive


@pytest.fixture
def keys_off(monkeypatch):
    """How many indexes and foreign keys each first-build block had off."""
    seen: list[int] = []
    real = ss.first_build

    @contextlib.contextmanager
    def spy(archive, conn):
        with real(archive, conn) as n:
            seen.append(n)
            yield n

    monkeypatch.setattr(ss, "first_build", spy)
    return seen


def _index(a) -> tuple[list, list]:
    cols = ", ".join(c for c in ss.INSERT_COLUMNS if c != "id")
    with a.engine.connect() as c:
        names = [tuple(r) for r in c.exec_driver_sql(f"SELECT {cols} FROM search_name ORDER BY party_id")]
        keys = [tuple(r) for r in c.exec_driver_sql("SELECT name_norm, name_keys FROM search_key ORDER BY name_norm")]
    return names, keys


def _search_name_objects(a) -> set[tuple]:
    """search_name's foreign keys and indexes, as the database has them."""
    with a.engine.connect() as c:
        i = sa.inspect(c)
        return ({("fk", f["name"]) for f in i.get_foreign_keys("search_name")}
                | {("index", x["name"], tuple(x["column_names"]), bool(x["unique"])) for x in i.get_indexes("search_name")})


def test_first_build_gives_the_index_a_checked_build_gives(loaded, keys_off):
    a = loaded
    before = _search_name_objects(a)
    indexes = sum(1 for k in before if k[0] == "index" and not k[3])
    got = search.refresh(a)
    assert got["added"] > 100
    assert indexes == 6 and keys_off == [indexes + (0 if a.sqlite else 5)]
    first = _index(a)
    assert _search_name_objects(a) == before and check(a.engine) == []
    # a rebuild (keys on throughout) makes the same rows
    search.rebuild(a)
    assert _index(a) == first
    # and a refresh of an index holding rows keeps its keys on
    search.refresh(a)
    assert keys_off == [keys_off[0], 0]


def test_a_first_build_that_fails_leaves_the_indexes_and_keys_on(loaded, keys_off, monkeypatch):
    a = loaded
    before = _search_name_objects(a)

    def fail(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ss, "sync_persons", fail)       # (after the block: its objects are back by then)
    with pytest.raises(RuntimeError):
        search.refresh(a)
    monkeypatch.setattr(ss, "insert_rows", fail)        # (inside the block: they are off)
    with pytest.raises(RuntimeError):
        search.refresh(a)
    assert len(keys_off) == 2 and all(keys_off)
    assert _search_name_objects(a) == before and check(a.engine) == []
    with a.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM search_name").scalar() == 0


def test_a_first_build_that_cannot_take_the_locks_in_time_builds_with_the_keys_on(loaded, keys_off, monkeypatch):
    a = loaded
    if a.sqlite:
        pytest.skip("PostgreSQL only: a SQLite writer's transaction already holds the database")
    monkeypatch.setattr(ss, "FIRST_BUILD_LOCK_TIMEOUT", "200ms")
    reader = a.engine.connect()
    try:
        reader.exec_driver_sql("SELECT count(*) FROM search_name").scalar()    # (its transaction holds the table)
        got = search.refresh(a)
    finally:
        reader.rollback()
        reader.close()
    assert keys_off == [0] and got["added"] > 100
    assert check(a.engine) == []
