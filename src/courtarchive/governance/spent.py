"""Spent convictions: Rehabilitation of Offenders Act 1974, periods as amended from 28 Oct 2023
(shared/LAW.md "Spent convictions"; rules 13-14).

Periods run from the end of the sentence, licence included (adult / under 18):
    community order / youth rehabilitation order  end of the order
    custody <= 1 year                              + 1 year   / + 6 months
    custody > 1 year to 4 years                    + 4 years  / + 2 years
    custody > 4 years                              + 7 years  / + 3.5 years
    fine                                           1 year from conviction / 6 months  (check)
    conditional discharge, bind-over               end of the order
    absolute discharge                             at once
Never spent: life, IPP, extended sentences, and more than 4 years for a Sentencing Code Sch 18
offence.  A further conviction during a rehabilitation period extends it: neither is spent until
both are (ROA s.6(4)).  A suspended sentence counts as custody of its length.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..store import governance as sg
from .profile import add_months

SENTENCE_TYPES = ("custody", "suspended", "community", "yro", "fine", "conditional_discharge",
                  "absolute_discharge", "bind_over", "life", "ipp", "extended")
NEVER = ("life", "ipp", "extended")


@dataclass(frozen=True)
class Spent:
    spent_on: dt.date | None
    never_spent: bool
    basis: str


def compute(*, conviction_date: dt.date, sentence_type: str, custody_months: float | None = None,
            sentence_end: dt.date | None = None, under_18: bool = False, sch18: bool = False) -> Spent:
    st = sentence_type.lower()
    if st not in SENTENCE_TYPES:
        raise ValueError(f"unknown sentence type {sentence_type!r}: one of {', '.join(SENTENCE_TYPES)}")
    if st in NEVER:
        return Spent(None, True, f"{st} sentence: never spent (ROA 1974 s.5(1))")
    if st in ("custody", "suspended"):
        if custody_months is None:
            raise ValueError("a custodial sentence needs custody_months")
        if custody_months > 48 and sch18:
            return Spent(None, True, "more than 4 years for a Sentencing Code Sch 18 offence: never spent")
        end = sentence_end or add_months(conviction_date, int(round(custody_months)))
        if custody_months <= 12:
            buf, label = (6, "+6 months") if under_18 else (12, "+1 year")
        elif custody_months <= 48:
            buf, label = (24, "+2 years") if under_18 else (48, "+4 years")
        else:
            buf, label = (42, "+3.5 years") if under_18 else (84, "+7 years")
        return Spent(add_months(end, buf), False, f"{st} {custody_months:g} months: end of sentence {end} {label}")
    if st == "fine":
        months = 6 if under_18 else 12
        return Spent(add_months(conviction_date, months), False, f"fine: {months} months from conviction (check)")
    if st == "absolute_discharge":
        return Spent(conviction_date, False, "absolute discharge: spent at once")
    # community order, YRO, conditional discharge, bind-over: the end of the order
    if sentence_end is None:
        raise ValueError(f"a {st} needs sentence_end (the end of the order)")
    return Spent(sentence_end, False, f"{st}: end of the order")


def drag_through(convs: list[dict]) -> list[dict]:
    """Apply ROA s.6(4): a conviction during another's rehabilitation period extends both."""
    convs = sorted(convs, key=lambda c: c["conviction_date"])
    changed = True
    while changed:
        changed = False
        for a in convs:
            for b in convs:
                if a is b or a.get("never_spent") or b["conviction_date"] < a["conviction_date"]:
                    continue
                if a["spent_on"] is not None and b["conviction_date"] < a["spent_on"]:
                    if b.get("never_spent"):
                        a["never_spent"], a["spent_on"] = True, None
                        a["basis"] = (a.get("basis") or "") + "; extended: a later conviction is never spent"
                        changed = True
                    elif b["spent_on"] > a["spent_on"]:
                        a["spent_on"] = b["spent_on"]
                        a["basis"] = (a.get("basis") or "") + f"; extended to {b['spent_on']} (ROA s.6(4))"
                        changed = True
    return convs


def is_spent(conv: dict, on: dt.date) -> bool:
    return not conv.get("never_spent") and conv.get("spent_on") is not None and conv["spent_on"] <= on


def record_conviction(archive, *, party_id: int | None, conviction_date: dt.date, sentence_type: str,
                      case_id: int | None = None, offence_id: int | None = None, offence_code: str | None = None,
                      custody_months: float | None = None, sentence_end: dt.date | None = None,
                      under_18: bool = False, sch18: bool | None = None, actor: str = "system") -> int:
    """Store a conviction with its computed ``spent_on``; re-applies drag-through for the person."""
    if sch18 is None:
        from .rules import classify_offence

        sch18 = bool(offence_code and classify_offence(offence_code)["sch18"])
    s = compute(conviction_date=conviction_date, sentence_type=sentence_type, custody_months=custody_months,
                sentence_end=sentence_end, under_18=under_18, sch18=sch18)
    row = dict(party_id=party_id, case_id=case_id, offence_id=offence_id, offence_code=offence_code,
               conviction_date=conviction_date, sentence_type=sentence_type, custody_months=custody_months,
               sentence_end=sentence_end, under_18=under_18, sch18=sch18, spent_on=s.spent_on,
               never_spent=s.never_spent, basis=s.basis)
    cid = sg.save_conviction(archive, row)
    _recompute_person(archive, party_id)
    from . import audit

    audit.record(archive, actor=actor, role="admin", action="conviction_record", purpose="administration",
                 objects={"conviction": [cid], "party": [party_id] if party_id else []},
                 details={"sentence_type": sentence_type, "never_spent": s.never_spent})
    return cid


def _recompute_person(archive, party_id: int | None) -> None:
    if party_id is None:
        return
    person = sg.persons_of(archive, [party_id]).get(party_id)
    parties = sg.parties_of_persons(archive, [person]) if person is not None else [party_id]
    convs = sg.convictions(archive, party_ids=parties or [party_id])
    base = []
    for c in convs:
        s = compute(conviction_date=c["conviction_date"], sentence_type=c["sentence_type"],
                    custody_months=c["custody_months"], sentence_end=c["sentence_end"],
                    under_18=bool(c["under_18"]), sch18=bool(c["sch18"]))
        base.append({**c, "spent_on": s.spent_on, "never_spent": s.never_spent, "basis": s.basis})
    for c in drag_through(base):
        sg.save_conviction(archive, {"id": c["id"], "spent_on": c["spent_on"], "never_spent": c["never_spent"],
                                     "basis": c["basis"]})
