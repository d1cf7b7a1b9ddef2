"""Cases and their life-cycles: offence -> charge -> first magistrates' hearing -> allocation /
sending -> Crown Court plea and trial preparation, (warned) trial, sentence; adjournments;
outcomes.  A case's whole schedule is drawn when the case is created; the driver emits its hearings
day by day and forgets the case after its last one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from .names import Person, Victim
from .places import CourtPlan
from .reference import Offence, Town

__all__ = ["Charge", "CaseDefendant", "Case", "Hearing", "plan_schedule",
           "MAGS", "SJP", "CROWN", "WARNED"]

MAGS, SJP, CROWN, WARNED = "M", "S", "C", "W"


@dataclass(slots=True)
class Charge:
    offence: Offence
    wording: str
    victim: Victim | None = None
    style: str | None = None        # how the wording shows the victim: named|initials|described|none


@dataclass(slots=True)
class CaseDefendant:
    person: Person
    charges: list[Charge]
    asn: str = ""
    custody: bool = False
    pleas: list = field(default_factory=list)      # [(date, "GUILTY" | "NOT_GUILTY")]
    result: str | None = None                      # convicted | acquitted | withdrawn | None (open)
    conviction_date: date | None = None
    titles_cache: list | None = None               # public-list offence titles (lists.py)
    std_key: tuple | None = None                   # standard-list offences, cached per plea state
    std_offs: list | None = None
    pdda_charges: list | None = None               # Crown list charges (lists.py)

    def plea_on(self, d: date) -> tuple[str, date | None]:
        plea, when = "NONE", None
        for pd, p in self.pleas:
            if pd <= d:
                plea, when = p, pd
        return plea, when


@dataclass(slots=True)
class Hearing:
    when: date
    venue: str          # M | S | C | W
    desc: str           # hearing type / description as listed
    code: str           # three-letter Crown hearing type (PTP, FCM, MEN, TRL, SEN) or ""
    final: bool = False
    firm: bool = False  # also on the firm list
    fixed: bool = True  # warned list: with a fixed date
    target: date | None = None   # warned list: the trial date the entry warns of


@dataclass(slots=True)
class Case:
    case_id: str                 # the URN
    kind: str                    # csa | sexual | other | sjp
    mag: CourtPlan
    crown: CourtPlan | None
    offence_date: date
    offence_town: Town | None    # printed "at <Town>" (None: wording gives no place)
    defs: list[CaseDefendant]
    first_hearing: date
    youth: bool = False
    restriction: str | None = None           # reporting restriction order (detail text)
    complainant_party: Victim | None = None  # listed as a COMPLAINANT party (standard list)
    crown_no: str = ""
    network_id: str | None = None
    hearings: list[Hearing] = field(default_factory=list)
    n_left: int = 0
    seq_in_list: int = 0

    @property
    def sexual(self) -> bool:
        return self.kind in ("csa", "sexual")

    def outcome(self, upto: date) -> tuple[str | None, date | None]:
        """(outcome, completion date) as known at ``upto`` (None, None while open)."""
        final = self.hearings[-1]
        if not final.final or final.when > upto:
            return None, None
        res = [d.result for d in self.defs]
        if "convicted" in res:
            return "convicted", final.when
        if "acquitted" in res:
            return "acquitted", final.when
        return "withdrawn", final.when


def _days(rng: random.Random, lo: int, hi: int) -> timedelta:
    return timedelta(days=lo + int(rng.random() * (hi - lo + 1)))


def _warned(trial: date) -> date:
    """Publication day of the warned list for a trial: the Friday 10 days before its week."""
    monday = trial - timedelta(days=trial.weekday())
    return monday - timedelta(days=10)


def plan_schedule(rng: random.Random, c: Case, *, to_crown: bool) -> None:
    """Draw the whole schedule and the outcome of case ``c`` (first hearing ``c.first_hearing``)."""
    r = rng.random
    H = c.hearings
    m, cr = c.mag, c.crown
    d0 = c.first_hearing
    sexual = c.sexual
    if c.kind == "sjp":
        H.append(Hearing(d0, SJP, "Single Justice Procedure", "", final=True))
        ok = r() < 0.93
        for d in c.defs:
            d.result = "convicted" if ok else "withdrawn"
            d.conviction_date = d0 if ok else None
            if ok:
                d.pleas.append((d0, "GUILTY"))
        return
    withdraw = r() < (0.08 if sexual else 0.07)
    if not to_crown or cr is None:
        _plan_mags(rng, c, withdraw)
        return
    # ---------------------------------------------------------- magistrates -> Crown Court
    first_desc = "First hearing" if not c.youth else "First hearing (youth)"
    if r() < 0.3:
        H.append(Hearing(d0, MAGS, first_desc, ""))
        d = m.next_sitting(d0 + _days(rng, 7, 21))
        H.append(Hearing(d, MAGS, "Allocation - sending to Crown Court", ""))
    else:
        H.append(Hearing(d0, MAGS, "First hearing - sending to Crown Court", ""))
        d = d0
    ptph = cr.next_sitting(d + _days(rng, 25, 35))
    H.append(Hearing(ptph, CROWN, "Plea and Trial Preparation Hearing", "PTP"))
    p_guilty = 0.3 if sexual else 0.45
    guilty = [r() < p_guilty for _ in c.defs]
    if withdraw:
        end = cr.next_sitting(ptph + _days(rng, 28, 120))
        H.append(Hearing(end, CROWN, "Mention - offer no evidence", "MEN", final=True))
        for d in c.defs:
            d.pleas.append((ptph, "NOT_GUILTY"))
            d.result = "withdrawn"
        return
    for d, g in zip(c.defs, guilty):
        d.pleas.append((ptph, "GUILTY" if g else "NOT_GUILTY"))
        if g:
            d.result, d.conviction_date = "convicted", ptph
    if all(guilty):
        sen = cr.next_sitting(ptph + _days(rng, 28, 56))
        H.append(Hearing(sen, CROWN, "Sentence", "SEN", final=True, firm=True))
        return
    lead = rng.lognormvariate(5.75, 0.35) if sexual else rng.lognormvariate(5.0, 0.4)  # ~310 / ~150 days
    trial = cr.next_sitting(ptph + timedelta(days=max(42, int(lead))))
    t = ptph
    for _ in range(1 + (r() < 0.5)):
        t = cr.next_sitting(t + _days(rng, 21, 70))
        if t < trial - timedelta(days=14):
            H.append(Hearing(t, CROWN, "Further Case Management Hearing" if r() < 0.5 else "Mention",
                             "FCM" if r() < 0.5 else "MEN"))
    fixed = r() < 0.7
    if r() < 0.2:                                            # trial vacated, relisted
        H.append(Hearing(_warned(trial), WARNED, "Trial", "TRL", fixed=fixed, target=trial))
        trial = cr.next_sitting(trial + _days(rng, 90, 200))
    H.append(Hearing(_warned(trial), WARNED, "Trial", "TRL", fixed=fixed, target=trial))
    not_guilty = [d for d, g in zip(c.defs, guilty) if not g]
    if r() < 0.12:                                           # cracked: late guilty pleas
        H.append(Hearing(trial, CROWN, "Trial", "TRL", firm=True))
        for d in not_guilty:
            d.pleas.append((trial, "GUILTY"))
            d.result, d.conviction_date = "convicted", trial
        last = trial
    else:
        n_days = (2 + int(r() * 3)) if sexual else (1 + int(r() * 2))
        day = trial
        for k in range(n_days):
            H.append(Hearing(day, CROWN, "Trial" if k == 0 else "Trial (continued)", "TRL", firm=True))
            last = day
            day = cr.next_sitting(day + timedelta(days=1))
        p_conv = 0.58 if sexual else 0.68
        for d in not_guilty:
            if r() < p_conv:
                d.result, d.conviction_date = "convicted", last
            else:
                d.result = "acquitted"
    if any(d.result == "convicted" for d in c.defs):
        sen = cr.next_sitting(last + _days(rng, 28, 49))
        H.append(Hearing(sen, CROWN, "Sentence", "SEN", final=True, firm=True))
    else:
        H[-1].final = True


def _plan_mags(rng: random.Random, c: Case, withdraw: bool) -> None:
    r = rng.random
    H, m, d0 = c.hearings, c.mag, c.first_hearing
    first = "First hearing (youth)" if c.youth else "First hearing"
    if withdraw:
        H.append(Hearing(d0, MAGS, first, ""))
        end = m.next_sitting(d0 + _days(rng, 14, 90))
        H.append(Hearing(end, MAGS, "Mention - case withdrawn", "", final=True))
        for d in c.defs:
            d.pleas.append((d0, "NOT_GUILTY"))
            d.result = "withdrawn"
        return
    guilty = [r() < 0.6 for _ in c.defs]
    for d, g in zip(c.defs, guilty):
        d.pleas.append((d0, "GUILTY" if g else "NOT_GUILTY"))
        if g:
            d.result, d.conviction_date = "convicted", d0
    H.append(Hearing(d0, MAGS, first, ""))
    last = d0
    if not all(guilty):
        ptr = m.next_sitting(d0 + _days(rng, 14, 35)) if r() < 0.3 else None
        trial = m.next_sitting(d0 + _days(rng, 42, 120))
        if ptr is not None and ptr < trial:                   # a court sitting rarely: no review
            H.append(Hearing(ptr, MAGS, "Pre-trial review", ""))
        if r() < 0.2:                                         # trial adjourned on the day
            H.append(Hearing(trial, MAGS, "Trial - adjourned", ""))
            trial = m.next_sitting(trial + _days(rng, 35, 90))
        H.append(Hearing(trial, MAGS, "Trial", ""))
        last = trial
        for d, g in zip(c.defs, guilty):
            if not g:
                if r() < 0.66:
                    d.result, d.conviction_date = "convicted", trial
                else:
                    d.result = "acquitted"
    if any(d.result == "convicted" for d in c.defs) and r() < 0.55:
        sen = m.next_sitting(last + _days(rng, 21, 42))
        H.append(Hearing(sen, MAGS, "Sentence", "", final=True))
    else:
        H[-1].final = True
