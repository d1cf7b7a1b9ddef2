"""Web portal accounts: argon2id passwords, sessions (cookie flags, expiry, logout), CSRF, login rate
limits, API tokens; and the `account password` / `token` commands.  Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from courtarchive.governance import accounts
from courtarchive.governance.pseudonym import Keyring
from courtarchive.serve import auth
from courtarchive.serve.app import create_app
from courtarchive.serve.deps import WebSettings
from courtarchive.store import serve as ss
from courtarchive.store.tables import TABLES

PW = "a long enough passphrase"
#: the store SQL of sessions, tokens and attempts runs on both backends in the other tests; these
#: add web behaviour only, so they run once (argon2 is deliberately slow)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def site(archive, tmp_path):
    accounts.add(archive, username="ed", role="admin", actor="t", email="ed@example.org")
    auth.set_password(archive, "ed", PW, actor="t")

    def make(base_url="http://testserver", **over):
        over.setdefault("limits", auth.Limits(per_user=5, per_ip=20, window_minutes=15, session_hours=12))
        ws = WebSettings(db_url=archive.url, home=tmp_path / "home", reports_dir=tmp_path / "reports", **over)
        app = create_app(archive.url, settings=ws)
        app.state.portal.keyring = Keyring(bytes(range(32)))
        return TestClient(app, base_url=base_url)

    return make


def login(client: TestClient, user="ed", password=PW, **kw):
    r = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    return client.post("/login", data={"username": user, "password": password, "csrf_token": token, "next": "/"},
                       follow_redirects=False, **kw)


def csrf_of(client: TestClient) -> str:
    r = client.get("/")
    return re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)


def me(client: TestClient, **kw) -> dict:
    r = client.get("/api/v1/me", **kw)
    assert r.status_code == 200, r.text
    return r.json()


@SQLITE_ONLY
def test_security_headers_on_every_response(site):
    """Pages, API answers, errors and static files carry the security headers; everything but
    static files is ``no-store`` (names must not linger in caches)."""
    c = site()
    for path, status in (("/", 200), ("/api/v1/me", 200), ("/api/v1/cases/NOPE", 404), ("/no/such/page", 404),
                         ("/static/htmx.min.js", 200)):
        r = c.get(path)
        assert r.status_code == status, (path, r.status_code)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert (r.headers.get("cache-control") == "no-store") is (not path.startswith("/static")), path
        assert len(r.headers.get_list("x-frame-options")) == 1, path


def test_password_hashing():
    h = auth.hash_password(PW)
    assert h.startswith("$argon2id$")
    assert auth.verify_password(h, PW)
    assert not auth.verify_password(h, PW + "x")
    assert not auth.verify_password(None, PW)
    assert not auth.verify_password("not a hash", PW)
    assert auth.hash_password(PW) != h                      # salted
    with pytest.raises(ValueError, match="at least"):
        auth.hash_password("short")


def test_login_ok_sets_a_safe_session_cookie(site, archive):
    c = site()
    assert me(c)["effective_role"] == "public"
    r = login(c)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith(auth.SESSION_COOKIE + "=")][0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Secure" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert me(c)["username"] == "ed" and me(c)["via"] == "session"
    # the store keeps only the token's hash; the password only as an argon2id hash
    with archive.engine.connect() as conn:
        rows = conn.execute(sa.select(TABLES["web_session"])).all()
        acc = conn.execute(sa.select(TABLES["account"]).where(TABLES["account"].c.username == "ed")).first()
    assert [r.token_hash for r in rows] == [auth.sha256(token)]
    assert token not in str([tuple(r) for r in rows])
    assert acc.password_hash.startswith("$argon2id$") and PW not in acc.password_hash


@SQLITE_ONLY
def test_secure_cookie_setting(site):
    r = login(site(secure_cookies=True, base_url="https://testserver"))
    assert r.status_code == 303
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith(auth.SESSION_COOKIE + "=")][0]
    assert "Secure" in cookie


def test_login_failure(site, archive):
    c = site()
    for user, pw in (("ed", "wrong password here"), ("nobody", PW)):
        r = login(c, user, pw)
        assert r.status_code == 401
        assert "wrong username or password" in r.text           # same answer: no account enumeration
        assert auth.SESSION_COOKIE not in r.cookies
    assert me(c)["effective_role"] == "public"
    from courtarchive.store import governance as sg

    assert len(sg.audit_events(archive, action="login_failed")) == 2


@SQLITE_ONLY
def test_login_form_needs_its_csrf_cookie(site):
    c = site()
    r = c.post("/login", data={"username": "ed", "password": PW, "csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert me(c)["effective_role"] == "public"


def test_rate_limit_per_username(site):
    c = site()
    for _ in range(5):
        assert login(c, "ed", "wrong password again").status_code == 401
    r = login(c, "ed", PW)                      # even the right password is refused now
    assert r.status_code == 429 and "too many" in r.text and r.headers["retry-after"] == str(15 * 60)
    assert me(c)["effective_role"] == "public"


@SQLITE_ONLY
def test_rate_limit_per_address_and_window(site, archive):
    c = site(limits=auth.Limits(per_user=100, per_ip=3, window_minutes=15))
    for i in range(3):
        assert login(c, f"user{i}", "whatever password").status_code == 401
    assert login(c, "ed", PW).status_code == 429
    # attempts older than the window no longer count
    with archive.engine.begin() as conn:
        conn.execute(sa.update(TABLES["login_attempt"]).values(at=ss.now() - dt.timedelta(minutes=16)))
    assert login(c, "ed", PW).status_code == 303


def test_csrf_refused_on_unsafe_requests(site):
    c = site()
    login(c)
    token = csrf_of(c)
    for data in ({}, {"csrf_token": "wrong"}):
        r = c.post("/logout", data=data, follow_redirects=False)
        assert r.status_code == 403 and "CSRF" in r.text
    assert me(c)["username"] == "ed"
    r = c.post("/api/v1/exports", json={"what": "case", "ref": "X"})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
    r = c.post("/api/v1/exports", json={"what": "case", "ref": "X"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 404                 # past the CSRF check: no such case
    r = c.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303


def test_logout_ends_the_session_server_side(site, archive):
    c = site()
    r = login(c)
    cookie = r.cookies[auth.SESSION_COOKIE]
    c.post("/logout", data={"csrf_token": csrf_of(c)}, follow_redirects=False)
    other = site()
    other.cookies.set(auth.SESSION_COOKIE, cookie)
    assert me(other)["effective_role"] == "public"      # the old cookie no longer signs anyone in
    with archive.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(TABLES["web_session"])).scalar() == 0


def test_session_expiry(site, archive):
    c = site()
    login(c)
    assert me(c)["username"] == "ed"
    with archive.engine.begin() as conn:
        conn.execute(sa.update(TABLES["web_session"]).values(expires_at=ss.now() - dt.timedelta(seconds=1)))
    assert me(c)["effective_role"] == "public"
    r = c.get("/admin", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


@SQLITE_ONLY
def test_password_change_signs_out_sessions(site):
    c = site()
    login(c)
    auth.set_password(c.app.state.portal.archive, "ed", "another long passphrase", actor="t")
    assert me(c)["effective_role"] == "public"


def test_api_tokens(site, archive):
    c = site()
    t = auth.create_token(archive, "ed", name="script", actor="t")
    assert t["token"].startswith("ca_")
    h = {"Authorization": f"Bearer {t['token']}"}
    got = me(c, headers=h)
    assert got["username"] == "ed" and got["via"] == "token" and got["effective_role"] == "admin"
    # a bearer request needs no CSRF token (no cookie is involved)
    r = c.post("/api/v1/exports", json={"what": "case", "ref": "nothing"}, headers=h)
    assert r.status_code == 404
    listed = auth.list_tokens(archive, "ed")
    assert [x["prefix"] for x in listed] == [t["token"][:10]] and "token_hash" not in listed[0]
    for bad, why in (("Bearer ca_unknown", "unknown"), ("Basic abc", "Bearer"), ("Bearer ", "Bearer")):
        r = c.get("/api/v1/me", headers={"Authorization": bad})
        assert r.status_code == 401 and why in r.json()["error"]["message"]
        assert r.headers["www-authenticate"] == "Bearer"
    assert auth.revoke_token(archive, t["id"], actor="t")
    r = c.get("/api/v1/me", headers=h)
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    t2 = auth.create_token(archive, "ed", name="short", days=1, actor="t")
    with archive.engine.begin() as conn:
        conn.execute(sa.update(TABLES["api_token"]).where(TABLES["api_token"].c.id == t2["id"])
                     .values(expires_at=ss.now() - dt.timedelta(minutes=1)))
    r = c.get("/api/v1/me", headers={"Authorization": f"Bearer {t2['token']}"})
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


@SQLITE_ONLY
def test_other_authorization_schemes(site, archive):
    """Behind an HTTP-auth reverse proxy every request carries the proxy's ``Authorization: Basic``:
    the pages ignore a scheme that is not Bearer (sign-in and the session cookie work as usual); the
    API refuses it with a 401 and the Bearer challenge (cookie or not), and takes a Bearer token."""
    c = site()
    for scheme in ("Basic dXNlcjpwYXNz", "basic x", "Basic", "Digest username=\"u\", nonce=\"n\"", "Negotiate abc"):
        h = {"Authorization": scheme}
        r = c.get("/login", headers=h, follow_redirects=False)
        assert r.status_code == 200 and 'name="csrf_token"' in r.text, (scheme, r.status_code, r.headers)
        assert c.get("/", headers=h).status_code == 200
        r = c.get("/api/v1/me", headers=h)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", scheme
        assert "Bearer" in r.json()["error"]["message"]
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login", headers=basic).text).group(1)
    r = c.post("/login", data={"username": "ed", "password": PW, "csrf_token": token, "next": "/admin"},
               headers=basic, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin", r.text
    r = c.get("/admin", headers=basic, follow_redirects=False)
    assert r.status_code == 200 and "Audit" in r.text            # signed in by the session cookie
    assert me(c)["username"] == "ed"
    assert c.get("/api/v1/me", headers=basic).status_code == 401   # the API does not guess
    assert c.get("/api/v1/docs", headers=basic).status_code == 200
    t = auth.create_token(archive, "ed", name="script", actor="t")
    assert me(c, headers={"Authorization": f"bearer  {t['token']} "})["via"] == "token"
    r = c.post("/logout", data={"csrf_token": csrf_of(c)}, headers=basic, follow_redirects=False)
    assert r.status_code == 303 and me(c)["effective_role"] == "public"


@SQLITE_ONLY
def test_a_refused_bearer_token_on_the_sign_in_page_does_not_loop(site):
    c = site()
    r = c.get("/login", headers={"Authorization": "Bearer ca_unknown"}, follow_redirects=False)
    assert r.status_code == 401 and "unknown API token" in r.text
    r = c.get("/admin", headers={"Authorization": "Bearer ca_unknown"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/admin"


def test_bearer_scheme():
    assert auth.bearer_scheme(None) is None and auth.bearer_scheme("  ") is None
    assert auth.bearer_scheme("Bearer x") and auth.bearer_scheme("BEARER x") and auth.bearer_scheme("Bearer")
    assert auth.bearer_scheme("Basic dXNlcjpwYXNz") is False and auth.bearer_scheme("Bearerx y") is False
    assert auth.from_bearer(None, "Basic dXNlcjpwYXNz") is None
    with pytest.raises(auth.AuthError, match="Bearer <token>"):
        auth.from_bearer(None, "Bearer   ")


@SQLITE_ONLY
def test_inactive_account_cannot_sign_in(site, archive):
    from courtarchive.store import governance as sg

    sg.save_account(archive, {"username": "ed", "active": False})
    assert login(site(), "ed", PW).status_code == 401


@SQLITE_ONLY
def test_cli_password_and_tokens(archive, monkeypatch):
    from typer.testing import CliRunner

    from courtarchive.serve.web_cli import app

    accounts.add(archive, username="jo", role="verified_media", actor="t")
    run = CliRunner()
    r = run.invoke(app, ["account", "password", "jo", "--password-stdin", "--db", archive.url], input=PW + "\n")
    assert r.exit_code == 0, r.output
    assert auth.verify_password(accounts.sg.get_account(archive, "jo")["password_hash"], PW)
    r = run.invoke(app, ["account", "password", "jo", "--password-stdin", "--db", archive.url], input="short\n")
    assert r.exit_code == 2 and "at least" in r.output
    r = run.invoke(app, ["account", "password", "ghost", "--password-stdin", "--db", archive.url], input=PW + "\n")
    assert r.exit_code == 2 and "no account" in r.output
    r = run.invoke(app, ["token", "create", "jo", "--name", "newsroom", "--db", archive.url])
    assert r.exit_code == 0, r.output
    tok = [ln for ln in r.output.splitlines() if ln.startswith("ca_")][0]
    assert auth.from_bearer(archive, f"Bearer {tok}").username == "jo"
    r = run.invoke(app, ["token", "list", "--db", archive.url])
    assert r.exit_code == 0 and "newsroom" in r.output and tok not in r.output
    tid = auth.list_tokens(archive, "jo")[0]["id"]
    r = run.invoke(app, ["token", "revoke", str(tid), "--db", archive.url])
    assert r.exit_code == 0
    with pytest.raises(auth.AuthError, match="revoked"):
        auth.from_bearer(archive, f"Bearer {tok}")
    # governance's account actions still work through the superset command
    r = run.invoke(app, ["account", "add", "kim", "--role", "analyst", "--db", archive.url])
    assert r.exit_code == 0 and accounts.sg.get_account(archive, "kim")["role"] == "analyst"
