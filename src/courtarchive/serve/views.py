"""The data layer the pages and the JSON API share.

Every function reads the store (``store.serve`` and the governance/linkage read functions) and
returns what ``governance.disclose`` released for the viewer: records, the gate's flags
(restrictions with their statutory basis, contempt risk, verification state) and what was
withheld.  Nothing here decides who sees which field: the role x field policy, the restriction
rules, publication sensitivity, spent convictions and the audit event are the gate's.  The few
permission questions the web layer must ask before it even searches (may this role search by
name? may it receive an export?) are asked of governance too (`policy.action_for`,
`distribution.check_receiver`).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import importlib
import io
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..governance import policy as pol
from ..governance.gate import Disclosure, disclose, identity_withheld
from ..governance.policy import Viewer
from ..store import serve as ss

#: the purpose each role's accesses are made for (declared with the roles: governance.policy)
PURPOSE = pol.DEFAULT_PURPOSE


class NotFound(LookupError):
    pass


class Forbidden(PermissionError):
    pass


class Unavailable(RuntimeError):
    """A part the portal needs is not installed or not configured (e.g. alerts, pseudonym key)."""


@dataclass
class Portal:
    """What the views need: the archive, the pseudonym keyring (analysts' tokens, watermarks), the
    licence profile, the working folder (exports cache) and where analysis reports are."""

    archive: Any
    keyring: Any = None
    profile: Any = None
    home: Path = Path("courtarchive-data")
    reports_dir: Path | None = None
    #: SQLite: one at a time for the portal's multi-statement writes (accounts, subscriptions, exports,
    #: admin actions); not taken around disclosure (see `_gate`)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def writing(self):
        """Serialise the portal's own write actions (SQLite; PostgreSQL: a no-op): across this
        process's threads and, with `courtarchive serve --workers N`, across the worker processes
        (an exclusive `flock` on ``<database>.portal-lock`` next to the archive file).  Audit
        appends do not need it (writer transactions queue at the database)."""
        if not self.archive.sqlite:
            return contextlib.nullcontext()
        return _process_lock(self.lock, self.archive.engine.url.database)

    def __post_init__(self):
        if self.profile is None:
            from ..governance.profile import load

            self.profile = load(home=self.home)


@contextlib.contextmanager
def _process_lock(lock: threading.Lock, database: str | None):
    """The thread lock, then (a file database) an exclusive advisory lock on a file beside it, so
    that every process serving the same archive takes its turn."""
    with lock:
        if not database or database == ":memory:" or database.startswith("file:"):
            yield
            return
        import fcntl

        with open(f"{database}.portal-lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def purpose_for(viewer: Viewer) -> str:
    return PURPOSE.get(viewer.role, "public_interest")


def _gate(p: Portal, records: list[dict], viewer: Viewer, *, output: str, **ctx) -> Disclosure:
    # not under `Portal.writing`: the gate only reads, and its one write (the audit event) is a
    # writer transaction of its own (SQLite: BEGIN IMMEDIATE), so concurrent requests queue at the
    # database for that append only instead of running the whole disclosure one at a time
    context = {"archive": p.archive, "keyring": p.keyring, "profile": p.profile, "output": output, **ctx}
    return disclose(records, viewer, purpose=purpose_for(viewer), context=context)


def _withheld_names(p: Portal, viewer: Viewer, output: str, probes: list | None = None):
    """For `search.search_names(hide=...)`: every mention a name search matched goes through the
    gate first (bare party records, not audited: nothing of them is shown), and those whose name
    the gate withholds from this viewer -- a youth, an anonymity order, a spent conviction, a case
    withheld whole -- are left out of the hits, the total, the facets and the pages.  A hit on such
    a name, or a count of them ("1 hit withheld" with a court and a week as filters), would say
    "the name you typed is a defendant at court X that week" as surely as the name itself."""
    def hide(pairs: list[tuple[int, int]]) -> set[int]:
        # (no publication: the case's facts give its sensitivity -- and every role that may search
        # names sees lists of every sensitivity; the page's own disclosure has the last word)
        # (a mention of no case gives no case id: the gate looks its hearing up, whose facts it reads)
        probe = [{"_entity": "party", "id": pid, **({"case_id": cid} if cid is not None else {}),
                  "publication_id": None, "surname": "-"} for pid, cid in pairs]
        d = _gate(p, probe, viewer, output=output, audit=False)
        if probes is not None:
            probes.append(d)
        seen = {r["id"] for r in d.records if not identity_withheld(r)}
        return {pid for pid, _cid in pairs if pid not in seen}
    return hide


def _withheld_cases(p: Portal, viewer: Viewer, output: str):
    """For `search.search_cases(hide=...)`: every case a case search matched goes through the gate
    first (bare case records, not audited: nothing of them is shown), and those the gate withholds
    whole from this viewer -- a list its role may not see, a s.4(2) order -- are left out of the
    hits, the total and the pages.  A count of them ("1 result" for a URN, or for a court and a day
    as filters, with nothing shown) would say that such a case exists."""
    def hide(case_ids: list[int]) -> set[int]:
        # (the gate reads each case's facts -- its hearings' lists, the orders in force -- once, in bulk)
        d = _gate(p, [{"_entity": "case", "id": cid} for cid in case_ids], viewer, output=output, audit=False)
        return set(case_ids) - {r["id"] for r in d.records}
    return hide


def _seen_hearings(p: Portal, viewer: Viewer, output: str, **ctx):
    """For `search.search_cases(seen=...)`: `_withheld_cases`, hearing by hearing.  Each matching
    case goes through the gate with its matching current hearings (bare records, not audited:
    nothing of them is shown); the gate withholds a case whole as `_withheld_cases` says, and of
    the others the hearings on lists this viewer may not see.  A hit then shows, counts and is
    ordered by the hearings left: its latest listing on a CLASSIFIED list showed the public a hit
    with no court or date, counted in its hearings and ordered by that listing's date.  ``ctx``:
    more of the gate's context (a saved search's run: its time, `serve.alerts`)."""
    def seen(by_case: dict[int, list[tuple]]) -> dict[int, list[int]]:
        probe = [{"_entity": "case", "id": cid,
                  "hearings": [{"_entity": "hearing", "id": hid, "case_id": cid, "publication_id": pub}
                               for hid, _day, _court, pub in hs]} for cid, hs in by_case.items()]
        d = _gate(p, probe, viewer, output=output, audit=False, **ctx)
        return {c["id"]: [h["id"] for h in c.get("hearings") or []] for c in d.records}
    return seen


def _result(d: Disclosure, **extra) -> dict:
    return {"records": d.records, "flags": d.flags, "withheld": d.withheld, "role": d.role, **extra}


# --------------------------------------------------------------------------- permissions (asked of governance)
def may_search_names(viewer: Viewer) -> bool:
    """Searching by a person's name is itself use of identity: allowed only to roles the policy
    shows identity to, for their purpose (public: identity is dropped; analysts: pseudonyms only)."""
    return pol.sees_identity(viewer)


def may_receive(viewer: Viewer) -> bool:
    from ..governance.distribution import DistributionError, check_receiver

    try:
        check_receiver(viewer)
        return True
    except DistributionError:
        return False


def display_name(party: dict) -> str:
    """A disclosed party's name as shown (from the fields the gate released)."""
    if not party:
        return ""
    name = " ".join(x for x in (party.get("forenames"), party.get("middle_names"), party.get("surname")) if x)
    return name or party.get("organisation_name") or party.get("name_as_listed") or ""


def restrictions(flags: list[dict]) -> list[dict]:
    """The page's reporting-restriction flags, each restriction once: the gate flags every restricted
    case of a page (a day list, a digest, the notifications), and the page-wide box names the law."""
    seen, out = set(), []
    for f in flags:
        if f.get("flag") != "restriction":
            continue
        key = (f.get("law"), f.get("summary"), str(f.get("until")), f.get("note"))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


# --------------------------------------------------------------------------- search
def _search_module():
    try:
        return importlib.import_module("courtarchive.serve.search")
    except ModuleNotFoundError as e:
        if e.name == "courtarchive.serve.search":
            raise Unavailable("the search index is not installed (courtarchive.serve.search)") from e
        raise


_URN = re.compile(r"^\s*\d{2}[A-Z]{2}\d{5,9}\s*$", re.I)


def search(p: Portal, viewer: Viewer, q: str, *, mode: str = "auto", court_id: int | None = None,
           date_from: dt.date | None = None, date_to: dt.date | None = None, offence_group: str | None = None,
           role: str | None = None, limit: int = 20, offset: int = 0, output: str = "search",
           exhaustive: bool = False) -> dict:
    """Search names (fuzzy; roles that may see identity) or cases (URN, case number, offence words).
    ``mode``: name | case | auto (a URN-looking query or a viewer who may not search names: cases).
    ``exhaustive``: run the typo passes even when close matches exist."""
    q = (q or "").strip()
    limit = max(1, min(int(limit), 100))
    offset = max(0, int(offset))
    if mode not in ("auto", "name", "case"):
        raise ValueError("mode must be name, case or auto")
    if mode == "auto":
        mode = "case" if (not q or _URN.match(q) or not may_search_names(viewer)) else "name"
    if mode == "name" and not may_search_names(viewer):
        raise Forbidden(f"searching by name needs a verified media account (role {viewer.effective_role()} "
                        "does not see identities): search by URN, court, offence or date instead")
    facets = dict(court_id=court_id, date_from=date_from, date_to=date_to, offence_group=offence_group)
    sm = _search_module()
    if mode == "name":
        if not q:
            raise ValueError("enter a name to search for")
        probes: list = []
        res = sm.search_names(p.archive, q, role=role, limit=limit, offset=offset, exhaustive=exhaustive,
                              hide=_withheld_names(p, viewer, output, probes), **facets)
        hits = res.get("hits", [])
        # (a name listed only on an SJP public list -- a hearing of no case -- is a hit of its own)
        trees = ss.cases_for_parties(p.archive, [h["party_id"] for h in hits])
        # (the probe read these cases' facts already: the page's disclosure takes them from it)
        known = probes[0].cases_context(h["case_id"] for h in hits if h["case_id"] is not None) if probes else None
        d = _gate(p, trees, viewer, output=output, **(known or {}))
        by_party: dict[int, dict] = {}
        for c in d.records:
            for h in (c.get("hearings", []) if c["_entity"] == "case" else [c]):
                for pa in h.get("parties", []):
                    by_party[pa["id"]] = {"case": c if c["_entity"] == "case" else None, "hearing": h, "party": pa}
        out = []
        for h in hits:
            got = by_party.get(h["party_id"])
            if got is None or identity_withheld(got["party"]):
                # (the probe above left such mentions out already; the page's own disclosure has the
                # last word all the same)
                continue
            out.append({"score": h.get("score"), "matched_on": h.get("matched_on"), "person_id": h.get("person_id"),
                        "mentions": h.get("mentions"), **got})
        return _result(d, mode="name", q=q, hits=out, total=max(len(out), res.get("total", len(out))),
                       total_exact=res.get("total_exact", True), facets=res.get("facets", {}), limit=limit,
                       offset=offset)
    # (each hit as this viewer may see it: its latest hearing the gate shows it, counted and ordered so)
    res = sm.search_cases(p.archive, q, court_id=court_id, date_from=date_from, date_to=date_to,
                          offence_group=offence_group, limit=limit, offset=offset,
                          seen=_seen_hearings(p, viewer, output))
    # (the engine's hits alone: a whole URN or case number finds its case first there, with the
    # filters.  A case looked up by `find_case` and put on top -- as it once was -- ignored the court,
    # dates and offence group asked for, and took a bare number for an internal case id: "12" found
    # case #12, whose URN has no 12 in it.  A case id is read only where a route names a case.)
    ids = [h["case_id"] for h in res.get("hits", [])]
    d = _gate(p, ss.cases_brief(p.archive, ids, hearings={h["case_id"]: h.get("hearing_id") for h in res["hits"]}),
              viewer, output=output)
    by_case = {c["id"]: c for c in d.records}
    scores = {h["case_id"]: h for h in res.get("hits", [])}
    out = [{"score": scores.get(i, {}).get("score"), "matched_on": scores.get(i, {}).get("matched_on", "urn"),
            "hearings": scores.get(i, {}).get("hearings"),
            "case": by_case[i], "hearing": (by_case[i].get("hearings") or [None])[0], "party": None}
           for i in ids if i in by_case]
    total = max(res.get("total", 0), len(out))
    return _result(d, mode="case", q=q, hits=out, total=total, total_exact=res.get("total_exact", True),
                   facets=res.get("facets", {}), limit=limit, offset=offset)


# --------------------------------------------------------------------------- cases, lists, courts
class Ambiguous(ValueError):
    """A case number several cases have (each Crown Court numbers its own): which one is meant?"""


def case_path(case: dict | None = None, *, urn: str | None = None, case_id: int | None = None) -> str:
    """The link to a case: /cases/URN, else /cases/id:N -- never its case number, which several
    cases may share, nor its bare id, which the route reads as a case number first (CaTH case
    numbers are often bare digits: /cases/12 could open another case)."""
    from urllib.parse import quote

    if case is not None:
        urn, case_id = urn or case.get("urn"), case_id if case_id is not None else case.get("id")
    return "/cases/" + quote(str(urn) if urn else f"{ss.CASE_ID_REF}{case_id}", safe=":")


def case_ref_of(case: dict) -> str:
    """What names a case unambiguously wherever a reference is read (the case route, `courtarchive
    case`, alerts): its URN, else ``id:N``."""
    return case.get("urn") or f"{ss.CASE_ID_REF}{case['id']}"


def the_case(p: Portal, viewer: Viewer, ref: str, *, output: str) -> int | None:
    """The case ``ref`` names (``id:N``, URN, case number, or on a case route its id), or None.  A
    case number several cases share named the lowest id of them, silently; now the one of them the
    viewer may see, else `Ambiguous`, naming the URNs (``id:N`` for a case with none) of those it
    may see (never a case withheld from it)."""
    ids = ss.find_cases(p.archive, ref)
    if len(ids) <= 1:
        return ids[0] if ids else None
    hidden = _withheld_cases(p, viewer, output)(ids)
    seen = [i for i in ids if i not in hidden]
    if len(seen) <= 1:
        return seen[0] if seen else ids[0]       # (none seen: the gate withholds the one shown)
    refs = [case_ref_of(c) for c in ss.cases_brief(p.archive, seen)]
    raise Ambiguous(f"case number {ref.strip()!r} is that of {len(refs)} cases: {', '.join(refs)} -- "
                    "give the URN" + (" (id:N for a case with none)" if any(r.startswith(ss.CASE_ID_REF) for r in refs)
                                      else ""))


def case(p: Portal, viewer: Viewer, ref: str, *, output: str = "web") -> dict:
    cid = the_case(p, viewer, ref, output=output)
    if cid is None:
        raise NotFound(f"no case {ref!r} in the archive")
    tree = ss.case_tree(p.archive, cid)
    d = _gate(p, [tree], viewer, output=output, subject_case_id=cid)
    return _result(d, case=d.records[0] if d.records else None, case_id=cid)


def courts(p: Portal, viewer: Viewer, *, listed_only: bool = True, output: str = "web") -> dict:
    d = _gate(p, ss.courts(p.archive, listed_only=listed_only), viewer, output=output)
    return _result(d, courts=d.records)


def court_choices(p: Portal, viewer: Viewer) -> list[dict]:
    """The search form's courts to pick by name: ``{id, name}`` of each court with current lists,
    by name, as the gate releases them (not audited: a form's options, no one's record)."""
    d = _gate(p, ss.courts(p.archive, listed_only=True), viewer, output="web", audit=False)
    return [{"id": c["id"], "name": c.get("name") or f"court {c['id']}"} for c in d.records if c.get("id")]


def court(p: Portal, viewer: Viewer, ref: str | int, *, output: str = "web") -> dict:
    c = ss.court(p.archive, ref)
    if c is None:
        raise NotFound(f"no court {ref!r}")
    d = _gate(p, [c], viewer, output=output)
    return _result(d, court=d.records[0] if d.records else None, dates=ss.court_dates(p.archive, c["id"]))


def day_list(p: Portal, viewer: Viewer, court_ref: str | int, day: dt.date, *, output: str = "web") -> dict:
    c = ss.court(p.archive, court_ref)
    if c is None:
        raise NotFound(f"no court {court_ref!r}")
    pubs = ss.day_lists(p.archive, c["id"], day)
    d = _gate(p, [c] + pubs, viewer, output=output)
    crt = next((r for r in d.records if r["_entity"] == "court"), None)
    return _result(d, court=crt, date=day, publications=[r for r in d.records if r["_entity"] == "publication"],
                   listed=len(pubs))


def map_data(p: Portal, viewer: Viewer, *, output: str = "web") -> dict:
    d = _gate(p, ss.courts(p.archive, listed_only=True), viewer, output=output)
    pts = [{"id": c["id"], "name": c.get("name"), "lat": c.get("lat"), "lon": c.get("lon"), "count": c.get("count"),
            "town": c.get("town")} for c in d.records if c.get("lat") is not None and c.get("lon") is not None]
    return _result(d, points=pts)


# --------------------------------------------------------------------------- persons and networks
def person(p: Portal, viewer: Viewer, person_id: int, *, output: str = "person_page") -> dict:
    row = ss.live_person(p.archive, int(person_id))
    if row is None or row.get("kind") != "defendant":
        raise NotFound(f"no person {person_id}")
    pid = row["id"]
    trees = ss.person_cases(p.archive, pid)
    nets = ss.networks_of(p.archive, [pid]).get(pid, [])
    co = ss.codefendants(p.archive, pid)
    linked_ids = set(co)
    if nets:
        comp = ss.network(p.archive, nets[0])
        linked_ids |= set(comp["members"]) if comp else set()
    linked_ids.discard(pid)
    linked_ids = set(sorted(linked_ids)[:200])
    reps = ss.representative_parties(p.archive, sorted(linked_ids))
    d = _gate(p, trees + [reps[x] for x in sorted(reps)], viewer, output=output)
    cases = [r for r in d.records if r["_entity"] == "case"]
    # hearings of no case (an SJP public list's, a register row without a URN or case number): each
    # a hearing record of its own, with the person's mentions in it (``case_id`` null), as name
    # search shows them (``case`` null) -- they are as much the person's appearances as a case's
    caseless = [r for r in d.records if r["_entity"] == "hearing"]
    linked = [r for r in d.records if r["_entity"] == "party"]
    variants: dict[str, int] = {}
    for h in [h for c in cases for h in c.get("hearings", [])] + caseless:
        for pa in h.get("parties", []):
            n = pa.get("name_as_listed") or display_name(pa)
            if n:
                variants[n] = variants.get(n, 0) + 1
    linked_out = [{"person_id": r.get("person_id"), "name": display_name(r), "party": r,
                   "shared_cases": co.get(r.get("person_id"), [])} for r in linked]
    return _result(d, person={"id": pid, "mentions": row.get("mentions"), "networks": nets}, cases=cases,
                   caseless_hearings=caseless,
                   variants=sorted(variants.items(), key=lambda kv: (-kv[1], kv[0])), linked=linked_out)


def networks(p: Portal, viewer: Viewer, *, limit: int = 50, offset: int = 0, output: str = "web") -> dict:
    rows, total = ss.networks(p.archive, limit=limit, offset=offset)
    # ids, kinds and sizes only: complainant counts are not shown (small cells; the gate's
    # aggregate rules would apply), defendants appear on each network's own page
    rows = [{k: r[k] for k in ("id", "kind", "size", "cases")} for r in rows]
    # network rows hold only counts and ids (no personal data); still recorded as a view
    d = _gate(p, [], viewer, output=output)
    return _result(d, networks=rows, total=total, limit=limit, offset=offset)


def network(p: Portal, viewer: Viewer, network_id: int, *, output: str = "web") -> dict:
    net = ss.network(p.archive, int(network_id))
    if net is None or net.get("retired_run_id") is not None:
        raise NotFound(f"no network {network_id}")
    reps = ss.representative_parties(p.archive, net["members"])
    d = _gate(p, [reps[m] for m in net["members"] if m in reps], viewer, output=output)
    shown = {r.get("person_id"): r for r in d.records}
    nodes = []
    for i, m in enumerate(net["members"]):
        r = shown.get(m)
        nodes.append({"n": i + 1, "person_id": m, "name": display_name(r) if r else None, "withheld": r is None})
    index = {m: i for i, m in enumerate(net["members"])}
    edges = [(index[a], index[b], k) for a, b, k in net["edges"] if a in index and b in index]
    return _result(d, network={k: net[k] for k in ("id", "kind", "size", "cases", "parent_id")},
                   nodes=nodes, edges=[{"a": nodes[a]["person_id"], "b": nodes[b]["person_id"], "kind": k}
                                       for a, b, k in edges],
                   communities=net["communities"], svg=network_svg(nodes, edges, net["id"]))


def network_svg(nodes: list[dict], edges: list[tuple[int, int, str]], net_id: int) -> str:
    """The analysis report's network diagram (igraph layout, inline SVG); nodes carry numbers, the
    page's table gives the (disclosed) names."""
    from ..analyse.report import _network_svg

    if not nodes:
        return ""
    size = 260 if len(nodes) <= 12 else 420
    svg = _network_svg({"network": f"network {net_id}", "nodes": [str(n["n"]) for n in nodes], "edges": edges},
                       size=size)
    return svg


# --------------------------------------------------------------------------- reports
def reports(p: Portal, viewer: Viewer) -> list[dict]:
    """Analysis reports (``courtarchive analyse`` output folders holding report.html), newest first.
    Reports are sent only to accounts that may receive data (distribution policy)."""
    if not may_receive(viewer):
        raise Forbidden("analysis reports are for signed-in verified accounts (distribution policy)")
    base = p.reports_dir
    if base is None or not Path(base).exists():
        return []
    base = Path(base)
    found = [f for f in [base / "report.html", *base.glob("*/report.html")] if f.is_file()]
    found.sort(key=lambda f: f.stat().st_mtime, reverse=True)
    # ("label": what a reader sees -- an analysis written into the reports folder itself is "."
    # to `report_file`, its key in the link and the audit, and listed by that folder's own name)
    return [{"name": "." if f.parent == base else f.parent.name, "path": f,
             "label": f.parent.resolve().name,
             "modified": dt.datetime.fromtimestamp(f.stat().st_mtime).replace(microsecond=0)} for f in found]


def report_file(p: Portal, viewer: Viewer, name: str | None = None) -> Path:
    rs = reports(p, viewer)
    if not rs:
        raise NotFound("no analysis report yet: run `courtarchive analyse --out DIR` into the reports folder")
    if name is None:
        hit = rs[0]
    else:
        hit = next((r for r in rs if r["name"] == name), None)
        if hit is None:
            raise NotFound(f"no report {name!r}")
    from ..governance import audit

    with p.writing():
        audit.record(p.archive, actor=viewer.username, role=viewer.effective_role(), action="report",
                     purpose=purpose_for(viewer), details={"report": hit["name"]})
    return hit["path"]


# --------------------------------------------------------------------------- exports
EXPORT_WHAT = ("search", "case", "day")


def _flatten(records: list[dict]) -> list[dict]:
    """Nested disclosed records -> one row per leaf (columns ``entity.field``)."""
    rows: list[dict] = []

    def walk(r: dict, ctx: dict) -> None:
        e = r.get("_entity", "record")
        mine = dict(ctx)
        kids = []
        for k, v in r.items():
            if k in ("_entity", "_watermark"):
                continue
            if isinstance(v, list) and v and isinstance(v[0], dict):
                kids.append(v)
                continue
            if k in ("_redacted", "_restrictions"):
                v = ";".join(v or [])
                k = k[1:]
            if isinstance(v, (dict, list)):
                v = orjson.dumps(v, default=str).decode()
            mine[f"{e}.{k}"] = v
        if not kids:
            rows.append(mine)
            return
        for group in kids:
            for c in group:
                walk(c, mine)

    for r in records:
        walk(r, {})
    return rows


def export_records(p: Portal, viewer: Viewer, what: str, *, q: str | None = None, ref: str | None = None,
                   court_ref: str | None = None, day: dt.date | None = None, mode: str = "auto",
                   court_id: int | None = None, date_from: dt.date | None = None, date_to: dt.date | None = None,
                   offence_group: str | None = None, limit: int = 100) -> list[dict]:
    """The raw (undisclosed) records of an export; `export` sends them through the gate.  A search
    export is the search the page shows -- its query, mode and filters (court, dates, offence group)
    -- up to ``limit`` hits (a filtered page's "Export these results" once exported the query
    everywhere, and a search by filters alone could not be exported)."""
    if what == "case":
        # (as the case page reads its reference: a case number several cases share is asked about)
        cid = the_case(p, viewer, ref or "", output="export")
        if cid is None:
            raise NotFound(f"no case {ref!r}")
        return [ss.case_tree(p.archive, cid)]
    if what == "day":
        c = ss.court(p.archive, court_ref or "")
        if c is None or day is None:
            raise NotFound(f"no court {court_ref!r}" if c is None else "a day export needs a date")
        return ss.day_lists(p.archive, c["id"], day)
    if what == "search":
        q = (q or "").strip()
        if mode not in ("auto", "name", "case"):
            raise ValueError("mode must be name, case or auto")
        if mode == "auto":        # (as `search` reads it)
            mode = "case" if (not q or _URN.match(q) or not may_search_names(viewer)) else "name"
        if mode == "name" and not may_search_names(viewer):
            raise Forbidden("searching by name needs a verified media account")
        facets = dict(court_id=court_id, date_from=date_from, date_to=date_to, offence_group=offence_group)
        sm = _search_module()
        if mode == "name":
            if not q:
                raise ValueError("enter a name to search for")
            res = sm.search_names(p.archive, q, limit=limit, offset=0,
                                  hide=_withheld_names(p, viewer, "export"), **facets)
            hits = {h["party_id"] for h in res.get("hits", [])}
            return _named_in(p, viewer, ss.cases_for_parties(p.archive, sorted(hits)), hits)
        # (as the page's search: the cases the gate withholds whole from this viewer count nowhere, so
        # they cannot fill the export's `limit` in place of cases it may receive)
        res = sm.search_cases(p.archive, q, limit=limit, offset=0, seen=_seen_hearings(p, viewer, "export"),
                              **facets)
        return ss.cases_brief(p.archive, [h["case_id"] for h in res.get("hits", [])],
                              hearings={h["case_id"]: h.get("hearing_id") for h in res["hits"]})
    raise ValueError(f"cannot export {what!r}: one of {', '.join(EXPORT_WHAT)}")


def _parties_of(tree: dict):
    for h in (tree.get("hearings", []) if tree["_entity"] == "case" else [tree]):
        yield from h.get("parties", [])


def _named_in(p: Portal, viewer: Viewer, trees: list[dict], hits: set[int]) -> list[dict]:
    """The records of a name search's export, kept only where the gate shows this viewer the name
    that was searched: a case in the file is "the name you typed is in this case" even with the name
    itself blanked.  The search's probe (`_withheld_names`) leaves such mentions out already; this is
    the page's last word (`search`) for the export, on the records as they will be disclosed."""
    d = _gate(p, trees, viewer, output="export", audit=False)
    shown = {pa["id"] for r in d.records for pa in _parties_of(r) if not identity_withheld(pa)}
    return [t for t in trees if any(pa["id"] in hits and pa["id"] in shown for pa in _parties_of(t))]


def export(p: Portal, viewer: Viewer, what: str, fmt: str, **params) -> dict:
    """A CSV or Parquet export: role-checked, disclosed, watermarked, audited and registered for
    purge by ``governance.distribution.export``; the file served is made from what it wrote."""
    from ..governance.distribution import DistributionError, check_receiver
    from ..governance.distribution import export as gexport

    if fmt not in ("csv", "parquet"):
        raise ValueError("format must be csv or parquet")
    try:
        check_receiver(viewer)
    except DistributionError as e:
        raise Forbidden(str(e)) from e
    if p.keyring is None:
        raise Unavailable("exports are watermarked with the pseudonym key: none is configured")
    records = export_records(p, viewer, what, **params)
    with p.writing():
        res = gexport(p.archive, records, viewer, purpose=purpose_for(viewer), keyring=p.keyring,
                      profile=p.profile, home=p.home, what=what, kind="export")
    lines = Path(res["path"]).read_bytes().splitlines()
    disclosed = [orjson.loads(x) for x in lines[1:]]
    rows = _flatten(disclosed)
    wm = res["watermark"]
    for r in rows:
        r["watermark"] = wm
    name = f"courtarchive-{what}-{res['id']}.{fmt}"
    if fmt == "csv":
        cols = list(dict.fromkeys(k for r in rows for k in r)) or ["watermark"]
        buf = io.StringIO()
        buf.write(f"# {wm}\n")
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        body = buf.getvalue().encode("utf-8")
        media = "text/csv; charset=utf-8"
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = list(dict.fromkeys(k for r in rows for k in r)) or ["watermark"]
        table = pa.table({c: pa.array([None if r.get(c) is None else str(r.get(c)) for r in rows], pa.string())
                          for c in cols})
        table = table.replace_schema_metadata({"courtarchive.watermark": wm, "courtarchive.flags":
                                               orjson.dumps(res["flags"], default=str).decode()})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        body = buf.getvalue()
        media = "application/vnd.apache.parquet"
    return {"body": body, "media_type": media, "filename": name, "export_id": res["id"], "rows": len(rows),
            "watermark": wm, "flags": res["flags"]}


# --------------------------------------------------------------------------- alerts (helper "alerts")
def _alerts():
    try:
        return importlib.import_module("courtarchive.serve.alerts")
    except ModuleNotFoundError as e:
        if e.name == "courtarchive.serve.alerts":
            raise Unavailable("alerts are not installed (courtarchive.serve.alerts)") from e
        raise


def subscriptions(p: Portal, viewer: Viewer) -> list[dict]:
    """The viewer's own active subscriptions (their own input: no data subject's record)."""
    return [s for s in _alerts().list_subscriptions(p.archive, viewer.username) if s.get("active", True)]


def subscribe(p: Portal, viewer: Viewer, *, kind: str, query: str, params: dict | None = None,
              label: str | None = None) -> dict:
    from ..governance.distribution import DistributionError, check_receiver

    if viewer.username == "anonymous":
        raise Forbidden("sign in to subscribe to alerts")
    # following a name, a saved search, a person or a network tells who someone is: identities only
    why = _alerts().identity_refusal(viewer, kind)
    if why:
        raise Forbidden(why)
    try:
        check_receiver(viewer)
        with p.writing():
            return _alerts().subscribe(p.archive, username=viewer.username, kind=kind, query=query, params=params,
                                       label=label)
    except DistributionError as e:
        raise Forbidden(str(e)) from e


def cancel(p: Portal, viewer: Viewer, subscription_id: int) -> bool:
    with p.writing():
        return bool(_alerts().cancel(p.archive, username=viewer.username, subscription_id=int(subscription_id)))


def unsubscribe(p: Portal, token: str) -> bool:
    with p.writing():
        return bool(_alerts().unsubscribe(p.archive, token))


# --------------------------------------------------------------------------- admin (accounts, holds, audit)
_ACCOUNT_COLS = ("id", "username", "email", "role", "organisation", "press_card", "press_card_issuer",
                 "verified_by", "verified_at", "verification_expires", "active", "created_at")


def require_admin(viewer: Viewer) -> None:
    if viewer.effective_role() != "admin":
        raise Forbidden("administration is for admin accounts")


def admin_overview(p: Portal, viewer: Viewer, *, audit_n: int = 50) -> dict:
    """Accounts (no secrets), legal holds and the audit tail -- administration data, not data
    subjects' records; the page view itself is audited."""
    from ..governance import audit, holds
    from ..store import governance as sg

    require_admin(viewer)
    now = dt.datetime.now()
    accs = []
    # the store's rows, not `governance.accounts.listing`: that drops the password hash, and the page
    # says whether one is set (the hash goes no further than this loop)
    for a in sg.list_accounts(p.archive):
        row = {k: a.get(k) for k in _ACCOUNT_COLS}
        row["has_password"] = bool(a.get("password_hash"))
        row["effective_role"] = Viewer.from_account(a).effective_role(now)
        accs.append(row)
    with p.writing():
        audit.record(p.archive, actor=viewer.username, role="admin", action="admin_view", purpose="administration")
    return {"accounts": accs, "holds": holds.listing(p.archive), "audit": sg.audit_events(p.archive, limit=audit_n),
            "roles": list(pol.ROLES)}


def audit_verify(p: Portal, viewer: Viewer) -> dict:
    from ..governance import audit

    require_admin(viewer)
    with p.writing():
        res = audit.verify(p.archive).as_dict()
        audit.record(p.archive, actor=viewer.username, role="admin", action="audit_verify", purpose="audit",
                     details={"ok": res["ok"], "events": res["events"]})
    return res


def esc(s: Any) -> str:
    return html.escape("" if s is None else str(s))
