"""Name search and reporting restrictions, on both backends: a name whose identity a restriction
withholds -- a youth (CYPA 1933 s.49; YJCEA 1999 s.45), a case under a s.4(2) order, a name withheld
under s.11, a complainant (SOAA 1992) -- is in the index (the restriction can lapse; the gate decides
at each search), but a search by it reveals nothing to any role: no hit, no count, no facet, and
not even a different answer -- the visible namesakes come back exactly as if the withheld name were
not in the archive at all (a withheld exact match must not stop the typo passes: "nothing for
Ptolemy Wrenfield, yet Ptolemy Wrenfeld for a misspelling of it" tells that a Ptolemy Wrenfield is
withheld)."""

from __future__ import annotations

import datetime as dt

import pytest

from test_governance_support import four_roles, person, plant, rows

from courtarchive.governance import restrictions
from courtarchive.governance.accounts import viewer
from courtarchive.governance.pseudonym import Keyring
from courtarchive.serve import search as S
from courtarchive.serve import views as V
from courtarchive.store import search as ss

NOW = dt.datetime.now()
PRESTON = "Preston Magistrates' Court"
LEEDS = "Leeds Magistrates' Court"
USERS = {"admin": "boss", "verified_media": "reporter", "analyst": "analyst1", "public": "nobody"}
#: roles that may search by name at all (the others search cases only)
NAME_SEARCH = {"admin", "verified_media"}

#: kind -> (the withheld name as typed, its visible namesake one edit away (forenames, SURNAME))
KINDS = {
    "youth_s49": ("Ptolemy Wrenfield", ("Ptolemy", "WRENFELD")),
    "youth_s49_3w": ("Lysander Ambrose Penhaligon", ("Lysander Ambrose", "PENHALIGAN")),
    "youth_s45": ("Isadora Kettlewick", ("Isadora", "KETTLEWIK")),
    "cca_s4_2": ("Barnaby Foxhollow", ("Barnaby", "FOXHOLOW")),
    "cca_s11": ("Cressida Lovibond", ("Cressida", "LOVYBOND")),
    "complainant": ("Tabitha Marchbanks", ("Tabitha", "MARCHBANK")),
}


def _defendant(archive, w) -> dict:
    return next(p for p in rows(archive, "party", publication_id=w.publication_id) if p["role"] == "DEFENDANT")


@pytest.fixture
def world(archive, tmp_path, monkeypatch):
    """Every kind of withheld name, each in a PUBLIC list at Preston (so that the list's sensitivity
    hides nothing: the restriction does), and each one's adult namesake at Leeds; the four roles."""
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    four_roles(archive, NOW)
    day = iter(dt.date(2024, 3, 1) + dt.timedelta(days=i) for i in range(40))
    hidden = {}
    w = plant(archive, date=next(day), sensitivity="PUBLIC", panel="YOUTH", court=PRESTON,
              people=[person(forenames="Ptolemy", surname="WRENFIELD", dob=dt.date(NOW.year - 15, 2, 1), age=15)])
    hidden["youth_s49"] = _defendant(archive, w)
    w = plant(archive, date=next(day), sensitivity="PUBLIC", panel="YOUTH", court=PRESTON,
              people=[person(forenames="Lysander Ambrose", surname="PENHALIGON", dob=dt.date(NOW.year - 14, 5, 1),
                             age=14)])
    hidden["youth_s49_3w"] = _defendant(archive, w)
    w = plant(archive, date=next(day), sensitivity="PUBLIC", court=PRESTON,
              people=[person(forenames="Isadora", surname="KETTLEWICK", dob=dt.date(NOW.year - 16, 6, 1), age=16)])
    hidden["youth_s45"] = p = _defendant(archive, w)
    restrictions.add(archive, rule="yjcea_s45", case_id=p["case_id"], party_id=p["id"], actor="clerk",
                     start=dt.date(2024, 1, 1))
    w = plant(archive, date=next(day), sensitivity="PUBLIC", court=PRESTON,
              people=[person(forenames="Barnaby", surname="FOXHOLLOW", dob=dt.date(1970, 1, 1), age=54)])
    hidden["cca_s4_2"] = p = _defendant(archive, w)
    restrictions.add(archive, rule="cca_s4_2", case_id=p["case_id"], actor="editor")
    w = plant(archive, date=next(day), sensitivity="PUBLIC", court=PRESTON,
              people=[person(forenames="Cressida", surname="LOVIBOND", dob=dt.date(1975, 1, 1), age=49)])
    hidden["cca_s11"] = p = _defendant(archive, w)
    restrictions.add(archive, rule="cca_s11", case_id=p["case_id"], party_id=p["id"], actor="clerk",
                     start=dt.date(2024, 1, 1))
    plant(archive, date=next(day), sensitivity="PUBLIC", court=PRESTON, code="SX03001",
          title="Rape of a woman 16 years of age or over", legislation="Sexual Offences Act 2003, s.1(1)",
          wording="raped Tabitha Marchbanks at 4 Rowan Close")
    hidden["complainant"] = None                 # (named in the wording only: never a party)
    namesakes = {}
    for kind, (_q, (fore, sur)) in KINDS.items():
        w = plant(archive, date=next(day), sensitivity="PUBLIC", court=LEEDS,
                  people=[person(forenames=fore, surname=sur, dob=dt.date(1980, 1, 1), age=44)])
        namesakes[kind] = _defendant(archive, w)
    S.refresh(archive)
    return {"archive": archive, "hidden": hidden, "namesakes": namesakes,
            "portal": V.Portal(archive, keyring=Keyring(bytes(range(32))), home=tmp_path / "home")}


def _shown(res: dict) -> dict:
    """What a search tells its viewer, besides the query typed back."""
    return {k: res.get(k) for k in ("mode", "total", "total_exact", "facets", "withheld", "flags", "role")} | {
        "hits": [(h["party"]["id"], h["case"]["urn"] if h.get("case") else None) for h in res["hits"]]}


def test_withheld_names_are_indexed_and_found_by_the_engine_alone(world):
    """The index holds them (a youth turns 18, an order is lifted: the gate decides at each search)
    -- which is why every search must ask the gate (`hide`) before it counts anything."""
    a = world["archive"]
    for kind, p in world["hidden"].items():
        if p is None:
            continue
        raw = S.search_names(a, KINDS[kind][0])
        assert p["id"] in {h["party_id"] for h in raw["hits"]}, kind
    # a complainant is never a party: not indexed at all
    raw = S.search_names(a, "Tabitha Marchbanks")
    assert {h["party_id"] for h in raw["hits"]} == {world["namesakes"]["complainant"]["id"]}


@pytest.mark.parametrize("role", list(USERS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_search_by_a_withheld_name_finds_only_the_visible_namesake(world, role, kind):
    """Per role: a name search for the withheld name gives exactly what it gives for the namesake's
    own misspelling -- the namesake, counted once, its court and year alone in the facets; roles that
    may not search names are refused alike (or get the same empty case search) whatever the name."""
    p, v = world["portal"], viewer(world["archive"], USERS[role])
    q = KINDS[kind][0]
    ns = world["namesakes"][kind]
    if role not in NAME_SEARCH:
        with pytest.raises(V.Forbidden):
            V.search(p, v, q, mode="name")
        assert _shown(V.search(p, v, q)) == _shown(V.search(p, v, "Quentin Nobodyhere"))
        return
    got = V.search(p, v, q, mode="name")
    leeds = rows(world["archive"], "hearing", id=ns["hearing_id"])[0]["court_id"]
    assert [h["party"]["id"] for h in got["hits"]] == [ns["id"]], (kind, got["hits"])
    assert got["total"] == 1 and got["facets"]["court"] == {leeds: 1}, got
    assert set(got["facets"]["year"]) == {2024} and sum(got["facets"]["year"].values()) == 1
    # the namesake's own name (one edit off the withheld one): the same answer
    typed = " ".join((" ".join(ns["forenames"].split()), ns["surname"].title()))
    assert _shown(V.search(p, v, typed, mode="name")) == _shown(got)


@pytest.mark.parametrize("role", sorted(NAME_SEARCH))
def test_the_withheld_cases_court_and_week_as_filters_give_nothing(world, role):
    """Narrowing to the youth's court and week: nothing, and nothing counted."""
    a, p, v = world["archive"], world["portal"], viewer(world["archive"], USERS[role])
    y = world["hidden"]["youth_s49"]
    h = rows(a, "hearing", id=y["hearing_id"])[0]
    got = V.search(p, v, "Ptolemy Wrenfield", mode="name", court_id=h["court_id"],
                   date_from=h["sitting_date"] - dt.timedelta(days=3), date_to=h["sitting_date"] + dt.timedelta(days=3))
    assert got["hits"] == [] and got["total"] == 0 and not any(got["facets"].values()), got


@pytest.mark.parametrize("kind", ["youth_s49", "youth_s49_3w"])
def test_engine_answers_as_if_the_hidden_mention_were_not_indexed(world, kind):
    """`search_names(hide=...)`: every decision (the wider passes, a 3-word query's "any two
    words") is taken on what ``hide`` leaves -- the answer, the passes run and the mentions read
    are those of an index without the hidden mention (only the engine's count of names ranked,
    never passed on to a viewer, can differ)."""
    a = world["archive"]
    q, pid = KINDS[kind][0], world["hidden"][kind]["id"]
    keys = ("hits", "total", "total_exact", "facets", "passes", "mentions")
    for exhaustive in (False, True):
        hidden = S.search_names(a, q, exhaustive=exhaustive, hide=lambda pairs: {pid} & {x for x, _c in pairs})
        assert [h["party_id"] for h in hidden["hits"]] == [world["namesakes"][kind]["id"]]
        world.setdefault("answers", []).append({k: hidden[k] for k in keys})
    with ss.writer(a) as conn:
        ss.lock(a, conn)
        assert ss.delete_parties(a, conn, [pid]) == 1
    a._forget_ids()
    for exhaustive, want in zip((False, True), world["answers"]):
        absent = S.search_names(a, q, exhaustive=exhaustive, hide=lambda pairs: set())
        assert {k: absent[k] for k in keys} == want, exhaustive
