"""Case search and the disclosure gate, on both backends: a case the viewer's role may not see at
all -- on a CLASSIFIED or PRIVATE list for the public role, or withheld whole by a s.4(2) order --
was left out of the hits but counted in ``total`` ("1 result, showing 1-0" for its URN, or for its
court and day as filters): the count said that a case of that URN, or at that court that day,
exists.  Now the case search asks the gate (`views._withheld_cases`, bare case records, not
audited) before it counts or pages: such a case counts nowhere and the answer is the one an archive
without it gives.  A URN typed on the case page itself may still say that its case is under a
s.4(2) order (by design: that is why it is not shown).  Synthetic data only."""

from __future__ import annotations

import datetime as dt

import pytest

from test_governance_support import four_roles, person, plant, rows

from courtarchive.governance import restrictions
from courtarchive.governance.accounts import viewer
from courtarchive.governance.pseudonym import Keyring
from courtarchive.serve import search as S
from courtarchive.serve import views as V

NOW = dt.datetime.now()
PRESTON = "Preston Magistrates' Court"
LEEDS = "Leeds Magistrates' Court"
DAY = dt.date(2024, 5, 7)
#: case -> (list sensitivity, court, day, s.4(2) order)
CASES = {
    "public": ("PUBLIC", PRESTON, DAY - dt.timedelta(days=1), False),
    "classified": ("CLASSIFIED", PRESTON, DAY, False),
    "private": ("PRIVATE", LEEDS, DAY, False),
    "s4_2": ("PUBLIC", LEEDS, DAY + dt.timedelta(days=1), True),
}
#: which cases each role sees
SEES = {"public": {"public"}, "analyst": {"public", "private"},
        "verified_media": {"public", "classified", "private"}, "admin": {"public", "classified", "private"}}
USERS = {"admin": "boss", "verified_media": "reporter", "analyst": "analyst1", "public": "nobody"}


@pytest.fixture
def world(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    four_roles(archive, NOW)
    cases = {}
    for i, (name, (sens, court, day, order)) in enumerate(CASES.items()):
        w = plant(archive, date=day, sensitivity=sens, court=court, urn=f"06GT{i + 1:07d}", code="CJ88116",
                  title="Assault by beating", wording="Assaulted a neighbour",
                  people=[person(forenames="Zebedee", surname=f"QUIXLEY{'ABCD'[i]}")])
        h = rows(archive, "hearing", publication_id=w.publication_id)[0]
        if order:
            restrictions.add(archive, rule="cca_s4_2", case_id=h["case_id"], actor="editor")
        cases[name] = {"case_id": h["case_id"], "court_id": h["court_id"], "urn": f"06GT{i + 1:07d}", "day": day}
    S.refresh(archive)
    return {"archive": archive, "cases": cases,
            "portal": V.Portal(archive, keyring=Keyring(bytes(range(32))), home=tmp_path / "home")}


def _shown(res: dict) -> dict:
    return {"total": res["total"], "exact": res.get("total_exact", True), "facets": res.get("facets", {}),
            "hits": sorted(h["case"]["id"] for h in res["hits"])}


def _searches(w: dict) -> dict[str, dict]:
    """Each planted case found by its URN, its URN's prefix, its court and day, its offence words."""
    out = {}
    for name, c in w["cases"].items():
        out[f"{name}: urn"] = {"q": c["urn"]}
        out[f"{name}: court and day"] = {"q": "", "court_id": c["court_id"], "date_from": c["day"], "date_to": c["day"]}
        out[f"{name}: offence at its court"] = {"q": "assault by beat", "court_id": c["court_id"]}
    out["urn prefix"] = {"q": "06GT"}
    out["offence group"] = {"q": "", "offence_group": "violence"}
    return out


@pytest.mark.parametrize("role", list(USERS))
def test_a_case_the_role_may_not_see_counts_nowhere(world, role):
    a, p, v = world["archive"], world["portal"], viewer(world["archive"], USERS[role])
    ids = {n: c["case_id"] for n, c in world["cases"].items()}
    seen = {ids[n] for n in SEES[role]}
    for what, kw in _searches(world).items():
        got = V.search(p, v, kw.pop("q"), mode="case", **kw)
        hits = set(_shown(got)["hits"])
        assert hits <= seen, (what, got)
        # what the engine finds, less what the role may not see: the total is the hits, exactly
        raw = {h["case_id"] for h in S.search_cases(a, got["q"], **kw)["hits"]}
        assert hits == raw & seen, what
        assert got["total"] == len(hits) and got.get("total_exact", True), (what, _shown(got))
        assert got["withheld"] == {}, (what, got["withheld"])     # (nothing withheld shown: nothing said)


def test_public_searching_a_classified_case_gets_what_an_unknown_urn_gets(world):
    p, v = world["portal"], viewer(world["archive"], "nobody")
    c = world["cases"]["classified"]
    assert _shown(V.search(p, v, c["urn"], mode="case")) == _shown(V.search(p, v, "06GT9999999", mode="case"))
    at = V.search(p, v, "", mode="case", court_id=c["court_id"], date_from=c["day"], date_to=c["day"])
    assert at["total"] == 0 and at["hits"] == []
    # the case page still answers "no such case" only as the gate says (unchanged): withheld, not shown
    page = V.case(p, v, c["urn"])
    assert page["case"] is None


def test_paging_counts_and_pages_only_the_disclosed_cases(world):
    """One visible case among many withheld: page 1 holds it, and no page runs past the total."""
    a, p, v = world["archive"], world["portal"], viewer(world["archive"], "nobody")
    for i in range(6):
        plant(a, date=DAY + dt.timedelta(days=10 + i), sensitivity="CLASSIFIED", court=PRESTON, urn=f"06GU{i:07d}")
    S.refresh(a)
    preston = world["cases"]["public"]["court_id"]
    got = V.search(p, v, "", mode="case", court_id=preston, limit=2)
    assert got["total"] == 1 and [h["case"]["id"] for h in got["hits"]] == [world["cases"]["public"]["case_id"]]
    assert V.search(p, v, "", mode="case", court_id=preston, limit=2, offset=2)["hits"] == []
    media = V.search(p, viewer(a, "reporter"), "", mode="case", court_id=preston, limit=2, offset=2)
    assert media["total"] == 8 and len(media["hits"]) == 2


def test_past_the_window_the_rest_is_left_out_unchecked(world, monkeypatch):
    """The gate is asked about the matches up to HIDE_CAP past the page's end (latest first): the
    rest count nowhere and the total says "more than" -- never a withheld case counted."""
    a, p = world["archive"], world["portal"]
    for i in range(4):
        plant(a, date=DAY - dt.timedelta(days=10 + i), sensitivity="PUBLIC", court=PRESTON, urn=f"06GV{i:07d}")
    monkeypatch.setattr(S, "HIDE_CAP", 2)
    preston = world["cases"]["public"]["court_id"]
    asked = []
    real = V._seen_hearings             # (the case search's check, hearing by hearing)

    def counting(*args):
        seen = real(*args)
        return lambda by_case: asked.append(len(by_case)) or seen(by_case)
    monkeypatch.setattr(V, "_seen_hearings", counting)
    got = V.search(p, viewer(a, "nobody"), "", mode="case", court_id=preston, limit=1)
    # latest first: the classified case, the public one, then 06GV0000000 (of four): 3 read and asked about
    assert asked == [3] and got["total"] == 2 and got["total_exact"] is False
    assert [h["case"]["id"] for h in got["hits"]] == [world["cases"]["public"]["case_id"]]
    media = V.search(p, viewer(a, "reporter"), "", mode="case", court_id=preston, limit=1, offset=3)
    assert media["total"] == 6 and media["total_exact"] is True and len(media["hits"]) == 1
