"""Store side of the link stage: reading mentions as Arrow, writing persons, networks, reviews.

Only `store` issues SQL; the link stage (``courtarchive.link``) calls these functions with an
`Archive`.  Large reads come back as Arrow tables; large writes go in with the archive's bulk path
(executemany on SQLite, COPY on PostgreSQL) inside one transaction per call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Iterable, Sequence

import pyarrow as pa
import sqlalchemy as sa

from ..model import ENTITIES
from .archive import Archive, StoreError, _arrow_type
from .engine import writing
from .locks import ArchiveLock
from .tables import TABLES as T

__all__ = [
    "PARTY_COLS", "defendant_mentions", "complainant_mentions", "complainant_case_offences", "mention_provenance", "party_details",
    "LinkRunBusy", "one_run", "start_run", "finish_run", "latest_run", "person_assignments", "save_persons",
    "review_decisions", "add_review_decision", "replace_review_queue", "review_queue",
    "network_state", "save_networks", "take_ids", "person_summary",
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _arrow(archive: Archive, query, fields: list[tuple[str, pa.DataType]], batch: int = 200_000, *,
           order=None) -> pa.Table:
    """Run ``query`` and return its rows as an Arrow table of ``fields`` (`Archive.read_arrow`),
    sorted by ``order``, which must be the first column selected (the mention id)."""
    if order is not None and list(query.selected_columns)[0] is not order:
        raise ValueError("the order column must be the first one selected")
    return archive.read_arrow(query, pa.schema([pa.field(n, t) for n, t in fields]), order=order, batch_size=batch)


@contextlib.contextmanager
def _begun(archive: Archive, conn=None):
    """``conn`` (a transaction the caller opened and will end: a link run writes every stage in
    one), else a transaction of its own."""
    if conn is not None:
        yield conn
    else:
        with writing(archive.engine) as c:
            yield c


def _typed(table: str, cols: Sequence[str]) -> list[tuple[str, pa.DataType]]:
    e = ENTITIES[table]
    return [(c, _arrow_type(e.field(c).kind)) for c in cols]


# --------------------------------------------------------------------------- mentions
#: the party columns the link stage reads and scores mentions on (`defendant_mentions`)
PARTY_COLS = ("forenames", "middle_names", "surname", "organisation_name", "name_as_listed",
               "date_of_birth", "age", "gender", "town", "postcode", "asn", "pnc_id", "is_masked")


def defendant_mentions(archive: Archive) -> pa.Table:
    """Current DEFENDANT party mentions with their hearing's sitting date (for age at hearing).

    Columns: party_id, case_id, hearing_id, publication_id, sitting_date, court_id and the party's
    identity fields (forenames ... pnc_id).  Current = the publication is not superseded."""
    Pa, H = T["party"], T["hearing"]
    q = (sa.select(Pa.c.id, Pa.c.case_id, Pa.c.hearing_id, Pa.c.publication_id, H.c.sitting_date,
                   H.c.court_id, *(Pa.c[c] for c in PARTY_COLS))
         .join(H, H.c.id == Pa.c.hearing_id)
         .where(Pa.c.role == "DEFENDANT", Pa.c.publication_id.in_(archive.current_publications())))
    fields = ([("party_id", pa.int64()), ("case_id", pa.int64()), ("hearing_id", pa.int64()),
               ("publication_id", pa.int64()), ("sitting_date", pa.date32()), ("court_id", pa.int64())]
              + _typed("party", PARTY_COLS))
    return _arrow(archive, q, fields, order=Pa.c.id)


def complainant_mentions(archive: Archive) -> pa.Table:
    """Current complainant mentions (pseudonymised: token, key id, Bloom encoding; no cleartext),
    with the defendant party charged and the charge's code and number (through the offence), the
    hearing's court, its police force area (``area``: the blocking unit for Bloom comparisons)
    and coordinates (``court_lat``, ``court_lon``), and the evidence that two
    mentions in different cases concern one episode: the complainant's coarse descriptor ("girl
    aged 13"), the offence's date and (tokenised) wording, the hearing's sitting date; and
    ``raw_expired``: the raw identities of the mention's publication were pseudonymised (expiry or
    erasure), so the wording and the defendant's names that evidence came from are gone."""
    C, O, H, Ct, P = T["complainant"], T["offence"], T["hearing"], T["court"], T["publication"]
    q = (sa.select(C.c.id, C.c.case_id, C.c.hearing_id, C.c.offence_id, O.c.party_id, O.c.code, O.c.seq,
                   H.c.court_id, Ct.c.police_force_area, Ct.c.lat, Ct.c.lon, C.c.kind, C.c.token, C.c.key_id,
                   C.c.bloom, C.c.descriptor, O.c.offence_date, O.c.wording, H.c.sitting_date,
                   P.c.raw_expired_at.is_not(None))
         .join(P, P.c.id == C.c.publication_id)
         .outerjoin(O, O.c.id == C.c.offence_id).outerjoin(H, H.c.id == C.c.hearing_id)
         .outerjoin(Ct, Ct.c.id == H.c.court_id)
         .where(C.c.publication_id.in_(archive.current_publications())))
    # a keyed token of a full name's initials in its case scope, when the intake gate provides it
    extra = [("initials_token", pa.string())] if "initials_token" in C.c else []
    if extra:
        q = q.add_columns(C.c.initials_token)
    fields = [("complainant_id", pa.int64()), ("case_id", pa.int64()), ("hearing_id", pa.int64()),
              ("offence_id", pa.int64()), ("party_id", pa.int64()), ("offence_code", pa.string()),
              ("offence_seq", pa.int64()), ("court_id", pa.int64()), ("area", pa.string()),
              ("court_lat", pa.float64()), ("court_lon", pa.float64()), ("kind", pa.string()),
              ("token", pa.string()), ("key_id", pa.string()),
              ("bloom", pa.binary()), ("descriptor", pa.string()), ("offence_date", pa.date32()),
              ("wording", pa.string()), ("sitting_date", pa.date32()), ("raw_expired", pa.bool_())] + extra
    return _arrow(archive, q, fields, order=C.c.id)


def complainant_case_offences(archive: Archive) -> pa.Table:
    """(case_id, code): the distinct offence codes listed in the current publications for every
    case that has a complainant mention -- the victim context of a complainant named as a party
    rather than in an offence's wording (`link.victims`)."""
    C, O = T["complainant"], T["offence"]
    cur = archive.current_publications()
    cases = sa.select(C.c.case_id).where(C.c.publication_id.in_(cur), C.c.case_id.is_not(None)).distinct()
    q = (sa.select(O.c.case_id, O.c.code)
         .where(O.c.case_id.in_(cases), O.c.publication_id.in_(cur), O.c.code.is_not(None))
         .distinct().order_by(O.c.case_id, O.c.code))
    return _arrow(archive, q, [("case_id", pa.int64()), ("code", pa.string())])


def mention_provenance(archive: Archive, kind: str) -> pa.Table:
    """mention_id, source_name (file as given at ingest), json_path: to join generator truth."""
    t = T["party"] if kind == "defendant" else T["complainant"]
    P = T["publication"]
    q = (sa.select(t.c.id, P.c.source_name, t.c.json_path).join(P, P.c.id == t.c.publication_id)
         .where(P.c.superseded_by.is_(None)))
    if kind == "defendant":
        q = q.where(t.c.role == "DEFENDANT")
    return _arrow(archive, q, [("mention_id", pa.int64()), ("source_name", pa.string()), ("json_path", pa.string())],
                  order=t.c.id)


def party_details(archive: Archive, party_ids: Iterable[int]) -> dict[int, dict]:
    """Identity fields of some party mentions (reviewers and `explain` need to see them)."""
    ids = sorted(set(int(i) for i in party_ids))
    Pa, H = T["party"], T["hearing"]
    out: dict[int, dict] = {}
    with archive.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            rows = conn.execute(sa.select(Pa.c.id, Pa.c.case_id, H.c.sitting_date, H.c.court_id,
                                          *(Pa.c[c] for c in PARTY_COLS))
                                .join(H, H.c.id == Pa.c.hearing_id).where(Pa.c.id.in_(ids[i:i + 500])))
            for r in rows:
                out[r.id] = dict(r._mapping)
    return out


# --------------------------------------------------------------------------- ids and runs
def take_ids(archive: Archive, name: str, n: int) -> list[int]:
    """n fresh ids for table ``name`` (from the store's id blocks)."""
    if n <= 0:
        return []
    with writing(archive.engine) as conn:
        first = archive._take_ids(conn, name, n)
    return list(range(first, first + n))


class LinkRunBusy(StoreError):
    """Another process is running the link stage on this archive."""


@contextlib.contextmanager
def one_run(archive: Archive):
    """Hold the archive's link-run lock (`store.locks`) for the block: a second link run refuses
    at once with `LinkRunBusy` instead of computing everything and then queueing to write the same.
    Taken, it also marks ``interrupted`` the runs left ``running`` (their process died: its lock
    went with it)."""
    R = T["link_run"]
    lock = ArchiveLock(archive, "link", pg_key="link_run")
    if not lock.acquire():
        with archive.engine.connect() as conn:
            r = conn.execute(sa.select(R.c.id, R.c.started_at).where(R.c.status == "running")
                             .order_by(R.c.id.desc()).limit(1)).first()
        which = f" (run {r.id}, started {r.started_at:%Y-%m-%d %H:%M:%S} UTC)" if r else ""
        raise LinkRunBusy(f"another link run is in progress on this archive{which}: wait for it to end")
    try:
        with writing(archive.engine) as conn:
            conn.execute(sa.update(R).where(R.c.status == "running").values(status="interrupted"))
        yield
    finally:
        lock.release()


def start_run(archive: Archive, *, mode: str, engine: str, threshold: float, review_low: float,
              review_high: float) -> int:
    with writing(archive.engine) as conn:
        rid = archive._take_ids(conn, "link_run", 1)
        conn.execute(sa.insert(T["link_run"]).values(
            id=rid, mode=mode, engine=engine, started_at=_now(), status="running", threshold=threshold,
            review_low=review_low, review_high=review_high))
    return rid


def finish_run(archive: Archive, run_id: int, *, status: str = "done", model: dict | None = None,
               stats: dict | None = None, conn=None) -> None:
    vals = dict(status=status, finished_at=_now(), stats=stats)
    if model is not None:
        vals["model"] = model
    with _begun(archive, conn) as conn:
        conn.execute(sa.update(T["link_run"]).where(T["link_run"].c.id == run_id).values(**vals))


def latest_run(archive: Archive, *, with_model: bool = False) -> dict | None:
    """The latest finished run (optionally: the latest that stored a trained model)."""
    R = T["link_run"]
    q = sa.select(R).where(R.c.status == "done")
    if with_model:
        q = q.where(R.c.model.is_not(None))
    with archive.engine.connect() as conn:
        r = conn.execute(q.order_by(R.c.id.desc()).limit(1)).first()
    return dict(r._mapping) if r else None


# --------------------------------------------------------------------------- persons
def person_assignments(archive: Archive, kind: str) -> pa.Table:
    """Current assignments of one kind: mention_id (party or complainant id), person_id, probability."""
    M = T["person_mention"]
    mid = M.c.party_id if kind == "defendant" else M.c.complainant_id
    q = sa.select(mid, M.c.person_id, M.c.probability).where(M.c.kind == kind)
    return _arrow(archive, q, [("mention_id", pa.int64()), ("person_id", pa.int64()), ("probability", pa.float64())],
                  order=mid)


def save_persons(archive: Archive, run_id: int, kind: str, assignments: pa.Table, *,
                 created: Iterable[int] = (), retired: dict[int, int | None] | None = None,
                 old: pa.Table | None = None, conn=None) -> dict:
    """Write the assignment of every current mention of ``kind`` (columns mention_id, person_id,
    probability) and the person rows: ``created`` ids are new persons, ``retired`` maps persons that
    no longer exist to the person they were merged into (or None).  Only changed rows are written:
    those that differ from ``old``, the `person_assignments` the caller read (else read here)."""
    M, Pe = T["person_mention"], T["person"]
    mcol = "party_id" if kind == "defendant" else "complainant_id"
    if old is None:
        old = person_assignments(archive, kind)
    old_map = dict(zip(old["mention_id"].to_pylist(),
                       zip(old["person_id"].to_pylist(), old["probability"].to_pylist())))
    new_ids = assignments["mention_id"].to_pylist()
    new_p = assignments["person_id"].to_pylist()
    new_pr = assignments["probability"].to_pylist()
    new_set = set(new_ids)
    gone = [m for m in old_map if m not in new_set]
    changed = [(m, p, pr) for m, p, pr in zip(new_ids, new_p, new_pr) if old_map.get(m) != (p, pr)]
    sizes: dict[int, int] = {}
    for p in new_p:
        sizes[p] = sizes.get(p, 0) + 1
    created = set(created)
    retired = retired or {}
    with _begun(archive, conn) as conn:
        dele = [m for m in gone] + [m for m, _, _ in changed if m in old_map]
        for i in range(0, len(dele), 5000):
            conn.execute(sa.delete(M).where(M.c[mcol].in_(dele[i:i + 5000])))
        if created:
            conn.execute(sa.insert(Pe), [dict(id=p, kind=kind, mentions=sizes.get(p, 0), created_run_id=run_id,
                                              updated_run_id=run_id, retired_run_id=None, merged_into=None)
                                         for p in sorted(created)])
        # mention rows need their person first (foreign key)
        first = archive._take_ids(conn, "person_mention", len(changed)) if changed else 0
        rows = [(first + i, p, kind, m if kind == "defendant" else None, m if kind != "defendant" else None,
                 run_id, pr) for i, (m, p, pr) in enumerate(changed)]
        archive._bulk_insert(conn, ENTITIES["person_mention"], rows,
                             ["id", "person_id", "kind", "party_id", "complainant_id", "run_id", "probability"])
        touched = {p for _, p, _ in changed} - created
        old_sizes: dict[int, int] = {}
        for p, _ in old_map.values():
            old_sizes[p] = old_sizes.get(p, 0) + 1
        touched |= {p for p, n in sizes.items() if old_sizes.get(p) != n} - created
        upd = [dict(i=p, n=sizes.get(p, 0)) for p in sorted(touched) if p not in retired]
        if upd:
            conn.execute(sa.update(Pe).where(Pe.c.id == sa.bindparam("i"))
                         .values(mentions=sa.bindparam("n"), updated_run_id=run_id), upd)
        ret = [dict(i=p, m=into) for p, into in sorted(retired.items())]
        if ret:
            conn.execute(sa.update(Pe).where(Pe.c.id == sa.bindparam("i"))
                         .values(retired_run_id=run_id, merged_into=sa.bindparam("m"), mentions=0), ret)
    return {"written": len(changed), "removed": len(gone), "created": len(created), "retired": len(retired)}


def person_summary(archive: Archive) -> dict:
    Pe = T["person"]
    with archive.engine.connect() as conn:
        rows = conn.execute(sa.select(Pe.c.kind, sa.func.count()).where(Pe.c.retired_run_id.is_(None))
                            .group_by(Pe.c.kind)).all()
    return {k: n for k, n in rows}


# --------------------------------------------------------------------------- review
def review_decisions(archive: Archive) -> list[dict]:
    """The latest decision on each pair of party mentions (party_a < party_b)."""
    D = T["review_decision"]
    with archive.engine.connect() as conn:
        rows = conn.execute(sa.select(D).order_by(D.c.decided_at, D.c.id)).all()
    latest: dict[tuple[int, int], dict] = {}
    for r in rows:
        latest[(r.party_a, r.party_b)] = dict(r._mapping)
    return list(latest.values())


def add_review_decision(archive: Archive, a: int, b: int, decision: str, reviewer: str,
                        note: str | None = None) -> int:
    if decision not in ("same", "different"):
        raise ValueError("decision must be 'same' or 'different'")
    if a == b:
        raise ValueError("a decision needs two different mentions")
    a, b = sorted((int(a), int(b)))
    Pa, D = T["party"], T["review_decision"]
    with writing(archive.engine) as conn:
        found = conn.execute(sa.select(sa.func.count()).select_from(Pa)
                             .where(Pa.c.id.in_([a, b]), Pa.c.role == "DEFENDANT")).scalar_one()
        if found != 2:
            raise ValueError(f"parties {a} and {b} are not both defendant mentions in the archive")
        did = archive._take_ids(conn, "review_decision", 1)
        conn.execute(sa.insert(D).values(id=did, party_a=a, party_b=b, decision=decision, reviewer=reviewer,
                                         decided_at=_now(), note=note, applied_run_id=None))
        conn.execute(sa.delete(T["review_queue"]).where(T["review_queue"].c.party_a == a,
                                                         T["review_queue"].c.party_b == b))
    return did


def mark_decisions_applied(archive: Archive, run_id: int, conn=None) -> None:
    D = T["review_decision"]
    with _begun(archive, conn) as conn:
        conn.execute(sa.update(D).where(D.c.applied_run_id.is_(None)).values(applied_run_id=run_id))


def replace_review_queue(archive: Archive, run_id: int, rows: list[dict], *, replace: bool = True,
                         drop_parties: Iterable[int] = (), limit: int | None = None, conn=None) -> int:
    """Replace the queue with ``rows`` (party_a, party_b, match_probability, match_weight,
    person_a, person_b), skipping pairs that already have a decision.  ``replace=False`` adds to
    the queue instead (incremental runs), after dropping pairs that involve ``drop_parties``
    (mentions re-linked in this run) and pairs already queued.  ``limit``: at most this many
    rows are added, the first ones given."""
    Q = T["review_queue"]
    decided = {(d["party_a"], d["party_b"]) for d in review_decisions(archive)}
    with _begun(archive, conn) as conn:
        if replace:
            conn.execute(sa.delete(Q))
        else:
            drop = sorted(set(int(x) for x in drop_parties))
            for i in range(0, len(drop), 5000):
                chunk = drop[i:i + 5000]
                conn.execute(sa.delete(Q).where(sa.or_(Q.c.party_a.in_(chunk), Q.c.party_b.in_(chunk))))
            decided |= {(a, b) for a, b in conn.execute(sa.select(Q.c.party_a, Q.c.party_b))}
        keep, seen = [], set()
        for r in rows:
            a, b = sorted((int(r["party_a"]), int(r["party_b"])))
            if limit is not None and len(keep) >= limit:
                break
            if (a, b) not in decided and (a, b) not in seen:
                seen.add((a, b))
                keep.append((a, b, r))
        first = archive._take_ids(conn, "review_queue", len(keep)) if keep else 0
        archive._bulk_insert(conn, ENTITIES["review_queue"],
                             [(first + i, run_id, a, b, r.get("match_probability"), r.get("match_weight"),
                               r.get("person_a"), r.get("person_b")) for i, (a, b, r) in enumerate(keep)],
                             ["id", "run_id", "party_a", "party_b", "match_probability", "match_weight",
                              "person_a", "person_b"])
    return len(keep)


def review_queue(archive: Archive, limit: int | None = None) -> list[dict]:
    """Open review pairs, most uncertain first (probability nearest 0.5 ... by |p - 0.5|)."""
    Q = T["review_queue"]
    q = sa.select(Q).order_by(sa.func.abs(Q.c.match_probability - 0.5), Q.c.party_a, Q.c.party_b)
    if limit:
        q = q.limit(limit)
    with archive.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


# --------------------------------------------------------------------------- networks
def network_state(archive: Archive) -> tuple[list[dict], pa.Table]:
    """Live networks (not retired) and their current members (network_id, person_id)."""
    N, NM = T["network"], T["network_member"]
    with archive.engine.connect() as conn:
        nets = [dict(r._mapping) for r in conn.execute(sa.select(N).where(N.c.retired_run_id.is_(None))
                                                       .order_by(N.c.id))]
    members = _arrow(archive, sa.select(NM.c.network_id, NM.c.person_id).order_by(NM.c.id),
                     [("network_id", pa.int64()), ("person_id", pa.int64())])
    return nets, members


def save_networks(archive: Archive, run_id: int, networks: list[dict], members: pa.Table,
                  retired: Iterable[int], conn=None) -> None:
    """Write the networks of a run: ``networks`` rows (id, kind, parent_id, size, cases,
    complainants, new: bool), the full current membership (network_id, person_id) and the ids of
    networks that no longer exist."""
    N, NM = T["network"], T["network_member"]
    retired = sorted(set(retired))
    with _begun(archive, conn) as conn:
        new = [n for n in networks if n.get("new")]
        old = [n for n in networks if not n.get("new")]
        # parents first: components before communities
        for group in (sorted(new, key=lambda n: n["kind"] != "component"),):
            if group:
                conn.execute(sa.insert(N), [dict(id=n["id"], kind=n["kind"], parent_id=n.get("parent_id"),
                                                 size=n["size"], cases=n.get("cases"),
                                                 complainants=n.get("complainants"), created_run_id=run_id,
                                                 updated_run_id=run_id, retired_run_id=None) for n in group])
        if old:
            conn.execute(sa.update(N).where(N.c.id == sa.bindparam("i")).values(
                parent_id=sa.bindparam("pid"), size=sa.bindparam("s"), cases=sa.bindparam("c"),
                complainants=sa.bindparam("k"), updated_run_id=run_id),
                [dict(i=n["id"], pid=n.get("parent_id"), s=n["size"], c=n.get("cases"),
                      k=n.get("complainants")) for n in old])
        for i in range(0, len(retired), 5000):
            conn.execute(sa.update(N).where(N.c.id.in_(retired[i:i + 5000])).values(retired_run_id=run_id))
        conn.execute(sa.delete(NM))
        n = members.num_rows
        first = archive._take_ids(conn, "network_member", n) if n else 0
        archive._bulk_insert(conn, ENTITIES["network_member"],
                             [(first + i, a, b, run_id) for i, (a, b) in enumerate(
                                 zip(members["network_id"].to_pylist(), members["person_id"].to_pylist()))],
                             ["id", "network_id", "person_id", "run_id"])
