"""Newsroom pages (issue 10 §3, §4): **tracking** -- follow a case, a linked person or a network
from its page and read the in-app notifications feed -- and **bulk name screening** in the portal.

Tracking is alerts (``courtarchive.serve.alerts``): a follow is a subscription of kind case, person
or network; after every ingest its new listings become ``alert_match`` rows with their event
(listed, adjourned, court_changed, plea, outcome), mailed in the digests *and* shown here.  The feed
holds back exactly the matches a digest would (`alerts.releasable`), discloses the page shown
through the gate (output ``notifications``, audited) and is marked read explicitly ("Mark seen" per
notification or "Mark all seen"): opening the page marks nothing, so a notification is not lost
because the page was opened in passing.  Following needs a verified account (the same checks as
alerts: `governance.distribution.check_receiver`); a person or network also needs a role that sees
identities.

Screening runs `link.screen.screen_archive` for the signed-in user on an uploaded CSV or XLSX
(at most `MAX_UPLOAD_MB` and `MAX_ROWS` rows; bigger files: ``courtarchive screen``).  Only roles
that see identities for their purpose may screen.  The result shown is the file screen_archive
wrote through ``governance.distribution.export`` (disclosed, watermarked, audited, purged on
expiry); the downloads serve that file (CSV) or its Excel twin, to their owner only, audited.

Routes: ``/tracking`` (GET), ``/tracking/follow``, ``/tracking/{id}/unfollow``, ``/tracking/seen``
(POST, CSRF), ``/screening`` (GET, POST multipart), ``/screening/{export_id}/download``; JSON:
``GET /api/v1/notifications``, ``POST /api/v1/notifications/seen``, ``POST /api/v1/screening`` (a JSON list
of names; the same screening, results as JSON plus the two downloads).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal, Optional
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from . import alerts
from . import auth
from . import views as V
from .api import IdPath
from .auth import Principal
from .deps import Json, checked_principal, current_principal, heavy, portal
from ..link.screen_defaults import DEFAULT_THRESHOLD, DEFAULT_TOP
from .pages import error_page, render, templates

#: largest upload the screening page accepts (the CLI has no such limit)
MAX_UPLOAD_MB = 5
#: most names one web screening may hold
MAX_ROWS = 2_000
MAX_TOP = 50

pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api = APIRouter(prefix="/api/v1", default_response_class=Json)

Who = Annotated[Principal, Depends(current_principal)]
WhoChecked = Annotated[Principal, Depends(checked_principal)]


# --------------------------------------------------------------------------- permissions
def may_follow(viewer, kind: str) -> tuple[bool, str | None]:
    """Whether ``viewer`` may follow a case / person / network, and why not (shown on the page)."""
    if viewer.username == "anonymous":
        return False, "sign in with a verified media account to follow this"
    if not V.may_receive(viewer):
        return False, (f"following is for verified accounts: alerts go to verified media and admins "
                       f"(your role counts as {viewer.effective_role()})")
    why = alerts.identity_refusal(viewer, kind)
    return (False, why) if why else (True, None)


def may_screen(viewer) -> tuple[bool, str | None]:
    """Screening reveals who is in the archive: roles that see identities for their purpose, and
    receive exports (the result is one)."""
    if viewer.username == "anonymous":
        return False, "bulk name screening needs a verified media account: sign in"
    if not V.may_search_names(viewer):
        return False, (f"bulk name screening needs a verified media account: role {viewer.effective_role()} "
                       "does not see identities, and screening tells who is in the archive")
    if not V.may_receive(viewer):
        return False, "screening results are exports: verified accounts only"
    return True, None


def _target(sub: dict) -> tuple[str, int | None]:
    p = sub.get("params") or {}
    return sub["kind"], p.get(f"{sub['kind']}_id")


def follow_state(request: Request, kind: str, target_id, ref=None) -> dict:
    """For the Follow button on case / person / network pages (a template global)."""
    who = getattr(request.state, "principal", None) or auth.Principal.anonymous()
    ok, why = may_follow(who.viewer, kind)
    following = None
    if who.signed_in and ok:
        want = (kind, int(target_id)) if str(target_id).isdigit() else None
        following = next((s["id"] for s in V.subscriptions(portal(request), who.viewer)
                          if want is not None and _target(s) == want), None)
    return {"kind": kind, "ref": str(ref if ref is not None else target_id), "may": ok, "reason": why,
            "following": following, "signed_in": who.signed_in}


def unread_badge(request: Request) -> str:
    """The nav badge: unread notifications the signed-in user may see ("" when none)."""
    who = getattr(request.state, "principal", None)
    if who is None or not who.signed_in:
        return ""
    p = portal(request)
    try:
        n, more = alerts.unread_count(p.archive, who.viewer, purpose=V.purpose_for(who.viewer), keyring=p.keyring,
                                      profile=p.profile)
    except alerts.AlertError:
        return ""
    return f"{n}+" if more else (str(n) if n else "")


templates.env.globals.update(follow_state=follow_state, unread_badge=unread_badge)


def _feed(request: Request, who: Principal, *, limit: int, offset: int, unread_only: bool = False) -> dict:
    p = portal(request)
    return alerts.notifications(p.archive, who.viewer, purpose=V.purpose_for(who.viewer), keyring=p.keyring,
                                profile=p.profile, limit=limit, offset=offset, unread_only=unread_only)


def _mark_seen(request: Request, who: Principal, ids: list[int] | None) -> int:
    p = portal(request)
    with p.writing():
        return alerts.mark_seen(p.archive, who.viewer, ids, purpose=V.purpose_for(who.viewer), keyring=p.keyring,
                                profile=p.profile)


# --------------------------------------------------------------------------- tracking (pages)
@pages.get("/tracking")
def tracking(request: Request, who: Who, done: Annotated[str, Query(max_length=200)] = "",
             limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
    if not who.signed_in:
        return RedirectResponse("/login?next=/tracking", status_code=303)
    subs = V.subscriptions(portal(request), who.viewer)
    follows = [s for s in subs if s["kind"] in alerts.TRACK_KINDS]
    for s in follows:
        s["path"] = alerts._followed_path(s)
    feed = _feed(request, who, limit=limit, offset=offset)
    nxt = f"/tracking?offset={offset + limit}&limit={limit}" if offset + limit < feed["total"] else None
    prev = f"/tracking?offset={max(0, offset - limit)}&limit={limit}" if offset > 0 else None
    ok, why = may_follow(who.viewer, "case")
    return render(request, "tracking.html", who, follows=follows, other_alerts=len(subs) - len(follows), feed=feed,
                  res={"flags": feed["flags"], "withheld": {}}, message=done or None, next_url=nxt, prev_url=prev,
                  may_follow=ok, follow_reason=why)


@pages.post("/tracking/follow")
def follow(request: Request, who: WhoChecked, kind: Annotated[str, Form(max_length=20)],
           ref: Annotated[str, Form(max_length=100)]):
    if kind not in alerts.TRACK_KINDS:
        raise ValueError(f"follow a case, a person or a network (not {kind!r})")
    ok, why = may_follow(who.viewer, kind)
    if not ok:
        raise V.Forbidden(why)
    p = portal(request)
    try:
        sub = V.subscribe(p, who.viewer, kind=kind, query=ref.strip())
    except alerts.AlertError as e:
        raise V.NotFound(str(e)) from e
    if sub.get("existing"):         # one follow per target: a second click (another tab) leaves the first
        return RedirectResponse("/tracking?done=" + quote(f"already following {sub['label']}"), status_code=303)
    msg = f"following {sub['label']}"
    if not sub.get("deliverable", True):
        msg += f" (here only: no e-mail can reach you: {sub.get('deliverable_reason')})"
    return RedirectResponse("/tracking?done=" + quote(msg[:200]), status_code=303)


@pages.post("/tracking/{subscription_id}/unfollow")
def unfollow(request: Request, who: WhoChecked, subscription_id: IdPath):
    if not who.signed_in:
        return RedirectResponse("/login?next=/tracking", status_code=303)
    if not V.cancel(portal(request), who.viewer, subscription_id):
        raise V.NotFound(f"no follow {subscription_id} of yours")
    return RedirectResponse("/tracking?done=" + quote("stopped following"), status_code=303)


@pages.post("/tracking/seen")
def seen(request: Request, who: WhoChecked, match_id: Annotated[str, Form(max_length=20)] = ""):
    if not who.signed_in:
        return RedirectResponse("/login?next=/tracking", status_code=303)
    mid = match_id.strip()
    if mid and not mid.isdigit():
        raise ValueError(f"not a notification id: {mid!r}")
    n = _mark_seen(request, who, [int(mid)] if mid else None)
    return RedirectResponse("/tracking?done=" + quote(f"{n} notification{'s' if n != 1 else ''} marked seen"),
                            status_code=303)


# --------------------------------------------------------------------------- tracking (JSON API)
@api.get("/notifications", responses={401: {"description": "bad credentials"}, 403: {"description": "not signed in"},
                                      422: {"description": "invalid input"}},
         summary="your notifications: events of what you follow and your alerts (newest first, disclosed)")
def api_notifications(request: Request, who: Who, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                      offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0, unread: bool = False):
    if not who.signed_in:
        raise V.Forbidden("sign in to see your notifications")
    res = _feed(request, who, limit=limit, offset=offset, unread_only=unread)
    nxt = None
    if offset + limit < res["total"]:
        nxt = str(request.url.include_query_params(offset=offset + limit, limit=limit))
    return {**res, "next": nxt}


class SeenIn(BaseModel):
    ids: Optional[list[Annotated[int, Field(ge=1, le=2**62)]]] = Field(
        default=None, max_length=500, description="notification ids; omitted: every unread one")


@api.post("/notifications/seen", responses={401: {"description": "bad credentials"},
                                            403: {"description": "not signed in"},
                                            422: {"description": "invalid input"}},
          summary="mark notifications seen (all unread, or the given ids)")
def api_seen(request: Request, who: WhoChecked, body: Annotated[Optional[SeenIn], Body()] = None):
    if not who.signed_in:
        raise V.Forbidden("sign in to manage your notifications")
    return {"marked": _mark_seen(request, who, body.ids if body is not None else None)}


# --------------------------------------------------------------------------- screening
def _require_screen(who: Principal) -> None:
    ok, why = may_screen(who.viewer)
    if not ok:
        raise V.Forbidden(why)


@pages.get("/screening")
def screening_form(request: Request, who: Who):
    _require_screen(who)
    return render(request, "screening.html", who, result=None, message=None, limits=_limits())


def _limits() -> dict:
    return {"mb": MAX_UPLOAD_MB, "rows": MAX_ROWS, "top": MAX_TOP, "default_top": DEFAULT_TOP,
            "default_threshold": DEFAULT_THRESHOLD}



def _safe_name(name: str | None) -> str:
    base = Path((name or "").replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")[-100:]
    return base or "names"


def _number(v: str, what: str, lo: float, hi: float, cast):
    try:
        x = cast((v or "").strip())
    except ValueError:
        raise ValueError(f"{what}: not a number: {v!r}") from None
    if not lo <= x <= hi:
        raise ValueError(f"{what} must be between {lo:g} and {hi:g}")
    return x


def _group(rows: list[dict]) -> list[dict]:
    out: dict[int, dict] = {}
    for r in rows:
        g = out.setdefault(r["row"], {"row": r["row"], "name_entered": r.get("name_entered"), "candidates": []})
        if r.get("person_id") is not None:
            name = V.display_name(r) or None
            g["candidates"].append({**r, "name": name})
    return list(out.values())


def _screen_rows(request: Request, who: Principal, rows, threshold: float, top: int, source: str) -> dict:
    """Screen parsed rows for the signed-in user: the CSV export and its Excel twin, grouped per row."""
    from ..link.screen import ScreeningError, screen_archive, table_columns

    p = portal(request)
    if rows.height > MAX_ROWS:
        raise ScreeningError(f"{source}: {rows.height:,} names; the portal screens at most {MAX_ROWS:,} at once "
                             "(split the list, or use `courtarchive screen`)")
    if p.keyring is None:
        raise V.Unavailable("screening results are watermarked with the pseudonym key: none is configured")
    try:
        res = screen_archive(p.archive, rows, who.viewer, purpose=V.purpose_for(who.viewer), keyring=p.keyring,
                             profile=p.profile, home=p.home, threshold=threshold, top=top, fmt="csv", also=("xlsx",))
    except PermissionError as e:          # the role may not screen, or may not receive exports
        raise V.Forbidden(str(e)) from e
    table = res.pop("table")
    cols = table_columns(table)
    return {**res, "groups": _group(table), "columns": cols, "source": source}


def _run_screening(request: Request, who: Principal, path: Path, threshold: float, top: int) -> dict:
    from ..link.screen import read_names

    return _screen_rows(request, who, read_names(path), threshold, top, path.name)


@pages.post("/screening")
async def screening_run(request: Request):
    from ..link.screen import ScreeningError

    size = request.headers.get("content-length")
    if not size or not size.isdigit():
        return error_page(request, 411, "upload the file with a Content-Length (a normal form upload)")
    if int(size) > MAX_UPLOAD_MB * 1024 * 1024 + 64 * 1024:
        return error_page(request, 413, f"the file is too big: the web page takes up to {MAX_UPLOAD_MB} MB "
                                        "(split it, or use `courtarchive screen`)")
    who = await checked_principal(request)
    _require_screen(who)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ValueError("upload a CSV or XLSX file (multipart form)")
    form = await request.form(max_files=1, max_fields=10)
    up = form.get("file")
    if up is None or isinstance(up, str) or not getattr(up, "filename", None):
        raise ValueError("choose a CSV or XLSX file of names to screen")
    name = _safe_name(up.filename)
    if Path(name).suffix.lower() not in (".csv", ".xlsx"):
        raise ValueError(f"{name}: screening reads .csv or .xlsx files")
    threshold = _number(str(form.get("threshold") or DEFAULT_THRESHOLD), "threshold", 0.0, 1.0, float)
    top = _number(str(form.get("top") or DEFAULT_TOP), "top", 1, MAX_TOP, int)
    tmp = Path(tempfile.mkdtemp(prefix="courtarchive-screen-"))
    try:
        path = tmp / name
        data = await up.read(MAX_UPLOAD_MB * 1024 * 1024 + 1)
        if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
            return error_page(request, 413, f"the file is too big: the web page takes up to {MAX_UPLOAD_MB} MB")
        path.write_bytes(data)
        del data
        try:
            result = await heavy(request, _run_screening, request, who, path, threshold, top)
        except ScreeningError as e:
            return render(request, "screening.html", who, status=422, result=None, message=str(e), limits=_limits())
    finally:
        await up.close()
        shutil.rmtree(tmp, ignore_errors=True)     # the uploaded names are not kept
    return render(request, "screening.html", who, result=result, res={"flags": result["flags"], "withheld": {}},
                  message=None, limits=_limits())


@pages.get("/screening/{export_id}/download")
def screening_download(request: Request, who: Who, export_id: IdPath,
                       format: Annotated[Literal["csv", "xlsx"], Query()] = "csv"):
    from ..governance import audit
    from ..store import governance as sg

    _require_screen(who)
    p = portal(request)
    rec = sg.get_export(p.archive, export_id)
    if (rec is None or rec["username"] != who.username or rec["what"] != "screening" or rec["purged_at"] is not None
            or not rec.get("path")):
        raise V.NotFound(f"no screening result {export_id} of yours (results are purged on expiry)")
    path = Path(rec["path"]).with_suffix(f".{format}")
    if not path.is_file():
        raise V.NotFound(f"screening result {export_id} has no {format} file")
    audit.record(p.archive, actor=who.username, role=who.viewer.effective_role(), action="screening_download",
                 purpose=V.purpose_for(who.viewer), objects={"export_record": [export_id]}, details={"format": format})
    media = "text/csv; charset=utf-8" if format == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return FileResponse(path, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="courtarchive-screening-{export_id}.{format}"'})


# --------------------------------------------------------------------------- screening (JSON API)
class ScreenName(BaseModel):
    name: Optional[str] = Field(default=None, max_length=300, description="full name as written (or the parts)")
    forenames: Optional[str] = Field(default=None, max_length=200)
    middle_names: Optional[str] = Field(default=None, max_length=200)
    surname: Optional[str] = Field(default=None, max_length=200)
    date_of_birth: Optional[str] = Field(default=None, max_length=20, description="YYYY-MM-DD or DD/MM/YYYY")
    town: Optional[str] = Field(default=None, max_length=100)
    postcode: Optional[str] = Field(default=None, max_length=12)


class ScreenIn(BaseModel):
    names: list[ScreenName] = Field(min_length=1, max_length=MAX_ROWS, description="the names to screen; "
                                    "results number them from 1 in this order")
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0, description="lowest match probability listed")
    top: int = Field(default=DEFAULT_TOP, ge=1, le=MAX_TOP, description="most candidates per name")


@api.post("/screening", responses={401: {"description": "bad credentials"},
                                   403: {"description": "this role may not screen names"},
                                   422: {"description": "invalid input"},
                                   503: {"description": "no pseudonym key configured"}},
          summary="screen a list of names against the archive's linked persons (disclosed, watermarked, audited)")
async def api_screening(request: Request, who: WhoChecked, body: Annotated[ScreenIn, Body()]):
    from ..link.screen import rows_from_records

    _require_screen(who)
    rows = rows_from_records((n.model_dump() for n in body.names), source="names", first_row=1,
                             max_rows=MAX_ROWS)
    res = await heavy(request, _screen_rows, request, who, rows, body.threshold, body.top, "names")
    base = f"/screening/{res['export_id']}/download"
    return {"export_id": res["export_id"], "rows": res["rows"], "matches": res["matches"],
            "rows_with_matches": res["rows_with_matches"], "watermark": res["watermark"], "flags": res["flags"],
            "results": res["groups"], "downloads": {"csv": base + "?format=csv", "xlsx": base + "?format=xlsx"}}


router = APIRouter()
router.include_router(pages)
router.include_router(api)
