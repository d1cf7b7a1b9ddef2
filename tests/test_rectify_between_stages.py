"""A rectification between retention's two expiry stages keeps the correction in the form the
archive now keeps, never in clear.

A licence profile may let a mention's personal fields (date of birth, age, address, postcode)
expire before its identity: the first stage deletes them (the postcode cut to its outward code) and
keeps an age band, the outward postcode and a keyed person token in ``party_coarse``; the mention
is not pseudonymised.  A rectification of such a mention wrote the corrected date of birth, age or
postcode back into the party row in clear -- personal data the retention policy had removed -- and
left the old age band and outward postcode in the coarse row.  Now the correction goes only into
the coarse form (the age band banded on the hearing's date, as the expiry banded it; the outward
postcode), a field with no coarse form is refused with nothing changed, and a mention whose fields
have not expired is corrected in clear as before."""

from __future__ import annotations

import datetime as dt

import pytest

from courtarchive.governance import retention, rights
from courtarchive.governance.profile import load
from courtarchive.governance.pseudonym import Keyring, normalise_name
from courtarchive.store import governance as sg
from test_governance_support import person, plant, retention_profile, rows

KR = Keyring(bytes(range(32)))
D = dt.date
SITTING, RECENT = D(2024, 3, 4), D(2025, 5, 1)
AS_OF = D(2025, 6, 1)                   # personal fields of SITTING's list expired, identities kept
DOB = D(1988, 7, 14)                    # 35 on SITTING: "35-44"
NEW_DOB = D(2006, 6, 1)                 # 17 on SITTING ("under 18"), 18 or more from 2024-06-01 on
STAGED = "identity = 24\npersonal = 6"


@pytest.fixture
def prof(tmp_path, monkeypatch):
    """Personal fields expire after 6 months, identities after 24."""
    return retention_profile(tmp_path, monkeypatch, STAGED)


def _token(dob: dt.date | None) -> str:
    return KR.token("person", normalise_name("Zebedee QUIXLEY") + "|" + (dob.isoformat() if dob else ""))


def _defendants(archive) -> dict[dt.date, dict]:
    """The defendant mentions by the date of their hearing."""
    hearings = {h["id"]: h["sitting_date"] for h in rows(archive, "hearing")}
    return {hearings[p["hearing_id"]]: p for p in rows(archive, "party", role="DEFENDANT")}


def _coarse(archive, pid) -> dict:
    [c] = rows(archive, "party_coarse", party_id=pid)
    return c


def _between_stages(archive, prof, *, recent: bool = False) -> dict:
    """A mention whose personal fields expired (and, ``recent``, one of the same person whose have
    not): the rectification request that found them, decided comply."""
    plant(archive, date=SITTING, people=[person(dob=DOB)])
    if recent:
        plant(archive, date=RECENT, people=[person(dob=DOB)])
    assert retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)["coarse_rows"] == 1
    old = _defendants(archive)[SITTING]
    assert not old["pseudonymised"] and old["surname"] == "QUIXLEY"
    assert (old["date_of_birth"], old["age"], old["address"], old["postcode"]) == (None, None, None, "PR2")
    c = _coarse(archive, old["id"])
    assert (c["age_band"], c["outward_postcode"], c["token"]) == ("35-44", "PR2", _token(DOB))
    req = rights.open_request(archive, kind="rectification", name="Zebedee Quixley", keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="the subject's records are wrong", actor="dpo")
    assert set(req["party_ids"] + req["possible_party_ids"]) >= {p["id"] for p in _defendants(archive).values()}
    return req


def _rectify(archive, prof, req, pids, field, value=None, **kw) -> dict:
    return rights.rectify(archive, pids, field=field, value=value, actor="dpo", request_id=req["id"], profile=prof,
                          keyring=KR, **kw)


def test_a_corrected_date_of_birth_moves_the_age_band_and_is_not_stored(archive, prof):
    req = _between_stages(archive, prof)
    pid = _defendants(archive)[SITTING]["id"]
    out = _rectify(archive, prof, req, [pid], "date_of_birth", NEW_DOB.isoformat())
    party = rows(archive, "party", id=pid)[0]
    assert party["date_of_birth"] is None and party["age"] is None and not party["pseudonymised"]
    c = _coarse(archive, pid)
    # banded on the hearing's date, as the expiry banded it (on any later day: "18-24")
    assert c["age_band"] == "under 18" and c["outward_postcode"] == "PR2"
    # the token of the name and the corrected date of birth: the one the identity's expiry keeps
    assert c["token"] == _token(NEW_DOB) and c["key_id"] == KR.key_id
    assert sg.parties_by_tokens(archive, [_token(DOB)]) == [] and sg.parties_by_tokens(archive, [_token(NEW_DOB)]) == [pid]
    assert out["expired_kept_coarse"] == [pid] and out["coarse_attribute_updated"] == [pid]
    assert out["coarse_token_remade"] == [pid] and out["coarse_token_dropped"] == []
    [ev] = rows(archive, "audit_event", action="rectify")
    assert ev["details"] == {"field": "date_of_birth", "coarse_tokens": 1, "coarse_attributes": 1,
                             "expired_kept_coarse": 1}
    assert NEW_DOB.isoformat() not in str(ev)               # the field, never the value
    retention.expire(archive, keyring=KR, profile=prof, as_of=D(2026, 6, 1), compact=False)
    party = rows(archive, "party", id=pid)[0]
    assert party["surname"] == "~p:" + _token(NEW_DOB) and _coarse(archive, pid)["age_band"] == "under 18"


def test_a_corrected_age_moves_the_age_band_and_is_not_stored(archive, prof):
    req = _between_stages(archive, prof)
    pid = _defendants(archive)[SITTING]["id"]
    out = _rectify(archive, prof, req, [pid], "age", "52")
    assert rows(archive, "party", id=pid)[0]["age"] is None
    c = _coarse(archive, pid)
    assert c["age_band"] == "45-54" and c["token"] == _token(DOB)         # (the age is not in the token)
    assert out["expired_kept_coarse"] == [pid] and out["coarse_attribute_updated"] == [pid]
    assert out["coarse_token_remade"] == out["coarse_token_dropped"] == []


def test_a_corrected_postcode_is_kept_as_its_outward_code(archive, prof):
    req = _between_stages(archive, prof)
    pid = _defendants(archive)[SITTING]["id"]
    out = _rectify(archive, prof, req, [pid], "postcode", "la1 4xy")
    assert rows(archive, "party", id=pid)[0]["postcode"] == "LA1"
    c = _coarse(archive, pid)
    assert (c["outward_postcode"], c["age_band"], c["token"]) == ("LA1", "35-44", _token(DOB))
    assert out["expired_kept_coarse"] == [pid] and out["coarse_attribute_updated"] == [pid]
    # a value with no outward code cannot be kept in the form the archive keeps: refused
    before = (rows(archive, "party"), rows(archive, "party_coarse"))
    with pytest.raises(rights.RightsError, match="outward code only.*nothing rectified"):
        _rectify(archive, prof, req, [pid], "postcode", "Flat 2")
    assert (rows(archive, "party"), rows(archive, "party_coarse")) == before


@pytest.mark.parametrize("field,value", [("address", "4 Larch Row, Lancaster"), ("nationality", "Irish")])
def test_a_field_kept_in_no_coarse_form_is_refused_with_nothing_changed(archive, prof, field, value):
    req = _between_stages(archive, prof)
    pid = _defendants(archive)[SITTING]["id"]
    before = {t: rows(archive, t) for t in ("party", "party_coarse", "audit_event", "retention_run")}
    with pytest.raises(rights.Refused, match=f"the {field} of party mention.*expired.*no coarse form.*nothing rectified"):
        _rectify(archive, prof, req, [pid], field, value)
    assert {t: rows(archive, t) for t in before} == before
    assert sg.get_rights_request(archive, req["id"])["status"] != "done"


def test_a_mention_not_yet_expired_is_corrected_in_clear_beside_one_that_has(archive, prof):
    """The same rectification of both: the recent mention gets the date of birth in clear (and no
    coarse row), the expired one only its age band."""
    req = _between_stages(archive, prof, recent=True)
    mentions = _defendants(archive)
    old, new = mentions[SITTING]["id"], mentions[RECENT]["id"]
    out = _rectify(archive, prof, req, [old, new], "date_of_birth", NEW_DOB.isoformat())
    assert rows(archive, "party", id=new)[0]["date_of_birth"] == NEW_DOB
    assert rows(archive, "party", id=old)[0]["date_of_birth"] is None
    assert rows(archive, "party_coarse", party_id=new) == [] and _coarse(archive, old)["age_band"] == "under 18"
    assert out["expired_kept_coarse"] == [old] and out["coarse_attribute_updated"] == [old]
    # the town is kept in clear by the expiry: written in clear on both; the police force area follows
    out = _rectify(archive, prof, req, [old, new], "town", "Lancaster")
    assert {rows(archive, "party", id=i)[0]["town"] for i in (old, new)} == {"Lancaster"}
    assert out["expired_kept_coarse"] == []


def test_the_cli_says_where_the_correction_went(tmp_path, monkeypatch, db_url):
    from typer.testing import CliRunner

    from courtarchive.serve.cli import app
    from courtarchive.store import Archive

    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "clihome"))
    monkeypatch.setenv("COURTARCHIVE_DB", db_url)
    monkeypatch.setenv("COURTARCHIVE_KEY", bytes(range(32)).hex())
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    (tmp_path / "clihome").mkdir(exist_ok=True)
    (tmp_path / "clihome" / "profile.toml").write_text(f"[retention.classes]\n{STAGED}\n", "utf-8")
    a = Archive.open()
    try:
        req = _between_stages(a, load(home=tmp_path / "clihome"))
        pid = _defendants(a)[SITTING]["id"]
        r = runner.invoke(app, ["rights", "rectify", str(req["id"]), "--party", str(pid), "--field", "date_of_birth",
                                "--value", NEW_DOB.isoformat(), "--actor", "dpo"])
        assert r.exit_code == 0, r.output
        assert (f"mention(s) {pid}: their date_of_birth expired with their personal fields, so the correction is "
                "kept only as the archive keeps it now (the age band), never in clear") in r.stderr
        assert f"the coarse age band of mention(s) {pid} follows the correction" in r.stderr
        assert rows(a, "party", id=pid)[0]["date_of_birth"] is None
    finally:
        a.close()
