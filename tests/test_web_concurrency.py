"""Concurrent requests against a real uvicorn server: the disclosure gate is no longer serialised
in the process (`views._gate` does not take `Portal.writing`), so every request's audit append
races the others at the database (SQLite: writer transactions, BEGIN IMMEDIATE).  None may fail
and the audit chain must stay whole: one event per gated output, no gap, no fork."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import sqlite3
import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from test_web_support import get_site, make_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _copy_site(site, dest):
    """The session's web site on a private copy of its archive (this test appends audit events)."""
    src_path = sa.make_url(site.url).database
    dst_path = dest / "archive.db"
    with sqlite3.connect(src_path) as src, sqlite3.connect(dst_path) as dst:
        src.backup(dst)
    return dataclasses.replace(site, url=f"sqlite:///{dst_path}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    site = _copy_site(get_site(), tmp_path_factory.mktemp("concurrency"))
    app = make_app(site)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not th.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield site, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(10)


def _requests(site) -> list[tuple[str, dict]]:
    court, day = site.court_day
    media = {"Authorization": f"Bearer {site.tokens['verified_media']}"}
    analyst = {"Authorization": f"Bearer {site.tokens['analyst']}"}
    kinds = [
        (f"/api/v1/cases/{site.urns['plain']}", media),
        (f"/api/v1/cases/{site.urns['generated']}", analyst),
        (f"/api/v1/courts/{court}/lists/{day.isoformat()}", media),
        (f"/courts/{court}/lists/{day.isoformat()}", {}),
        (f"/api/v1/persons/{site.person_plain}", media),
    ]
    return [kinds[i % len(kinds)] for i in range(20)]


def test_twenty_concurrent_requests_no_error_and_a_whole_audit_chain(server):
    from courtarchive.governance import audit
    from courtarchive.store import governance as sg

    site, base = server
    a = site.archive()
    try:
        before = sg.audit_summary(a)
        assert audit.verify(a).ok

        async def fire():
            async with httpx.AsyncClient(base_url=base, timeout=60,
                                         limits=httpx.Limits(max_connections=20)) as c:
                start = asyncio.Event()

                async def one(path, headers):
                    await start.wait()
                    return path, await c.get(path, headers=headers)

                tasks = [asyncio.create_task(one(p, h)) for p, h in _requests(site)]
                await asyncio.sleep(0)
                start.set()             # all 20 go at once
                return await asyncio.gather(*tasks)

        answers = asyncio.run(fire())
        bad = [(p, r.status_code, r.text[:200]) for p, r in answers if r.status_code != 200]
        assert not bad, bad

        res = audit.verify(a)
        assert res.ok, res.problems
        events = [e for e in sg.iter_audit(a) if e["seq"] > _head_seq(before)]
        gated = [e for e in events if e["action"] in ("api", "web")]
        assert len(gated) == 20, [(e["seq"], e["action"]) for e in events]
        assert [e["seq"] for e in events] == list(range(_head_seq(before) + 1, _head_seq(before) + 1 + len(events)))
    finally:
        a.close()


def _head_seq(summary: dict) -> int:
    return int((summary.get("head") or {}).get("seq") or 0)


def test_the_thread_lane_defaults_by_backend(monkeypatch):
    from courtarchive.serve.deps import WebSettings, default_threads

    assert default_threads("sqlite:////tmp/a.db") == 1 and default_threads(None) == 1
    assert default_threads("postgresql+psycopg://u@h/db") == 8
    monkeypatch.delenv("COURTARCHIVE_WEB_THREADS", raising=False)
    assert WebSettings.from_env().threads is None          # the backend decides
    monkeypatch.setenv("COURTARCHIVE_WEB_THREADS", "3")
    assert WebSettings.from_env().threads == 3


def test_an_export_runs_in_its_own_lane_and_holds_up_no_other_request(server, monkeypatch):
    """On SQLite the routes share one worker thread per process (`deps.default_threads`): an export
    or a screening run goes to the heavy lane instead, so a page asked for meanwhile is answered
    while the export is still being made."""
    from courtarchive.serve import views as V

    site, base = server
    entered, release = threading.Event(), threading.Event()
    real = V.export

    def slow_export(*args, **kw):
        entered.set()
        release.wait(30)
        return real(*args, **kw)

    monkeypatch.setattr(V, "export", slow_export)
    media = {"Authorization": f"Bearer {site.tokens['verified_media']}"}
    out = {}

    def do_export():
        out["r"] = httpx.post(base + "/api/v1/exports", json={"what": "case", "ref": site.urns["plain"], "format": "csv"},
                              headers=media, timeout=60)

    th = threading.Thread(target=do_export)
    th.start()
    try:
        assert entered.wait(30), "the export never started"
        r = httpx.get(base + f"/api/v1/cases/{site.urns['plain']}", headers=media, timeout=10)
        assert r.status_code == 200
        assert "r" not in out               # answered while the export was still held
    finally:
        release.set()
        th.join(60)
    assert out["r"].status_code == 200 and out["r"].text.startswith("# courtarchive export #")
