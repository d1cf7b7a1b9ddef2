"""Expiry runs (and a rectification) beside other writers: an ingest committing between an expiry batch's read and its
write (SQLite: the batch's read transaction then failed "database is locked" -- a snapshot older
than the database cannot become a writer), and two expiry runs at once (PostgreSQL: each rewrote,
and counted, the other's rows; their restriction syncs added the same restriction twice, one
failing on its unique key; SQLite: one or both failed "database is locked").  The batches and the
restriction syncs are writers from their start now and queue on PostgreSQL
(`store.engine.QUEUES`: governance, restrictions)."""

from __future__ import annotations

import datetime as dt
import threading
import time

from courtarchive.governance import retention, rights
from courtarchive.governance.pseudonym import Keyring
from courtarchive.store.engine import writer_options

from test_governance_support import person, plant, rows
from test_ingest_concurrent import on_another_archive

KR = Keyring(bytes(range(32)))
AS_OF = dt.date(2025, 6, 1)
OLD = dt.date(2024, 3, 4)           # past the licence term at AS_OF


def _plant_due(archive, n: int) -> None:
    for i in range(n):
        plant(archive, date=OLD + dt.timedelta(days=i), detail="Section 45 YJCEA 1999 applies",
              people=[person(forenames="Wilhelmina", surname=f"OVERTON{i}", dob=dt.date(1980, 1, 1 + i))])


def test_an_expiry_batch_whose_rows_an_ingest_changed_meanwhile_waits_and_goes_on(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    _plant_due(archive, 3)
    writer = archive.engine.connect().execution_options(**writer_options("ingest"))
    txn = writer.begin()
    writer.exec_driver_sql("UPDATE id_sequence SET next_id = next_id + 1 WHERE name = 'publication'")
    t, out = on_another_archive(archive.url, lambda a: retention.expire(a, keyring=KR, as_of=AS_OF, actor="ops"))
    time.sleep(0.7)                        # the run is under way (SQLite: its reads before this commit)
    txn.commit()
    writer.close()
    t.join(120)
    assert "error" not in out, out
    assert out["result"]["publications_expired"] == 3 and out["result"]["persons_pseudonymised"] == 3
    assert all(p["pseudonymised"] for p in rows(archive, "party") if p["role"] == "DEFENDANT")


def test_two_expiry_runs_at_once_do_the_work_once_between_them(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    _plant_due(archive, 6)
    start = threading.Barrier(2)
    runs = [on_another_archive(archive.url, wait=start, fn=lambda a: retention.expire(
        a, keyring=KR, as_of=AS_OF, actor="ops", batch_size=1)) for _ in range(2)]
    for t, _ in runs:
        t.join(180)
    assert not [out for _, out in runs if "error" in out], runs
    reports = [out["result"] for _, out in runs]
    assert sum(r["publications_expired"] for r in reports) == 6
    assert sum(r["persons_pseudonymised"] for r in reports) == 6
    assert sum(r["restrictions_synced"] for r in reports) == 6       # each list's flag recorded once
    assert len(rows(archive, "restriction")) == 6


def test_a_rectification_whose_rows_an_ingest_changed_meanwhile_waits_and_goes_on(archive, tmp_path):
    """The same for a rectification (it reads the subject's rows, then rewrites them)."""
    plant(archive, date=dt.date(2025, 5, 1), case_name="R v Zebedee QUIXLEY")
    req = rights.open_request(archive, kind="rectification", name="Zebedee Quixley", dob=dt.date(1988, 7, 14),
                              keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="checked against the passport", actor="dpo")
    writer = archive.engine.connect().execution_options(**writer_options("ingest"))
    txn = writer.begin()
    writer.exec_driver_sql("UPDATE id_sequence SET next_id = next_id + 1 WHERE name = 'publication'")
    t, out = on_another_archive(archive.url, lambda a: rights.rectify(
        a, req["party_ids"], field="surname", value="Abernathy", actor="dpo", request_id=req["id"], home=tmp_path))
    time.sleep(0.7)
    txn.commit()
    writer.close()
    t.join(120)
    assert "error" not in out, out
    assert [p["surname"] for p in rows(archive, "party") if p["role"] == "DEFENDANT"] == ["Abernathy"]
