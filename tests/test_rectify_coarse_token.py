"""A rectification of a name does not leave the old name's token in ``party_coarse``.

When a mention's personal fields expire before its identity, expiry keeps a keyed person token of
its name (and date of birth) in ``party_coarse``.  Rectifying the name afterwards corrected the
party row but left that token: linkage and subject searches after expiry still found the OLD
name there (the subject of the old name matched a mention that is no longer theirs).  Now the
token is made again from the corrected name when the stored one can be checked against what the
mention holds, and dropped when it cannot (the date of birth it was made with was deleted)."""

from __future__ import annotations

import datetime as dt

import pytest

from courtarchive.governance import retention, rights
from courtarchive.governance.pseudonym import Keyring, normalise_name
from courtarchive.store import governance as sg
from test_governance_support import person, plant, retention_profile, rows

KR = Keyring(bytes(range(32)))
D = dt.date
OLD, NEW = ("Ottoline", "GRISEDALE"), ("Ottoline", "GRISDALE")


@pytest.fixture
def prof(tmp_path, monkeypatch):
    """Personal fields expire after 6 months, identities after 24."""
    return retention_profile(tmp_path, monkeypatch, "identity = 24\npersonal = 6")


def _personal_expired(archive, prof, dob) -> tuple[int, dict]:
    """One mention of OLD whose personal fields expired (identity kept): (party id, its request)."""
    plant(archive, date=D(2024, 3, 4), people=[person(forenames=OLD[0], surname=OLD[1], dob=dob)])
    rep = retention.expire(archive, keyring=KR, profile=prof, as_of=D(2025, 6, 1), compact=False)
    assert rep["coarse_rows"] == 1
    [coarse] = rows(archive, "party_coarse")
    party = rows(archive, "party", id=coarse["party_id"])[0]
    assert not party["pseudonymised"] and party["surname"] == OLD[1] and party["date_of_birth"] is None
    req = rights.open_request(archive, kind="rectification", name=" ".join(OLD), keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="the surname is misspelt", actor="dpo")
    assert party["id"] in req["party_ids"] + req["possible_party_ids"]
    return party["id"], req


def _token(forenames: str, surname: str, dob: dt.date | None = None) -> str:
    return KR.token("person", normalise_name(f"{forenames} {surname}") + "|" + (dob.isoformat() if dob else ""))


def _coarse(archive, pid) -> dict:
    [c] = rows(archive, "party_coarse", party_id=pid)
    return c


def test_rectifying_the_name_remakes_the_coarse_token(archive, prof):
    """No date of birth was ever listed: the stored token is the old name's, provably -- made again
    from the corrected name; the subject of the old name no longer finds the mention by it."""
    pid, req = _personal_expired(archive, prof, dob=None)
    before = _coarse(archive, pid)
    assert before["token"] == _token(*OLD)
    out = rights.rectify(archive, [pid], field="surname", value=NEW[1], actor="dpo", request_id=req["id"],
                         profile=prof, keyring=KR)
    after = _coarse(archive, pid)
    assert after["token"] == _token(*NEW) and after["key_id"] == KR.key_id
    assert (after["age_band"], after["outward_postcode"]) == (before["age_band"], before["outward_postcode"])
    assert out["coarse_token_remade"] == [pid] and out["coarse_token_dropped"] == []
    assert sg.parties_by_tokens(archive, [_token(*OLD)]) == []
    assert sg.parties_by_tokens(archive, [_token(*NEW)]) == [pid]
    # the later expiry of the identity writes the same token into the name: links join
    retention.expire(archive, keyring=KR, profile=prof, as_of=D(2026, 6, 1), compact=False)
    party = rows(archive, "party", id=pid)[0]
    assert party["surname"] == "~p:" + _token(*NEW) and _coarse(archive, pid)["token"] == _token(*NEW)


def test_a_token_made_with_a_date_of_birth_since_deleted_is_dropped(archive, prof):
    """The token was made from the name and the date of birth, deleted when the personal fields
    expired: it cannot be made again for the corrected name -- it goes, not the old name's kept."""
    pid, req = _personal_expired(archive, prof, dob=D(1988, 7, 14))
    assert _coarse(archive, pid)["token"] == _token(*OLD, D(1988, 7, 14))
    out = rights.rectify(archive, [pid], field="surname", value=NEW[1], actor="dpo", request_id=req["id"],
                         profile=prof, keyring=KR)
    assert _coarse(archive, pid)["token"] is None and _coarse(archive, pid)["key_id"] is None
    assert out["coarse_token_dropped"] == [pid] and out["coarse_token_remade"] == []
    assert sg.parties_by_tokens(archive, [_token(*OLD, D(1988, 7, 14))]) == []
    [ev] = rows(archive, "audit_event", action="rectify")
    assert ev["details"] == {"field": "surname", "coarse_tokens": 1}


def test_without_a_keyring_the_old_token_is_dropped_and_other_fields_keep_it(archive, prof):
    pid, req = _personal_expired(archive, prof, dob=None)
    rights.rectify(archive, [pid], field="town", value="Lancaster", actor="dpo", request_id=req["id"], profile=prof)
    assert _coarse(archive, pid)["token"] == _token(*OLD)           # (the town is not in the token)
    rights.rectify(archive, [pid], field="forenames", value="Ottilie", actor="dpo", request_id=req["id"],
                   profile=prof)
    assert _coarse(archive, pid)["token"] is None
