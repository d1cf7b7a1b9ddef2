"""JSON API ``/api/v1``: search, cases, persons, networks, courts and day lists, subscriptions and
exports.  Every record comes from `views` (so through ``governance.disclose``); errors are JSON
``{"error": {"status": ..., "message": ...}}`` with 401/403/404/422/503, never a 500 for bad input.

Authentication: ``Authorization: Bearer <token>`` (``courtarchive token create``), or the portal's
session cookie (then unsafe methods need the ``X-CSRF-Token`` header).  Anonymous = public.  An
``Authorization`` header of another scheme (``Basic``) is a 401 with ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..store.util import MAX_ID
from . import views as V
from .auth import Principal
from .deps import Json, checked_principal, current_principal, heavy, portal

router = APIRouter(prefix="/api/v1", default_response_class=Json)

Who = Annotated[Principal, Depends(current_principal)]
WhoChecked = Annotated[Principal, Depends(checked_principal)]

#: Every integer a route takes is bounded (these aliases, here and in `pages`) by the largest record
#: id (`store.util.MAX_ID`): a number past it is a 422, not an OverflowError when the database
#: driver binds it, and the bounds are in the OpenAPI schema
MAX_OFFSET = 1_000_000
#: an id in the path (person, network, court, subscription, hold, token ...)
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="record id")]
#: an optional id in the query string (a facet such as ``court_id``)
IdQuery = Annotated[Optional[int], Query(ge=1, le=MAX_ID, description="record id")]
Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="records to skip")]

ERRORS = {401: {"description": "bad or missing credentials"}, 403: {"description": "not allowed for this role"},
          404: {"description": "not found"}, 422: {"description": "invalid input"}}


def _next(request: Request, offset: int, limit: int, total: int) -> str | None:
    if offset + limit >= total:
        return None
    return str(request.url.include_query_params(offset=offset + limit, limit=limit))


def _clean(d: dict, *drop: str) -> dict:
    return {k: v for k, v in d.items() if k not in drop}


def _out(d: dict, status_code: int = 200) -> Json:
    """The answer as a response object: returned as a plain dict, FastAPI would first copy the whole
    payload through `jsonable_encoder` (no response model here) - ~20 ms on a large case, more than
    the query - and only then render it; `Json` renders it with orjson in one pass."""
    return Json(d, status_code=status_code)


@router.get("/me", responses=ERRORS, summary="who is asking: role, effective role, what they may do")
def me(who: Who):
    v = who.viewer
    return _out({"username": v.username, "role": v.role, "effective_role": v.effective_role(), "via": who.via,
                 "may_search_names": V.may_search_names(v), "may_receive": V.may_receive(v)})


@router.get("/search", responses=ERRORS, summary="search names (fuzzy) or cases (URN, case number, offence words)")
def search(request: Request, who: Who, q: Annotated[str, Query(max_length=200)] = "",
           mode: Literal["auto", "name", "case"] = "auto", court_id: IdQuery = None,
           date_from: Optional[dt.date] = None, date_to: Optional[dt.date] = None,
           offence_group: Annotated[Optional[str], Query(max_length=100)] = None,
           role: Annotated[Optional[str], Query(max_length=50)] = None, limit: Limit = 20, offset: Offset = 0):
    res = V.search(portal(request), who.viewer, q, mode=mode, court_id=court_id, date_from=date_from,
                   date_to=date_to, offence_group=offence_group, role=role, limit=limit, offset=offset,
                   output="api")
    return _out({**_clean(res, "records"), "next": _next(request, offset, limit, res["total"])})


@router.get("/cases/{ref}", responses=ERRORS, summary="a case (by URN or case number) with every hearing")
def case(request: Request, who: Who, ref: Annotated[str, Path(max_length=100)]):
    return _out(_clean(V.case(portal(request), who.viewer, ref, output="api"), "records"))


@router.get("/persons/{person_id}", responses=ERRORS, summary="a linked defendant: cases, name variants, linked people")
def person(request: Request, who: Who, person_id: IdPath):
    return _out(_clean(V.person(portal(request), who.viewer, person_id, output="api"), "records"))


@router.get("/networks", responses=ERRORS, summary="networks of linked defendants, largest first")
def networks(request: Request, who: Who, limit: Limit = 50, offset: Offset = 0):
    res = V.networks(portal(request), who.viewer, limit=limit, offset=offset, output="api")
    return _out({**_clean(res, "records"), "next": _next(request, offset, limit, res["total"])})


@router.get("/networks/{network_id}", responses=ERRORS, summary="a network: members (as disclosed) and edges")
def network(request: Request, who: Who, network_id: IdPath):
    return _out(_clean(V.network(portal(request), who.viewer, network_id, output="api"), "records", "svg"))


@router.get("/courts", responses=ERRORS, summary="courts with listings (current lists)")
def courts(request: Request, who: Who, limit: Limit = 100, offset: Offset = 0):
    res = V.courts(portal(request), who.viewer, output="api")
    rows = res["courts"]
    return _out({"courts": rows[offset:offset + limit], "total": len(rows), "limit": limit, "offset": offset,
                 "next": _next(request, offset, limit, len(rows)), "flags": res["flags"]})


@router.get("/courts/{court_id}", responses=ERRORS, summary="a court and the days it has lists for")
def court(request: Request, who: Who, court_id: IdPath):
    return _out(_clean(V.court(portal(request), who.viewer, court_id, output="api"), "records"))


@router.get("/courts/{court_id}/lists/{day}", responses=ERRORS,
            summary="a day's lists at a court as published: hearings in list order")
def day_list(request: Request, who: Who, court_id: IdPath, day: dt.date):
    return _out(_clean(V.day_list(portal(request), who.viewer, court_id, day, output="api"), "records"))


# --------------------------------------------------------------------------- subscriptions
class SubscriptionIn(BaseModel):
    kind: Literal["name", "urn", "court", "offence_group", "search", "case", "person", "network"]
    query: str = Field(default="", max_length=200,
                       description="the name, URN, court, offence group, case, person or network id; a saved "
                                   "search may leave it empty and follow its params (court, offence_group) only")
    params: Optional[dict[str, Any]] = None
    label: Optional[str] = Field(default=None, max_length=200)


@router.get("/subscriptions", responses=ERRORS, summary="your alert subscriptions")
def subscriptions(request: Request, who: Who):
    if not who.signed_in:
        raise V.Forbidden("sign in to see your subscriptions")
    return _out({"subscriptions": V.subscriptions(portal(request), who.viewer)})


@router.post("/subscriptions", responses={**ERRORS, 200: {"description": "the same active subscription, already there "
                                                                      "(``existing``: true)"}},
             status_code=201, summary="subscribe to alerts (verified accounts)")
def subscribe(request: Request, who: WhoChecked, body: SubscriptionIn):
    sub = V.subscribe(portal(request), who.viewer, kind=body.kind, query=body.query, params=body.params,
                      label=body.label)
    # (201 for a new one; 200 with ``existing`` for the same subscription posted again)
    return _out(sub, status_code=200 if sub.get("existing") else 201)


@router.delete("/subscriptions/{subscription_id}", responses=ERRORS, summary="cancel a subscription")
def cancel(request: Request, who: WhoChecked, subscription_id: IdPath):
    if not who.signed_in:
        raise V.Forbidden("sign in to manage your subscriptions")
    if not V.cancel(portal(request), who.viewer, subscription_id):
        raise V.NotFound(f"no subscription {subscription_id} of yours")
    return _out({"cancelled": subscription_id})


# --------------------------------------------------------------------------- exports
class ExportIn(BaseModel):
    what: Literal["search", "case", "day"]
    format: Literal["csv", "parquet"] = "csv"
    q: Optional[str] = Field(default=None, max_length=200, description="search: the query")
    mode: Literal["auto", "name", "case"] = "auto"
    # (2**62, as the notification ids: a body schema's bounds reach the OpenAPI document as floats,
    # and MAX_ID as a float is past MAX_ID)
    court_id: Optional[int] = Field(default=None, ge=1, le=2**62, description="search: a court id")
    date_from: Optional[dt.date] = Field(default=None, description="search: sitting date from")
    date_to: Optional[dt.date] = Field(default=None, description="search: sitting date to")
    offence_group: Optional[str] = Field(default=None, max_length=100, description="search: an offence group")
    ref: Optional[str] = Field(default=None, max_length=100, description="case: URN or case number")
    court: Optional[str] = Field(default=None, max_length=100, description="day: court id or slug")
    date: Optional[dt.date] = Field(default=None, description="day: the date")


@router.post("/exports", responses={**ERRORS, 200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
             summary="CSV or Parquet export (verified accounts; watermarked, audited, purged on expiry)",
             response_class=Response)
async def export(request: Request, who: WhoChecked, body: Annotated[ExportIn, Body()]):
    facets = (dict(court_id=body.court_id, date_from=body.date_from, date_to=body.date_to,
                   offence_group=body.offence_group) if body.what == "search" else {})
    res = await heavy(request, V.export, portal(request), who.viewer, body.what, body.format, q=body.q,
                      ref=body.ref, court_ref=body.court, day=body.date, mode=body.mode, **facets)
    return Response(res["body"], media_type=res["media_type"],
                    headers={"Content-Disposition": f'attachment; filename="{res["filename"]}"',
                             "X-Courtarchive-Export": str(res["export_id"]),
                             "X-Courtarchive-Watermark": res["watermark"].encode("ascii", "replace").decode()})
