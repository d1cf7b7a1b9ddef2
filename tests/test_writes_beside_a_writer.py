"""Every write succeeds while another process commits writes (an ingest commits a group of lists
every second).  On SQLite a transaction begun DEFERRED that reads before it writes cannot write once
another writer has committed since its read: "database is locked" at once, whatever the busy
timeout.  Session 28 found such transactions across the store (`store.engine.writing` now begins
every write transaction IMMEDIATE): with a second writer committing, 190 of 200 review decisions
and 177 of 200 account saves -- every portal login saves the account -- failed so; also legal
holds, beats, alert subscriptions and their cancelling.  Here another connection commits a write
right after the first statement of every transaction of the archive's (as soon as it can: a
writer begun IMMEDIATE makes it wait), so each operation meets the race every time, not by luck.
On SQLite and, when COURTARCHIVE_TEST_PG is set, PostgreSQL.  Synthetic data only."""

from __future__ import annotations

import threading

import polars as pl
import pytest
from sqlalchemy import event

from courtarchive.governance import holds
from courtarchive.link import synthetic
from courtarchive.serve import digest
from courtarchive.store import Archive, alerts as sa, governance as sg, linkage as sl
from test_link_run import load

N = 3


@pytest.fixture
def busy(archive):
    """The archive, with defendants in it; after the first statement of each of its transactions
    another connection commits a write (waited for up to 0.2 s: a writer holding the lock makes it
    wait until that transaction ends)."""
    load(archive, pl.from_arrow(synthetic.mentions(40, seed=5)).to_dicts(), per=20)
    other = Archive.open(archive.url)
    threads: list[threading.Thread] = []
    done: list[int] = []
    errors: list[BaseException] = []

    def commit_one():
        try:
            other.quarantine(source_name="lists/other.json", reason="another writer's commit")
            done.append(1)
        except BaseException as e:          # (shown by the test)
            errors.append(e)

    def on_begin(conn):
        conn.info["other_writer_due"] = True

    def after_statement(conn, *_):
        if conn.info.pop("other_writer_due", False):
            t = threading.Thread(target=commit_one)
            t.start()
            threads.append(t)
            t.join(0.2)

    event.listen(archive.engine, "begin", on_begin)
    event.listen(archive.engine, "after_cursor_execute", after_statement)
    try:
        yield archive
    finally:
        event.remove(archive.engine, "after_cursor_execute", after_statement)
        event.remove(archive.engine, "begin", on_begin)
        for t in threads:
            t.join(60)
        other.close()
    assert not errors, errors
    assert len(done) == len(threads) > 2 * N


def _defendants(archive) -> list[int]:
    with archive.engine.connect() as c:
        return [r[0] for r in c.exec_driver_sql("SELECT id FROM party WHERE role = 'DEFENDANT' ORDER BY id LIMIT 2")]


def test_review_decisions_and_account_saves(busy):
    a, b = _defendants(busy)
    for i in range(N):
        sl.add_review_decision(busy, a, b, "same" if i % 2 else "different", "desk")
        sg.save_account(busy, {"username": f"reporter{i % 3}", "role": "desk"})     # created, then updated


def test_holds_beats_and_alert_subscriptions(busy):
    sg.save_account(busy, {"username": "desk", "role": "desk"})
    account = sg.get_account(busy, "desk")["id"]
    for i in range(N):
        hid = holds.add(busy, scope="archive", ref=None, reason="inquiry", authority="order 1", actor="admin")
        assert holds.release(busy, hid, actor="admin")
        digest.add_beat(busy, name=f"beat {i}", forces=["Lancashire Constabulary"], actor="admin")
        digest.remove_beat(busy, f"beat {i}", actor="admin", role="admin")
        sub = sa.add_subscription(busy, {"account_id": account, "kind": "search", "query": "theft", "params": None,
                                         "label": f"s{i}", "unsubscribe_token": f"t{i}", "last_run_at": None})
        assert sa.deactivate(busy, token=f"t{i}")["id"] == sub["id"]
