"""A later expiry stage keeps what an earlier one put in ``party_coarse``.

A licence profile may let a party's personal fields (date of birth, age, address, postcode) expire
before its identity (the name).  The first expiry writes the coarse row: an age band from the date
of birth, a keyed person token of the name and date of birth.  The later identity expiry -- or an
erasure in between -- rewrote that row from the party as it was then, the date of birth and age
already deleted: the age band became NULL and the token one made without the date of birth, so a
link made with the first token no longer joined.  Now a later stage keeps the values the party can
no longer give (`retention.plan_batch`), and its name fields get the same token as the coarse row.
"""

from __future__ import annotations

import datetime as dt

import pytest

from courtarchive.governance import retention, rights
from courtarchive.governance.pseudonym import Keyring, normalise_name
from courtarchive.store import governance as sg
from test_governance_support import person, plant, retention_profile, rows

KR = Keyring(bytes(range(32)))
D = dt.date
DOB = D(1988, 7, 14)                    # 35 on the sitting day (2024-03-04): "35-44"
SITTING = D(2024, 3, 4)
PERSONAL_ONLY, BOTH = D(2025, 6, 1), D(2026, 6, 1)     # as-of days: 15 and 27 months after the sitting
KEPT = ("token", "key_id", "age_band", "outward_postcode", "police_force_area")


@pytest.fixture
def staged(tmp_path, monkeypatch):
    """Personal fields expire after 6 months, identities after 24."""
    return retention_profile(tmp_path, monkeypatch, "identity = 24\npersonal = 6", "staged")


@pytest.fixture
def at_once(tmp_path, monkeypatch):
    """Both expire after 6 months."""
    return retention_profile(tmp_path, monkeypatch, "identity = 6\npersonal = 6", "at_once")


def _token(forenames="Zebedee", surname="QUIXLEY", dob: dt.date | None = DOB) -> str:
    return KR.token("person", normalise_name(f"{forenames} {surname}") + "|" + (dob.isoformat() if dob else ""))


def _coarse(archive) -> dict:
    [c] = rows(archive, "party_coarse")
    return {k: c[k] for k in KEPT}


def _party(archive) -> dict:
    [p] = rows(archive, "party", role="DEFENDANT")          # (the other: the prosecutor)
    return p


def _expire(archive, prof, as_of: dt.date) -> dict:
    return retention.expire(archive, keyring=KR, profile=prof, as_of=as_of, compact=False)


def _personal_expired(archive, prof) -> dict:
    """One mention whose personal fields expired, its identity kept: its coarse row."""
    plant(archive, date=SITTING, people=[person(dob=DOB)])
    assert _expire(archive, prof, PERSONAL_ONLY)["coarse_rows"] == 1
    p = _party(archive)
    assert not p["pseudonymised"] and p["surname"] == "QUIXLEY" and p["date_of_birth"] is None and p["age"] is None
    first = _coarse(archive)
    assert first["token"] == _token() and first["age_band"] == "35-44" and first["key_id"] == KR.key_id
    return first


def test_identity_expiring_after_the_personal_fields_keeps_age_band_and_token(archive, staged):
    first = _personal_expired(archive, staged)
    _expire(archive, staged, BOTH)
    p = _party(archive)
    assert p["pseudonymised"] and p["forenames"] is None
    # the same row as the first stage wrote: the age band and the token of the name and date of birth
    assert _coarse(archive) == first
    # ... and the name carries that token too: links made before and after the second stage join
    assert p["surname"] == p["name_as_listed"] == "~p:" + _token()
    assert sg.parties_by_tokens(archive, [_token()]) == [p["id"]]
    # a run over a finished archive changes nothing
    _expire(archive, staged, D(2027, 6, 1))
    assert _coarse(archive) == first and _party(archive)["surname"] == "~p:" + _token()


def test_staged_expiry_gives_what_expiring_both_at_once_gives(archive, staged, at_once):
    first = _personal_expired(archive, staged)
    _expire(archive, staged, BOTH)
    staged_row, staged_party = _coarse(archive), _party(archive)
    # the same mention again (a second publication of it), its fields expiring at once
    plant(archive, date=SITTING, people=[person(dob=DOB)])
    _expire(archive, at_once, BOTH)
    at_once_rows = [{k: c[k] for k in KEPT} for c in rows(archive, "party_coarse")]
    assert at_once_rows == [first, first] and staged_row == first
    assert {(p["surname"], p["name_as_listed"]) for p in rows(archive, "party", role="DEFENDANT")} == \
        {(staged_party["surname"], staged_party["name_as_listed"])}


def test_an_erasure_between_the_stages_keeps_age_band_and_token(archive, staged):
    """An erasure (pseudonymise) of a mention whose personal fields expired writes the coarse row
    as the identity's expiry does: the earlier token and age band stay."""
    first = _personal_expired(archive, staged)
    pid = _party(archive)["id"]
    req = rights.open_request(archive, kind="erasure", name="Zebedee Quixley", keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="no public interest in keeping it", actor="dpo")
    out = rights.erase(archive, [pid], keyring=KR, actor="dpo", request_id=req["id"], profile=staged,
                       compact=False)
    assert out["parties"] == 1
    assert _coarse(archive) == first and _party(archive)["surname"] == "~p:" + _token()


def test_a_token_dropped_by_a_rectification_is_made_again_and_the_age_band_kept(archive, staged):
    """The name rectified after the date of birth was deleted: the token is dropped (it cannot be
    made again, `coarse.rectified_token`); the identity's expiry then makes it from what the party
    holds (the corrected name, no date of birth) -- the age band stays."""
    first = _personal_expired(archive, staged)
    pid = _party(archive)["id"]
    req = rights.open_request(archive, kind="rectification", name="Zebedee Quixley", keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="the surname is misspelt", actor="dpo")
    rights.rectify(archive, [pid], field="surname", value="QUIXLY", actor="dpo", request_id=req["id"],
                   profile=staged, keyring=KR)
    assert _coarse(archive)["token"] is None
    _expire(archive, staged, BOTH)
    after = _coarse(archive)
    assert after["token"] == _token(surname="QUIXLY", dob=None) and after["key_id"] == KR.key_id
    assert after["age_band"] == first["age_band"] == "35-44"
    assert _party(archive)["surname"] == "~p:" + after["token"]
