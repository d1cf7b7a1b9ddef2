"""Retention and pseudonymise-on-expiry (LAW.md rule 8; the licence profile sets the periods).

`expire` is a resumable, idempotent, batched job.  For every publication whose content date is
older than a data class's period it rewrites the fields the profile lists (names -> keyed person
token ``~p:<hmac>``, DOB/address deleted, postcode -> outward code, age -> age band in
`party_coarse`, free text deleted or reduced to the restriction citations), marks parties
``pseudonymised`` and the publication ``raw_expired_at``.  Each batch is one transaction (SQLite:
``secure_delete`` on), so a killed run leaves whole batches; re-running finishes the rest, and
re-running a finished job changes nothing.  Rows under a legal hold are skipped and logged; their
publication stays un-expired so the next run after the release catches up.  Then derived stores
are cascaded (governance.hooks; one that fails -- or the run interrupted while they run -- leaves
the run ``failed`` and is retried by the next run: `run_hooks`, `retry_hooks`) and the database is
compacted so no old bytes remain (SQLite VACUUM + WAL truncate; PostgreSQL VACUUM FULL of the
touched tables).

The token is the same one the gate shows analysts and that a later expiry of the same person
produces: ``Keyring.token("person", normalise_name(name) + "|" + DOB)``.  Links survive.  When a
profile lets the personal fields (DOB, age, address) expire before the identity, the later stage
keeps what the first computed from them -- the token and the age band in `party_coarse` -- and
writes that token into the name fields (`_token_of`, `plan_batch`): made again without the DOB, it
would be another token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter
from pathlib import Path

from ..store import governance as sg
from ..store.engine import queued_write
from . import audit, hooks, restrictions
from .coarse import TOKEN_PREFIX, coarse_party, is_token, outward_postcode, person_token
from .profile import Profile, load
from .rules import RULES, parse_detail

log = logging.getLogger("courtarchive.governance")
TOUCHED_TABLES = ("party", "party_coarse", "hearing", "offence", "case", "publication", "review_decision")


def _day(p: dict) -> dt.date | None:
    d = p.get("content_date_end") or p.get("content_date")
    if d is None and p.get("ingested_at") is not None:
        d = p["ingested_at"].date()
    return d


def _summary(text: str | None, sitting: dt.date | None) -> str | None:
    if not text:
        return text
    orders = parse_detail(text, sitting=sitting)
    if not orders:
        return "reporting restriction (details removed on expiry)"
    return "; ".join(RULES[o.rule].law + (f" until {o.end.isoformat()}" if o.end else "") for o in orders)


def _case_key(key: str, keyring) -> str:
    """``cn:<court>:<number>:<defendant name>`` / ``name:<court>:<case name>``: the name part -> token."""
    if key.startswith("cn:"):
        head, _, name = key.rpartition(":")
        if name and not is_token(name):
            return f"{head}:{TOKEN_PREFIX}{keyring.token('casekey', name)}"
    elif key.startswith("name:"):
        parts = key.split(":", 2)
        if len(parts) == 3 and parts[2] and not is_token(parts[2]):
            return f"{parts[0]}:{parts[1]}:{TOKEN_PREFIX}{keyring.token('casekey', parts[2])}"
    return key


class _Held:
    def __init__(self, scopes: dict):
        self.s = scopes

    def party(self, p: dict) -> int | None:
        if self.s["archive"]:
            return self.s["archive"][0]
        return (self.s["party"].get(p["id"]) or self.s["case"].get(p.get("case_id"))
                or self.s["court"].get(p.get("_court_id")))

    def place(self, r: dict) -> int | None:
        if self.s["archive"]:
            return self.s["archive"][0]
        return self.s["case"].get(r.get("case_id")) or self.s["court"].get(r.get("_court_id") or r.get("court_id"))

    def complainant(self, c: dict) -> int | None:
        """A complainant mention: held with its complainant person, the defendant its offence
        charges (``_party_id``), its case or court."""
        return self.s["complainant"].get(c["id"]) or self.s["party"].get(c.get("_party_id")) or self.place(c)

    def text(self, r: dict) -> int | None:
        """A row of list text (an offence's, a hearing's): held with its case or court, or the
        defendant it charges."""
        return self.place(r) or self.s["party"].get(r.get("party_id"))


def _token_of(keyring, p: dict) -> tuple[str | None, str | None]:
    """The person token (and its key id) a party's name fields and coarse row get: `person_token`,
    unless the party's date of birth is gone and its coarse row holds a token already (``_coarse_token``,
    `sg.batch_rows` / `sg.subject_batch`).  That one was made when the party still had it (its
    personal fields expired before its identity) and is kept: made again now, without the date of
    birth, it would be another token, and links made with the first would no longer join.  (A
    rectification of the name or date of birth makes it again or drops it, `coarse.rectified_token`;
    dropped, it is made here from what the party holds.)"""
    if p.get("date_of_birth") is None and p.get("_coarse_token"):
        return p["_coarse_token"], p.get("_coarse_key_id")
    tok = person_token(keyring, p)
    return tok, (keyring.key_id if tok else None)


def plan_batch(rows: dict, *, due: dict[int, set[str]], actions, keyring, held: _Held, run_id: int | None,
               now: dt.datetime) -> dict:
    """What one batch changes: {"updates": {table: [rows]}, "coarse": [...], "held": Counter, ...}."""
    by_table: dict[str, list] = {}
    for a in actions:
        if a.action != "keep":
            by_table.setdefault(a.table, []).append(a)
    upd: dict[str, list[dict]] = {t: [] for t in ("party", "hearing", "offence", "case", "publication")}
    coarse, held_ct, fields = [], Counter(), Counter()
    held_pubs: set[int] = set()
    held_parties = {p["id"]: h for p in rows["party"] if (h := held.party(p))}
    held_hearings: dict[int, int] = {}
    for h in rows["hearing"]:
        hid = held.place(h) or next((held_parties[p["id"]] for p in rows["party"]
                                     if p["hearing_id"] == h["id"] and p["id"] in held_parties), None)
        if hid:
            held_hearings[h["id"]] = hid

    def change(table: str, r: dict, extra: dict | None = None) -> dict:
        ch = {}
        for a in by_table.get(table, []):
            if a.cls not in due.get(r.get("publication_id", r.get("id")), set()) and table != "case":
                continue
            v = r.get(a.field)
            if v is None:
                continue
            if a.action == "delete" or a.action == "band":
                new = None
            elif a.action == "outward":
                new = outward_postcode(v)
            elif a.action == "summary":
                new = _summary(v, (extra or {}).get("sitting"))
            elif a.action == "token":
                if table == "case":
                    new = _case_key(v, keyring)
                elif is_token(v):
                    continue
                else:
                    tok = (extra or {}).get("token")
                    if not tok:
                        continue            # an organisation's name, or nothing to key: kept
                    new = TOKEN_PREFIX + tok
            else:
                continue
            if new != v:
                ch[a.field] = new
                fields[f"{table}.{a.field}"] += 1
        return ch

    for p in rows["party"]:
        if p["id"] in held_parties:
            held_ct[held_parties[p["id"]]] += 1
            held_pubs.add(p["publication_id"])
            continue
        d = due.get(p["publication_id"], set())
        if "identity" not in d and "personal" not in d:
            continue
        tok, key_id = _token_of(keyring, p) if not p.get("organisation_name") or p.get("surname") else (None, None)
        ch = change("party", p, {"token": tok})
        if "identity" in d and not p.get("pseudonymised"):
            ch["pseudonymised"] = True
        if ch:
            upd["party"].append({"id": p["id"], **ch})
        personal_changed = any(k in ch for k in ("date_of_birth", "age", "postcode", "address"))
        if tok and "personal" in d and (personal_changed or not p.get("pseudonymised")):
            c = coarse_party(p, on=p.get("_sitting_date") or now.date(), court_pfa=p.get("_court_pfa"))
            # a value the party can no longer give (its date of birth and age deleted when its
            # personal fields expired: the age band) stays as an earlier stage computed it
            c = {k: v if v is not None else p.get("_coarse_" + k) for k, v in c.items()}
            coarse.append({"party_id": p["id"], "token": tok, "key_id": key_id, "run_id": run_id, **c})
    for h in rows["hearing"]:
        if h["id"] in held_hearings:
            held_ct[held_hearings[h["id"]]] += 1
            held_pubs.add(h["publication_id"])
            continue
        ch = change("hearing", h, {"sitting": h.get("sitting_date")})
        if ch:
            upd["hearing"].append({"id": h["id"], **ch})
    for o in rows["offence"]:
        hid = held_hearings.get(o["hearing_id"]) or held_parties.get(o["party_id"])
        if hid:
            held_ct[hid] += 1
            held_pubs.add(o["publication_id"])
            continue
        ch = change("offence", o)
        if ch:
            upd["offence"].append({"id": o["id"], **ch})
    held_cases = {h["case_id"] for h in rows["hearing"] if h["id"] in held_hearings}
    all_due = set().union(*due.values()) if due else set()
    for c in rows["case"]:
        if c["_other_raw"] or c["id"] in held_cases or held.place({"case_id": c["id"]}) or "identity" not in all_due:
            continue
        ch = change("case", c)
        if ch:
            upd["case"].append({"id": c["id"], **ch})
    full = {pid for pid, d in due.items() if d >= set(a.cls for a in actions if a.action != "keep")}
    for pub in rows["publication"]:
        if pub["id"] in held_pubs:
            continue
        ch = change("publication", {**pub, "publication_id": pub["id"]}) if "identity" in due.get(pub["id"], set()) else {}
        if pub["id"] in full and pub.get("raw_expired_at") is None:
            # (already set: another expiry run got to this publication first -- not counted twice)
            ch["raw_expired_at"] = now
        if ch:
            upd["publication"].append({"id": pub["id"], **ch})
    return {"updates": upd, "coarse": coarse, "held": held_ct, "fields": fields, "held_publications": held_pubs}


def proof_step(proof: str, digest: str) -> str:
    """The next link of a run's proof chain: ``sha256(proof + digest)`` from ``sg.GENESIS`` over its
    batches' digests in order (expiry and erasure write it; the compliance report re-derives it)."""
    return hashlib.sha256((proof + digest).encode()).hexdigest()


def _digest(plan: dict) -> str:
    h = hashlib.sha256()
    for table in sorted(plan["updates"]):
        for r in sorted(plan["updates"][table], key=lambda r: r["id"]):
            h.update(f"{table}:{r['id']}:{','.join(sorted(k for k in r if k != 'id'))}\n".encode())
    for c in sorted(plan["coarse"], key=lambda c: c["party_id"]):
        h.update(f"coarse:{c['party_id']}:{c['token']}\n".encode())
    return h.hexdigest()


def expire(archive, *, keyring, profile: Profile | None = None, as_of: dt.date | None = None,
           dry_run: bool = False, actor: str = "system", batch_size: int | None = None,
           home: Path | None = None, max_batches: int | None = None, compact: bool = True) -> dict:
    """Run the expiry job (see module doc).  Returns a report (counts only: never a value)."""
    prof = profile or load(home=home)
    as_of = as_of or dt.date.today()
    actions = prof.field_actions()
    classes = sorted({a.cls for a in actions if a.action != "keep"})
    cutoffs = {c: prof.cutoff(c, as_of) for c in classes}
    latest = max(cutoffs.values())
    size = prof.batch_size if batch_size is None else batch_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        # 0 once meant "the default" and a negative size an unlimited LIMIT: both refused
        raise ValueError(f"the batch size is a number of publications, at least 1, not {size!r}")
    started = sg.now()
    synced = {"created": []} if dry_run else restrictions.sync(archive, actor=actor)
    run_id = None if dry_run else sg.start_run(archive, kind="expire", as_of=as_of, actor=actor,
                                               profile=prof.retention_summary())
    report = {"run_id": run_id, "dry_run": dry_run, "as_of": as_of.isoformat(),
              "cutoffs": {c: d.isoformat() for c, d in cutoffs.items()}, "publications": 0,
              "publications_expired": 0, "parties_pseudonymised": 0, "persons_pseudonymised": 0,
              "organisations_pseudonymised": 0, "coarse_rows": 0, "fields": Counter(),
              "held": Counter(), "held_publications": 0, "batches": 0, "restrictions_synced": len(synced["created"]),
              "oldest_content_date": None, "newest_content_date": None}
    touched = {k: set() for k in ("party", "hearing", "offence", "case", "publication")}
    proof = sg.GENESIS
    after = 0
    try:
        while True:
            cands = sg.expiry_candidates(archive, cutoff=latest, after_id=after, limit=size)
            if not cands:
                break
            after = cands[-1]["id"]
            due = {c["id"]: {cls for cls, cut in cutoffs.items() if (_day(c) or as_of) < cut} for c in cands}
            days = [d for c in cands if (d := _day(c))]
            if days:
                lo, hi = min(days).isoformat(), max(days).isoformat()
                report["oldest_content_date"] = min(filter(None, [report["oldest_content_date"], lo]))
                report["newest_content_date"] = max(filter(None, [report["newest_content_date"], hi]))
            with queued_write(archive.engine, "governance") as conn:
                sg.secure_delete_on(archive, conn)
                rows = sg.batch_rows(archive, conn, [c["id"] for c in cands])
                held = _Held(sg.hold_scopes(archive, conn))
                plan = plan_batch(rows, due=due, actions=actions, keyring=keyring, held=held, run_id=run_id,
                                  now=started)
                digest = _digest(plan)
                if not dry_run:
                    for table, upd in plan["updates"].items():
                        sg.apply_updates(conn, table, upd)
                    sg.save_coarse(archive, conn, plan["coarse"])
                    proof = proof_step(proof, digest)
                    counts = {"parties": sum(1 for r in plan["updates"]["party"] if r.get("pseudonymised")),
                              "fields": dict(plan["fields"]), "held": {str(k): v for k, v in plan["held"].items()}}
                    audit.record(archive, actor=actor, role="admin", action="expire_batch", purpose="retention",
                                 objects={t: [r["id"] for r in u] for t, u in plan["updates"].items() if t == "publication"},
                                 details={"run_id": run_id, "batch": report["batches"] + 1, "digest": digest, **counts},
                                 conn=conn)
                    sg.update_run(archive, run_id, conn=conn, proof_hash=proof, batches=report["batches"] + 1)
            report["batches"] += 1
            report["publications"] += len(cands)
            report["publications_expired"] += sum(1 for r in plan["updates"]["publication"] if r.get("raw_expired_at"))
            done = [r["id"] for r in plan["updates"]["party"] if r.get("pseudonymised")]
            orgs = {p["id"] for p in rows["party"] if sg.is_organisation(p)}
            report["parties_pseudonymised"] += len(done)
            # (an organisation's row is marked done like a person's, its name kept: counted apart)
            report["organisations_pseudonymised"] += sum(1 for i in done if i in orgs)
            report["persons_pseudonymised"] += sum(1 for i in done if i not in orgs)
            report["coarse_rows"] += len(plan["coarse"])
            report["fields"].update(plan["fields"])
            report["held"].update(plan["held"])
            report["held_publications"] += len(plan["held_publications"])
            for t, u in plan["updates"].items():
                touched[t] |= {r["id"] for r in u}
            for hold_id, n in plan["held"].items():
                log.info("expiry: %d row(s) skipped under legal hold %s", n, hold_id)
            if max_batches is not None and report["batches"] >= max_batches:
                report["stopped_early"] = True
                break
        report["fields"] = dict(report["fields"])
        report["held"] = {str(k): v for k, v in report["held"].items()}
        if dry_run:
            audit.record(archive, actor=actor, role="admin", action="expire_dry_run", purpose="retention",
                         details={k: v for k, v in report.items() if k in ("publications", "fields", "held", "as_of")})
            return report
        ev = hooks.ExpiryEvent(archive, run_id, "expire", started, party_ids=sorted(touched["party"]),
                               hearing_ids=sorted(touched["hearing"]), offence_ids=sorted(touched["offence"]),
                               case_ids=sorted(touched["case"]), publication_ids=sorted(touched["publication"]),
                               home=home, profile=prof)
        report["derived_stores"], failed = run_hooks(archive, ev, prof.data["derived_stores"]["hooks"], actor=actor,
                                                     objects={"retention_run": [run_id]})
        report["hooks_failed"] = failed.get("hooks_failed", {})
        earlier = sg.runs_with_failed_hooks(archive)
        report["earlier_hooks_failed"] = retry_hooks(archive, earlier, by_run=run_id, actor=actor, profile=prof,
                                                     home=home)
        if compact and (ev.touched or earlier):
            report["compaction"] = sg.compact(archive, [t for t in TOUCHED_TABLES])
        report["proof_hash"] = proof
        final = {k: report[k] for k in ("publications", "publications_expired", "parties_pseudonymised",
                                        "persons_pseudonymised", "organisations_pseudonymised",
                                        "coarse_rows", "fields", "held", "held_publications", "batches",
                                        "restrictions_synced")}
        final["derived_stores"] = {k: v for k, v in report["derived_stores"].items()}
        sg.update_run(archive, run_id, status="failed" if failed else "done", finished_at=sg.now(),
                      counts={**final, **failed}, proof_hash=proof)
        audit.record(archive, actor=actor, role="admin", action="expire", purpose="retention",
                     objects={"retention_run": [run_id]},
                     details={**final, **({"hooks_failed": report["hooks_failed"]} if failed else {}),
                              "proof_hash": proof})
        return report
    except BaseException:
        mark_failed(archive, run_id)
        raise


def mark_failed(archive, run_id: int | None) -> None:
    """A run that raised or was interrupted is ``failed`` (its committed batches stand; hooks it
    recorded as failed or not finished are retried by the next run: `run_hooks`)."""
    if run_id is None:
        return
    try:
        sg.update_run(archive, run_id, status="failed", finished_at=sg.now())
    except Exception:  # pragma: no cover
        sg.release_run(archive, run_id)     # (left running: the next run marks it interrupted)


#: a hook a run started and did not see finish, in its ``hooks_failed`` (`run_hooks`)
UNFINISHED = "not finished"
#: what a run's counts hold while its hooks run or have failed: the hooks, the ids to retry them on
HOOK_MARKERS = ("hooks_failed", "hooks_retry")


def run_hooks(archive, ev: hooks.ExpiryEvent, specs: list[str], *, actor: str, objects: dict,
              skip=()) -> tuple[dict, dict]:
    """Run a run's derived-store hooks (`hooks.run`) and keep those that failed (`hook_failures`).
    Before the first runs, the run's counts list every hook to run as failed (`UNFINISHED`), with
    its event's ids: a run interrupted meanwhile (Ctrl-C; `mark_failed`, the interrupt raised on)
    is retried by the next `expire` (or erasure under the request) like one whose hooks failed.
    Whatever else the run's counts hold stays (`HOOK_MARKERS` only are written).  Returns the
    hooks' outcome and the failures kept."""
    def starting(names: list[str]) -> None:
        if ev.run_id is not None and names:
            sg.merge_run_counts(archive, ev.run_id, {"hooks_failed": dict.fromkeys(names, UNFINISHED),
                                                     "hooks_retry": hooks.event_ids(ev)})

    derived = hooks.run(ev, specs, skip=skip, starting=starting)
    return derived, hook_failures(archive, ev, derived, actor=actor, objects=objects)


def hook_failures(archive, ev: hooks.ExpiryEvent, derived: dict, *, actor: str, objects: dict) -> dict:
    """What a run keeps of its derived-store hooks that failed (``derived``: `hooks.run`'s outcome):
    ``hooks_failed`` ({hook: error}) and ``hooks_retry``, the ids of its event (`hooks.event_ids`),
    from which `retry_hooks` rebuilds it.  Written to the run's counts at once, in place of the
    hooks `run_hooks` listed as not finished (a run that dies after this is still retried; every
    hook ran: those markers go), the rest of its counts kept, and audited
    (``derived_stores_failed``: hooks and errors, no ids).  Returns them ({} when every hook ran)."""
    failed = {"hooks_failed": dict(derived["failed"]), "hooks_retry": hooks.event_ids(ev)} if derived["failed"] else {}
    if ev.run_id is not None:
        sg.merge_run_counts(archive, ev.run_id, failed, drop=HOOK_MARKERS)
    if not failed:
        return {}
    audit.record(archive, actor=actor, role="admin", action="derived_stores_failed",
                 purpose="retention" if ev.kind == "expire" else "rights_request",
                 objects=objects, details={"kind": ev.kind, "hooks_failed": failed["hooks_failed"]})
    return failed


def retry_hooks(archive, runs: list[dict], *, by_run: int, actor: str, profile: Profile,
                home: Path | None, settle: bool = True) -> dict[str, dict]:
    """Run again the derived-store hooks that failed (or did not finish) in earlier runs (``runs``:
    `sg.runs_with_failed_hooks`), each on the rows its run touched (its event rebuilt from the
    ids it kept, `hook_failures`).  A run whose hooks all succeed now is ``done``, its ids dropped
    (``hooks_retried``: hook -> the run that retried it); a hook no longer installed stays failed.
    An erasure request left pending only by its runs' hooks is then done (``settle``:
    `rights.settle`; an erasure retrying its own request's runs settles it itself).
    Returns {run id: {hook: error}} of the runs still failing."""
    still_failing: dict[str, dict] = {}
    for r in runs:
        counts = dict(r["counts"])
        failed = counts["hooks_failed"]
        ev = hooks.ExpiryEvent(archive, r["id"], r["kind"], r["started_at"], home=home, profile=profile,
                               **counts.get("hooks_retry", {}))
        out = hooks.run(ev, profile.data["derived_stores"]["hooks"], only=set(failed))
        still = {h: out["failed"].get(h, "not installed") for h in failed if h not in out or h in out["failed"]}
        counts["hooks_retried"] = {**counts.get("hooks_retried", {}), **{h: by_run for h in failed if h not in still}}
        if still:
            sg.update_run(archive, r["id"], counts={**counts, "hooks_failed": still})
            still_failing[str(r["id"])] = still
        else:
            counts.pop("hooks_failed")
            counts.pop("hooks_retry", None)
            sg.update_run(archive, r["id"], counts=counts, status="done")
    if runs:
        audit.record(archive, actor=actor, role="admin", action="derived_stores_retry", purpose="retention",
                     objects={"retention_run": [r["id"] for r in runs]},
                     details={"by_run": by_run, "still_failed": still_failing})
    if settle:
        from . import rights        # (rights builds on this module)

        for rid in sorted({(r["profile"] or {}).get("request_id") for r in runs
                           if r["kind"] == "erase" and str(r["id"]) not in still_failing} - {None}):
            rights.settle(archive, rid, by_run=by_run, actor=actor)
    return still_failing


#: the expiry actions that leave a field NULL: a value still there has not expired.  An outward
#: code is told from a full postcode in SQL (`sg.still_outward`), a summary from the text it
#: replaces by summarising it again (`_not_summarised`); a token is the identity class's, which a
#: party not pseudonymised holds.
_CLEARED = ("delete", "band")


def _not_summarised(archive, table: str, column: str) -> list[int]:
    """Ids of the rows of ``table`` (in lists not fully expired) whose ``column`` the ``summary``
    action would still rewrite: a summary summarises to itself (`_summary`; a value memoised with
    its sitting date, as lists repeat the same few order texts)."""
    memo: dict[tuple[str, dt.date | None], bool] = {}
    out = []
    for rid, text, sitting in sg.texts_unexpired(archive, table, column):
        raw = memo.get((text, sitting))
        if raw is None:
            raw = memo[text, sitting] = _summary(text, sitting) != text
        if raw:
            out.append(rid)
    return out


def class_status(archive, prof: Profile, as_of: dt.date) -> dict[str, dict]:
    """Per retention class the profile expires (`Profile.classes`): its limit and cut-off, the oldest
    list still holding its data un-expired and not under a legal hold (``oldest``), how many such
    lists (``publications``) and how many of them are before the cut-off (``overdue_publications``;
    ``overdue`` when any), and the lists before it a hold keeps (``held_publications``: held, not
    overdue -- every row of them holding the class's data held, as `plan_batch` skips rows).  One
    aggregate query per class (`sg.class_unexpired`): a list holds a class's data while a field the
    profile deletes or bands in the class holds a value -- or, the identity class, a party of it is
    not pseudonymised."""
    with archive.engine.connect() as conn:
        scopes = sg.hold_scopes(archive, conn)
    out: dict[str, dict] = {}
    actions = prof.field_actions()
    for cls in prof.classes:
        fields: dict[str, list[str]] = {}
        outward: dict[str, list[str]] = {}
        raw_rows: dict[str, list[int]] = {}
        for a in actions:
            if a.cls != cls or a.table not in ("party", "hearing", "offence", "publication"):
                continue
            if a.action in _CLEARED:
                fields.setdefault(a.table, []).append(a.field)
            elif a.action == "outward":
                outward.setdefault(a.table, []).append(a.field)
            elif a.action == "summary" and a.table in ("hearing", "offence"):
                raw_rows.setdefault(a.table, []).extend(_not_summarised(archive, a.table, a.field))
        cut = prof.cutoff(cls, as_of)
        u = sg.class_unexpired(archive, fields=fields, identity=cls == "identity", cutoff=cut, scopes=scopes,
                               outward=outward, raw_rows=raw_rows)
        out[cls] = {"limit_months": prof.months(cls), "cutoff": cut.isoformat(),
                    "oldest": u["oldest"].isoformat() if u["oldest"] else None, "publications": u["publications"],
                    "overdue_publications": u["due"], "held_publications": u["held_due"], "overdue": u["due"] > 0}
    return out


def status(archive, *, profile: Profile | None = None, as_of: dt.date | None = None) -> dict:
    """Retention status: the oldest raw record (raw identities, held or not) against the identity
    limit, then per data class (``classes``: `class_status`) the oldest list still holding that
    class's data un-expired and not held, against that class's cut-off; ``overdue`` when any class
    is (data a legal hold keeps is counted held, not overdue); holds, last runs."""
    prof = profile or load()
    as_of = as_of or dt.date.today()
    oldest = sg.oldest_raw(archive)
    limit = prof.cutoff("identity", as_of)
    classes = class_status(archive, prof, as_of)
    return {"as_of": as_of.isoformat(), "limit_months": prof.months("identity"), "cutoff": limit.isoformat(),
            "oldest_raw": oldest, "overdue": any(c["overdue"] for c in classes.values()), "classes": classes,
            "holds": sg.holds(archive, active_only=True), "runs": sg.runs(archive)[-5:],
            "parties": sg.party_counts(archive)}
