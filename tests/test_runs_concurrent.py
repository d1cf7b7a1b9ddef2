"""Expiry runs beside other writers: an ingest committing between an expiry batch's read and its
write (SQLite: the batch's read transaction then failed "database is locked" -- a snapshot older
than the database cannot become a writer), and two expiry runs at once (PostgreSQL: each rewrote,
and counted, the other's rows; their restriction syncs added the same restriction twice, one
failing on its unique key; SQLite: one or both failed "database is locked").  The batches and the
restriction syncs are writers from their start now and queue on PostgreSQL
(`store.engine.GOVERNANCE_WRITER`, `RESTRICTIONS_WRITER`)."""

from __future__ import annotations

import datetime as dt
import threading
import time

from courtarchive.governance import retention
from courtarchive.governance.pseudonym import Keyring
from courtarchive.store import Archive
from courtarchive.store.engine import INGEST_WRITER

from test_governance_support import person, plant, rows

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
    writer = archive.engine.connect().execution_options(**INGEST_WRITER)
    txn = writer.begin()
    writer.exec_driver_sql("UPDATE id_sequence SET next_id = next_id + 1 WHERE name = 'publication'")
    out: dict = {}

    def run():
        other = Archive.open(archive.url)
        try:
            out["report"] = retention.expire(other, keyring=KR, as_of=AS_OF, actor="ops")
        except Exception as e:             # noqa: BLE001 - reported below
            out["error"] = repr(e)
        finally:
            other.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(0.7)                        # the run is under way (SQLite: its reads before this commit)
    txn.commit()
    writer.close()
    t.join(120)
    assert "error" not in out, out
    assert out["report"]["publications_expired"] == 3 and out["report"]["persons_pseudonymised"] == 3
    assert all(p["pseudonymised"] for p in rows(archive, "party") if p["role"] == "DEFENDANT")


def test_two_expiry_runs_at_once_do_the_work_once_between_them(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    _plant_due(archive, 6)
    reports, errors = [], []
    start = threading.Barrier(2)

    def run():
        other = Archive.open(archive.url)
        try:
            start.wait(10)
            reports.append(retention.expire(other, keyring=KR, as_of=AS_OF, actor="ops", batch_size=1))
        except Exception as e:             # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            other.close()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors
    assert sum(r["publications_expired"] for r in reports) == 6
    assert sum(r["persons_pseudonymised"] for r in reports) == 6
    assert sum(r["restrictions_synced"] for r in reports) == 6       # each list's flag recorded once
    assert len(rows(archive, "restriction")) == 6
