"""Case search read alike everywhere, on both backends.

1. `courtarchive search --case` printed a floor of a count (``total_exact`` false: the search
   checked a window of the matches) as a plain number, "1 cases"; the web page says "more than 1".
   Its ``--json`` did not carry ``total_exact`` at all.
2. A case-mode saved search read a URN / case number as a prefix only: a saved search for
   06GX12345 alerted on 06GX123450's hearings, where the search page finds 06GX12345 alone.
3. The case search put `find_case`'s match on top of the engine's hits: past the court, dates and
   offence group asked for, and a bare number was an internal case id ("12": case #12).

Synthetic data only."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from courtarchive.governance.accounts import viewer
from courtarchive.serve import alerts
from courtarchive.serve import search as S
from courtarchive.serve import views as V

from test_alerts import day, env, media, run  # noqa: F401  (fixtures)
from test_case_search_exact_ref import LONGER, WHOLE, reporter_client, urns  # noqa: F401  (urns: a fixture)
from test_case_search_gated import DAY, LEEDS, PRESTON, world  # noqa: F401  (world: a fixture)
from test_governance_support import plant, rows

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _cli(archive, *args: str):
    from courtarchive.serve.search_cli import app

    r = CliRunner().invoke(app, ["search", *args, "--db", archive.url])
    assert r.exit_code == 0, r.output
    return r.output


def _words(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- 1. the CLI's count
def test_the_cli_says_more_than_when_the_count_is_a_floor(world, urns):
    """The public role, a prefix of five URNs, a page of one: the window (page + HIDE_CAP 1) holds
    the public case and a classified one, three more unchecked -- "more than 1", as on the page."""
    a = world["archive"]
    text = _words(_cli(a, WHOLE[:-1], "--case", "--limit", "1", "--as", "nobody"))
    assert f"more than 1 case for '{WHOLE[:-1]}'" in text, text
    assert "the best matches; narrow by --court" in text
    j = json.loads(_cli(a, WHOLE[:-1], "--case", "--limit", "1", "--as", "nobody", "--json"))
    assert (j["total"], j["total_exact"]) == (1, False)
    assert [h["case_id"] for h in j["hits"]] == [urns[WHOLE]]
    # a whole URN: its case alone, an exact count ("1 case", not "1 cases"), no note
    text = _words(_cli(a, WHOLE, "--case", "--as", "nobody"))
    assert f"1 case for '{WHOLE}'" in text and "more than" not in text and "narrow by" not in text, text
    j = json.loads(_cli(a, WHOLE, "--case", "--as", "nobody", "--json"))
    assert (j["total"], j["total_exact"]) == (1, True)


def test_the_cli_says_no_more_than_0(world, urns):
    """Every match checked withheld and the rest unchecked: no "more than 0" (as the page)."""
    a = world["archive"]
    days = ["--from", (DAY + dt.timedelta(days=10)).isoformat(), "--to", (DAY + dt.timedelta(days=13)).isoformat()]
    text = _words(_cli(a, "", "--case", "--court", PRESTON, *days, "--limit", "1", "--as", "nobody"))
    assert "no cases among the matches checked" in text and "more than 0" not in text, text
    assert "Narrow by --court" in text
    j = json.loads(_cli(a, "", "--case", "--court", PRESTON, *days, "--limit", "1", "--as", "nobody", "--json"))
    assert (j["total"], j["total_exact"], j["hits"]) == (0, False, [])


def test_the_cli_table_is_whole_off_a_terminal(world, monkeypatch):
    """Piped (80 columns to Rich), the table cut the URNs short ("06GT00…") and the courts."""
    monkeypatch.delenv("COLUMNS", raising=False)
    text = _cli(world["archive"], "06GT", "--case", "--as", "reporter")
    for name in ("public", "classified", "private"):
        c = world["cases"][name]
        line = next(x for x in text.splitlines() if f" {c['case_id']} " in x and c["urn"] in x)
        assert (PRESTON if c["court_id"] == world["cases"]["public"]["court_id"] else LEEDS) in line, text
        assert c["day"].isoformat() in line
    assert "…" not in text


# --------------------------------------------------------------------------- 2. saved searches
def _alerted(archive) -> dict[int, set[str]]:
    urn_of = {c["id"]: c["urn"] for c in rows(archive, "case")}
    got: dict[int, set[str]] = {}
    for m in rows(archive, "alert_match"):
        got.setdefault(m["subscription_id"], set()).add(urn_of[m["case_id"]])
    return got


def _found(archive, q: str, **kw) -> set[str]:
    return {h["urn"] for h in S.search_cases(archive, q, limit=100, **kw)["hits"]}


def test_a_saved_search_for_a_whole_urn_follows_that_case_only(archive, env):  # noqa: F811
    media(archive)
    whole = alerts.subscribe(archive, username="reporter", kind="search", query="06 kk 12345")
    prefix = alerts.subscribe(archive, username="reporter", kind="search", query="06KK1234")
    # the whole URN's case is at Preston: at Leeds, 06KK12345 is the start of longer URNs (as the page reads it)
    at_leeds = alerts.subscribe(archive, username="reporter", kind="search", query="06KK12345",
                                params={"court": LEEDS})
    # a whole URN listed only with offences of another group: a prefix within the group
    in_group = alerts.subscribe(archive, username="reporter", kind="search", query="06KK12345",
                                params={"offence_group": "violence"})
    plant(archive, date=day(1), urn="06KK12345", code="TH68001", title="Theft")
    plant(archive, date=day(2), urn="06KK123450", code="AE18001", title="Assault by beating of an emergency worker",
          court=LEEDS)
    plant(archive, date=day(3), urn="06KK123451")
    S.refresh(archive)
    run(archive)
    got = _alerted(archive)
    assert got[whole["id"]] == {"06KK12345"}, got
    assert got[prefix["id"]] == {"06KK12345", "06KK123450", "06KK123451"}
    assert got[at_leeds["id"]] == {"06KK123450"}
    assert got[in_group["id"]] == {"06KK123450"}
    # what the search page finds for the same query and facets
    court = at_leeds["params"]["court_id"]
    assert got[whole["id"]] == _found(archive, "06 kk 12345")
    assert got[prefix["id"]] == _found(archive, "06KK1234")
    assert got[at_leeds["id"]] == _found(archive, "06KK12345", court_id=court)
    assert got[in_group["id"]] == _found(archive, "06KK12345", offence_group="violence")


def test_a_whole_urn_listed_later_ends_the_prefix_reading(archive, env):  # noqa: F811
    """Before its case is listed a reference is a prefix (as on the page); once it is, the saved
    search follows that case alone -- a new hearing of a longer URN no longer alerts."""
    media(archive)
    sub = alerts.subscribe(archive, username="reporter", kind="search", query="06KM54321")
    plant(archive, date=day(1), urn="06KM543210")
    run(archive)
    assert _alerted(archive)[sub["id"]] == {"06KM543210"}
    plant(archive, date=day(2), urn="06KM54321")
    plant(archive, date=day(3), urn="06KM543210")
    run(archive)
    assert _alerted(archive)[sub["id"]] == {"06KM543210", "06KM54321"}
    n = len(rows(archive, "alert_match"))
    plant(archive, date=day(4), urn="06KM543210")        # the longer URN again: no alert now
    plant(archive, date=day(5), urn="06KM543219")
    run(archive)
    assert len(rows(archive, "alert_match")) == n


# --------------------------------------------------------------------------- 3. filters and bare numbers
def test_the_filters_apply_to_a_whole_urn_hit(world):
    """A URN's case at Preston, searched at Leeds (or on other days, or in another offence group):
    no hit -- it was put on top of the page whatever the filters said."""
    a, p, c = world["archive"], world["portal"], world["cases"]["public"]
    media_v = viewer(a, "reporter")
    leeds = world["cases"]["private"]["court_id"]
    for kw in ({"court_id": leeds}, {"date_from": c["day"] + dt.timedelta(days=1)},
               {"date_to": c["day"] - dt.timedelta(days=1)}, {"offence_group": "theft"}):
        got = V.search(p, media_v, c["urn"], mode="case", **kw)
        assert (got["total"], got["hits"]) == (0, []), kw
    got = V.search(p, media_v, c["urn"], mode="case", court_id=c["court_id"], date_from=c["day"], date_to=c["day"])
    assert [h["case"]["id"] for h in got["hits"]] == [c["case_id"]]


def test_a_bare_number_is_no_case_id_in_free_search(world):
    """"12" (or any case's id) typed into the case search found that case by its internal id; on
    the case route an id still names a case (links to cases with no URN use it)."""
    a, p = world["archive"], world["portal"]
    c = world["cases"]["public"]
    cid = str(c["case_id"])
    for v in (viewer(a, "nobody"), viewer(a, "reporter")):
        got = V.search(p, v, cid, mode="case")
        assert got["hits"] == [] and got["total"] == 0, got
    assert V.case(p, viewer(a, "nobody"), cid)["case_id"] == c["case_id"]


@pytest.fixture
def web(world, tmp_path):
    client, app, token = reporter_client(world, tmp_path)
    yield client, {"Authorization": f"Bearer {token}"}
    app.state.portal.archive.close()


def test_the_page_and_the_api_apply_the_filters_and_read_no_ids(world, web):
    c, auth = web
    case = world["cases"]["public"]
    leeds = world["cases"]["private"]["court_id"]
    api = c.get("/api/v1/search", params={"q": case["urn"], "mode": "case", "court_id": leeds}, headers=auth)
    assert api.status_code == 200, api.text
    assert (api.json()["total"], api.json()["hits"]) == (0, [])
    page = c.get("/search", params={"q": case["urn"], "mode": "case", "court_id": str(leeds)}, headers=auth)
    assert page.status_code == 200 and "0 results (cases)" in page.text and f"case {case['urn']}<" not in page.text
    # at its own court: found
    api = c.get("/api/v1/search", params={"q": case["urn"], "mode": "case", "court_id": case["court_id"]}, headers=auth)
    assert [h["case"]["id"] for h in api.json()["hits"]] == [case["case_id"]]
    # its id typed as a query: nothing; its id as the case route: the case
    api = c.get("/api/v1/search", params={"q": str(case["case_id"]), "mode": "case"}, headers=auth)
    assert (api.json()["total"], api.json()["hits"]) == (0, [])
    page = c.get("/search", params={"q": str(case["case_id"]), "mode": "case"})
    assert page.status_code == 200 and f"case {case['urn']}<" not in page.text
    assert c.get(f"/api/v1/cases/{case['case_id']}").json()["case_id"] == case["case_id"]


# --------------------------------------------------------------------------- the search export
def _exported_cases(body: str) -> set[int]:
    import csv
    import io

    lines = [x for x in body.splitlines() if not x.startswith("# ")]
    return {int(r["case.id"]) for r in csv.DictReader(io.StringIO("\n".join(lines))) if r.get("case.id")}


def test_the_search_export_is_the_filtered_search(world, web):
    """"Export these results" on a search by URN prefix at Preston exported the prefix's cases
    everywhere (the form sent the query and mode only); a search by filters alone could not be
    exported at all.  The page's form and the API now carry the filters."""
    c, auth = web
    cases = world["cases"]
    preston = cases["public"]["court_id"]
    at_preston = {cases["public"]["case_id"], cases["classified"]["case_id"]}
    page = c.get("/search", params={"q": "06GT", "mode": "case", "court_id": str(preston)}, headers=auth)
    assert page.status_code == 200 and "Export these results" in page.text
    assert f'name="court_id" value="{preston}"' in page.text
    form = {"what": "search", "format": "csv", "q": "06GT", "mode": "case", "court_id": str(preston)}
    r = c.post("/exports", data=form, headers=auth)
    assert r.status_code == 200, r.text
    assert _exported_cases(r.text) == at_preston
    # the API alike; and filters alone (a court and a day)
    r = c.post("/api/v1/exports", json={"what": "search", "q": "06GT", "mode": "case", "court_id": preston},
               headers=auth)
    assert r.status_code == 200, r.text
    assert _exported_cases(r.text) == at_preston
    day = cases["classified"]["day"].isoformat()
    r = c.post("/api/v1/exports", json={"what": "search", "court_id": preston, "date_from": day, "date_to": day},
               headers=auth)
    assert r.status_code == 200, r.text
    assert _exported_cases(r.text) == {cases["classified"]["case_id"]}
    r = c.post("/exports", data={"what": "search", "format": "csv", "court_id": str(preston), "date_from": day,
                                 "date_to": day}, headers=auth)
    assert r.status_code == 200, r.text
    assert _exported_cases(r.text) == {cases["classified"]["case_id"]}
    # unfiltered: every case of the prefix the reporter may see (the s.4(2) case never)
    r = c.post("/api/v1/exports", json={"what": "search", "q": "06GT", "mode": "case"}, headers=auth)
    assert _exported_cases(r.text) == at_preston | {cases["private"]["case_id"]}


# --------------------------------------------------------------------------- a case number several cases have
@pytest.fixture
def shared_number(world):
    """The four cases of the world given one case number (as three Crown Courts' T20190001)."""
    a = world["archive"]
    with a.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE \"case\" SET case_number = 'T20240001'")
    return "T20240001"


def _case_cli(archive, *args: str):
    from courtarchive.serve.cli import app

    return CliRunner().invoke(app, ["case", *args, "--db", archive.url])


def test_a_case_number_of_several_cases_is_asked_about(world, shared_number):
    """`courtarchive case T20240001` and /cases/T20240001 showed the lowest id of the cases with that
    number, whichever the journalist meant; now: the URNs of those the account may see (the s.4(2)
    case's never), or the one case it may see."""
    a, cases = world["archive"], world["cases"]
    seen = [cases[n]["urn"] for n in ("public", "classified", "private")]
    r = _case_cli(a, shared_number, "--as", "reporter")
    assert r.exit_code == 2, r.output
    line = _words(r.output)
    assert line.startswith(f"error: case number '{shared_number}' is that of 3 cases:"), line
    assert all(u in line for u in seen) and cases["s4_2"]["urn"] not in line and "give the URN" in line
    # the public role sees one of them: that one
    r = _case_cli(a, shared_number, "--as", "nobody")
    assert r.exit_code == 0 and f"case {cases['public']['urn']}" in _words(r.output), r.output
    # by URN, or by the case id the search prints: that case
    for ref in (cases["private"]["urn"], str(cases["private"]["case_id"])):
        r = _case_cli(a, ref, "--as", "reporter", "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["case"]["id"] == cases["private"]["case_id"], ref


def test_the_case_page_asks_too(world, shared_number, web):
    c, auth = web
    cases = world["cases"]
    r = c.get(f"/api/v1/cases/{shared_number}", headers=auth)
    assert r.status_code == 422 and "is that of 3 cases" in r.text and cases["s4_2"]["urn"] not in r.text, r.text
    page = c.get(f"/cases/{shared_number}", headers=auth)
    assert page.status_code == 422 and cases["classified"]["urn"] in page.text
    r = c.get(f"/api/v1/cases/{shared_number}")                    # the public: the one it may see
    assert r.status_code == 200 and r.json()["case_id"] == cases["public"]["case_id"], r.text


def test_a_saved_search_reads_a_listed_case_number_as_the_search_index_does(archive, env):  # noqa: F811
    """A case number listed with a tab or a line break in it ("T2019<tab>0009") is the case number
    T20190009 to the search (`store.util.case_number_key`); the alert matcher took out spaces only."""
    import sqlalchemy as sa

    media(archive)
    sub = alerts.subscribe(archive, username="reporter", kind="search", query="T20190009")
    plant(archive, date=day(1), urn="06KQ77777")
    with archive.engine.begin() as conn:
        for table in ("case", "hearing"):
            conn.execute(sa.text(f'UPDATE "{table}" SET case_number = :n'), {"n": "T2019\t00\n09"})
    S.refresh(archive)
    run(archive)
    assert _alerted(archive).get(sub["id"]) == {"06KQ77777"}
    assert _found(archive, "T20190009") == {"06KQ77777"}
