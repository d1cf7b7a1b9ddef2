"""The role sweep: every route of the app (pages and API, every method) x every role (anonymous/public,
verified media, verified media whose verification expired, analyst, admin), fetched with real ids
from a generated archive with planted people.  No response may carry what the policy forbids the
role: complainant names (any role), the identifying matter of a SOAA 1992 case (any role), a youth
court defendant (any role), a case under a s.4(2) order (any role), defendants' names, dates of
birth and addresses (public, expired media, analyst).  And governance is never bypassed: with the
gate broken no data route answers, and every record a view returns carries the gate's marks."""

from __future__ import annotations

import io
import re

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from test_web_support import (BEAT, FRAMPINGTON, KITTERIDGE, ROLES, SOAA_WORDING_BITS, forbidden_for, get_site,
                              leaks, make_app, sign_in)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def site():
    return get_site()


@pytest.fixture(scope="module")
def app(site):
    return make_app(site)


@pytest.fixture(scope="module")
def clients(app, site):
    out = {}
    for role in ROLES:
        c = TestClient(app, raise_server_exceptions=False)
        if site.users.get(role):
            sign_in(c, site.users[role])
        out[role] = c
    return out


def _csrf(client: TestClient) -> str:
    m = re.search(r'name="csrf_token" value="([^"]*)"', client.get("/").text)
    return m.group(1) if m else ""


def _values(site) -> dict[str, list]:
    (court, day), gen = site.court_day, site.generated_day
    return {
        "ref": [site.urns[k] for k in ("plain", "soaa", "youth", "s42", "generated")],
        "person_id": [site.person_plain, site.person_generated],
        "network_id": [site.network] if site.network else [],
        "court_day": list(site.planted_days) + ([gen] if gen else []),
        "court_id": [court],
        "token": ["no-such-unsubscribe-token"],
        "subscription_id": [999_999], "hold_id": [999_999], "token_id": [999_999], "beat_id": [999_999], "export_id": [1, 999_999],
    }


NAME_QUERIES = ["Ottoline Frampington", "Otoline Frampinton", "Barnaby Kitteridge", "Ptolemy Wrenfield",
                "Quentin Harrowgate", "rape", "06PL0000001"]


def _requests(path: str, method: str, site) -> list[dict]:
    """Concrete requests for one route: path filled with real ids, plausible query/body."""
    vals = _values(site)
    params = re.findall(r"{(\w+)}", path)
    fills: list[dict] = [{}]
    if "court_id" in params and "day" in params:
        fills = [{"court_id": c, "day": d} for c, d in vals["court_day"]]
    else:
        for p in params:
            fills = [{**f, p: v} for f in fills for v in vals.get(p, [])]
    urls = [path.format(**f) for f in fills]
    court, day = site.court_day
    out = []
    for url in urls:
        if method == "GET":
            if url in ("/search", "/api/v1/search"):
                out += [{"url": url, "params": {"q": q}} for q in NAME_QUERIES]
                out += [{"url": url, "params": {"q": "Frampington", "mode": "name"}}]
            elif url == "/lists":
                out.append({"url": url, "params": {"court": court, "date": day.isoformat()}})
            elif url in ("/digest", "/api/v1/digest"):     # the beat of the planted court, every planted day
                out += [{"url": url, "params": {"beat": BEAT, "date": d.isoformat()}} for _, d in site.planted_days]
            else:
                out.append({"url": url})
            continue
        if url in ("/exports", "/api/v1/exports"):
            bodies = [{"what": "case", "ref": site.urns["plain"], "format": "csv"},
                      {"what": "case", "ref": site.urns["soaa"], "format": "parquet"},
                      {"what": "day", "court": str(court), "date": day.isoformat(), "format": "csv"},
                      {"what": "search", "q": "Ottoline Frampington", "format": "csv"}]
            key = "json" if url.startswith("/api") else "data"
            out += [{"url": url, key: b} for b in bodies]
        elif url == "/api/v1/subscriptions":
            out.append({"url": url, "json": {"kind": "name", "query": "Ottoline Frampington"}})
        elif url == "/tracking/follow":
            out += [{"url": url, "data": {"kind": "case", "ref": site.urns[k]}} for k in ("plain", "youth", "s42")]
            out.append({"url": url, "data": {"kind": "person", "ref": str(site.person_plain)}})
        elif url == "/screening":
            # misspelt (the page echoes what was entered): the gate must still withhold the youth and the s.4(2) case
            names = b"name\nOttoline Frampington\nPtolemy Wrenfeld\nQuentin Harrowgait\nBarnaby Kitteridge\n"
            out.append({"url": url, "data": {}, "files": {"file": ("names.csv", names, "text/csv")}})
        elif url == "/digest/beats":
            out.append({"url": url, "data": {"name": "sweep beat", "courts": "Preston Magistrates' Court"}})
        elif url == "/digest/subscribe":
            out.append({"url": url, "data": {"beat": BEAT}})
        elif url == "/alerts":
            out.append({"url": url, "data": {"kind": "name", "query": "Ottoline Frampington"}})
        elif url == "/login":
            out.append({"url": url, "data": {"username": "reporter", "password": "wrong", "csrf_token": "x"}})
        elif url == "/admin/accounts":
            out.append({"url": url, "data": {"username": "someone", "role": "no_such_role"}})
        elif url == "/admin/accounts/verify":
            out.append({"url": url, "data": {"username": "nobody", "press_card": "X"}})
        elif url == "/admin/accounts/password":
            out.append({"url": url, "data": {"username": "nobody", "password": "long enough password"}})
        elif url == "/admin/holds":
            out.append({"url": url, "data": {"scope": "nowhere", "reason": "r", "authority": "a"}})
        elif url == "/admin/tokens":
            out.append({"url": url, "data": {"username": "nobody", "name": "x"}})
        else:
            out.append({"url": url, "data": {}})
    return out


def _body_text(r) -> str:
    ctype = r.headers.get("content-type", "")
    if "parquet" in ctype:
        t = pq.read_table(io.BytesIO(r.content))
        return str(t.to_pylist()) + str(t.schema.metadata)
    return r.text


def _without_echo(text: str, kw: dict) -> str:
    """The response minus the request's own input echoed back (the search box, the followed query):
    exact case only, so a name the store holds (surnames in capitals) is still caught."""
    import html as _html

    uploaded = [line for f in (kw.get("files") or {}).values() for line in f[1].decode().splitlines()]
    for group in ("params", "data", "json", "uploaded"):
        for v in (kw.get(group) or {}).values() if group != "uploaded" else uploaded:
            if isinstance(v, str) and len(v) > 3:
                for form in (v, _html.escape(v), _html.escape(v, quote=False)):
                    text = text.replace(form, "")
    return text


def _all_routes(app):
    from courtarchive.serve.app import route_table

    for path, methods, _route in route_table(app):
        for m in sorted(methods - {"HEAD"}):
            yield path, m


def test_every_route_every_role(app, clients, site):
    assert len(site.complainant_names) >= 5, "the generated lists should name complainants"
    checked, failures = 0, []
    routes = list(_all_routes(app))
    assert len(routes) >= 40
    for role in ROLES:
        c = clients[role]
        forbidden = forbidden_for(site, role)
        csrf = _csrf(c)
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        for path, method in routes:
            if path == "/logout":
                continue                    # would end this client's session: see test_web_auth
            for req in _requests(path, method, site):
                kw = {k: v for k, v in req.items() if k != "url"}
                if method != "GET" and "data" in kw and csrf:
                    kw["data"] = {**kw["data"], "csrf_token": csrf}
                r = c.request(method, req["url"], headers=headers, follow_redirects=False, **kw)
                checked += 1
                if r.status_code >= 500:
                    failures.append((role, method, req, r.status_code, r.text[:200]))
                    continue
                bad = leaks(_without_echo(_body_text(r), kw), forbidden)
                if bad:
                    failures.append((role, method, req, r.status_code, f"LEAK {bad[:5]}"))
                if path.startswith("/admin") and role != "admin" and r.status_code not in (403, 303):
                    failures.append((role, method, req, r.status_code, "admin route answered a non-admin"))
    assert not failures, "\n".join(map(str, failures[:20]))
    assert checked > 200


@pytest.mark.parametrize("transport", ["session", "token"])
def test_media_and_admin_see_the_planted_defendant(app, clients, site, transport):
    """The sweep's absences mean something: the roles that may see identity do see it."""
    for role in ROLES:
        if transport == "session":
            r = clients[role].get(f"/cases/{site.urns['plain']}")
            text = r.text
        else:
            c = TestClient(app)
            h = {"Authorization": f"Bearer {site.tokens[role]}"} if role in site.tokens else {}
            r = c.get(f"/api/v1/cases/{site.urns['plain']}", headers=h)
            text = r.text
        assert r.status_code == 200
        sees = all(x.casefold() in text.casefold() for x in (FRAMPINGTON["surname"], FRAMPINGTON["dob"].isoformat(),
                                                              "Gorsebrook"))
        assert sees == (role in ("verified_media", "admin")), role


def test_restricted_cases_show_the_restriction_and_no_wording(clients, site):
    for role in ROLES:
        c = clients[role]
        r = c.get(f"/cases/{site.urns['soaa']}")
        assert r.status_code == 200
        assert "Sexual Offences (Amendment) Act 1992" in r.text and "Reporting restrictions" in r.text, role
        assert not leaks(r.text, list(SOAA_WORDING_BITS))
        if role in ("verified_media", "admin"):
            assert KITTERIDGE["surname"] in r.text          # SOAA protects the complainant, not the defendant
        r = c.get(f"/cases/{site.urns['youth']}")
        assert "Children and Young Persons Act 1933 s.49" in r.text and "WRENFIELD" not in r.text.upper()
        r = c.get(f"/cases/{site.urns['s42']}")
        assert "Contempt of Court Act 1981 s.4(2)" in r.text and 'id="withheld"' in r.text
        assert "HARROWGATE" not in r.text.upper()
        j = c.get(f"/api/v1/cases/{site.urns['s42']}").json()
        assert j["case"] is None and j["withheld"].get("cca_s4_2") == 1


def test_name_search_only_for_roles_that_see_identity(app, site):
    c = TestClient(app)
    for role in ROLES:
        h = {"Authorization": f"Bearer {site.tokens[role]}"} if role in site.tokens else {}
        r = c.get("/api/v1/search", params={"q": "Otoline Frampinton", "mode": "name"}, headers=h)
        if role in ("verified_media", "admin"):
            assert r.status_code == 200, r.text
            hits = r.json()["hits"]
            assert hits and hits[0]["party"]["surname"] == "FRAMPINGTON"
        else:
            assert r.status_code == 403 and "verified media" in r.json()["error"]["message"]
    # each refusal is an access too: audited (who, method, path, why -- never the query typed)
    from courtarchive.store import governance as sg

    refused = [e for e in sg.audit_events(site.archive(), action="refused") if e["details"]["path"] == "/api/v1/search"]
    assert {e["actor"] for e in refused} >= {site.users.get("analyst", "anonymous"), "anonymous"}, refused
    assert not [e for e in refused if "Otoline" in str(e) or "Frampinton" in str(e)]


def test_exports_only_for_receivers_and_watermarked(app, site):
    c = TestClient(app)
    body = {"what": "case", "ref": site.urns["plain"], "format": "csv"}
    for role in ROLES:
        h = {"Authorization": f"Bearer {site.tokens[role]}"} if role in site.tokens else {}
        r = c.post("/api/v1/exports", json=body, headers=h)
        if role in ("public", "expired_media"):
            assert r.status_code == 403, (role, r.text)
            continue
        assert r.status_code == 200, (role, r.text)
        assert r.text.startswith("# courtarchive export #") and f"for {site.users[role]}" in r.text
        assert ("FRAMPINGTON" in r.text) == (role != "analyst")
        from courtarchive.governance.distribution import verify_watermark
        from test_web_support import keyring

        assert verify_watermark(keyring(), r.headers["x-courtarchive-watermark"])


def test_no_data_route_answers_when_the_gate_is_broken(app, site, monkeypatch):
    from courtarchive.governance.gate import GovernanceError
    from courtarchive.serve import views

    def broken(*a, **k):
        raise GovernanceError("gate down")

    monkeypatch.setattr(views, "disclose", broken)
    c = TestClient(app, raise_server_exceptions=False)
    court, day = site.court_day
    h = {"Authorization": f"Bearer {site.tokens['admin']}"}
    for url in (f"/cases/{site.urns['plain']}", f"/api/v1/cases/{site.urns['plain']}", f"/persons/{site.person_plain}",
                f"/api/v1/persons/{site.person_plain}", f"/courts/{court}/lists/{day}",
                f"/api/v1/courts/{court}/lists/{day}", "/api/v1/search?q=Ottoline+Frampington&mode=name",
                f"/networks/{site.network}", f"/api/v1/networks/{site.network}", "/api/v1/courts", "/map",
                f"/digest?beat={BEAT}&date={day}", f"/api/v1/digest?beat={BEAT}&date={day}"):
        r = c.get(url, headers=h)
        assert r.status_code == 500 and "FRAMPINGTON" not in r.text.upper(), url


def test_every_record_a_view_returns_passed_the_gate(app, site, monkeypatch):
    """Wrap the gate so every record it releases is marked; then every tagged record in every view's
    output must carry the mark (a record added after the gate, or read around it, would not)."""
    from courtarchive.serve import views as V
    from courtarchive.governance.policy import Viewer

    real = V.disclose

    def marking(records, viewer, **kw):
        d = real(records, viewer, **kw)

        def mark(r):
            r["_gated"] = True
            for v in r.values():
                if isinstance(v, list):
                    for x in v:
                        if isinstance(x, dict) and "_entity" in x:
                            mark(x)
        for r in d.records:
            mark(r)
        return d

    monkeypatch.setattr(V, "disclose", marking)
    p = app.state.portal
    from courtarchive.governance import accounts

    admin = accounts.viewer(p.archive, site.users["admin"])
    court, day = site.court_day
    outputs = [V.case(p, admin, site.urns["plain"]), V.person(p, admin, site.person_plain),
               V.day_list(p, admin, court, day), V.courts(p, admin), V.court(p, admin, court), V.map_data(p, admin),
               V.search(p, admin, "Ottoline Frampington", mode="name"), V.search(p, admin, site.urns["plain"]),
               V.network(p, admin, site.network), V.search(p, Viewer.public(), "rape")]
    seen = 0

    def walk(o):
        nonlocal seen
        if isinstance(o, dict):
            if "_entity" in o:
                seen += 1
                assert o.get("_gated"), o.get("_entity")
            for v in o.values():
                walk(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)

    for out in outputs:
        walk(out)
    assert seen > 20


def test_reports_for_receivers_only(clients):
    for role in ROLES:
        r = clients[role].get("/reports")
        if role in ("public", "expired_media"):
            assert r.status_code == 403
            assert clients[role].get("/reports/view").status_code == 403
            continue
        assert r.status_code == 200 and "run-1" in r.text
        v = clients[role].get("/reports/view", params={"name": "run-1"})
        assert v.status_code == 200 and "Analysis report (test)" in v.text
        assert "default-src 'none'" in v.headers["content-security-policy"]
    assert clients["admin"].get("/reports/view", params={"name": "../../etc"}).status_code == 404
