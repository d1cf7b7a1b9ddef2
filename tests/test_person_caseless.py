"""A person's hearings of no case (no URN, case number or case name: an SJP public list's, a register
row or a PDF/Excel list without them) on the person page (web and ``/api/v1/persons``) and in the
export of a name search.  Both had used the store's case trees only, so a defendant
linked to an SJP public-list hearing showed fewer appearances than the name search found, and a
name search's export left out the hits that search showed with no case.  They go through the gate
as name search's caseless hits do: a youth court sitting's child listed without a case number is
named to no role, and the s.49 flag carries the hearing's id."""

from __future__ import annotations

import csv
import datetime as dt
import io

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from test_governance_support import person, plant, rows, viewers

from courtarchive.governance import accounts
from courtarchive.governance.pseudonym import Keyring
from courtarchive.model.records import Hearing, Offence, ParsedList, Party, PublicationMeta
from courtarchive.store import linkage as sl
from courtarchive.store import serve as ss

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DAY = dt.date(2024, 3, 4)
COURT = "Preston Magistrates' Court"
LABEL = "listed without a case number"
NOW = dt.datetime.now()


def _caseless(archive, *, panel: str, forenames: str, surname: str, age: int | None, n: int,
              day: dt.date = DAY) -> int:
    """One SJP public list with one hearing of no case naming one defendant; returns the party id."""
    p = ParsedList(meta=PublicationMeta(list_type="SJP_PUBLIC_LIST", sensitivity="PUBLIC", court_name=COURT,
                                        content_date=day, version=str(n), published_at=dt.datetime.combine(day, dt.time(8, n)),
                                        source_name=f"sjp-{n}.json"))
    p.hearings.append(Hearing(json_path="$.h[0]", court_name=COURT, sitting_date=day, sitting_time="10:00",
                              room=str(n), hearing_type="First hearing", panel=panel))
    p.parties.append(Party(json_path="$.h[0].p[0]", hearing_ref=0, role="DEFENDANT", forenames=forenames,
                           surname=surname, age=age, name_as_listed=f"{surname}, {forenames}"))
    p.offences.append(Offence(json_path="$.h[0].p[0].o[0]", party_ref=0, seq=1, code="TH68001",
                              title="Theft from a shop", wording="Stole a bicycle"))
    w = archive.write(p, content_hash=f"sjp-{n}")
    [party] = [r for r in rows(archive, "party") if r["publication_id"] == w.publication_id]
    assert party["case_id"] is None
    return party["id"]


def _defendant_party(archive, urn: str) -> int:
    case_id = next(c["id"] for c in rows(archive, "case") if c["urn"] == urn)
    return next(p["id"] for p in rows(archive, "party") if p["case_id"] == case_id and p["role"] == "DEFENDANT")


def _persons(archive, *groups: list[int]) -> list[int]:
    """Link each group of mentions as one defendant person, as the link stage would (a run writes
    the assignment of every mention: the ones made before are kept)."""
    run = sl.start_run(archive, mode="full", engine="test", threshold=0.9, review_low=0.5, review_high=0.9)
    ids = sl.take_ids(archive, "person", len(groups))
    had = sl.person_assignments(archive, "defendant")
    mentions = list(zip(had["mention_id"].to_pylist(), had["person_id"].to_pylist()))
    mentions += [(m, pid) for pid, g in zip(ids, groups) for m in g]
    sl.save_persons(archive, run, "defendant",
                    pa.table({"mention_id": pa.array([m for m, _ in mentions], pa.int64()),
                              "person_id": pa.array([pid for _, pid in mentions], pa.int64()),
                              "probability": pa.array([1.0] * len(mentions), pa.float64())}),
                    created=ids)
    sl.finish_run(archive, run)
    return ids


@pytest.fixture
def people(archive):
    """Ada GROWNUP (adult): one case and one SJP hearing of no case, one person.  Kit YOUNGLING (12):
    a youth court sitting listed without a case number, a person of one mention."""
    plant(archive, date=dt.date(2024, 2, 1), sensitivity="PUBLIC", urn="06PL0000009",
          people=[person(forenames="Ada", surname="GROWNUP", age=40)])
    ada_sjp = _caseless(archive, panel="ADULT", forenames="Ada", surname="GROWNUP", age=40, n=1)
    kit = _caseless(archive, panel="YOUTH", forenames="Kit", surname="YOUNGLING", age=12, n=2)
    ada_hearing = next(p["hearing_id"] for p in rows(archive, "party") if p["id"] == ada_sjp)
    kit_hearing = next(p["hearing_id"] for p in rows(archive, "party") if p["id"] == kit)
    ada, kid = _persons(archive, [_defendant_party(archive, "06PL0000009"), ada_sjp], [kit])
    return {"ada": ada, "kit": kid, "ada_hearing": ada_hearing, "kit_hearing": kit_hearing}


def test_person_cases_return_the_hearings_of_no_case(archive, people):
    """The store: a person's records are their case trees and, after them, each hearing of no case
    they are listed in, as a hearing record with their mention (was: the cases only)."""
    recs = ss.person_cases(archive, people["ada"])
    assert [r["_entity"] for r in recs] == ["case", "hearing"]
    h = recs[1]
    assert h["id"] == people["ada_hearing"] and h["case_id"] is None and h["court"] == COURT
    assert [(pa_["surname"], [o["title"] for o in pa_["offences"]]) for pa_ in h["parties"]] == \
        [("GROWNUP", ["Theft from a shop"])]
    assert [r["_entity"] for r in ss.person_cases(archive, people["kit"])] == ["hearing"]


def test_person_view_shows_the_hearing_of_no_case_as_the_gate_releases_it(archive, people):
    from courtarchive.serve import views as V

    p = V.Portal(archive=archive)
    vs = viewers(NOW)
    res = V.person(p, vs["verified_media"], people["ada"], output="api")
    assert len(res["cases"]) == 1 and res["cases"][0]["urn"] == "06PL0000009"
    [h] = res["caseless_hearings"]                                   # was: left out
    assert h["id"] == people["ada_hearing"] and h["case_id"] is None and "_redacted" in h   # (gated)
    assert h["parties"][0]["surname"] == "GROWNUP" and h["parties"][0]["offences"][0]["title"] == "Theft from a shop"
    assert res["variants"] == [("GROWNUP, Ada", 2)]                  # both mentions' names as listed
    # the public: the hearing, not the name
    res = V.person(p, vs["public"], people["ada"], output="api")
    [h] = res["caseless_hearings"]
    assert h["parties"][0]["surname"] is None and "surname" in h["parties"][0]["_redacted"]
    assert "GROWNUP" not in orjson.dumps(res, default=str).decode() and res["variants"] == []


@pytest.mark.parametrize("role", ["verified_media", "admin", "analyst", "public"])
def test_a_youths_hearing_of_no_case_on_the_person_page_is_withheld_and_flagged(archive, people, role):
    from courtarchive.serve import views as V

    res = V.person(V.Portal(archive=archive), viewers(NOW)[role], people["kit"], output="api")
    text = orjson.dumps(res, default=str).decode()
    assert "YOUNGLING" not in text and "Kit" not in text, role
    [h] = res["caseless_hearings"]
    assert h["id"] == people["kit_hearing"] and "cypa_s49" in h["_restrictions"]
    assert h["parties"][0]["surname"] is None and res["variants"] == []
    [flag] = [f for f in res["flags"] if f["flag"] == "restriction" and f["rule"] == "cypa_s49"]
    assert flag["case_id"] is None and flag["hearing_id"] == people["kit_hearing"] and flag["until"] is None


@pytest.fixture
def web(archive, people, tmp_path):
    from courtarchive.serve import auth
    from courtarchive.serve.app import create_app
    from courtarchive.serve.deps import WebSettings

    accounts.add(archive, username="reporter", role="verified_media", actor="dpo", email="r@lancashirepost.co.uk",
                 organisation="Lancashire Post")
    accounts.verify(archive, username="reporter", press_card="UKPC-9", verified_by="desk",
                    when=NOW - dt.timedelta(days=5))
    accounts.add(archive, username="boss", role="admin", actor="dpo", email="boss@archive.example")
    tokens = {u: auth.create_token(archive, u, name="tests", actor="setup")["token"] for u in ("reporter", "boss")}
    ws = WebSettings(db_url=archive.url, home=tmp_path / "home", reports_dir=tmp_path / "reports")
    app = create_app(archive.url, settings=ws)
    app.state.portal.keyring = Keyring(bytes(range(32)))
    heads = {"public": {}, **{r: {"Authorization": f"Bearer {tokens[u]}"}
                              for r, u in (("verified_media", "reporter"), ("admin", "boss"))}}
    yield TestClient(app), heads
    app.state.portal.archive.close()


def test_person_page_and_api_show_the_hearing_of_no_case(web, people):
    c, heads = web
    for role, h in heads.items():
        names = role != "public"
        r = c.get(f"/persons/{people['ada']}", headers=h)
        assert r.status_code == 200, r.text
        assert "case 06PL0000009" in r.text and LABEL in r.text, role
        assert "2024-03-04" in r.text and "Theft from a shop" in r.text
        assert ("GROWNUP" in r.text) == names, role
        j = c.get(f"/api/v1/persons/{people['ada']}", headers=h)
        assert j.status_code == 200, j.text
        j = j.json()
        assert [x["urn"] for x in j["cases"]] == ["06PL0000009"]
        [hh] = j["caseless_hearings"]
        assert hh["case_id"] is None and hh["id"] == people["ada_hearing"] and hh["sitting_date"] == "2024-03-04"
        assert hh["parties"][0]["surname"] == ("GROWNUP" if names else None), role
        # the youth: the hearing, flagged; the child named to no role
        r = c.get(f"/persons/{people['kit']}", headers=h)
        assert r.status_code == 200 and LABEL in r.text and "restricted" in r.text
        assert "Children and Young Persons Act 1933 s.49" in r.text
        assert "YOUNGLING" not in r.text and "No case you may see" not in r.text, role
        j = c.get(f"/api/v1/persons/{people['kit']}", headers=h).json()
        assert "YOUNGLING" not in str(j) and j["caseless_hearings"][0]["_restrictions"] == ["cypa_s49"]
        assert any(f.get("rule") == "cypa_s49" and f["hearing_id"] == people["kit_hearing"] for f in j["flags"])


def _csv_rows(body: bytes) -> list[dict]:
    lines = body.decode("utf-8").splitlines()
    assert lines[0].startswith("# courtarchive export #")
    return list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))


def _objects(event: dict) -> dict[str, set[int]]:
    """An audit event's objects (``party:1,2;hearing:5``) by entity."""
    out: dict[str, set[int]] = {}
    for part in filter(None, (event["object"] or "").split(";")):
        ent, _, ids = part.partition(":")
        out[ent] = {int(i) for i in ids.split(",") if i}
    return out


def test_name_search_export_includes_hearings_of_no_case(archive, people, tmp_path):
    """The export finds what the search finds: a name listed only on an SJP list, its hearing of no
    case (case columns empty), gated and audited; the youth neither exported nor counted."""
    from courtarchive.serve import search as S
    from courtarchive.serve import views as V
    from courtarchive.store import governance as sg

    accounts.add(archive, username="reporter", role="verified_media", actor="dpo", email="r@lancashirepost.co.uk",
                 organisation="Lancashire Post")
    accounts.verify(archive, username="reporter", press_card="UKPC-9", verified_by="desk",
                    when=NOW - dt.timedelta(days=5))
    media = accounts.viewer(archive, "reporter")
    cyd = _caseless(archive, panel="ADULT", forenames="Cyd", surname="LONEWAY", age=33, n=4)   # (no person)
    cyd_hearing = next(p["hearing_id"] for p in rows(archive, "party") if p["id"] == cyd)
    S.refresh(archive)
    p = V.Portal(archive, keyring=Keyring(bytes(range(32))), home=tmp_path / "home")
    [hit] = V.search(p, media, "Cyd Loneway", mode="name", output="api")["hits"]
    assert hit["case"] is None and hit["hearing"]["id"] == cyd_hearing
    before = max(e["seq"] for e in sg.audit_events(archive))
    res = V.export(p, media, "search", "csv", q="Cyd Loneway", mode="name")
    got = _csv_rows(res["body"])
    assert res["rows"] == len(got) == 1, res["body"][:600]          # was: 0 rows
    [row] = got
    assert row["party.surname"] == "LONEWAY" and row["hearing.id"] == str(cyd_hearing)
    assert row["hearing.case_id"] == "" and row["offence.title"] == "Theft from a shop"
    assert not any(v for k, v in row.items() if k.startswith("case."))       # (no case: none)
    [ev] = [e for e in sg.audit_events(archive, action="export") if e["seq"] > before]
    assert ev["actor"] == "reporter" and ev["details"]["records"] == 1 and ev["details"]["withheld"] == {}
    assert _objects(ev).get("hearing") == {cyd_hearing} and "case" not in _objects(ev)
    res = V.export(p, media, "search", "parquet", q="Cyd Loneway", mode="name")
    [t] = pq.read_table(io.BytesIO(res["body"])).to_pylist()
    assert t["party.surname"] == "LONEWAY" and t["hearing.case_id"] is None
    # the youth: not exported, not counted
    before = max(e["seq"] for e in sg.audit_events(archive))
    res = V.export(p, media, "search", "csv", q="Kit Youngling", mode="name")
    assert res["rows"] == 0 and b"YOUNGLING" not in res["body"] and b"Kit" not in res["body"]
    [ev] = [e for e in sg.audit_events(archive, action="export") if e["seq"] > before]
    assert ev["details"]["records"] == 0 and ev["details"]["withheld"] == {}


def test_name_search_export_of_a_case_and_a_hearing_of_no_case(archive, tmp_path):
    """Two people of one name, one in a case, one on an SJP list only: both exported, the hearing
    of no case with its case columns empty."""
    from courtarchive.serve import search as S
    from courtarchive.serve import views as V

    plant(archive, date=dt.date(2024, 2, 1), sensitivity="PUBLIC", urn="06PL0000019",
          people=[person(forenames="Bea", surname="TWOFOLD", age=50, dob=dt.date(1974, 1, 1))])
    sjp = _caseless(archive, panel="ADULT", forenames="Bea", surname="TWOFOLD", age=30, n=3)
    _persons(archive, [_defendant_party(archive, "06PL0000019")])
    _persons(archive, [sjp])                                          # (a later run: both kept)
    accounts.add(archive, username="boss", role="admin", actor="dpo", email="boss@archive.example")
    admin = accounts.viewer(archive, "boss")
    S.refresh(archive)
    p = V.Portal(archive, keyring=Keyring(bytes(range(32))), home=tmp_path / "home")
    hits = V.search(p, admin, "Bea Twofold", mode="name", output="api")["hits"]
    assert sorted(h["case"] is None for h in hits) == [False, True]
    got = _csv_rows(V.export(p, admin, "search", "csv", q="Bea Twofold", mode="name")["body"])
    by = {r["case.urn"]: r for r in got}
    assert set(by) == {"06PL0000019", ""} and len(got) == 2                  # was: the case's row only
    assert by[""]["party.surname"] == "TWOFOLD" and by[""]["case.id"] == "" and by[""]["hearing.case_id"] == ""


def test_name_search_export_has_the_last_word_on_a_withheld_name(archive, people, tmp_path, monkeypatch):
    """The export of a name search keeps a record only where the gate shows the name searched (as the
    search page does), not only where the search's probe let the hit through: with the probe letting
    everything through, the youth's hearing is still not exported."""
    from courtarchive.serve import search as S
    from courtarchive.serve import views as V

    accounts.add(archive, username="boss", role="admin", actor="dpo", email="boss@archive.example")
    admin = accounts.viewer(archive, "boss")
    S.refresh(archive)
    p = V.Portal(archive, keyring=Keyring(bytes(range(32))), home=tmp_path / "home")
    monkeypatch.setattr(V, "_withheld_names", lambda *a, **k: (lambda pairs: set()))
    res = V.export(p, admin, "search", "csv", q="Kit Youngling", mode="name")
    assert res["rows"] == 0 and b"YOUNGLING" not in res["body"]
    assert V.export(p, admin, "search", "csv", q="Ada Grownup", mode="name")["rows"] >= 1
