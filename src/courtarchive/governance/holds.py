"""Legal holds ("pause deletion"): while a hold is active, expiry and erasure skip its scope and
log what they skipped.  Scopes: ``archive`` (everything), ``court`` (court id, FaCT id, slug or
name), ``case`` (case id, URN or case number), ``person`` (a linked person id, or ``party:<id>``
for one mention).  Only its scope is held; releasing it lets the next expiry run catch up.
"""

from __future__ import annotations

from ..store import governance as sg
from ..store.engine import writing
from . import audit

SCOPES = ("archive", "court", "case", "person")


class HoldError(ValueError):
    pass


def resolve(archive, scope: str, ref: str | None) -> str | None:
    if scope not in SCOPES:
        raise HoldError(f"unknown scope {scope!r}: one of {', '.join(SCOPES)}")
    if scope == "archive":
        if ref:
            raise HoldError("an archive hold takes no --ref")
        return None
    if not ref:
        raise HoldError(f"a {scope} hold needs --ref")
    if scope == "court":
        found = sg.resolve_court(archive, ref)
    elif scope == "case":
        try:
            found = sg.resolve_case(archive, ref)
        except sg.AmbiguousCase as e:
            raise HoldError(str(e)) from None
    else:
        found = sg.resolve_person(archive, ref)
    if found is None:
        raise HoldError(f"no {scope} matches {ref!r}")
    return str(found)


def add(archive, *, scope: str, ref: str | None, reason: str, authority: str, actor: str) -> int:
    if not (reason or "").strip() or not (authority or "").strip():
        raise HoldError("a hold needs a reason and an authority")
    if not (actor or "").strip():
        raise HoldError("a hold is placed by a named person")
    resolved = resolve(archive, scope, ref)
    with writing(archive.engine) as conn:
        hid = sg.add_hold(archive, scope=scope, ref=resolved, reason=reason, authority=authority, actor=actor,
                          conn=conn)
        audit.record(archive, actor=actor, role="admin", action="hold_add", purpose="legal_hold",
                     objects={"hold": [hid]}, details={"scope": scope, "ref": resolved}, conn=conn)
    return hid


def release(archive, hold_id: int, *, actor: str, reason: str | None = None) -> bool:
    if not (actor or "").strip():
        raise HoldError("a hold is released by a named person")
    with writing(archive.engine) as conn:
        ok = sg.release_hold(archive, hold_id, actor=actor, reason=reason, conn=conn)
        # no active hold of that id: nothing released, nothing audited (the compliance report
        # counted such a mistyped id as a hold released)
        if ok:
            audit.record(archive, actor=actor, role="admin", action="hold_release", purpose="legal_hold",
                         objects={"hold": [hold_id]}, details={"released": ok}, conn=conn)
    return ok


def listing(archive, *, active_only: bool = False) -> list[dict]:
    return sg.holds(archive, active_only=active_only)
