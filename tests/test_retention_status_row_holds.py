"""Retention status counts a list held only when every row of it still holding a class's data is
held -- by the rules the expiry job skips rows by (`retention.plan_batch`, `_Held`).

A hold reaching a list in any way (one party of it, one of its cases) made `class_unexpired` count
the whole list held, never overdue.  The expiry job skips only the held rows: a party hold keeps
that party, its hearing and the hearing's offences; the other defendants' names and dates of
birth are expired.  So before the job ran, a list whose one defendant is held and whose others
are past the limit was reported "held, not overdue": overdue personal data under-stated."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from courtarchive.governance import compliance, holds, retention
from courtarchive.governance.profile import load
from courtarchive.governance.pseudonym import Keyring
from courtarchive.model import Hearing, Offence, ParsedList, Party, PublicationMeta
from test_governance_support import person, plant, rows

KR = Keyring(bytes(range(32)))
D = dt.date
LISTED, AS_OF = D(2025, 1, 10), D(2025, 9, 1)          # 8 months on: every class (6 months) due
TWO = [person(surname="ALPHA"), person(forenames="Yolanda", surname="BRAVO", dob=D(1979, 2, 3))]


@pytest.fixture
def prof():
    """The built-in profile: identity, personal and wording kept 6 months each."""
    p = load(path=Path(__file__).parents[1] / "profiles" / "default.toml")
    assert {c: p.months(c) for c in p.classes} == {"identity": 6, "personal": 6, "wording": 6}
    return p


def _hold(archive, scope, ref):
    return holds.add(archive, scope=scope, ref=ref, reason="claim", authority="court order", actor="dpo")


def _party(archive, surname):
    [p] = [p for p in rows(archive, "party") if p["surname"] == surname]
    return p


def _counts(st, cls):
    c = st["classes"][cls]
    return {"due": c["overdue_publications"], "held": c["held_publications"], "publications": c["publications"]}


def _raw_surnames(archive):
    return sorted(p["surname"] for p in rows(archive, "party") if p["surname"] and not p["surname"].startswith("~p:"))


def _two_case_list(archive, *, date=LISTED):
    """One list, two hearings of two cases (ALPHA in the first, BRAVO in the second), each with a
    list note and an offence wording."""
    meta = PublicationMeta(list_type="MAGISTRATES_STANDARD_LIST", sensitivity="CLASSIFIED",
                           court_name="Preston Magistrates' Court", content_date=date, version="1",
                           published_at=dt.datetime.combine(date, dt.time(8)), source_name="two-cases.json")
    p = ParsedList(meta=meta)
    for i, pp in enumerate(TWO):
        p.hearings.append(Hearing(json_path=f"$.h[{i}]", court_name=meta.court_name, sitting_date=date,
                                  sitting_time="10:00", room="1", hearing_type="First hearing",
                                  case_urn=f"06YY{i:07d}", case_number=f"CY{i}", panel="ADULT",
                                  list_note=f"note {i}"))
        p.parties.append(Party(json_path=f"$.h[{i}].p[0]", hearing_ref=i, role="DEFENDANT",
                               forenames=pp["forenames"], surname=pp["surname"], date_of_birth=pp["date_of_birth"],
                               age=pp["age"], address=pp["address"], postcode=pp["postcode"], town=pp["town"],
                               name_as_listed=f"{pp['surname']}, {pp['forenames']}"))
        p.offences.append(Offence(json_path=f"$.h[{i}].p[0].o[0]", party_ref=i, seq=1, code="TH68001",
                                  title="Theft", wording=f"Stole a bicycle ({i})"))
    return archive.write(p, content_hash="two-cases")


# --------------------------------------------------------------------------- (1) one party held
def test_one_held_defendant_leaves_the_others_overdue(archive, prof):
    """No expiry run: BRAVO's name and date of birth are past the limit and no hold keeps them."""
    pub = plant(archive, date=LISTED, people=TWO).publication_id
    _hold(archive, "person", f"party:{_party(archive, 'ALPHA')['id']}")
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    for cls in ("identity", "personal"):
        assert _counts(st, cls) == {"due": 1, "held": 0, "publications": 1}, cls
        assert st["classes"][cls]["overdue"] is True and st["classes"][cls]["oldest"] == LISTED.isoformat()
    assert st["overdue"] is True
    rs = compliance.build(archive, profile=prof, as_of=AS_OF)["retention_status"]
    assert rs["overdue"] is True and rs["classes"]["identity"]["overdue_publications"] == 1
    # the report's "raw identities beyond the limit" says the same: not held, run expiry
    assert rs["beyond_limit_unheld"] == [pub] and rs["beyond_limit_held"] == 0
    # what the expiry job does with that list: BRAVO expired, ALPHA kept
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    assert _raw_surnames(archive) == ["ALPHA"]
    assert rows(archive, "publication", id=pub)[0]["raw_expired_at"] is None
    # ... after which only the held party is raw: beyond the limit, held
    rs = compliance.build(archive, profile=prof, as_of=AS_OF)["retention_status"]
    assert rs["beyond_limit_unheld"] == [] and rs["beyond_limit_held"] == 1


# --------------------------------------------------------------------------- (2) after the expiry
def test_after_the_expiry_only_the_held_party_is_raw_and_the_list_held(archive, prof):
    plant(archive, date=LISTED, people=TWO)
    alpha = _party(archive, "ALPHA")["id"]
    hid = _hold(archive, "person", f"party:{alpha}")
    assert _counts(retention.status(archive, profile=prof, as_of=AS_OF), "identity")["due"] == 1
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    bravo = [p for p in rows(archive, "party") if p["role"] == "DEFENDANT" and p["id"] != alpha][0]
    assert bravo["pseudonymised"] and bravo["date_of_birth"] is None and bravo["forenames"] is None
    a = _party(archive, "ALPHA")
    assert not a["pseudonymised"] and a["date_of_birth"] is not None
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    for cls in ("identity", "personal", "wording"):
        assert _counts(st, cls) == {"due": 0, "held": 1, "publications": 0}, cls
        assert st["classes"][cls]["overdue"] is False
    assert st["overdue"] is False
    # released: what the hold kept is overdue
    holds.release(archive, hid, actor="dpo", reason="settled")
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    assert _counts(st, "identity") == {"due": 1, "held": 0, "publications": 1} and st["overdue"] is True


# --------------------------------------------------------------------------- (3) the whole list held
@pytest.mark.parametrize("scope", ["case", "court", "archive"])
def test_a_hold_on_the_lists_only_case_its_court_or_the_archive_holds_it(archive, prof, scope):
    """Every row of the list is held: held, not overdue, as before -- beside a list in another court
    whose one defendant only is held (overdue, unless the archive is held)."""
    held = plant(archive, date=LISTED, people=TWO).publication_id
    plant(archive, date=LISTED, people=[person(surname="CHARLIE"), person(surname="DELTA", dob=D(1990, 1, 1))],
          court="Blackburn Magistrates' Court")
    case = rows(archive, "hearing", publication_id=held)[0]["case_id"]
    _hold(archive, scope, {"case": str(case), "court": "Preston Magistrates' Court", "archive": None}[scope])
    _hold(archive, "person", f"party:{_party(archive, 'CHARLIE')['id']}")
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    want = ({"due": 0, "held": 2, "publications": 0} if scope == "archive"
            else {"due": 1, "held": 1, "publications": 1})
    for cls in ("identity", "personal"):
        assert _counts(st, cls) == want, cls
    # (the second list's wording is all in CHARLIE's hearing: held with it)
    assert _counts(st, "wording") == {"due": 0, "held": 2, "publications": 0}
    assert st["overdue"] is (scope != "archive")
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    assert _raw_surnames(archive) == (["ALPHA", "BRAVO", "CHARLIE", "DELTA"] if scope == "archive"
                                      else ["ALPHA", "BRAVO", "CHARLIE"])
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    assert _counts(st, "identity") == {"due": 0, "held": 2, "publications": 0} and st["overdue"] is False


# --------------------------------------------------------------------------- (4) data in the held hearing only
def test_a_class_whose_data_is_all_in_the_held_partys_hearing_is_held(archive, prof):
    """The wording (the hearing's list note, the offences' wording) sits in the hearing of the held
    party -- kept with it, BRAVO's offence too -- while BRAVO's personal fields are not held."""
    plant(archive, date=LISTED, people=TWO, list_note="remanded", wording="Stole a bicycle")
    _hold(archive, "person", f"party:{_party(archive, 'ALPHA')['id']}")
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    assert _counts(st, "wording") == {"due": 0, "held": 1, "publications": 0}
    assert st["classes"]["wording"]["overdue"] is False and st["classes"]["wording"]["oldest"] is None
    assert _counts(st, "personal") == {"due": 1, "held": 0, "publications": 1}
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    assert all(o["wording"] for o in rows(archive, "offence"))              # (the expiry kept them all)
    assert rows(archive, "hearing")[0]["list_note"] == "remanded"


def test_a_party_hold_in_one_hearing_leaves_the_other_hearing_due(archive, prof):
    """A list of two cases: a hold on ALPHA keeps the first hearing; the second's
    note, BRAVO's offence wording and BRAVO are expired -- due for every class until they are."""
    pub = _two_case_list(archive).publication_id
    alpha = _party(archive, "ALPHA")
    _hold(archive, "person", f"party:{alpha['id']}")
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    for cls in ("identity", "personal", "wording"):
        assert _counts(st, cls) == {"due": 1, "held": 0, "publications": 1}, cls
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    notes = {h["case_id"]: h["list_note"] for h in rows(archive, "hearing", publication_id=pub)}
    assert notes[alpha["case_id"]] == "note 0" and [n for c, n in notes.items() if c != alpha["case_id"]] == [None]
    assert _raw_surnames(archive) == ["ALPHA"]
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    for cls in ("identity", "personal", "wording"):
        assert _counts(st, cls) == {"due": 0, "held": 1, "publications": 0}, cls


def test_a_case_hold_on_one_of_two_cases_leaves_the_list_due(archive, prof):
    _two_case_list(archive)
    _hold(archive, "case", str(_party(archive, "BRAVO")["case_id"]))
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    for cls in ("identity", "personal", "wording"):
        assert _counts(st, cls) == {"due": 1, "held": 0, "publications": 1}, cls
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    assert _raw_surnames(archive) == ["BRAVO"]
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    assert _counts(st, "wording") == {"due": 0, "held": 1, "publications": 0} and st["overdue"] is False


def test_a_party_hold_on_another_list_changes_nothing_for_this_one(archive, prof):
    """A hold elsewhere (another list's party) changes nothing for this one."""
    plant(archive, date=LISTED, people=TWO)
    plant(archive, date=LISTED, people=[person(surname="CHARLIE")])
    _hold(archive, "person", f"party:{_party(archive, 'CHARLIE')['id']}")
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    # the first list is due; the second, one defendant held and the prosecutor (an organisation,
    # not pseudonymised yet) not, is due as well
    assert _counts(st, "identity") == {"due": 2, "held": 0, "publications": 2}
    # wording of the second is all in CHARLIE's hearing: held
    assert _counts(st, "wording") == {"due": 1, "held": 1, "publications": 1}


# --------------------------------------------------------------------------- (7) many held ids
def test_tens_of_thousands_of_held_ids_fit_one_status_query(archive, prof, monkeypatch):
    """An inquiry may hold thousands of cases, and a person hold reaches every mention of the
    person: the hold tests name each id list up to five times in one statement.  Bound, 70,000 ids
    passed PostgreSQL's 65,535 parameters and SQLite's 250,000 ("too many SQL variables"); the
    status must be the same as with the one real hold."""
    from courtarchive.store import governance as sg

    plant(archive, date=LISTED, people=TWO)
    _hold(archive, "person", f"party:{_party(archive, 'ALPHA')['id']}")
    want = retention.status(archive, profile=prof, as_of=AS_OF)["classes"]
    assert _counts({"classes": want}, "identity") == {"due": 1, "held": 0, "publications": 1}
    real = sg.hold_scopes
    far = 10_000_000                                    # ids no row has

    def many(archive, conn):
        s = real(archive, conn)
        s["party"].update({far + i: 0 for i in range(70_000)})
        s["case"].update({far + i: 0 for i in range(70_000)})
        return s

    monkeypatch.setattr(sg, "hold_scopes", many)
    assert retention.status(archive, profile=prof, as_of=AS_OF)["classes"] == want
