"""Store side of alerts (``courtarchive.serve.alerts``): subscriptions, the new listings an ingest
brought, what the matcher needs to know about them, and the queue of matches (``alert_match``).

Only ids and the subscriber's own query are stored; a match row names a subscription and a hearing,
never a person.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .archive import Archive
from .engine import writing
from .tables import TABLES as T
from .util import as_id, case_number_key_sql, dicts, now, chunks as _chunks, rows as _rows, statement

_CHUNK = 500
# =========================================================================== subscriptions
def add_subscription(archive: Archive, row: dict) -> dict:
    S = T["subscription"]
    with writing(archive.engine) as conn:
        sid = archive._take_ids(conn, "subscription", 1)
        conn.execute(sa.insert(S).values(id=sid, active=True, created_at=row.pop("created_at", None) or now(), **row))
        return _rows(conn, sa.select(S).where(S.c.id == sid))[0]


def subscriptions(archive: Archive, *, account_id: int | None = None, active_only: bool = False,
                  kinds: Sequence[str] | None = None) -> list[dict]:
    S = T["subscription"]
    q = sa.select(S).order_by(S.c.id)
    if account_id is not None:
        q = q.where(S.c.account_id == account_id)
    if active_only:
        q = q.where(S.c.active.is_(True))
    if kinds:
        q = q.where(S.c.kind.in_(list(kinds)))
    with archive.engine.connect() as conn:
        return _rows(conn, q)


def get_subscription(archive: Archive, subscription_id: int) -> dict | None:
    S = T["subscription"]
    if as_id(subscription_id) is None:
        return None
    with archive.engine.connect() as conn:
        r = _rows(conn, sa.select(S).where(S.c.id == subscription_id))
    return r[0] if r else None


def deactivate(archive: Archive, *, subscription_id: int | None = None, account_id: int | None = None,
               token: str | None = None) -> dict | None:
    """Switch a subscription off (by id and owner, or by its unsubscribe token), drop its unsent
    matches and, for name and search alerts, the followed name (query, label, date of birth);
    returns the subscription as it was, or None when there is no such active one."""
    S, M = T["subscription"], T["alert_match"]
    conds = [S.c.active.is_(True)]
    if token is not None:
        conds.append(S.c.unsubscribe_token == token)
    else:
        if as_id(subscription_id) is None:
            return None
        conds += [S.c.id == subscription_id, S.c.account_id == account_id]
    with writing(archive.engine) as conn:
        found = _rows(conn, sa.select(S).where(*conds))
        if not found:
            return None
        sub = found[0]
        values: dict = {"active": False}
        if sub["kind"] in ("name", "search"):   # the followed name is not kept once nobody follows it
            values.update(query=None, label=None,
                          params={k: v for k, v in (sub["params"] or {}).items() if k != "date_of_birth"} or None)
        n = conn.execute(sa.update(S).where(S.c.id == sub["id"], S.c.active.is_(True)).values(**values)).rowcount
        if n != 1:
            return None
        conn.execute(sa.delete(M).where(M.c.subscription_id == sub["id"], M.c.sent_at.is_(None)))
    return sub


def set_last_run(archive: Archive, subscription_ids: Sequence[int], at: dt.datetime) -> None:
    S = T["subscription"]
    with writing(archive.engine) as conn:
        for chunk in _chunks(sorted(set(subscription_ids))):
            conn.execute(sa.update(S).where(S.c.id.in_(chunk)).values(last_run_at=at))


# =========================================================================== what the matcher reads
def new_hearings(archive: Archive, since: dt.datetime, *, until: dt.datetime | None = None) -> list[dict]:
    """Hearings of current publications ingested after ``since`` (and not after ``until``), with
    their case's URN and the publication's ingest time."""
    H, P, C = T["hearing"], T["publication"], T["case"]
    q = (sa.select(H.c.id, H.c.case_id, H.c.court_id, H.c.sitting_date, H.c.sitting_time, H.c.hearing_type,
                   H.c.publication_id, P.c.ingested_at, P.c.list_type, C.c.urn, C.c.case_number)
         .join(P, P.c.id == H.c.publication_id).outerjoin(C, C.c.id == H.c.case_id)
         .where(P.c.ingested_at > since, P.c.superseded_by.is_(None), H.c.case_id.is_not(None))
         .order_by(H.c.id))
    if until is not None:
        q = q.where(P.c.ingested_at <= until)
    with archive.engine.connect() as conn:
        return _rows(conn, q)


def parties_of_hearings(archive: Archive, hearing_ids: Iterable[int]) -> list[dict]:
    Pa = T["party"]
    cols = [Pa.c.id, Pa.c.hearing_id, Pa.c.case_id, Pa.c.role, Pa.c.forenames, Pa.c.middle_names, Pa.c.surname,
            Pa.c.name_as_listed, Pa.c.organisation_name, Pa.c.date_of_birth, Pa.c.pseudonymised]
    out: list[dict] = []
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(hearing_ids))):
            out += _rows(conn, sa.select(*cols).where(Pa.c.hearing_id.in_(chunk)).order_by(Pa.c.id))
    return out


def offence_facts(archive: Archive, hearing_ids: Iterable[int]) -> list[dict]:
    """Per offence of these hearings: the facts events are read from (code, plea, dates)."""
    O = T["offence"]
    cols = [O.c.id, O.c.hearing_id, O.c.party_id, O.c.code, O.c.title, O.c.plea, O.c.conviction_date,
            O.c.adjourned_date]
    out: list[dict] = []
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(hearing_ids))):
            out += _rows(conn, sa.select(*cols).where(O.c.hearing_id.in_(chunk)))
    return out


def case_listings(archive: Archive, case_ids: Iterable[int]) -> list[dict]:
    """Every listing (hearing of a current publication) of these cases: id, case, court, date, type."""
    H, P = T["hearing"], T["publication"]
    out: list[dict] = []
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(case_ids))):
            out += _rows(conn, sa.select(H.c.id, H.c.case_id, H.c.court_id, H.c.sitting_date, H.c.hearing_type)
                         .join(P, P.c.id == H.c.publication_id)
                         .where(H.c.case_id.in_(chunk), P.c.superseded_by.is_(None)))
    return out


def resolve_case(archive: Archive, ref: str | int) -> dict | None:
    """A case by URN, case number, case key or id: {id, urn, case_number}; an int: that id alone
    (its digits as text may be another case's number)."""
    C = T["case"]
    if isinstance(ref, int) and not isinstance(ref, bool):
        with archive.engine.connect() as conn:
            r = _rows(conn, sa.select(C.c.id, C.c.urn, C.c.case_number).where(C.c.id == ref))
        return r[0] if r else None
    ref = (ref or "").strip()
    key = "".join(ref.split()).upper()
    with archive.engine.connect() as conn:
        conds = [C.c.urn == key, sa.literal_column(case_number_key_sql('"case".case_number')) == key]
        if (i := as_id(ref)) is not None:
            conds.append(C.c.id == i)
        r = _rows(conn, sa.select(C.c.id, C.c.urn, C.c.case_number).where(sa.or_(*conds))
                  .order_by((C.c.urn != key), C.c.id).limit(1))
    return r[0] if r else None


def court(archive: Archive, court_id: int) -> dict | None:
    Ct = T["court"]
    if as_id(court_id) is None:
        return None
    with archive.engine.connect() as conn:
        r = _rows(conn, sa.select(Ct.c.id, Ct.c.name, Ct.c.slug).where(Ct.c.id == court_id))
    return r[0] if r else None


def live_person(archive: Archive, person_id: int) -> int | None:
    """The person a (possibly merged) person id stands for now; None when unknown (or not an id)."""
    P = T["person"]
    if as_id(person_id) is None:
        return None
    seen: set[int] = set()
    with archive.engine.connect() as conn:
        cur = person_id
        while cur is not None and cur not in seen:
            seen.add(cur)
            r = conn.execute(sa.select(P.c.id, P.c.merged_into).where(P.c.id == cur)).first()
            if r is None:
                return None if cur == person_id else cur
            if r.merged_into is None:
                return r.id
            cur = r.merged_into
    return cur


def person_exists(archive: Archive, person_id: int) -> bool:
    return live_person(archive, person_id) is not None


def network_exists(archive: Archive, network_id: int) -> bool:
    N = T["network"]
    if as_id(network_id) is None:
        return False
    with archive.engine.connect() as conn:
        return conn.execute(sa.select(N.c.id).where(N.c.id == network_id)).scalar() is not None


def network_persons(archive: Archive, network_id: int) -> list[int]:
    NM = T["network_member"]
    if as_id(network_id) is None:
        return []
    with archive.engine.connect() as conn:
        return sorted({r[0] for r in conn.execute(sa.select(NM.c.person_id).where(NM.c.network_id == network_id))})


def person_mention_identities(archive: Archive, person_ids: Iterable[int]) -> dict[int, list[dict]]:
    """The raw (not yet pseudonymised) names and dates of birth of persons' defendant mentions."""
    PM, Pa = T["person_mention"], T["party"]
    out: dict[int, list[dict]] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(person_ids))):
            q = (sa.select(PM.c.person_id, Pa.c.id, Pa.c.forenames, Pa.c.middle_names, Pa.c.surname,
                           Pa.c.name_as_listed, Pa.c.organisation_name, Pa.c.date_of_birth)
                 .join(Pa, Pa.c.id == PM.c.party_id)
                 .where(PM.c.person_id.in_(chunk), sa.or_(Pa.c.pseudonymised.is_(None), Pa.c.pseudonymised.is_(False))))
            for r in _rows(conn, q):
                out.setdefault(r.pop("person_id"), []).append(r)
    return out


def persons_of_parties(archive: Archive, party_ids: Iterable[int]) -> dict[int, int]:
    PM = T["person_mention"]
    out: dict[int, int] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(party_ids))):
            for a, b in conn.execute(sa.select(PM.c.party_id, PM.c.person_id).where(PM.c.party_id.in_(chunk))):
                out[a] = b
    return out


# =========================================================================== the match queue
def matched_sittings(archive: Archive, case_ids: Iterable[int]) -> set[tuple[int, int, int | None, object]]:
    """(subscription id, case id, court id, sitting date) of every match already queued or sent for
    these cases -- the hearing's own court and day, whichever version or variant of the list it
    came from (a superseded one included)."""
    M, H = T["alert_match"], T["hearing"]
    out: set = set()
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(case_ids))):
            out |= {tuple(r) for r in conn.execute(
                sa.select(M.c.subscription_id, M.c.case_id, H.c.court_id, H.c.sitting_date)
                .join(H, H.c.id == M.c.hearing_id).where(M.c.case_id.in_(chunk)))}
    return out


def insert_matches(archive: Archive, rows: list[dict]) -> list[dict]:
    """Insert matches that are not there yet (unique per subscription and hearing); returns the new
    ones."""
    if not rows:
        return []
    M = T["alert_match"]
    for attempt in range(3):
        try:
            with writing(archive.engine) as conn:
                have: set[tuple[int, int]] = set()
                for chunk in _chunks(sorted({r["hearing_id"] for r in rows})):
                    have |= {(a, b) for a, b in conn.execute(
                        sa.select(M.c.subscription_id, M.c.hearing_id).where(M.c.hearing_id.in_(chunk)))}
                new, seen = [], set()
                for r in rows:
                    k = (r["subscription_id"], r["hearing_id"])
                    if k in have or k in seen:
                        continue
                    seen.add(k)
                    new.append(r)
                if new:
                    first = archive._take_ids(conn, "alert_match", len(new))
                    conn.execute(sa.insert(M), [{"id": first + i, "sent_at": None, "export_record_id": None, **r}
                                                for i, r in enumerate(new)])
                return new
        except IntegrityError:          # a concurrent run inserted the same match: look again
            archive._forget_ids()
            if attempt == 2:
                raise
    return []


def unsent(archive: Archive) -> list[dict]:
    """Unsent matches of active subscriptions, with their subscription and account."""
    M, S, A = T["alert_match"], T["subscription"], T["account"]
    q = (sa.select(M, S.c.account_id, S.c.kind, S.c.query, S.c.params, S.c.label, S.c.unsubscribe_token,
                   A.c.username)
         .join(S, S.c.id == M.c.subscription_id).join(A, A.c.id == S.c.account_id)
         .where(M.c.sent_at.is_(None), S.c.active.is_(True))
         .order_by(A.c.id, S.c.id, M.c.id))
    with archive.engine.connect() as conn:
        return _rows(conn, q)


def matches(archive: Archive, *, subscription_id: int | None = None) -> list[dict]:
    M = T["alert_match"]
    q = sa.select(M).order_by(M.c.id)
    if subscription_id is not None:
        q = q.where(M.c.subscription_id == subscription_id)
    with archive.engine.connect() as conn:
        return _rows(conn, q)


def claim(archive: Archive, match_ids: Sequence[int], marker: dt.datetime) -> list[int]:
    """Take unsent matches for one delivery (sent_at = marker); returns those this call took (a
    concurrent sender gets the others)."""
    M = T["alert_match"]
    with writing(archive.engine) as conn:
        for chunk in _chunks(sorted(set(match_ids))):
            conn.execute(sa.update(M).where(M.c.id.in_(chunk), M.c.sent_at.is_(None)).values(sent_at=marker))
        got: list[int] = []
        for chunk in _chunks(sorted(set(match_ids))):
            got += [r[0] for r in conn.execute(sa.select(M.c.id).where(M.c.id.in_(chunk), M.c.sent_at == marker))]
    return sorted(got)


def release(archive: Archive, match_ids: Sequence[int], marker: dt.datetime) -> None:
    """Give claimed matches back to the queue (the delivery failed)."""
    M = T["alert_match"]
    with writing(archive.engine) as conn:
        for chunk in _chunks(sorted(set(match_ids))):
            conn.execute(sa.update(M).where(M.c.id.in_(chunk), M.c.sent_at == marker).values(sent_at=None))


def mark_sent(archive: Archive, match_ids: Sequence[int], *, at: dt.datetime, export_record_id: int | None) -> None:
    M = T["alert_match"]
    with writing(archive.engine) as conn:
        for chunk in _chunks(sorted(set(match_ids))):
            conn.execute(sa.update(M).where(M.c.id.in_(chunk)).values(sent_at=at, export_record_id=export_record_id))


def drop_unsent_for(archive: Archive, *, hearing_ids: Iterable[int] = (), case_ids: Iterable[int] = (),
                    publication_ids: Iterable[int] = ()) -> int:
    """Expiry / erasure: unsent matches about these hearings, cases or publications leave the queue."""
    M, H = T["alert_match"], T["hearing"]
    n = 0
    with writing(archive.engine) as conn:
        for chunk in _chunks(sorted(set(hearing_ids))):
            n += conn.execute(sa.delete(M).where(M.c.sent_at.is_(None), M.c.hearing_id.in_(chunk))).rowcount
        for chunk in _chunks(sorted(set(case_ids))):
            n += conn.execute(sa.delete(M).where(M.c.sent_at.is_(None), M.c.case_id.in_(chunk))).rowcount
        for chunk in _chunks(sorted(set(publication_ids))):
            sub = sa.select(H.c.id).where(H.c.publication_id.in_(chunk))
            n += conn.execute(sa.delete(M).where(M.c.sent_at.is_(None), M.c.hearing_id.in_(sub))).rowcount
    return n


def hearings_by_id(archive: Archive, hearing_ids: Iterable[int]) -> list[dict]:
    """The same rows as `new_hearings`, for given hearing ids."""
    H, P, C = T["hearing"], T["publication"], T["case"]
    out: list[dict] = []
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(hearing_ids))):
            out += _rows(conn, sa.select(H.c.id, H.c.case_id, H.c.court_id, H.c.sitting_date, H.c.sitting_time,
                                         H.c.hearing_type, H.c.publication_id, P.c.ingested_at, P.c.list_type, C.c.urn,
                                         C.c.case_number)
                         .join(P, P.c.id == H.c.publication_id).outerjoin(C, C.c.id == H.c.case_id)
                         .where(H.c.id.in_(chunk)).order_by(H.c.id))
    return out


def find_court(archive: Archive, ref: str) -> int | None:
    """A court by id, FaCT id, slug or exact name, else as a list names it (the ingest's resolver:
    core words of the name within the Crown / magistrates' family the name says)."""
    from . import governance as sg
    from .archive import CourtResolver

    ref = (ref or "").strip()
    if not ref or (ref.isdigit() and as_id(ref) is None):      # all digits: an id or FaCT id, or nothing
        return None
    cid = sg.resolve_court(archive, ref)
    if cid is not None:
        return cid
    with archive.engine.connect() as conn:
        res = CourtResolver(_rows(conn, sa.select(T["court"])))
    low = ref.lower()
    list_type = "CROWN_DAILY_LIST" if "crown" in low else ("MAGISTRATES_STANDARD_LIST" if "magistrates" in low else "")
    r = res.resolve(list_type=list_type, name=ref, code=None, postcode=None)
    return r["id"] if r else None


# =========================================================================== in-app notifications
def account_matches(archive: Archive, account_id: int, *, unread_only: bool = False,
                    limit: int | None = None, offset: int = 0) -> list[dict]:
    """The matches of an account's active subscriptions, newest first, with their subscription
    (the rows `unsent` gives, sent or not, plus ``seen_at``); ``offset``: skip that many."""
    M, S, A = T["alert_match"], T["subscription"], T["account"]
    q = (sa.select(M, S.c.account_id, S.c.kind, S.c.query, S.c.params, S.c.label, S.c.unsubscribe_token,
                   A.c.username)
         .join(S, S.c.id == M.c.subscription_id).join(A, A.c.id == S.c.account_id)
         .where(S.c.account_id == account_id, S.c.active.is_(True))
         .order_by(M.c.matched_at.desc(), M.c.id.desc()))
    if unread_only:
        q = q.where(M.c.seen_at.is_(None))
    if limit is not None:
        q = q.limit(int(limit))
    if offset:
        q = q.offset(int(offset))
    with archive.engine.connect() as conn:
        return _rows(conn, q)


def unread_state(archive: Archive, account_id: int) -> tuple[int, int | None]:
    """(how many, newest id) of the unread matches of an account's active subscriptions (before
    disclosure: the count is an upper bound)."""
    M, S = T["alert_match"], T["subscription"]
    q = statement("alerts.unread_state", lambda: (
        sa.select(sa.func.count().label("n"), sa.func.max(M.c.id).label("newest")).select_from(M)
        .join(S, S.c.id == M.c.subscription_id)
        .where(S.c.account_id == sa.bindparam("a"), S.c.active.is_(True), M.c.seen_at.is_(None))))
    with archive.engine.connect() as conn:
        [r] = dicts(conn, q, {"a": account_id})
    return int(r["n"] or 0), r["newest"]


def mark_seen(archive: Archive, account_id: int, match_ids: Sequence[int], *, at: dt.datetime) -> int:
    """Set ``seen_at`` on these unread matches of the account's subscriptions; returns how many."""
    M, S = T["alert_match"], T["subscription"]
    mine = sa.select(S.c.id).where(S.c.account_id == account_id)
    n = 0
    with writing(archive.engine) as conn:
        for chunk in _chunks(sorted({i for i in match_ids if as_id(i) is not None})):
            n += conn.execute(sa.update(M).where(M.c.id.in_(chunk), M.c.seen_at.is_(None),
                                                 M.c.subscription_id.in_(mine)).values(seen_at=at)).rowcount
    return n
