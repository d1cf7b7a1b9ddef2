"""A rectification between retention's two expiry stages never writes a value in clear into a
mention whose personal fields expired -- also one the expiry keeps no coarse row for.

The expiry writes a coarse row (keyed token, age band, outward postcode) only for a mention whose
name it keys; an organisation's mention (a sole trader listed under their own name) or a nameless
one gets none, though its date of birth, age and address are deleted and its postcode cut to the
outward code all the same.  Rectify told an expired mention by its coarse row alone, so it wrote
the corrected postcode or date of birth of such a mention back in clear, until the next expiry
removed it again.  Now it tells them the way the expiry tells a mention is due (the publication's
date against the class's cut-off, no hold, nothing of the class left undeleted): the postcode is
kept as its outward code, a date of birth (kept in no form without a coarse row) is refused with
nothing changed; one the expiry has not reached (held, or not run yet) is corrected in clear."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from courtarchive.governance import holds, retention, rights
from courtarchive.governance.pseudonym import Keyring
from courtarchive.store.tables import TABLES
from test_governance_support import person, plant, retention_profile, rows

KR = Keyring(bytes(range(32)))
SITTING = dt.date(2024, 3, 4)
AS_OF = dt.date(2025, 6, 1)             # personal fields of SITTING's list expired, identities kept
STAGED = "identity = 240\npersonal = 6"


@pytest.fixture
def prof(tmp_path, monkeypatch):
    return retention_profile(tmp_path, monkeypatch, STAGED)


def _sole_trader(archive, *, date=SITTING) -> int:
    """A defendant listed as an organisation under its owner's name (no forenames or surname)."""
    plant(archive, date=date, people=[person()])
    pid = max(p["id"] for p in rows(archive, "party", role="DEFENDANT"))
    Pa = TABLES["party"]
    with archive.engine.begin() as c:
        c.execute(sa.update(Pa).where(Pa.c.id == pid).values(organisation_name="Quixley Haulage", forenames=None,
                                                               surname=None))
    return pid


def _request(archive, pid) -> dict:
    req = rights.open_request(archive, kind="rectification", name="Zebedee Quixley", keyring=KR, actor="dpo")
    assert pid in req["party_ids"] + req["possible_party_ids"]
    rights.decide(archive, req["id"], decision="comply", reasons="the subject's records are wrong", actor="dpo")
    return req


def _rectify(archive, prof, req, pid, field, value):
    return rights.rectify(archive, [pid], field=field, value=value, actor="dpo", request_id=req["id"], profile=prof,
                          keyring=KR)


def _expired(archive, prof) -> tuple[int, dict]:
    pid = _sole_trader(archive)
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    p = rows(archive, "party", id=pid)[0]
    # the personal fields expired, the identity not; no coarse row (the name is not keyed)
    assert not p["pseudonymised"] and p["name_as_listed"] == "QUIXLEY, Zebedee"
    assert (p["date_of_birth"], p["age"], p["address"], p["postcode"]) == (None, None, None, "PR2")
    assert rows(archive, "party_coarse", party_id=pid) == []
    return pid, _request(archive, pid)


def test_a_postcode_is_kept_as_its_outward_code_without_a_coarse_row(archive, prof):
    pid, req = _expired(archive, prof)
    out = _rectify(archive, prof, req, pid, "postcode", "la1 4xy")
    assert rows(archive, "party", id=pid)[0]["postcode"] == "LA1"            # not "la1 4xy" in clear
    assert rows(archive, "party_coarse", party_id=pid) == []
    assert out["expired_kept_coarse"] == [pid]
    [ev] = rows(archive, "audit_event", action="rectify")
    assert ev["details"]["expired_kept_coarse"] == 1


@pytest.mark.parametrize("field,value", [("date_of_birth", "1990-02-03"), ("age", "41"),
                                         ("address", "4 Larch Row, Lancaster")])
def test_a_field_with_nowhere_to_go_is_refused_with_nothing_changed(archive, prof, field, value):
    pid, req = _expired(archive, prof)
    before = {t: rows(archive, t) for t in ("party", "party_coarse", "audit_event", "retention_run")}
    with pytest.raises(rights.Refused, match=rf"the {field} of party mention\(s\) {pid} expired.*no coarse row"
                                             r".*nothing rectified"):
        _rectify(archive, prof, req, pid, field, value)
    assert {t: rows(archive, t) for t in before} == before
    assert rows(archive, "party", id=pid)[0][field] is None


def test_one_the_expiry_has_not_reached_is_corrected_in_clear(archive, prof):
    """Held under a legal hold, the expiry skipped it: its fields are still held in clear, and so is
    the correction.  After the release (not yet expired again: its address still held) likewise."""
    pid = _sole_trader(archive)
    case_id = rows(archive, "party", id=pid)[0]["case_id"]
    hold_id = holds.add(archive, scope="case", ref=str(case_id), reason="litigation", authority="court order",
                        actor="dpo")
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    assert rows(archive, "party", id=pid)[0]["address"] is not None
    req = _request(archive, pid)
    out = _rectify(archive, prof, req, pid, "date_of_birth", "1990-02-03")
    assert rows(archive, "party", id=pid)[0]["date_of_birth"] == dt.date(1990, 2, 3)
    assert out["expired_kept_coarse"] == []
    holds.release(archive, hold_id, actor="dpo", reason="over")
    out = _rectify(archive, prof, req, pid, "postcode", "LA1 4XY")
    assert rows(archive, "party", id=pid)[0]["postcode"] == "LA1 4XY" and out["expired_kept_coarse"] == []
    # the next expiry removes them as it removes any mention's
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    p = rows(archive, "party", id=pid)[0]
    assert (p["date_of_birth"], p["postcode"]) == (None, "LA1")


def test_one_not_due_is_corrected_in_clear(archive, prof):
    pid = _sole_trader(archive, date=dt.date.today() - dt.timedelta(days=10))
    Pa = TABLES["party"]
    with archive.engine.begin() as c:      # nothing personal listed: not a sign the expiry reached it
        c.execute(sa.update(Pa).where(Pa.c.id == pid).values(date_of_birth=None, age=None, address=None))
    retention.expire(archive, keyring=KR, profile=prof, compact=False)
    req = _request(archive, pid)
    out = _rectify(archive, prof, req, pid, "date_of_birth", "1990-02-03")
    assert rows(archive, "party", id=pid)[0]["date_of_birth"] == dt.date(1990, 2, 3)
    assert out["expired_kept_coarse"] == []
