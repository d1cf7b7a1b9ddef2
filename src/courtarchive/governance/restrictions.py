"""Reporting-restriction orders attached to cases (LAW.md rule 4: attach to the case with party,
scope, start and end; block display and export while in force; re-evaluate daily).

`sync` reads list flags and ``reportingRestrictionDetail`` texts into `restriction` rows
(idempotent: one row per rule, case, party and source text); `add` records an order a person
entered; `lift` records that an order was lifted -- only a named person can do that (LAW.md
rule 5).  The gate (`governance.disclose`) evaluates stored orders and list texts every time, so
an order applies from the moment its list is stored, synced or not.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from ..store import governance as sg
from ..store.engine import queued_write
from . import audit
from .rules import RULES, parse_detail

_END_KIND = {"until_18": "until_18", "lifetime": "lifetime", "until_lifted": "until_lifted",
             "indefinite": "until_lifted", "while_active": "until_lifted", "date": "date"}


def _hash(*parts) -> str:
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def sync(archive, *, actor: str = "system", batch: int = 5000) -> dict:
    """Create restriction rows for every flagged hearing/offence not yet synced."""
    created, existing = [], 0
    for entity in ("hearing", "offence"):
        after = 0
        while True:
            rows = sg.flagged_rows(archive, entity, after_id=after, limit=batch)
            if not rows:
                break
            after = rows[-1]["id"]
            with queued_write(archive.engine, "restrictions") as conn:
                for r in rows:
                    for o in parse_detail(r.get("reporting_restriction_detail"),
                                          flagged=bool(r.get("reporting_restriction")) and entity == "hearing",
                                          sitting=r.get("sitting_date")):
                        row = {"rule": o.rule, "law": RULES[o.rule].law, "case_id": r["case_id"], "party_id": None,
                               "hearing_id": r["id"] if entity == "hearing" else r.get("hearing_id"),
                               "scope": "case", "start_date": o.start,
                               "end_kind": "date" if o.end and RULES[o.rule].lasts != "until_lifted"
                               else _END_KIND[RULES[o.rule].lasts],
                               "end_date": o.end, "source": o.source, "created_by": actor,
                               "source_hash": _hash(o.rule, r["case_id"], None, r.get("reporting_restriction_detail"))}
                        rid, new = sg.save_restriction(archive, row, conn=conn)
                        if new:
                            created.append({"id": rid, **row})
                        else:
                            existing += 1
                if created:
                    audit.record(archive, actor=actor, role="admin", action="restriction_sync", purpose="administration",
                                 objects={"restriction": [c["id"] for c in created]},
                                 details={"created": len(created)}, conn=conn)
    return {"created": created, "existing": existing}


def add(archive, *, rule: str, case_id: int, actor: str, party_id: int | None = None, start: dt.date | None = None,
        end: dt.date | None = None, note: str | None = None) -> int:
    """Record an order a person entered (e.g. from the court's order sheet)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}: one of {', '.join(RULES)}")
    if not actor:
        raise ValueError("a restriction is entered by a named person")
    r = RULES[rule]
    row = {"rule": rule, "law": r.law, "case_id": case_id, "party_id": party_id, "hearing_id": None,
           "scope": "party" if party_id else "case", "start_date": start or dt.date.today(),
           "end_kind": "date" if end and r.lasts != "until_lifted" else _END_KIND[r.lasts], "end_date": end,
           "source": "manual", "created_by": actor,
           "source_hash": _hash(rule, case_id, party_id, "manual", start, end, note)}
    with queued_write(archive.engine, "restrictions") as conn:
        rid, _ = sg.save_restriction(archive, row, conn=conn)
        audit.record(archive, actor=actor, role="admin", action="restriction_add", purpose="administration",
                     objects={"restriction": [rid], "case": [case_id]}, details={"rule": rule}, conn=conn)
    return rid


def lift(archive, restriction_id: int, *, actor: str, reason: str) -> bool:
    """Record that an order was lifted (LAW.md rule 5: lifting needs a person to confirm)."""
    if not actor or not actor.strip() or actor.strip().lower() in ("system", "auto", "cron"):
        raise ValueError("lifting a reporting restriction needs a named person (actor)")
    if not reason or not reason.strip():
        raise ValueError("lifting a reporting restriction needs a reason")
    with queued_write(archive.engine, "restrictions") as conn:
        ok = sg.lift_restriction(archive, restriction_id, actor=actor, reason=reason, conn=conn)
        audit.record(archive, actor=actor, role="admin", action="restriction_lift", purpose="administration",
                     objects={"restriction": [restriction_id]}, details={"lifted": ok}, conn=conn)
    return ok


def listing(archive, *, case_id: int | None = None, active_only: bool = False) -> list[dict]:
    return sg.restrictions(archive, case_id=case_id, active_only=active_only)
