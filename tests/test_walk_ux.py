"""Small defects from the walk-throughs: error pages that forgot who is signed in, error lines without
their colon, a report listed as ".", and `init`'s lines wrapped at 80 columns in a pipe."""

from __future__ import annotations

import os
import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from courtarchive.governance import accounts
from courtarchive.governance.pseudonym import Keyring
from courtarchive.serve import auth
from courtarchive.serve.app import create_app
from courtarchive.serve.deps import WebSettings

PW = "a long enough passphrase"
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def client(archive, tmp_path):
    """The portal, signed in as admin ``ed``; its reports folder is ``tmp_path/analysis``."""
    accounts.add(archive, username="ed", role="admin", actor="t", email="ed@example.org")
    auth.set_password(archive, "ed", PW, actor="t")
    ws = WebSettings(db_url=archive.url, home=tmp_path / "home", reports_dir=tmp_path / "analysis")
    app = create_app(archive.url, settings=ws)
    app.state.portal.keyring = Keyring(bytes(range(32)))
    c = TestClient(app)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"username": "ed", "password": PW, "csrf_token": tok, "next": "/"},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


# ------------------------------------------------------------------ 1. error pages know who is signed in
def test_error_pages_show_the_signed_in_account(client):
    """/lists without a court or date (a route that never looked up who asks), an id out of bounds and
    a page that does not exist showed 'public view / Sign in' to a signed-in admin."""
    for path, status in (("/lists", 422), ("/courts/0", 422), ("/no-such-page", 404)):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == status, (path, r.text)
        assert '<span id="whoami">ed (admin)</span>' in r.text, path
        assert "public view" not in r.text and 'href="/admin"' in r.text, path
    anon = TestClient(client.app)          # no session: the public's header, as before
    r = anon.get("/lists")
    assert r.status_code == 422 and "public view" in r.text and "whoami" not in r.text


@SQLITE_ONLY
def test_a_refused_bearer_token_on_an_error_page_is_the_public_view(client):
    r = TestClient(client.app).post("/logout", headers={"Authorization": "Bearer nonsense"}, follow_redirects=False)
    assert r.status_code == 401 and "unknown API token" in r.text and "public view" in r.text


# ------------------------------------------------------------------ 3. a report at the reports folder's root
@SQLITE_ONLY
def test_a_report_at_the_reports_root_is_listed_by_the_folders_name(client, tmp_path):
    root = tmp_path / "analysis"
    (root / "2026-11-run").mkdir(parents=True)
    (root / "report.html").write_text("<!doctype html><h1>root findings</h1>")
    (root / "2026-11-run" / "report.html").write_text("<!doctype html><h1>run findings</h1>")
    os.utime(root / "report.html", (1_700_000_000, 1_700_000_000))     # older: listed second
    r = client.get("/reports")
    assert r.status_code == 200, r.text
    links = re.findall(r'<li><a href="([^"]+)">([^<]*)</a>', r.text)
    assert [text for _, text in links] == ["2026-11-run", "analysis"], links
    hrefs = dict((text, href) for href, text in links)
    assert "root findings" in client.get(hrefs["analysis"].replace("&amp;", "&")).text
    assert "run findings" in client.get(hrefs["2026-11-run"]).text


# ------------------------------------------------------------------ 2. "error: ..." everywhere
@SQLITE_ONLY
def test_search_and_governance_errors_say_error_colon(archive, monkeypatch, tmp_path):
    """`courtarchive search` and the governance commands printed 'error give a name...'."""
    from courtarchive.governance.cli import app as gov
    from courtarchive.serve.search_cli import app as search

    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_KEY", "ab" * 32)
    run = CliRunner()
    for app, args, says in (
            (search, ["search", "Jane Smith", "--case", "--from", "2025-13-40", "--db", archive.url], "date"),
            (search, ["search-index", "reindex", "--db", archive.url], "unknown action 'reindex'"),
            (gov, ["expire", "--dry-run", "--now", "2021-02-30", "--db", archive.url], "--now must be a date")):
        r = run.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        line = r.output.strip().splitlines()[-1]
        assert line.startswith("error: ") and says in line, (args, r.output)


# ------------------------------------------------------------------ 4. init's lines whole in a pipe
def test_init_lines_print_whole_when_output_is_not_a_terminal(monkeypatch, tmp_path):
    from courtarchive.serve.cli import app

    home = tmp_path / "a-newsroom-share-with-a-long-folder-name" / "courtarchive-data-for-the-north-west-desk"
    db = f"sqlite:///{home / 'archive.db'}"
    home.mkdir(parents=True)
    monkeypatch.setenv("COURTARCHIVE_HOME", str(home))
    for var in ("COURTARCHIVE_KEY", "COURTARCHIVE_KEY_FILE", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)
    r = CliRunner().invoke(app, ["init", "--db", db])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 2, r.output
    assert lines[0].startswith(f"created pseudonym key {home / 'keys' / 'pseudonym.key'} (mode 0600)")
    assert lines[1].startswith(f"archive ready at {db} (schema ")
    assert all(len(x) > 80 for x in lines)
