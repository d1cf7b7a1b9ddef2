"""Helpers shared by the governance tests (planting lists, viewers of every role)."""

from __future__ import annotations

import datetime as dt
import itertools

from courtarchive.governance.policy import Verification, Viewer
from courtarchive.model import Hearing, Offence, ParsedList, Party, PublicationMeta

_seq = itertools.count(1)

NOW = dt.datetime(2025, 6, 1, 12, 0)


def viewers(now: dt.datetime = NOW) -> dict[str, Viewer]:
    ver = Verification(press_card="UKPC-123", employer="Lancashire Post", verified_by="desk.editor",
                       verified_at=now - dt.timedelta(days=10))
    return {
        "public": Viewer.public(),
        "verified_media": Viewer("reporter", "verified_media", organisation="Lancashire Post",
                                 email="reporter@lancashirepost.co.uk", verification=ver),
        "analyst": Viewer("analyst1", "analyst"),
        "admin": Viewer("admin1", "admin"),
    }


#: purposes each role would use (so personal-level data is released where the role allows it)
PURPOSE = {"public": "public_interest", "verified_media": "journalism", "analyst": "analysis",
           "admin": "administration"}


def person(forenames="Zebedee", surname="QUIXLEY", dob=dt.date(1988, 7, 14),
           address="17 Marigold Crescent, Fulwood", postcode="PR2 9ZQ", town="Preston", age=36, role="DEFENDANT"):
    return dict(forenames=forenames, surname=surname, date_of_birth=dob, address=address, postcode=postcode,
                town=town, age=age, role=role)


def retention_profile(tmp_path, monkeypatch, classes: str, name: str = "home"):
    """A profile whose ``[retention.classes]`` are ``classes`` ("identity = 24\npersonal = 6"), in a
    home folder ``name`` of its own (``COURTARCHIVE_PROFILE`` unset so that it is the one read)."""
    from courtarchive.governance.profile import load

    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    home = tmp_path / name
    home.mkdir()
    (home / "profile.toml").write_text(f"[retention.classes]\n{classes}\n", "utf-8")
    return load(home=home)


def plant(archive, *, date=dt.date(2024, 3, 4), sensitivity="CLASSIFIED", urn=None, people=None,
          code="TH68001", title="Theft", wording="Stole a bicycle worth £200", legislation=None,
          panel="ADULT", hearing_type="First hearing", detail=None, flagged=None, list_type="MAGISTRATES_STANDARD_LIST",
          court="Preston Magistrates' Court", list_note=None, case_name=None, no_urn=False, plea=None):
    """Write one list with one hearing of one case; returns the WriteResult."""
    n = next(_seq)
    urn = None if no_urn else (urn or f"06ZZ{n:07d}")
    people = people or [person()]
    p = ParsedList(meta=PublicationMeta(list_type=list_type, sensitivity=sensitivity, court_name=court,
                                        content_date=date, version="1", published_at=dt.datetime.combine(date, dt.time(8)),
                                        source_name=f"list-{n}.json"))
    p.hearings.append(Hearing(json_path="$.h[0]", court_name=court, sitting_date=date, sitting_time="10:00",
                              room="1", hearing_type=hearing_type, case_urn=urn, case_number=f"CN{n}", panel=panel,
                              reporting_restriction=flagged if flagged is not None else bool(detail),
                              reporting_restriction_detail=detail, list_note=list_note, case_name=case_name))
    for i, pp in enumerate(people):
        p.parties.append(Party(json_path=f"$.h[0].p[{i}]", hearing_ref=0, role=pp.get("role", "DEFENDANT"),
                               forenames=pp["forenames"], surname=pp["surname"], date_of_birth=pp.get("date_of_birth"),
                               age=pp.get("age"), address=pp.get("address"), postcode=pp.get("postcode"),
                               town=pp.get("town"), name_as_listed=f"{pp['surname']}, {pp['forenames']}"))
        p.offences.append(Offence(json_path=f"$.h[0].p[{i}].o[0]", party_ref=i, seq=1, code=code, title=title,
                                  wording=wording, legislation=legislation, plea=plea))
    p.parties.append(Party(json_path="$.h[0].p[x]", hearing_ref=0, role="PROSECUTING_AUTHORITY",
                           organisation_name="Crown Prosecution Service"))
    return archive.write(p, content_hash=f"plant-{n}")


def four_roles(archive, now: dt.datetime, *, media_email: str = "r@post.example") -> None:
    """The accounts of the four roles: boss (admin), reporter (verified media, press card checked
    five days before ``now``), analyst1 (analyst); public needs none."""
    from courtarchive.governance import accounts

    accounts.add(archive, username="boss", role="admin", actor="dpo", email="boss@archive.example")
    accounts.add(archive, username="reporter", role="verified_media", actor="dpo", email=media_email,
                 organisation="Lancashire Post")
    accounts.verify(archive, username="reporter", press_card="UKPC-9", verified_by="desk",
                    when=now - dt.timedelta(days=5))
    accounts.add(archive, username="analyst1", role="analyst", actor="dpo", email="a@uni.example")


def rows(archive, table, **where):
    import sqlalchemy as sa

    from courtarchive.store.tables import TABLES

    t = TABLES[table]
    q = sa.select(t).order_by(t.c.id)
    for k, v in where.items():
        q = q.where(t.c[k] == v)
    with archive.engine.connect() as c:
        return [dict(r._mapping) | {"_entity": table} for r in c.execute(q)]


def case_records(archive, case_id):
    """Everything of a case as tagged records (what an output path would pass to the gate)."""
    return (rows(archive, "case", id=case_id) + rows(archive, "hearing", case_id=case_id)
            + rows(archive, "party", case_id=case_id) + rows(archive, "offence", case_id=case_id)
            + rows(archive, "complainant", case_id=case_id))


def text_of(disclosure) -> str:
    """Every value of every disclosed record and flag, as one string (to search for leaks)."""
    import orjson

    return orjson.dumps({"r": disclosure.records, "f": disclosure.flags}, default=str,
                        option=orjson.OPT_NON_STR_KEYS).decode()
