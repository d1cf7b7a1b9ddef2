"""Case references and what a case-search hit says, on both backends.

1. A case number stored as listed with spaces or in lower case ("t 2019 0001") was never found:
   the look-ups compared the stored value with the normalised query.  Now they compare the stored
   value as normalised, through an expression index (migration 0017): no scan of the case table.
2. The case export and `alerts subscribe ... case` took the lowest id of the cases sharing a case
   number (each Crown Court numbers its own), silently; now they ask which one, naming the URNs
   the account may see, as `courtarchive case` and /cases/REF do (exit 2 / 422).
3. Day-list links went to /cases/{case id}: the route reads a case number first, and CaTH case
   numbers are often bare digits -- the link could open another case.  Links now name the URN, else
   the case id in a form no case number has (/cases/id/N).
4. A case-search hit showed the case's latest hearing, counted every hearing and was ordered by
   that latest date -- when that hearing was on a list the viewer may not see, the hit showed no
   court or date, and the count and the order said that a hearing the viewer may not see exists.
   Now a hit shows the latest hearing the gate shows the viewer, counts those, and is ordered by
   what it shows.

Synthetic data only."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from courtarchive.governance.accounts import viewer
from courtarchive.governance.pseudonym import Keyring
from courtarchive.serve import search as S
from courtarchive.serve import views as V
from courtarchive.store import serve as store

from test_alerts import env, media  # noqa: F401  (env: a fixture)
from test_case_search_exact_ref import reporter_client
from test_case_search_gated import DAY, LEEDS, PRESTON, world  # noqa: F401  (world: a fixture)
from test_governance_support import plant, rows

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _set_number(archive, case_id: int, number: str) -> None:
    with archive.engine.begin() as conn:
        conn.execute(sa.text('UPDATE "case" SET case_number = :n WHERE id = :i'), {"n": number, "i": case_id})


def _case_of(archive, w) -> int:
    return rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"]


# --------------------------------------------------------------------------- 1. case numbers as listed
def test_a_case_number_listed_with_spaces_or_lower_case_is_found(archive):
    # (a day each: a court's list of a day again is its next version, which supersedes the first)
    spaced = _case_of(archive, plant(archive, date=DAY, no_urn=True))
    lower = _case_of(archive, plant(archive, date=DAY + dt.timedelta(days=1), no_urn=True))
    other = _case_of(archive, plant(archive, date=DAY + dt.timedelta(days=2), no_urn=True))
    _set_number(archive, spaced, "t 2019 0001")
    _set_number(archive, lower, "t20190002")
    _set_number(archive, other, "T20180003")
    S.refresh(archive)

    def found(q: str) -> list[int]:
        return [h["case_id"] for h in S.search_cases(archive, q, limit=50)["hits"]]

    assert found("T20190001") == [spaced]
    assert found("t 2019 0002") == [lower] and found("T20190002") == [lower]
    assert sorted(found("T2019")) == sorted([spaced, lower])           # a prefix: both, not 2018's
    hit = S.search_cases(archive, "T20190001", limit=5)["hits"][0]
    assert (hit["score"], hit["matched_on"], hit["case_number"]) == (1.0, "case_number", "t 2019 0001")
    assert S.whole_ref_listed(archive, "T20190001")
    # the case route, `courtarchive case` and the alerts read it alike
    for ref in ("T20190001", "t2019 0001", " t 2019 0001 "):
        assert store.find_cases(archive, ref) == [spaced], ref
        assert store.find_case(archive, ref) == spaced, ref
    from courtarchive.store import alerts as sa_alerts
    from courtarchive.store import outputs

    assert outputs.find_case(archive, "T20190002") == lower
    assert sa_alerts.resolve_case(archive, "T 2019 0002")["id"] == lower


def test_the_case_number_look_up_is_an_index_look_up(archive):
    """The statements the case search sends for a whole case number and for a prefix use the
    expression index (PostgreSQL: sequential scans off, as the engine's reads have them, so that a
    tiny table does not make the planner prefer one anyway)."""
    plant(archive, date=DAY, no_urn=True)
    sent: list[tuple[str, tuple]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if 'FROM "case" WHERE' in statement:
            sent.append((statement, parameters))

    sa.event.listen(archive.engine, "before_cursor_execute", seen)
    try:
        S.search_cases(archive, "T20190001", limit=5)
    finally:
        sa.event.remove(archive.engine, "before_cursor_execute", seen)
    assert len(sent) == 2, sent                           # the whole number, then as a prefix
    with archive.engine.connect() as conn:
        for sql, params in sent:
            if archive.sqlite:
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
            else:
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql, params))
            assert "ix_case_case_number_key" in plan, plan
            assert "SCAN case" not in plan.replace('"', "") and 'Seq Scan on "case"' not in plan, plan


# --------------------------------------------------------------------------- 2. a case number several cases share
@pytest.fixture
def shared_number(world):
    """The four cases of the world given one case number (as three Crown Courts' T20190001), one
    of them written as listed with a space."""
    a = world["archive"]
    with a.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE \"case\" SET case_number = 'T20240001'")
        conn.execute(sa.text('UPDATE "case" SET case_number = :n WHERE id = :i'),
                     {"n": "t2024 0001", "i": world["cases"]["private"]["case_id"]})
    return "T20240001"


@pytest.fixture
def web(world, tmp_path):
    client, app, token = reporter_client(world, tmp_path)
    yield client, {"Authorization": f"Bearer {token}"}
    app.state.portal.archive.close()


def test_the_case_export_asks_which_case(world, shared_number, web):
    c, auth = web
    cases = world["cases"]
    r = c.post("/api/v1/exports", json={"what": "case", "ref": shared_number, "format": "csv"}, headers=auth)
    assert r.status_code == 422 and "is that of 3 cases" in r.text, r.text
    assert all(cases[n]["urn"] in r.text for n in ("public", "classified", "private"))
    assert cases["s4_2"]["urn"] not in r.text
    r = c.post("/exports", data={"what": "case", "ref": shared_number, "format": "csv"}, headers=auth)
    assert r.status_code == 422 and cases["private"]["urn"] in r.text, r.text
    # by URN, or as a link names a case (id:N): that case, and only it
    for ref in (cases["private"]["urn"], f"id:{cases['private']['case_id']}"):
        r = c.post("/api/v1/exports", json={"what": "case", "ref": ref, "format": "csv"}, headers=auth)
        assert r.status_code == 200, r.text
        assert f",{cases['private']['urn']}," in r.text and cases["public"]["urn"] not in r.text


def test_following_a_case_number_several_cases_share_asks_which(world, shared_number, env):  # noqa: F811
    from courtarchive.serve import alerts
    from courtarchive.serve.alerts_cli import app

    a, cases = world["archive"], world["cases"]
    r = CliRunner().invoke(app, ["subscribe", "reporter", "case", shared_number, "--db", a.url])
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert f"case number '{shared_number}' is that of 3 cases" in text, text
    assert all(cases[n]["urn"] in text for n in ("public", "classified", "private"))
    assert cases["s4_2"]["urn"] not in text
    assert rows(a, "subscription") == []
    # as the case page's Follow button names it (its URN, else id:N): that case
    row = alerts.subscribe(a, username="reporter", kind="case", query=f"id:{cases['private']['case_id']}")
    assert row["params"] == {"case_id": cases["private"]["case_id"]}
    assert row["label"] == "case " + cases["private"]["urn"]


def test_a_case_number_only_one_case_has_is_still_followed(world, env):  # noqa: F811
    from courtarchive.serve import alerts

    a, c = world["archive"], world["cases"]["classified"]
    _set_number(a, c["case_id"], "t 2024 0009")
    row = alerts.subscribe(a, username="reporter", kind="case", query="T20240009")
    assert row["params"] == {"case_id": c["case_id"]}


# --------------------------------------------------------------------------- 3. links to a case
def test_day_list_links_open_the_case_listed(world, web):
    """A case numbered as another case's id: /cases/{id} opened the case of that number."""
    c, auth = web
    a, cases = world["archive"], world["cases"]
    listed, other = cases["classified"], cases["public"]
    _set_number(a, other["case_id"], str(listed["case_id"]))      # a bare-digit case number
    page = c.get(f"/courts/{listed['court_id']}/lists/{listed['day'].isoformat()}", headers=auth)
    assert page.status_code == 200, page.text
    assert f'href="/cases/{listed["case_id"]}"' not in page.text
    assert f'href="/cases/id:{listed["case_id"]}"' in page.text
    r = c.get(f"/cases/id:{listed['case_id']}", headers=auth)
    assert r.status_code == 200 and listed["urn"] in r.text and other["urn"] not in r.text
    api = c.get(f"/api/v1/cases/id:{listed['case_id']}", headers=auth)
    assert api.status_code == 200 and api.json()["case_id"] == listed["case_id"]
    # the bare number is that other case's number (as before: the route reads case numbers first)
    assert c.get(f"/api/v1/cases/{listed['case_id']}", headers=auth).json()["case_id"] == other["case_id"]
    # an id: form that is no case: not found, never another case
    assert c.get("/api/v1/cases/id:999999", headers=auth).status_code == 404
    assert c.get("/api/v1/cases/id:x", headers=auth).status_code == 404


def test_search_hits_link_a_case_by_urn_else_id(world, web):
    c, auth = web
    a, cases = world["archive"], world["cases"]
    nourn = cases["public"]
    with a.engine.begin() as conn:
        conn.execute(sa.text('UPDATE "case" SET urn = NULL, case_number = :n WHERE id = :i'),
                     {"n": "T20240001", "i": nourn["case_id"]})
        conn.execute(sa.text('UPDATE "case" SET case_number = :n WHERE id = :i'),
                     {"n": "T20240001", "i": cases["classified"]["case_id"]})
    page = c.get("/search", params={"q": "T20240001", "mode": "case"}, headers=auth)
    assert page.status_code == 200, page.text
    assert f'href="/cases/id:{nourn["case_id"]}"' in page.text
    assert f'href="/cases/{cases["classified"]["urn"]}"' in page.text
    assert 'href="/cases/T20240001"' not in page.text
    assert V.case_path({"id": 5, "urn": None}) == "/cases/id:5"
    assert V.case_path(urn="06GT0000001", case_id=5) == "/cases/06GT0000001"


# --------------------------------------------------------------------------- 4. what a hit shows
@pytest.fixture
def listed(archive, tmp_path, monkeypatch):
    """Case A: listed on a PUBLIC list at Preston, then on a CLASSIFIED one at Leeds ten days later;
    case B: on a PUBLIC list at Preston between the two."""
    from test_case_search_gated import NOW
    from test_governance_support import four_roles

    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    four_roles(archive, NOW)
    early, mid, late = DAY, DAY + dt.timedelta(days=5), DAY + dt.timedelta(days=10)
    plant(archive, date=early, sensitivity="PUBLIC", court=PRESTON, urn="06HX0000001")
    plant(archive, date=late, sensitivity="CLASSIFIED", court=LEEDS, urn="06HX0000001")
    plant(archive, date=mid, sensitivity="PUBLIC", court=PRESTON, urn="06HX0000002")
    S.refresh(archive)
    ids = {c["urn"]: c["id"] for c in rows(archive, "case")}
    return {"archive": archive, "a": ids["06HX0000001"], "b": ids["06HX0000002"], "days": (early, mid, late),
            "portal": V.Portal(archive, keyring=Keyring(bytes(range(32))), home=tmp_path / "home")}


def _hits(res: dict) -> list[tuple]:
    """(case id, date shown, court shown -- its name's first word --, hearings) of each hit."""
    return [(h["case"]["id"], h["hearing"] and h["hearing"]["sitting_date"],
             h["hearing"] and h["hearing"]["court"].split()[0], h["hearings"]) for h in res["hits"]]


def test_a_hit_shows_the_latest_hearing_the_viewer_may_see(listed):
    a, p, (early, mid, late) = listed["archive"], listed["portal"], listed["days"]
    public, reporter = viewer(a, "nobody"), viewer(a, "reporter")
    # by the URN: the public sees its PUBLIC listing (court, date), one hearing; the reporter both
    got = V.search(p, public, "06HX0000001", mode="case")
    assert _hits(got) == [(listed["a"], early, "Preston", 1)], got["hits"]
    assert got["withheld"] == {}, got["withheld"]
    got = V.search(p, reporter, "06HX0000001", mode="case")
    assert _hits(got) == [(listed["a"], late, "Leeds", 2)]
    # ordered by what is shown: for the public B (mid) before A (early), as if A's CLASSIFIED listing
    # were not there; for the reporter A (late) first
    assert [h[0] for h in _hits(V.search(p, public, "06HX", mode="case"))] == [listed["b"], listed["a"]]
    assert [h[0] for h in _hits(V.search(p, reporter, "06HX", mode="case"))] == [listed["a"], listed["b"]]
    got = V.search(p, public, "", mode="case", date_from=early, date_to=late)       # (filters alone)
    assert _hits(got) == [(listed["b"], mid, "Preston", 1), (listed["a"], early, "Preston", 1)]
    got = V.search(p, public, "theft", mode="case")                                   # (offence words)
    assert _hits(got) == [(listed["b"], mid, "Preston", 1), (listed["a"], early, "Preston", 1)]
    # the engine's answer says the same (its API form)
    res = S.search_cases(a, "06HX0000001", seen=V._seen_hearings(p, public, "search"))
    assert [(h["case_id"], h["sitting_date"], h["hearings"]) for h in res["hits"]] == [(listed["a"], early, 1)]


def test_a_filter_met_only_by_a_hidden_hearing_finds_nothing(listed):
    """Leeds on the day of A's CLASSIFIED listing: the public found case A there (its PUBLIC
    listing elsewhere let the case through) -- a case listed at Leeds that day, on a list it may not
    see.  Now it finds what an archive without that listing gives: nothing."""
    a, p, (early, mid, late) = listed["archive"], listed["portal"], listed["days"]
    leeds = rows(a, "hearing", sitting_date=late)[0]["court_id"]
    public, reporter = viewer(a, "nobody"), viewer(a, "reporter")
    for q in ("", "06HX0000001", "06HX", "theft"):
        got = V.search(p, public, q, mode="case", court_id=leeds, date_from=late, date_to=late)
        assert (got["total"], got["hits"]) == (0, []), (q, got["hits"])
        got = V.search(p, reporter, q, mode="case", court_id=leeds, date_from=late, date_to=late)
        assert _hits(got) == [(listed["a"], late, "Leeds", 1)], q


def test_the_search_export_holds_the_hearing_shown(listed, tmp_path):
    """The search export (as the page's 'Export these results') carries the hearing the hit shows."""
    a, p = listed["archive"], listed["portal"]
    recs = V.export_records(p, viewer(a, "nobody"), "search", q="06HX0000001", mode="case")
    assert [[h["sitting_date"] for h in r["hearings"]] for r in recs] == [[listed["days"][0]]]
    recs = V.export_records(p, viewer(a, "reporter"), "search", q="06HX0000001", mode="case")
    assert [[h["sitting_date"] for h in r["hearings"]] for r in recs] == [[listed["days"][2]]]


# --------------------------------------------------------------------------- 5. a court by name
def test_the_search_form_picks_a_court_by_name(world, web):
    """The filter asked for a numeric "Court id"; a journalist picks a court by name now (the form
    sends its id), from the courts with current lists."""
    import html
    import re

    c, auth = web
    preston = world["cases"]["public"]["court_id"]
    page = c.get("/", headers=auth)
    assert page.status_code == 200
    form = html.unescape(page.text)
    assert re.search(r'<select name="court_id">\s*<option value="">any court</option>', form), form
    names = dict(re.findall(r'<option value="(\d+)"\s*>([^<]+)</option>', form))
    assert names[str(preston)].startswith("Preston Magistrates"), names
    assert all(n.split()[0] in ("Preston", "Leeds") for n in names.values()), names    # listed courts only
    assert "Court id" not in form
    # a search at Preston: the court shown selected, by name
    page = c.get("/search", params={"q": "", "mode": "case", "court_id": str(preston)}, headers=auth)
    assert page.status_code == 200
    assert re.search(rf'<option value="{preston}"\s*selected>Preston', html.unescape(page.text)), page.text


def test_a_prefix_scores_a_spaced_case_number_as_its_normalised_length(archive):
    """A case number listed with spaces scored lower as a prefix's hit than the same number
    listed without (its spaces counted as characters), so it ranked below it."""
    spaced = _case_of(archive, plant(archive, date=DAY, no_urn=True))
    plain = _case_of(archive, plant(archive, date=DAY + dt.timedelta(days=1), no_urn=True))
    _set_number(archive, spaced, "t 2019 0001")
    _set_number(archive, plain, "T20190002")
    S.refresh(archive)
    hits = {h["case_id"]: h["score"] for h in S.search_cases(archive, "T2019", limit=5)["hits"]}
    assert hits[spaced] == hits[plain] == round(0.9 * 5 / 9, 4), hits
