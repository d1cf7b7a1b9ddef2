"""HTML pages (Jinja2, server-rendered).  Forms POST with the session's CSRF token; HTMX (vendored,
local) only enhances live search and pagination -- every flow works without JavaScript.
Records come from `views` (the disclosure gate); templates show what the gate released."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Annotated, Optional
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from . import auth
from . import views as V
from .api import MAX_ID, IdPath, Offset
from .auth import Principal
from .deps import checked_principal, client_ip, current_principal, heavy, portal, settings_of

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
# the templates are package files: not checked for changes on disk at every render (a stat per
# template and include, ~12 a page)
templates.env.auto_reload = False
templates.env.globals.update(display_name=V.display_name, restrictions=V.restrictions, case_path=V.case_path)
templates.env.filters["json_script"] = lambda obj: orjson.dumps(obj, default=str).decode().replace("</", "<\\/")

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

Who = Annotated[Principal, Depends(current_principal)]
WhoChecked = Annotated[Principal, Depends(checked_principal)]


def _ctx(request: Request, who: Principal | None = None, **kw) -> dict:
    who = who or getattr(request.state, "principal", None) or auth.Principal.anonymous()
    v = who.viewer
    return {"request": request, "who": who, "user": v.username if who.signed_in else None,
            "role": v.role, "effective_role": v.effective_role(), "csrf": who.csrf or "",
            "may_search_names": V.may_search_names(v), "may_receive": V.may_receive(v),
            "title": settings_of(request).title, **kw}


def render(request: Request, name: str, who: Principal | None = None, status: int = 200, headers=None, **kw):
    return templates.TemplateResponse(request, name, _ctx(request, who, **kw), status_code=status, headers=headers)


def error_page(request: Request, status: int, message: str, headers=None):
    return render(request, "error.html", status=status, headers=headers, status_code=status, message=message)


def api_docs(request: Request, spec: dict):
    return render(request, "api_docs.html", spec=spec)


def _hx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# --------------------------------------------------------------------------- sign in / out
def _login_csrf(request: Request) -> str:
    return request.cookies.get(auth.LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)


@router.get("/login")
def login_form(request: Request, who: Who, next: Annotated[str, Query(max_length=300)] = "/"):
    token = _login_csrf(request)
    resp = render(request, "login.html", who, login_csrf=token, next=_safe_next(next), message=None)
    resp.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax",
                    secure=settings_of(request).secure_cookies, max_age=3600)
    return resp


def _safe_next(n: str | None) -> str:
    return n if n and n.startswith("/") and not n.startswith("//") else "/"


@router.post("/login")
def login(request: Request, who: Who, username: Annotated[str, Form(max_length=200)] = "",
          password: Annotated[str, Form(max_length=1000)] = "", csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form(max_length=300)] = "/"):
    cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE)
    if not cookie or not secrets.compare_digest(cookie, csrf_token or ""):
        raise auth.CsrfError("the sign-in form expired: reload the page and try again")
    ws = settings_of(request)
    try:
        token, _csrf, expires = auth.login(portal(request).archive, username, password, ip=client_ip(request),
                                           user_agent=request.headers.get("user-agent"), limits=ws.limits,
                                           writing=portal(request).writing())
    except auth.RateLimited as e:
        return render(request, "login.html", who, status=429, login_csrf=cookie, next=_safe_next(next),
                      message=str(e), headers={"Retry-After": str(e.retry_after)})
    except auth.AuthError as e:
        return render(request, "login.html", who, status=401, login_csrf=cookie, next=_safe_next(next),
                      message=str(e))
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax", secure=ws.secure_cookies,
                    max_age=int(ws.limits.session_hours * 3600), path="/")
    resp.delete_cookie(auth.LOGIN_CSRF_COOKIE)
    return resp


@router.post("/logout")
def logout(request: Request, who: WhoChecked):
    auth.logout(portal(request).archive, request.cookies.get(auth.SESSION_COOKIE))
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(auth.SESSION_COOKIE, path="/")
    return resp


# --------------------------------------------------------------------------- home and search
@router.get("/")
def home(request: Request, who: Who):
    return render(request, "home.html", who, q="", mode="auto", res=None, facets={},
                  courts=V.court_choices(portal(request), who.viewer))


def _id(s: str | None, what: str) -> int | None:
    """A record id typed into a form field (None when empty); anything else is a 422."""
    s = (s or "").strip()
    if not s:
        return None
    if s.isascii() and s.isdigit() and 1 <= int(s) <= MAX_ID:
        return int(s)
    raise ValueError(f"{what}: not an id (a whole number from 1 to {MAX_ID}): {s[:30]!r}")


def _date(s: str | None) -> dt.date | None:
    s = (s or "").strip()
    if not s:
        return None
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {s!r}") from None


@router.get("/search")
def search(request: Request, who: Who, q: Annotated[str, Query(max_length=200)] = "",
           mode: Annotated[str, Query(pattern="^(auto|name|case)$")] = "auto",
           court_id: Annotated[str, Query(max_length=20)] = "", date_from: Annotated[str, Query(max_length=10)] = "",
           date_to: Annotated[str, Query(max_length=10)] = "", offence_group: Annotated[str, Query(max_length=100)] = "",
           limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Offset = 0):
    facets = dict(court_id=_id(court_id, "court_id"), date_from=_date(date_from), date_to=_date(date_to),
                  offence_group=offence_group or None)
    res, message = None, None
    if q.strip() or any(facets.values()):
        try:
            res = V.search(portal(request), who.viewer, q, mode=mode, limit=limit, offset=offset, **facets)
        except V.Forbidden as e:
            message = str(e)
    params = {k: v for k, v in dict(q=q, mode=mode, court_id=court_id, date_from=date_from, date_to=date_to,
                                    offence_group=offence_group, limit=limit).items() if v not in ("", None)}
    nxt = prev = None
    if res is not None:
        if offset + limit < res["total"]:
            nxt = "/search?" + urlencode({**params, "offset": offset + limit})
        if offset > 0:
            prev = "/search?" + urlencode({**params, "offset": max(0, offset - limit)})
    tpl = "_results.html" if _hx(request) else "home.html"
    return render(request, tpl, who, q=q, mode=mode, res=res, message=message, next_url=nxt, prev_url=prev,
                  facets=dict(court_id=court_id, date_from=date_from, date_to=date_to, offence_group=offence_group),
                  courts=None if tpl == "_results.html" else V.court_choices(portal(request), who.viewer))


# --------------------------------------------------------------------------- cases, courts, lists
@router.get("/cases/{ref}")
def case(request: Request, who: Who, ref: str):
    res = V.case(portal(request), who.viewer, ref)
    return render(request, "case.html", who, res=res, ref=ref)


@router.get("/courts")
def courts(request: Request, who: Who):
    res = V.courts(portal(request), who.viewer)
    return render(request, "courts.html", who, res=res)


@router.get("/courts/{court_id}")
def court(request: Request, who: Who, court_id: IdPath):
    res = V.court(portal(request), who.viewer, court_id)
    return render(request, "court.html", who, res=res)


@router.get("/lists")
def list_redirect(court: Annotated[str, Query(max_length=20)] = "", date: Annotated[str, Query(max_length=10)] = ""):
    c, d = _id(court, "court"), _date(date)
    if c is None or d is None:
        raise ValueError("choose a court and a date")
    return RedirectResponse(f"/courts/{c}/lists/{d.isoformat()}", status_code=303)


@router.get("/courts/{court_id}/lists/{day}")
def day_list(request: Request, who: Who, court_id: IdPath, day: dt.date):
    res = V.day_list(portal(request), who.viewer, court_id, day)
    return render(request, "day.html", who, res=res)


# --------------------------------------------------------------------------- persons, networks, map
@router.get("/persons/{person_id}")
def person(request: Request, who: Who, person_id: IdPath):
    res = V.person(portal(request), who.viewer, person_id)
    return render(request, "person.html", who, res=res)


@router.get("/networks")
def networks(request: Request, who: Who, limit: Annotated[int, Query(ge=1, le=200)] = 50,
             offset: Offset = 0):
    res = V.networks(portal(request), who.viewer, limit=limit, offset=offset)
    nxt = f"/networks?offset={offset + limit}&limit={limit}" if offset + limit < res["total"] else None
    return render(request, "networks.html", who, res=res, next_url=nxt)


@router.get("/networks/{network_id}")
def network(request: Request, who: Who, network_id: IdPath):
    res = V.network(portal(request), who.viewer, network_id)
    return render(request, "network.html", who, res=res)


@router.get("/map")
def map_page(request: Request, who: Who):
    res = V.map_data(portal(request), who.viewer)
    return render(request, "map.html", who, res=res)


# --------------------------------------------------------------------------- reports
@router.get("/reports")
def reports(request: Request, who: Who):
    return render(request, "reports.html", who, reports=V.reports(portal(request), who.viewer))


@router.get("/reports/view")
def report_view(request: Request, who: Who, name: Annotated[Optional[str], Query(max_length=200)] = None):
    path = V.report_file(portal(request), who.viewer, name)
    # the report is one self-contained file with inline scripts and styles, and no network use
    return FileResponse(path, media_type="text/html", headers={
        "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
                                   "style-src 'unsafe-inline'; img-src data: blob:; frame-ancestors 'none'"})


# --------------------------------------------------------------------------- exports (form)
@router.post("/exports")
async def export(request: Request, who: WhoChecked, what: Annotated[str, Form(max_length=10)],
                 format: Annotated[str, Form(max_length=10)] = "csv", q: Annotated[str, Form(max_length=200)] = "",
                 mode: Annotated[str, Form(max_length=10)] = "auto", ref: Annotated[str, Form(max_length=100)] = "",
                 court: Annotated[str, Form(max_length=100)] = "", date: Annotated[str, Form(max_length=10)] = "",
                 court_id: Annotated[str, Form(max_length=20)] = "", date_from: Annotated[str, Form(max_length=10)] = "",
                 date_to: Annotated[str, Form(max_length=10)] = "",
                 offence_group: Annotated[str, Form(max_length=100)] = ""):
    # (a search export: the page's query and its filters, as the search read them)
    facets = dict(court_id=_id(court_id, "court_id"), date_from=_date(date_from), date_to=_date(date_to),
                  offence_group=offence_group or None) if what == "search" else {}
    res = await heavy(request, V.export, portal(request), who.viewer, what, format, q=q or None, ref=ref or None,
                      court_ref=court or None, day=_date(date),
                      mode=mode if mode in ("auto", "name", "case") else "auto", **facets)
    return Response(res["body"], media_type=res["media_type"],
                    headers={"Content-Disposition": f'attachment; filename="{res["filename"]}"'})


# --------------------------------------------------------------------------- alerts
@router.get("/alerts")
def alerts(request: Request, who: Who, done: Annotated[str, Query(max_length=100)] = ""):
    if not who.signed_in:
        return RedirectResponse("/login?next=/alerts", status_code=303)
    subs = V.subscriptions(portal(request), who.viewer)
    return render(request, "alerts.html", who, subs=subs, message=done or None)


@router.post("/alerts")
def alerts_subscribe(request: Request, who: WhoChecked, kind: Annotated[str, Form(max_length=20)],
                     query: Annotated[str, Form(max_length=200)], label: Annotated[str, Form(max_length=200)] = ""):
    if not who.signed_in:
        return RedirectResponse("/login?next=/alerts", status_code=303)
    try:
        sub = V.subscribe(portal(request), who.viewer, kind=kind, query=query, label=label or None)
    except (V.Forbidden, ValueError) as e:
        subs = V.subscriptions(portal(request), who.viewer)
        return render(request, "alerts.html", who, subs=subs, message=str(e),
                      status=403 if isinstance(e, V.Forbidden) else 422)
    msg = "subscribed" if sub.get("deliverable", True) else \
        f"subscribed, but no digest can reach you yet: {sub.get('deliverable_reason')}"
    return RedirectResponse("/alerts?done=" + quote(msg[:100]), status_code=303)


@router.post("/alerts/{subscription_id}/cancel")
def alerts_cancel(request: Request, who: WhoChecked, subscription_id: IdPath):
    if not who.signed_in:
        return RedirectResponse("/login?next=/alerts", status_code=303)
    if not V.cancel(portal(request), who.viewer, subscription_id):
        raise V.NotFound(f"no subscription {subscription_id} of yours")
    return RedirectResponse("/alerts?done=" + quote("cancelled"), status_code=303)


@router.get("/alerts/unsubscribe/{token}")
def unsubscribe_form(request: Request, who: Who, token: str):
    # a GET never changes anything (mail scanners follow links): the page asks to confirm
    return render(request, "unsubscribe.html", who, token=token, done=None)


@router.post("/alerts/unsubscribe/{token}")
def unsubscribe(request: Request, who: Who, token: str):
    # the token itself is the credential (it came in the mail); no session needed
    ok = V.unsubscribe(portal(request), token)
    if not ok:
        raise V.NotFound("this unsubscribe link is unknown or was already used")
    return render(request, "unsubscribe.html", who, token=token, done=True)


# --------------------------------------------------------------------------- admin
@router.get("/admin")
def admin(request: Request, who: Who, done: Annotated[str, Query(max_length=300)] = "",
          new_token: Annotated[str, Query(max_length=100)] = ""):
    if not who.signed_in:
        return RedirectResponse("/login?next=/admin", status_code=303)
    data = V.admin_overview(portal(request), who.viewer)
    tokens = auth.list_tokens(portal(request).archive)
    return render(request, "admin.html", who, data=data, tokens=tokens, message=done or None, verify=None)


def _admin_done(msg: str) -> RedirectResponse:
    return RedirectResponse("/admin?done=" + quote(msg), status_code=303)


@router.post("/admin/accounts")
def admin_add(request: Request, who: WhoChecked, username: Annotated[str, Form(max_length=100)],
              role: Annotated[str, Form(max_length=20)], email: Annotated[str, Form(max_length=200)] = "",
              organisation: Annotated[str, Form(max_length=200)] = "",
              password: Annotated[str, Form(max_length=1000)] = ""):
    from ..governance import accounts as gacc

    V.require_admin(who.viewer)
    a = portal(request).archive
    with portal(request).writing():
        gacc.add(a, username=username.strip(), role=role, actor=who.username, email=email or None,
                 organisation=organisation or None)
        if password:
            auth.set_password(a, username.strip(), password, actor=who.username)
    return _admin_done(f"account {username} saved")


@router.post("/admin/accounts/verify")
def admin_verify(request: Request, who: WhoChecked, username: Annotated[str, Form(max_length=100)],
                 press_card: Annotated[str, Form(max_length=100)], employer: Annotated[str, Form(max_length=200)] = "",
                 issuer: Annotated[str, Form(max_length=200)] = ""):
    from ..governance import accounts as gacc

    V.require_admin(who.viewer)
    with portal(request).writing():
        gacc.verify(portal(request).archive, username=username, press_card=press_card, verified_by=who.username,
                    employer=employer or None, issuer=issuer or None)
    return _admin_done(f"{username}: media verification recorded (valid 365 days)")


@router.post("/admin/accounts/password")
def admin_password(request: Request, who: WhoChecked, username: Annotated[str, Form(max_length=100)],
                   password: Annotated[str, Form(max_length=1000)]):
    V.require_admin(who.viewer)
    with portal(request).writing():
        auth.set_password(portal(request).archive, username, password, actor=who.username)
    return _admin_done(f"{username}: password set")


@router.post("/admin/holds")
def admin_hold(request: Request, who: WhoChecked, scope: Annotated[str, Form(max_length=20)],
               reason: Annotated[str, Form(max_length=1000)], authority: Annotated[str, Form(max_length=1000)],
               ref: Annotated[str, Form(max_length=200)] = ""):
    from ..governance import holds

    V.require_admin(who.viewer)
    try:
        with portal(request).writing():
            hid = holds.add(portal(request).archive, scope=scope, ref=ref or None, reason=reason,
                            authority=authority, actor=who.username)
    except holds.HoldError as e:
        raise ValueError(str(e)) from e
    return _admin_done(f"hold {hid} placed")


@router.post("/admin/holds/{hold_id}/release")
def admin_release(request: Request, who: WhoChecked, hold_id: IdPath,
                  reason: Annotated[str, Form(max_length=1000)] = ""):
    from ..governance import holds

    V.require_admin(who.viewer)
    with portal(request).writing():
        ok = holds.release(portal(request).archive, hold_id, actor=who.username, reason=reason or None)
    if not ok:
        raise V.NotFound(f"no active hold {hold_id}")
    return _admin_done(f"hold {hold_id} released")


@router.post("/admin/audit/verify")
def admin_audit_verify(request: Request, who: WhoChecked):
    res = V.audit_verify(portal(request), who.viewer)
    data = V.admin_overview(portal(request), who.viewer)
    return render(request, "admin.html", who, data=data, tokens=auth.list_tokens(portal(request).archive),
                  message=None, verify=res)


@router.post("/admin/tokens")
def admin_token(request: Request, who: WhoChecked, username: Annotated[str, Form(max_length=100)],
                name: Annotated[str, Form(max_length=100)], days: Annotated[str, Form(max_length=6)] = ""):
    V.require_admin(who.viewer)
    with portal(request).writing():
        t = auth.create_token(portal(request).archive, username, name=name,
                              days=float(days) if days.strip() else None, actor=who.username)
    data = V.admin_overview(portal(request), who.viewer)
    # shown once, on this response only (never in a URL or a log)
    return render(request, "admin.html", who, data=data, tokens=auth.list_tokens(portal(request).archive),
                  message=f"token {t['id']} for {username} created: copy it now, it is not shown again",
                  new_token=t["token"], verify=None)


@router.post("/admin/tokens/{token_id}/revoke")
def admin_token_revoke(request: Request, who: WhoChecked, token_id: IdPath):
    V.require_admin(who.viewer)
    with portal(request).writing():
        ok = auth.revoke_token(portal(request).archive, token_id, actor=who.username)
    if not ok:
        raise V.NotFound(f"no active token {token_id}")
    return _admin_done(f"token {token_id} revoked")
