"""The web portal and JSON API: ``create_app(archive_url=None, *, settings=None) -> FastAPI``.

Server-rendered pages (Jinja2; HTMX only as an enhancement: every core flow works without
JavaScript), the JSON API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``, a plain docs page
at ``/api/v1/docs`` -- no CDN), and the static assets served from the package (htmx, Leaflet, the
England & Wales outline).  ``courtarchive serve`` runs it on uvicorn.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import auth
from . import views as V
from .deps import Json, WebSettings, current_principal, default_threads

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
#: the answer when a number no route bounded overflowed below (see `create_app`)
OUT_OF_RANGE = "a number in the request is out of range"
ANALYSE_STATIC = HERE.parent / "analyse" / "static"


def _status_of(exc: Exception) -> tuple[int, str]:
    from ..governance.distribution import DistributionError

    if isinstance(exc, auth.RateLimited):
        return 429, str(exc)
    if isinstance(exc, auth.AuthError):
        return 401, str(exc)
    if isinstance(exc, (auth.CsrfError, V.Forbidden, DistributionError)):
        return 403, str(exc)
    if isinstance(exc, V.NotFound):
        return 404, str(exc)
    if isinstance(exc, V.Unavailable):
        return 503, str(exc)
    if isinstance(exc, ValueError):
        return 422, str(exc)
    return 500, "internal error"


async def api_bearer_only(request: Request) -> None:
    """On the API (``/api/...``) an ``Authorization`` header must be a Bearer token: another scheme
    (``Basic``, say) is a 401 with ``WWW-Authenticate: Bearer`` -- a client that sent credentials
    learns they were not taken, instead of silently getting the public's answers.  The pages ignore
    another scheme (`auth.from_bearer`): a portal behind an HTTP-auth reverse proxy signs in by its
    session cookie as usual.  (async: a header check, not worth a hop to the worker thread -- see
    `deps.who`)"""
    if request.url.path.startswith("/api/") and auth.bearer_scheme(request.headers.get("authorization")) is False:
        raise auth.AuthError("Authorization must be 'Bearer <token>' (an API token: courtarchive token create)")


def create_app(archive_url: str | None = None, *, settings: WebSettings | None = None) -> FastAPI:
    from ..config import settings as core_settings
    from ..governance.pseudonym import Keyring, KeyringError
    from ..store import Archive

    ws = settings or WebSettings.from_env()
    url = archive_url or ws.db_url or core_settings().db_url
    archive = Archive.open(url)
    archive.require_initialised()
    try:
        keyring = Keyring.from_settings(core_settings())
    except (KeyringError, OSError, ValueError):
        keyring = None          # analysts then see no tokens; exports refuse (no watermark key)
    portal = V.Portal(archive, keyring=keyring, home=Path(ws.home), reports_dir=ws.reports_dir)
    from ..analyse import report as _report  # noqa: F401  (igraph for network diagrams: import once, not on a request)

    _warm_up()

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        # sync routes run in anyio's thread pool (40 threads by default); on SQLite the work is
        # CPU-bound Python (GIL), so more threads only add switching: the requests wait their turn
        # (COURTARCHIVE_WEB_THREADS, else deps.default_threads)
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = ws.threads or default_threads(url)
        if ws.settle_gc:
            _settle_gc()
        yield
        archive.close()

    app = FastAPI(lifespan=lifespan, title="courtarchive API", version="1", openapi_url="/api/v1/openapi.json", docs_url=None,
                  redoc_url=None, default_response_class=Json,
                  description="England & Wales court lists archive. Every record passes the governance "
                              "disclosure gate for the caller's role.")
    app.state.portal = portal
    app.state.settings = ws

    from . import api, pages

    api_auth = [Depends(api_bearer_only)]            # on /api/ paths only: the routers mix pages and API
    app.include_router(api.router, dependencies=api_auth)
    app.include_router(pages.router)
    from . import digest_pages
    app.include_router(digest_pages.routes, dependencies=api_auth)   # /digest, /digest/beats..., /api/v1/digest, /api/v1/beats
    from . import newsroom_pages

    app.include_router(newsroom_pages.router, dependencies=api_auth)  # tracking and screening (issue 10 §3, §4)
    app.mount("/static/analyse", StaticFiles(directory=ANALYSE_STATIC), name="analyse_static")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")

    async def error(request: Request, status: int, message: str, details=None, headers=None):
        if wants_json(request):
            body = {"error": {"status": status, "message": message}}
            if details is not None:
                body["error"]["details"] = details
            return Json(body, status_code=status, headers=headers)
        if status == 401 and request.method == "GET" and request.url.path != "/login":
            # (not from /login itself: a refused Bearer token would send it round in circles)
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        # the header shows who is signed in, as on every page: a 404, a 422 from parameter checks or a
        # route without `deps.current_principal` (/lists) comes here before anything looked that up
        with contextlib.suppress(auth.AuthError):       # a refused Bearer token: the public view
            await current_principal(request)
        return pages.error_page(request, status, message, headers=headers)

    def audit_refusal(request: Request, msg: str) -> None:
        # a refused access is an access: who, what (method and path: never the query, which can
        # hold a name) and why
        from ..governance import audit

        who = getattr(request.state, "principal", None)
        viewer = who.viewer if who is not None else auth.Principal.anonymous().viewer
        audit.refusal(archive, viewer, reason=msg, method=request.method, path=request.url.path)

    async def handle(request: Request, exc: Exception):
        status, msg = _status_of(exc)
        if isinstance(exc, (V.Forbidden, DistributionError)):
            await run_in_threadpool(audit_refusal, request, msg)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, auth.RateLimited) else None
        if status == 401 and wants_json(request):
            headers = {"WWW-Authenticate": "Bearer"}
        return await error(request, status, msg, headers=headers)

    from ..governance.distribution import DistributionError

    # bad input anywhere below (search, alerts, holds, accounts raise ValueError subclasses) is a 422;
    # anything else unexpected stays a 500 (and is logged), never dressed up as a client error
    for exc_type in (auth.AuthError, auth.CsrfError, V.Forbidden, V.NotFound, V.Unavailable, DistributionError,
                     ValueError):
        app.add_exception_handler(exc_type, handle)

    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, exc: OverflowError):
        # Every integer parameter of the pages and the API is bounded (api.IdPath, api.Offset ...: a 422
        # before any query runs).  This is the net below them: a number that reached the database
        # unbounded (through a free-text ref, or a route without bounds) overflows when the driver
        # binds it (SQLite: at most a signed 64-bit integer); that is bad input, not a server fault.
        # Logged with its traceback, so the route can be given bounds.
        log.warning("%s %s: %s: give the parameter bounds", request.method, request.url.path, exc, exc_info=exc)
        from ..store.util import MAX_ID

        return await error(request, 422, f"{OUT_OF_RANGE} (an id is a whole number from 1 to {MAX_ID})")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        details = [{"loc": [str(x) for x in e.get("loc", ())], "msg": e.get("msg")} for e in exc.errors()]
        msg = "; ".join(f"{'.'.join(d['loc'][1:]) or d['loc'][0]}: {d['msg']}" for d in details) or "invalid input"
        return await error(request, 422, msg, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        msg = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and msg == "Not Found":
            msg = f"no page {request.url.path}"
        return await error(request, exc.status_code, msg, headers=getattr(exc, "headers", None))

    @app.get("/api/v1/docs", include_in_schema=False, response_class=HTMLResponse)
    def api_docs(request: Request):
        return pages.api_docs(request, app.openapi())

    @app.get("/api/v1", include_in_schema=False)
    def api_root():
        return RedirectResponse("/api/v1/docs", status_code=307)

    app.add_middleware(SecurityHeaders)
    return app


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"),
)


class SecurityHeaders:
    """Security headers on every response (and ``Cache-Control: no-store`` outside /static) as a
    plain ASGI middleware: Starlette's ``@app.middleware("http")`` wraps every response in a
    streaming body and a task group, ~0.5 ms a request here."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS:
                    headers.setdefault(k, v)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: the collector's thresholds while serving (generation 0, 1, 2); see `_settle_gc`
GC_THRESHOLD = (2_000, 10, 100)


def _settle_gc() -> None:
    """Once a serving worker has imported and warmed up (`WebSettings.settle_gc`): what it holds from
    then on -- modules, templates, the drawing stack -- is frozen out of the collector; generation 0
    is collected every 2,000 allocations (not 700) and a full collection is considered every 100th
    generation-1 collection (not 10th).  Measured under load (50 clients, two workers, 60 s;
    bench/RESULTS.md, session 19): with Python's defaults a full collection walked every object of
    the imported stack, 200-470 ms with the worker stopped and every request queued on it
    waiting, about once every 4 s per worker; frozen, with these thresholds, 4 full collections a
    minute of 40-60 ms and no other pause over 15 ms.  (50,000 allocations for generation 0 made
    one collection in eight take ~30 ms: the young objects of a request in flight.)"""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def _warm_up() -> None:
    """Draw a two-node network once at start: igraph imports its drawing stack (matplotlib) on the
    first layout, which took seconds on the first network page request, under load stalling others."""
    try:
        V.network_svg([{"n": 1}, {"n": 2}], [(0, 1, "co-defendants")], 0)
    except ImportError:         # no igraph: network pages say so themselves
        pass


def route_table(app: FastAPI) -> list[tuple[str, frozenset[str], object]]:
    """Every HTTP route of the app as (path, methods, route) -- including those of included routers
    (the role sweep test walks this)."""
    from fastapi.routing import APIRoute

    out: list = []

    def walk(routes, prefix=""):
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:
                walk(inner.routes, prefix + (getattr(getattr(r, "include_context", None), "prefix", "") or ""))
            elif isinstance(r, APIRoute):
                out.append((prefix + r.path, frozenset(r.methods), r))

    walk(app.routes)
    return out
