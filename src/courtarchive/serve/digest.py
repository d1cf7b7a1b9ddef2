"""The daily beat digest (issue 10 §2): a **beat** is an area -- courts, court towns, police force
areas, a radius around a newsroom -- plus offence groups; the digest ranks the day's listed cases
of the beat by newsworthiness and shows each with its reporting restrictions and their statutory
basis, as the viewer's role may see it.

Ranking (declared in data: ``data/newsworthiness.toml`` for the weights, the ``seriousness``
column of ``data/offences.csv`` for offence gravity).  A case listed on the day at a court of the
beat (with an offence of the beat's groups, when it names groups) scores the sum of:

    gravity          seriousness (1-10) of its gravest offence listed that day x ``per_point``
    stage            first appearance / plea / trial / sentence / sent to the Crown Court, from the
                     hearing type as listed and the case's history (first listing in the archive)
    multi_defendant  two or more defendants listed in the case that day
    linked           a defendant (linked person) is in a network of at least ``min_size`` linked
                     defendants (the latest link run), or the list names linked cases
    previous         a defendant was listed in other cases of the archive before the day (cases
                     whose convictions are spent are left out: ROA 1974)
    crown            the case is at the Crown Court (listed on a Crown list, or sent there earlier)

Each component that counts is one reason in the row (``reasons``: component, points, text).

Governance: the ranked cases are read as case records (``store.outputs``) holding only the day's
hearings and pass the disclosure gate for the viewer (``output="digest"``: one audit event);
what the gate withholds is not in the digest, restricted cases carry the gate's restriction flags
(law and summary) in their row.  Mailed digests go through ``governance.distribution.export``
(recipient checks, export record, watermark) like alert digests, only to verified media and admins.

Beats are shared by the whole archive (a newsroom's reporters use the same beats); the account that
made one (``owner_account_id``) and admins may remove it.  Beats hold no personal data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import secrets
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

import orjson

from ..governance.gate import identity_withheld
from ..governance.rules import GENERIC_CHILD_SEXUAL_TITLE, classify_offence
from ..store import digest as store

DATA = Path(__file__).resolve().parent.parent / "data"
WEIGHTS_FILE = DATA / "newsworthiness.toml"
FORMATS = ("text", "json", "csv", "html")
STAGE_TEXT = {"first_appearance": "first appearance", "plea": "plea hearing", "trial": "trial",
              "sentence": "sentence", "sent_to_crown": "sending to the Crown Court", "other": "other hearing"}
_CROWN_LIST = re.compile(r"^CROWN", re.I)


class DigestError(ValueError):
    pass


# =========================================================================== weights
@lru_cache(maxsize=4)
def _load_weights(path: str) -> dict:
    with open(path, "rb") as fh:
        w = tomllib.load(fh)
    for section in ("gravity", "stage", "multi_defendant", "linked", "previous", "crown"):
        if section not in w:
            raise DigestError(f"{path}: section [{section}] missing")
    w["_patterns"] = [(k, re.compile(v, re.I)) for k, v in w["stage"].get("patterns", {}).items()]
    return w


def weights(path: Path | None = None) -> dict:
    """The newsworthiness weights (``data/newsworthiness.toml``)."""
    return _load_weights(str(path or WEIGHTS_FILE))


# =========================================================================== beats
def _offence_groups() -> set[str]:
    from ..data import reference

    return set(reference.offence_groups())


def _forces() -> dict[str, str]:
    from ..data import reference

    return {f["police_force_area"].casefold(): f["police_force_area"] for f in reference.police_forces()}


def _split(values: Iterable[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values:
        out += [x.strip() for x in str(v).split(";") if x.strip()]
    return out


def _centre(ref: str) -> tuple[str, float, float]:
    from ..data import reference

    ref = ref.strip()
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)", ref)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (49.0 <= lat <= 56.5 and -7.0 <= lon <= 2.5):
            raise DigestError(f"centre {ref!r} is not in England or Wales (lat 49..56.5, lon -7..2.5)")
        return f"{lat:.5f},{lon:.5f}", lat, lon
    towns = reference.find_towns(ref)
    if not towns:
        raise DigestError(f"unknown centre {ref!r}: give a town of the reference gazetteer or lat,lon")
    t = towns[0]
    return t["town"], float(t["lat"]), float(t["lon"])


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def _account_id(archive, username: str | None) -> int | None:
    from ..store import governance as sg

    if not username:
        return None
    acc = sg.get_account(archive, username)
    return acc["id"] if acc else None


def add_beat(archive, *, name: str, courts: Iterable[str] = (), towns: Iterable[str] = (),
             forces: Iterable[str] = (), centre: str | None = None, radius_km: float | None = None,
             offence_groups: Iterable[str] = (), actor: str, role: str = "admin") -> dict:
    """Create a beat after checking every court, town, force and offence group against the
    archive's court table and the shipped reference; nothing is written on bad input."""
    from ..governance import audit
    from ..store.alerts import find_court

    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DigestError("a beat needs a name (1-100 characters)")
    if name.isdigit():
        raise DigestError("a beat's name cannot be a number (numbers are beat ids)")
    court_ids: list[int] = []
    court_refs: list[dict] = []             # each --court as given and the court it became
    for ref in _split(courts):
        cid = find_court(archive, ref)
        if cid is None:
            raise DigestError(f"no court {ref!r} (give a court id, FaCT id, slug or exact name)")
        court_refs.append({"ref": ref, "id": cid})
        if cid not in court_ids:
            court_ids.append(cid)
    known_towns = {}
    for c in store.courts(archive):
        if c.get("town"):
            known_towns.setdefault(c["town"].casefold(), c["town"])
    town_list: list[str] = []
    for t in _split(towns):
        got = known_towns.get(t.casefold())
        if got is None:
            raise DigestError(f"no court in town {t!r} (court towns are those of the court reference)")
        if got not in town_list:
            town_list.append(got)
    fmap = _forces()
    force_list: list[str] = []
    for f in _split(forces):
        got = fmap.get(f.casefold())
        if got is None:
            raise DigestError(f"unknown police force area {f!r}: one of {', '.join(sorted(fmap.values()))}")
        if got not in force_list:
            force_list.append(got)
    groups = _offence_groups()
    group_list: list[str] = []
    for g in _split(offence_groups):
        if g not in groups:
            raise DigestError(f"unknown offence group {g!r}: one of {', '.join(sorted(groups))}")
        if g not in group_list:
            group_list.append(g)
    c_label = c_lat = c_lon = None
    if centre or radius_km is not None:
        if not centre or radius_km is None:
            raise DigestError("a radius needs both a centre (town or lat,lon) and radius_km")
        try:
            radius_km = float(radius_km)
        except (TypeError, ValueError):
            raise DigestError(f"radius_km: expected a number, got {radius_km!r}") from None
        if not 0 < radius_km <= 300:
            raise DigestError("radius_km must be more than 0 and at most 300")
        c_label, c_lat, c_lon = _centre(centre)
    if not (court_ids or town_list or force_list or c_label):
        raise DigestError("a beat needs an area: courts, towns, police force areas or a centre with a radius")
    try:
        row = store.add_beat(archive, {
            "name": name, "owner_account_id": _account_id(archive, actor), "courts": court_ids,
            "towns": town_list, "police_force_areas": force_list, "centre": c_label, "centre_lat": c_lat,
            "centre_lon": c_lon, "radius_km": radius_km if c_label else None, "offence_groups": group_list,
            "created_by": actor})
    except store.BeatExists as e:
        raise DigestError(str(e)) from None
    audit.record(archive, actor=actor, role=role, action="beat_add", purpose="journalism",
                 objects={"beat": [row["id"]]}, details={"name": name})
    return {**describe(archive, row), "court_refs": court_refs}


def get_beat(archive, ref: str | int) -> dict:
    b = store.get_beat(archive, ref)
    if b is None:
        raise DigestError(f"no beat {ref!r} (courtarchive beat list)")
    return b


def beat_courts(archive, beat: dict, court_rows: list[dict] | None = None) -> list[dict]:
    """The courts a beat covers (by id, town, force area or distance from its centre)."""
    ids = set(beat.get("courts") or [])
    towns = {t.casefold() for t in beat.get("towns") or []}
    forces = set(beat.get("police_force_areas") or [])
    lat, lon, r = beat.get("centre_lat"), beat.get("centre_lon"), beat.get("radius_km")
    out = []
    for c in court_rows if court_rows is not None else store.courts(archive):
        if (c["id"] in ids or (c.get("town") or "").casefold() in towns or c.get("police_force_area") in forces
                or (r and c.get("lat") is not None and c.get("lon") is not None and lat is not None
                    and _haversine_km(lat, lon, c["lat"], c["lon"]) <= r)):
            out.append(c)
    return out


def describe(archive, beat: dict) -> dict:
    courts = beat_courts(archive, beat)
    return {k: beat.get(k) for k in ("id", "name", "courts", "towns", "police_force_areas", "centre", "centre_lat",
                                     "centre_lon", "radius_km", "offence_groups", "created_at", "created_by",
                                     "owner_account_id")} | {
        "court_count": len(courts), "court_names": [c["name"] for c in courts]}


def list_beats(archive) -> list[dict]:
    rows = store.beats(archive)
    court_rows = store.courts(archive)
    return [{**{k: b.get(k) for k in ("id", "name", "towns", "police_force_areas", "centre", "radius_km",
                                      "offence_groups", "created_by", "owner_account_id")},
             "court_count": len(beat_courts(archive, b, court_rows))} for b in rows]


def remove_beat(archive, ref: str | int, *, actor: str, role: str) -> dict:
    """Remove a beat: its owner or an admin (a beat made without an account: admins only)."""
    from ..governance import audit

    b = get_beat(archive, ref)
    owner = b.get("owner_account_id")
    if role != "admin" and (owner is None or owner != _account_id(archive, actor)):
        raise PermissionError(f"beat {b['name']!r} can be removed only by the account that made it or an admin")
    n = store.remove_beat(archive, b["id"])
    audit.record(archive, actor=actor, role=role, action="beat_remove", purpose="journalism",
                 objects={"beat": [b["id"]]}, details={"name": b["name"], "subscriptions_cancelled": n})
    return {"id": b["id"], "name": b["name"], "subscriptions_cancelled": n}


# =========================================================================== ranking
#: two mentions of one case on two lists of the day are one person from this name score up
SAME_PARTY_MIN = 0.85


def _same_score(a: dict, b: dict, person_of: dict[int, int]) -> float:
    """How surely two parties of one case, on two lists of one day, are one person: the same linked
    person (1.0); else dates of birth that differ (0.0); else how alike their names are, either
    way round (a middle name or a nickname one list has and the other not: `ranking.score_name`,
    the search engine's own)."""
    from .alerts import _party_name
    from .ranking import score_name
    from .search import words

    pa, pb = person_of.get(a["id"]), person_of.get(b["id"])
    if pa is not None and pa == pb:
        return 1.0
    if a.get("pseudonymised") or b.get("pseudonymised"):
        return 0.0                   # (the name is gone: only the linked person can tell)
    da, db = a.get("date_of_birth"), b.get("date_of_birth")
    if da and db and str(da)[:10] != str(db)[:10]:
        return 0.0
    if a.get("organisation_name") or b.get("organisation_name"):
        return float((a.get("organisation_name") or "").casefold() == (b.get("organisation_name") or "").casefold())
    wa, wb = list(words(_party_name(a))), list(words(_party_name(b)))
    return max(score_name(wa, wb)[0], score_name(wb, wa)[0])


def same_parties(parties: list[dict], person_of: dict[int, int]) -> dict[int, tuple[int, int]]:
    """party id -> (its hearing, the party id standing for the same person): the day's lists of one
    case (public and standard, firm and daily) each name its defendants once, perhaps spelt
    differently, and before a `link run` no person id ties them -- a digest of the day listed each
    such defendant twice.  Per case and role, the listings are read fullest first (the standard
    list); each party of a later listing joins the best-scoring person not yet seen on that listing
    (`_same_score` >= SAME_PARTY_MIN, best pairs first), else stands for a person of its own.  Two
    parties of one listing are never one person (a list names each defendant once).  Raw facts,
    for grouping only: nothing of it is shown."""
    groups: dict[tuple, dict[int, list[dict]]] = {}
    for p in parties:
        groups.setdefault((p.get("case_id"), p.get("role")), {}).setdefault(p["hearing_id"], []).append(p)
    out: dict[int, tuple[int, int]] = {}
    for listings in groups.values():
        order = sorted(listings, key=lambda h: (-sum(_filled(p) for p in listings[h]), h))
        people: list[tuple[set[int], list[dict]]] = []        # (hearings seen, members) per person
        for h in order:
            pairs = []
            for j, p in enumerate(listings[h]):
                for i, (seen, members) in enumerate(people):
                    if h not in seen:
                        score = max(_same_score(p, m, person_of) for m in members)
                        if score >= SAME_PARTY_MIN:
                            pairs.append((-score, i, j))
            pairs.sort()
            taken_i, taken_j = set(), set()
            for _score, i, j in pairs:
                if i in taken_i or j in taken_j:
                    continue
                taken_i.add(i)
                taken_j.add(j)
                people[i][0].add(h)
                people[i][1].append(listings[h][j])
            for j, p in enumerate(listings[h]):
                if j not in taken_j:
                    people.append(({h}, [p]))
        for _seen, members in people:
            for p in members:
                out[p["id"]] = (p["hearing_id"], members[0]["id"])
    return out


def _stage(hearing_types: list[str], first_listing: bool, w: dict) -> str:
    for key, pat in w["_patterns"]:
        if any(pat.search(t or "") for t in hearing_types):
            return key
    return "first_appearance" if first_listing else "other"


def _unspent(archive, earlier: dict[int, dict[int, list[int]]], day: dt.date) -> dict[int, set[int]]:
    """person -> earlier cases, leaving out a case whose convictions of the person are all spent on
    ``day`` (Rehabilitation of Offenders Act 1974: a spent conviction never raises a rank, for any
    viewer).  A case without a recorded conviction counts (an appearance, not a conviction)."""
    from ..governance.spent import is_spent
    from ..store import governance as sg

    convs = sg.convictions_of(archive, [p for cases in earlier.values() for ps in cases.values() for p in ps])
    out: dict[int, set[int]] = {}
    for person, cases in earlier.items():
        for cid, parties in cases.items():
            cs = [c for p in parties for c in convs.get(p, []) if c.get("case_id") in (None, cid)]
            if cs and all(is_spent(c, day) for c in cs):
                continue
            out.setdefault(person, set()).add(cid)
    return out


def rank(archive, beat: dict, day: dt.date, *, w: dict | None = None) -> list[dict]:
    """Every case listed on ``day`` in ``beat``, scored, best first: {case_id, hearing_ids, court_id,
    score, stage, reasons}.  Reads the store only (no disclosure: the caller passes the gate)."""
    from ..data import reference
    from ..store.alerts import parties_of_hearings, persons_of_parties

    w = w or weights()
    courts = {c["id"]: c for c in beat_courts(archive, beat)}
    hearings = store.day_hearings(archive, day, courts) if courts else []
    if not hearings:
        return []
    hids = [h["id"] for h in hearings]
    offs = store.hearing_offences(archive, hids)
    groups_wanted = set(beat.get("offence_groups") or [])
    by_case: dict[int, dict] = {}
    for h in hearings:
        c = by_case.setdefault(h["case_id"], {"case_id": h["case_id"], "hearings": [], "codes": {},
                                               "defendants": set(), "court_id": h["court_id"]})
        c["hearings"].append(h)
    case_of_h = {h["id"]: h["case_id"] for h in hearings}
    for o in offs:
        if o["code"]:
            # in listing order (a dict, not a set): of equally grave offences the reason names the
            # first listed -- a set's order moved with the process's hash seed (and so the backend)
            by_case[case_of_h[o["hearing_id"]]]["codes"].setdefault(o["code"].upper())
    defs = store.hearing_defendants(archive, hids)
    per_hearing: dict[int, set[int]] = {}
    for d in defs:
        per_hearing.setdefault(d["hearing_id"], set()).add(d["id"])
    person_of = persons_of_parties(archive, [d["id"] for d in defs])
    same = same_parties([{**p, "case_id": case_of_h[p["hearing_id"]]} for p in parties_of_hearings(archive, hids)],
                        person_of)
    for d in defs:
        by_case[case_of_h[d["hearing_id"]]]["defendants"].add(person_of.get(d["id"], -d["id"]))
    if groups_wanted:
        def groups_of(codes):
            return {(reference.offence_by_code(c) or {}).get("offence_group") for c in codes}
        by_case = {k: v for k, v in by_case.items() if groups_of(v["codes"]) & groups_wanted}
    if not by_case:
        return []
    history: dict[int, list[dict]] = {}
    for li in store.case_history(archive, by_case):
        history.setdefault(li["case_id"], []).append(li)
    persons = {p for c in by_case.values() for p in c["defendants"] if p > 0}
    earlier = _unspent(archive, store.earlier_cases(archive, persons, day), day)
    nets = store.live_networks(archive, persons)
    out = []
    for cid, c in by_case.items():
        reasons: list[dict] = []

        def add(component: str, points: float, text: str) -> None:
            if points:
                reasons.append({"component": component, "points": round(float(points), 2), "text": text})

        # gravity
        best, title = None, None
        for code in c["codes"]:
            o = reference.offence_by_code(code)
            s = o["seriousness"] if o else int(w["gravity"].get("unknown", 3))
            if best is None or s > best:
                best, title = s, (o["title"] if o else code)
                fl = classify_offence(code, o["title"] if o else None)
                if fl["child_sexual_abuse"] or fl["relationship_sensitive"]:
                    # the reason is output beside the gated case: it names the offence no more
                    # than the gate does (Editors' Code cl.7: the generic title)
                    title = GENERIC_CHILD_SEXUAL_TITLE
        if best is not None:
            add("gravity", best * float(w["gravity"]["per_point"]), f"offence seriousness {best}/10 ({title})")
        # stage
        hist = history.get(cid, [])
        first_listing = not any(li["sitting_date"] is not None and li["sitting_date"] < day for li in hist)
        stage = _stage([h["hearing_type"] for h in c["hearings"]], first_listing, w)
        add("stage", float(w["stage"].get(stage, 0)), STAGE_TEXT.get(stage, stage)
            + (" (first listing in the archive)" if first_listing and stage == "first_appearance" else ""))
        # multi-defendant
        # per listing: the public and the press list of one court and day list the same people twice
        n_def = max((len(per_hearing.get(h["id"], ())) for h in c["hearings"]), default=0)
        if n_def >= 2:
            m = w["multi_defendant"]
            add("multi_defendant", min(float(m["cap"]), float(m["base"]) + float(m["per_extra"]) * (n_def - 2)),
                f"{n_def} defendants")
        # linked network
        lk = w["linked"]
        size = max((n["size"] or 0 for p in c["defendants"] for n in nets.get(p, [])), default=0)
        listed_with = sorted({x.strip() for h in c["hearings"] for x in re.split(r"[,;]", h.get("linked_case_numbers") or "")
                              if x.strip()})
        if size >= int(lk["min_size"]):
            add("linked", min(float(lk["cap"]), float(lk["base"]) + float(lk["per_member"]) * (size - int(lk["min_size"]))
                              + (float(lk.get("listed_with", 0)) if listed_with else 0.0)),
                f"defendant in a linked network of {size} defendants"
                + (f"; listed with linked case(s) {', '.join(listed_with)}" if listed_with else ""))
        elif listed_with:
            add("linked", min(float(lk["cap"]), float(lk.get("listed_with", 0))),
                f"listed with linked case(s) {', '.join(listed_with)}")
        # previous appearances
        prev = set()
        for p in c["defendants"]:
            prev |= earlier.get(p, set())
        prev.discard(cid)
        if prev:
            pv = w["previous"]
            add("previous", min(float(pv["cap"]), float(pv["base"]) + float(pv["per_case"]) * (len(prev) - 1)),
                f"defendant listed in {len(prev)} earlier case{'s' if len(prev) != 1 else ''} in the archive")
        # Crown Court
        at_crown = any(_CROWN_LIST.match(h.get("list_type") or "") for h in c["hearings"])
        sent_before = any(_CROWN_LIST.match(li.get("list_type") or "") for li in hist
                          if li["sitting_date"] is not None and li["sitting_date"] < day)
        if at_crown or sent_before:
            add("crown", float(w["crown"]["listed_at_crown"]),
                "before the Crown Court" + ("" if at_crown else " (sent there earlier)"))
        hids_c = {h["id"] for h in c["hearings"]}
        out.append({"case_id": cid, "hearing_ids": sorted(hids_c),
                    "same_party": {pid: k for pid, (hid, k) in same.items() if hid in hids_c},
                    "court_id": c["court_id"], "court": (courts.get(c["court_id"]) or {}).get("name"),
                    "stage": stage, "defendants": n_def, "seriousness": best,
                    "score": round(sum(r["points"] for r in reasons), 2), "reasons": reasons})
    out.sort(key=lambda r: (-r["score"], r["case_id"]))
    return out


# =========================================================================== the digest, disclosed
def _party_row(p: dict) -> dict:
    from .views import display_name

    name = display_name(p)
    return {"role": (p.get("role") or "").replace("_", " ").lower(),
            "name": name or ("[name withheld]" if identity_withheld(p) else ""),
            "age": p.get("age"), "town": p.get("town"),
            "offences": [{"title": o.get("title"), "code": o.get("code"), "plea": o.get("plea"),
                          "withheld": [x for x in o.get("_redacted") or [] if x in ("wording", "title")]}
                         for o in p.get("offences") or []]}


def _filled(p: dict) -> int:
    return sum(v is not None and v != "" and not k.startswith("_") for k, v in p.items())


def assemble(ranked: list[dict], records: list[dict], flags: list[dict], top: int) -> list[dict]:
    """Rows of the digest: the ranked cases the gate released (in rank order, ``top`` of them), each
    with the disclosed listing(s) of the day and the restriction flags of its case."""
    by_case = {r["id"]: r for r in records if r.get("_entity") == "case"}
    restr: dict[int, list[dict]] = {}
    for f in flags:
        if f.get("flag") == "restriction" and f.get("case_id") is not None:
            law, summary = f.get("law") or "", f.get("summary") or ""
            detail = summary[len(law):].lstrip(" :-") if summary.startswith(law) else summary
            restr.setdefault(f["case_id"], []).append(
                {"law": law, "summary": summary, "detail": detail, "until": f.get("until"), "rule": f.get("rule")})
    rows = []
    for r in ranked:
        c = by_case.get(r["case_id"])
        if c is None or not c.get("hearings"):
            continue
        hs = c["hearings"]
        h0 = hs[0]
        # one row per person: a case on the day's public and standard lists names each defendant
        # twice, perhaps spelt differently -- `same_parties` decides (the linked person, else the
        # names, whatever the link state), and the fuller listing (date of birth, address: the
        # standard list) is the one shown
        same = r.get("same_party") or {}
        parties: dict = {}
        for h in hs:
            for p in h.get("parties") or []:
                key = (p.get("role"), ("same", same[p["id"]]) if p.get("id") in same
                       else ("person", p["person_id"]) if p.get("person_id") is not None
                       else p.get("name") or p.get("id"))
                have = parties.get(key)
                if have is None or _filled(p) > _filled(have):
                    parties[key] = p
        parties = [_party_row(p) for p in parties.values()]
        rows.append({"rank": len(rows) + 1, "score": r["score"], "reasons": r["reasons"], "stage": r["stage"],
                     "case_id": c["id"], "case_ref": c.get("urn") or c.get("case_number") or str(c["id"]),
                     "urn": c.get("urn"), "court": h0.get("court") or h0.get("court_name"),
                     "court_id": h0.get("court_id"), "time": h0.get("sitting_time"), "room": h0.get("room"),
                     "hearing_type": h0.get("hearing_type"), "list_type": h0.get("list_type"),
                     "restricted": bool(restr.get(c["id"])), "restrictions": restr.get(c["id"], []),
                     "parties": parties})
        if len(rows) >= top:
            break
    return rows


def records_for(archive, ranked: list[dict]) -> list[dict]:
    """The ranked cases' hearings of the day, each party with its linked person id (a key: it
    lets `assemble` show a person listed on two lists of the day once)."""
    from ..store import governance as sg
    from ..store import outputs

    recs = outputs.cases_with_hearings(archive, {r["case_id"]: list(r["hearing_ids"]) for r in ranked})
    parties = [p for c in recs for h in c.get("hearings") or [] for p in h.get("parties") or []]
    persons = sg.persons_of(archive, [p["id"] for p in parties]) if parties else {}
    for p in parties:
        p["person_id"] = persons.get(p["id"])
    return recs


def digest(archive, beat_ref: str | int, day: dt.date, viewer, *, top: int = 20, purpose: str | None = None,
           keyring=None, profile=None, now: dt.datetime | None = None,
           gate: Callable[[list[dict]], object] | None = None) -> dict:
    """The beat's digest for ``day`` as ``viewer`` may see it: {beat, date, viewer, role, rows, flags,
    withheld, candidates}.  ``gate``: how records are disclosed (default ``governance.disclose`` with
    ``output="digest"``; the web passes its own, the same gate)."""
    from ..governance.gate import disclose
    from .export import default_purpose

    if not isinstance(top, int) or not 1 <= top <= 200:
        raise DigestError("top must be between 1 and 200")
    beat = get_beat(archive, beat_ref)
    ranked = rank(archive, beat, day)
    records = records_for(archive, ranked)
    if gate is None:
        purpose = purpose or default_purpose(viewer, now)
        d = disclose(records, viewer, purpose=purpose, context={"archive": archive, "keyring": keyring,
                                                                "profile": profile, "output": "digest", "now": now})
    else:
        d = gate(records)
    rows = assemble(ranked, d.records, d.flags, top)
    shown = {r["case_id"] for r in rows}
    return {"beat": describe(archive, beat), "date": day.isoformat(), "viewer": viewer.username, "role": d.role,
            "candidates": len(ranked), "rows": rows,
            "flags": [f for f in d.flags if f.get("flag") != "restriction" or f.get("case_id") in shown],
            "withheld": d.withheld}


# =========================================================================== output formats
def _env():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("courtarchive.serve", "mail_templates"),
                       autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(res: dict, fmt: str, *, base_url: str = "", watermark: str = "", unsubscribe_url: str | None = None) -> str:
    """The digest as text, json, csv or (self-contained) html."""
    if fmt not in FORMATS:
        raise DigestError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if fmt == "json":
        return orjson.dumps(res, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        wr = csv.writer(buf)
        wr.writerow(["rank", "score", "case", "court", "time", "hearing_type", "stage", "defendants", "offences",
                     "reporting_restrictions", "reasons"])
        for r in res["rows"]:
            wr.writerow([r["rank"], r["score"], r["case_ref"], r["court"] or "", r["time"] or "",
                         r["hearing_type"] or "", STAGE_TEXT.get(r["stage"], r["stage"]),
                         "; ".join(p["name"] for p in r["parties"] if p["role"] == "defendant"),
                         "; ".join(sorted({o["title"] or o["code"] or "" for p in r["parties"] for o in p["offences"]})),
                         "; ".join(x["summary"] for x in r["restrictions"]),     # the law and how long
                         "; ".join(f"{x['text']} (+{x['points']:g})" for x in r["reasons"])])
        return buf.getvalue()
    ctx = {"res": res, "stage_text": STAGE_TEXT, "base_url": base_url.rstrip("/"), "watermark": watermark,
           "unsubscribe_url": unsubscribe_url, "contempt": [f for f in res["flags"] if f.get("flag") == "contempt_risk"]}
    return _env().get_template("beat_digest.txt.j2" if fmt == "text" else "beat_digest.html.j2").render(**ctx)


# =========================================================================== e-mail
def subscribe(archive, *, username: str, beat_ref: str | int, label: str | None = None,
              actor: str | None = None) -> dict:
    """Subscribe ``username`` to a beat's daily digest (a ``subscription`` of kind ``beat``);
    ``actor``: who did it, when not the account itself (`alerts.acting`)."""
    from ..governance import audit
    from ..store import alerts as sa_store
    from .alerts import _account, _public, acting, deliverable, same_subscription

    acc = _account(archive, username)
    b = get_beat(archive, beat_ref)
    if (s := same_subscription(archive, acc["id"], "beat", b["name"], {"beat_id": b["id"]})) is not None:
        raise DigestError(f"{username} already receives the digest of beat {b['name']!r} (subscription {s['id']})")
    row = sa_store.add_subscription(archive, {
        "account_id": acc["id"], "kind": "beat", "query": b["name"], "params": {"beat_id": b["id"]},
        "label": (label or "").strip() or f"daily digest: {b['name']}",
        "unsubscribe_token": secrets.token_urlsafe(24), "last_run_at": None})
    audit.record(archive, **acting(acc, actor), action="alert_subscribe",
                 objects={"subscription": [row["id"]], "beat": [b["id"]], "account": [acc["id"]]},
                 details={"kind": "beat"})
    ok, why = deliverable(archive, acc)
    return {**_public(row), "deliverable": ok, "deliverable_reason": why}


def send(archive, day: dt.date, *, top: int = 20, now: dt.datetime | None = None, smtp_host: str | None = None,
         smtp_port: int | None = None, sender: str | None = None, base_url: str | None = None, keyring=None,
         profile=None, home: Path | None = None, resend: bool = False) -> dict:
    """Mail every active beat subscription the digest of its beat for ``day`` (once: a subscription
    whose digest of that day went out is skipped unless ``resend``).  Returns
    {messages, rows_sent, skipped, empty, undeliverable, failed}."""
    import smtplib
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from ..config import settings
    from ..governance import audit, distribution
    from ..governance.policy import Viewer
    from ..governance.profile import load as load_profile
    from ..governance.pseudonym import Keyring
    from ..store import governance as sg
    from .alerts import _read_export, _smtp, deliverable, unsubscribe_path
    from .export import default_purpose

    s = settings()
    host = smtp_host or s.smtp_host
    if not host:
        raise DigestError("no SMTP server configured: set COURTARCHIVE_SMTP_HOST (and COURTARCHIVE_SMTP_PORT)")
    port = int(smtp_port or s.smtp_port)
    sender = sender or s.smtp_from
    base_url = (base_url or s.base_url).rstrip("/")
    home = Path(home or s.home)
    profile = profile or load_profile(home=home)
    res: dict = {"date": day.isoformat(), "messages": 0, "rows_sent": 0, "skipped": 0, "empty": 0,
                 "undeliverable": {}, "failed": []}
    subs = store.beat_subscriptions(archive)
    if not resend:
        fresh = [x for x in subs if (x["params"] or {}).get("last_sent_date") != day.isoformat()]
        res["skipped"] = len(subs) - len(fresh)
        subs = fresh
    if not subs:
        return res
    accounts = {a["id"]: a for a in sg.list_accounts(archive)}
    plans = []
    for sub in subs:
        acc = accounts.get(sub["account_id"])
        ok, why = deliverable(archive, acc, profile=profile, now=now) if acc else (False, "no such account")
        if not ok:
            res["undeliverable"][(acc or {}).get("username", str(sub["account_id"]))] = {"subscription": sub["id"],
                                                                                        "reason": why}
            continue
        plans.append((acc, sub))
    if not plans:
        return res
    keyring = keyring or Keyring.from_settings(s)
    conn = None
    try:
        for acc, sub in plans:
            viewer = Viewer.from_account(acc)
            try:
                beat = get_beat(archive, int((sub["params"] or {}).get("beat_id") or 0))
            except DigestError as e:
                res["failed"].append({"username": acc["username"], "subscription": sub["id"], "error": str(e)})
                continue
            ranked = rank(archive, beat, day)
            if not ranked:
                res["empty"] += 1
                store.mark_beat_sent(archive, [sub["id"]], day, store.now())
                continue
            exp = None
            try:
                exp = distribution.export(archive, records_for(archive, ranked), viewer,
                                          purpose=default_purpose(viewer, now), keyring=keyring, profile=profile,
                                          home=home, what=f"beat:{beat['id']}:{day.isoformat()}",
                                          recipient=acc["email"], kind="digest", now=now)
                header, cases = _read_export(Path(exp["path"]))
                rows = assemble(ranked, [{**c, "_entity": "case"} for c in cases], header.get("flags", []), top)
                if not rows:
                    raise DigestError("nothing left to send after disclosure")
                result = {"beat": describe(archive, beat), "date": day.isoformat(), "viewer": acc["username"],
                          "role": viewer.effective_role(now), "candidates": len(ranked), "rows": rows,
                          "flags": header.get("flags", []), "withheld": {}}
                unsub = base_url + unsubscribe_path(sub["unsubscribe_token"])
                text = render(result, "text", base_url=base_url, watermark=exp["watermark"], unsubscribe_url=unsub)
                html = render(result, "html", base_url=base_url, watermark=exp["watermark"], unsubscribe_url=unsub)
                msg = EmailMessage()
                msg["Subject"] = f"courtarchive digest {beat['name']} {day.isoformat()}: {len(rows)} case" + \
                                 ("s" if len(rows) != 1 else "")
                msg["From"] = sender
                msg["To"] = acc["email"]
                msg["Date"] = formatdate(localtime=False)
                msg["Message-ID"] = make_msgid(domain=(sender.rsplit("@", 1)[-1] or "courtarchive"))
                msg["Auto-Submitted"] = "auto-generated"
                msg["List-Unsubscribe"] = f"<{unsub}>"
                # RFC 8058 one-click: the mail client POSTs to the link (the portal's unsubscribe
                # route takes a POST with the token alone; a GET only asks to confirm)
                msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
                msg["X-Courtarchive-Digest"] = str(exp["id"])
                msg.set_content(text)
                msg.add_alternative(html, subtype="html")
                if conn is None:
                    conn = _smtp(host, port, s)
                try:
                    conn.send_message(msg)
                except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError):
                    conn = _smtp(host, port, s)
                    conn.send_message(msg)
            except Exception as e:
                res["failed"].append({"username": acc["username"], "subscription": sub["id"],
                                      "error": f"{type(e).__name__}: {e}"})
                if exp is not None:          # recorded but not delivered: no copy stays
                    Path(exp["path"]).unlink(missing_ok=True)
                    sg.update_export(archive, exp["id"], purged_at=sg.now())
                audit.record(archive, actor="system", role="admin", action="alert_failed", purpose="journalism",
                             objects={"subscription": [sub["id"]]},
                             details={"recipient_account": acc["id"], "kind": "beat", "error": type(e).__name__})
                if isinstance(e, (OSError, smtplib.SMTPException)) and conn is None:
                    break                    # the server cannot be reached: the rest would fail alike
                continue
            store.mark_beat_sent(archive, [sub["id"]], day, store.now())
            res["messages"] += 1
            res["rows_sent"] += len(rows)
    finally:
        if conn is not None:
            try:
                conn.quit()
            except Exception:
                pass
    return res
