"""Contempt risk (CCA 1981 ss.1-2, gate step 6) and hearings of no case.  A shareable output keeps
only the subject case of a defendant with active proceedings; their other matters are withheld.  A
hearing of no case (an SJP public list's entry, a register row without a number) is such a matter
too -- the gate counted cases only, so a person page shown to the public listed an SJP appearance
beside the active case while withholding an older case.  A hearing of no case on a day one of the
person's cases sits is that case's own listing (an SJP public list's entry beside the press list's,
which has the case): one matter, shown with it."""

from __future__ import annotations

import datetime as dt

import pytest

from test_governance_support import person, plant, rows, viewers
from test_person_caseless import _caseless, _defendant_party, _persons


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NOW = dt.datetime.now()
RECENT = dt.date.today() - dt.timedelta(days=10)
ADA = dict(forenames="Ada", surname="GROWNUP", age=40)


def _sjp_public(archive, day: dt.date, n: int) -> int:
    """One SJP public list naming Ada in a hearing of no case on ``day``; returns the party id."""
    return _caseless(archive, panel="ADULT", day=day, n=n, **ADA)


def _person_page(archive, role: str, person_id: int) -> dict:
    from courtarchive.serve import views as V

    return V.person(V.Portal(archive=archive), viewers(NOW)[role], person_id, output="person_page")


def test_a_hearing_of_no_case_is_another_matter_beside_an_active_case(archive):
    plant(archive, date=RECENT, sensitivity="PUBLIC", urn="06PL0000077", people=[person(**ADA)])
    plant(archive, date=dt.date(2024, 1, 5), sensitivity="PUBLIC", urn="06PL0000078", people=[person(**ADA)])
    sjp = _sjp_public(archive, dt.date(2024, 6, 3), 1)
    [ada] = _persons(archive, [_defendant_party(archive, "06PL0000077"), _defendant_party(archive, "06PL0000078"),
                               sjp])
    sjp_hearing = next(p["hearing_id"] for p in rows(archive, "party") if p["id"] == sjp)
    for role in ("public", "verified_media"):          # the person page is shareable
        res = _person_page(archive, role, ada)
        assert [c["urn"] for c in res["cases"]] == ["06PL0000077"], role
        assert res["caseless_hearings"] == [], role            # was: the SJP appearance, shown
        assert res["withheld"].get("contempt_other_case") == 2, role
        [flag] = [f for f in res["flags"] if f["flag"] == "contempt_risk"]
        assert flag["hearings_of_no_case"] == [sjp_hearing] and flag["active_hearings_of_no_case"] == []
        assert len(flag["cases"]) == 2 and flag["action"] == "other cases withheld (shareable output)"


def test_an_sjp_public_entry_on_the_day_of_the_persons_case_is_that_case(archive):
    """The press list names the case, the public list the same defendant that day with no case: one
    matter -- shown beside it, and no contempt flag for it alone."""
    plant(archive, date=RECENT, sensitivity="PUBLIC", urn="06PL0000079", people=[person(**ADA)],
          list_type="SJP_PRESS_LIST")
    sjp = _sjp_public(archive, RECENT, 2)
    [ada] = _persons(archive, [_defendant_party(archive, "06PL0000079"), sjp])
    res = _person_page(archive, "verified_media", ada)
    assert [c["urn"] for c in res["cases"]] == ["06PL0000079"]
    assert [h["parties"][0]["surname"] for h in res["caseless_hearings"]] == ["GROWNUP"]
    assert not [f for f in res["flags"] if f["flag"] == "contempt_risk"]
    assert "contempt_other_case" not in res["withheld"]
