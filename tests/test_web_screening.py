"""Bulk name screening in the portal (issue 10 §4): upload a CSV or XLSX on /screening, see each row's
candidates with match probabilities and links to the person pages, download the same result as
CSV or Excel (the watermarked, audited export screen_archive wrote; its owner only).  Only roles
that see identities may screen; bad files get a clear error and leave nothing behind."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from fastapi.testclient import TestClient

from test_web_support import FRAMPINGTON, PASSWORD, ROLES, get_site, make_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def site():
    return get_site()


@pytest.fixture(scope="module")
def app(site):
    return make_app(site)


def login(app, user):
    c = TestClient(app, raise_server_exceptions=False)
    if user:
        tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        assert c.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": tok},
                      follow_redirects=False).status_code == 303
    return c


def csrf(c) -> str:
    m = re.search(r'name="csrf_token" value="([^"]*)"', c.get("/").text)
    return m.group(1) if m else ""


def upload(c, content: bytes, name="names.csv", **form):
    return c.post("/screening", data={"csrf_token": csrf(c), **form}, files={"file": (name, content, "text/csv")})


NAMES = f"name,date_of_birth,town\nOttoline Frampington,{FRAMPINGTON['dob']:%d/%m/%Y},Preston\nZephaniah Quorndonwick,,\n"


def exports_of(site, user):
    from courtarchive.store import governance as sg

    a = site.archive()
    try:
        return [e for e in sg.exports(a) if e["username"] == user and e["what"] == "screening"]
    finally:
        a.close()


def test_screen_a_csv_and_download(app, site):
    c = login(app, site.users["verified_media"])
    assert 'href="/screening"' in c.get("/").text
    page = c.get("/screening")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    before = len(exports_of(site, "reporter"))
    r = upload(c, NAMES.encode())
    assert r.status_code == 200, r.text[:500]
    assert "2 names, 1 with candidates" in r.text
    rows = re.findall(r'<tr class="(candidate|no-candidate)"><td>(\d+)</td>', r.text)
    assert ("no-candidate", "3") in rows                       # the made-up name: no candidate
    link = f'href="/persons/{site.person_plain}"'
    assert link in r.text and "FRAMPINGTON" in r.text
    top = re.search(r'<tr class="candidate"><td>2</td>.*?' + re.escape(link) + r'.*?<td class="score">([\d.]+)</td>',
                    r.text, re.S)
    assert top and float(top.group(1)) > 0.9                   # name, date of birth and town agree
    [rec] = exports_of(site, "reporter")[before:]
    assert rec["kind"] == "export" and rec["watermark"] in r.text
    # the CSV download is the export screen_archive wrote
    d = c.get(re.search(r'id="download-csv" href="([^"]+)"', r.text).group(1).replace("&amp;", "&"))
    assert d.status_code == 200 and d.headers["content-type"].startswith("text/csv")
    assert f'courtarchive-screening-{rec["id"]}.csv' in d.headers["content-disposition"]
    assert d.text.startswith(f'"# {rec["watermark"]}"') or d.text.startswith(f"# {rec['watermark']}")
    assert "FRAMPINGTON" in d.text and str(site.person_plain) in d.text and "match_probability" in d.text
    x = c.get(f"/screening/{rec['id']}/download", params={"format": "xlsx"})
    assert x.status_code == 200 and "spreadsheetml" in x.headers["content-type"]
    ws = openpyxl.load_workbook(io.BytesIO(x.content)).active
    vals = list(ws.iter_rows(values_only=True))
    assert vals[0][0] == rec["watermark"] and "match_probability" in vals[1]
    assert any(r_[vals[1].index("person_id")] == site.person_plain for r_ in vals[2:])
    # downloads are audited; nobody else can fetch them
    from courtarchive.store import governance as sg

    a = site.archive()
    try:
        ev = [e for e in sg.audit_events(a, limit=50) if e["action"] == "screening_download"]
    finally:
        a.close()
    assert len([e for e in ev if e["actor"] == "reporter"]) >= 2
    admin = login(app, site.users["admin"])
    assert admin.get(f"/screening/{rec['id']}/download").status_code == 404
    assert c.get("/screening/999999/download").status_code == 404


def test_xlsx_upload(app, site):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Forename", "Surname"])
    ws.append(["Ottoline", "Frampington"])
    buf = io.BytesIO()
    wb.save(buf)
    c = login(app, site.users["admin"])
    r = c.post("/screening", data={"csrf_token": csrf(c), "top": "3"},
               files={"file": ("list.xlsx", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 200 and f'href="/persons/{site.person_plain}"' in r.text


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("verified_media", "admin")])
def test_only_roles_that_see_identities_may_screen(app, site, role):
    c = login(app, site.users[role])
    r = c.get("/screening")
    assert r.status_code == 403 and "verified media account" in r.text
    assert 'href="/screening"' not in c.get("/").text
    r = upload(c, NAMES.encode())
    assert r.status_code == 403 and "FRAMPINGTON" not in r.text
    assert c.get("/screening/1/download").status_code == 403


def test_bad_uploads_are_refused_clearly(app, site, monkeypatch):
    from courtarchive.serve import newsroom_pages

    c = login(app, site.users["verified_media"])
    before = len(exports_of(site, "reporter"))
    cases = [
        (b"town\nPreston\n", "names.csv", {}, 422, "needs a &#39;name&#39; column"),
        (b"name,dob\nJohn SMITH,31/02/1990\n", "names.csv", {}, 422, "row 2, column date_of_birth"),
        (b"name\nJohn SMITH\n", "names.pdf", {}, 422, "reads .csv or .xlsx"),
        (b"not a workbook", "names.xlsx", {}, 422, "not a readable Excel workbook"),
        (NAMES.encode(), "names.csv", {"threshold": "2"}, 422, "threshold must be between"),
        (NAMES.encode(), "names.csv", {"top": "x"}, 422, "top: not a number"),
    ]
    for content, name, form, status, msg in cases:
        r = upload(c, content, name, **form)
        assert r.status_code == status and msg in r.text, (name, form, r.status_code, r.text[-1500:])
    r = c.post("/screening", data={"csrf_token": csrf(c)})
    assert r.status_code == 422 and "upload a CSV or XLSX file" in r.text
    r = c.post("/screening", data={"csrf_token": csrf(c)}, files={"file": ("", b"", "application/octet-stream")})
    assert r.status_code == 422 and "choose a CSV or XLSX file" in r.text
    monkeypatch.setattr(newsroom_pages, "MAX_ROWS", 1)
    r = upload(c, NAMES.encode())
    assert r.status_code == 422 and "at most 1" in r.text
    monkeypatch.setattr(newsroom_pages, "MAX_UPLOAD_MB", 0)
    r = upload(c, b"name\n" + b"John SMITH\n" * 10_000)
    assert r.status_code == 413 and "too big" in r.text
    # no CSRF token: refused before anything is read
    r = c.post("/screening", files={"file": ("names.csv", NAMES.encode(), "text/csv")})
    assert r.status_code == 403
    assert len(exports_of(site, "reporter")) == before          # nothing was screened or written


def test_screening_api(app, site):
    """POST /api/v1/screening: the same screening for API clients -- JSON in, candidates out, the
    watermarked export and its downloads; role-limited and validated like the page."""
    c = TestClient(app, raise_server_exceptions=False)
    media = {"Authorization": f"Bearer {site.tokens['verified_media']}"}
    before = len(exports_of(site, "reporter"))
    body = {"names": [{"name": "Ottoline Frampington", "date_of_birth": f"{FRAMPINGTON['dob']:%d/%m/%Y}",
                       "town": "Preston"},
                      {"forenames": "Zephaniah", "surname": "Quorndonwick"}], "top": 3}
    r = c.post("/api/v1/screening", json=body, headers=media)
    assert r.status_code == 200, r.text
    js = r.json()
    assert js["rows"] == 2 and js["rows_with_matches"] == 1 and js["watermark"]
    first, second = js["results"]
    assert first["row"] == 1 and first["name_entered"] == "Ottoline Frampington"
    top = first["candidates"][0]
    assert top["person_id"] == site.person_plain and top["match_probability"] > 0.9 and "FRAMPINGTON" in top["name"]
    assert second["row"] == 2 and second["candidates"] == []
    [rec] = exports_of(site, "reporter")[before:]
    assert rec["id"] == js["export_id"] and rec["watermark"] == js["watermark"]
    d = c.get(js["downloads"]["xlsx"], headers=media)
    assert d.status_code == 200 and d.content[:2] == b"PK"
    # other roles: refused, nothing screened
    for role in ("expired_media", "analyst"):            # accounts whose role does not see identities
        r = c.post("/api/v1/screening", json=body, headers={"Authorization": f"Bearer {site.tokens[role]}"})
        assert r.status_code == 403 and "FRAMPINGTON" not in r.text
    # bad input: a clear 422 naming the row
    for bad, msg in (({"names": []}, "names"), ({"names": [{"town": "Preston"}]}, "row 1: no name"),
                     ({"names": [{"name": "John SMITH", "date_of_birth": "31/02/1990"}]}, "row 1, column date_of_birth"),
                     ({"names": [{"name": "John SMITH"}], "top": 99}, "top")):
        r = c.post("/api/v1/screening", json=bad, headers=media)
        assert r.status_code == 422 and msg in r.json()["error"]["message"], (bad, r.text)
    assert c.post("/api/v1/screening", json=body).status_code in (401, 403)    # anonymous
    assert len(exports_of(site, "reporter")) == before + 1
