"""Store side of governance: the SQL for the audit chain, holds, accounts, restrictions, retention,
rights requests, convictions, exports and the disclosure gate's fact look-ups.

Only `store` issues SQL; `courtarchive.governance` calls these functions with an `Archive`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import threading
from typing import Any, Iterable, Iterator, Sequence

import orjson
import sqlalchemy as sa

from .archive import Archive
from .engine import GENERATION, queued_write, unkept_write, writing
from .locks import lock_file
from .tables import TABLES as T, id_sequence
from .util import as_id, chunks as _chunks, dicts, driver_args, driver_binds, in_ids, now, rows as _rows, statement

GENESIS = "0" * 64
_CHUNK = 500


# =========================================================================== audit chain
def audit_canonical(ev: dict) -> bytes:
    """The bytes an audit event's hash covers (everything but the hashes themselves)."""
    t = ev["time"]
    body = {"seq": int(ev["seq"]), "time": t.isoformat(timespec="microseconds") if isinstance(t, dt.datetime) else str(t),
            "actor": ev["actor"], "role": ev["role"], "action": ev["action"], "purpose": ev.get("purpose"),
            "object": ev.get("object"), "details": ev.get("details")}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def audit_hash(prev_hash: str, ev: dict) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + audit_canonical(ev)).hexdigest()


def append_audit(archive: Archive, *, actor: str, role: str, action: str, purpose: str | None = None,
                 object: str | None = None, details: dict | None = None, conn=None,
                 time: dt.datetime | None = None) -> int:
    """Append one event to the chain (inside ``conn``'s transaction when given); returns its seq."""
    if conn is None and archive.sqlite:
        return _append_sqlite(archive, actor=actor, role=role, action=action, purpose=purpose, object=object,
                              details=details, time=time)
    if conn is None:
        # a writer transaction, so concurrent appenders wait their turn instead of failing when both
        # read the same last seq
        with unkept_write(archive.engine, writer=True) as c:
            return append_audit(archive, actor=actor, role=role, action=action, purpose=purpose,
                                object=object, details=details, conn=c, time=time)
    if not archive.sqlite:
        # one writer at a time extends the chain (SQLite: BEGIN IMMEDIATE already serialises)
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(72217001)")
    last = dicts(conn, statement("audit.last", _audit_last))
    row = _audit_row(last[0] if last else None, actor, role, action, purpose, object, details, time)
    # (statements built once: every disclosed page and API answer appends one event)
    conn.execute(statement("audit.insert", lambda: sa.insert(T["audit_event"])), row)
    return row["seq"]


def _audit_row(last: dict | None, actor, role, action, purpose, object, details, time) -> dict:
    """The next event of the chain after ``last`` (its seq and hash; None: the first), hashed."""
    seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
    ev = {"seq": seq, "time": time or now(), "actor": actor or "unknown", "role": role or "unknown",
          "action": action, "purpose": purpose, "object": object,
          "details": orjson.loads(orjson.dumps(details or {}, default=str, option=orjson.OPT_NON_STR_KEYS))}
    ev["hash"] = audit_hash(prev, ev)
    return {"id": seq, "prev_hash": prev, **ev}


_SQLITE_APPEND: list[tuple] = []               # (last event SQL, insert SQL, insert binds): made once


def _append_sqlite(archive: Archive, **event) -> int:
    """`append_audit` in a transaction of its own on SQLite, on the driver's connection: BEGIN
    IMMEDIATE (appenders of every process take turns), the last event, the insert, COMMIT -- the
    SQL SQLAlchemy would run, with its own bind processors for the columns' types (times, JSON),
    without its execution machinery around each statement (~40 % of an append's CPU; every page
    and API answer appends one).  The rows are not kept by any reader: the data generation stays
    (`engine.unkept_write`), as no SQLAlchemy transaction runs."""
    if not _SQLITE_APPEND:
        dialect = archive.engine.dialect
        comp = sa.insert(T["audit_event"]).compile(dialect=dialect, column_keys=[c.name for c in T["audit_event"].c])
        last = _audit_last().compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        _SQLITE_APPEND.append((str(last), comp.string, driver_binds(dialect, comp)))
    last_sql, insert_sql, binds = _SQLITE_APPEND[0]
    with archive.engine.connect() as c:
        db = c.connection.dbapi_connection
        db.execute("BEGIN IMMEDIATE")
        try:
            got = db.execute(last_sql).fetchone()
            row = _audit_row({"seq": got[0], "hash": got[1]} if got else None, **event)
            db.execute(insert_sql, driver_args(binds, row))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return row["seq"]


def _audit_last():
    A = T["audit_event"]
    return sa.select(A.c.seq, A.c.hash).order_by(A.c.seq.desc()).limit(1)


def iter_audit(archive: Archive, *, batch: int = 5000, since: int = 0) -> Iterator[dict]:
    A = T["audit_event"]
    with archive.engine.connect() as conn:
        last = since
        while True:
            rows = _rows(conn, sa.select(A).where(A.c.seq > last).order_by(A.c.seq).limit(batch))
            if not rows:
                return
            yield from rows
            last = rows[-1]["seq"]


def audit_events(archive: Archive, *, action: str | None = None, limit: int | None = None) -> list[dict]:
    A = T["audit_event"]
    q = sa.select(A).order_by(A.c.seq.desc() if limit else A.c.seq)
    if action:
        q = q.where(A.c.action == action)
    if limit:
        q = q.limit(limit)
    with archive.engine.connect() as conn:
        return _rows(conn, q)


def audit_summary(archive: Archive) -> dict:
    A = T["audit_event"]
    with archive.engine.connect() as conn:
        # (ordered: a GROUP BY alone comes back in whatever order the backend's aggregation leaves
        # -- PostgreSQL's hash aggregate and SQLite's sort differed, and so did the compliance report)
        by = conn.execute(sa.select(A.c.role, A.c.action, sa.func.count()).group_by(A.c.role, A.c.action)
                          .order_by(A.c.role, A.c.action)).all()
        head = conn.execute(sa.select(A.c.seq, A.c.hash).order_by(A.c.seq.desc()).limit(1)).first()
    return {"by_role_action": [{"role": r, "action": a, "count": n} for r, a, n in by],
            "head": {"seq": head.seq, "hash": head.hash} if head else None}


# =========================================================================== accounts
def save_account(archive: Archive, row: dict, conn=None) -> int:
    if conn is None:
        with writing(archive.engine) as c:
            return save_account(archive, row, conn=c)
    Acc = T["account"]
    have = conn.execute(sa.select(Acc.c.id).where(Acc.c.username == row["username"])).scalar()
    if have is None:
        aid = archive._take_ids(conn, "account", 1)
        conn.execute(sa.insert(Acc).values(id=aid, created_at=now(), active=True, **row))
        return aid
    conn.execute(sa.update(Acc).where(Acc.c.id == have).values(**row))
    return have


def get_account(archive: Archive, username: str) -> dict | None:
    Acc = T["account"]
    with archive.engine.connect() as conn:
        got = dicts(conn, statement("governance.account", lambda: sa.select(Acc).where(Acc.c.username == sa.bindparam("u"))),
                    {"u": username})
    return got[0] if got else None


def list_accounts(archive: Archive) -> list[dict]:
    with archive.engine.connect() as conn:
        return _rows(conn, sa.select(T["account"]).order_by(T["account"].c.id))


# =========================================================================== holds
def add_hold(archive: Archive, *, scope: str, ref: str | None, reason: str, authority: str, actor: str,
             conn) -> int:
    hid = archive._take_ids(conn, "hold", 1)
    conn.execute(sa.insert(T["hold"]).values(id=hid, scope=scope, ref=ref, reason=reason, authority=authority,
                                             created_at=now(), created_by=actor))
    return hid


def release_hold(archive: Archive, hold_id: int, *, actor: str, reason: str | None, conn) -> bool:
    H = T["hold"]
    res = conn.execute(sa.update(H).where(H.c.id == hold_id, H.c.released_at.is_(None))
                       .values(released_at=now(), released_by=actor, release_reason=reason))
    return res.rowcount == 1


def holds(archive: Archive, *, active_only: bool = False, conn=None) -> list[dict]:
    H = T["hold"]
    q = sa.select(H).order_by(H.c.id)
    if active_only:
        q = q.where(H.c.released_at.is_(None))
    if conn is not None:
        return _rows(conn, q)
    with archive.engine.connect() as c:
        return _rows(c, q)


def resolve_court(archive: Archive, ref: str) -> int | None:
    C = T["court"]
    with archive.engine.connect() as conn:
        if (i := as_id(ref)) is not None:
            r = conn.execute(sa.select(C.c.id).where(sa.or_(C.c.id == i, C.c.fact_court_id == i))
                             .order_by((C.c.id != i))).scalar()
            if r is not None:
                return r
        return conn.execute(sa.select(C.c.id).where(sa.or_(C.c.slug == ref, sa.func.lower(C.c.name) == ref.lower()))
                            .order_by(C.c.id)).scalar()


class AmbiguousCase(ValueError):
    """A case reference several cases answer to (each Crown Court numbers its own cases)."""


def resolve_case(archive: Archive, ref: str) -> int | None:
    """The case ``ref`` names for governance commands (holds, restrictions): as every other reader
    of a case reference reads it (`store.serve.find_cases`: ``id:N``; a URN; a case number in any
    spacing or case; only then a bare number as an id), else the internal case key.  A case number
    several cases share raises `AmbiguousCase` naming their URNs: a hold or an order placed on the
    lowest id of them, silently, could keep the wrong case and leave the right one to erasure."""
    from .serve import CASE_ID_REF, find_cases

    ids = find_cases(archive, ref)
    if len(ids) > 1:
        C = T["case"]
        with archive.engine.connect() as conn:
            urns = {r.id: r.urn for r in conn.execute(sa.select(C.c.id, C.c.urn).where(C.c.id.in_(ids)))}
        refs = [urns.get(i) or f"{CASE_ID_REF}{i}" for i in ids]
        raise AmbiguousCase(f"case number {ref.strip()!r} is that of {len(ids)} cases: {', '.join(refs)} -- give the "
                            "URN (id:N for a case with none)")
    if ids:
        return ids[0]
    with archive.engine.connect() as conn:
        return conn.execute(sa.select(T["case"].c.id).where(T["case"].c.case_key == ref)).scalar()


def resolve_person(archive: Archive, ref: str) -> str | None:
    """``person`` scope refs: a linked person id, or ``party:<id>`` for one mention."""
    with archive.engine.connect() as conn:
        if ref.startswith("party:") and (i := as_id(ref[6:])) is not None:
            ok = conn.execute(sa.select(T["party"].c.id).where(T["party"].c.id == i)).scalar()
            return ref if ok is not None else None
        if (i := as_id(ref)) is not None:
            ok = conn.execute(sa.select(T["person"].c.id).where(T["person"].c.id == i)).scalar()
            return ref if ok is not None else None
    return None


def hold_scopes(archive: Archive, conn) -> dict:
    """Active holds resolved to id sets: {archive: [hold ids], court: {court_id: hold}, case: ..., party: ...,
    complainant: ...} (a person hold reaches the mentions of that person: party or complainant)."""
    out: dict[str, Any] = {"archive": [], "court": {}, "case": {}, "party": {}, "complainant": {}}
    active = holds(archive, active_only=True, conn=conn)
    persons: dict[int, int] = {}
    for h in active:
        if h["scope"] == "archive":
            out["archive"].append(h["id"])
        elif h["scope"] == "court" and h["ref"]:
            out["court"][int(h["ref"])] = h["id"]
        elif h["scope"] == "case" and h["ref"]:
            out["case"][int(h["ref"])] = h["id"]
        elif h["scope"] == "person" and h["ref"]:
            if h["ref"].startswith("party:"):
                out["party"][int(h["ref"][6:])] = h["id"]
            else:
                persons[int(h["ref"])] = h["id"]
    if persons:
        PM, P = T["person_mention"], T["person"]
        # a held person's mentions, following merges (a cluster merged into another keeps the hold)
        want = dict(persons)
        frontier = list(persons)
        while frontier:
            nxt = []
            for chunk in _chunks(frontier):
                for pid, into in conn.execute(sa.select(P.c.id, P.c.merged_into).where(P.c.id.in_(chunk))):
                    if into is not None and into not in want:
                        want[into] = want[pid]
                        nxt.append(into)
            frontier = nxt
        for chunk in _chunks(list(want)):
            for party_id, complainant_id, person_id in conn.execute(
                    sa.select(PM.c.party_id, PM.c.complainant_id, PM.c.person_id).where(PM.c.person_id.in_(chunk))):
                if party_id is not None:
                    out["party"].setdefault(party_id, want[person_id])
                if complainant_id is not None:
                    out["complainant"].setdefault(complainant_id, want[person_id])
    return out


# =========================================================================== disclosure look-ups
# The gate calls these on every output, so they are kept cheap: each statement is built once per
# dialect (`store.util.statement`, `in_ids`: SQLAlchemy's compiled cache is hit on every call), rows come back
# as plain dicts without per-row mapping objects, and all look-ups of one `disclose` call can share
# one read connection (``conn``; see `reading`).
def reading(archive: Archive):
    """A read connection for several look-ups in a row (one snapshot, one pool checkout)."""
    return archive.engine.connect()


@contextlib.contextmanager
def _using(archive: Archive, conn):
    if conn is not None:
        yield conn
    else:
        with archive.engine.connect() as c:
            yield c


def _stmt(name: str, dialect: str):
    """The look-up statement ``name``, built once per dialect (``:ids``: see `in_ids`)."""
    return statement(f"governance.{name}.{dialect}", lambda: _build(name, dialect))


def _build(name: str, dialect: str):
    H, P, Pa, O, R, PM, Cv = (T[n] for n in ("hearing", "publication", "party", "offence", "restriction",
                                               "person_mention", "conviction"))
    # the facts of cases (by case id), and of hearings of no case (":h", by hearing id; their
    # parties, offences and orders carry no case id either)
    base, by = name.partition(":")[::2]
    if base in ("hearings", "parties", "offences", "orders") and by not in ("", "h"):
        raise KeyError(name)
    if base == "hearings":
        s = (sa.select(H.c.id, H.c.case_id, H.c.sitting_date, H.c.panel, H.c.court_name, H.c.hearing_type,
                       H.c.reporting_restriction, H.c.reporting_restriction_detail, H.c.publication_id,
                       P.c.list_type, P.c.sensitivity)
             .join(P, P.c.id == H.c.publication_id)
             .where(in_ids(H.c.id, dialect) & H.c.case_id.is_(None) if by else in_ids(H.c.case_id, dialect)))
    elif base == "parties":
        s = sa.select(Pa.c.id, Pa.c.case_id, Pa.c.hearing_id, Pa.c.role, Pa.c.date_of_birth, Pa.c.age,
                      Pa.c.organisation_name).where(
            in_ids(Pa.c.hearing_id, dialect) & Pa.c.case_id.is_(None) if by else in_ids(Pa.c.case_id, dialect))
    elif base == "offences":
        s = sa.select(O.c.id, O.c.case_id, O.c.hearing_id, O.c.party_id, O.c.code, O.c.title, O.c.legislation,
                      O.c.reporting_restriction, O.c.reporting_restriction_detail).where(
            in_ids(O.c.hearing_id, dialect) & O.c.case_id.is_(None) if by else in_ids(O.c.case_id, dialect))
    elif base == "orders":
        s = sa.select(R).where(in_ids(R.c.hearing_id, dialect) & R.c.case_id.is_(None) if by
                               else in_ids(R.c.case_id, dialect))
    elif name == "publications":
        s = sa.select(P.c.id, P.c.sensitivity, P.c.list_type, P.c.content_date,
                      P.c.raw_expired_at).where(in_ids(P.c.id, dialect))
    elif name == "persons":
        s = sa.select(PM.c.party_id, PM.c.person_id).where(in_ids(PM.c.party_id, dialect))
    elif name == "convictions":
        s = sa.select(Cv).where(in_ids(Cv.c.party_id, dialect))
    elif name.startswith("refs:"):
        t = T[name[5:]]
        cols = [t.c.id, t.c.case_id, t.c.publication_id]
        if "hearing_id" in t.c:
            cols.append(t.c.hearing_id)
        s = sa.select(*cols).where(in_ids(t.c.id, dialect))
    else:
        raise KeyError(name)
    return s


def data_generation(archive: Archive, *, conn=None) -> int | None:
    """The archive's data generation (`store.engine.GENERATION`): read it *before* reading what
    you keep, keep that under it, and take the copy as current only while a later read gives the
    same number.  None for an archive made before migration 0015 (keep nothing)."""
    with _using(archive, conn) as c:
        rows = dicts(c, statement(f"governance.generation.{c.dialect.name}", _generation))
    return rows[0]["next_id"] if rows else None


def _generation():
    return sa.select(id_sequence.c.next_id).where(id_sequence.c.name == GENERATION)


def _dicts(conn, name: str, ids: list) -> list[dict]:
    return dicts(conn, _stmt(name, conn.dialect.name), {"ids": ids})


def record_refs(archive: Archive, entity: str, ids: Sequence[int], *, conn=None) -> dict[int, dict]:
    """For hearing/party/offence/complainant ids: their case, publication and hearing ids."""
    T[entity]       # KeyError for an unknown entity, as before
    out: dict[int, dict] = {}
    with _using(archive, conn) as c:
        for chunk in _chunks(sorted(set(ids))):
            for m in _dicts(c, "refs:" + entity, chunk):
                out[m.pop("id")] = m
    return out


def publication_info(archive: Archive, pub_ids: Iterable[int], *, conn=None) -> dict[int, dict]:
    out = {}
    with _using(archive, conn) as c:
        for chunk in _chunks(sorted(set(pub_ids))):
            for m in _dicts(c, "publications", chunk):
                out[m["id"]] = m
    return out


def case_facts(archive: Archive, case_ids: Iterable[int], *, conn=None) -> dict[int, dict]:
    """Everything the restriction rules read about each case (all versions of its lists): one
    query per table for all the cases (per chunk of 500), only the columns the rules read."""
    out: dict[int, dict] = {}
    with _using(archive, conn) as c:
        for chunk in _chunks(sorted(set(x for x in case_ids if x is not None))):
            for cid in chunk:
                out[cid] = {"hearings": [], "parties": [], "offences": [], "orders": [], "sensitivities": set()}
            for m in _dicts(c, "hearings", chunk):
                d = out[m["case_id"]]
                d["hearings"].append(m)
                d["sensitivities"].add((m["sensitivity"] or "").upper())
            for kind in ("parties", "offences", "orders"):
                for m in _dicts(c, kind, chunk):
                    out[m["case_id"]][kind].append(m)
    return out


def hearing_facts(archive: Archive, hearing_ids: Iterable[int], *, conn=None) -> dict[int, dict]:
    """`case_facts` for hearings of no case (no URN, case number or case name: an SJP public list's,
    a register row without them), by hearing id: the hearing, its parties, offences and orders.
    The rules read them as a case of one hearing -- a youth court sitting's under-18 defendant is
    protected whether or not the list gave the case a number.  Hearings that have a case: none."""
    out: dict[int, dict] = {}
    with _using(archive, conn) as c:
        for chunk in _chunks(sorted(set(x for x in hearing_ids if x is not None))):
            for m in _dicts(c, "hearings:h", chunk):
                out[m["id"]] = {"hearings": [m], "parties": [], "offences": [], "orders": [],
                                "sensitivities": {(m["sensitivity"] or "").upper()}}
            for kind in ("parties", "offences", "orders"):
                for m in _dicts(c, kind + ":h", chunk):
                    if m["hearing_id"] in out:
                        out[m["hearing_id"]][kind].append(m)
    return out


def persons_of(archive: Archive, party_ids: Iterable[int], *, conn=None) -> dict[int, int]:
    out = {}
    with _using(archive, conn) as c:
        for chunk in _chunks(sorted(set(party_ids))):
            for m in _dicts(c, "persons", chunk):
                out[m["party_id"]] = m["person_id"]
    return out


def convictions_of(archive: Archive, party_ids: Iterable[int], *, conn=None) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    with _using(archive, conn) as c:
        for chunk in _chunks(sorted(set(party_ids))):
            for m in _dicts(c, "convictions", chunk):
                out.setdefault(m["party_id"], []).append(m)
    return out


# =========================================================================== restrictions
def save_restriction(archive: Archive, row: dict, conn=None) -> tuple[int, bool]:
    """Insert a restriction unless one with the same ``source_hash`` exists: (id, created)."""
    if conn is None:
        with queued_write(archive.engine, "restrictions") as c:
            return save_restriction(archive, row, conn=c)
    R = T["restriction"]
    if row.get("source_hash"):
        have = conn.execute(sa.select(R.c.id).where(R.c.source_hash == row["source_hash"])).scalar()
        if have is not None:
            return have, False
    rid = archive._take_ids(conn, "restriction", 1)
    conn.execute(sa.insert(R).values(id=rid, created_at=now(), **row))
    return rid, True


def lift_restriction(archive: Archive, rid: int, *, actor: str, reason: str, conn) -> bool:
    R = T["restriction"]
    res = conn.execute(sa.update(R).where(R.c.id == rid, R.c.lifted_at.is_(None))
                       .values(lifted_at=now(), lifted_by=actor, lift_reason=reason))
    return res.rowcount == 1


def restrictions(archive: Archive, *, case_id: int | None = None, active_only: bool = False) -> list[dict]:
    R = T["restriction"]
    q = sa.select(R).order_by(R.c.id)
    if case_id is not None:
        q = q.where(R.c.case_id == case_id)
    if active_only:
        q = q.where(R.c.lifted_at.is_(None))
    with archive.engine.connect() as conn:
        return _rows(conn, q)


def flagged_rows(archive: Archive, entity: str, *, after_id: int = 0, limit: int = 5000) -> list[dict]:
    """Hearing or offence rows carrying a restriction flag or detail text (for syncing orders),
    with the sitting date of their hearing."""
    t, H = T[entity], T["hearing"]
    cols = [t.c.id, t.c.case_id, t.c.reporting_restriction, t.c.reporting_restriction_detail, H.c.sitting_date]
    q = sa.select(*cols)
    q = q.select_from(t) if entity == "hearing" else q.select_from(t.join(H, H.c.id == t.c.hearing_id))
    if entity != "hearing":
        cols.append(t.c.hearing_id)
        q = q.add_columns(t.c.hearing_id)
    q = (q.where(t.c.id > after_id, sa.or_(t.c.reporting_restriction.is_(True),
                                           t.c.reporting_restriction_detail.is_not(None)))
         .order_by(t.c.id).limit(limit))
    with archive.engine.connect() as conn:
        return _rows(conn, q)


# =========================================================================== retention
def expiry_candidates(archive: Archive, *, cutoff: dt.date, after_id: int = 0, limit: int = 200) -> list[dict]:
    """Publications whose raw identities are due (content date before ``cutoff``) and not yet expired."""
    P = T["publication"]
    day = sa.func.coalesce(P.c.content_date_end, P.c.content_date)
    q = (sa.select(P.c.id, P.c.content_date, P.c.content_date_end, P.c.court_id, P.c.ingested_at)
         .where(P.c.raw_expired_at.is_(None), P.c.id > after_id,
                sa.or_(day < cutoff, sa.and_(day.is_(None), P.c.ingested_at < dt.datetime.combine(cutoff, dt.time()))))
         .order_by(P.c.id).limit(limit))
    with archive.engine.connect() as conn:
        return _rows(conn, q)


def _identities_raw(P):
    """The publications still holding raw identities: not fully expired (``raw_expired_at``) and
    not every party of theirs pseudonymised.  The expiry of a publication's identities
    pseudonymises each of its parties (organisations too) in the batch that rewrites its other
    identity fields; it marks it ``raw_expired_at`` only once every data class has expired -- under
    a profile keeping the wording (or any class) longer than the identities, a publication whose
    identities expired stays unmarked until then, and is not raw.  (A publication of no party is
    raw until marked.)"""
    Pa = T["party"]
    of = Pa.c.publication_id == P.c.id
    return sa.and_(P.c.raw_expired_at.is_(None),
                   sa.or_(~sa.exists().where(of), sa.exists().where(of, Pa.c.pseudonymised.is_not(True))))


def oldest_raw(archive: Archive) -> dict | None:
    """The oldest publication whose raw identities are still held (`_identities_raw`)."""
    P = T["publication"]
    day = sa.func.coalesce(P.c.content_date_end, P.c.content_date)
    raw = _identities_raw(P)
    with archive.engine.connect() as conn:
        r = conn.execute(sa.select(P.c.id, day.label("day")).where(raw, day.is_not(None))
                         .order_by(day, P.c.id).limit(1)).first()
        n = conn.execute(sa.select(sa.func.count()).select_from(P).where(raw)).scalar_one()
    return None if r is None else {"publication_id": r.id, "content_date": r.day, "raw_publications": n}


def raw_beyond(archive: Archive, cutoff: dt.date, *, limit: int = 10_000) -> list[int]:
    """Publications still holding raw identities (`_identities_raw`) although their content date is
    before ``cutoff`` (as the expiry job reads it: `expiry_candidates`)."""
    P = T["publication"]
    day = sa.func.coalesce(P.c.content_date_end, P.c.content_date)
    q = (sa.select(P.c.id).where(_identities_raw(P), sa.or_(
        day < cutoff, sa.and_(day.is_(None), P.c.ingested_at < dt.datetime.combine(cutoff, dt.time()))))
         .order_by(P.c.id).limit(limit))
    with archive.engine.connect() as conn:
        return [r[0] for r in conn.execute(q)]


def _row_holds(scopes: dict, dialect: str) -> dict:
    """SQL tests of whether a row is held, by the rules the expiry job skips rows by
    (`retention.plan_batch`, `retention._Held`), for holds other than the archive's (``scopes``:
    `hold_scopes`; it holds everything): {"party": f(party table), "hearing": f(hearing table),
    "offence": f(offence table), "publication": f(publication table)}, each test never NULL.

    A party is held by a hold on it, its case, or its hearing's court; a hearing by its case, its
    court or a held party of it; an offence with its hearing or its party; a publication's own
    fields while any row of it is held (its held parties and hearings: an offence is held only with
    one of those, of the same list).  Cases' keys are not a class's data here (`class_status`);
    complainant holds reach no party, hearing or offence.

    The held ids of each scope are one parameter (`held_ids`, `_HELD_PARAM`) whatever their number
    (`in_ids`): the tests name each list up to five times, and bound id by id, thousands of held
    cases or a person's many mentions passed PostgreSQL's 65,535 parameters (written into the SQL
    instead, PostgreSQL took seconds to plan them)."""
    H, Pa = T["hearing"], T["party"]
    courts, cases, parties = scopes["court"], scopes["case"], scopes["party"]

    def any_of(*tests):
        tests = [t for t in tests if t is not None]
        return sa.or_(*tests) if tests else sa.false()

    def among(col, scope):          # (NULL is among none: the test stays false, never NULL)
        return sa.and_(col.is_not(None), in_ids(col, dialect, _HELD_PARAM[scope])) if scopes[scope] else None

    def party_itself(pa):           # a hold on the party or its case
        return any_of(among(pa.c.id, "party"), among(pa.c.case_id, "case"))

    def hearing_place(h):           # a hold on the hearing's case or court
        return any_of(among(h.c.case_id, "case"), among(h.c.court_id, "court"))

    def party(pa):
        h = H.alias()
        return any_of(party_itself(pa), sa.exists().where(h.c.id == pa.c.hearing_id, among(h.c.court_id, "court"))
                      if courts else None)

    def hearing(h):
        pa = Pa.alias()             # (a party of the hearing: its court is the hearing's)
        return any_of(hearing_place(h), sa.exists().where(pa.c.hearing_id == h.c.id, party_itself(pa))
                      if parties or cases else None)

    def offence(o):
        h, pa = H.alias(), Pa.alias()
        return any_of(sa.exists().where(h.c.id == o.c.hearing_id, hearing(h)),
                      sa.exists().where(pa.c.id == o.c.party_id, party(pa)))

    def publication(p):
        h, pa = H.alias(), Pa.alias()
        return any_of(sa.exists().where(pa.c.publication_id == p.c.id, party_itself(pa)) if parties or cases else None,
                      sa.exists().where(h.c.publication_id == p.c.id, hearing_place(h)) if courts or cases else None)

    return {"party": party, "hearing": hearing, "offence": offence, "publication": publication}


#: the parameter of `_row_holds`'s tests holding each hold scope's ids
_HELD_PARAM = {"court": "held_courts", "case": "held_cases", "party": "held_parties"}


def held_ids(scopes: dict) -> dict[str, list[int]]:
    """The parameters of `_row_holds`'s tests, from ``scopes``."""
    return {name: sorted(scopes[scope]) for scope, name in _HELD_PARAM.items()}


def still_outward(col):
    """SQL: a postcode the ``outward`` expiry action would still shorten -- longer than any outward
    code (2-4 characters), or with a space or a lower-case letter in it.  (A value of 4 characters
    or fewer the action cannot read as a postcode, which it would delete, passes for expired.)"""
    return sa.and_(col.is_not(None), sa.or_(sa.func.length(col) > 4, col.like("% %"), col != sa.func.upper(col)))


def texts_unexpired(archive: Archive, table: str, column: str) -> Iterator[sa.Row]:
    """(row id, value, its hearing's sitting date) of the rows of ``table`` (hearing or offence)
    holding a value in ``column``, in lists not fully expired: what a retention status tests in
    Python against an expiry action no SQL can apply (``summary``: `retention.class_status`)."""
    t, P, H = T[table], T["publication"], T["hearing"]
    sitting = t.c.sitting_date if table == "hearing" else H.c.sitting_date
    q = (sa.select(t.c.id, t.c[column], sitting).join(P, P.c.id == t.c.publication_id)
         .where(t.c[column].is_not(None), P.c.raw_expired_at.is_(None)).order_by(t.c.id))
    if table != "hearing":
        q = q.join(H, H.c.id == t.c.hearing_id)
    with archive.engine.connect() as conn:
        yield from conn.execute(q)


def class_unexpired(archive: Archive, *, fields: dict[str, Sequence[str]], identity: bool, cutoff: dt.date,
                    scopes: dict, outward: dict[str, Sequence[str]] | None = None,
                    raw_rows: dict[str, Sequence[int]] | None = None) -> dict:
    """One retention class's data still held un-expired, in one aggregate query over the
    publications (each row's test an EXISTS on its ``publication_id`` index): a publication holds
    it when it is not fully expired (``raw_expired_at``) and a row of it still holds a value in one
    of ``fields`` ({table: [columns]}: those the profile deletes or bands in the class -- expired,
    they are NULL), a postcode of ``outward`` ({table: [columns]} the profile shortens) is still
    longer than its outward code (`still_outward`), a row is one of ``raw_rows`` ({table: [ids]}:
    those the caller found holding a value the expiry would still rewrite) or, for the identity
    class (``identity``), a party of it is not pseudonymised (`_identities_raw`).  It is held (counted apart) only when every such row is held by a legal
    hold (``scopes``: `hold_scopes`) as the expiry job decides it, which skips held rows and
    expires the rest (`_row_holds`): a hold on one party of a list keeps that party, its hearing
    and the hearing's offences, and leaves the list due while another party's name or date of
    birth is past the cut-off.  An archive hold holds every list.  Returns {"oldest": the earliest
    content date of those not held, "publications": how many not held, "due": how many of those
    dated before ``cutoff`` (as `expiry_candidates` reads it), "held_due": held ones dated before
    it}."""
    P, Pa = T["publication"], T["party"]
    day = sa.func.coalesce(P.c.content_date_end, P.c.content_date)
    # per table, the test of a row still holding the class's data (the identity class: a party
    # not pseudonymised too -- `_identities_raw`, which also counts a list of no party)
    dialect = archive.engine.dialect.name
    tests: dict[str, list] = {}
    for table, cols in fields.items():
        tests.setdefault(table, []).extend(T[table].c[c].is_not(None) for c in cols)
    for table, cols in (outward or {}).items():
        tests.setdefault(table, []).extend(still_outward(T[table].c[c]) for c in cols)
    params = {}
    for table, ids in (raw_rows or {}).items():
        if ids:
            tests.setdefault(table, []).append(in_ids(T[table].c.id, dialect, f"raw_{table}"))
            params[f"raw_{table}"] = sorted(set(ids))
    has = {table: sa.or_(*ts) for table, ts in tests.items() if ts}
    raw = [has[t] if t == "publication" else sa.exists().where(T[t].c.publication_id == P.c.id, has[t]) for t in has]
    if identity:
        raw.append(_identities_raw(P))
        has["party"] = sa.or_(has["party"], Pa.c.pseudonymised.is_not(True)) if "party" in has \
            else Pa.c.pseudonymised.is_not(True)
    if not raw:
        return {"oldest": None, "publications": 0, "due": 0, "held_due": 0}
    if scopes["archive"]:
        held = sa.literal(1)
    elif not (scopes["court"] or scopes["case"] or scopes["party"]):
        held = sa.literal(0)
    else:
        rule = _row_holds(scopes, dialect)
        params.update(held_ids(scopes))
        # held: a row of it is held (then its own fields are kept: `plan_batch`) and no row of it
        # still holding the data is not.  (A list of no party holds its identities in its own row
        # until marked expired: held with it.)
        free = [sa.exists().where(T[t].c.publication_id == P.c.id, has[t], ~rule[t](T[t]))
                for t in has if t != "publication"]
        held = sa.case((~rule["publication"](P), 0), (sa.or_(sa.false(), *free), 0), else_=1)
    due = sa.or_(day < cutoff, sa.and_(day.is_(None), P.c.ingested_at < dt.datetime.combine(cutoff, dt.time())))
    # each test once per publication (a subquery, OFFSET 0: neither SQLite nor PostgreSQL folds it
    # into the aggregates, each of which would run the hold tests again), then the aggregates
    sub = (sa.select(day.label("day"), sa.case((due, 1), else_=0).label("due"), held.label("held"))
           .where(P.c.raw_expired_at.is_(None), sa.or_(*raw)).offset(0).subquery())
    free, late = sub.c.held == 0, sub.c.due == 1
    q = sa.select(sa.func.min(sub.c.day).filter(free), sa.func.count().filter(free),
                  sa.func.count().filter(sa.and_(free, late)),
                  sa.func.count().filter(sa.and_(sub.c.held == 1, late)))
    with archive.engine.connect() as conn:
        oldest, n, n_due, n_held = conn.execute(q, params).one()
    if isinstance(oldest, str):                 # (SQLite: MIN over a COALESCE of dates)
        oldest = dt.date.fromisoformat(oldest)
    return {"oldest": oldest, "publications": n, "due": n_due, "held_due": n_held}


#: the columns of a party's coarse row an expiry or erasure reads with the party (``_coarse_<column>``)
COARSE_KEPT = ("token", "key_id", "age_band", "outward_postcode", "police_force_area")


def _expiry_parties():
    """Parties as expiry and erasure rewrite them: with their hearing's date (``_sitting_date``),
    court (``_court_id``) and its police force area (``_court_pfa``), and what their coarse row
    holds already (``_coarse_token``, ...: `COARSE_KEPT`, None without one) -- a later stage keeps
    what an earlier one computed from fields deleted since (`retention.plan_batch`)."""
    Pa, H, Ct, PC = T["party"], T["hearing"], T["court"], T["party_coarse"]
    return (sa.select(Pa, H.c.sitting_date.label("_sitting_date"), H.c.court_id.label("_court_id"),
                      Ct.c.police_force_area.label("_court_pfa"),
                      *(PC.c[k].label("_coarse_" + k) for k in COARSE_KEPT))
            .join(H, H.c.id == Pa.c.hearing_id).outerjoin(Ct, Ct.c.id == H.c.court_id)
            .outerjoin(PC, PC.c.party_id == Pa.c.id))


def batch_rows(archive: Archive, conn, pub_ids: Sequence[int]) -> dict[str, list[dict]]:
    """The rows of these publications the expiry job reads (parties with their hearing's date and
    court's police force area and their coarse row's values, `_expiry_parties`; hearings,
    offences, cases first listed in them)."""
    Pa, H, O, C, P = (T[n] for n in ("party", "hearing", "offence", "case", "publication"))
    parties = _rows(conn, _expiry_parties().where(Pa.c.publication_id.in_(pub_ids)).order_by(Pa.c.id))
    hearings = _rows(conn, sa.select(H).where(H.c.publication_id.in_(pub_ids)).order_by(H.c.id))
    offences = _rows(conn, sa.select(O, H.c.court_id.label("_court_id"))
                     .join(H, H.c.id == O.c.hearing_id).where(O.c.publication_id.in_(pub_ids)).order_by(O.c.id))
    case_ids = sorted({h["case_id"] for h in hearings if h["case_id"] is not None})
    cases = []
    for chunk in _chunks(case_ids):
        cases += _rows(conn, sa.select(C).where(C.c.id.in_(chunk)))
    # a case key may carry a name only once none of its publications holds raw identities any more
    live: set[int] = set()
    for chunk in _chunks(case_ids):
        live |= {r[0] for r in conn.execute(
            sa.select(H.c.case_id).join(P, P.c.id == H.c.publication_id)
            .where(H.c.case_id.in_(chunk), P.c.raw_expired_at.is_(None), P.c.id.not_in(list(pub_ids))).distinct())}
    for c in cases:
        c["_other_raw"] = c["id"] in live
    pubs = _rows(conn, sa.select(P.c.id, P.c.source_name, P.c.court_id, P.c.raw_expired_at).where(P.c.id.in_(pub_ids)))
    return {"party": parties, "hearing": hearings, "offence": offences, "case": cases, "publication": pubs}


def apply_updates(conn, table: str, rows: list[dict]) -> int:
    """UPDATE rows by id; each row: {"id": ..., column: new value, ...} (grouped by column set)."""
    t = T[table]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        cols = tuple(sorted(k for k in r if k != "id"))
        if cols:
            groups.setdefault(cols, []).append(r)
    n = 0
    for cols, rs in groups.items():
        stmt = sa.update(t).where(t.c.id == sa.bindparam("_id")).values({c: sa.bindparam("v_" + c) for c in cols})
        conn.execute(stmt, [{"_id": r["id"], **{"v_" + c: r[c] for c in cols}} for r in rs])
        n += len(rs)
    return n


def save_coarse(archive: Archive, conn, rows: list[dict]) -> int:
    """Insert or replace party_coarse rows (by party_id)."""
    if not rows:
        return 0
    PC = T["party_coarse"]
    ids = [r["party_id"] for r in rows]
    have = set()
    for chunk in _chunks(ids):
        have |= {r[0] for r in conn.execute(sa.select(PC.c.party_id).where(PC.c.party_id.in_(chunk)))}
    new = [r for r in rows if r["party_id"] not in have]
    old = [r for r in rows if r["party_id"] in have]
    if new:
        first = archive._take_ids(conn, "party_coarse", len(new))
        conn.execute(sa.insert(PC), [{"id": first + i, **r} for i, r in enumerate(new)])
    for r in old:
        conn.execute(sa.update(PC).where(PC.c.party_id == r["party_id"]).values(**{k: v for k, v in r.items() if k != "party_id"}))
    return len(rows)


def publication_days(archive: Archive, conn, pub_ids: Iterable[int]) -> dict[int, dict]:
    """The dates the expiry job reads of these publications (``content_date``, ``content_date_end``,
    ``ingested_at``: `retention._day`), by id."""
    P = T["publication"]
    out = {}
    for chunk in _chunks(sorted(set(pub_ids))):
        for r in _rows(conn, sa.select(P.c.id, P.c.content_date, P.c.content_date_end, P.c.ingested_at)
                       .where(P.c.id.in_(chunk))):
            out[r["id"]] = r
    return out


def last_expiry_as_of(archive: Archive, conn) -> dt.date | None:
    """The latest day an expiry run (``expire``, not a dry run: those record no run) computed its
    cut-offs from (``retention_run.as_of``; `expire --now` may have set it ahead of today)."""
    R = T["retention_run"]
    return conn.execute(sa.select(sa.func.max(R.c.as_of)).where(R.c.kind == "expire")).scalar()


def coarse_rows(archive: Archive, conn, party_ids: Sequence[int]) -> dict[int, dict]:
    """These parties' coarse rows, by party id (a party without one is absent): what they keep
    (`COARSE_KEPT`) and the day the run that wrote them started (``run_day``: the day an expiry
    bands an age on when the party's hearing has no date, `retention.plan_batch`)."""
    PC, R = T["party_coarse"], T["retention_run"]
    q = (sa.select(PC.c.party_id, *(PC.c[k] for k in COARSE_KEPT), R.c.started_at.label("run_day"))
         .outerjoin(R, R.c.id == PC.c.run_id))
    out = {}
    for chunk in _chunks(sorted(set(party_ids))):
        for r in _rows(conn, q.where(PC.c.party_id.in_(chunk))):
            day = r["run_day"]
            r["run_day"] = day.date() if isinstance(day, dt.datetime) else day
            out[r.pop("party_id")] = r
    return out


# A run in progress is owned: its process holds a lock on it from the transaction that starts it
# until it ends (`update_run` to another status) or the process dies -- PostgreSQL, a session
# advisory lock (keyed by schema and run id) on a connection the run keeps out of the pool;
# SQLite, a POSIX byte-range lock on byte <run id> of ``<database>.runs-lock`` beside the archive
# file.  The OS or the server drops it when the process dies however it dies (SIGKILL, power), so a
# run left ``running`` whose lock is free died without a handler marking it: the next run of ANY
# kind marks it interrupted (`start_run`).  A run still in progress, in another process or this
# one, is never marked.  (POSIX locks are the process's, so this process's own runs are known from
# `_OWNED`; and they go when any descriptor of the file the process holds is closed, so it keeps one
# per file, closed only when it owns no run there.)
_OWNED: dict[tuple[str, int], Any] = {}       # (database, run id) -> the connection holding its lock (SQLite: None)
_LOCK_FDS: dict[str, int] = {}                # lock file -> this process's one descriptor of it
_OWNED_GUARD = threading.RLock()
#: the advisory lock of a run (PostgreSQL): per schema, as each archive (and test) has its own
_PG_RUN_LOCK = "hashtextextended(current_schema() || '.retention_run.' || CAST(:rid AS text), 0)"


def _lock_file(archive: Archive) -> str | None:
    """SQLite: the runs' lock file beside the archive file (`store.locks.lock_file`); None for a
    database in memory (no other process sees it: a run this process does not own is dead)."""
    return lock_file(archive, ".runs-lock")


def _database(archive: Archive) -> str:
    """The key of the archive's database in `_OWNED`: its lock file (SQLite), its URL (PostgreSQL)."""
    return (archive.sqlite and _lock_file(archive)) or archive.engine.url.render_as_string(hide_password=True)


def _lock_fd(path: str) -> int:
    if path not in _LOCK_FDS:
        _LOCK_FDS[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return _LOCK_FDS[path]


def _owner_gone(archive: Archive, conn, run_id: int) -> bool:
    """Whether nobody owns run ``run_id``, left ``running`` (its process died; see above).
    PostgreSQL: its lock, if free, is taken until the caller's transaction ends."""
    if (_database(archive), run_id) in _OWNED:
        return False
    if not archive.sqlite:
        return bool(conn.execute(sa.text(f"SELECT pg_try_advisory_xact_lock({_PG_RUN_LOCK})"),
                                 {"rid": run_id}).scalar())
    path = _lock_file(archive)
    if path is None:
        return True
    fd = _lock_fd(path)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, run_id)
    except OSError:
        return False                      # another process holds it: the run goes on there
    fcntl.lockf(fd, fcntl.LOCK_UN, 1, run_id)
    return True


def start_run(archive: Archive, *, kind: str, as_of: dt.date, actor: str, profile: dict) -> int:
    """Record a run ``running``, owned by this process until `update_run` gives it another status
    (or the process dies).  Runs of any kind left ``running`` by a process that died are marked
    ``interrupted`` first: their committed batches stand, and the hooks they had listed as not
    finished are retried (`runs_with_failed_hooks`)."""
    R = T["retention_run"]
    db = _database(archive)
    # (PostgreSQL: the run's lock is its session's, on this connection, kept until the run ends)
    conn = archive.engine.connect().execution_options(writer=True)
    rid = None
    try:
        with conn.begin():
            running = [r[0] for r in conn.execute(sa.select(R.c.id).where(R.c.status == "running"))]
            with _OWNED_GUARD:       # (held for no database wait: a thread ending its run needs it)
                dead = [i for i in running if _owner_gone(archive, conn, i)]
            if dead:
                conn.execute(sa.update(R).where(R.c.id.in_(dead), R.c.status == "running")
                             .values(status="interrupted"))
            rid = archive._take_ids(conn, "retention_run", 1)
            with _OWNED_GUARD:
                if not archive.sqlite:
                    conn.execute(sa.text(f"SELECT pg_advisory_lock({_PG_RUN_LOCK})"), {"rid": rid})
                elif (path := _lock_file(archive)) is not None:
                    fcntl.lockf(_lock_fd(path), fcntl.LOCK_EX, 1, rid)     # (waits out another's test of it)
                _OWNED[(db, rid)] = None if archive.sqlite else conn
            conn.execute(sa.insert(R).values(id=rid, kind=kind, started_at=now(), status="running", as_of=as_of,
                                             actor=actor, profile=profile, counts={}, proof_hash=GENESIS, batches=0))
    except BaseException:
        with _OWNED_GUARD:
            _OWNED.pop((db, rid), None)
            if not archive.sqlite:
                conn.invalidate()         # (its session ends: whatever lock it took with it)
            elif rid is not None and (path := _lock_file(archive)) in _LOCK_FDS:
                fcntl.lockf(_LOCK_FDS[path], fcntl.LOCK_UN, 1, rid)
            conn.close()
            _close_unused(archive)
        raise
    if archive.sqlite:
        conn.close()
    return rid


def _close_unused(archive: Archive) -> None:
    """Close this process's descriptor of the lock file once it owns no run of that database."""
    path = _lock_file(archive) if archive.sqlite else None
    if path in _LOCK_FDS and not any(k[0] == path for k in _OWNED):
        os.close(_LOCK_FDS.pop(path))


def _disown(archive: Archive, run_id: int) -> None:
    """Give up this process's lock on a run (nothing for a run it does not own)."""
    key = (_database(archive), run_id)
    if key not in _OWNED:
        return
    conn = _OWNED.pop(key)
    if conn is not None:
        try:
            conn.execute(sa.text(f"SELECT pg_advisory_unlock({_PG_RUN_LOCK})"), {"rid": run_id})
            conn.commit()
        except Exception:
            conn.invalidate()             # (its session ends: the lock with it)
        finally:
            conn.close()
    elif (path := _lock_file(archive)) in _LOCK_FDS:
        fcntl.lockf(_LOCK_FDS[path], fcntl.LOCK_UN, 1, run_id)
    _close_unused(archive)


def release_run(archive: Archive, run_id: int) -> None:
    """This process no longer runs ``run_id`` (`update_run` to another status than ``running`` does
    it; a handler whose status write failed calls it itself)."""
    with _OWNED_GUARD:
        _disown(archive, run_id)


def update_run(archive: Archive, run_id: int, conn=None, **values) -> None:
    """Update a run.  A status other than ``running`` ends it: this process's lock on it goes, after
    the update (which holds the row: a run starting meanwhile waits, then sees it ended)."""
    R = T["retention_run"]
    if conn is None:
        with writing(archive.engine) as c:
            return update_run(archive, run_id, conn=c, **values)
    conn.execute(sa.update(R).where(R.c.id == run_id).values(**values))
    if values.get("status", "running") != "running":
        release_run(archive, run_id)


def merge_run_counts(archive: Archive, run_id: int, counts: dict | None = None, *, drop: Iterable[str] = ()) -> dict:
    """Set some keys of a run's counts (``counts``) and remove others (``drop``), keeping the rest:
    read and written in one writer transaction.  Returns the counts written."""
    R = T["retention_run"]
    gone = set(drop)
    with writing(archive.engine) as conn:
        have = conn.execute(sa.select(R.c.counts).where(R.c.id == run_id).with_for_update()).scalar()
        new = {**{k: v for k, v in (have or {}).items() if k not in gone}, **(counts or {})}
        conn.execute(sa.update(R).where(R.c.id == run_id).values(counts=new))
    return new


def get_run(archive: Archive, run_id: int, conn=None) -> dict:
    R = T["retention_run"]
    if conn is not None:
        return dict(conn.execute(sa.select(R).where(R.c.id == run_id)).first()._mapping)
    with archive.engine.connect() as c:
        return dict(c.execute(sa.select(R).where(R.c.id == run_id)).first()._mapping)


def runs(archive: Archive) -> list[dict]:
    with archive.engine.connect() as conn:
        return _rows(conn, sa.select(T["retention_run"]).order_by(T["retention_run"].c.id))


def runs_with_failed_hooks(archive: Archive, ids: Iterable[int] | None = None) -> list[dict]:
    """Failed or interrupted runs (of ``ids``, else all) whose derived-store hooks failed or did not
    finish (``counts.hooks_failed``): those a later run retries.  (A run killed outright -- no
    handler ran -- is marked interrupted by the next run of any kind, `start_run`; the hooks it
    had listed as not finished are then retried as a failed run's are.)"""
    R = T["retention_run"]
    q = sa.select(R).where(R.c.status.in_(("failed", "interrupted"))).order_by(R.c.id)
    if ids is not None:
        q = q.where(R.c.id.in_(list(ids)))
    with archive.engine.connect() as conn:
        return [r for r in _rows(conn, q) if (r["counts"] or {}).get("hooks_failed")]


def secure_delete_on(archive: Archive, conn) -> None:
    """SQLite: freed cells and pages are overwritten with zeros for this connection's writes."""
    if archive.sqlite:
        conn.exec_driver_sql("PRAGMA secure_delete=ON")


def compact(archive: Archive, tables: Sequence[str]) -> dict:
    """Leave no old bytes behind after pseudonymising/erasing: SQLite VACUUM + WAL checkpoint
    (TRUNCATE); PostgreSQL VACUUM FULL of the touched tables (dead tuples rewritten away)."""
    if archive.sqlite:
        archive.engine.dispose()          # other pooled connections hold no snapshot
        raw = archive.engine.raw_connection()
        try:
            db = raw.driver_connection
            db.execute("PRAGMA secure_delete=ON")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("VACUUM")
            busy, log, done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.close()
        archive.engine.dispose()
        return {"vacuum": True, "wal_checkpoint": {"busy": busy, "log": log, "checkpointed": done}}
    with archive.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for t in tables:
            conn.exec_driver_sql(f'VACUUM FULL "{t}"')
    return {"vacuum_full": list(tables)}


def all_text_values(archive: Archive) -> Iterator[tuple[str, str, str]]:
    """(table, column, value) for every text-like column of every table (canary scans, PG and SQLite)."""
    with archive.engine.connect() as conn:
        insp = sa.inspect(conn)
        for tname in insp.get_table_names():
            cols = insp.get_columns(tname)
            for c in cols:
                ty = c["type"]
                if isinstance(ty, (sa.String, sa.Text, sa.JSON, sa.LargeBinary, sa.Date, sa.DateTime)) or \
                        type(ty).__name__.upper() in ("JSON", "JSONB", "BYTEA", "BLOB"):
                    col = sa.column(c["name"])
                    q = sa.select(sa.cast(col, sa.Text)).select_from(sa.table(tname)).where(col.is_not(None))
                    for (v,) in conn.execute(q):
                        yield tname, c["name"], v if isinstance(v, str) else str(v)


# =========================================================================== rights requests
def parties_by_name_words(archive: Archive, words: Sequence[Iterable[str]], *,
                          dob: dt.date | None = None) -> list[dict]:
    """Candidates for the mentions of a name (id, name fields, date of birth), a superset the
    caller narrows to those whose name normalises to the one sought (`governance.rights.find`).

    ``words``: for each word of the normalised name, its spellings (lower-case ASCII letters and
    digits: the word and the variants that map to it).  A party is a candidate when its name
    fields hold, for every word, the letters of one spelling in order, in any case, anything
    between them; or when they hold a character outside ASCII, whatever the words.  Sound: a name
    all in ASCII normalises by lower-casing, dropping apostrophes, splitting at other characters
    and joining particles, so each of its words is spelt in it in order (O'Brien, de la Cruz,
    Smith-Jones); only outside ASCII does folding change letters (Darłak), and that is done in
    Python.  With ``dob``, only parties born that day or of no recorded date.  Names have no
    index in the archive, and folding keeps one from answering this: one scan, in the database
    (1.8 s at 2.1M parties on SQLite, the exact-word look-up this replaced 1.7 s).  The name search
    index is not asked: it leaves out mentions that are still personal data (superseded list
    versions, masked parties, lawyers) and may be missing or stale."""
    Pa = T["party"]
    fields = (Pa.c.forenames, Pa.c.middle_names, Pa.c.surname, Pa.c.name_as_listed)
    name = (sa.func.coalesce(fields[0], "") + " " + sa.func.coalesce(fields[1], "") + " "
            + sa.func.coalesce(fields[2], "") + " " + sa.func.coalesce(fields[3], ""))
    # any case (SQLite's LIKE ignores the case of ASCII letters; a lower() around the name cost a
    # third more); outside ASCII: SQLite, more bytes than characters (UTF-8), PostgreSQL, a regular
    # expression (octet_length would miss them under a one-byte server encoding)
    like = name.like if archive.sqlite else name.ilike
    wide = [sa.func.length(sa.cast(f, sa.LargeBinary)) != sa.func.length(f) if archive.sqlite
            else f.regexp_match("[^[:ascii:]]") for f in fields]
    spelled = [sa.or_(*(like("%" + "%".join(s) + "%") for s in _shortest(w))) for w in words]
    if not spelled:
        return []
    q = (sa.select(Pa.c.id, *fields, Pa.c.date_of_birth)
         .where(sa.or_(sa.and_(*spelled), *wide)).order_by(Pa.c.id))
    if dob is not None:
        q = q.where(sa.or_(Pa.c.date_of_birth == dob, Pa.c.date_of_birth.is_(None)))
    with archive.engine.connect() as conn:
        return _rows(conn, q)


def _shortest(spellings: Iterable[str]) -> list[str]:
    """The spellings whose letters no other spelling's letters are found in, in order ("jon", not
    "john" nor "johnny"): a name that holds one of the others holds one of these, and each spelling
    left costs a pass over every name."""
    ss = sorted(set(spellings))

    def within(short: str, long: str) -> bool:
        rest = iter(long)
        return all(c in rest for c in short)

    return [s for s in ss if not any(t != s and within(t, s) for t in ss)]


def parties_by_tokens(archive: Archive, tokens: Iterable[str]) -> list[int]:
    PC = T["party_coarse"]
    with archive.engine.connect() as conn:
        return sorted({r[0] for chunk in _chunks(sorted(set(tokens)))
                       for r in conn.execute(sa.select(PC.c.party_id).where(PC.c.token.in_(chunk)))})


def parties_of_persons(archive: Archive, person_ids: Iterable[int]) -> list[int]:
    PM = T["person_mention"]
    with archive.engine.connect() as conn:
        return sorted({r[0] for chunk in _chunks(sorted(set(person_ids)))
                       for r in conn.execute(sa.select(PM.c.party_id).where(PM.c.person_id.in_(chunk),
                                                                             PM.c.party_id.is_not(None)))})


def complainants_by_tokens(archive: Archive, tokens: Iterable[str]) -> list[int]:
    """Complainant mentions whose keyed token is one of ``tokens`` (a full name's; initials and
    one-word names carry case-scoped tokens a name alone cannot reach)."""
    Co = T["complainant"]
    with archive.engine.connect() as conn:
        return sorted({r[0] for chunk in _chunks(sorted(set(tokens)))
                       for r in conn.execute(sa.select(Co.c.id).where(Co.c.token.in_(chunk)))})


def complainant_mentions(archive: Archive, complainant_ids: Sequence[int]) -> list[dict]:
    """For a subject access copy: each complainant mention with the offence it is in (code, title,
    legislation, wording, offence date), its hearing's date and court, and its list.  Nothing of the
    defendant: that is another person's data."""
    Co, O, H, P, Ct = (T[n] for n in ("complainant", "offence", "hearing", "publication", "court"))
    # (the court as the list names it, else the court the hearing sits in: a public list names it once)
    q = (sa.select(Co.c.id, Co.c.kind, Co.c.token, Co.c.json_path, O.c.code, O.c.title, O.c.legislation,
                   O.c.wording, O.c.offence_date, H.c.sitting_date,
                   sa.func.coalesce(H.c.court_name, Ct.c.name).label("court_name"), H.c.hearing_type,
                   P.c.list_type, P.c.content_date, P.c.source_name)
         .outerjoin(O, O.c.id == Co.c.offence_id).join(H, H.c.id == Co.c.hearing_id)
         .join(P, P.c.id == Co.c.publication_id).outerjoin(Ct, Ct.c.id == H.c.court_id))
    with archive.engine.connect() as conn:
        return [r for chunk in _chunks(sorted(set(complainant_ids)))
                for r in _rows(conn, q.where(Co.c.id.in_(chunk)).order_by(Co.c.id))]


def networks_of_persons(archive: Archive, person_ids: Iterable[int]) -> list[dict]:
    """The current networks these persons are members of: id and size (members), nothing of the
    other members."""
    NM, N = T["network_member"], T["network"]
    with archive.engine.connect() as conn:
        return [r for chunk in _chunks(sorted(set(person_ids)))
                for r in _rows(conn, sa.select(N.c.id, N.c.kind, N.c.size, N.c.cases)
                               .join(NM, NM.c.network_id == N.c.id)
                               .where(NM.c.person_id.in_(chunk), N.c.retired_run_id.is_(None)).distinct())]


def subject_rows(archive: Archive, party_ids: Sequence[int]) -> dict[str, list[dict]]:
    """Every stored row about these party mentions, per table."""
    Pa, O, H, C, PC, PM, Cv, R = (T[n] for n in ("party", "offence", "hearing", "case", "party_coarse",
                                                 "person_mention", "conviction", "restriction"))
    out: dict[str, list[dict]] = {k: [] for k in ("party", "offence", "hearing", "case", "party_coarse",
                                                  "person_mention", "conviction", "restriction")}
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(party_ids))):
            out["party"] += _rows(conn, sa.select(Pa).where(Pa.c.id.in_(chunk)))
            out["offence"] += _rows(conn, sa.select(O).where(O.c.party_id.in_(chunk)))
            out["party_coarse"] += _rows(conn, sa.select(PC).where(PC.c.party_id.in_(chunk)))
            out["person_mention"] += _rows(conn, sa.select(PM).where(PM.c.party_id.in_(chunk)))
            out["conviction"] += _rows(conn, sa.select(Cv).where(Cv.c.party_id.in_(chunk)))
            out["restriction"] += _rows(conn, sa.select(R).where(R.c.party_id.in_(chunk)))
        hids = sorted({p["hearing_id"] for p in out["party"] if p["hearing_id"]})
        cids = sorted({p["case_id"] for p in out["party"] if p["case_id"]})
        for chunk in _chunks(hids):
            out["hearing"] += _rows(conn, sa.select(H).where(H.c.id.in_(chunk)))
        for chunk in _chunks(cids):
            out["case"] += _rows(conn, sa.select(C).where(C.c.id.in_(chunk)))
    return out


def save_rights_request(archive: Archive, row: dict, conn=None) -> int:
    if conn is None:
        with writing(archive.engine) as c:
            return save_rights_request(archive, row, conn=c)
    RR = T["rights_request"]
    if row.get("id"):
        rid = row["id"]
        conn.execute(sa.update(RR).where(RR.c.id == rid).values(**{k: v for k, v in row.items() if k != "id"}))
        return rid
    rid = archive._take_ids(conn, "rights_request", 1)
    conn.execute(sa.insert(RR).values(id=rid, **row))
    return rid


def rights_requests(archive: Archive) -> list[dict]:
    with archive.engine.connect() as conn:
        return _rows(conn, sa.select(T["rights_request"]).order_by(T["rights_request"].c.id))


def get_rights_request(archive: Archive, rid: int) -> dict | None:
    RR = T["rights_request"]
    with archive.engine.connect() as conn:
        r = conn.execute(sa.select(RR).where(RR.c.id == rid)).first()
    return dict(r._mapping) if r else None


# =========================================================================== convictions
def save_conviction(archive: Archive, row: dict, conn=None) -> int:
    if conn is None:
        with writing(archive.engine) as c:
            return save_conviction(archive, row, conn=c)
    Cv = T["conviction"]
    if row.get("id"):
        conn.execute(sa.update(Cv).where(Cv.c.id == row["id"]).values(**{k: v for k, v in row.items() if k != "id"}))
        return row["id"]
    cid = archive._take_ids(conn, "conviction", 1)
    conn.execute(sa.insert(Cv).values(id=cid, **row))
    return cid


def convictions(archive: Archive, *, party_ids: Iterable[int] | None = None) -> list[dict]:
    Cv = T["conviction"]
    with archive.engine.connect() as conn:
        if party_ids is None:
            return _rows(conn, sa.select(Cv).order_by(Cv.c.id))
        return [r for chunk in _chunks(sorted(set(party_ids)))
                for r in _rows(conn, sa.select(Cv).where(Cv.c.party_id.in_(chunk)))]


# =========================================================================== exports and recipients
def record_export(archive: Archive, row: dict, conn=None) -> int:
    if conn is None:
        with writing(archive.engine) as c:
            return record_export(archive, row, conn=c)
    eid = archive._take_ids(conn, "export_record", 1)
    conn.execute(sa.insert(T["export_record"]).values(id=eid, created_at=row.pop("created_at", None) or now(), **row))
    return eid


def update_export(archive: Archive, export_id: int, conn=None, **values) -> None:
    E = T["export_record"]
    if conn is None:
        with writing(archive.engine) as c:
            c.execute(sa.update(E).where(E.c.id == export_id).values(**values))
        return
    conn.execute(sa.update(E).where(E.c.id == export_id).values(**values))


def exports(archive: Archive, *, unpurged_before: dt.datetime | None = None) -> list[dict]:
    E = T["export_record"]
    q = sa.select(E).order_by(E.c.id)
    if unpurged_before is not None:
        q = q.where(E.c.purged_at.is_(None), E.c.created_at < unpurged_before)
    with archive.engine.connect() as conn:
        return _rows(conn, q)


def get_export(archive: Archive, export_id: int) -> dict | None:
    E = T["export_record"]
    with archive.engine.connect() as conn:
        r = _rows(conn, sa.select(E).where(E.c.id == int(export_id)))
    return r[0] if r else None


def approve_domain(archive: Archive, *, domain: str, organisation: str | None, approved_by: str, reason: str,
                   conn) -> int:
    did = archive._take_ids(conn, "domain_approval", 1)
    conn.execute(sa.insert(T["domain_approval"]).values(id=did, domain=domain.lower(), organisation=organisation,
                                                         approved_by=approved_by, reason=reason, approved_at=now()))
    return did


def revoke_domain(archive: Archive, domain: str, conn) -> int:
    D = T["domain_approval"]
    return conn.execute(sa.update(D).where(D.c.domain == domain.lower(), D.c.revoked_at.is_(None))
                        .values(revoked_at=now())).rowcount


def approved_domains(archive: Archive) -> list[dict]:
    D = T["domain_approval"]
    with archive.engine.connect() as conn:
        return _rows(conn, sa.select(D).where(D.c.revoked_at.is_(None)).order_by(D.c.id))


# =========================================================================== figures
def count(archive: Archive, table: str, *where) -> int:
    t = T[table]
    with archive.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar_one()


def table_counts(archive: Archive) -> dict[str, int]:
    with archive.engine.connect() as conn:
        return {n: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for n, t in T.items()}


def is_organisation(p: dict) -> bool:
    """A party row of an organisation (a prosecuting authority, a company), not a person: an
    organisation's name and no surname (as `party_counts` counts them)."""
    return p.get("organisation_name") is not None and p.get("surname") is None


def party_counts(archive: Archive) -> dict[str, int]:
    """Party rows: all, and the people among them -- raw and pseudonymised -- apart from the
    organisations (a prosecuting authority, a company: no personal data, and no name to key, though
    expiry marks their rows done like the others'; counted with the people they made the compliance
    report's "pseudonymised" twice what it was for a typical list)."""
    Pa = T["party"]
    org = Pa.c.organisation_name.is_not(None) & Pa.c.surname.is_(None)
    with archive.engine.connect() as conn:
        total, orgs, pseud = conn.execute(sa.select(
            sa.func.count(), sa.func.count().filter(org),
            sa.func.count().filter(Pa.c.pseudonymised.is_(True) & ~org))).one()
    return {"parties": total, "organisations": orgs, "people": total - orgs, "pseudonymised": pseud,
            "raw": total - orgs - pseud}


def party_identities(archive: Archive, party_ids: Iterable[int], *, conn=None) -> dict[int, dict]:
    """Identity and personal fields of parties (the gate makes analysts' tokens/coarse values from them),
    with their coarse row's token and key id as the expiry reads them (``_coarse_token``,
    ``_coarse_key_id``: `retention._token_of` keeps that token once the date of birth is gone)."""
    Pa, H, Ct, PC = T["party"], T["hearing"], T["court"], T["party_coarse"]
    out = {}
    with _using(archive, conn) as c:
        for chunk in _chunks(sorted(set(party_ids))):
            q = (sa.select(Pa.c.id, Pa.c.role, Pa.c.forenames, Pa.c.middle_names, Pa.c.surname, Pa.c.name_as_listed,
                           Pa.c.organisation_name, Pa.c.date_of_birth, Pa.c.age, Pa.c.postcode, Pa.c.town,
                           Pa.c.county, Pa.c.pseudonymised, Pa.c.case_id, H.c.sitting_date,
                           Ct.c.police_force_area.label("court_pfa"), PC.c.age_band, PC.c.outward_postcode,
                           PC.c.police_force_area, PC.c.token.label("_coarse_token"),
                           PC.c.key_id.label("_coarse_key_id"))
                 .outerjoin(H, H.c.id == Pa.c.hearing_id).outerjoin(Ct, Ct.c.id == H.c.court_id)
                 .outerjoin(PC, PC.c.party_id == Pa.c.id).where(Pa.c.id.in_(chunk)))
            for r in c.execute(q):
                out[r.id] = dict(r._mapping)
    return out


def clear_review_notes(archive: Archive, party_ids: Iterable[int]) -> int:
    RD = T["review_decision"]
    n = 0
    with writing(archive.engine) as conn:
        secure_delete_on(archive, conn)
        for chunk in _chunks(sorted(set(party_ids))):
            n += conn.execute(sa.update(RD).where(sa.or_(RD.c.party_a.in_(chunk), RD.c.party_b.in_(chunk)),
                                                  RD.c.note.is_not(None)).values(note=None)).rowcount
    return n


def subject_batch(archive: Archive, conn, party_ids: Sequence[int]) -> dict[str, list[dict]]:
    """Rows an erasure rewrites: the parties (with hearing date/court and coarse row: `_expiry_parties`),
    their hearings and offences, their cases (case keys may carry the name)."""
    Pa, H, O, C = (T[n] for n in ("party", "hearing", "offence", "case"))
    out: dict[str, list[dict]] = {"party": [], "hearing": [], "offence": [], "case": [], "publication": []}
    for chunk in _chunks(sorted(set(party_ids))):
        out["party"] += _rows(conn, _expiry_parties().where(Pa.c.id.in_(chunk)))
        out["offence"] += _rows(conn, sa.select(O, H.c.court_id.label("_court_id"))
                                .join(H, H.c.id == O.c.hearing_id).where(O.c.party_id.in_(chunk)))
    for chunk in _chunks(sorted({p["hearing_id"] for p in out["party"]})):
        out["hearing"] += _rows(conn, sa.select(H).where(H.c.id.in_(chunk)))
    for chunk in _chunks(sorted({p["case_id"] for p in out["party"] if p["case_id"]})):
        out["case"] += [dict(r, _other_raw=False) for r in _rows(conn, sa.select(C).where(C.c.id.in_(chunk)))]
    return out


def complainant_batch(archive: Archive, conn, complainant_ids: Sequence[int]) -> list[dict]:
    """The complainant mentions an erasure unlinks, with what legal holds are scoped by besides
    their case: the hearing's court (``_court_id``) and the defendant the offence charges
    (``_party_id``)."""
    Co, H, O = T["complainant"], T["hearing"], T["offence"]
    q = (sa.select(Co.c.id, Co.c.publication_id, Co.c.hearing_id, Co.c.offence_id, Co.c.case_id, Co.c.token,
                   Co.c.initials_token, Co.c.bloom, Co.c.key_id, Co.c.descriptor,
                   H.c.court_id.label("_court_id"), O.c.party_id.label("_party_id"))
         .join(H, H.c.id == Co.c.hearing_id).outerjoin(O, O.c.id == Co.c.offence_id))
    return [r for chunk in _chunks(sorted(set(complainant_ids)))
            for r in _rows(conn, q.where(Co.c.id.in_(chunk)).order_by(Co.c.id))]


def complainant_tokens(archive: Archive, conn, pub_ids: Iterable[int]) -> list[dict]:
    """Every complainant mention of these lists that has a token: id, publication_id, offence_id,
    hearing_id, token."""
    Co = T["complainant"]
    q = (sa.select(Co.c.id, Co.c.publication_id, Co.c.offence_id, Co.c.hearing_id, Co.c.token)
         .where(Co.c.token.is_not(None)))
    return [r for chunk in _chunks(sorted(set(pub_ids))) for r in _rows(conn, q.where(Co.c.publication_id.in_(chunk)))]


def labelled_texts(archive: Archive, conn, pub_ids: Iterable[int], fields: dict[str, Sequence[str]],
                   mark: str) -> dict[str, list[dict]]:
    """Rows of these lists (``fields``: table -> free-text columns) whose free text holds ``mark``
    (a complainant's label), with their case, court (``_court_id``) and an offence's party: what a
    complainant's erasure rewrites, and what legal holds are scoped by."""
    H = T["hearing"]
    out: dict[str, list[dict]] = {}
    for table, cols in fields.items():
        t = T[table]
        q = sa.select(t.c.id, t.c.publication_id, t.c.case_id, *(t.c[c] for c in cols))
        if table == "hearing":
            q = q.add_columns(t.c.court_id.label("_court_id"))
        else:
            q = q.add_columns(t.c.party_id, H.c.court_id.label("_court_id")).join(H, H.c.id == t.c.hearing_id)
        q = q.where(sa.or_(*(t.c[c].contains(mark, autoescape=True) for c in cols)))
        out[table] = [r for chunk in _chunks(sorted(set(pub_ids)))
                      for r in _rows(conn, q.where(t.c.publication_id.in_(chunk)).order_by(t.c.id))]
    return out


def unlink_complainants(archive: Archive, conn, complainant_ids: Sequence[int]) -> int:
    """Erasure: the complainant mentions leave their linked (complainant) persons."""
    PM = T["person_mention"]
    return sum(conn.execute(sa.delete(PM).where(PM.c.complainant_id.in_(chunk))).rowcount
               for chunk in _chunks(sorted(set(complainant_ids))))


def unlink_parties(archive: Archive, conn, party_ids: Sequence[int], *, drop_coarse: bool) -> dict:
    """Erasure (delete mode): the mentions leave their linked persons; coarse rows go too."""
    PM, PC = T["person_mention"], T["party_coarse"]
    n_pm = n_pc = 0
    for chunk in _chunks(sorted(set(party_ids))):
        n_pm += conn.execute(sa.delete(PM).where(PM.c.party_id.in_(chunk))).rowcount
        if drop_coarse:
            n_pc += conn.execute(sa.delete(PC).where(PC.c.party_id.in_(chunk))).rowcount
    return {"person_mentions_deleted": n_pm, "coarse_deleted": n_pc}


# rectification
def hearing_parties(archive: Archive, conn, hearing_ids: Sequence[int]) -> list[dict]:
    """The parties of these hearings with their name fields (id, hearing_id, title, forenames,
    middle_names, surname, name_as_listed, organisation_name): whose names a hearing's case name
    may quote (`rights.rectify`)."""
    Pa = T["party"]
    q = sa.select(Pa.c.id, Pa.c.hearing_id, Pa.c.title, Pa.c.forenames, Pa.c.middle_names, Pa.c.surname,
                  Pa.c.name_as_listed, Pa.c.organisation_name)
    return [r for chunk in _chunks(sorted(set(hearing_ids)))
            for r in _rows(conn, q.where(Pa.c.hearing_id.in_(chunk)).order_by(Pa.c.id))]
