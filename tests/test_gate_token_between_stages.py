"""An analyst sees one person token for a mention across its expiry stages.

A licence profile may let a party's personal fields (date of birth, age, postcode...) expire before
its identity.  The first stage keeps a keyed person token of the name and date of birth in
``party_coarse``; the identity stage writes that token into the names (`retention._token_of`).
Between the two, the gate made the analyst's token again from what the party still held -- the
name without its date of birth -- so the same mention showed one token before the first stage,
another between the stages and the first again after the second, and mentions of one person at
different stages did not match.  Now the gate shows the token expiry keeps (and writes).
"""

from __future__ import annotations

import datetime as dt

import pytest

from courtarchive.governance import disclose, retention
from courtarchive.governance.pseudonym import Keyring, normalise_name
from courtarchive.store import governance as sg
from test_governance_support import PURPOSE, case_records, person, plant, retention_profile, rows, viewers

KR = Keyring(bytes(range(32)))
D = dt.date
DOB = D(1988, 7, 14)
SITTING = D(2024, 3, 4)
PERSONAL_ONLY, BOTH = D(2025, 6, 1), D(2026, 6, 1)     # as-of days: 15 and 27 months after the sitting
IDENTITY = normalise_name("Zebedee QUIXLEY") + "|" + DOB.isoformat()


@pytest.fixture
def staged(tmp_path, monkeypatch):
    """Personal fields expire after 6 months, identities after 24."""
    return retention_profile(tmp_path, monkeypatch, "identity = 24\npersonal = 6", "staged")


def _case(archive) -> int:
    w = plant(archive, date=SITTING, sensitivity="PRIVATE", people=[person(dob=DOB)])
    return rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"]


def _analyst_sees(archive, cid, on: dt.date, keyring=KR) -> dict:
    """The defendant as the gate shows it to an analyst on day ``on``."""
    now = dt.datetime.combine(on, dt.time(12))
    d = disclose(case_records(archive, cid), viewers(now)["analyst"], purpose=PURPOSE["analyst"],
                 context={"archive": archive, "now": now, "keyring": keyring})
    [p] = [r for r in d.records if r["_entity"] == "party" and r["role"] == "DEFENDANT"]
    return p


def _defendant(archive) -> dict:
    [p] = rows(archive, "party", role="DEFENDANT")
    return p


def _expire(archive, prof, as_of: dt.date, keyring=KR) -> None:
    retention.expire(archive, keyring=keyring, profile=prof, as_of=as_of, compact=False)


def test_the_analyst_token_does_not_change_between_the_stages(archive, staged):
    cid = _case(archive)
    before = _analyst_sees(archive, cid, SITTING)
    assert before["surname"] == before["name_as_listed"] == "~p:" + KR.token("person", IDENTITY)
    _expire(archive, staged, PERSONAL_ONLY)
    p = _defendant(archive)
    assert not p["pseudonymised"] and p["date_of_birth"] is None and p["surname"] == "QUIXLEY"
    [coarse] = rows(archive, "party_coarse", party_id=p["id"])
    # between the stages: the token of the name and the date of birth, kept in the coarse row
    # (it was the token of the name alone, made again without the deleted date of birth)
    between = _analyst_sees(archive, cid, PERSONAL_ONLY)
    assert between["surname"] == "~p:" + coarse["token"] == before["surname"]
    assert between["name_as_listed"] == before["name_as_listed"] and between["age_band"] == before["age_band"]
    # ... and the one the identity stage writes into the names
    _expire(archive, staged, BOTH)
    assert _defendant(archive)["surname"] == before["surname"]
    assert _analyst_sees(archive, cid, BOTH)["surname"] == before["surname"]


def test_mentions_of_one_person_at_different_stages_show_one_token(archive, staged):
    """Two listings of one person: the first's personal fields expired, the second's not yet."""
    first = _case(archive)
    _expire(archive, staged, PERSONAL_ONLY)
    w = plant(archive, date=D(2025, 5, 20), sensitivity="PRIVATE", people=[person(dob=DOB)])
    second = rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"]
    assert _analyst_sees(archive, first, PERSONAL_ONLY)["surname"] == \
        _analyst_sees(archive, second, PERSONAL_ONLY)["surname"]


def test_a_kept_token_made_under_a_retired_key_is_shown_as_kept(archive, staged):
    """The key rotated between the stages.  The kept token cannot be made again under the new key
    (the date of birth is gone), and the identity stage writes it as it is: the gate shows it as it
    is too, as it shows every stored token (a name expired before the rotation), and a look-up
    across the rotation (`Keyring.tokens_all`) finds it."""
    cid = _case(archive)
    before = _analyst_sees(archive, cid, SITTING)
    _expire(archive, staged, PERSONAL_ONLY)
    rotated = Keyring(bytes(range(1, 33)), [KR.key])
    assert rotated.key_id != KR.key_id
    between = _analyst_sees(archive, cid, PERSONAL_ONLY, keyring=rotated)
    assert between["surname"] == before["surname"] == "~p:" + rotated.tokens_all("person", IDENTITY)[KR.key_id]
    _expire(archive, staged, BOTH, keyring=rotated)
    assert _defendant(archive)["surname"] == before["surname"]
    assert sg.parties_by_tokens(archive, [rotated.tokens_all("person", IDENTITY)[KR.key_id]]) == \
        [_defendant(archive)["id"]]


def test_without_a_keyring_the_kept_token_is_shown(archive, staged):
    """A gate given no keyring makes no token but shows the stored ones: the kept token as well
    as the token an expired name holds."""
    cid = _case(archive)
    assert _analyst_sees(archive, cid, SITTING, keyring=None)["surname"] is None
    _expire(archive, staged, PERSONAL_ONLY)
    want = "~p:" + KR.token("person", IDENTITY)
    assert _analyst_sees(archive, cid, PERSONAL_ONLY, keyring=None)["surname"] == want
    _expire(archive, staged, BOTH)
    assert _analyst_sees(archive, cid, BOTH, keyring=None)["surname"] == want
