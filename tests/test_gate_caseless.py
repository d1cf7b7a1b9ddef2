"""Hearings of no case (no URN, case number or case name: an SJP public list's, a register row
without them) get the restriction rules too, as a case of one hearing.  Until session 15 the gate
evaluated rules per case only, so a youth court sitting's 12-year-old listed without a case number
was named on the day list to verified media and admins, with no s.49 flag; and name search dropped
the hits of such hearings from the page while counting them in the total."""

from __future__ import annotations

import datetime as dt

import orjson

from test_governance_support import viewers

from courtarchive.governance.gate import disclose
from courtarchive.model.records import Hearing, Offence, ParsedList, Party, PublicationMeta
from courtarchive.store import serve as ss

DAY = dt.date(2024, 3, 4)


def _caseless(archive, *, panel: str, forenames: str, surname: str, age: int | None, n: int) -> None:
    p = ParsedList(meta=PublicationMeta(list_type="MAGISTRATES_STANDARD_LIST", sensitivity="CLASSIFIED",
                                        court_name="Preston Magistrates' Court", content_date=DAY, version=str(n),
                                        published_at=dt.datetime(2024, 3, 4, 8, n), source_name=f"caseless-{n}.json"))
    p.hearings.append(Hearing(json_path="$.h[0]", court_name="Preston Magistrates' Court", sitting_date=DAY,
                              sitting_time="10:00", room=str(n), hearing_type="First hearing", panel=panel))
    p.parties.append(Party(json_path="$.h[0].p[0]", hearing_ref=0, role="DEFENDANT", forenames=forenames,
                           surname=surname, age=age, name_as_listed=f"{surname}, {forenames}"))
    p.offences.append(Offence(json_path="$.h[0].p[0].o[0]", party_ref=0, seq=1, code="TH68001", title="Theft",
                              wording="Stole a bicycle"))
    archive.write(p, content_hash=f"caseless-{n}")


def _court(archive) -> int:
    with archive.engine.connect() as c:
        return c.exec_driver_sql("SELECT min(court_id) FROM hearing").scalar()


def test_a_youth_on_a_hearing_of_no_case_is_protected(archive):
    _caseless(archive, panel="YOUTH", forenames="Kit", surname="YOUNGLING", age=12, n=1)
    _caseless(archive, panel="ADULT", forenames="Ada", surname="GROWNUP", age=40, n=2)
    with archive.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM hearing WHERE case_id IS NULL").scalar() == 2
    now = dt.datetime(2025, 6, 1, 12)
    for role, purpose in (("verified_media", "journalism"), ("admin", "administration")):
        d = disclose(ss.day_lists(archive, _court(archive), DAY), viewers(now)[role], purpose=purpose,
                     context={"archive": archive, "output": "web", "audit": False, "now": now})
        text = orjson.dumps(d.records, default=str).decode()
        assert "YOUNGLING" not in text and "Kit" not in text, role
        assert "GROWNUP" in text, role                               # an adult's hearing of no case: shown
        [flag] = [f for f in d.flags if f["flag"] == "restriction" and f["rule"] == "cypa_s49"]
        assert flag["case_id"] is None and isinstance(flag["hearing_id"], int) and flag["until"] is None


def test_name_search_finds_hearings_of_no_case_and_withholds_their_youths(archive):
    from courtarchive.serve import search as S
    from courtarchive.serve import views as V

    _caseless(archive, panel="YOUTH", forenames="Kit", surname="YOUNGLING", age=12, n=1)
    _caseless(archive, panel="ADULT", forenames="Ada", surname="GROWNUP", age=40, n=2)
    S.refresh(archive)
    p = V.Portal(archive=archive)
    media = viewers(dt.datetime.now())["verified_media"]
    res = V.search(p, media, "Ada Grownup", mode="name", output="api")
    assert res["total"] == 1 and len(res["hits"]) == 1              # was: total 1, no hit shown
    hit = res["hits"][0]
    assert hit["case"] is None and hit["party"]["surname"] == "GROWNUP" and hit["hearing"]["court"]
    res = V.search(p, media, "Kit Youngling", mode="name", output="api")
    assert res["total"] == 0 and not res["hits"]                    # the youth: not found, not counted
