"""Reporting-restriction rules, declared as data, each citing its law (shared/LAW.md).

`RULES` is the table; `classify_offence` reads the declared offence table (data/offences.csv)
and falls back on the legislation text; `parse_detail` reads list flags and
``reportingRestrictionDetail`` text into orders with start and end; `evaluate` turns the facts of
one case into the restrictions in force on a day.  `governance.disclose` applies them.

Effects (what a rule does to outputs; applied for EVERY role, admin included):
    wording       offence wording and the case's free text withheld (list_note, detail text)
    complainant   complainant-level records withheld (pseudonyms only, for analyst/admin counts)
    relationship  relationship words never output; the offence's title/code/section generalised
    identity      identity and personal fields of the protected parties withheld (and case_name)
    personal      personal fields (address, DOB ...) of every party withheld
    withhold_case every output of the case withheld
    contempt      contempt-risk flag when an output links the defendant's other cases
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache


@dataclass(frozen=True)
class Rule:
    id: str
    law: str
    source: str          # where the rule is stated: LAW.md table row / numbered rule
    protects: str
    arises: str          # automatic | order | list_flag
    lasts: str           # lifetime | until_18 | until_lifted | indefinite | while_active | date
    effects: tuple[str, ...]
    doc: str = ""


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("soaa1992", "Sexual Offences (Amendment) Act 1992 s.1 (offences in s.2: SOA 2003 Part 1 except "
         "ss.64, 65, 69, 71; MSA 2015 s.2; attempts, conspiracy, incitement, aiding and abetting)",
         "LAW.md Reporting restrictions; rule 1", "complainant", "automatic", "lifetime",
         ("wording", "complainant"),
         "identity and identifying matter (name, address, school, workplace) never output; wording redacted"),
    Rule("fgm2003", "Female Genital Mutilation Act 2003 Sch 1", "LAW.md Reporting restrictions; rule 1",
         "alleged FGM victim", "automatic", "lifetime", ("wording", "complainant")),
    Rule("editors_code_cl7", "Editors' Code cl.7 and cl.11; IPSO sexual offences guidance (2023)",
         "LAW.md Jigsaw identification; rule 2", "child complainant of a sexual offence", "automatic",
         "lifetime", ("relationship", "wording"),
         "never state or imply the defendant-complainant relationship, the complainant's age or town"),
    Rule("cypa_s49", "Children and Young Persons Act 1933 s.49", "LAW.md Reporting restrictions; rule 3",
         "under-18s in youth court (defendant, victim, witness)", "automatic", "until_18",
         ("identity", "wording")),
    Rule("under_18", "Children and Young Persons Act 1933 s.49 / YJCEA 1999 s.45 (precaution: any party "
         "under 18)", "LAW.md rule 3", "any party under 18", "automatic", "until_18", ("identity",)),
    Rule("yjcea_s45", "Youth Justice and Criminal Evidence Act 1999 s.45", "LAW.md Reporting restrictions; rule 4",
         "under-18s in adult criminal courts", "order", "until_18", ("identity", "wording")),
    Rule("yjcea_s45a", "Youth Justice and Criminal Evidence Act 1999 s.45A", "LAW.md Reporting restrictions; rule 4",
         "under-18 victim or witness", "order", "lifetime", ("identity", "wording")),
    Rule("yjcea_s46", "Youth Justice and Criminal Evidence Act 1999 s.46", "LAW.md Reporting restrictions; rule 4",
         "adult witness in fear or distress", "order", "lifetime", ("wording",)),
    Rule("cca_s4_2", "Contempt of Court Act 1981 s.4(2)", "LAW.md Reporting restrictions; rules 4-5",
         "fairness of this or a later trial (postponement)", "order", "until_lifted", ("withhold_case",),
         "withhold all case outputs until a person records that the order was lifted"),
    Rule("cca_s11", "Contempt of Court Act 1981 s.11", "LAW.md Reporting restrictions; rule 4",
         "a name or matter withheld in court", "order", "indefinite", ("wording", "personal"),
         "the withheld matter: the named party's identity when the order names one, else wording and "
         "every party's personal fields"),
    Rule("cca_active", "Contempt of Court Act 1981 ss.1-2 (strict liability, active proceedings)",
         "LAW.md Reporting restrictions; rule 6", "the trial of an active case", "automatic", "while_active",
         ("contempt",), "outputs linking a defendant's other cases to an active case carry a contempt-risk flag; "
         "shareable outputs show the subject case only"),
    Rule("list_flag", "CaTH reportingRestriction flag (the court says a restriction applies; which one is "
         "not stated)", "LAW.md rule 4", "whoever the court protects", "list_flag", "indefinite", ("wording",),
         "wording and free text withheld until a person reviews it"),
    Rule("small_cells", "UK GDPR Art 5(1)(c) minimisation; LAW.md rule 7", "LAW.md rule 7",
         "complainants in aggregates", "automatic", "indefinite", ("small_cells",),
         "counts about complainants below the threshold (default 5) suppressed; no identifying drill-down"),
    Rule("roa_spent", "Rehabilitation of Offenders Act 1974 ss.4, 5, 8 (as amended 28 Oct 2023)",
         "LAW.md Spent convictions; rules 13-14", "a rehabilitated person", "automatic", "indefinite",
         ("spent",), "spent convictions out of public name search, person pages and alerts"),
)}

# --------------------------------------------------------------------------- offences
_SOA03 = re.compile(r"Sexual Offences Act 2003,?\s*(?:s\.|section\s*|s\s)(\d+)", re.I)
_NOT_S2 = {64, 65, 69, 71}
_CHILD = re.compile(r"\b(child|children|under 1[36]|girl|boy)\b", re.I)


def classify_offence(code: str | None, title: str | None = None, legislation: str | None = None) -> dict:
    """Restriction flags of an offence: the declared table first, then the legislation text.
    (A fresh dict each call; the work is cached: every disclosure classifies every offence it
    shows, and the same few hundred codes and titles come back all day.)"""
    return dict(_classify(code, title, legislation))


@lru_cache(maxsize=50_000)
def _classify(code: str | None, title: str | None, legislation: str | None) -> tuple:
    return tuple(_classify_offence(code, title, legislation).items())


def _classify_offence(code: str | None, title: str | None = None, legislation: str | None = None) -> dict:
    flags = {"so_aa_1992": False, "fgm": False, "msa_s2": False, "child_sexual_abuse": False,
             "relationship_sensitive": False, "sch18": False, "known": False}
    from ..data.reference import offence_by_code, offences_by_title

    row = offence_by_code(code) if code else None
    # no code (the public lists give the title alone): the declared offences of that title, any
    # flag of any of them (several codes share a title)
    rows = [row] if row else (offences_by_title(title) if title else [])
    if rows:
        for k in flags:
            flags[k] = any(bool(r.get(k)) for r in rows) if k != "known" else True
        return flags
    text = " ".join(x for x in (title, legislation) if x)
    for m in _SOA03.finditer(text):
        s = int(m.group(1))
        if 1 <= s <= 79 and s not in _NOT_S2:
            flags["so_aa_1992"] = True
            if 5 <= s <= 15 or 25 <= s <= 26 or 47 <= s <= 50 or _CHILD.search(title or ""):
                flags["child_sexual_abuse"] = True
            if s in (16, 17, 18, 19, 25, 26, 64, 65):
                flags["relationship_sensitive"] = True
        elif s in (64, 65):
            flags["relationship_sensitive"] = True
    if re.search(r"Modern Slavery Act 2015,?\s*(?:s\.|section\s*)2\b", text, re.I):
        flags["msa_s2"] = flags["so_aa_1992"] = True
    if re.search(r"Female Genital Mutilation", text, re.I):
        flags["fgm"] = True
    if re.search(r"\brape\b", title or "", re.I):
        flags["so_aa_1992"] = True
        if _CHILD.search(title or ""):
            flags["child_sexual_abuse"] = True
    return flags


#: relationship words (Editors' Code cl.7; IPSO guidance: no "incest", "father", "stepdaughter")
RELATIONSHIP_WORDS = (
    "incest", "incestuous", "familial", "family member", "family members", "relative", "relatives",
    "father", "mother", "stepfather", "stepmother", "step-father", "step-mother", "daughter",
    "stepdaughter", "step-daughter", "son", "stepson", "step-son", "brother", "sister", "half-brother",
    "half-sister", "stepbrother", "stepsister", "uncle", "aunt", "auntie", "niece", "nephew",
    "grandfather", "grandmother", "grandson", "granddaughter", "grandchild", "cousin", "parent",
    "parents", "guardian", "foster", "carer", "teacher", "coach", "babysitter", "position of trust",
    "husband", "wife", "partner", "boyfriend", "girlfriend", "dad", "mum", "mom", "grandad", "granddad",
    "nan", "nanny", "in-law", "godfather", "godmother", "stepchild", "step-child",
)
RELATIONSHIP_RE = re.compile(
    r"\b(" + "|".join(sorted((re.escape(w) for w in RELATIONSHIP_WORDS), key=len, reverse=True)) + r")\b",
    re.I)
GENERIC_CHILD_SEXUAL_TITLE = "Sexual offence (details withheld: Editors' Code cl.7)"


def scrub_relationship(text: str | None) -> str | None:
    if text is None:
        return None
    return RELATIONSHIP_RE.sub("[withheld]", text)


# --------------------------------------------------------------------------- detail text -> orders
_DETAIL_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("yjcea_s45a", re.compile(r"(?:\bs(?:ection|\.)?\s*45A\b|\b45A\b[^.]*Youth Justice)", re.I)),
    ("yjcea_s45", re.compile(r"(?:\bs(?:ection|\.)?\s*45(?![A0-9(])|\b45\b[^.]*Youth Justice)", re.I)),
    ("yjcea_s46", re.compile(r"\bs(?:ection|\.)?\s*46\b", re.I)),
    ("cca_s4_2", re.compile(r"(?:\bs(?:ection|\.)?\s*)?\b4\s*\(\s*2\s*\)", re.I)),
    ("cca_s11", re.compile(r"\bs(?:ection|\.)?\s*11\b(?![^.]*Children)", re.I)),
    ("cypa_s49", re.compile(r"(?:\bs(?:ection|\.)?\s*49\b|Children and Young Persons Act)", re.I)),
    ("soaa1992", re.compile(r"Sexual Offences \(Amendment\) Act|\bSOAA\b|\bSO\(A\)A\b", re.I)),
    ("fgm2003", re.compile(r"Female Genital Mutilation", re.I)),
)
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                            "sep", "oct", "nov", "dec"))}
_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b|\b(\d{1,2})/(\d{1,2})/(\d{4})\b|"
                   r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?"
                   r"\s+(\d{4})\b", re.I)
_END_CUE = re.compile(r"\b(until|till|expir\w*|ends?|ending|to|lifted on|lasts? until)\s*(?:on\s*)?$", re.I)


def _dates(text: str) -> list[tuple[int, dt.date]]:
    out = []
    for m in _DATE.finditer(text):
        try:
            if m.group(1):
                d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            elif m.group(4):
                d = dt.date(int(m.group(6)), int(m.group(5)), int(m.group(4)))
            else:
                mon = _MONTHS.get(m.group(8)[:3].lower())
                if not mon:
                    continue
                d = dt.date(int(m.group(9)), mon, int(m.group(7)))
        except ValueError:
            continue
        out.append((m.start(), d))
    return out


@dataclass(frozen=True)
class Order:
    """A restriction read from a list (flag or detail text) or entered by a person."""

    rule: str
    start: dt.date | None = None
    end: dt.date | None = None
    party_id: int | None = None
    lifted: bool = False
    source: str = "detail_text"
    id: int | None = None


def parse_detail(text: str | None, *, flagged: bool = False, sitting: dt.date | None = None) -> list[Order]:
    """Orders named in a reportingRestrictionDetail text (with start/end dates when stated).
    A flag without any recognisable detail gives a ``list_flag`` order."""
    orders: list[Order] = []
    if text:
        dates = _dates(text)
        for rule, pat in _DETAIL_PATTERNS:
            m = pat.search(text)
            if not m:
                continue
            start = end = None
            for pos, d in dates:
                before = text[max(0, pos - 24):pos]
                if _END_CUE.search(before.rstrip()):
                    end = d if end is None else end
                else:
                    start = d if start is None else start
            orders.append(Order(rule, start=start or sitting, end=end))
    if flagged and not orders:
        orders.append(Order("list_flag", start=sitting, source="list_flag"))
    return orders


# --------------------------------------------------------------------------- evaluation
def eighteenth_birthday(party: dict, sitting: dt.date | None) -> dt.date | None:
    """When the party turns 18: from DOB, else (latest possible) from age at a sitting date."""
    dob = party.get("date_of_birth")
    if isinstance(dob, dt.date):
        try:
            return dob.replace(year=dob.year + 18)
        except ValueError:  # 29 February
            return dt.date(dob.year + 18, 3, 1)
    age = party.get("age")
    if age is not None and sitting is not None:
        try:
            return sitting.replace(year=sitting.year + max(0, 18 - int(age)))
        except ValueError:
            return dt.date(sitting.year + max(0, 18 - int(age)), 3, 1)
    return None


def _natural(p: dict) -> bool:
    return not p.get("organisation_name") and (p.get("role") or "").upper() not in (
        "PROSECUTING_AUTHORITY", "PROSECUTOR")


@dataclass
class Active:
    """A restriction in force for one case on one day."""

    rule: str
    case_id: int | None
    party_ids: frozenset[int] = frozenset()   # protected parties (identity effect)
    until: dt.date | None = None             # None: lifetime / until lifted / indefinite
    offence_ids: frozenset[int] = frozenset()
    note: str = ""

    @property
    def law(self) -> str:
        return RULES[self.rule].law

    @property
    def effects(self) -> tuple[str, ...]:
        return RULES[self.rule].effects

    @property
    def shown_until(self) -> dt.date | None:
        """The end date an output may state: none for a restriction that lasts until a child
        turns 18 -- that date is the child's eighteenth birthday, i.e. the date of birth."""
        return None if RULES[self.rule].lasts == "until_18" else self.until

    def summary(self) -> str:
        r = RULES[self.rule]
        end = (f"until {self.shown_until.isoformat()}" if self.shown_until else
               {"lifetime": "lifelong", "until_lifted": "until lifted", "until_18": "until 18"}.get(r.lasts, "in force"))
        return f"{r.law} ({end})"


@dataclass
class CaseFacts:
    case_id: int | None
    hearings: list[dict] = field(default_factory=list)
    parties: list[dict] = field(default_factory=list)
    offences: list[dict] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)     # stored restriction rows
    concluded: bool = False


_YOUTH = re.compile(r"(?<![a-z])youth(?![a-z])", re.I)
_CONCLUDED = re.compile(r"sentenc|verdict|acquit|dismiss|withdrawn|discontinu|no evidence offered|"
                        r"not guilty|discharged", re.I)


#: lists carry no outcomes for most cases: one not listed for this long is taken as concluded
STALE_DAYS = 730


def is_youth_hearing(h: dict) -> bool:
    """A youth court sitting: the panel or the list type says so, or -- when the list names no
    panel -- the court's name does (a building named "... Youth Court" also hosts adult benches:
    an ADULT panel there is an adult court)."""
    panel = (h.get("panel") or "").strip()
    if _YOUTH.search(panel) or _YOUTH.search(h.get("list_type") or ""):
        return True
    return not panel and bool(re.search(r"youth court", h.get("court_name") or "", re.I))


def is_concluded(hearings: list[dict]) -> bool:
    return any(_CONCLUDED.search(h.get("hearing_type") or "") for h in hearings)


def evaluate(facts: CaseFacts, on: dt.date) -> list[Active]:
    """The restrictions in force for a case on day ``on``."""
    out: list[Active] = []
    cid = facts.case_id
    sittings = [h["sitting_date"] for h in facts.hearings if h.get("sitting_date")]
    last_sitting = max(sittings) if sittings else None
    sitting_of = {h["id"]: h.get("sitting_date") for h in facts.hearings if h.get("id") is not None}

    def sitting(p: dict) -> dt.date | None:
        return sitting_of.get(p.get("hearing_id")) or last_sitting

    # 1-2: offence-driven automatic restrictions
    soaa, fgm, rel = set(), set(), set()
    for o in facts.offences:
        fl = classify_offence(o.get("code"), o.get("title"), o.get("legislation"))
        if fl["so_aa_1992"] or fl["msa_s2"]:
            soaa.add(o["id"])
        if fl["fgm"]:
            fgm.add(o["id"])
        if fl["child_sexual_abuse"] or fl["relationship_sensitive"]:
            rel.add(o["id"])
    if soaa:
        out.append(Active("soaa1992", cid, offence_ids=frozenset(soaa)))
    if fgm:
        out.append(Active("fgm2003", cid, offence_ids=frozenset(fgm)))
    if rel:
        out.append(Active("editors_code_cl7", cid, offence_ids=frozenset(rel)))

    # 3: youth court (s.49) and any under-18 party
    def minors(all_unknown_are_minors: bool, at: dt.date | None = None) -> tuple[frozenset[int], dt.date | None]:
        """Natural parties under 18 on day ``at`` (default: today)."""
        at = at or on
        ids, untils = set(), []
        for p in facts.parties:
            if not _natural(p):
                continue
            b18 = eighteenth_birthday(p, sitting(p))
            if b18 is None:
                if all_unknown_are_minors:
                    ids.add(p["id"])
                    untils.append(None)
            elif at < b18:
                ids.add(p["id"])
                untils.append(b18)
        until = None if (not untils or None in untils) else max(untils)
        return frozenset(ids), until

    youth = any(is_youth_hearing(h) for h in facts.hearings)
    if youth:
        ids, until = minors(True)
        if ids:
            out.append(Active("cypa_s49", cid, party_ids=ids, until=until))
    else:
        ids, until = minors(False)
        if ids:
            out.append(Active("under_18", cid, party_ids=ids, until=until))

    # 4-5: orders from list flags / detail text, and stored (manual or synced) orders
    orders = list(facts.orders)
    seen = {(o.rule, o.party_id) for o in orders}
    for h in facts.hearings:
        for o in parse_detail(h.get("reporting_restriction_detail"), flagged=bool(h.get("reporting_restriction")),
                              sitting=h.get("sitting_date")):
            if (o.rule, o.party_id) not in seen:
                orders.append(o)
                seen.add((o.rule, o.party_id))
    for off in facts.offences:
        for o in parse_detail(off.get("reporting_restriction_detail"), flagged=False, sitting=last_sitting):
            if (o.rule, o.party_id) not in seen:
                orders.append(o)
                seen.add((o.rule, o.party_id))
    if any(o.rule != "list_flag" for o in orders) or soaa or fgm:
        orders = [o for o in orders if o.rule != "list_flag"]   # the flag is explained
    for o in orders:
        if o.lifted:
            continue
        if o.rule in ("soaa1992", "fgm2003") and any(a.rule == o.rule for a in out):
            continue
        if o.start and on < o.start and o.rule not in ("cca_s4_2",):
            continue
        rule = RULES[o.rule]
        if o.rule == "cca_s4_2":
            # LAW.md rule 5: in force until a person records the lifting (an end date alone is not enough)
            out.append(Active("cca_s4_2", cid, until=None,
                              note="end date stated: needs a person to lift" if o.end and on >= o.end else ""))
            continue
        if o.end and on >= o.end and rule.lasts not in ("lifetime",):
            continue
        if o.rule in ("yjcea_s45", "yjcea_s45a", "cypa_s49"):
            if o.party_id is not None:
                ids = frozenset({o.party_id})
                p = next((p for p in facts.parties if p["id"] == o.party_id), {})
                until = eighteenth_birthday(p, sitting(p)) if o.rule != "yjcea_s45a" else None
                if o.rule != "yjcea_s45a" and until and on >= until:
                    continue
            elif o.rule == "yjcea_s45a":
                # lifelong: whoever was under 18 when the order was made stays protected
                ids, until = minors(True, at=o.start or last_sitting or on)
                until = None
            else:
                # s.45 / s.49 named in the list's text: the parties under 18 today (age unknown:
                # taken as under 18); once every one of them is 18 the restriction has lapsed
                ids, until = minors(True)
                if not ids:
                    continue
            same = next((a for a in out if a.rule == o.rule), None)
            if same is not None:
                # the automatic s.49 of a youth court sitting, or an order given twice: one restriction
                same.party_ids = same.party_ids | ids
                continue
            out.append(Active(o.rule, cid, party_ids=ids, until=o.end or until))
        elif o.rule == "cca_s11":
            out.append(Active("cca_s11", cid, party_ids=frozenset({o.party_id}) if o.party_id else frozenset(),
                              until=o.end))
        else:
            out.append(Active(o.rule, cid, until=o.end))

    # 6: active proceedings (no outcome listed; a case not listed for STALE_DAYS counts as concluded)
    stale = last_sitting is not None and (on - last_sitting).days > STALE_DAYS
    if not facts.concluded and not stale and not is_concluded(facts.hearings):
        out.append(Active("cca_active", cid))
    return out
