"""THE disclosure gate: every web page, API response, export, alert, digest and report gets its
data through `disclose`.

    result = disclose(records, viewer, purpose="journalism", context={"archive": a, "output": "web"})

``records`` are plain dicts tagged with their entity (``{"_entity": "party", ...}``; rows of an
`Archive` read plus ``_entity``); a value that is a list of tagged dicts (a case page's hearings,
a hearing's parties) is disclosed recursively.  The gate, in order:

1. publication sensitivity (CaTH PUBLIC / PRIVATE / CLASSIFIED) per record -> withheld if the role
   may not see that list;
2. restriction rules (governance.rules) in force for the record's case today: s.4(2) withholds the
   case; identity/wording/personal/relationship effects redact fields for EVERY role;
3. spent convictions (ROA 1974) hidden from the configured roles/outputs;
4. the role x field policy (governance.policy: show / drop / pseudonymise / coarse; personal-level
   data only for the role's purposes);
5. small-cell suppression of complainant aggregates;
6. contempt-risk flag (CCA 1981 ss.1-2) when an output links a defendant's other cases while one of
   them is active; shareable outputs keep only the subject case of such a defendant;
7. one audit event (who, role, purpose, output, which records; never a cleartext identity).

It returns redacted copies (each with ``_redacted``: the fields removed or replaced, and
``_restrictions``: the rules applied) plus flags.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Iterable

from . import policy as pol
from . import rules as R
from .coarse import TOKEN_PREFIX, coarse_party

SHAREABLE_OUTPUTS = frozenset({"export", "alert", "digest", "share", "web", "api", "person_page", "report"})
ALLOWED_COMPLAINANT_DIMS = frozenset({"court", "court_id", "court_name", "region", "police_force_area", "year",
                                      "quarter", "offence_group", "list_type", "country"})
_AGG_KEYS = frozenset({"_entity", "subject", "count", "dims"})
_FREE_TEXT = {"hearing": ("list_note",), "offence": ()}
_DETAIL = {"hearing": "reporting_restriction_detail", "offence": "reporting_restriction_detail"}
_TEXT_FIELDS = ("title", "wording", "list_note", "case_name", "hearing_type", "reporting_restriction_detail",
                "legislation", "max_penalty", "name")
_NAME_FIELDS = ("surname", "name_as_listed", "name")
#: the party fields that name a person
IDENTITY_FIELDS = frozenset({"forenames", "surname", "middle_names", "name", "name_as_listed"})


def identity_withheld(disclosed: dict) -> bool:
    """Whether the gate withheld (or pseudonymised) a name of this disclosed party record.  An
    output that *finds* people by name -- name search, screening -- leaves such a record out
    altogether: "the name you typed is the defendant in case X" names him as surely as the name."""
    return bool(IDENTITY_FIELDS.intersection(disclosed.get("_redacted") or ()))


class GovernanceError(RuntimeError):
    pass


class _Unkeyed:
    """The keyring of a gate given none: an analyst sees the person tokens the store holds (an
    expired name, the coarse row's token kept once the date of birth is gone), none is made."""

    key_id = None

    def token(self, kind: str, identity: str, *, key_id: str | None = None) -> None:
        return None


_UNKEYED = _Unkeyed()


@dataclass
class Context:
    archive: Any = None
    keyring: Any = None
    now: dt.datetime | None = None
    output: str = "view"               # view | search | person_page | export | alert | digest | api | web | report
    shareable: bool | None = None      # default: output in SHAREABLE_OUTPUTS or the role is public
    subject_case_id: int | None = None
    profile: Any = None
    audit_sink: list | None = None     # without an archive (tests): events go here
    facts: dict | None = None          # {case_id: rules.CaseFacts}: given instead of loaded
    publications: dict | None = None   # {publication_id: {"sensitivity": ...}}
    persons: dict | None = None        # {party_id: person_id}
    convictions: dict | None = None    # {party_id: [conviction rows]}
    identities: dict | None = None     # {party_id: identity row} for analysts' tokens
    audit: bool = True

    @classmethod
    def of(cls, context) -> "Context":
        if context is None:
            return cls()
        if isinstance(context, Context):
            return context
        return cls(**context)


@dataclass
class Disclosure:
    records: list[dict]
    flags: list[dict] = field(default_factory=list)
    withheld: dict[str, int] = field(default_factory=dict)
    role: str = "public"
    audit_seq: int | None = None
    #: what the gate read to decide (``facts`` {case id: CaseFacts}, ``persons``, ``convictions``;
    #: None: not read) -- a later call over the same cases may pass them back through its
    #: `Context` instead of reading them again
    inputs: dict = field(default_factory=dict, repr=False)

    def cases_context(self, case_ids: Iterable[int]) -> dict | None:
        """Context entries for a later disclosure of (records of) these cases, all of which this
        one read; None when it did not read them all."""
        facts = self.inputs.get("facts") or {}
        case_ids = set(case_ids)
        if not case_ids <= facts.keys():
            return None
        out = {"facts": {c: facts[c] for c in case_ids}, "persons": self.inputs.get("persons") or {},
               "publications": {h["publication_id"]: {"sensitivity": h.get("sensitivity")}
                                for c in case_ids for h in facts[c].hearings if h.get("publication_id") is not None}}
        if self.inputs.get("convictions") is not None:
            out["convictions"] = self.inputs["convictions"]
        return out

    def flag(self, name: str) -> list[dict]:
        return [f for f in self.flags if f["flag"] == name]


# --------------------------------------------------------------------------- helpers
def _walk(records: Iterable[dict]):
    for r in records:
        if not isinstance(r, dict):
            continue
        yield r
        for v in r.values():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                yield from _walk(v)


def _entity(r: dict) -> str:
    e = r.get("_entity")
    if not e:
        raise GovernanceError("disclose: every record must be tagged with its entity ('_entity')")
    return e


def _ids(flat: list[dict]) -> dict[str, set]:
    """The ids the records (``flat``: every record, nested ones included) refer to."""
    out: dict[str, set] = {"case": set(), "publication": set(), "party": set(), "lookup": set(), "hearing": set()}
    for r in flat:
        e = _entity(r)
        if e == "case" and r.get("id") is not None:
            out["case"].add(r["id"])
        if r.get("case_id") is not None:
            out["case"].add(r["case_id"])
        elif "case_id" in r and e in ("hearing", "party", "offence", "complainant"):
            # a record of no case: the rules read its hearing as a case of one hearing
            hid = r.get("id") if e == "hearing" else r.get("hearing_id")
            if hid is not None:
                out["hearing"].add(hid)
        if e == "publication" and r.get("id") is not None:
            out["publication"].add(r["id"])
        if r.get("publication_id") is not None:
            out["publication"].add(r["publication_id"])
        if e == "party" and r.get("id") is not None:
            out["party"].add(r["id"])
        if r.get("party_id") is not None:
            out["party"].add(r["party_id"])
        if e in ("hearing", "party", "offence", "complainant") and r.get("id") is not None and \
                ("case_id" not in r or "publication_id" not in r):
            out["lookup"].add((e, r["id"]))
    return out


def _caseless(hearing_id: int) -> tuple[str, int]:
    """The key under which a hearing of no case has its facts (case keys are ints)."""
    return ("h", hearing_id)


def _is_caseless(key) -> bool:
    """A facts key of a hearing of no case (`_caseless`), not a case id."""
    return isinstance(key, tuple)


def _facts_from(d: dict, case_id) -> R.CaseFacts:
    orders = [R.Order(o["rule"], start=o.get("start_date"), end=o.get("end_date"), party_id=o.get("party_id"),
                      lifted=o.get("lifted_at") is not None, source=o.get("source", "manual"), id=o.get("id"))
              for o in d.get("orders", [])]
    return R.CaseFacts(case_id if isinstance(case_id, int) else None, hearings=d.get("hearings", []),
                       parties=d.get("parties", []),
                       offences=d.get("offences", []), orders=orders)


_SENS_ORDER = {"PUBLIC": 0, "PRIVATE": 1, "CLASSIFIED": 2}


# --------------------------------------------------------------------------- the facts kept
#: rows of case facts (hearings, parties, offences, orders) a process keeps between calls, per
#: archive (``COURTARCHIVE_GATE_CACHE_ROWS``; 0: keep none).  ~1 KB a row: the default is ~50 MB
#: per server worker, the facts of ~1,400 busy cases.
CACHE_ROWS_DEFAULT = 50_000


def cache_rows() -> int:
    """``COURTARCHIVE_GATE_CACHE_ROWS``, checked (a ConfigError: one line, exit code 2)."""
    from ..config import ConfigError

    v = os.environ.get("COURTARCHIVE_GATE_CACHE_ROWS", "").strip()
    try:
        n = int(v) if v else CACHE_ROWS_DEFAULT
    except ValueError:
        n = -1
    if n < 0:
        raise ConfigError(f"COURTARCHIVE_GATE_CACHE_ROWS must be a number of rows, 0 or more (0: keep none), not {v!r}")
    return n


class _Kept:
    """The case facts the gate read for one data generation of one archive (`store.governance.
    data_generation`), and the restrictions they put in force on a day: a day list, a case page or
    a search reads the same busy cases' facts request after request (~760 rows, ~45 % of a day
    list's CPU), while they change only when something is written -- and any committed change
    moves the generation on, so a copy is used only while the generation it was read under is
    still the archive's.  Least recently used first out beyond ``limit`` rows.  In memory only;
    cleartext dates of birth among them go with the copy at the next call after an expiry or
    erasure (the generation moved)."""

    def __init__(self, generation: int, limit: int):
        self.generation, self.limit = generation, limit
        self.facts: dict = {}       # key (case id / `_caseless`) -> (CaseFacts, rows, {day: [R.Active]})
        self.rows = 0
        self.lock = threading.Lock()

    def get(self, keys) -> dict:
        out = {}
        with self.lock:
            for k in keys:
                hit = self.facts.pop(k, None)
                if hit is not None:
                    self.facts[k] = hit              # (most recently used: to the end)
                    out[k] = hit[0]
        return out

    def put(self, facts: dict) -> None:
        with self.lock:
            for k, f in facts.items():
                n = len(f.hearings) + len(f.parties) + len(f.offences) + len(f.orders)
                if n > self.limit or k in self.facts:
                    continue
                self.facts[k] = (f, n, {})
                self.rows += n
            while self.rows > self.limit:
                self.rows -= self.facts.pop(next(iter(self.facts)))[1]

    def evaluate(self, key, f: R.CaseFacts, today: dt.date) -> list:
        """`rules.evaluate(f, today)`, worked out once per day for facts kept here (given facts:
        every time)."""
        kept = self.facts.get(key)
        if kept is None or kept[0] is not f:
            return R.evaluate(f, today)
        hit = kept[2].get(today)
        if hit is None:
            hit = kept[2][today] = R.evaluate(f, today)
        return hit


_KEPT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()      # archive -> _Kept
_KEPT_LOCK = threading.Lock()


def _kept(archive, conn) -> _Kept | None:
    """The facts kept for ``archive`` at its current data generation (read on ``conn`` before the
    facts are), a fresh copy when the generation moved; None when nothing is to be kept."""
    from ..store import governance as sg

    limit = cache_rows()
    if limit == 0:
        return None
    generation = sg.data_generation(archive, conn=conn)
    if generation is None:
        return None
    with _KEPT_LOCK:
        kept = _KEPT.get(archive)
        if kept is None or kept.generation != generation or kept.limit != limit:
            kept = _KEPT[archive] = _Kept(generation, limit)
    return kept


def _load(archive, ctx: Context, ids: dict[str, set], role: str, stack: contextlib.ExitStack, *,
          spent: bool = True):
    """Everything the gate reads from the store for one call: record refs, case facts, publications,
    convictions, person ids, analysts' identities (what ``ctx`` does not give) -- one query per table
    for all the call's records, over one read connection."""
    conn = None

    def c():
        nonlocal conn
        if conn is None:
            conn = stack.enter_context(sg.reading(archive))
        return conn

    from ..store import governance as sg

    refs: dict[tuple, dict] = {}
    if archive is not None and ids["lookup"]:
        by_ent: dict[str, list[int]] = {}
        for e, i in ids["lookup"]:
            by_ent.setdefault(e, []).append(i)
        for e, lst in by_ent.items():
            for i, m in sg.record_refs(archive, e, lst, conn=c()).items():
                refs[(e, i)] = m
                if m.get("case_id") is not None:
                    ids["case"].add(m["case_id"])
                elif (hid := i if e == "hearing" else m.get("hearing_id")) is not None:
                    ids["hearing"].add(hid)
                if m.get("publication_id") is not None:
                    ids["publication"].add(m["publication_id"])
    # (the generation is read before the facts: what is kept under it is at least that new)
    kept = _kept(archive, c()) if archive is not None and (ids["case"] or ids["hearing"]) else None
    if ctx.facts is not None:
        facts = {cid: (f if isinstance(f, R.CaseFacts) else _facts_from(f, cid)) for cid, f in ctx.facts.items()}
    else:
        facts = kept.get(ids["case"]) if kept is not None else {}
        if archive is not None and (want := ids["case"] - facts.keys()):
            read = {cid: _facts_from(d, cid) for cid, d in sg.case_facts(archive, want, conn=c()).items()}
            if kept is not None:
                kept.put(read)
            facts.update(read)
    # hearings of no case: their own facts (also when the cases' facts were given)
    want_h = {h for h in ids["hearing"] if _caseless(h) not in facts}
    if kept is not None and want_h:
        got = kept.get(_caseless(h) for h in want_h)
        facts.update(got)
        want_h = {h for h in want_h if _caseless(h) not in got}
    if archive is not None and want_h:
        read = {_caseless(hid): _facts_from(d, _caseless(hid))
                for hid, d in sg.hearing_facts(archive, want_h, conn=c()).items()}
        if kept is not None:
            kept.put(read)
        facts.update(read)
    # (given ones are completed: a later call over the same cases may show a list they do not hold)
    pubs = dict(ctx.publications or {})
    if archive is not None and (want := ids["publication"] - pubs.keys()):
        pubs.update(sg.publication_info(archive, want, conn=c()))
    party_ids = ids["party"] | {p["id"] for f in facts.values() for p in f.parties}
    convs = ctx.convictions
    if convs is None:
        convs = {}
        if archive is not None and party_ids and spent:     # (read only when spent ones are hidden)
            convs = sg.convictions_of(archive, party_ids, conn=c())
    persons = ctx.persons
    if persons is None:
        persons = {}
        if archive is not None and party_ids:
            persons = sg.persons_of(archive, party_ids, conn=c())
    idents = ctx.identities
    if idents is None:
        idents = {}
        if archive is not None and role == "analyst" and ids["party"]:
            idents = sg.party_identities(archive, ids["party"], conn=c())
    return facts, refs, pubs, convs, persons, idents, kept


class _CaseView:
    """What the restrictions in force for one case mean for each of its records, worked out once
    per case and call (a day list or a search page shows dozens of records of one case).  ``acts``
    are the restrictions with a field effect: active proceedings (``cca_active``, in force for
    almost every case) act on the output as a whole (the contempt flag above), never on a
    record's fields, so a case with nothing else takes `disclose`'s plain policy path."""

    __slots__ = ("acts", "rules", "withhold_case", "protected", "s11_all", "s11_party", "wording_rules", "rel",
                 "rel_offences", "summary")

    def __init__(self, active: list[R.Active]):
        acts = self.acts = [a for a in active if a.rule != "cca_active"]
        self.rules = tuple(sorted({a.rule for a in acts}))
        self.withhold_case = any("withhold_case" in a.effects for a in acts)
        self.protected = frozenset().union(*[a.party_ids for a in acts if "identity" in a.effects])
        self.s11_all = any(a.rule == "cca_s11" and not a.party_ids for a in acts)
        self.s11_party = frozenset().union(*[a.party_ids for a in acts if a.rule == "cca_s11"])
        self.wording_rules = [a for a in acts if "wording" in a.effects]
        self.rel = [a for a in acts if "relationship" in a.effects]
        self.rel_offences = frozenset().union(*[a.offence_ids for a in self.rel])
        self.summary = "; ".join(a.summary() for a in acts) or None


# --------------------------------------------------------------------------- the gate
def disclose(records: Iterable[dict], viewer: pol.Viewer, *, purpose: str, context=None) -> Disclosure:
    ctx = Context.of(context)
    now = ctx.now or dt.datetime.now()
    today = now.date()
    role = viewer.effective_role(now)
    records = [r for r in records]
    archive = ctx.archive
    prof = ctx.profile
    if prof is None:
        from .profile import load

        prof = load()
    shareable = ctx.shareable if ctx.shareable is not None else (ctx.output in SHAREABLE_OUTPUTS or role == "public")
    res = Disclosure([], role=role)
    if role != viewer.role:
        res.flags.append({"flag": "verification_invalid", "detail": f"{viewer.role} without a valid verification "
                          f"(press card checked within {pol.VERIFICATION_DAYS} days): treated as public"})

    # ---- facts --------------------------------------------------------------
    flat = list(_walk(records))
    ids = _ids(flat)
    spent_roles = set(prof.get("disclosure", "spent_hidden_from_roles", ["public"]))
    spent_outputs = set(prof.get("disclosure", "spent_hidden_from_outputs", []))
    hide_spent = role in spent_roles or ctx.output in spent_outputs
    with contextlib.ExitStack() as stack:
        facts, refs, pubs, convs, persons, idents, kept = _load(archive, ctx, ids, role, stack, spent=hide_spent)
    res.inputs = {"facts": facts, "persons": persons, "convictions": convs if hide_spent else None}
    active: dict[int, list[R.Active]] = {cid: kept.evaluate(cid, f, today) if kept is not None else R.evaluate(f, today)
                                         for cid, f in facts.items()}
    case_sens: dict[int, str] = {}
    for cid, f in facts.items():
        ss = [(h.get("sensitivity") or pubs.get(h.get("publication_id"), {}).get("sensitivity") or "CLASSIFIED").upper()
              for h in f.hearings]
        case_sens[cid] = min(ss, key=lambda s: _SENS_ORDER.get(s, 2)) if ss else "CLASSIFIED"

    def ref(r: dict, key: str):
        if r.get(key) is not None:
            return r[key]
        e = r.get("_entity")
        if e == key.removesuffix("_id") and r.get("id") is not None:
            return r["id"]
        return refs.get((e, r.get("id")), {}).get(key)

    spent_parties = {pid for pid, cs in convs.items()
                     if cs and all(c.get("never_spent") is not True and c.get("spent_on") is not None
                                   and c["spent_on"] <= today for c in cs)} if hide_spent else set()

    # ---- contempt risk: a defendant's other cases linked while one is active ---
    # (a matter is a case, or a hearing of no case under its facts' key -- an SJP public list's
    # entry, a register row without a number: as much another matter beside an active case)
    party_role = {p["id"]: (p.get("role") or "").upper() for f in facts.values() for p in f.parties}
    party_case = {p["id"]: key for key, f in facts.items() for p in f.parties}
    order: list = []            # party records' ids (in walk order), then party_id references
    party_refs: list = []
    for r in flat:
        if r.get("_entity") == "party" and r.get("id") is not None:
            party_role.setdefault(r["id"], (r.get("role") or "").upper())
            party_case.setdefault(r["id"], ref(r, "case_id"))
            order.append(r["id"])
        if r.get("party_id") is not None:
            party_refs.append(r["party_id"])
    order += party_refs
    out_cases: dict[int, list] = {}
    for pid in dict.fromkeys(order):
        person = persons.get(pid)
        cid = party_case.get(pid)
        if person is not None and cid is not None and party_role.get(pid) == "DEFENDANT":
            lst = out_cases.setdefault(person, [])
            if cid not in lst:
                lst.append(cid)

    def days(key) -> set:
        return {h.get("sitting_date") for h in facts[key].hearings} if key in facts else set()

    for person, keys in out_cases.items():
        # a hearing of no case on a day one of the person's cases sits is that case's own listing
        # (an SJP public list's entry beside the press list's, which has the case): one matter
        case_days = [days(k) for k in keys if not _is_caseless(k)]
        same = {k for k in keys if _is_caseless(k) and any(days(k) & d for d in case_days)}
        if same:
            out_cases[person] = [k for k in keys if k not in same]
    drop_cases_for: dict[int, object] = {}  # person -> the one matter a shareable output keeps
    for person, cases in out_cases.items():
        if len(cases) < 2:
            continue
        live = [c for c in cases if any(a.rule == "cca_active" for a in active.get(c, []))]
        if not live:
            continue
        flag = {"flag": "contempt_risk", "rule": "cca_active", "law": R.RULES["cca_active"].law,
                "cases": sorted(c for c in cases if not _is_caseless(c)),
                "active_cases": sorted(c for c in live if not _is_caseless(c)),
                "action": "other cases withheld (shareable output)" if shareable else "review before sharing"}
        if any(_is_caseless(c) for c in cases):
            flag["hearings_of_no_case"] = sorted(c[1] for c in cases if _is_caseless(c))
            flag["active_hearings_of_no_case"] = sorted(c[1] for c in live if _is_caseless(c))
        res.flags.append(flag)
        if shareable:
            # keep the subject case (default: the first active case in the output, a case before
            # a hearing of no case)
            keep = ctx.subject_case_id if ctx.subject_case_id in cases else \
                next((c for c in live if not _is_caseless(c)), live[0])
            drop_cases_for[person] = keep
    other_cases: set = set()               # shown nowhere beside the active case in a shareable output
    for person, keep in drop_cases_for.items():
        other_cases |= {c for c in out_cases[person] if c != keep}
    other_cases -= set(drop_cases_for.values())

    # ---- restriction flags (once per case): added below, for the cases the output shows --------
    flags_at = len(res.flags)
    shown_cases: set[int] = set()

    # ---- records -------------------------------------------------------------
    def withhold(reason: str) -> None:
        res.withheld[reason] = res.withheld.get(reason, 0) + 1

    agg_cells: list[dict] = []
    emitted: list[dict] = []                      # every record output, nested ones included
    plans: dict[tuple, list[tuple[str, str, str, bool]]] = {}   # (entity, *keys) -> [(key, class, action, detail?)]

    views: dict = {}                              # case id -> _CaseView (one per case, not per record)

    def one(r: dict, parent_case: int | None) -> dict | None:
        e = _entity(r)
        cid = ref(r, "case_id") if e != "case" else r.get("id")
        cid = cid if cid is not None else parent_case
        if cid is None and e in ("hearing", "party", "offence", "complainant"):
            hid = r.get("id") if e == "hearing" else ref(r, "hearing_id")
            if hid is not None and _caseless(hid) in active:
                cid = _caseless(hid)
        cv = views.get(cid)
        if cv is None:
            cv = views[cid] = _CaseView(active.get(cid, []) if cid is not None else [])
        acts = cv.acts
        if e == "aggregate":
            agg = _aggregate(r, res, agg_cells, prof)
            emitted.append(agg)
            return agg
        # 1. publication sensitivity
        pid_pub = ref(r, "publication_id")
        sens = (r.get("sensitivity") if e in ("publication",) or "sensitivity" in r else None) or \
            pubs.get(pid_pub, {}).get("sensitivity") or (case_sens.get(cid) if cid is not None else None)
        if e not in ("court",) and not pol.may_see_publication(role, sens):
            withhold("publication_sensitivity")
            return None
        # 2. s.4(2): withhold every output of the case
        if cv.withhold_case:
            withhold("cca_s4_2")
            return None
        if e == "complainant" and role not in ("analyst", "admin"):
            withhold("complainant")
            return None
        party_id = r.get("id") if e == "party" else r.get("party_id")
        if party_id in spent_parties:
            withhold("spent_conviction")
            return None
        if cid in other_cases:
            withhold("contempt_other_case")
            return None

        out: dict = {"_entity": e}
        redacted: list[str] = []
        protected, s11_all, wording_rules, rel = cv.protected, cv.s11_all, cv.wording_rules, cv.rel
        is_protected = e == "party" and (r.get("id") in protected or r.get("id") in cv.s11_party)
        ident = idents.get(r.get("id")) if e == "party" else None
        token = None
        coarse = None

        def apply(k: str, v, act: str) -> None:
            """Put key ``k`` (value ``v``) into ``out`` as action ``act`` says."""
            nonlocal token, coarse
            if act in ("drop", "withheld"):
                out[k] = None
                if v is not None:
                    redacted.append(k)
            elif act == "pseudonymise":
                if v is None:
                    out[k] = None           # nothing to pseudonymise (an organisation's surname)
                elif e == "party" or k == "name":
                    if token is None:
                        # the token expiry writes into the names (`retention._token_of`): between
                        # the stages, the coarse row's, made with the date of birth now deleted --
                        # under whichever key made it, as every stored token is shown
                        from .retention import _token_of

                        token = _token_of(ctx.keyring if ctx.keyring is not None else _UNKEYED, dict(ident or r))[0]
                    out[k] = (TOKEN_PREFIX + token) if (token and k in _NAME_FIELDS) else None
                else:
                    out[k] = None
                if v is not None:
                    redacted.append(k)
            elif act == "coarse":
                if coarse is None:
                    src = dict(ident or r)
                    if src.get("age_band") or src.get("outward_postcode"):
                        coarse = {k2: src.get(k2) for k2 in ("age_band", "outward_postcode", "police_force_area")}
                    else:
                        coarse = coarse_party(src, on=src.get("sitting_date") or today, court_pfa=src.get("court_pfa"))
                out[k] = None
                if v is not None:
                    redacted.append(k)
            else:
                out[k] = v

        # the role x field policy is a pure function of (entity, key) for this role and purpose:
        # one plan per record shape (records of one entity come from one SELECT: the same keys)
        plan = plans.get((e, *r))
        if plan is None:
            plan = plans[(e, *r)] = []
            for k in r:
                k = str(k)      # plain str keys (SQLAlchemy row keys may be str subclasses)
                if not k.startswith("_"):
                    c0 = pol.field_class(e, k)
                    # a name or personal field that holds a keyed token (an expired or erased
                    # mention) is a pseudonym, shown as the role sees pseudonyms
                    tok = pol.action_for(role, "pseudonym", purpose) if c0 in ("identity", "personal") else None
                    plan.append((k, c0, pol.action_for(role, c0, purpose), k == _DETAIL.get(e), tok))
        if not acts:
            # no restriction in force for the record's case (almost every record): the policy alone
            for k, cls, act, detail, tok in plan:
                v = r[k]
                if tok is not None and v.__class__ is str and v.startswith(TOKEN_PREFIX):
                    act = tok if tok != "show" or act == "show" else act
                if isinstance(v, list) and v and isinstance(v[0], dict):
                    out[k] = [x for x in (one(c, cid) for c in v) if x is not None]
                elif detail and v:
                    out[k] = None           # (the restriction detail is the rules' own summary: none)
                    redacted.append(k)
                elif act == "show":
                    out[k] = v
                else:
                    apply(k, v, act)
        else:
            for k, cls, act, detail, tok in plan:
                v = r[k]
                if tok is not None and v.__class__ is str and v.startswith(TOKEN_PREFIX):
                    act = tok if tok != "show" or act == "show" else act
                if isinstance(v, list) and v and isinstance(v[0], dict):
                    out[k] = [x for x in (one(c, cid) for c in v) if x is not None]
                    continue
                # restriction effects (every role)
                if cls in ("identity", "personal") and (is_protected or (e == "hearing" and k == "case_name" and protected)):
                    act = "withheld"
                if cls == "personal" and s11_all:
                    act = "withheld"
                if k == "case_name" and (s11_all or wording_rules or rel):
                    act = "withheld"
                if e == "offence" and k == "wording" and wording_rules:
                    scoped = [a for a in wording_rules if not a.offence_ids or r.get("id") in a.offence_ids]
                    if scoped or any(a.rule not in ("soaa1992", "fgm2003", "editors_code_cl7") for a in wording_rules):
                        act = "withheld"
                if k in _FREE_TEXT.get(e, ()) and wording_rules:
                    act = "withheld"
                if detail and v:
                    out[k] = cv.summary
                    if out[k] != v:
                        redacted.append(k)
                    continue
                apply(k, v, act)
        if coarse is not None:
            out.update(coarse)
        # relationship words (Editors' Code cl.7): generic offence, scrubbed text, every role
        if rel:
            if e == "offence" and (r.get("id") in cv.rel_offences or not cv.rel_offences):
                for k2, val in (("title", R.GENERIC_CHILD_SEXUAL_TITLE), ("code", None), ("legislation", None)):
                    if k2 in out and out[k2] != val:
                        out[k2] = val
                        redacted.append(k2)
            for k2 in _TEXT_FIELDS:
                if isinstance(out.get(k2), str):
                    s = R.scrub_relationship(out[k2])
                    if s != out[k2]:
                        out[k2] = s
                        redacted.append(k2)
        out["_redacted"] = sorted(set(redacted))
        out["_restrictions"] = list(cv.rules)
        emitted.append(out)
        if cid is not None:
            shown_cases.add(cid)
        return out

    for r in records:
        o = one(r, None)
        if o is not None:
            res.records.append(o)
    _secondary_suppression(agg_cells)
    # a case the output does not show gets no flag either: "case 598 is under a s.4(2) order" on a
    # defendant's page, or "youth, sexual offence" beside a case withheld for its list's
    # sensitivity, says what withholding it keeps back -- except the one case asked for, withheld
    # whole by a s.4(2) order: that is why it is not shown
    restriction_flags = []
    for cid in sorted(active, key=lambda k: (_is_caseless(k), k[1] if _is_caseless(k) else k)):
        whole = cid not in shown_cases and cid == ctx.subject_case_id
        if cid not in shown_cases and not whole:
            continue
        where = {"case_id": None, "hearing_id": cid[1]} if isinstance(cid, tuple) else {"case_id": cid}
        for a in active[cid]:
            if a.rule == "cca_active" or (whole and "withhold_case" not in a.effects):
                continue
            restriction_flags.append({"flag": "restriction", "rule": a.rule, "law": a.law, **where,
                                      "until": a.shown_until.isoformat() if a.shown_until else None,
                                      "summary": a.summary(), **({"note": a.note} if a.note else {})})
    res.flags[flags_at:flags_at] = restriction_flags
    if spent_parties and res.withheld.get("spent_conviction"):
        res.flags.append({"flag": "spent_hidden", "rule": "roa_spent", "law": R.RULES["roa_spent"].law,
                          "count": res.withheld["spent_conviction"]})

    # ---- audit ---------------------------------------------------------------
    if ctx.audit:
        objects: dict[str, list[int]] = {}
        n_redacted = 0
        for r in emitted:               # (every record `one` returned is in the output)
            if r["_entity"] != "aggregate" and r.get("id") is not None:
                objects.setdefault(r["_entity"], []).append(r["id"])
            n_redacted += len(r["_redacted"])
        details = {"records": len(res.records), "withheld": res.withheld, "account_role": viewer.role,
                   "output": ctx.output, "flags": sorted({f["flag"] + ":" + f.get("rule", "") for f in res.flags}),
                   "redacted_fields": n_redacted}
        if archive is not None:
            from .audit import record

            res.audit_seq = record(archive, actor=viewer.username, role=role, action=ctx.output, purpose=purpose,
                                   objects=objects, details=details)
        elif ctx.audit_sink is not None:
            from .audit import objects_ref

            ctx.audit_sink.append({"actor": viewer.username, "role": role, "action": ctx.output,
                                   "purpose": purpose, "object": objects_ref(objects), "details": details})
        else:
            raise GovernanceError("disclose needs an archive (or an audit_sink) to write the audit event")
    return res


def _aggregate(r: dict, res: Disclosure, cells: list[dict], prof) -> dict:
    """Complainant aggregates: counts only, small cells suppressed, no identifying drill-down."""
    out = {"_entity": "aggregate", "_redacted": [], "_restrictions": []}
    about_complainants = (r.get("subject") or "") in ("complainant", "complainants", "victim", "victims")
    threshold = int(prof.get("disclosure", "small_cell_threshold", 5))
    for k, v in r.items():
        if k.startswith("_"):
            continue
        if about_complainants and k not in _AGG_KEYS and k not in ALLOWED_COMPLAINANT_DIMS:
            out["_redacted"].append(k)
            continue
        if k == "dims" and about_complainants and isinstance(v, dict):
            bad = [d for d in v if d not in ALLOWED_COMPLAINANT_DIMS]
            out["dims"] = {d: x for d, x in v.items() if d not in bad}
            out["_redacted"] += [f"dims.{d}" for d in bad]
            continue
        out[k] = v
    if about_complainants:
        out["_restrictions"] = ["small_cells"]
        c = r.get("count")
        if c is not None and 0 < c < threshold:
            out["count"] = None
            out["suppressed"] = f"<{threshold}"
            out["_redacted"].append("count")
            res.flags.append({"flag": "small_cell", "rule": "small_cells", "law": R.RULES["small_cells"].law,
                              "threshold": threshold})
        cells.append(out)
        if out["_redacted"] and any(x != "count" for x in out["_redacted"]):
            res.flags.append({"flag": "drill_down_refused", "rule": "small_cells",
                              "law": R.RULES["small_cells"].law, "fields": sorted(out["_redacted"])})
    return out


def _secondary_suppression(cells: list[dict]) -> None:
    """If exactly one cell of a complainant table is suppressed, totals would reveal it: suppress the
    next smallest cell too."""
    supp = [c for c in cells if c.get("suppressed")]
    if len(supp) != 1:
        return
    others = sorted((c for c in cells if not c.get("suppressed") and c.get("count") is not None),
                    key=lambda c: c["count"])
    if others:
        o = others[0]
        o["count"], o["suppressed"] = None, "secondary"
        o["_redacted"].append("count")
