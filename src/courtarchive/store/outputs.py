"""Read models for outputs: cases with their hearings, parties and offences as records tagged for
the disclosure gate (``governance.disclose``).

Every output path that shows a case (the CLI's ``case``, alert digests, ...) reads it here and passes
the records through the gate; nothing here decides what a viewer may see.  The shape:

    {"_entity": "case", id, urn, case_number, ..., "hearings": [
        {"_entity": "hearing", id, case_id, publication_id, sitting_date, ..., "court", "list_type",
         "sensitivity", "superseded_by_id" (a later version of its list, or None), "parties": [
            {"_entity": "party", id, case_id, publication_id, role, forenames, surname, ..., "name",
             "offences": [{"_entity": "offence", id, code, title, wording, plea, ...}]}]}]}
"""

from __future__ import annotations


import sqlalchemy as sa

from .archive import Archive
from .tables import TABLES as T
from .util import case_number_key_sql, chunks as _chunks

_CHUNK = 500


def display_name(p: dict) -> str | None:
    """A party's name as one string (forenames surname, else organisation, else as listed)."""
    name = " ".join(x for x in (p.get("forenames"), p.get("middle_names"), p.get("surname")) if x)
    return name or p.get("organisation_name") or p.get("name_as_listed")


def _tag(entity: str, row) -> dict:
    return {"_entity": entity, **{str(k): v for k, v in row._mapping.items()}}


def cases_with_hearings(archive: Archive, hearing_ids_by_case: dict[int, list[int] | None]) -> list[dict]:
    """Case records (tagged) holding the given hearings (``None``: every hearing of the case), each
    hearing with its parties and each party with its offences; hearings in date order."""
    C, H, P, Ct, Pa, O = (T[n] for n in ("case", "hearing", "publication", "court", "party", "offence"))
    case_ids = sorted(hearing_ids_by_case)
    if not case_ids:
        return []
    cases: dict[int, dict] = {}
    hearings: dict[int, dict] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(case_ids):
            for r in conn.execute(sa.select(C).where(C.c.id.in_(chunk))):
                cases[r.id] = _tag("case", r) | {"hearings": []}
        whole = [c for c in case_ids if hearing_ids_by_case[c] is None]
        some = sorted({h for c in case_ids for h in (hearing_ids_by_case[c] or [])})
        q = (sa.select(H, Ct.c.name.label("court"), P.c.list_type, P.c.sensitivity,
                       P.c.superseded_by.label("superseded_by_id"))
             .join(P, P.c.id == H.c.publication_id).outerjoin(Ct, Ct.c.id == H.c.court_id))
        rows = []
        for chunk in _chunks(whole):
            rows += list(conn.execute(q.where(H.c.case_id.in_(chunk))))
        for chunk in _chunks(some):
            rows += list(conn.execute(q.where(H.c.id.in_(chunk))))
        for r in rows:
            hearings[r.id] = _tag("hearing", r) | {"parties": []}
        parties: dict[int, dict] = {}
        for chunk in _chunks(sorted(hearings)):
            for r in conn.execute(sa.select(Pa).where(Pa.c.hearing_id.in_(chunk)).order_by(Pa.c.id)):
                d = _tag("party", r)
                d["name"] = display_name(d)
                d["offences"] = []
                parties[r.id] = d
            for r in conn.execute(sa.select(O).where(O.c.hearing_id.in_(chunk)).order_by(O.c.party_id, O.c.seq, O.c.id)):
                if r.party_id in parties:
                    parties[r.party_id]["offences"].append(_tag("offence", r))
    for p in parties.values():
        hearings[p["hearing_id"]]["parties"].append(p)
    for h in sorted(hearings.values(), key=lambda h: (h["sitting_date"] is None, h["sitting_date"],
                                                      h["sitting_time"] or "", h["id"])):
        if h["case_id"] in cases:
            cases[h["case_id"]]["hearings"].append(h)
    return [cases[c] for c in case_ids if c in cases]


def case_record(archive: Archive, case_id: int) -> dict | None:
    """One case with every hearing of it (all versions of its lists; ``superseded_by`` tells)."""
    out = cases_with_hearings(archive, {case_id: None})
    return out[0] if out else None


def find_case(archive: Archive, ref: str) -> int | None:
    """The case a user means by ``ref``: its URN (spaces ignored, any case), else its case number."""
    C = T["case"]
    key = "".join((ref or "").split()).upper()
    with archive.engine.connect() as conn:
        cid = conn.execute(sa.select(C.c.id).where(C.c.urn == key).order_by(C.c.id).limit(1)).scalar()
        if cid is None:
            # (stored as listed, read as searches read it: migration 0017's expression index)
            cid = conn.execute(sa.select(C.c.id).where(sa.literal_column(case_number_key_sql('"case".case_number')) == key)
                               .order_by(C.c.id).limit(1)).scalar()
    return cid
