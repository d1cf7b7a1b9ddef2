"""Retention status and the compliance report measure raw *identities*: a publication whose
identities expired is not "raw" because another data class is kept longer.

The expiry marks a publication ``raw_expired_at`` only when every data class of the profile has
expired.  Under a profile keeping the wording longer than the identities (identity 6 months,
wording 12), a list 8 months old has every party pseudonymised -- and yet `retention status`
called it the oldest raw record, OVERDUE against the identity limit, and the compliance report
listed it under ``beyond_limit_unheld`` (within_limit false): the DPO was told the archive holds
identities beyond the licence term when it holds none."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from courtarchive.governance import compliance, holds, retention
from courtarchive.governance.profile import load
from courtarchive.governance.pseudonym import Keyring
from test_governance_compliance import cli_env  # noqa: F401  (the fixture: an initialised archive and the CLI)
from test_governance_support import plant, retention_profile, rows

KR = Keyring(bytes(range(32)))
D = dt.date
LISTED, AS_OF = D(2025, 1, 10), D(2025, 9, 1)          # 8 months on: identities due, wording not


@pytest.fixture
def prof(tmp_path, monkeypatch):
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    (tmp_path / "profile.toml").write_text("[retention.classes]\nidentity = 6\npersonal = 6\nwording = 12\n", "utf-8")
    return load(home=tmp_path)


def test_identities_expired_before_the_wording_are_not_raw(archive, prof, tmp_path):
    plant(archive, date=LISTED)
    assert retention.status(archive, profile=prof, as_of=AS_OF)["overdue"] is True          # not expired yet
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    assert all(p["pseudonymised"] for p in rows(archive, "party"))
    [pub] = rows(archive, "publication")
    assert pub["raw_expired_at"] is None                        # (its wording is kept 12 months)
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    assert st["overdue"] is False and st["oldest_raw"] is None
    rs = compliance.build(archive, profile=prof, as_of=AS_OF)["retention_status"]
    assert rs["within_limit"] is True and rs["beyond_limit_unheld"] == [] and rs["raw_publications"] == 0


def test_a_publication_with_a_held_mention_is_still_raw(archive, prof):
    plant(archive, date=LISTED)
    plant(archive, date=LISTED)
    held_case = rows(archive, "case")[0]["id"]
    holds.add(archive, scope="case", ref=str(held_case), reason="claim", authority="court order", actor="dpo")
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    held_pub = rows(archive, "hearing", case_id=held_case)[0]["publication_id"]
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    # still raw (the oldest raw record), but kept by the hold: held, not overdue
    assert st["oldest_raw"]["publication_id"] == held_pub and st["oldest_raw"]["raw_publications"] == 1
    assert st["overdue"] is False
    assert st["classes"]["identity"]["held_publications"] == 1 and st["classes"]["identity"]["overdue"] is False
    rs = compliance.build(archive, profile=prof, as_of=AS_OF)["retention_status"]
    assert rs["within_limit"] is False and rs["beyond_limit_unheld"] == [] and rs["beyond_limit_held"] == 1


# --------------------------------------------------------------------------- every class, not only identities
STAGED_AS_OF = D(2025, 9, 1)          # LISTED + 8 months: personal fields (6) due, identities (24) not


@pytest.fixture
def staged(tmp_path, monkeypatch):
    return retention_profile(tmp_path, monkeypatch, "identity = 24\npersonal = 6\nwording = 24", "staged")


def test_personal_fields_kept_past_their_period_are_overdue(archive, staged):
    """Personal fields expire before identities: the expiry job has not run, the dates of birth and
    addresses are kept past their period -- status and the report said "within limit"."""
    old = plant(archive, date=LISTED).publication_id
    plant(archive, date=D(2025, 8, 1))                  # a month old: nothing due
    st = retention.status(archive, profile=staged, as_of=STAGED_AS_OF)
    assert set(st["classes"]) == {"identity", "personal", "wording"}
    per = st["classes"]["personal"]
    assert per["overdue"] is True and per["oldest"] == LISTED.isoformat() and per["cutoff"] == "2025-03-01"
    assert per["limit_months"] == 6 and per["overdue_publications"] == 1 and per["publications"] == 2
    assert per["held_publications"] == 0
    ident = st["classes"]["identity"]
    assert ident["overdue"] is False and ident["oldest"] == LISTED.isoformat() and ident["cutoff"] == "2023-09-01"
    assert st["overdue"] is True
    # the keys other code reads stay: the identity limit and the oldest raw identities
    assert st["limit_months"] == 24 and st["cutoff"] == "2023-09-01" and st["oldest_raw"]["publication_id"] == old
    rs = compliance.build(archive, profile=staged, as_of=STAGED_AS_OF)["retention_status"]
    assert rs["overdue"] is True and rs["classes"]["personal"]["overdue_publications"] == 1
    assert rs["within_limit"] is True                   # (the identities are within theirs)

    retention.expire(archive, keyring=KR, profile=staged, as_of=STAGED_AS_OF, compact=False)
    st = retention.status(archive, profile=staged, as_of=STAGED_AS_OF)
    per = st["classes"]["personal"]
    assert per["overdue"] is False and per["oldest"] == "2025-08-01" and per["publications"] == 1
    assert st["classes"]["identity"]["oldest"] == LISTED.isoformat()        # names kept: not due
    assert st["overdue"] is False
    assert compliance.build(archive, profile=staged, as_of=STAGED_AS_OF)["retention_status"]["overdue"] is False


def test_personal_fields_under_a_hold_are_held_not_overdue(archive, staged):
    plant(archive, date=LISTED)
    plant(archive, date=LISTED)
    held_case = rows(archive, "case")[0]["id"]
    holds.add(archive, scope="case", ref=str(held_case), reason="claim", authority="court order", actor="dpo")
    st = retention.status(archive, profile=staged, as_of=STAGED_AS_OF)
    assert st["classes"]["personal"]["overdue_publications"] == 1 and st["classes"]["personal"]["held_publications"] == 1
    retention.expire(archive, keyring=KR, profile=staged, as_of=STAGED_AS_OF, compact=False)
    held_party = [p for p in rows(archive, "party", case_id=held_case) if p["surname"]][0]
    assert held_party["date_of_birth"] is not None      # (kept by the hold)
    st = retention.status(archive, profile=staged, as_of=STAGED_AS_OF)
    per = st["classes"]["personal"]
    assert per["overdue"] is False and per["held_publications"] == 1 and per["publications"] == 0
    assert st["overdue"] is False
    holds.release(archive, 1, actor="dpo", reason="settled")
    st = retention.status(archive, profile=staged, as_of=STAGED_AS_OF)
    assert st["classes"]["personal"]["overdue"] is True and st["overdue"] is True


def test_an_archive_hold_keeps_every_class_held(archive, staged):
    plant(archive, date=LISTED)
    holds.add(archive, scope="archive", ref=None, reason="litigation", authority="court order", actor="dpo")
    st = retention.status(archive, profile=staged, as_of=STAGED_AS_OF)
    assert st["overdue"] is False and st["classes"]["personal"]["held_publications"] == 1
    assert st["classes"]["personal"]["oldest"] is None


def test_retention_status_command_shows_each_class(cli_env, tmp_path):
    from courtarchive.store import Archive

    runner, app = cli_env
    pf = tmp_path / "staged.toml"
    pf.write_text("[retention.classes]\nidentity = 24\npersonal = 6\nwording = 24\n", "utf-8")
    a = Archive.open()
    try:
        plant(a, date=LISTED)
    finally:
        a.close()
    r = runner.invoke(app, ["retention", "status", "--now", STAGED_AS_OF.isoformat(), "--json", "--profile", str(pf)])
    assert r.exit_code == 0, r.output
    st = orjson.loads(r.stdout)
    assert st["overdue"] is True and st["classes"]["personal"]["overdue"] is True
    r = runner.invoke(app, ["retention", "status", "--now", STAGED_AS_OF.isoformat(), "--profile", str(pf)])
    assert r.exit_code == 0, r.output
    assert "; OVERDUE: personal; " in r.output.splitlines()[0], r.output       # (the identities are within theirs)
    line = next(x for x in r.output.splitlines() if x.strip().startswith("personal:"))
    assert "OVERDUE" in line and LISTED.isoformat() in line and "2025-03-01" in line, r.output
    out = tmp_path / "rep"
    r = runner.invoke(app, ["compliance", "report", "--out", str(out), "--now", STAGED_AS_OF.isoformat(),
                               "--profile", str(pf)])
    assert r.exit_code == 0, r.output
    assert orjson.loads((out / "compliance.json").read_bytes())["retention_status"]["classes"]["personal"]["overdue"]
    html = (out / "compliance.html").read_text("utf-8")
    assert "Per data class" in html and "1 overdue: run expiry" in html


# --------------------------------------------------------------------------- postcodes and order texts
def _due(st, cls):
    c = st["classes"][cls]
    return c["overdue_publications"], c["publications"]


def test_a_full_postcode_alone_is_personal_data_not_expired(archive, staged):
    """The expiry shortens a postcode to its outward code (``outward``): a list whose only personal
    field is a full postcode (no date of birth, age or address) still holds personal data past
    its period.  Status counted only the fields an expiry empties and called the list expired."""
    plant(archive, date=LISTED, people=[dict(forenames="Zebedee", surname="QUIXLEY", postcode="PR2 9ZQ",
                                             town="Preston")])
    # an outward code only (an SJP public list gives no more): nothing to expire
    plant(archive, date=LISTED, people=[dict(forenames="Yvette", surname="ULLSWATER", postcode="PR2",
                                             town="Preston")])
    assert _due(retention.status(archive, profile=staged, as_of=STAGED_AS_OF), "personal") == (1, 1)
    retention.expire(archive, keyring=KR, profile=staged, as_of=STAGED_AS_OF, compact=False)
    assert sorted(p["postcode"] for p in rows(archive, "party") if p["postcode"]) == ["PR2", "PR2"]
    st = retention.status(archive, profile=staged, as_of=STAGED_AS_OF)
    assert _due(st, "personal") == (0, 0) and st["overdue"] is False


def test_an_order_text_alone_is_wording_not_expired(archive, prof):
    """The expiry replaces a reporting-restriction text by the citation of the orders read from it
    (``summary``): a list with such a text and no offence wording or list note still holds
    wording past its period (here 12 months)."""
    late = D(2026, 2, 1)
    plant(archive, date=LISTED, wording=None, detail="Section 45 order: the identity of the child witness, "
                                                      "Poppy Quayle, must not be published")
    plant(archive, date=LISTED, wording=None)                   # no text at all: nothing to expire
    assert _due(retention.status(archive, profile=prof, as_of=late), "wording") == (1, 1)
    retention.expire(archive, keyring=KR, profile=prof, as_of=late, compact=False)
    [h] = [h for h in rows(archive, "hearing") if h["reporting_restriction_detail"]]
    assert "Quayle" not in h["reporting_restriction_detail"]
    st = retention.status(archive, profile=prof, as_of=late)
    assert _due(st, "wording") == (0, 0) and st["overdue"] is False
