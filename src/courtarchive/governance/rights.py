"""Data subjects' rights: find everything about a person, erase, rectify, and the journalism
exemption decision (DPA 2018 Sch 2 Part 5 para 26) recorded with its reasons.

The subject is never stored in clear: a request keeps a keyed token of the normalised name (and
DOB) and the ids found.  Searches match raw mentions by normalised name, pseudonymised mentions by
their keyed token (under every key held, so rotations do not hide data), and the link stage's
persons add the mentions linked to those.  Legal holds stop erasure for their scope (logged).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from ..store import governance as sg
from . import audit, hooks
from .coarse import full_name
from .profile import load
from .pseudonym import normalise_name, normalise_name_forms
from .retention import TOUCHED_TABLES, _Held, plan_batch

log = logging.getLogger("courtarchive.governance")

KINDS = ("access", "erasure", "rectification", "objection")
DECISIONS = ("comply", "partial", "refuse_exempt")
EXEMPTION = "DPA 2018 Sch 2 Part 5 para 26 (journalism)"
#: never exempt under para 26 (LAW.md "Data protection")
NEVER_EXEMPT = ("security (UK GDPR Art 5(1)(f), 32)", "accountability (Art 5(2), 24, 30)",
                "processor contracts (Art 28)", "breach notification (Art 33, 72 hours)")


class RightsError(ValueError):
    pass


def _identity(name: str, dob: dt.date | None) -> tuple[str, str]:
    norm = normalise_name(name)
    if not norm:
        raise RightsError("a name is needed to find a person")
    return norm, norm + "|" + (dob.isoformat() if dob else "")


def _tokens(keyring, forms: tuple[str, ...], dob: dt.date | None) -> set[str]:
    """The person tokens a pseudonymised mention of a name (and date of birth) may carry: under
    every key held and every normalisation the name may have been tokenised under (``forms``:
    `normalise_name_forms`)."""
    suffix = "|" + (dob.isoformat() if dob else "")
    return {t for form in forms for t in keyring.tokens_all("person", form + suffix).values()}


def find(archive, *, name: str, dob: dt.date | None = None, keyring, actor: str, purpose: str = "rights_request",
         audit_it: bool = True) -> dict:
    """Everything stored about a person: matched mentions, mentions linked to them, possible matches
    (same name, DOB unknown), and every row about them per table."""
    norm, ident = _identity(name, dob)
    matched, possible = set(), set()
    for p in sg.parties_by_name_words(archive, norm.split()):
        if normalise_name(full_name(p)) != norm:
            continue
        if dob is None or p["date_of_birth"] == dob:
            matched.add(p["id"])
        elif p["date_of_birth"] is None:
            possible.add(p["id"])
    forms = normalise_name_forms(name)
    tokens = _tokens(keyring, forms, dob)
    if dob is not None:
        possible |= set(sg.parties_by_tokens(archive, _tokens(keyring, forms, None)))
    matched |= set(sg.parties_by_tokens(archive, tokens))
    possible -= matched
    persons = sg.persons_of(archive, matched)
    linked = set(sg.parties_of_persons(archive, set(persons.values()))) - matched if persons else set()
    rows = sg.subject_rows(archive, sorted(matched | linked))
    out = {"subject_token": keyring.token("subject", ident), "party_ids": sorted(matched),
           "linked_party_ids": sorted(linked), "possible_party_ids": sorted(possible),
           "person_ids": sorted(set(persons.values())), "counts": {t: len(v) for t, v in rows.items()}, "rows": rows}
    if audit_it:
        audit.record(archive, actor=actor, role="admin", action="rights_find", purpose=purpose,
                     objects={"party": sorted(matched | linked)},
                     details={"subject_token": out["subject_token"], "counts": out["counts"],
                              "possible": len(possible)})
    return out


def open_request(archive, *, kind: str, name: str, dob: dt.date | None = None, keyring, actor: str) -> dict:
    if kind not in KINDS:
        raise RightsError(f"unknown request kind {kind!r}: one of {', '.join(KINDS)}")
    f = find(archive, name=name, dob=dob, keyring=keyring, actor=actor)
    found = {"party_ids": f["party_ids"], "linked_party_ids": f["linked_party_ids"],
             "possible_party_ids": f["possible_party_ids"], "counts": f["counts"]}
    rid = sg.save_rights_request(archive, {"kind": kind, "received_at": sg.now(), "subject_token": f["subject_token"],
                                           "found": found, "status": "open"})
    audit.record(archive, actor=actor, role="admin", action="rights_open", purpose="rights_request",
                 objects={"rights_request": [rid]}, details={"kind": kind})
    return {"id": rid, **found}


def decide(archive, request_id: int, *, decision: str, reasons: str, actor: str,
           with_view_to_publication: bool = False, public_interest_belief: bool = False,
           incompatible_with_journalism: bool = False) -> dict:
    """Record the decision.  Refusing under the journalism exemption needs all three limbs of
    para 26 (with a view to publication; reasonable belief that publication is in the public
    interest; compliance incompatible with journalism) and reasons; it is decided case by case."""
    if decision not in DECISIONS:
        raise RightsError(f"decision must be one of {', '.join(DECISIONS)}")
    if not (reasons or "").strip() or not (actor or "").strip():
        raise RightsError("a decision is made by a named person and records its reasons")
    req = sg.get_rights_request(archive, request_id)
    if req is None:
        raise RightsError(f"no rights request {request_id}")
    exemption = None
    if decision == "refuse_exempt":
        if not (with_view_to_publication and public_interest_belief and incompatible_with_journalism):
            raise RightsError("the journalism exemption (DPA 2018 Sch 2 para 26) needs all three: with a view to "
                              "publication, reasonable belief in the public interest, compliance incompatible "
                              "with journalism")
        exemption = EXEMPTION
    text = reasons.strip()
    if exemption:
        text += ("\n[para 26 limbs: with a view to publication; reasonable belief in public interest; "
                 "compliance incompatible with journalism. Not exempt: " + "; ".join(NEVER_EXEMPT) + "]")
    sg.save_rights_request(archive, {"id": request_id, "decision": decision, "exemption": exemption,
                                     "reasons": text, "decided_by": actor, "decided_at": sg.now(),
                                     "status": "decided"})
    audit.record(archive, actor=actor, role="admin", action="rights_decide", purpose="rights_request",
                 objects={"rights_request": [request_id]}, details={"decision": decision, "exemption": exemption})
    return sg.get_rights_request(archive, request_id)


def erase(archive, party_ids: list[int], *, keyring, actor: str, mode: str = "pseudonymise",
          request_id: int | None = None, profile=None, home: Path | None = None, compact: bool = True) -> dict:
    """Erase the identity of these mentions now: ``pseudonymise`` (as on expiry: keyed token kept,
    links survive) or ``delete`` (no token, unlinked from persons).  Held mentions are skipped."""
    if mode not in ("pseudonymise", "delete"):
        raise RightsError("mode must be pseudonymise or delete")
    if request_id is not None:
        req = sg.get_rights_request(archive, request_id)
        if req is None or req["status"] != "decided" or req["decision"] not in ("comply", "partial"):
            raise RightsError("erase only after a decision to comply has been recorded")
    prof = profile or load(home=home)
    actions = prof.field_actions()
    classes = {a.cls for a in actions}
    started = sg.now()
    run_id = sg.start_run(archive, kind="erase", as_of=started.date(), actor=actor, profile={"mode": mode})
    with archive.engine.begin() as conn:
        sg.secure_delete_on(archive, conn)
        rows = sg.subject_batch(archive, conn, party_ids)
        held = _Held(sg.hold_scopes(archive, conn))
        pubs = {r["publication_id"] for t in ("party", "hearing", "offence") for r in rows[t]}
        plan = plan_batch(rows, due={p: set(classes) for p in pubs}, actions=actions, keyring=keyring, held=held,
                          run_id=run_id, now=started)
        if mode == "delete":
            for r in plan["updates"]["party"]:
                for k, v in list(r.items()):
                    if isinstance(v, str) and v.startswith("~p:"):
                        r[k] = "[erased]" if k == "name_as_listed" else None
            plan["coarse"] = []
        for table, upd in plan["updates"].items():
            sg.apply_updates(conn, table, upd)
        sg.save_coarse(archive, conn, plan["coarse"])
        done = sorted(r["id"] for r in plan["updates"]["party"])
        unlinked = sg.unlink_parties(archive, conn, [p["id"] for p in rows["party"] if not held.party(p)],
                                     drop_coarse=True) if mode == "delete" else {}
        counts = {"parties": len(done), "held": {str(k): v for k, v in plan["held"].items()},
                  "fields": dict(plan["fields"]), **unlinked}
        audit.record(archive, actor=actor, role="admin", action="erase", purpose="rights_request",
                     objects={"party": done, "rights_request": [request_id] if request_id else []},
                     details={"mode": mode, "run_id": run_id, **counts}, conn=conn)
    for hold_id, n in plan["held"].items():
        log.info("erasure: %d row(s) skipped under legal hold %s", n, hold_id)
    ev = hooks.ExpiryEvent(archive, run_id, "erase", started, party_ids=done,
                           hearing_ids=[r["id"] for r in plan["updates"]["hearing"]],
                           offence_ids=[r["id"] for r in plan["updates"]["offence"]],
                           case_ids=[r["id"] for r in plan["updates"]["case"]], home=home, profile=prof)
    counts["derived_stores"] = hooks.run(ev, prof.data["derived_stores"]["hooks"])
    if compact:
        counts["compaction"] = sg.compact(archive, list(TOUCHED_TABLES) + ["person_mention"])
    sg.update_run(archive, run_id, status="done", finished_at=sg.now(), counts=counts, batches=1)
    if request_id is not None:
        sg.save_rights_request(archive, {"id": request_id, "status": "done", "completed_at": sg.now()})
    return {"run_id": run_id, **counts}


RECTIFIABLE = ("title", "forenames", "middle_names", "surname", "name_as_listed", "date_of_birth", "age", "gender",
               "address", "town", "county", "postcode", "nationality")


def rectify(archive, party_id: int, *, field: str, value, actor: str, request_id: int | None = None) -> None:
    """Correct one identity/personal field of a mention (the audit records the field, not the values)."""
    if field not in RECTIFIABLE:
        raise RightsError(f"{field!r} cannot be rectified here: one of {', '.join(RECTIFIABLE)}")
    with archive.engine.begin() as conn:
        sg.apply_updates(conn, "party", [{"id": party_id, field: value}])
        audit.record(archive, actor=actor, role="admin", action="rectify", purpose="rights_request",
                     objects={"party": [party_id], "rights_request": [request_id] if request_id else []},
                     details={"field": field}, conn=conn)
