"""Settings and request dependencies shared by the pages and the API (who is asking, CSRF)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from . import auth
from .views import Portal


@dataclass
class WebSettings:
    """Web portal settings (environment first: COURTARCHIVE_* variables, see `from_env`)."""

    db_url: str | None = None
    home: Path = Path("courtarchive-data")
    #: mark cookies Secure (serve over https, e.g. behind a TLS-terminating proxy)
    secure_cookies: bool = False
    limits: auth.Limits = field(default_factory=auth.Limits)
    reports_dir: Path | None = None
    base_url: str = "http://localhost:8000"     # (as `config.Settings`)
    title: str = "courtarchive"
    #: trust X-Forwarded-For for the client address (only behind your own proxy)
    trust_proxy: bool = False
    #: requests served at once per process (worker threads for the sync routes; None: by backend,
    #: `default_threads`; see app.lifespan)
    threads: int | None = None
    #: exports and screening runs served at once per process, in a lane of their own (`heavy`)
    heavy_threads: int = 2
    #: a serving process tunes Python's garbage collector once warmed up (`app._settle_gc`);
    #: ``COURTARCHIVE_WEB_GC=default`` keeps Python's defaults.  Off for an app built in-process
    #: (tests, a host application): the collector is the process's, not the app's
    settle_gc: bool = False

    @classmethod
    def from_env(cls, **over) -> "WebSettings":
        from ..config import settings

        s = settings()
        env = os.environ
        home = Path(over.pop("home", None) or s.home)
        reports = over.pop("reports_dir", None) or env.get("COURTARCHIVE_REPORTS") or home / "analysis"
        lim = auth.Limits(
            per_user=int(env.get("COURTARCHIVE_LOGIN_LIMIT_USER", 5)),
            per_ip=int(env.get("COURTARCHIVE_LOGIN_LIMIT_IP", 20)),
            window_minutes=int(env.get("COURTARCHIVE_LOGIN_WINDOW_MIN", 15)),
            session_hours=float(env.get("COURTARCHIVE_SESSION_HOURS", 12)))
        base = dict(db_url=s.db_url, home=home, reports_dir=Path(reports), limits=lim,
                    secure_cookies=env.get("COURTARCHIVE_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
                    base_url=env.get("COURTARCHIVE_BASE_URL", "http://localhost:8000"),
                    threads=max(1, int(env["COURTARCHIVE_WEB_THREADS"])) if env.get("COURTARCHIVE_WEB_THREADS") else None,
                    settle_gc=_gc_setting(env.get("COURTARCHIVE_WEB_GC", "")))
        base.update(over)
        return cls(**base)


def _gc_setting(v: str) -> bool:
    """``COURTARCHIVE_WEB_GC``: ``tuned`` (the default) or ``default`` (Python's own collector
    settings); anything else is a ConfigError (one line, exit code 2)."""
    v = v.strip().lower()
    if v in ("", "tuned"):
        return True
    if v == "default":
        return False
    from ..config import ConfigError

    raise ConfigError(f"COURTARCHIVE_WEB_GC must be 'tuned' or 'default', not {v!r}")


def default_threads(db_url: str | None) -> int:
    """Worker threads for the sync routes when COURTARCHIVE_WEB_THREADS is not set.

    SQLite: 1.  A request is CPU-bound Python end to end (the database is a library call), so a
    second thread only contends for the GIL: 50 clients firing back to back at one process got
    170 req/s, p95 369 ms with one thread against 87 req/s, p95 735 ms with eight (bench/load.py,
    bench/RESULTS.md).  Exports and screening runs have their own lane (`heavy`), so one long
    request does not hold up the rest.  PostgreSQL: 8 -- a request waits on a dozen round trips to
    the server, and other requests run meanwhile (90 req/s with 8 threads, 65 with 1)."""
    return 1 if (db_url or "sqlite").startswith("sqlite") else 8


async def heavy(request: Request, fn, *args, **kw):
    """Run ``fn(*args, **kw)`` in the heavy lane: a thread pool of its own (``heavy_threads``) for
    long requests -- exports, screening runs -- beside the one the other routes share."""
    state = request.app.state
    lane = getattr(state, "heavy_lane", None)
    if lane is None:
        lane = state.heavy_lane = anyio.CapacityLimiter(settings_of(request).heavy_threads)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kw), limiter=lane)


def dumps(obj) -> bytes:
    return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS)


def _default(o):
    if isinstance(o, (bytes, bytearray, memoryview)):
        return bytes(o).hex()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return str(o)


class Json(JSONResponse):
    """JSON via orjson (dates as ISO strings; anything else as its string)."""

    def render(self, content) -> bytes:
        return dumps(content)


def portal(request: Request) -> Portal:
    return request.app.state.portal


def settings_of(request: Request) -> WebSettings:
    return request.app.state.settings


def client_ip(request: Request) -> str | None:
    if settings_of(request).trust_proxy:
        fwd = request.headers.get("x-forwarded-for")
        if fwd:
            return fwd.split(",")[0].strip()
    return request.client.host if request.client else None


def principal(request: Request) -> auth.Principal:
    """Bearer token, else session cookie, else anonymous (public).  A bad bearer token is a 401."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    archive = portal(request).archive
    p = auth.from_bearer(archive, request.headers.get("authorization"))
    if p is None:
        p = auth.from_session(archive, request.cookies.get(auth.SESSION_COOKIE))
    p = p or auth.Principal.anonymous()
    request.state.principal = p
    return p


async def current_principal(request: Request) -> auth.Principal:
    """`principal` as the routes' dependency.  On SQLite it runs on the event loop: a look-up of a
    few tens of microseconds, where a hop to the routes' one worker thread (`default_threads`) waits
    behind every request queued there -- a sync dependency is a hop of its own before the route's,
    so under load a request waited in that queue twice, an API request (with `app.api_bearer_only`)
    three times, and latency followed the number of hops, not the work (bench/RESULTS.md, session
    17).  PostgreSQL: in the thread pool (a round trip to the server must not stop the loop)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:              # (the error handler asks again for the page's header)
        return cached
    if portal(request).archive.sqlite:
        return principal(request)
    return await run_in_threadpool(principal, request)


async def checked_principal(request: Request) -> auth.Principal:
    """`principal`, and for unsafe methods under cookie authentication the CSRF token (form field
    ``csrf_token`` or header ``X-CSRF-Token``)."""
    p = await current_principal(request)
    if request.method.upper() not in auth.SAFE_METHODS and p.via == "session":
        supplied = request.headers.get("x-csrf-token")
        if not supplied and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            supplied = form.get("csrf_token")
        auth.check_csrf(p, request.method, supplied)
    return p
