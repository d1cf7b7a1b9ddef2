"""Roles and the role x field policy, CaTH sensitivity, verification, the analyst's pseudonyms."""

from __future__ import annotations

import datetime as dt

import pytest

from courtarchive.governance import GovernanceError, disclose, retention
from courtarchive.governance.policy import (FIELD_POLICY, PUBLICATION_SENSITIVITY, ROLES, Verification, Viewer,
                                            field_class, policy_table)
from courtarchive.governance.pseudonym import Keyring
from courtarchive.model.declaration import ENTITIES
from test_governance_support import NOW, PURPOSE, case_records, plant, rows, text_of, viewers

KR = Keyring(bytes(range(32)))
NAME, DOB, ADDR = "QUIXLEY", "1988-07-14", "Marigold"


def _case(archive, **kw):
    w = plant(archive, **kw)
    return rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"]


def _show(archive, cid, role, purpose=None, now=NOW, viewer=None):
    v = viewer or viewers(now)[role]
    return disclose(case_records(archive, cid), v, purpose=purpose or PURPOSE[role],
                    context={"archive": archive, "now": now, "keyring": KR})


def test_policy_is_data_and_covers_every_class_and_field():
    classes = {f.sensitivity for e in ENTITIES.values() for f in e.fields}
    for role in ROLES:
        assert classes <= set(FIELD_POLICY[role]), role
        assert FIELD_POLICY[role]["never"] == "drop"            # complainant identity: nobody
    table = policy_table()
    assert {(r["entity"], r["field"]) for r in table} == {(e.name, f.name) for e in ENTITIES.values()
                                                          for f in e.fields if f.stored}
    assert field_class("party", "surname") == "identity" and field_class("party", "case_id") == "key"
    assert field_class("party", "made_up_field") == "unknown"


def test_public_never_sees_personal_data(archive):
    cid = _case(archive, sensitivity="PUBLIC")
    d = _show(archive, cid, "public")
    t = text_of(d)
    assert NAME not in t and DOB not in t and ADDR not in t and "Stole a bicycle" not in t
    assert any(r["_entity"] == "hearing" and r["court_name"] for r in d.records)      # list facts are public
    assert any(r["_entity"] == "offence" and r["title"] == "Theft" for r in d.records)


def test_verified_media_sees_identity_for_journalism_only(archive):
    cid = _case(archive, sensitivity="CLASSIFIED")
    assert all(x in text_of(_show(archive, cid, "verified_media")) for x in (NAME, DOB, ADDR))
    assert NAME not in text_of(_show(archive, cid, "verified_media", purpose="research"))


def test_expired_or_missing_verification_is_public(archive):
    cid = _case(archive, sensitivity="CLASSIFIED")
    old = Verification(press_card="UKPC-1", employer="Post", verified_by="ed", verified_at=NOW - dt.timedelta(days=366))
    for v in (Viewer("r", "verified_media", verification=old), Viewer("r", "verified_media")):
        d = _show(archive, cid, "verified_media", viewer=v)
        assert d.role == "public" and d.flag("verification_invalid") and not d.records   # CLASSIFIED: withheld


@pytest.mark.parametrize("sensitivity,who_sees", [
    ("PUBLIC", {"public", "verified_media", "analyst", "admin"}),
    ("PRIVATE", {"verified_media", "analyst", "admin"}),
    ("CLASSIFIED", {"verified_media", "admin"}),
    (None, {"verified_media", "admin"}),                  # unknown: treated as CLASSIFIED
])
def test_cath_sensitivity_per_publication(archive, sensitivity, who_sees):
    cid = _case(archive, sensitivity=sensitivity or "SOMETHING_ELSE")
    for role in ROLES:
        d = _show(archive, cid, role)
        got = [r for r in d.records if r["_entity"] in ("hearing", "party", "offence")]
        assert bool(got) == (role in who_sees), (sensitivity, role)
    assert PUBLICATION_SENSITIVITY["CLASSIFIED"] == frozenset({"verified_media", "admin"})


def test_analyst_gets_tokens_and_coarse_attributes_only(archive):
    cid = _case(archive, sensitivity="PRIVATE")
    d = _show(archive, cid, "analyst")
    t = text_of(d)
    assert NAME not in t and "Zebedee" not in t and DOB not in t and ADDR not in t and "PR2 9ZQ" not in t
    [p] = [r for r in d.records if r["_entity"] == "party" and r["role"] == "DEFENDANT"]
    assert p["surname"].startswith("~p:") and p["age_band"] == "35-44" and p["outward_postcode"] == "PR2"
    assert p["police_force_area"] == "Lancashire Constabulary"
    # the analyst's token is the token expiry writes: analyses join across expiry
    retention.expire(archive, keyring=KR, as_of=dt.date(2026, 1, 1))
    d2 = _show(archive, cid, "analyst")
    [p2] = [r for r in d2.records if r["_entity"] == "party" and r["role"] == "DEFENDANT"]
    assert p2["surname"] == p["surname"] and p2["age_band"] == "35-44"


def test_admin_sees_all_but_complainant_identity(archive):
    import sqlalchemy as sa

    from courtarchive.store.tables import TABLES

    cid = _case(archive)
    h = rows(archive, "hearing")[0]
    with archive.engine.begin() as c:
        c.execute(sa.insert(TABLES["complainant"]).values(id=5, publication_id=h["publication_id"], json_path="$",
                                                          hearing_id=h["id"], case_id=cid, token="ab" * 16,
                                                          descriptor="boy aged 12"))
    d = _show(archive, cid, "admin")
    assert NAME in text_of(d) and "boy aged 12" not in text_of(d)
    [c] = [r for r in d.records if r["_entity"] == "complainant"]
    assert c["token"] == "ab" * 16 and c["descriptor"] is None


def test_untagged_records_and_missing_audit_refused(archive):
    with pytest.raises(GovernanceError):
        disclose([{"id": 1}], viewers()["admin"], purpose="administration", context={"archive": archive})
    with pytest.raises(GovernanceError):
        disclose([{"_entity": "court", "id": 1}], viewers()["admin"], purpose="administration")


def test_undeclared_field_fails_closed():
    sink = []
    rec = [{"_entity": "party", "id": 1, "case_id": None, "nickname": "Zeb the Knife"}]
    for role in ("public", "analyst"):
        d = disclose(rec, viewers()[role], purpose=PURPOSE[role], context={"audit_sink": sink})
        assert "Zeb" not in text_of(d)
