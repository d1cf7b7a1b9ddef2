"""Two ingests into one archive at the same time (a mailbox's intake and an operator's folder, two
operators): every list is stored once, none is rejected, and the archive ends as one ingest of
the same lists leaves it -- on SQLite, whose writers queue on the database's write lock, and on
PostgreSQL, whose writers queue on an advisory lock (`store.engine.WRITER_LOCK_SQL`).  Before that
lock, PostgreSQL ingests at once deadlocked on the case rows both updated and broke the content
hash's unique key on a list both were storing: valid lists were rejected and quarantined.
The two ingests at once are in the slow suite (a 3,000-case corpus, ~1 min); the lock's own tests,
which fail without it whatever the timing, are in the default run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from courtarchive.store import Archive
from courtarchive.store.engine import QUEUES, queued_write, writer_options

from conftest import PG, pg_schema_url


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    """A generated corpus's lists dealt alternately into two folders (a case's hearings fall in
    both), and the stats of one ingest of them all."""
    from courtarchive.generate.driver import generate

    root = tmp_path_factory.mktemp("concurrent")
    # (the corpus on which two PostgreSQL ingests at once rejected valid lists in every run before the
    # lock -- bench/ingest_concurrent.py; at 800 cases they overlapped too little to)
    generate(root / "corpus", cases=3000, seed=3, workers=0)
    folders = [root / "a", root / "b"]
    n_lists = deal_alternately(root / "corpus" / "lists", folders)
    env = _env(root / "reference", f"sqlite:///{root / 'reference.db'}")
    assert _cli(["init"], env).returncode == 0
    r = _cli(["ingest", *map(str, folders), "--json"], env)
    assert r.returncode == 0, r.stderr[-2000:]
    return folders, n_lists, _stats(env)


def deal_alternately(lists: Path, folders: list[Path]) -> int:
    """Copy the CaTH lists under ``lists`` (with their sidecars) into ``folders`` in turn, in name
    order: a case's hearings fall in every folder.  How many lists."""
    files = sorted(p for p in lists.rglob("*.json") if not p.name.endswith(".meta.json"))
    for i, f in enumerate(files):
        dest = folders[i % len(folders)]
        dest.mkdir(parents=True, exist_ok=True)
        for g in (f, f.with_name(f.stem + ".meta.json")):
            if g.exists():
                shutil.copy(g, dest / g.name)
    return len(files)


def _env(home: Path, db: str) -> dict:
    return dict(os.environ, COURTARCHIVE_HOME=str(home), COURTARCHIVE_DB=db)


def _cli(args, env):
    return subprocess.run([sys.executable, "-m", "courtarchive.serve.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def _stats(env) -> dict:
    r = _cli(["stats", "--json"], env)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def ingests_at_once(env, *arg_lists) -> list[tuple[int, str, dict]]:
    """Start `courtarchive ingest ARGS --json` for each of ``arg_lists`` at once; each one's exit
    code, stderr and report."""
    procs = [subprocess.Popen([sys.executable, "-m", "courtarchive.serve.cli", "ingest", *args, "--json"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in arg_lists]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        out.append((p.returncode, stderr, json.loads(stdout or "{}")))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("what", ["halves", "the same lists"])
def test_two_ingests_at_once_store_every_list_once(halves, db_url, tmp_path, what):
    folders, n_lists, reference = halves
    env = _env(tmp_path / "home", db_url)
    assert _cli(["init"], env).returncode == 0
    both = list(map(str, folders))
    done = ingests_at_once(env, *([[both[0]], [both[1]]] if what == "halves" else [both, both]))
    assert [code for code, _, _ in done] == [0, 0], [err[-3000:] for _, err, _ in done]
    runs = [report for _, _, report in done]
    assert all(not r["rejected"] for r in runs), [r["rejected"][:2] for r in runs]
    assert sum(r["accepted"] for r in runs) == n_lists           # each list stored by one of them
    if what == "the same lists":
        assert all(r["files"] == n_lists for r in runs)
        assert sum(r["duplicates"] for r in runs) == n_lists      # ... and found archived by the other
    stats = _stats(env)
    assert stats["quarantined"] == 0
    assert stats == reference
    a = Archive.open(db_url)
    try:
        with a.engine.connect() as c:
            dup_keys = c.exec_driver_sql('SELECT count(*) - count(DISTINCT case_key) FROM "case"').scalar_one()
        assert dup_keys == 0
    finally:
        a.close()


def on_another_archive(url: str, fn, *, wait: threading.Barrier | None = None) -> tuple[threading.Thread, dict]:
    """Start a thread that runs ``fn(archive)`` on an `Archive` of its own opened on ``url`` (after
    ``wait``, when given); the dict it returns gets ``result``, or ``error`` (its repr)."""
    out: dict = {}

    def run():
        other = Archive.open(url)
        try:
            if wait is not None:
                wait.wait(10)
            out["result"] = fn(other)
        except Exception as e:           # noqa: BLE001 - reported to the caller
            out["error"] = repr(e)
        finally:
            other.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def _begin_writer_in_thread(engine, queue: str = "ingest") -> tuple[threading.Thread, threading.Event, threading.Event]:
    """A thread that begins a writer's transaction in ``queue`` on ``engine`` (by default an ingest
    writer's, as `Archive.writer`'s), sets ``entered`` once it is in, and commits when ``done`` is
    set."""
    entered, done = threading.Event(), threading.Event()

    def run():
        with queued_write(engine, queue) as conn:
            conn.exec_driver_sql("SELECT 1")
            entered.set()
            done.wait(30)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, entered, done


@pytest.mark.parametrize("queue", sorted(QUEUES))
def test_a_writer_waits_for_its_queue_and_readers_and_other_queues_do_not(archive, queue):
    """The mechanism under the test above, without timing luck: a second writer's transaction in
    a queue begins only when the first one's ends; meanwhile a reader begins and reads and, on
    PostgreSQL, an audit event is appended (every page and API answer appends one) and a writer of
    each other queue begins (SQLite has one writer at a time, of any kind)."""
    first = archive.engine.connect().execution_options(**writer_options(queue))
    txn = first.begin()
    first.exec_driver_sql("SELECT 1")
    same, same_in, same_done = _begin_writer_in_thread(archive.engine, queue)
    threads = [(same, same_done)]
    try:
        assert not same_in.wait(0.5), "a second writer of the same queue began while the first was writing"
        with archive.engine.connect() as reader:
            assert reader.execute(sa.text('SELECT count(*) FROM "case"')).scalar_one() == 0
        if not archive.sqlite:
            from courtarchive.store.governance import append_audit

            assert append_audit(archive, actor="desk", role="admin", action="search") >= 1
            for other in sorted(QUEUES - {queue}):
                t, entered, done = _begin_writer_in_thread(archive.engine, other)
                threads.append((t, done))
                assert entered.wait(10), f"a writer of queue {other} waited for one of {queue}"
        txn.commit()
        assert same_in.wait(10), "the second writer did not begin when the first committed"
    finally:
        for t, done in threads:
            done.set()
            t.join(20)
        first.close()


def test_two_transactions_taking_a_tables_first_ids_at_once_get_two_blocks(archive):
    """A table's first ids (its `id_sequence` row made then): two processes doing so at once (two
    link runs' persons, two accounts added) -- the second failed on the row's primary key
    (PostgreSQL: UniqueViolation once the first committed); now it takes the block after the
    first's."""
    name = "person"
    with archive.engine.connect() as c:
        assert c.exec_driver_sql(f"SELECT count(*) FROM id_sequence WHERE name = '{name}'").scalar_one() == 0
    first = archive.engine.connect().execution_options(writer=True)
    txn = first.begin()
    a = archive._take_ids(first, name, 5)

    def second(b_archive):
        with b_archive.engine.connect().execution_options(writer=True) as conn, conn.begin():
            return b_archive._take_ids(conn, name, 5)

    t, got = on_another_archive(archive.url, second)
    time.sleep(0.5)
    txn.commit()
    first.close()
    t.join(30)
    assert "error" not in got, got
    assert a == 1 and got["result"] > a + 4         # the block after the first's (one of ID_BLOCK ids)


@pytest.mark.skipif(not PG, reason="COURTARCHIVE_TEST_PG is not set: PostgreSQL store tests skipped")
def test_writers_of_two_archives_in_one_database_do_not_queue_on_each_other():
    """PostgreSQL's writer lock is the archive's (its schema's), not the database's."""
    schemas = ["t_" + uuid.uuid4().hex[:12] for _ in range(2)]
    admin = sa.create_engine(PG)
    with admin.begin() as c:
        for s in schemas:
            c.exec_driver_sql(f"CREATE SCHEMA {s}")
    from courtarchive.store.engine import make_engine

    engines = [make_engine(pg_schema_url(PG, s)) for s in schemas]
    first = engines[0].connect().execution_options(**writer_options("ingest"))
    txn = first.begin()
    first.exec_driver_sql("SELECT 1")
    t, entered, done = _begin_writer_in_thread(engines[1])
    try:
        assert entered.wait(10), "a writer of another archive waited for this one's"
        t2, entered2, done2 = _begin_writer_in_thread(engines[0])
        assert not entered2.wait(0.5), "a second writer of the same archive did not wait"
        txn.commit()
        assert entered2.wait(10)
        done2.set()
        t2.join(10)
    finally:
        done.set()
        t.join(10)
        first.close()
        for e in engines:
            e.dispose()
        with admin.begin() as c:
            for s in schemas:
                c.exec_driver_sql(f"DROP SCHEMA {s} CASCADE")
        admin.dispose()
