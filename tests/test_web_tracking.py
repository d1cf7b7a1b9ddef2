"""Case tracking in the portal (issue 10 §3): follow a case from its page, a later list adjourns it,
moves it to the Crown Court and sentences it; after each ingest the events appear on /tracking
(newest first, unread badge in the nav), the digest mail goes out through a real SMTP server
(aiosmtpd, the fixtures of test_alerts.py), and "Mark seen" clears them.  The feed holds back
exactly what the digests hold back; following is for verified accounts; the JSON API mirrors it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from test_alerts import KEY, MEDIA_EMAIL, body, day, env, media, smtp  # noqa: F401  (fixtures)
from test_governance_support import person, plant, rows

from courtarchive.governance import accounts
from courtarchive.serve import alerts

PASSWORD = "correct horse battery staple"
URN = "06CD4444444"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def app(archive, db_url, env):  # noqa: F811
    from courtarchive.serve import auth
    from courtarchive.serve.app import create_app
    from courtarchive.serve.deps import WebSettings

    media(archive)                                                       # reporter: verified media
    media(archive, "lapsed", "lapsed@lancashirepost.co.uk", verified_days_ago=400)
    accounts.add(archive, username="analyst1", role="analyst", actor="admin", email="a@uni.ac.uk")
    for u in ("reporter", "lapsed", "analyst1"):
        auth.set_password(archive, u, PASSWORD, actor="setup")
    ws = WebSettings(db_url=db_url, home=env / "home", base_url="http://testserver")
    a = create_app(db_url, settings=ws)
    a.state.portal.keyring = KEY
    yield a
    a.state.portal.archive.close()


def client(app, user=None) -> TestClient:
    c = TestClient(app, raise_server_exceptions=False)
    if user:
        tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        r = c.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": tok}, follow_redirects=False)
        assert r.status_code == 303, r.text
    return c


def csrf(c: TestClient) -> str:
    return re.search(r'name="csrf_token" value="([^"]*)"', c.get("/tracking").text).group(1)


def events(html: str) -> list[str]:
    return re.findall(r'class="notification (?:seen|unread)" data-event="(\w+)"', html)


def badge(html: str) -> str | None:
    m = re.search(r'id="nav-unread"[^>]*>([^<]+)<', html)
    return m.group(1) if m else None


def after_ingest(archive, smtp_sink=None):
    if smtp_sink is None:
        return alerts.after_ingest(archive, None, send=False)
    return alerts.after_ingest(archive, None, smtp_host="127.0.0.1", smtp_port=smtp_sink.port, keyring=KEY,
                               base_url="http://testserver")


def test_follow_a_case_and_see_its_events(archive, app, smtp):  # noqa: F811
    plant(archive, date=day(1), urn=URN)
    c = client(app, "reporter")
    page = c.get(f"/cases/{URN}").text
    assert 'id="follow-button"' in page and "Follow this case" in page
    r = c.post("/tracking/follow", data={"kind": "case", "ref": URN, "csrf_token": csrf(c)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/tracking?done=following")
    # the case page now says so; a second click does not follow twice
    page = c.get(f"/cases/{URN}").text
    assert "following" in page and "Unfollow" in page and 'id="follow-button"' not in page
    r = c.post("/tracking/follow", data={"kind": "case", "ref": URN.lower(), "csrf_token": csrf(c)})
    assert "already following" in r.text
    [sub] = [s for s in rows(archive, "subscription") if s["kind"] == "case"]
    assert sub["active"] and sub["params"]["case_id"] == rows(archive, "case", urn=URN)[0]["id"]
    t = c.get("/tracking").text
    assert f"case {URN}" in t and events(t) == [] and badge(t) is None

    # a later list adjourns it: after the ingest step the notification is there, unread, and mailed
    plant(archive, date=day(8), urn=URN)
    res = after_ingest(archive, smtp)
    assert res["by_event"] == {"adjourned": 1} and res["digests"]["messages"] == 1
    t = c.get("/tracking").text
    assert events(t) == ["adjourned"] and badge(t) == "1" and "1 unread" in t
    assert "listed again (adjourned)" in t and "Preston Magistrates" in t and day(8).isoformat() in t
    assert "QUIXLEY" in t                                  # media see the defendant, as in the digest
    mail = body(smtp.messages[-1])
    assert smtp.messages[-1]["To"] == MEDIA_EMAIL and URN in mail and "LISTED AGAIN (ADJOURNED)" in mail
    # viewing marks nothing read
    assert badge(c.get("/tracking").text) == "1"

    # it moves to the Crown Court, then is sentenced there: newest first
    plant(archive, date=day(30), urn=URN, court="Preston Crown Court", list_type="CROWN_DAILY_LIST")
    after_ingest(archive, smtp)
    plant(archive, date=day(60), urn=URN, court="Preston Crown Court", list_type="CROWN_DAILY_LIST",
          hearing_type="Sentence")
    after_ingest(archive, smtp)
    t = c.get("/tracking").text
    assert events(t) == ["outcome", "court_changed", "adjourned"] and badge(t) == "3"
    assert "moved to another court" in t and "Preston Combined Court Centre" in t      # the Crown Court's FaCT name
    assert len(smtp.messages) == 3

    # mark one seen, then all
    first = re.search(r'name="match_id" value="(\d+)"', t).group(1)
    r = c.post("/tracking/seen", data={"match_id": first, "csrf_token": csrf(c)})
    assert r.status_code == 200 and "1 notification marked seen" in r.text and badge(r.text) == "2"
    seen = {m["id"]: m["seen_at"] for m in rows(archive, "alert_match")}
    assert seen[int(first)] is not None and sum(v is not None for v in seen.values()) == 1
    r = c.post("/tracking/seen", data={"csrf_token": csrf(c)})
    assert "2 notifications marked seen" in r.text and badge(r.text) is None
    assert all(m["seen_at"] for m in rows(archive, "alert_match"))
    assert events(r.text) == ["outcome", "court_changed", "adjourned"]      # still listed, as seen
    # the feed's disclosure is audited
    assert [e for e in rows(archive, "audit_event") if e["action"] == "notifications" and e["actor"] == "reporter"]

    # unfollow: gone from the list and the feed
    r = c.post(f"/tracking/{sub['id']}/unfollow", data={"csrf_token": csrf(c)})
    assert "stopped following" in r.text and events(r.text) == [] and f"case {URN}" not in r.text
    assert c.post("/tracking/999999/unfollow", data={"csrf_token": csrf(c)}).status_code == 404


def test_feed_holds_back_what_digests_hold_back(archive, app, smtp):  # noqa: F811
    alerts.subscribe(archive, username="reporter", kind="court", query="Preston Magistrates' Court")
    alerts.subscribe(archive, username="reporter", kind="name", query="Ptolemy Wrenfield")
    plant(archive, date=day(1), urn="06EF5555555", code="SX03001", title="Rape", legislation="Sexual Offences Act 2003, s.1(1)",
          wording="raped Tabitha Marchbanks at 4 Rowan Close, Fulwood")
    plant(archive, date=day(2), urn="06EF6666666", detail="Section 4(2) Contempt of Court Act 1981",
          people=[person(forenames="Octavian", surname="PELLINGHAM")])
    plant(archive, date=day(3), urn="06EF7777777", panel="YOUTH",
          people=[person(forenames="Ptolemy", surname="WRENFIELD", dob=dt.date(dt.date.today().year - 15, 1, 1), age=15,
                         address="9 Quillon Road")])
    res = after_ingest(archive)
    assert res["matches"] == 4
    c = client(app, "reporter")
    t = c.get("/tracking").text
    api = c.get("/api/v1/notifications").json()
    shown = sorted(n["match_id"] for n in api["notifications"])
    assert api["total"] == 2 and api["unread"] == 2 and badge(t) == "2"
    for forbidden in ("Tabitha", "Marchbanks", "Rowan Close", "06EF6666666", "PELLINGHAM", "WRENFIELD", "Quillon"):
        assert forbidden not in t and forbidden not in str(api), forbidden
    assert "Sexual Offences (Amendment) Act 1992" in t and "06EF7777777" in t
    # the digest sends exactly the matches the feed shows
    d = alerts.send_digests(archive, smtp_host="127.0.0.1", smtp_port=smtp.port, keyring=KEY)
    assert d["matches_sent"] == 2 and d["withheld"] == 2
    assert sorted(m["id"] for m in rows(archive, "alert_match") if m["sent_at"]) == shown
    # "mark all seen" leaves the held-back ones unread (they appear if the restriction ends)
    assert c.post("/api/v1/notifications/seen", json={}, headers={"X-CSRF-Token": csrf(c)}).json() == {"marked": 2}
    assert sorted(m["id"] for m in rows(archive, "alert_match") if m["seen_at"]) == shown


def test_who_may_follow(archive, app):
    plant(archive, date=day(1), urn=URN, sensitivity="PUBLIC")
    anon = client(app)
    assert "sign in with a verified media account" in anon.get(f"/cases/{URN}").text
    r = anon.post("/tracking/follow", data={"kind": "case", "ref": URN})
    assert r.status_code == 403
    assert anon.get("/tracking", follow_redirects=False).status_code == 303
    lapsed = client(app, "lapsed")
    assert "following is for verified accounts" in lapsed.get(f"/cases/{URN}").text
    assert lapsed.post("/tracking/follow", data={"kind": "case", "ref": URN, "csrf_token": csrf(lapsed)}).status_code == 403
    analyst = client(app, "analyst1")
    # an analyst may follow a case (no identity in it for them) but not a person or a network
    r = analyst.post("/tracking/follow", data={"kind": "case", "ref": URN, "csrf_token": csrf(analyst)})
    assert r.status_code == 200 and "following case" in r.text
    r = analyst.post("/tracking/follow", data={"kind": "person", "ref": "1", "csrf_token": csrf(analyst)})
    assert r.status_code == 403 and "does not see identities" in r.text
    rep = client(app, "reporter")
    for kind, ref, status in (("case", "06XX0000000", 404), ("person", "999", 404), ("network", "abc", 404),
                              ("name", "Jon Smith", 422)):
        r = rep.post("/tracking/follow", data={"kind": kind, "ref": ref, "csrf_token": csrf(rep)})
        assert r.status_code == status, (kind, r.status_code, r.text[:300])
    # no CSRF token, no follow
    assert rep.post("/tracking/follow", data={"kind": "case", "ref": URN}).status_code == 403
    assert [s["kind"] for s in rows(archive, "subscription")] == ["case"]      # the analyst's only
    # the JSON API refuses the same (views.subscribe decides for both)
    from courtarchive.serve import auth

    tok = auth.create_token(archive, "analyst1", name="t", actor="setup")["token"]
    for kind in ("person", "network", "name"):
        r = TestClient(app).post("/api/v1/subscriptions", headers={"Authorization": f"Bearer {tok}"},
                                 json={"kind": kind, "query": "1" if kind != "name" else "Jon Smith"})
        assert r.status_code == 403 and "does not see identities" in r.json()["error"]["message"], (kind, r.text)
    assert [s["kind"] for s in rows(archive, "subscription")] == ["case"]


def test_notifications_api(archive, app):
    from courtarchive.serve import auth

    plant(archive, date=day(1), urn=URN)
    alerts.subscribe(archive, username="reporter", kind="case", query=URN)
    for n in (8, 15, 22):
        plant(archive, date=day(n), urn=URN)
        after_ingest(archive)
    assert TestClient(app).get("/api/v1/notifications").status_code == 403
    tok = auth.create_token(archive, "reporter", name="t", actor="setup")["token"]
    h = {"Authorization": f"Bearer {tok}"}
    c = TestClient(app)
    r = c.get("/api/v1/notifications", params={"limit": 2}, headers=h).json()
    assert r["total"] == 3 and r["unread"] == 3 and len(r["notifications"]) == 2 and r["next"]
    assert [n["date"] for n in r["notifications"]] == [day(22).isoformat(), day(15).isoformat()]
    assert all(n["event"] == "adjourned" and n["case_ref"] == URN for n in r["notifications"])
    r2 = c.get(r["next"], headers=h).json()
    assert [n["date"] for n in r2["notifications"]] == [day(8).isoformat()] and r2["next"] is None
    one = r["notifications"][0]["match_id"]
    assert c.post("/api/v1/notifications/seen", json={"ids": [one, 999999]}, headers=h).json() == {"marked": 1}
    r = c.get("/api/v1/notifications", params={"unread": True}, headers=h).json()
    assert r["total"] == 2 and one not in [n["match_id"] for n in r["notifications"]]
    assert c.post("/api/v1/notifications/seen", headers=h).json() == {"marked": 2}
    assert c.get("/api/v1/notifications", headers=h).json()["unread"] == 0
    assert c.get("/api/v1/notifications", params={"limit": 0}, headers=h).status_code == 422
    # a plea recorded at the next listing
    import sqlalchemy as sa

    from courtarchive.store.tables import TABLES

    w = plant(archive, date=day(29), urn=URN)
    O, H = TABLES["offence"], TABLES["hearing"]
    with archive.engine.begin() as conn:          # the list carries a plea (the test helper writes none)
        conn.execute(sa.update(O).where(O.c.hearing_id.in_(sa.select(H.c.id).where(H.c.publication_id == w.publication_id)))
                     .values(plea="GUILTY"))
    assert after_ingest(archive)["by_event"] == {"plea": 1}
    n = c.get("/api/v1/notifications", headers=h).json()["notifications"][0]
    assert n["event"] == "plea" and n["event_text"] == "plea entered" and not n["seen"]
    assert any(o["plea"] == "GUILTY" for p in n["parties"] for o in p["offences"])


def test_follow_buttons_on_person_and_network_pages():
    """On the shared generated site (linked persons and networks): the buttons per role, and a
    network followed and unfollowed."""
    from test_web_support import get_site, make_app

    site = get_site()
    app = make_app(site)
    rep = client(app, site.users["verified_media"])
    # the shared site outlives this test: other tests (the role sweep) may have followed these already
    for sid in set(re.findall(r'action="/tracking/(\d+)/unfollow"', rep.get("/tracking").text)):
        assert rep.post(f"/tracking/{sid}/unfollow", data={"csrf_token": csrf(rep)}).status_code == 200
    for path in (f"/persons/{site.person_plain}", f"/networks/{site.network}"):
        assert 'id="follow-button"' in rep.get(path).text, path
        assert "does not see identities" in client(app, site.users["analyst"]).get(path).text
        assert "following is for verified accounts" in client(app, site.users["expired_media"]).get(path).text
        assert "sign in with a verified media account" in client(app).get(path).text
    r = rep.post("/tracking/follow", data={"kind": "network", "ref": str(site.network), "csrf_token": csrf(rep)})
    assert r.status_code == 200 and f'href="/networks/{site.network}">network #{site.network}</a>' in r.text
    page = rep.get(f"/networks/{site.network}").text
    assert 'id="follow-button"' not in page and "Unfollow" in page
    sid = re.search(r'action="/tracking/(\d+)/unfollow"', page).group(1)
    r = rep.post(f"/tracking/{sid}/unfollow", data={"csrf_token": csrf(rep)})
    assert "stopped following" in r.text and f"network #{site.network}" not in r.text
    assert 'id="follow-button"' in rep.get(f"/networks/{site.network}").text


def test_badge_and_tracking_page_count_unread_alike(archive, app):  # noqa: F811
    """The nav badge and the Tracking page say one count (`alerts._unread`): up to 50, then "50+".
    The page had counted the unread matches of its 500-match window (52) while the badge said a
    different number; and the badge, reading only the newest 50 unread, said "47" when three of
    them were held back (a s.4(2) order) and visible ones lay beyond."""
    alerts.subscribe(archive, username="reporter", kind="court", query="Preston Magistrates' Court")
    for n in range(50):
        plant(archive, date=day(n), urn=f"06GH{n:07d}")
    after_ingest(archive)
    for n in range(3):          # the newest three: withheld whole from the feed and the badge
        plant(archive, date=day(100 + n), urn=f"06GJ{n:07d}", detail="Section 4(2) Contempt of Court Act 1981")
    after_ingest(archive)
    c = client(app, "reporter")
    t = c.get("/tracking").text
    api = c.get("/api/v1/notifications").json()
    assert badge(t) == "50" and "50 unread" in t and (api["unread"], api["unread_more"]) == (50, False)
    for n in range(2):
        plant(archive, date=day(200 + n), urn=f"06GK{n:07d}")
    after_ingest(archive)
    t = c.get("/tracking").text
    api = c.get("/api/v1/notifications").json()
    assert badge(t) == "50+" and "50+ unread" in t and (api["unread"], api["unread_more"]) == (50, True)
    assert api["total"] == 52                  # (the feed itself lists all it may show)


def test_analyst_is_told_plainly_what_it_may_follow(archive, app):  # noqa: F811
    """An analyst (pseudonymised data only; no digests: alerts.RECIPIENT_ROLES) was offered "in
    Tracking and by e-mail" on a case page, and told only "role analyst does not see identities" on
    a person page.  Each page now says what the role can follow, where it is notified, and why not."""
    plant(archive, date=day(1), urn=URN, sensitivity="PUBLIC")
    ana = client(app, "analyst1")
    follow = re.search(r'<div class="follow" id="follow">(.*?)</div>', ana.get(f"/cases/{URN}").text, re.S).group(1)
    assert 'id="follow-button"' in follow and "by e-mail" not in follow
    assert "Tracking</a> only (no e-mail: digests go to verified media and admins" in follow
    t = ana.get("/tracking").text
    assert "in your e-mail digest" not in t and "not by e-mail" in t
    assert "not by e-mail" in ana.get("/alerts").text
    r = ana.post("/tracking/follow", data={"kind": "person", "ref": "1", "csrf_token": csrf(ana)})
    assert r.status_code == 403
    msg = " ".join(re.sub(r"<[^>]+>", " ", r.text).split())
    assert "an analyst account can follow cases, URNs, courts and offence groups" in msg
    assert "not a person: following a person tells who someone is" in msg and "does not see identities" in msg
    with pytest.raises(alerts.AlertError, match="an analyst account can follow cases"):
        alerts.subscribe(archive, username="analyst1", kind="name", query="Jon Smith")
    # a verified journalist is still told about the e-mail
    rep = client(app, "reporter")
    assert "Tracking</a> and by e-mail" in rep.get(f"/cases/{URN}").text
    assert "in your e-mail digest" in rep.get("/tracking").text
