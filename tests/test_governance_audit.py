"""The audit chain: append-only, hash-chained; any edit, deleted row or reordering is detected."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from courtarchive.governance import audit, disclose
from test_governance_support import NOW, PURPOSE, case_records, plant, rows, viewers


def _events(archive, n=6):
    for i in range(n):
        audit.record(archive, actor=f"user{i}", role="admin", action="view", purpose="administration",
                     objects={"party": [i, i + 1]}, details={"i": i})


def _tamper(archive, sql: str, *params):
    """Bypass the append-only triggers the way an attacker with database access would."""
    with archive.engine.begin() as c:
        if archive.sqlite:
            c.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_no_update")
            c.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_no_delete")
        else:
            c.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
        c.exec_driver_sql(sql, params)


def test_chain_verifies(archive):
    _events(archive)
    res = audit.verify(archive)
    assert res.ok and res.events == 6 and res.head["seq"] == 6


def test_database_refuses_update_and_delete(archive):
    _events(archive, 2)
    for stmt in ("UPDATE audit_event SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_event WHERE seq = 1"):
        with pytest.raises(sa.exc.DBAPIError):
            with archive.engine.begin() as c:
                c.exec_driver_sql(stmt)
    assert audit.verify(archive).ok


@pytest.mark.parametrize("column,value", [("actor", "someone_else"), ("purpose", "journalism"),
                                          ("object", "party:999")])
def test_edited_row_detected(archive, column, value):
    _events(archive)
    _tamper(archive, f"UPDATE audit_event SET {column} = '{value}' WHERE seq = 3")
    res = audit.verify(archive)
    assert not res.ok
    assert {(p["seq"], p["problem"]) for p in res.problems} >= {(3, "edited")}


def test_edited_row_with_recomputed_hash_breaks_the_next_link(archive):
    from courtarchive.store import governance as sg

    _events(archive)
    ev = [e for e in sg.iter_audit(archive) if e["seq"] == 3][0]
    ev["actor"] = "forger"
    forged = sg.audit_hash(ev["prev_hash"], ev)
    _tamper(archive, "UPDATE audit_event SET actor = 'forger', hash = '%s' WHERE seq = 3" % forged)
    res = audit.verify(archive)
    assert not res.ok and any(p["seq"] == 4 and p["problem"] == "broken_link" for p in res.problems)


def test_deleted_row_detected_as_gap(archive):
    _events(archive)
    _tamper(archive, "DELETE FROM audit_event WHERE seq = 4")
    res = audit.verify(archive)
    kinds = {(p["seq"], p["problem"]) for p in res.problems}
    assert (5, "gap") in kinds and (5, "broken_link") in kinds


def test_reordered_chain_detected(archive):
    _events(archive)
    # swap the contents of events 2 and 3 (seq/id kept): the chain no longer links up
    _tamper(archive, "UPDATE audit_event SET seq = -2, id = -2 WHERE seq = 2")
    _tamper(archive, "UPDATE audit_event SET seq = 2, id = 2 WHERE seq = 3")
    _tamper(archive, "UPDATE audit_event SET seq = 3, id = 3 WHERE seq = -2")
    res = audit.verify(archive)
    assert not res.ok and {p["seq"] for p in res.problems} & {2, 3}


def test_deleted_tail_detected_with_anchor(archive, tmp_path):
    _events(archive)
    audit.write_anchor(archive, tmp_path / "anchor.json")
    _tamper(archive, "DELETE FROM audit_event WHERE seq = 6")
    assert audit.verify(archive).ok                       # a chain alone cannot see a cut tail ...
    res = audit.verify(archive, anchor=audit.read_anchor(tmp_path / "anchor.json"))
    assert not res.ok and res.problems[0]["problem"] == "truncated"   # ... the anchor can


def test_every_disclosure_is_audited_without_identities(archive):
    w = plant(archive)
    cid = rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"]
    for role, v in viewers().items():
        disclose(case_records(archive, cid), v, purpose=PURPOSE[role], context={"archive": archive, "now": NOW,
                                                                                "output": "web"})
    evs = rows(archive, "audit_event")
    assert [e["role"] for e in evs] == ["public", "verified_media", "analyst", "admin"]
    assert all(e["action"] == "web" and e["purpose"] for e in evs)
    assert evs[1]["actor"] == "reporter" and "party:" in evs[1]["object"]
    text = str(evs).lower()
    assert "quixley" not in text and "marigold" not in text and "1988-07-14" not in text
    assert audit.verify(archive).ok
