"""`ingest --bulk` (store.bulk): the bulk tables' secondary indexes (PostgreSQL: and foreign keys)
are taken off while writing and put back at the end -- the same rows as an ingest without it, the
same schema after it, and a bulk load killed midway leaves a record the next ingest or `init` puts
back.  Both backends."""

from __future__ import annotations

import json
import os
import time

import pytest
import sqlalchemy as sa

from courtarchive.store import Archive, StoreError
from courtarchive.store import bulk
from courtarchive.store.migrate import check

from test_ingest import _cli, _template, kill_once_writing, write_lists

#: the tables an ingest fills, compared row by row (``publication`` has the ingest time in it)
ROWS_OF = ("case", "hearing", "party", "offence", "complainant")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A generated corpus: every criminal list type, complainants in offence wordings."""
    from courtarchive.generate.driver import generate

    out = tmp_path_factory.mktemp("bulk_corpus")
    generate(out, cases=150, seed=3, years=0.5, workers=0)
    return out / "lists"


def _rows(a: Archive) -> dict[str, list[tuple]]:
    with a.engine.connect() as c:
        return {t: [tuple(r) for r in c.exec_driver_sql(f'SELECT * FROM "{t}" ORDER BY id')] for t in ROWS_OF}


def _schema(a: Archive) -> tuple[set, set]:
    """(index names, foreign key names) of the archive's bulk tables, as the database has them."""
    with a.engine.connect() as c:
        insp = sa.inspect(c)
        idx, fks = set(), set()
        for t in bulk.BULK_TABLES:
            if not a.sqlite:   # (SQLite's reflection skips an index on an expression: its catalogue below)
                idx |= {i["name"] for i in insp.get_indexes(t)}
            fks |= {(t, f["name"], f["referred_table"]) for f in insp.get_foreign_keys(t)}
        if a.sqlite:
            idx = {r[0] for r in c.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    return idx, fks


def _fresh(url: str) -> Archive:
    a = Archive.open(url)
    a.init()
    return a


def _second_url(db_url: str, tmp_path) -> tuple[str, object]:
    """Another empty archive on the same backend (and how to drop it)."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other.db'}", None
    from conftest import PG, pg_schema_url
    import uuid

    schema = "t_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(PG)
    with eng.begin() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    return pg_schema_url(PG, schema), (eng, schema)


def _drop_second(cleanup) -> None:
    if cleanup:
        eng, schema = cleanup
        with eng.begin() as c:
            c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        eng.dispose()


def test_bulk_ingest_same_rows_same_schema(archive, db_url, tmp_path, corpus, keyring):
    from courtarchive.ingest.pipeline import ingest

    url2, cleanup = _second_url(db_url, tmp_path)
    try:
        plain = _fresh(url2)
        want_schema = _schema(plain)
        r1 = ingest(plain, [corpus], keyring=keyring, workers=1)
        rep = ingest(archive, [corpus], keyring=keyring, workers=1, bulk=True)
        assert r1.bulk is None and r1.accepted > 20 and r1.complainants > 0
        # what was taken off and put back: every secondary index of the bulk tables; PostgreSQL's
        # foreign keys of them (SQLite checks its keys as it inserts, and keeps them)
        assert rep.bulk["indexes"] >= 15
        assert rep.bulk["foreign_keys"] == (0 if archive.sqlite else len(want_schema[1]))
        assert rep.as_dict()["bulk"] == rep.bulk
        assert {k: v for k, v in rep.as_dict().items() if k != "bulk"} == r1.as_dict()
        assert _rows(archive) == _rows(plain)
        assert archive.stats() == plain.stats()
        # the schema is the model's again, index for index and key for key; nothing left recorded
        assert _schema(archive) == want_schema
        assert check(archive.engine) == []
        assert bulk.pending(archive) == []
        # and the archive's look-ups use them (the search index refresh, a case by number)
        assert ingest(archive, [corpus], keyring=keyring, workers=1, bulk=True).duplicates == r1.accepted
        plain.close()
    finally:
        _drop_second(cleanup)


def test_objects_taken_off_while_loading_and_recorded(archive, keyring):
    before = _schema(archive)
    with bulk.loading(archive) as state:
        during = _schema(archive)
        recorded = bulk.pending(archive)
        assert {o["name"] for o in recorded if o["kind"] == "index"} == before[0] - during[0]
        assert len(before[0] - during[0]) == state["indexes"] >= 15
        if archive.sqlite:
            assert during[1] == before[1] and state["foreign_keys"] == 0
        else:
            assert not during[1] and state["foreign_keys"] == len(before[1]) > 10
        # unique constraints and primary keys stay: the writer's look-ups and idempotency rest on them
        with archive.engine.connect() as c:
            uniques = {u["name"] for u in sa.inspect(c).get_unique_constraints("case")}
        assert "uq_case_case_key" in uniques
        # while it runs, nobody else restores (its lock is held) or bulk-loads
        assert bulk.restore_interrupted(archive) is None
        with pytest.raises(bulk.BulkLoadBusy, match="another process is bulk-loading"):
            with bulk.loading(Archive.open(archive.url)):
                pass
    assert _schema(archive) == before and bulk.pending(archive) == []
    assert state["restore_seconds"] >= 0


def test_exception_inside_a_bulk_load_still_restores(archive):
    before = _schema(archive)
    with pytest.raises(RuntimeError, match="boom"):
        with bulk.loading(archive):
            raise RuntimeError("boom")
    assert _schema(archive) == before and bulk.pending(archive) == []


def test_a_dead_bulk_loads_record_is_restored_by_init_and_by_ingest(archive, keyring, tmp_path, corpus):
    from courtarchive.ingest.pipeline import ingest

    before = _schema(archive)
    bulk._drop(archive)                  # as a load that died after taking them off (its lock is free)
    assert bulk.pending(archive) and _schema(archive) != before
    archive.init()
    assert _schema(archive) == before and bulk.pending(archive) == []

    dropped = bulk._drop(archive)
    rep = ingest(archive, [corpus], keyring=keyring, workers=1)
    assert rep.bulk == {"restored_interrupted": {**dropped, "restore_seconds": rep.bulk["restored_interrupted"]["restore_seconds"]}}
    assert _schema(archive) == before and bulk.pending(archive) == [] and check(archive.engine) == []


def test_a_foreign_key_that_no_longer_holds_is_named_and_stays_recorded(archive):
    if archive.sqlite:
        pytest.skip("SQLite keeps its foreign keys during a bulk load: a row breaking one is refused as it is written")
    with pytest.raises(StoreError, match=r"could not put back foreign key fk_party_hearing_id_hearing on party: .*"
                                         r"still recorded in bulk_load; the next ingest or `courtarchive init` tries again"):
        with bulk.loading(archive):
            with archive.engine.begin() as c:
                c.exec_driver_sql("INSERT INTO party (id, role, hearing_id) VALUES (999999, 'DEFENDANT', 424242)")
    # every other index and key is back: only the one that no longer holds is left recorded
    assert [o["name"] for o in bulk.pending(archive)] == ["fk_party_hearing_id_hearing"]
    with archive.engine.begin() as c:
        c.exec_driver_sql("DELETE FROM party WHERE id = 999999")
    assert bulk.restore_interrupted(archive)["foreign_keys"] == 1
    assert bulk.pending(archive) == [] and check(archive.engine) == []


def _wait_lock_free(a: Archive, deadline: float) -> None:
    """PostgreSQL ends a killed client's session (and its advisory lock) a moment after the kill."""
    lock = bulk._Lock(a)
    while not lock.acquire():
        assert time.time() < deadline, "the killed bulk load's lock was never freed"
        time.sleep(0.05)
    lock.release()


def test_kill_during_bulk_ingest_then_rerun(tmp_path, db_url, shared_cath):
    """kill -9 in the middle of `ingest --bulk`; the next ingest puts the schema back and loses and
    duplicates nothing."""
    files = write_lists(tmp_path / "in", _template(shared_cath), 600)
    env = dict(os.environ, COURTARCHIVE_HOME=str(tmp_path / "home"), COURTARCHIVE_DB=db_url)
    assert _cli(["init"], env).returncode == 0
    a = Archive.open(db_url)
    want = _schema(a)
    n = kill_once_writing(["ingest", "--bulk", str(tmp_path / "in"), "--workers", "1"], env, a)
    assert 1 <= n < len(files), f"the kill should land mid-ingest (saw {n} publications)"
    assert bulk.pending(a), "the killed load's record of what it took off"
    assert _schema(a) != want
    _wait_lock_free(a, time.time() + 30)
    r = _cli(["ingest", str(tmp_path / "in"), "--json"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["accepted"] + rep["duplicates"] == len(files)
    assert rep["bulk"]["restored_interrupted"]["indexes"] >= 15
    assert _schema(a) == want and bulk.pending(a) == [] and check(a.engine) == []
    clean = tmp_path / "clean.db"
    env2 = dict(env, COURTARCHIVE_DB=f"sqlite:///{clean}")
    assert _cli(["init"], env2).returncode == 0
    assert _cli(["ingest", str(tmp_path / "in")], env2).returncode == 0
    assert a.stats() == Archive.open(f"sqlite:///{clean}").stats()
    a.close()


def test_cli_bulk_says_what_it_did_and_refuses_a_second(tmp_path, db_url, shared_cath):
    write_lists(tmp_path / "in", _template(shared_cath), 3)
    env = dict(os.environ, COURTARCHIVE_HOME=str(tmp_path / "home"), COURTARCHIVE_DB=db_url)
    assert _cli(["init"], env).returncode == 0
    r = _cli(["ingest", "--bulk", str(tmp_path / "in")], env)
    assert r.returncode == 0, r.stderr
    said = r.stdout + r.stderr       # (the report goes where the progress bar does)
    assert "3 accepted" in said and "bulk load: 22 indexes and " in said and "put back in" in said
    a = Archive.open(db_url)
    lock = bulk._Lock(a)
    assert lock.acquire()
    try:
        r = _cli(["ingest", "--bulk", "--json", str(tmp_path / "in")], env)
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr.strip() == ("error: another process is bulk-loading this archive (`ingest --bulk`): "
                                    "wait for it to end, or ingest without --bulk")
        # without --bulk an ingest goes on beside it (and leaves the load's record alone)
        r = _cli(["ingest", "--json", str(tmp_path / "in")], env)
        assert r.returncode == 0 and json.loads(r.stdout)["duplicates"] == 3 and "bulk" not in json.loads(r.stdout)
    finally:
        lock.release()
        a.close()



def test_a_reader_holding_a_table_is_waited_for_then_refused_with_nothing_changed(archive, monkeypatch):
    """PostgreSQL: dropping takes the tables' exclusive locks; a reader holding one past the lock
    timeout makes the load give up -- one error saying so and what to do, the schema as it was,
    nothing recorded, the lock free for the next."""
    if archive.sqlite:
        pytest.skip("SQLite's readers never block a writer in WAL mode")
    monkeypatch.setattr(bulk, "LOCK_TIMEOUT", "300ms")
    before = _schema(archive)
    reader = archive.engine.connect()
    reader.begin()
    reader.exec_driver_sql("SELECT count(*) FROM party").scalar()      # (holds its ACCESS SHARE lock)
    try:
        with pytest.raises(StoreError, match=r"^bulk load: the indexes and keys could not be taken off \(canceling "
                                             r"statement due to lock timeout\); nothing was changed -- ingest without "
                                             r"--bulk, or run it as the owner of the archive's tables when nothing else "
                                             r"is reading them$"):
            with bulk.loading(archive):
                pytest.fail("the load should not start")
    finally:
        reader.rollback()
        reader.close()
    assert _schema(archive) == before and bulk.pending(archive) == []
    with bulk.loading(archive) as state:           # the reader gone, the next load goes ahead
        assert state["indexes"] >= 15


def test_init_while_a_bulk_load_runs_is_refused(archive, tmp_path):
    """`init` beside a running bulk load: no restore under its feet, and no migration over a schema
    with its indexes off -- refused, saying why; after the load, init goes ahead."""
    with bulk.loading(archive):
        other = Archive.open(archive.url)
        with pytest.raises(StoreError, match=r"a bulk load \(`ingest --bulk`\) is running on this archive .*run init when it has ended"):
            other.init()
        other.close()
        r = _cli(["init"], dict(os.environ, COURTARCHIVE_HOME=str(tmp_path / "home"), COURTARCHIVE_DB=archive.url))
        assert r.returncode == 1 and r.stderr == ("error: a bulk load (`ingest --bulk`) is running on this archive with "
                                                  "its indexes taken off: run init when it has ended\n")
        assert bulk.pending(archive)
    archive.init()
    assert bulk.pending(archive) == []


def test_stats_warns_while_the_indexes_are_off(archive, tmp_path):
    """An operator looking at the archive is told when a bulk load has its indexes off (a load
    running, or one that died: `init` puts them back) -- on stderr, the counts as ever on stdout."""
    env = dict(os.environ, COURTARCHIVE_HOME=str(tmp_path / "home"), COURTARCHIVE_DB=archive.url)
    r = _cli(["stats", "--json"], env)
    assert r.returncode == 0 and r.stderr == "" and json.loads(r.stdout)["publications"] == 0
    dropped = bulk._drop(archive)                  # (as a load that died)
    r = _cli(["stats", "--json"], env)
    assert r.returncode == 0 and json.loads(r.stdout)["publications"] == 0
    assert r.stderr == (f"warning: {dropped['indexes']} indexes and {dropped['foreign_keys']} foreign keys are off: "
                        "a bulk load (`ingest --bulk`) is running, or was interrupted -- then `courtarchive init` "
                        "puts them back\n")
    assert _cli(["init"], env).returncode == 0
    assert _cli(["stats"], env).stderr == ""
