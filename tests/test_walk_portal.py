"""Defects found walking the README's "Web portal and JSON API", "Alerts" and "Daily beat digest"
sections on a fresh generated archive (helper walk): the Admin page's password column, 404 messages
that lost their closing quote, the API refusing a saved search on facets only, and the page-wide
reporting-restriction box naming one law once per restricted case."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from test_governance_support import person, plant

from courtarchive.governance import accounts
from courtarchive.governance.pseudonym import Keyring
from courtarchive.serve import auth
from courtarchive.serve.app import create_app
from courtarchive.serve.deps import WebSettings

PW = "a long enough passphrase"
DAY = dt.date(2024, 3, 4)
COURT = "Preston Magistrates' Court"
SOAA = "Sexual Offences (Amendment) Act 1992"
#: these add web behaviour to store code the other suites run on both backends; argon2 is slow
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def site(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    accounts.add(archive, username="ed", role="admin", actor="t", email="ed@example.org")
    auth.set_password(archive, "ed", PW, actor="t")
    accounts.add(archive, username="reporter", role="verified_media", actor="t", email="reporter@lancashirepost.co.uk",
                 organisation="Lancashire Post")
    accounts.verify(archive, username="reporter", press_card="UKPC-1", verified_by="ed")
    ws = WebSettings(db_url=archive.url, home=tmp_path / "home", reports_dir=tmp_path / "reports")
    app = create_app(archive.url, settings=ws)
    app.state.portal.keyring = Keyring(bytes(range(32)))
    yield app
    app.state.portal.archive.close()


def signed_in(app, user="ed") -> TestClient:
    c = TestClient(app)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"username": user, "password": PW, "csrf_token": tok, "next": "/"},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def bearer(archive, user: str) -> dict:
    return {"Authorization": f"Bearer {auth.create_token(archive, user, name='t', actor='t')['token']}"}


@SQLITE_ONLY
def test_admin_page_says_which_accounts_have_a_password(site, archive):
    """Admin > Accounts has a Password column ("set" / "none"): it said "none" for every account,
    the admin signed in with one included (the listing it read drops the hash)."""
    accounts.add(archive, username="nopass", role="public", actor="t")
    html = signed_in(site).get("/admin").text
    cells = dict(re.findall(r"<tr><td>(\w+)</td>.*?<td>(set|none)</td></tr>", html))
    assert cells == {"ed": "set", "reporter": "none", "nopass": "none"}
    assert "$argon2" not in html


def test_not_found_messages_keep_their_quotes(site, archive):
    """A 404 message naming what was asked for keeps its closing quote ("no case 'nothing'", was
    "no case 'nothing": the handler stripped quotes off both ends of every 404 message)."""
    c = TestClient(site)
    r = c.post("/api/v1/exports", json={"what": "case", "ref": "nothing"}, headers=bearer(archive, "ed"))
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "no case 'nothing'"


def test_api_saved_search_on_facets_only(site, archive):
    """A saved search is an optional name plus facets (alerts, the CLI: `alerts subscribe reporter
    search "" --param court=...`); the API refused one without a name ("query: String should have at
    least 1 character").  Other kinds still need their query, with their own reason."""
    c, h = TestClient(site), bearer(archive, "reporter")
    r = c.post("/api/v1/subscriptions", json={"kind": "search", "params": {"offence_group": "violence"}}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["query"] == "" and r.json()["params"] == {"offence_group": "violence"}
    r = c.post("/api/v1/subscriptions", json={"kind": "search"}, headers=h)
    assert r.status_code == 422 and "court / offence_group" in r.json()["error"]["message"]
    r = c.post("/api/v1/subscriptions", json={"kind": "urn"}, headers=h)
    assert r.status_code == 422 and "not a URN" in r.json()["error"]["message"]
    assert [s["kind"] for s in c.get("/api/v1/subscriptions", headers=h).json()["subscriptions"]] == ["search"]


def test_the_same_subscription_posted_twice_is_the_one_there(site, archive):
    """The API made a second, identical subscription for the same POST (the web Follow button had its
    own check): every match then went out twice.  Now the one there comes back (200, ``existing``);
    another query, or params, is a new one."""
    c, h = TestClient(site), bearer(archive, "reporter")
    body = {"kind": "search", "params": {"offence_group": "violence"}}
    first = c.post("/api/v1/subscriptions", json=body, headers=h)
    assert first.status_code == 201 and not first.json().get("existing")
    again = c.post("/api/v1/subscriptions", json=body, headers=h)
    assert again.status_code == 200, again.text
    assert again.json()["existing"] is True and again.json()["id"] == first.json()["id"]
    other = c.post("/api/v1/subscriptions", json={"kind": "search", "params": {"offence_group": "sexual"}}, headers=h)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert len(c.get("/api/v1/subscriptions", headers=h).json()["subscriptions"]) == 2
    # cancelled, the same alert can be made again
    assert c.delete(f"/api/v1/subscriptions/{first.json()['id']}", headers=h).status_code == 200
    assert c.post("/api/v1/subscriptions", json=body, headers=h).status_code == 201


def test_page_wide_restrictions_name_each_law_once(site, archive):
    """A day's lists with two SOAA 1992 cases: the page-wide "Reporting restrictions" box named the
    Act twice (once per case flag the gate returned)."""
    for lt, urn, who in (("MAGISTRATES_STANDARD_LIST", "06PL0000011", "ALDERBURY"),
                         ("MAGISTRATES_PUBLIC_LIST", "06PL0000012", "BRAMSHOTT")):
        w = plant(archive, date=DAY, sensitivity="PUBLIC", list_type=lt, court=COURT, urn=urn,
                  people=[person(surname=who)], code="SX03001", title="Rape",
                  legislation="Sexual Offences Act 2003, s.1", wording="raped a woman")
    court_id = archive.engine.connect().exec_driver_sql(
        f"SELECT court_id FROM hearing WHERE publication_id = {int(w.publication_id)}").scalar()
    r = signed_in(site).get(f"/courts/{court_id}/lists/{DAY.isoformat()}")
    assert r.status_code == 200
    box = re.search(r'(?s)<section class="restrictions" role="alert" aria-label="reporting restrictions">.*?</section>',
                    r.text).group(0)
    assert box.count(SOAA) == 1, box
    # both cases are on the page, each under its restriction
    assert "ALDERBURY" in r.text.upper() and "BRAMSHOTT" in r.text.upper()
