"""Settings and request dependencies shared by the pages and the API (who is asking, CSRF)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

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
    base_url: str = "http://127.0.0.1:8000"
    title: str = "courtarchive"
    #: trust X-Forwarded-For for the client address (only behind your own proxy)
    trust_proxy: bool = False
    #: requests served at once per process (worker threads for the sync routes; see app.lifespan)
    threads: int = 8

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
                    base_url=env.get("COURTARCHIVE_BASE_URL", "http://127.0.0.1:8000"),
                    threads=max(1, int(env.get("COURTARCHIVE_WEB_THREADS", 8))))
        base.update(over)
        return cls(**base)


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


async def checked_principal(request: Request) -> auth.Principal:
    """`principal`, and for unsafe methods under cookie authentication the CSRF token (form field
    ``csrf_token`` or header ``X-CSRF-Token``)."""
    p = await run_in_threadpool(principal, request)
    if request.method.upper() not in auth.SAFE_METHODS and p.via == "session":
        supplied = request.headers.get("x-csrf-token")
        if not supplied and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            supplied = form.get("csrf_token")
        auth.check_csrf(p, request.method, supplied)
    return p
