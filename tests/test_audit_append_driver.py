"""The audit append on SQLite runs on the driver's connection (store.governance._append_sqlite):
the same rows as SQLAlchemy's path, a gapless chain under concurrent appenders, the data generation
unmoved, and a failure rolls back and releases the write lock."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest

from courtarchive.governance import audit
from courtarchive.store import Archive
from courtarchive.store import governance as sg

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 678901)


@pytest.fixture
def a(sqlite_archive):
    return sqlite_archive


def _raw(arc) -> list[tuple]:
    with sqlite3.connect(arc.engine.url.database) as db:
        return db.execute("SELECT seq, time, actor, role, action, purpose, object, details, prev_hash, hash "
                          "FROM audit_event ORDER BY seq").fetchall()


def test_the_driver_path_writes_what_sqlalchemys_writes(a, tmp_path):
    other = Archive(f"sqlite:///{tmp_path / 'b.db'}")
    other.init()
    ev = dict(actor="ann", role="verified_media", action="case", purpose="journalism", object="case:1,2",
              details={"records": 3, "withheld": {"cca_s4_2": 1}, "when": dt.date(2026, 1, 2)}, time=T0)
    sg.append_audit(a, **ev)
    sg.append_audit(a, **{**ev, "time": T0 + dt.timedelta(seconds=1)})
    for t in (T0, T0 + dt.timedelta(seconds=1)):
        with other.engine.begin() as c:         # SQLAlchemy's path, inside a caller's transaction
            sg.append_audit(other, **{**ev, "time": t}, conn=c)
    assert _raw(a) == _raw(other) and len(_raw(a)) == 2
    assert audit.verify(a).ok
    other.engine.dispose()


def test_concurrent_appenders_make_one_gapless_chain_and_leave_the_generation(a):
    g = sg.data_generation(a)

    def work(n):
        for i in range(40):
            sg.append_audit(a, actor=f"t{n}", role="admin", action="search", details={"i": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0] for r in _raw(a)] == list(range(1, 161))
    res = audit.verify(a)
    assert res.ok and res.events == 160
    assert sg.data_generation(a) == g          # audit rows are kept by no reader


def test_a_failed_append_rolls_back_and_releases_the_lock(a, monkeypatch):
    sg.append_audit(a, actor="ann", role="admin", action="one")
    with monkeypatch.context() as m:
        m.setattr(sg, "audit_hash", lambda prev, ev: (_ for _ in ()).throw(RuntimeError("boom")))
        with pytest.raises(RuntimeError):
            sg.append_audit(a, actor="ann", role="admin", action="two")
    with sqlite3.connect(a.engine.url.database, timeout=1) as db:     # the write lock is free
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
    assert sg.append_audit(a, actor="ann", role="admin", action="three") == 2
    assert [r[4] for r in _raw(a)] == ["one", "three"] and audit.verify(a).ok
