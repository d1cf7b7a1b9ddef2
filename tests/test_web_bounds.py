"""Bad numbers never make a server error.  Every route of the app (pages and API, every method) is
called as an admin with huge ints (past SQLite's / PostgreSQL's 64-bit INTEGER), negative ints and
non-numbers in each of its path and query parameters, form fields and JSON body fields, one at a
time: the answer is a 4xx (404 no such record, 422 bad parameter), never a 5xx.  The API declares
the bounds of its integer parameters in its OpenAPI schema (so schemathesis can generate past them),
and alert subscriptions reject an id that is not one with a clear message."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import typing
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from test_web_support import BEAT, get_site, make_app, sign_in

from courtarchive.store.util import MAX_ID, as_id

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

HUGE = "99999999999999999999"
#: what each parameter is tried with, one at a time
BAD = [HUGE, str(MAX_ID + 1), str(MAX_ID), "-1", "-" + HUGE, "0", "abc", "1.5", "١٢"]
#: what the app's OverflowError net answers (serve.app.OUT_OF_RANGE)
OUT_OF_RANGE = "a number in the request is out of range"
KINDS = ("name", "urn", "court", "offence_group", "search", "case", "person", "network")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A private copy of the shared test archive: the sweep creates accounts, holds and alerts."""
    shared = get_site()
    root = tmp_path_factory.mktemp("bounds")
    src, dst = sqlite3.connect(shared.url.removeprefix("sqlite:///")), sqlite3.connect(root / "archive.db")
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    (root / "analysis").mkdir()
    return replace(shared, root=root, url=f"sqlite:///{root / 'archive.db'}", home=root / "home")


@pytest.fixture(scope="module")
def app(site):
    return make_app(site)


@pytest.fixture(scope="module")
def admin(app, site):
    c = TestClient(app, raise_server_exceptions=False)
    csrf = sign_in(c, site.users["admin"])
    c.headers["X-CSRF-Token"] = csrf
    c.csrf = csrf
    return c


# --------------------------------------------------------------------------- the sweep
def _fields(dep, kind: str) -> list:
    out = list(getattr(dep, kind))
    for sub in dep.dependencies:
        out += _fields(sub, kind)
    return out


def _base(name: str, annotation, site) -> str:
    """A plausible value for a parameter (the one not being varied)."""
    court, day = site.court_day
    by_name = {"day": day.isoformat(), "date": day.isoformat(), "court_id": str(court), "court": str(court),
               "beat": BEAT, "kind": "case", "what": "case", "ref": site.urns["plain"], "query": site.urns["plain"],
               "username": "nobody", "role": "analyst", "password": "long enough password", "press_card": "X",
               "scope": "case", "reason": "r", "authority": "a", "name": "bounds sweep", "format": "csv",
               "mode": "auto", "q": "smith"}
    if name in by_name:
        return by_name[name]
    if annotation is int or typing.get_args(annotation) and int in typing.get_args(annotation):
        return "1"
    return "x"


def _json_value(bad: str, annotation):
    if re.fullmatch(r"-?\d+", bad) and (annotation is int or int in typing.get_args(annotation)):
        return int(bad)
    return bad


def _requests(path: str, method: str, route, site):
    """(url, kwargs) for one route: each parameter in turn given each bad value."""
    dep = route.dependant
    path_params = {f.name: f.field_info.annotation for f in _fields(dep, "path_params")}
    query_params = {f.name: f.field_info.annotation for f in _fields(dep, "query_params")}
    body = _fields(dep, "body_params")
    base_path = {n: _base(n, a, site) for n, a in path_params.items()}
    base_query = {n: _base(n, a, site) for n, f in ((f.name, f) for f in _fields(dep, "query_params"))
                  for a in [f.field_info.annotation] if f.field_info.is_required() or n == "q"}
    model = next((f.field_info.annotation for f in body
                  if isinstance(f.field_info.annotation, type) and issubclass(f.field_info.annotation, BaseModel)), None)
    if model is None:
        opt = [a for f in body for a in typing.get_args(f.field_info.annotation)
               if isinstance(a, type) and issubclass(a, BaseModel)]
        model = opt[0] if opt else None
    form = {} if model is not None else {f.name: _base(f.name, f.field_info.annotation, site) for f in body}
    json_base = None
    if model is not None:
        json_base = {n: _base(n, f.annotation, site) for n, f in model.model_fields.items() if f.is_required()}
        if "names" in json_base:
            json_base["names"] = [{"name": "Ottoline Frampington"}]
        if model.__name__ == "SubscriptionIn":
            json_base = {"kind": "case", "query": site.urns["plain"]}
        if model.__name__ == "ExportIn":
            json_base = {"what": "case", "ref": site.urns["plain"]}

    def call(pp=None, qq=None, ff=None, jj=None):
        url = path.format(**{**base_path, **(pp or {})})
        kw = {"params": {**base_query, **(qq or {})}}
        if method != "GET":
            if model is not None:
                kw["json"] = jj if jj is not None else json_base
            elif form or ff:
                kw["data"] = {**form, **(ff or {})}
        return url, kw

    yield call()
    for bad in BAD:
        for n in path_params:
            yield call(pp={n: bad})
        for n in query_params:
            yield call(qq={n: bad})
        for n in form:
            yield call(ff={n: bad})
        if model is not None:
            for n, f in model.model_fields.items():
                if n == "names":
                    yield call(jj={**json_base, "names": [{"name": bad, "date_of_birth": bad}]})
                elif typing.get_origin(f.annotation) is list or list in map(typing.get_origin, typing.get_args(f.annotation)):
                    yield call(jj={**json_base, n: [_json_value(bad, int)]})
                else:
                    yield call(jj={**json_base, n: _json_value(bad, f.annotation)})
            if "kind" in model.model_fields:
                for kind in KINDS:
                    yield call(jj={**json_base, "kind": kind, "query": bad})
        if {"kind", "query"} <= set(form) or {"kind", "ref"} <= set(form):
            key = "query" if "query" in form else "ref"
            for kind in KINDS:
                yield call(ff={"kind": kind, key: bad})


def _all_routes(app):
    from courtarchive.serve.app import route_table

    for path, methods, route in route_table(app):
        for m in sorted(methods - {"HEAD"}):
            yield path, m, route


def _short(data):
    return {k: v for k, v in data.items() if k != "csrf_token"} if data else ""


#: routes whose huge numbers would still reach the database unbounded (caught by the app's
#: OverflowError net, a 422 "out of range", logged): none -- every id is bounded where it is read
NET_ONLY: set = set()


def test_every_route_every_bad_number(app, admin, site):
    failures, checked, routes, net = [], 0, list(_all_routes(app)), set()
    assert len(routes) >= 50
    for path, method, route in routes:
        if path == "/logout":
            continue                        # would end this client's session; it takes no parameters
        for url, kw in _requests(path, method, route, site):
            if "data" in kw:
                kw["data"] = {**kw["data"], "csrf_token": admin.csrf}
            r = admin.request(method, url, follow_redirects=False, **kw)
            checked += 1
            if r.status_code >= 500:
                failures.append((method, url, kw, r.status_code, r.text[:300]))
            elif OUT_OF_RANGE in r.text:
                net.add((method, path))
    # the bounds, not the net, catch them on every other route
    assert net <= NET_ONLY, net - NET_ONLY
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(
        sorted({f"{m} {u} {kw.get('params') or ''} {kw.get('json') or ''} {_short(kw.get('data'))}: {s}"
                for m, u, kw, s, _ in failures}))
    assert checked > 1000


# --------------------------------------------------------------------------- the reported cases
@pytest.mark.parametrize("url,param", [
    (f"/api/v1/search?q=smith&court_id={HUGE}", "court_id"), (f"/api/v1/search?q=smith&court_id=-{HUGE}", "court_id"),
    (f"/api/v1/persons/{HUGE}", "person_id"), (f"/api/v1/networks/{HUGE}", "network_id"),
    (f"/api/v1/courts/{HUGE}", "court_id"), (f"/api/v1/courts/{MAX_ID + 1}/lists/2024-01-01", "court_id"),
    (f"/api/v1/networks?offset={HUGE}", "offset"), (f"/api/v1/networks?limit={HUGE}", "limit"),
    (f"/api/v1/courts?offset={HUGE}", "offset"), (f"/api/v1/subscriptions/{HUGE}", "subscription_id"),
    (f"/persons/{HUGE}", "person_id"), (f"/courts/{HUGE}", "court_id"), (f"/networks/{HUGE}", "network_id"),
    (f"/networks?offset={HUGE}", "offset"), (f"/networks?limit={HUGE}", "limit"),
    (f"/courts/{HUGE}/lists/2024-01-01", "court_id"), (f"/search?q=smith&offset={HUGE}", "offset"),
    (f"/search?q=smith&court_id={HUGE}", "court_id"), (f"/lists?court={HUGE}&date=2024-01-01", "court"),
    ("/persons/-1", "person_id"), ("/persons/abc", "person_id"), ("/persons/0", "person_id"),
    (f"/alerts/{HUGE}/cancel", "subscription_id"), (f"/admin/holds/{HUGE}/release", "hold_id"),
    (f"/admin/tokens/{HUGE}/revoke", "token_id")])
def test_huge_ids_and_offsets_are_bad_parameters(admin, url, param):
    """Caught by the parameter's bounds (the message names it), before any query runs."""
    method = "POST" if url.endswith(("/cancel", "/release", "/revoke")) or url.startswith("/api/v1/subscriptions") else "GET"
    if url.startswith("/api/v1/subscriptions"):
        method = "DELETE"
    r = admin.request(method, url, data={"csrf_token": admin.csrf} if method == "POST" else None)
    assert r.status_code == 422, (url, r.status_code, r.text[:300])
    assert param in r.text, r.text[:300]
    if url.startswith("/api/"):
        assert r.json()["error"]["status"] == 422


def test_the_net_below_the_bounds(app, admin, monkeypatch, caplog):
    """A number that overflows below the routes (no bounds) is a 422 that says so, and is logged."""
    from courtarchive.serve import app as serve_app, views

    assert serve_app.OUT_OF_RANGE == OUT_OF_RANGE

    def overflow(*a, **k):
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    monkeypatch.setattr(views, "map_data", overflow)
    for url in ("/map",):
        r = admin.get(url)
        assert r.status_code == 422 and OUT_OF_RANGE in r.text and "SQLite" not in r.text, r.text[:300]
    assert "give the parameter bounds" in caplog.text and "OverflowError" in caplog.text


@pytest.mark.parametrize("kind", ["person", "network"])
@pytest.mark.parametrize("query", [HUGE, str(MAX_ID + 1), "-5", "12a", "١٢", "0"])
def test_subscription_to_a_non_id_is_a_clear_422(admin, kind, query):
    r = admin.post("/api/v1/subscriptions", json={"kind": kind, "query": query})
    assert r.status_code == 422, r.text
    msg = r.json()["error"]["message"]
    assert "id" in msg and str(MAX_ID) in msg, msg


@pytest.mark.parametrize("kind", ["person", "network"])
def test_subscription_to_an_unknown_id_in_range_says_so(admin, kind):
    r = admin.post("/api/v1/subscriptions", json={"kind": kind, "query": str(MAX_ID)})
    assert r.status_code == 422 and "no " in r.json()["error"]["message"], r.text


@pytest.mark.parametrize("kind", ["case", "court"])
def test_subscription_by_a_huge_number_is_not_found(admin, kind):
    r = admin.post("/api/v1/subscriptions", json={"kind": kind, "query": HUGE})
    assert r.status_code == 422 and f"no {kind}" in r.json()["error"]["message"], r.text


def test_alerts_form_and_follow_with_a_huge_id(admin):
    for kind in ("person", "network"):
        r = admin.post("/alerts", data={"kind": kind, "query": HUGE, "csrf_token": admin.csrf}, follow_redirects=False)
        assert r.status_code == 422 and "9223372036854775807" in r.text, r.text[:300]
    for kind in ("case", "person", "network"):
        r = admin.post("/tracking/follow", data={"kind": kind, "ref": HUGE, "csrf_token": admin.csrf},
                       follow_redirects=False)
        assert 400 <= r.status_code < 500, (kind, r.status_code, r.text[:300])


def test_store_id_lookups_take_any_number():
    assert as_id(HUGE) is None and as_id("-1") is None and as_id("1.0") is None
    assert as_id("١٢") is None and as_id(" 12 ") == 12 and as_id(MAX_ID) == MAX_ID
    assert as_id(True) is None and as_id(MAX_ID + 1) is None and as_id(5.0) is None
    assert as_id(None) is None and as_id(np.int64(5)) == 5


def test_store_lookups_with_out_of_range_ids(site):
    from courtarchive.store import alerts as store

    a = site.archive()
    try:
        for v in (int(HUGE), -int(HUGE), MAX_ID + 1):
            assert store.live_person(a, v) is None and not store.person_exists(a, v)
            assert not store.network_exists(a, v) and store.network_persons(a, v) == []
            assert store.court(a, v) is None
        assert store.resolve_case(a, HUGE) is None and store.find_court(a, HUGE) is None
        assert store.live_person(a, site.person_plain) is not None and store.network_exists(a, site.network)
    finally:
        a.close()


def test_openapi_declares_integer_bounds(app):
    """Every integer parameter and body field of the API has a declared range within a 64-bit id
    (without one, clients and schemathesis may send any integer)."""
    spec = TestClient(app).get("/api/v1/openapi.json").json()
    seen = []

    def check(where, schema):
        for s in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]:
            if s.get("type") == "integer":
                seen.append(where)
                assert "minimum" in s and "maximum" in s and -MAX_ID <= s["minimum"] <= s["maximum"] <= MAX_ID, \
                    (where, s)
            if s.get("type") == "array" and "items" in s:
                check(where + "[]", s["items"])

    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                check(f"{method} {path} {p['name']}", p["schema"])
    for name, comp in spec.get("components", {}).get("schemas", {}).items():
        for field, s in comp.get("properties", {}).items():
            check(f"{name}.{field}", s)
    assert "get /api/v1/search court_id" in seen and "get /api/v1/persons/{person_id} person_id" in seen


def test_a_day_list_out_of_range_is_not_a_server_error(admin):
    for day in ("9999-12-31", "0001-01-01"):
        for url in (f"/courts/1/lists/{day}", f"/api/v1/courts/1/lists/{day}"):
            assert admin.get(url).status_code < 500, url
    assert dt.date.max.isoformat() == "9999-12-31"


def test_network_list_is_audited_as_what_it_is(admin, site):
    """/api/v1/networks is an API answer (audit action ``api``), /networks a page (``web``)."""
    from courtarchive.store import governance as sg

    a = site.archive()
    try:
        for url, action in (("/api/v1/networks", "api"), ("/networks", "web")):
            r = admin.get(url)
            assert r.status_code == 200, r.text[:300]
            last = sg.audit_events(a, limit=1)[0]
            assert last["action"] == action and last["actor"] == site.users["admin"], (url, last)
    finally:
        a.close()
