"""Data subjects' rights: find everything about a person, erase, rectify, and the journalism
exemption decision (DPA 2018 Sch 2 Part 5 para 26) recorded with its reasons.

The subject is never stored in clear: a request keeps a keyed token of the normalised name (and
DOB) and the ids found.  Searches match raw mentions by normalised name, pseudonymised mentions by
their keyed token (under every key held, so rotations do not hide data), and the link stage's
persons add the mentions linked to those.  Erasure and rectification happen only under a request
of that kind decided ``comply`` or ``partial``, and only to the mentions the request found.  Legal
holds stop erasure for their scope: the request stays pending until a run after the release.

Complainant mentions (pseudonymised at intake: keyed token, no cleartext) are found by the token of
a full name, which a namesake shares: they are erased only when named.  Erasing one unlinks it --
no token, no Bloom encoding, no descriptor, no person, its label in the list's text neutral -- as
nothing is held in clear that could be deleted or corrected (a rectification of one is refused).

Errors say what went wrong in one sentence; their type says what kind of no it is (the command's
exit code): `NotFound` (no such request or mention, nothing to act on), `Refused` (the policy says
no: no decision to comply, outside the request, done already ...), else bad input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections import Counter
from pathlib import Path

from ..store import governance as sg
from ..store.engine import queued_write, writing
from ..store.linkage import PARTY_COLS as _LINK_COLS
from . import audit, hooks
from .coarse import COARSE_FORM, full_name, is_token, outward_postcode, rectified_coarse
from .profile import add_months, load
from .pseudonym import name_spellings, normalise_name, normalise_name_forms
from .retention import TOUCHED_TABLES, _day, _digest, _Held, mark_failed, plan_batch, proof_step, retry_hooks, run_hooks

log = logging.getLogger("courtarchive.governance")

KINDS = ("access", "erasure", "rectification", "objection")
#: the keyed-token kind the intake gate gives complainants (`ingest.gate.TOKEN_KIND`)
COMPLAINANT_TOKEN = "complainant"
DECISIONS = ("comply", "partial", "refuse_exempt")
EXEMPTION = "DPA 2018 Sch 2 Part 5 para 26 (journalism)"
#: what an erased mention's listed name reads (``erase --mode delete``): a mark, not a name
ERASED = "[erased]"
#: never exempt under para 26 (LAW.md "Data protection")
NEVER_EXEMPT = ("security (UK GDPR Art 5(1)(f), 32)", "accountability (Art 5(2), 24, 30)",
                "processor contracts (Art 28)", "breach notification (Art 33, 72 hours)")


class RightsError(ValueError):
    """A rights action not taken (nothing done): bad input, unless its type says otherwise."""


class NotFound(RightsError):
    """No such request or mention, or nothing to act on."""


class Refused(RightsError):
    """The policy refuses the action: no decision to comply, outside the request, answered already ..."""


#: UK GDPR Art 12(3): the month to answer "may be extended by two further months where necessary,
#: taking into account the complexity and number of the requests"
EXTENSION_MONTHS = 2


def extension(req: dict) -> dict | None:
    """The request's Art 12(3) extension (months, reasons, by, at), if it was extended (`extend`)."""
    return (req.get("found") or {}).get("extension")


def due(req: dict) -> dt.date | None:
    """When a request must be answered: one month from receipt (UK GDPR Art 12(3)), or as many more
    months from receipt as an extension gave (`extend`)."""
    if not req.get("received_at"):
        return None
    ext = extension(req)
    return add_months(req["received_at"].date(), 1 + (ext["months"] if ext else 0))


def extend(archive, request_id: int, *, reasons: str, actor: str, months: int = EXTENSION_MONTHS,
           today: dt.date | None = None) -> dict:
    """Extend the date to answer request ``request_id`` by ``months`` (at most two) further months,
    for a complex request or many requests (Art 12(3)): once, and only while its first month runs --
    the subject must be told of it within that month, with the reasons.  Recorded on the request
    (months, reasons, who, when) and audited (the months and the new date; not the reasons, which
    may name someone)."""
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= EXTENSION_MONTHS:
        raise RightsError(f"an extension is by 1 or {EXTENSION_MONTHS} further months (UK GDPR Art 12(3)), "
                          f"not {months!r}")
    if not (reasons or "").strip() or not (actor or "").strip():
        raise RightsError("an extension is decided by a named person and records its reasons (--reasons, --actor)")
    req = sg.get_rights_request(archive, request_id)
    if req is None:
        raise NotFound(f"no rights request {request_id}")
    if ext := extension(req):
        raise Refused(f"request {request_id} was extended already ({ext['at'][:10]}, by {ext['by']}: answer by "
                      f"{due(req)}); Art 12(3) allows one extension")
    first = due(req)
    if (today or dt.date.today()) > first:
        raise Refused(f"the month to answer request {request_id} ended on {first}: an extension is made within it")
    if req["status"] == "done" or req["decision"] == "refuse_exempt":
        raise Refused(f"request {request_id} has been answered ({req['status']}, {req['decision']}): nothing to extend")
    found = dict(req.get("found") or {})
    found["extension"] = {"months": months, "reasons": reasons.strip(), "by": actor.strip(),
                          "at": sg.now().isoformat(timespec="seconds")}
    respond_by = due({**req, "found": found})
    with writing(archive.engine) as conn:
        sg.save_rights_request(archive, {"id": request_id, "found": found}, conn=conn)
        audit.record(archive, actor=actor, role="admin", action="rights_extend", purpose="rights_request",
                     objects={"rights_request": [request_id]},
                     details={"months": months, "respond_by": respond_by.isoformat()}, conn=conn)
    return {**req, "found": found}


def overdue(req: dict, today: dt.date) -> bool:
    """Not answered by its due date: still open, or decided to comply and not carried out.  (A
    refusal under the journalism exemption is an answer.)"""
    d = due(req)
    waiting = req["status"] == "open" or (req["status"] == "decided" and req["decision"] in ("comply", "partial"))
    return bool(d and waiting and d < today)


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
    (same name, DOB unknown), and every row about them per table.

    A mention in clear is the subject's when its name normalises to theirs (accents, case, order,
    punctuation, titles, variants: `normalise_name`), checked here on the candidates the store
    finds in one scan of the archive's own rows (`store.governance.parties_by_name_words`) -- not
    through the name search index, a derived store that leaves out mentions still held (superseded
    list versions, masked parties, lawyers) and may be missing or stale: a request must not be
    answered "nothing held" because an index was."""
    norm, ident = _identity(name, dob)
    matched, possible = set(), set()
    spelt = [name_spellings().get(w, frozenset({w})) for w in norm.split()]
    for p in sg.parties_by_name_words(archive, spelt, dob=dob):
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
    # a mention the link stage ties to the subject's person is theirs as a linked one (a request acts
    # on it by default), not a possible match left to check with them
    possible -= linked
    rows = sg.subject_rows(archive, sorted(matched | linked))
    # complainants: pseudonymised at intake under a keyed token of the full name, no date of birth --
    # so a name finds them, but only as possible matches (a namesake's would match as well)
    complainants = sg.complainants_by_tokens(
        archive, {t for form in forms for t in keyring.tokens_all(COMPLAINANT_TOKEN, form).values()})
    counts = {t: len(v) for t, v in rows.items()}
    counts["complainant"] = len(complainants)
    out = {"subject_token": keyring.token("subject", ident), "party_ids": sorted(matched),
           "linked_party_ids": sorted(linked), "possible_party_ids": sorted(possible),
           "complainant_ids": complainants,
           "person_ids": sorted(set(persons.values())), "counts": counts, "rows": rows}
    if audit_it:
        audit.record(archive, actor=actor, role="admin", action="rights_find", purpose=purpose,
                     objects={"party": sorted(matched | linked)},
                     details={"subject_token": out["subject_token"], "counts": out["counts"],
                              "possible": len(possible), "complainant_mentions": len(complainants)})
    return out


def open_request(archive, *, kind: str, name: str, dob: dt.date | None = None, keyring, actor: str) -> dict:
    if kind not in KINDS:
        raise RightsError(f"unknown request kind {kind!r}: one of {', '.join(KINDS)}")
    f = find(archive, name=name, dob=dob, keyring=keyring, actor=actor)
    found = {"party_ids": f["party_ids"], "linked_party_ids": f["linked_party_ids"],
             "possible_party_ids": f["possible_party_ids"], "complainant_ids": f["complainant_ids"],
             "counts": f["counts"]}
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
        raise NotFound(f"no rights request {request_id}")
    if req["status"] == "done":
        # carried out: deciding it again would put it back among those waiting ("decided", overdue
        # in time) over the decision that was carried out -- a new request is a new request
        raise Refused(f"request {request_id} was carried out ({req['decision']}, completed at "
                      f"{str(req['completed_at'])[:19]}): its decision stands; open a new request for a new one")
    exemption = None
    if decision == "refuse_exempt":
        if not (with_view_to_publication and public_interest_belief and incompatible_with_journalism):
            raise Refused("the journalism exemption (DPA 2018 Sch 2 para 26) needs all three: with a view to "
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


def _scope(req: dict) -> tuple[list[int], set[int]]:
    """(the mentions a request acts on by default: those its search matched and those linked to
    them; every mention it may act on: those plus the possible matches it found)."""
    found = req.get("found") or {}
    default = sorted(set(found.get("party_ids") or []) | set(found.get("linked_party_ids") or []))
    return default, set(default) | set(found.get("possible_party_ids") or [])


_WHAT = {"erasure": "an erasure", "rectification": "a rectification", "access": "a subject access copy"}
#: an objection upheld (Art 21(1): no compelling legitimate grounds override it) is carried out by
#: erasure, Art 17(1)(c) -- an archive cannot go on holding data it may not process
_LEADS_TO = {"erasure": ("erasure", "objection")}


def _decided(archive, request_id: int | None, kind: str) -> dict:
    """The request authorising an erasure, a rectification or an access copy: it must exist, be of
    ``kind`` (an erasure: or an objection, `_LEADS_TO`) and carry a decision to comply (``comply``
    or ``partial``)."""
    what = _WHAT[kind]
    if request_id is None:
        raise RightsError(f"{what} needs a decided {kind} request: `rights open --kind {kind}`, then "
                          f"`rights decide N --decision comply|partial`, then give N")
    req = sg.get_rights_request(archive, request_id)
    if req is None:
        raise NotFound(f"no rights request {request_id}")
    kinds = _LEADS_TO.get(kind, (kind,))
    if req["kind"] not in kinds:
        raise Refused(f"request {request_id} is a{'n' if req['kind'][0] in 'aeio' else ''} {req['kind']} "
                          f"request: only {' or '.join(kinds)} requests lead to {what}")
    if req["decision"] not in ("comply", "partial") or req["status"] not in ("decided", "done"):
        raise Refused(f"{what} only after a decision to comply has been recorded: request {request_id} is "
                          f"{req['status']}" + (f" ({req['decision']})" if req["decision"] else ""))
    return req


def _within(req: dict, party_ids=(), complainant_ids=(), *, undone: str = "nothing done") -> None:
    """Refuse any mention the request did not find (party: possible matches included)."""
    _, scope = _scope(req)
    found_c = set((req.get("found") or {}).get("complainant_ids") or [])
    for what, ids, allowed in (("party", party_ids, scope), ("complainant", complainant_ids, found_c)):
        outside = sorted(set(ids or ()) - allowed)
        if outside:
            raise Refused(f"{what} mention(s) {', '.join(map(str, outside))} are not among those request "
                          f"{req['id']} found (`rights list --json` shows them): {undone}")


def _erase_digest(plan: dict, unlinked: list[int], unlinked_complainants: list[int] = ()) -> str:
    """What one erasure committed (row ids and fields changed, coarse tokens written, mentions
    unlinked): the run's proof is chained over it as an expiry run's is over its batches."""
    d = _digest(plan)
    for what, ids in (("unlinked", unlinked), ("unlinked_complainants", unlinked_complainants)):
        if ids:
            d = hashlib.sha256((d + f"\n{what}:" + ",".join(map(str, sorted(ids)))).encode()).hexdigest()
    return d


#: what an erased complainant mention no longer holds: everything that singles the person out or
#: links the mention to their other mentions (the token and its key, the initials token, the Bloom
#: encoding; the descriptor -- "girl aged 13" -- narrows sex and birth year, linkage evidence).  Kept:
#: the kind and the extractor rule (``evidence``), the same for thousands of mentions.
COMPLAINANT_ERASED = ("token", "key_id", "initials_token", "bloom", "descriptor")
#: the free text the intake gate writes a complainant's label into (`ingest.gate._HEARING_TEXT`,
#: `ingest.gate._OFFENCE_TEXT`) as ``[complainant:<first 8 hex of the token>]``
LABELLED_TEXT = {"hearing": ("list_note", "case_name", "reporting_restriction_detail"),
                 "offence": ("title", "reporting_restriction_detail", "wording")}
COMPLAINANT_LABEL = re.compile(r"\[complainant:([0-9a-f]{8})\]")
#: an erased complainant's place in that text: the gate's own mark for a complainant of no token
#: (`link.complainants.Extraction.relabel`)
UNLABELLED = "[complainant]"


def _unlabelled(texts: dict[str, list[dict]], mentions: list[dict], gone: set[int]) -> list[tuple]:
    """The text rows whose complainant labels go once mentions ``gone`` are erased: (table, row,
    {field: new text}, the erased mentions the change is of).  A label goes from a row when every
    mention carrying it there (in that offence's wording, that hearing) is erased -- or, in a row
    no mention carrying it sits in (a name the gate scrubbed from other text of the list), when
    every mention of the list carrying it is."""
    by_label: dict[tuple, list[dict]] = {}
    for m in mentions:
        by_label.setdefault((m["publication_id"], m["token"][:8]), []).append(m)
    out = []
    for table, rows in texts.items():
        for r in rows:
            of: set[int] = set()

            def sub(match):
                carried = by_label.get((r["publication_id"], match.group(1)), [])
                carried = [m for m in carried if m[f"{table}_id"] == r["id"]] or carried
                if not carried or any(m["id"] not in gone for m in carried):
                    return match.group(0)
                of.update(m["id"] for m in carried)
                return UNLABELLED

            ch = {f: new for f in LABELLED_TEXT[table] if r[f] and (new := COMPLAINANT_LABEL.sub(sub, r[f])) != r[f]}
            if ch:
                out.append((table, r, ch, of))
    return out


def _complainant_plan(archive, conn, ids: list[int], held: _Held, plan: dict) -> dict:
    """Add to ``plan`` what erasing complainant mentions ``ids`` changes: their identifying columns
    (`COMPLAINANT_ERASED`) cleared and their labels in the list's free text `UNLABELLED`
    (`_unlabelled`; over the new text where the plan rewrites it too).  A mention is kept by a hold
    on its case or court, on its complainant person or on the defendant its offence charges -- or
    on text whose label would change with it.  Returns {"kept": {mention id: hold}, "erased": rows}."""
    rows = sg.complainant_batch(archive, conn, ids)
    kept = {c["id"]: h for c in rows if (h := held.complainant(c))}
    pubs = {c["publication_id"] for c in rows if c["token"]}
    texts = sg.labelled_texts(archive, conn, pubs, LABELLED_TEXT, "[complainant:") if pubs else {}
    for table, trs in texts.items():
        new = {u["id"]: u for u in plan["updates"][table]}
        for r in trs:
            r.update({f: v for f, v in new.get(r["id"], {}).items() if f in LABELLED_TEXT[table]})
    mentions = sg.complainant_tokens(archive, conn, pubs) if texts else []
    while True:
        edits = _unlabelled(texts, mentions, {c["id"] for c in rows if c["id"] not in kept})
        stop = {cid: h for _, r, _, of in edits if (h := held.text(r)) for cid in of}
        if not stop:
            break
        kept.update(stop)
    erased = [c for c in rows if c["id"] not in kept]
    plan["updates"]["complainant"] = [{"id": c["id"], **{f: None for f in COMPLAINANT_ERASED}}
                                      for c in erased if any(c[f] is not None for f in COMPLAINANT_ERASED)]
    for table, r, ch, _ in edits:
        have = next((u for u in plan["updates"][table] if u["id"] == r["id"]), None)
        if have is None:
            plan["updates"][table].append({"id": r["id"], **ch})
        else:
            have.update(ch)
        plan["fields"].update(f"{table}.{f}" for f in ch)
    return {"kept": kept, "erased": erased}


def _covered(req: dict, progress: dict) -> bool:
    """Whether an erasure request's runs (its ``found["erasure"]`` progress) erased everything it
    covers: no mention kept by a hold, and every mention a ``comply`` decision covers erased
    (``partial``: the named ones were).  Done then, once no derived store holds a copy."""
    default, _ = _scope(req)
    return (not progress.get("pending") and not progress.get("pending_complainants")
            and (req["decision"] == "partial" or set(default) <= set(progress.get("erased_party_ids") or [])))


def _failed_runs(archive, kind: str, request_id: int) -> list[dict]:
    """The runs of ``kind`` under a request whose derived-store hooks failed or did not finish
    (interrupted: also one the request's progress does not list yet): those acting again retries."""
    return [r for r in sg.runs_with_failed_hooks(archive)
            if r["kind"] == kind and (r["profile"] or {}).get("request_id") == request_id]


def settle(archive, request_id: int, *, by_run: int, actor: str) -> bool:
    """Mark an erasure request done that only its derived stores kept pending: everything it covers
    erased (`_covered`) and now no run under it with a hook failed -- when a later run retried them
    (`retention.retry_hooks`).  Audited (``rights_done``: the request, the run that retried).
    Returns whether it is done now."""
    req = sg.get_rights_request(archive, request_id)
    progress = ((req or {}).get("found") or {}).get("erasure")
    if (req is None or req["status"] != "decided" or not progress or not _covered(req, progress)
            or _failed_runs(archive, "erase", request_id)):
        return False
    with writing(archive.engine) as conn:
        sg.save_rights_request(archive, {"id": request_id, "status": "done", "completed_at": sg.now()}, conn=conn)
        audit.record(archive, actor=actor, role="admin", action="rights_done", purpose="rights_request",
                     objects={"rights_request": [request_id], "retention_run": [by_run]},
                     details={"kind": "erase", "by_run": by_run}, conn=conn)
    log.info("erasure request %s done: run %s purged its derived stores", request_id, by_run)
    return True


def erase(archive, party_ids: list[int] | None = None, *, complainant_ids: list[int] | None = None, keyring,
          actor: str, mode: str = "pseudonymise", request_id: int | None = None, profile=None,
          home: Path | None = None, compact: bool = True) -> dict:
    """Erase the identity of the mentions a decided erasure request found: ``pseudonymise`` (as on
    expiry: keyed token kept, links survive) or ``delete`` (no token, unlinked from persons).

    Only under an erasure request decided ``comply`` or ``partial``.  ``party_ids`` narrows it to
    some of the mentions the request found (possible matches included); without them a ``comply``
    request erases every mention it matched and those linked to them (a ``partial`` one needs them
    named).  Complainant mentions the request found are erased only when named
    (``complainant_ids``: found by a name alone, a namesake's match too), in either mode the same
    way: unlinked (`_complainant_plan`).  Mentions under a legal hold are kept: the result says which
    hold keeps how many, and the request stays pending (status ``decided``) until a later run after
    the release erases them (held complainant mentions too, named or not); it is ``done`` once
    everything it covers is erased (``partial``: the named mentions)."""
    if mode not in ("pseudonymise", "delete"):
        raise RightsError("mode must be pseudonymise or delete")
    req = _decided(archive, request_id, "erasure")
    if req["status"] == "done":
        raise Refused(f"request {request_id} was completed at {req['completed_at']}: nothing left to erase under it")
    found = dict(req.get("found") or {})
    progress = dict(found.get("erasure") or {})
    default, _ = _scope(req)
    _within(req, party_ids, complainant_ids)
    complainants = sorted(set(complainant_ids or []) | {int(c) for c in progress.get("pending_complainants") or {}})
    if party_ids:
        targets = sorted(set(party_ids))
    elif req["decision"] == "partial" and not complainants:
        raise RightsError(f"request {request_id} was decided partial: name the mentions to erase (--party, --complainant)")
    else:
        targets = default if req["decision"] == "comply" else []
    if not targets and not complainants:
        maybe = [f"{what} {', '.join(map(str, ids))}" for what, ids in (
            ("possible match(es) (party mentions)", found.get("possible_party_ids")),
            ("complainant mention(s)", found.get("complainant_ids"))) if ids]
        if maybe:       # (not "nothing held": found by name only, a namesake's would match too)
            raise RightsError(f"request {request_id} found no party mention surely the subject's; its "
                              f"{' and '.join(maybe)} (found by name only: check with the subject) are erased "
                              "when named: --party ID, --complainant ID")
        raise NotFound(f"request {request_id} found no mention to erase")
    prof = profile or load(home=home)
    actions = prof.field_actions()
    classes = {a.cls for a in actions}
    started = sg.now()
    run_id = sg.start_run(archive, kind="erase", as_of=started.date(), actor=actor,
                          profile={"mode": mode, "request_id": request_id})
    try:
        with queued_write(archive.engine, "governance") as conn:
            sg.secure_delete_on(archive, conn)
            rows = sg.subject_batch(archive, conn, targets)
            held = _Held(sg.hold_scopes(archive, conn))
            pubs = {r["publication_id"] for t in ("party", "hearing", "offence") for r in rows[t]}
            plan = plan_batch(rows, due={p: set(classes) for p in pubs}, actions=actions, keyring=keyring, held=held,
                              run_id=run_id, now=started)
            if mode == "delete":
                for r in plan["updates"]["party"]:
                    for k, v in list(r.items()):
                        if isinstance(v, str) and v.startswith("~p:"):
                            r[k] = ERASED if k == "name_as_listed" else None
                plan["coarse"] = []
            comp = _complainant_plan(archive, conn, complainants, held, plan)
            for table, upd in plan["updates"].items():
                sg.apply_updates(conn, table, upd)
            sg.save_coarse(archive, conn, plan["coarse"])
            done = sorted(r["id"] for r in plan["updates"]["party"])
            kept = {p["id"]: h for p in rows["party"] if (h := held.party(p))}
            free = [p["id"] for p in rows["party"] if p["id"] not in kept]
            unlinked = sg.unlink_parties(archive, conn, free, drop_coarse=True) if mode == "delete" else {}
            erased_c = [c["id"] for c in comp["erased"]]
            unlinked_c = sg.unlink_complainants(archive, conn, erased_c)
            digest = _erase_digest(plan, free if mode == "delete" else [], erased_c)
            proof = proof_step(sg.GENESIS, digest)
            held_parties = Counter(str(h) for h in kept.values())
            held_complainants = Counter(str(h) for h in comp["kept"].values())
            counts = {"parties": len(done), "held": {str(k): v for k, v in plan["held"].items()},
                      "held_parties": dict(held_parties), "fields": dict(plan["fields"]), **unlinked,
                      "complainants": len(erased_c), "held_complainants": dict(held_complainants),
                      "complainant_person_mentions_deleted": unlinked_c}
            audit.record(archive, actor=actor, role="admin", action="erase", purpose="rights_request",
                         objects={"party": done, "complainant": erased_c, "rights_request": [request_id]},
                         details={"mode": mode, "run_id": run_id, "batch": 1, "digest": digest, **counts}, conn=conn)
            sg.update_run(archive, run_id, conn=conn, proof_hash=proof, batches=1)
        for hold_id, n in (held_parties + held_complainants).items():
            log.warning("erasure (request %s): %d mention(s) kept under legal hold %s", request_id, n, hold_id,
                        extra={"hold_kept": True})      # (`rights erase` says it itself: `cli._said_by_the_command`)
        ev = hooks.ExpiryEvent(archive, run_id, "erase", started, party_ids=done,
                               hearing_ids=sorted({r["id"] for r in plan["updates"]["hearing"]}
                                                  | {c["hearing_id"] for c in comp["erased"]}),
                               offence_ids=sorted({r["id"] for r in plan["updates"]["offence"]}
                                                  | {c["offence_id"] for c in comp["erased"] if c["offence_id"]}),
                               case_ids=[r["id"] for r in plan["updates"]["case"]], home=home, profile=prof)
        counts["derived_stores"], failed = run_hooks(
            archive, ev, prof.data["derived_stores"]["hooks"], actor=actor,
            objects={"retention_run": [run_id], "rights_request": [request_id]})
        counts.update(failed)
        counts["earlier_hooks_failed"] = retry_hooks(archive, _failed_runs(archive, "erase", request_id), by_run=run_id,
                                                     actor=actor, profile=prof, home=home, settle=False)
        if compact:
            counts["compaction"] = sg.compact(archive, list(TOUCHED_TABLES) + ["person_mention", "complainant"])
        sg.update_run(archive, run_id, status="failed" if failed else "done", finished_at=sg.now(),
                      counts={k: v for k, v in counts.items() if k != "earlier_hooks_failed"})
    except BaseException:
        mark_failed(archive, run_id)
        raise
    # the request's progress: mentions erased so far, those a hold keeps; done when nothing is left
    erased = set(progress.get("erased_party_ids") or []) | (set(targets) - set(kept))
    erased_all_c = set(progress.get("erased_complainant_ids") or []) | set(erased_c)
    found["erasure"] = {"erased_party_ids": sorted(erased), "pending": {str(p): h for p, h in kept.items()},
                        "erased_complainant_ids": sorted(erased_all_c),
                        "pending_complainants": {str(c): h for c, h in comp["kept"].items()},
                        "runs": (progress.get("runs") or []) + [run_id], "mode": mode}
    # (and not while a derived store still holds a copy: a hook of this or an earlier run failed)
    complete = _covered(req, found["erasure"]) and not failed and not counts["earlier_hooks_failed"]
    row = {"id": request_id, "found": found}
    if complete:
        row.update(status="done", completed_at=sg.now())
    sg.save_rights_request(archive, row)
    left = sorted(set(default) - erased) if req["decision"] == "comply" else []
    return {"run_id": run_id, "request_id": request_id, "complete": complete, "pending_party_ids": sorted(kept),
            "pending_complainant_ids": sorted(comp["kept"]), "not_yet_erased": sorted(set(left) - set(kept)),
            "proof_hash": proof, **counts}


RECTIFIABLE = ("title", "forenames", "middle_names", "surname", "name_as_listed", "date_of_birth", "age", "gender",
               "address", "town", "county", "postcode", "nationality")
#: built-in hooks that purge copies of data that must go (expiry, erasure); a rectification changes
#: a value, it does not remove one: only the stores that re-derive from the archive are run
_PURGE_ONLY = (hooks.exports_cache, hooks.linkage_inputs)
#: the name parts a case name or a case key may carry (copied from the list at ingest)
_NAME_FIELDS = ("title", "forenames", "middle_names", "surname", "name_as_listed")
#: the fields the link stage scores mentions on (`store.linkage.defendant_mentions`)
_LINKED_FIELDS = tuple(f for f in RECTIFIABLE if f in _LINK_COLS)


def _expired_as(prof, field: str) -> str | None:
    """What the expiry of a mention's personal fields made of ``party.<field>`` -- the profile's
    action (delete, band, outward ...) -- or None when it keeps the field in clear.  An identity
    field is kept (its expiry pseudonymises the mention, which a rectification refuses); a field
    the profile expires in another class than ``personal`` is taken to have gone with them (the
    safe side: its correction is then kept only in the coarse form, or refused -- never written in
    clear where the expiry may have removed it)."""
    for a in prof.field_actions():
        if a.table == "party" and a.field == field:
            return None if a.action == "keep" or a.cls == "identity" else a.action
    return None


def _personal_expired(archive, conn, prof, field: str, have: dict, coarse_have: dict, held: _Held) -> list[int]:
    """The mentions (``have``: id -> party row, none pseudonymised) whose ``field`` the expiry of
    their personal fields removed (its identity has not expired).  The expiry writes a coarse row
    for such a mention when it keys its name (``coarse_have``: `retention.plan_batch`); an
    organisation's mention, or one without a name, gets none, and is known as expired the way the
    expiry job tells it is due: its publication's date is before the cut-off of the field's class
    (`retention._day`, `Profile.cutoff`) on the latest day an expiry ran for (today, or a later
    ``--now``), no legal hold reaches it (held rows are skipped), and none of the fields of that
    class the expiry deletes holds a value (it deletes them all at once: one that still holds one
    has not been reached yet, and is corrected in clear, as any mention the expiry has not reached;
    the next expiry removes it).  Sorted ids."""
    action = next((a for a in prof.field_actions() if a.table == "party" and a.field == field), None)
    if action is None:
        return []
    gone = [a.field for a in prof.field_actions()
            if a.table == "party" and a.cls == action.cls and a.action in ("delete", "band")]
    rest = [p for i, p in have.items() if i not in coarse_have]
    days = sg.publication_days(archive, conn, {p["publication_id"] for p in rest}) if rest else {}
    last = sg.last_expiry_as_of(archive, conn) if rest else None
    as_of = max(filter(None, (dt.date.today(), last)))
    cut = prof.cutoff(action.cls, as_of)
    bare = {p["id"] for p in rest
            if (day := _day(days.get(p["publication_id"]) or {})) is not None and day < cut
            and not held.party(p) and all(p.get(f) is None for f in gone)}
    return sorted(set(coarse_have) & set(have) | bare)


def _words(s: str | None) -> set[str]:
    return set(normalise_name(s or "").split())


def _quotes(text: str, old: str) -> list[re.Match]:
    """Where ``text`` quotes the value ``old``: its words, whole, in any case and spacing."""
    words = old.split()
    if not words:
        return []
    return list(re.finditer(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", text, re.IGNORECASE))


def _case_names(have: dict, field: str, value, hearings: dict, parties: list[dict]) -> tuple[list[dict], list[int]]:
    """The case names (``hearings``: id -> hearing row) of the rectified mentions (``have``) quoting
    the old value of the name part ``field``: corrected where that is sure -- the case name quotes it
    once and no other party of the hearing bears it (``parties``: every party of the hearings), a
    value is given (not cleared) -- in the case of the quote ("R v SMITH" -> "R v SMYTHE"); else left
    as listed.  Returns the hearing rows to update and the hearings whose case name still carries an
    old value."""
    names = {hid: h["case_name"] for hid, h in hearings.items() if h["case_name"]}
    fixed, left = set(), set()
    for i, p in sorted(have.items()):
        old, hid = (p[field] or "").strip(), p["hearing_id"]
        if not old or hid not in names:
            continue
        text = names[hid]
        hits, w = _quotes(text, old), _words(old)
        if not hits and not (w and w <= _words(text)):
            continue
        shared = w and any(q["id"] != i and w <= _words(" ".join(filter(None, (
            q["title"], q["forenames"], q["middle_names"], q["surname"], q["name_as_listed"], q["organisation_name"]))))
            for q in parties if q["hearing_id"] == hid)
        if len(hits) == 1 and not shared and value:
            m = hits[0]
            new = value.upper() if m.group().isupper() else value
            names[hid] = text[:m.start()] + new + text[m.end():]
            fixed.add(hid)
        else:
            left.add(hid)
    return [{"id": hid, "case_name": names[hid]} for hid in sorted(fixed)], sorted(left)


def _case_key_name(key: str) -> str:
    """The name part of a case key made from names (``cn:<court>:<number>:<defendant>``,
    ``name:<court>:<case name>``, `store.archive._case_key`); "" for a URN's, or a keyed one."""
    if key.startswith("cn:"):
        name = key.rpartition(":")[2]
    elif key.startswith("name:"):
        name = key.split(":", 2)[2] if key.count(":") >= 2 else ""
    else:
        return ""
    return "" if is_token(name) else name


def _rectified(field: str, value, clear: bool):
    """The value to store, checked: a missing value is refused unless ``clear`` says so."""
    if clear:
        if value not in (None, ""):
            raise RightsError("give the correct value (--value) or --clear, not both")
        return None
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RightsError(f"rectify needs the correct value of {field} (--value); to remove the value, --clear")
    if field == "date_of_birth":
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            s = str(value).strip()
            try:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
                    raise ValueError(s)
                value = dt.date.fromisoformat(s)
            except ValueError:
                raise RightsError(f"date_of_birth must be a date YYYY-MM-DD, not {s!r}") from None
        if value > dt.date.today() or value.year < 1880:
            raise RightsError(f"{value.isoformat()} is not a possible date of birth")
        return value
    if field == "age":
        s = str(value).strip()
        if isinstance(value, bool) or not re.fullmatch(r"\d{1,3}", s) or int(s) > 130:
            raise RightsError(f"age must be a whole number of years (0-130), not {s!r}")
        return int(s)
    return value.strip() if isinstance(value, str) else value


def rectify(archive, party_ids, *, field: str, value=None, actor: str, request_id: int | None = None,
            clear: bool = False, profile=None, home: Path | None = None, complainant_ids=None,
            keyring=None) -> dict:
    """Correct one identity/personal field of mentions a decided rectification request found
    (UK GDPR Art 16; the audit records the field, never the values).  Refused: a mention that does
    not exist or is outside the request, a pseudonymised mention (expired or erased: clear text
    written into it would re-identify erased data), a missing value (unless ``clear``), a date of
    birth or age that is not one, a field that expired with the mention's personal fields and is
    kept in no coarse form (below).  Then the derived stores that re-derive from the archive follow
    (the search index re-indexes the mentions: the old name is no longer found), under a run of kind
    ``rectify``: a hook that fails (or does not finish) is retried by the next `expire` -- or this
    rectification run again -- as an erasure's is (``run_id``, ``hooks_failed``).  A complainant
    mention is refused whatever is asked: it holds no clear text, only keyed pseudonyms.

    The copies ingest made of a name follow it, or are reported (never their values):

    - the case name of the mention's hearing ("R v SMITH", "Police v John SMITH") quoting the old
      value of a name part is corrected in the same transaction (``case_name_corrected``: hearing
      ids) when that is sure: it quotes it once, whole words, and no other party of the hearing
      bears it ("R v SMITH and SMITH": whose?), and a value is given (``--clear`` rewrites none).
      Else it is left as listed and reported (``case_name_unchanged``), as the name as listed is
      (``name_as_listed_unchanged``);
    - a case key made from names (``cn:<court>:<number>:<defendant>``, ``name:<court>:<case
      name>``; never shown) carrying the old value is kept and reported (``case_key_unchanged``:
      case ids): it is what the court's later lists of the case, printing the name as they do,
      are matched by -- rewritten, the case would split or collide with the corrected one; expiry
      keys it as any identity;
    - a field the link stage scores mentions on (names, date of birth, age, gender, town,
      postcode): the mentions leave their linked persons (``unlinked``), so the next link run,
      incremental too, scores them again as new mentions on the corrected value; one a legal hold
      reaches keeps its person (``links_kept_held``: a person hold reaches its mentions through
      it) until a full link run (`link --full`) scores it again;
    - the search index re-derives the mentions' names (the hook above): found under the
      corrected name, no longer under the old one;
    - a mention whose personal fields expired before its identity keeps a keyed token of its name
      and date of birth in ``party_coarse``: made again from the corrected ones (``keyring``), or
      dropped where it cannot be (`coarse.rectified_token`; ``coarse_token_remade`` /
      ``coarse_token_dropped``: party ids).  A corrected date of birth remakes it from the name
      and that date even once the date of birth it was made with is deleted; without a keyring
      it is dropped (`coarse.rectified_coarse`);
    - the coarse attributes that row keeps follow the correction, computed as the expiry computed
      them (`coarse.coarse_party`; the age banded on the hearing's date, else the day of the run
      that wrote the row): a date of birth or age
      moves the age band, a postcode the outward postcode, a town the police force area
      (``coarse_attribute_updated``: party ids; which one: `coarse.COARSE_FORM`).

    A field that expired -- the mention has a coarse row, so its personal fields expired
    (`retention.plan_batch` writes it then; the identity's expiry, or an erasure, pseudonymises the
    mention too), and the profile does not keep the field (`_expired_as`) -- is never written back
    in clear: that would bring back what the retention policy removed.  Its correction goes only
    into the form the archive keeps now (``expired_kept_coarse``: party ids): a date of birth or
    age into the age band (and the token), the party row keeping none; a postcode into the outward
    postcode, in the party row and the coarse row (a value with no outward code is refused).  A
    field the archive keeps no form of (an address, a nationality) is refused: nothing is held that
    a correction could go into; nothing rectified.  A mention the expiry wrote no coarse row for (an
    organisation's, a nameless one: `_personal_expired` tells whether its fields expired) keeps a
    postcode as its outward code and nothing else: a date of birth or age is refused too."""
    if complainant_ids:
        raise Refused(f"complainant mention(s) {', '.join(map(str, sorted(set(complainant_ids))))} hold nothing in "
                      "clear that could be corrected (only keyed pseudonyms of the name): nothing rectified; to have "
                      "a mention no longer linked to the subject, open an erasure request and `rights erase N "
                      "--complainant ID`")
    if field not in RECTIFIABLE:
        raise RightsError(f"{field!r} cannot be rectified here: one of {', '.join(RECTIFIABLE)}")
    ids = sorted({party_ids} if isinstance(party_ids, int) else set(party_ids or []))
    if not ids:
        raise RightsError("rectify needs the mention(s) to correct (--party)")
    v = _rectified(field, value, clear)
    req = _decided(archive, request_id, "rectification")
    prof = profile or load(home=home)
    started = sg.now()
    with queued_write(archive.engine, "governance") as conn:
        batch = sg.subject_batch(archive, conn, ids)
        have = {p["id"]: p for p in batch["party"]}
        missing = [i for i in ids if i not in have]
        if missing:
            raise NotFound(f"no party mention {', '.join(map(str, missing))}: nothing rectified")
        _within(req, ids)
        pseudo = [i for i in ids if have[i]["pseudonymised"]]
        if pseudo:
            raise Refused(f"party mention(s) {', '.join(map(str, pseudo))} are pseudonymised (expired or erased): "
                              "writing clear text into them would re-identify erased data; nothing rectified")
        # a mention whose personal fields expired (not pseudonymised: its identity has not): a field
        # the expiry removed gets the correction only in the form the archive keeps now -- in its
        # coarse row, where it has one (a person's); an organisation's or a nameless mention has none
        coarse_have = sg.coarse_rows(archive, conn, ids)
        form = _expired_as(prof, field)
        held = _Held(sg.hold_scopes(archive, conn))
        expired = _personal_expired(archive, conn, prof, field, have, coarse_have, held) if form else []
        nowhere = [i for i in expired if form != "outward" and (
            i not in coarse_have or not (form in ("delete", "band") and field in COARSE_FORM))]
        if nowhere:
            raise Refused(f"the {field} of party mention(s) {', '.join(map(str, nowhere))} expired under the retention "
                          "profile (personal fields, before the identity) and the archive keeps no coarse form of it "
                          + ("" if set(nowhere) <= set(coarse_have) else "(no coarse row: an organisation or a "
                             "mention without a name) ")
                          + "that a correction could go into; writing it in clear would bring back what retention "
                          "removed: nothing rectified")
        kept = v
        if expired and form == "outward" and v is not None:
            kept = outward_postcode(v)
            if kept is None:
                raise RightsError(f"the {field} of party mention(s) {', '.join(map(str, expired))} expired and is "
                                  "kept as its outward code only, and the value given has none (not a UK postcode): "
                                  "nothing rectified")
        # a name part corrected while the name as listed still carries the old one: said (not shown)
        stale = sorted(i for i in ids if field in ("forenames", "middle_names", "surname")
                       and (w := _words(have[i][field])) and w <= _words(have[i]["name_as_listed"]))
        case_names, names_left, keys_left = [], [], []
        if field in _NAME_FIELDS:
            hearings = {h["id"]: h for h in batch["hearing"]}
            case_names, names_left = _case_names(have, field, v, hearings,
                                                 sg.hearing_parties(archive, conn, list(hearings)))
            keys_left = sorted(c["id"] for c in batch["case"] if any(
                (w := _words(have[i][field])) and w <= _words(_case_key_name(c["case_key"]))
                for i in ids if have[i]["case_id"] == c["id"]))
        unlinked, held_links = [], []
        if field in _LINKED_FIELDS:
            # the mentions' links were scored on the old value: they leave their persons, so the next
            # link run scores them again as new; one a legal hold reaches keeps its person (a person
            # hold reaches its mentions through it) until a full link run scores it again
            linked = sg.persons_of(archive, ids, conn=conn)
            held_links = sorted(i for i in linked if held.party(have[i]))
            unlinked = sorted(set(linked) - set(held_links))
        sg.secure_delete_on(archive, conn)
        # an expired field deleted (or banded) keeps no value in the party row: the coarse row alone
        sg.apply_updates(conn, "party", [{"id": i, field: v} for i in ids if i not in expired]
                         + ([{"id": i, field: kept} for i in expired] if form == "outward" else []))
        sg.apply_updates(conn, "hearing", case_names)
        coarse = []
        for i, have_c in coarse_have.items():
            on = have[i]["_sitting_date"] or have_c["run_day"]      # the day the expiry banded the age on
            if ch := rectified_coarse(keyring, have[i], {**have[i], field: v}, have_c, field, expired=i in expired,
                                      on=on, court_pfa=have[i]["_court_pfa"]):
                coarse.append({"party_id": i, **ch})
        sg.save_coarse(archive, conn, coarse)
        remade = sorted(c["party_id"] for c in coarse if c.get("token"))
        dropped = sorted(c["party_id"] for c in coarse if "token" in c and not c["token"])
        attrs = sorted(c["party_id"] for c in coarse if set(c) & set(COARSE_FORM.values()))
        sg.unlink_parties(archive, conn, unlinked, drop_coarse=False)
        audit.record(archive, actor=actor, role="admin", action="rectify", purpose="rights_request",
                     objects={"party": ids, "rights_request": [request_id],
                              **({"hearing": [h["id"] for h in case_names]} if case_names else {})},
                     details={"field": field, **({"cleared": True} if clear else {}),
                              **({"case_names_corrected": len(case_names)} if case_names else {}),
                              **({"unlinked": len(unlinked)} if unlinked else {}),
                              **({"coarse_tokens": len(remade) + len(dropped)} if remade or dropped else {}),
                              **({"coarse_attributes": len(attrs)} if attrs else {}),
                              **({"expired_kept_coarse": len(expired)} if expired else {})}, conn=conn)
        sg.save_rights_request(archive, {"id": request_id, "status": "done", "completed_at": sg.now()}, conn=conn)
    run_id = sg.start_run(archive, kind="rectify", as_of=started.date(), actor=actor,
                          profile={"request_id": request_id, "field": field})
    try:
        ev = hooks.ExpiryEvent(archive, run_id, "rectify", started, party_ids=ids, home=home, profile=prof)
        derived, failed = run_hooks(archive, ev, prof.data["derived_stores"]["hooks"], actor=actor, skip=_PURGE_ONLY,
                                    objects={"retention_run": [run_id], "party": ids, "rights_request": [request_id]})
        earlier = retry_hooks(archive, _failed_runs(archive, "rectify", request_id), by_run=run_id, actor=actor,
                              profile=prof, home=home)
        sg.update_run(archive, run_id, status="failed" if failed else "done", finished_at=sg.now(),
                      counts={"derived_stores": derived, **failed})
    except BaseException:
        mark_failed(archive, run_id)
        raise
    return {"request_id": request_id, "run_id": run_id, "party_ids": ids, "field": field,
            "name_as_listed_unchanged": stale, "case_name_corrected": [h["id"] for h in case_names],
            "case_name_unchanged": names_left, "case_key_unchanged": keys_left, "unlinked": unlinked,
            "links_kept_held": held_links, "derived_stores": derived,
            "coarse_token_remade": remade, "coarse_token_dropped": dropped, "coarse_attribute_updated": attrs,
            "expired_kept_coarse": expired,
            "hooks_failed": failed.get("hooks_failed", {}), "earlier_hooks_failed": earlier}
