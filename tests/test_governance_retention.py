"""Retention: pseudonymise-on-expiry, the canary (no byte of the expired identity anywhere), holds,
dry run, resumability, idempotency, per-class periods, analysis unchanged."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from courtarchive.governance import holds, retention
from courtarchive.governance.coarse import person_identity
from courtarchive.governance.profile import DEFAULTS, load
from courtarchive.governance.pseudonym import Keyring
from courtarchive.model.declaration import ENTITIES
from courtarchive.store import governance as sg
from courtarchive.store.tables import TABLES
from test_governance_support import NOW, person, plant, rows, viewers

REPO = Path(__file__).resolve().parents[1]
KR = Keyring(bytes(range(32)))
AS_OF = dt.date(2025, 6, 1)
OLD = dt.date(2024, 3, 4)
RECENT = dt.date(2025, 5, 20)
CANARY = person(forenames="Zebedee", surname="QUIXLEY", dob=dt.date(1988, 7, 14),
                address="17 Marigold Crescent, Fulwood", postcode="PR2 9ZQ")
NEEDLES = ["zebedee", "quixley", "1988-07-14", "marigold"]
CONTROL = person(forenames="Wilhelmina", surname="FOTHERGILL", dob=dt.date(1970, 1, 2), address="3 Bramble Way")


def _party_ids(archive, surname):
    return [p["id"] for p in rows(archive, "party") if p["surname"] == surname]


def _scan_bytes(data: bytes) -> list[str]:
    low = data.lower()
    return [n for n in NEEDLES if n.encode() in low]


# --------------------------------------------------------------------------- the canary
def test_canary_no_trace_after_expiry(archive, tmp_path):
    from courtarchive.governance import distribution

    home = tmp_path / "home"
    logfile = tmp_path / "governance.log"
    handler = logging.FileHandler(logfile)
    logger = logging.getLogger("courtarchive")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        # the canary in three old lists: a URN case, a case keyed by its name (no URN), free text everywhere
        plant(archive, date=OLD, people=[CANARY], wording="stole from 17 Marigold Crescent",
              list_note="Zebedee Quixley (DOB 1988-07-14) in custody",
              detail="Section 45 of the Youth Justice and Criminal Evidence Act 1999 re Zebedee Quixley")
        plant(archive, date=OLD, people=[CANARY], no_urn=True, case_name="R v Zebedee QUIXLEY")
        plant(archive, date=dt.date(2024, 9, 30), people=[CANARY], list_type="CROWN_DAILY_LIST",
              court="Preston Crown Court")
        plant(archive, date=RECENT, people=[CONTROL])            # within the term: stays
        ids = _party_ids(archive, "QUIXLEY")
        # link stage rows and a reviewer's note quoting the name
        with archive.engine.begin() as c:
            c.execute(sa.insert(TABLES["person"]).values(id=1, kind="defendant", mentions=len(ids)))
            for i, pid in enumerate(ids):
                c.execute(sa.insert(TABLES["person_mention"]).values(id=10 + i, person_id=1, kind="defendant",
                                                                     party_id=pid))
            c.execute(sa.insert(TABLES["review_decision"]).values(
                id=1, party_a=ids[0], party_b=ids[1], decision="same", reviewer="r",
                decided_at=dt.datetime(2024, 4, 1), note="both are Zebedee Quixley of Marigold Crescent"))
        # an accredited journalist exported the canary's records before expiry
        prof = load(home=home)
        recs = [r for r in rows(archive, "party") if r["surname"] == "QUIXLEY"]
        exp = distribution.export(archive, recs, viewers()["verified_media"], purpose="journalism", keyring=KR,
                                  profile=prof, home=home, now=NOW)
        assert _scan_bytes(exp["path"].read_bytes())                 # the export did hold the identity
        stray = prof.exports_dir(home) / "old-download.csv"
        stray.write_text("QUIXLEY,Zebedee,1988-07-14\n")

        rep = retention.expire(archive, keyring=KR, as_of=AS_OF, home=home, profile=prof)
        assert rep["parties_pseudonymised"] >= 3 and rep["publications_expired"] >= 3
        assert not _scan_bytes(repr(rep).encode())

        # 1. the database: every byte of the SQLite file and its WAL; every text column on PostgreSQL
        if archive.sqlite:
            db = Path(archive.engine.url.database)
            for f in (db, Path(str(db) + "-wal"), Path(str(db) + "-shm")):
                if f.exists():
                    assert _scan_bytes(f.read_bytes()) == [], f"canary bytes left in {f.name}"
            assert b"fothergill" in db.read_bytes().lower()          # the scan does see live data
        else:
            hits = [(t, c) for t, c, v in sg.all_text_values(archive) if _scan_bytes(v.encode())]
            assert hits == [], f"canary left in {hits}"
            assert any("FOTHERGILL" in v for _, _, v in sg.all_text_values(archive))
        # 2. exports (registered and stray files in the exports cache) and 3. logs
        for f in prof.exports_dir(home).rglob("*"):
            assert not f.is_file() or _scan_bytes(f.read_bytes()) == [], f
        assert not exp["path"].exists() and not stray.exists()
        handler.flush()
        assert logfile.read_bytes() and _scan_bytes(logfile.read_bytes()) == []
        # links survive: the three mentions carry one token, and the person still holds them
        toks = {p["surname"] for p in rows(archive, "party") if p["id"] in ids}
        assert len(toks) == 1 and next(iter(toks)).startswith("~p:")
        assert len(rows(archive, "person_mention", person_id=1)) == 3
    finally:
        logger.removeHandler(handler)


# --------------------------------------------------------------------------- analysis survives
def test_analysis_counts_equal_before_and_after(archive):
    twin = person(forenames="Zebedee", surname="QUIXLEY", dob=dt.date(1990, 1, 1))     # same name, other DOB
    plant(archive, date=OLD, people=[CANARY, CONTROL])
    plant(archive, date=OLD, people=[CANARY])
    plant(archive, date=OLD, people=[twin, person(forenames="Ann", surname="LEE", dob=None)])
    plant(archive, date=RECENT, people=[CANARY])

    def analysis():
        defs = [p for p in rows(archive, "party") if p["role"] == "DEFENDANT"]
        per_case = Counter(p["case_id"] for p in defs)
        persons = {(p["surname"] if p["pseudonymised"] else "~p:" + KR.token("person", person_identity(p)))
                   for p in defs}
        return sorted(per_case.items()), len(persons), archive.stats()

    before = analysis()
    retention.expire(archive, keyring=KR, as_of=AS_OF)
    after = analysis()
    assert before == after
    assert before[1] == 4          # canary (3 mentions, one raw still), control, twin, Ann Lee


# --------------------------------------------------------------------------- holds
def _three_cases(archive):
    w1 = plant(archive, date=OLD, people=[person(surname="ALPHA")])
    w2 = plant(archive, date=OLD, people=[person(surname="BRAVO")])
    w3 = plant(archive, date=OLD, people=[person(surname="CHARLIE")], court="Blackburn Magistrates' Court")
    return [rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"] for w in (w1, w2, w3)]


def _raw_surnames(archive):
    return sorted(p["surname"] for p in rows(archive, "party") if p["surname"] and not p["surname"].startswith("~p:"))


@pytest.mark.parametrize("scope", ["case", "court", "person", "archive"])
def test_hold_stops_expiry_for_its_scope_only(archive, scope, caplog):
    c1, c2, c3 = _three_cases(archive)
    alpha = _party_ids(archive, "ALPHA")[0]
    ref = {"case": str(c1), "court": "Preston Magistrates' Court", "person": f"party:{alpha}", "archive": None}[scope]
    hid = holds.add(archive, scope=scope, ref=ref, reason="claim against us", authority="solicitor's letter",
                    actor="dpo")
    with caplog.at_level(logging.INFO, logger="courtarchive.governance"):
        rep = retention.expire(archive, keyring=KR, as_of=AS_OF)
    held = {"case": ["ALPHA"], "court": ["ALPHA", "BRAVO"], "person": ["ALPHA"],
            "archive": ["ALPHA", "BRAVO", "CHARLIE"]}[scope]
    assert _raw_surnames(archive) == held
    assert rep["held"][str(hid)] > 0 and f"legal hold {hid}" in caplog.text
    pubs = {p["id"]: p["raw_expired_at"] for p in rows(archive, "publication")}
    assert sum(v is None for v in pubs.values()) == len(held)
    # release: the next run catches up
    holds.release(archive, hid, actor="dpo", reason="claim settled")
    retention.expire(archive, keyring=KR, as_of=AS_OF)
    assert _raw_surnames(archive) == []


def test_person_hold_follows_linked_person(archive):
    plant(archive, date=OLD, people=[person(surname="ALPHA"), person(surname="BRAVO", dob=dt.date(1977, 1, 1))])
    plant(archive, date=OLD, people=[person(surname="ALPHA")])
    ids = _party_ids(archive, "ALPHA")
    with archive.engine.begin() as c:
        c.execute(sa.insert(TABLES["person"]).values(id=5, kind="defendant", mentions=2))
        for i, pid in enumerate(ids):
            c.execute(sa.insert(TABLES["person_mention"]).values(id=50 + i, person_id=5, kind="defendant", party_id=pid))
    holds.add(archive, scope="person", ref="5", reason="r", authority="a", actor="dpo")
    retention.expire(archive, keyring=KR, as_of=AS_OF)
    assert _raw_surnames(archive) == ["ALPHA", "ALPHA"]        # the co-defendant in the same case expired


def test_hold_validation(archive):
    _three_cases(archive)
    with pytest.raises(holds.HoldError):
        holds.add(archive, scope="case", ref="NOPE", reason="r", authority="a", actor="dpo")
    with pytest.raises(holds.HoldError):
        holds.add(archive, scope="planet", ref=None, reason="r", authority="a", actor="dpo")
    with pytest.raises(holds.HoldError):
        holds.add(archive, scope="archive", ref=None, reason="", authority="a", actor="dpo")


# --------------------------------------------------------------------------- the job
def test_dry_run_changes_nothing_and_matches_the_run(archive):
    _three_cases(archive)
    plant(archive, date=RECENT)
    before = rows(archive, "party")
    dry = retention.expire(archive, keyring=KR, as_of=AS_OF, dry_run=True)
    assert rows(archive, "party") == before and rows(archive, "retention_run") == []
    real = retention.expire(archive, keyring=KR, as_of=AS_OF)
    for k in ("publications", "publications_expired", "parties_pseudonymised", "fields"):
        assert dry[k] == real[k], k
    assert dry["parties_pseudonymised"] == 6          # 3 defendants + 3 prosecutors (organisations: no change)


def test_resumable_and_idempotent(archive, monkeypatch):
    _three_cases(archive)
    calls = {"n": 0}
    real_apply = sg.apply_updates

    def dying(conn, table, upd):
        if table == "party":
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt("killed")
        return real_apply(conn, table, upd)

    monkeypatch.setattr(sg, "apply_updates", dying)
    with pytest.raises(KeyboardInterrupt):
        retention.expire(archive, keyring=KR, as_of=AS_OF, batch_size=1)
    assert len(_raw_surnames(archive)) == 2                    # batch 1 committed, batch 2 rolled back
    assert rows(archive, "retention_run")[0]["status"] == "failed"
    monkeypatch.setattr(sg, "apply_updates", real_apply)
    rep = retention.expire(archive, keyring=KR, as_of=AS_OF, batch_size=1)
    assert _raw_surnames(archive) == [] and rep["publications_expired"] == 2
    again = retention.expire(archive, keyring=KR, as_of=AS_OF)
    assert again["publications"] == 0 and again["fields"] == {}
    snapshot = rows(archive, "party")
    retention.expire(archive, keyring=KR, as_of=AS_OF)
    assert rows(archive, "party") == snapshot


def test_periods_per_data_class(archive, tmp_path):
    prof_file = tmp_path / "p.toml"
    prof_file.write_text("[retention.classes]\nidentity = 6\npersonal = 6\nwording = 24\n")
    prof = load(prof_file)
    plant(archive, date=OLD, wording="stole from Larkspur Lane")
    retention.expire(archive, keyring=KR, as_of=AS_OF, profile=prof)
    [o] = rows(archive, "offence")
    [pub] = rows(archive, "publication")
    assert _raw_surnames(archive) == [] and o["wording"] == "stole from Larkspur Lane"
    assert pub["raw_expired_at"] is None                        # wording still raw
    retention.expire(archive, keyring=KR, as_of=dt.date(2026, 4, 1), profile=prof)
    assert rows(archive, "offence")[0]["wording"] is None and rows(archive, "publication")[0]["raw_expired_at"]


def test_raw_personal_months_is_the_term_of_every_class_the_profile_does_not_name(archive, tmp_path):
    """A licence of 3 months (``raw_personal_months = 3``, as profiles/default.toml says to set it)
    kept raw identities for 6: the built-in classes (6 each) won over it."""
    prof_file = tmp_path / "p.toml"
    prof_file.write_text("[retention]\nraw_personal_months = 3\n[retention.classes]\nwording = 1\n")
    prof = load(prof_file)
    assert {c: prof.months(c) for c in ("identity", "personal", "wording")} == \
        {"identity": 3, "personal": 3, "wording": 1}
    plant(archive, date=AS_OF - dt.timedelta(days=120))         # 4 months old: beyond a 3-month licence
    rep = retention.expire(archive, keyring=KR, as_of=AS_OF, profile=prof)
    assert rep["publications_expired"] == 1 and _raw_surnames(archive) == []
    assert retention.status(archive, profile=prof, as_of=AS_OF)["limit_months"] == 3


# --------------------------------------------------------------------------- the profile
def test_default_profile_file_equals_builtin():
    assert load(REPO / "profiles" / "default.toml").data == DEFAULTS
    assert load().processors == []                              # no external processor by default


def test_every_personal_field_has_an_expiry_action():
    listed = {(a.table, a.field) for a in load().field_actions()}
    for e in ENTITIES.values():
        for f in e.fields:
            if f.stored and f.sensitivity in ("identity", "personal", "wording"):
                assert (e.name, f.name) in listed, f"{e.name}.{f.name} has no expiry action in the profile"


@pytest.mark.parametrize("size", [0, -5, 1.5, True])
def test_batch_size_below_one_is_refused(archive, size):
    """0 fell back to the profile's size and -5 became SQLite's unlimited ``LIMIT -5``."""
    plant(archive, date=dt.date(2024, 1, 10))
    with pytest.raises(ValueError, match="at least 1"):
        retention.expire(archive, keyring=KR, as_of=AS_OF, batch_size=size)
    assert rows(archive, "retention_run") == [] and rows(archive, "party")[0]["surname"] == "QUIXLEY"
    assert retention.expire(archive, keyring=KR, as_of=AS_OF, batch_size=1)["batches"] == 1
    assert rows(archive, "party")[0]["surname"].startswith("~p:")
