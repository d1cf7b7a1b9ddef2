"""The daily beat digest on the web: ``/digest`` (pick a beat and a day; core flow without
JavaScript), beat management (``/digest/beats``), the digest by e-mail (``/digest/subscribe``) and the
JSON API ``/api/v1/digest``.  Records come from `serve.digest` disclosed through the portal's gate
(`views._gate`, ``output="digest"``: audited); templates show what the gate released."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from . import digest as D
from . import views as V
from .api import IdPath
from .auth import Principal
from .deps import Json, checked_principal, current_principal, portal
from .pages import render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api = APIRouter(prefix="/api/v1", default_response_class=Json)

Who = Annotated[Principal, Depends(current_principal)]
WhoChecked = Annotated[Principal, Depends(checked_principal)]
ERRORS = {401: {"description": "bad or missing credentials"}, 403: {"description": "not allowed for this role"},
          404: {"description": "not found"}, 422: {"description": "invalid input"}}


def _day(s: str | None) -> dt.date:
    s = (s or "").strip()
    if not s:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {s!r}") from None


def build(p: V.Portal, viewer, beat: str, day: dt.date, top: int) -> dict:
    """The digest for ``viewer``, disclosed through the portal's gate; an unknown beat is a 404."""
    try:
        D.get_beat(p.archive, beat)
    except D.DigestError as e:
        raise V.NotFound(str(e)) from None
    return D.digest(p.archive, beat, day, viewer, top=top,
                    gate=lambda records: V._gate(p, records, viewer, output="digest"))


def _page(request: Request, who: Principal, *, beat: str = "", day: dt.date | None = None, top: int = 20,
          res: dict | None = None, message: str | None = None, status: int = 200):
    p = portal(request)
    subscribed = set()
    if who.signed_in:
        try:
            subscribed = {int((s.get("params") or {}).get("beat_id") or 0)
                          for s in V.subscriptions(p, who.viewer) if s.get("kind") == "beat"}
        except V.Unavailable:
            subscribed = set()
    return render(request, "digest.html", who, status=status, beats=D.list_beats(p.archive), beat=beat,
                  day=(day or dt.date.today()).isoformat(), top=top, res=res, message=message,
                  groups=sorted(D._offence_groups()), forces=sorted(D._forces().values()),
                  subscribed=subscribed, stage_text=D.STAGE_TEXT)


@router.get("/digest")
def digest_page(request: Request, who: Who, beat: Annotated[str, Query(max_length=100)] = "",
                date: Annotated[str, Query(max_length=10)] = "", top: Annotated[int, Query(ge=1, le=200)] = 20,
                done: Annotated[str, Query(max_length=200)] = ""):
    day = _day(date)
    res = build(portal(request), who.viewer, beat, day, top) if beat.strip() else None
    return _page(request, who, beat=beat, day=day, top=top, res=res, message=done or None)


def _signed_in(who: Principal) -> None:
    if not who.signed_in:
        raise V.Forbidden("sign in to manage beats and digests")


@router.post("/digest/beats")
def beat_add(request: Request, who: WhoChecked, name: Annotated[str, Form(max_length=100)],
             courts: Annotated[str, Form(max_length=2000)] = "", towns: Annotated[str, Form(max_length=2000)] = "",
             forces: Annotated[list[str], Form()] = [], centre: Annotated[str, Form(max_length=100)] = "",
             radius_km: Annotated[str, Form(max_length=20)] = "",
             offence_groups: Annotated[list[str], Form()] = []):
    _signed_in(who)
    p = portal(request)
    v = who.viewer
    radius = None
    if radius_km.strip():
        try:
            radius = float(radius_km)
        except ValueError:
            raise ValueError(f"radius_km: expected a number, got {radius_km!r}") from None
    try:
        with p.writing():
            b = D.add_beat(p.archive, name=name, courts=courts.split(";") if courts.strip() else [],
                           towns=towns.split(";") if towns.strip() else [], forces=forces[:50],
                           centre=centre.strip() or None, radius_km=radius, offence_groups=offence_groups[:50],
                           actor=v.username, role=v.effective_role())
    except D.DigestError as e:
        return _page(request, who, message=str(e), status=422)
    return RedirectResponse("/digest?" + urlencode({"beat": b["name"], "done": f"beat {b['name']} saved: "
                                                    f"{b['court_count']} court(s)"}), status_code=303)


@router.post("/digest/beats/{beat_id}/remove")
def beat_remove(request: Request, who: WhoChecked, beat_id: IdPath):
    _signed_in(who)
    p = portal(request)
    try:
        with p.writing():
            r = D.remove_beat(p.archive, beat_id, actor=who.viewer.username, role=who.viewer.effective_role())
    except D.DigestError as e:
        raise V.NotFound(str(e)) from None
    except PermissionError as e:
        raise V.Forbidden(str(e)) from None
    return RedirectResponse("/digest?done=" + quote(f"beat {r['name']} removed"), status_code=303)


@router.post("/digest/subscribe")
def digest_subscribe(request: Request, who: WhoChecked, beat: Annotated[str, Form(max_length=100)]):
    from ..governance.distribution import DistributionError, check_receiver

    _signed_in(who)
    p = portal(request)
    try:
        check_receiver(who.viewer)
    except DistributionError as e:
        raise V.Forbidden(f"the digest by e-mail is for verified media and admins: {e}") from None
    try:
        with p.writing():
            sub = D.subscribe(p.archive, username=who.viewer.username, beat_ref=beat)
    except D.DigestError as e:
        return _page(request, who, beat=beat, message=str(e), status=422)
    msg = "subscribed to the daily digest of " + beat
    if not sub.get("deliverable", True):
        msg += f", but no digest can reach you yet: {sub.get('deliverable_reason')}"
    return RedirectResponse("/digest?" + urlencode({"beat": beat, "done": msg[:200]}), status_code=303)


@api.get("/digest", responses=ERRORS, summary="a beat's daily digest: the day's listed cases ranked by "
                                              "newsworthiness, with their reporting restrictions")
def digest_api(request: Request, who: Who, beat: Annotated[str, Query(min_length=1, max_length=100)],
               date: dt.date | None = None, top: Annotated[int, Query(ge=1, le=200)] = 20):
    return build(portal(request), who.viewer, beat, date or dt.date.today(), top)


@api.get("/beats", responses=ERRORS, summary="the archive's beats (areas and offence groups; no personal data)")
def beats_api(request: Request, who: Who):
    p = portal(request)
    V._gate(p, [], who.viewer, output="api")          # no records (beats hold no personal data): the access is audited
    return {"beats": D.list_beats(p.archive)}


#: what the app mounts (one include_router line): the pages and the API routes
routes = APIRouter()
routes.include_router(router)
routes.include_router(api)
