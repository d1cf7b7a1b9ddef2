"""Store side of the web portal and JSON API (package ``courtarchive.serve``).

Two kinds of SQL live here:

- accounts' secrets and sign-in state: web sessions, API tokens (both stored as SHA-256 of the
  random token, never the token), login attempts (rate limits), the account's argon2 hash;
- the reads the pages and the API show: a case with its hearings, parties and offences; a day's
  list at a court; a linked person with their mentions; a network with its members and edges;
  courts with their listings.  Rows come back as plain dicts *tagged with their entity*
  (``_entity``) and nested the way the disclosure gate walks them (case -> hearings -> parties ->
  offences), so the caller hands them to ``governance.disclose`` unchanged.  Nothing here decides
  what a viewer may see.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Sequence

import sqlalchemy as sa

from .archive import Archive
from .engine import unkept_write, writing
from .tables import TABLES as T
from .util import as_id, case_number_key_sql, chunks as _chunks, dicts, in_ids, now, statement

_CHUNK = 500


def _tag(row, entity: str, **extra) -> dict:
    d = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    d["_entity"] = entity
    d.update(extra)
    return d


# =========================================================================== accounts
def set_password_hash(archive: Archive, username: str, password_hash: str | None) -> bool:
    Acc = T["account"]
    with writing(archive.engine) as conn:
        n = conn.execute(sa.update(Acc).where(Acc.c.username == username)
                         .values(password_hash=password_hash)).rowcount
    return n == 1


def account_by_id(archive: Archive, account_id: int) -> dict | None:
    Acc = T["account"]
    with archive.engine.connect() as conn:
        r = conn.execute(sa.select(Acc).where(Acc.c.id == account_id)).first()
    return dict(r._mapping) if r else None


# =========================================================================== sessions
def create_session(archive: Archive, *, account_id: int, token_hash: str, csrf_token: str,
                   expires_at: dt.datetime, ip: str | None, user_agent: str | None) -> int:
    with unkept_write(archive.engine) as conn:
        sid = archive._take_ids(conn, "web_session", 1)
        conn.execute(sa.insert(T["web_session"]).values(
            id=sid, account_id=account_id, token_hash=token_hash, csrf_token=csrf_token, created_at=now(),
            expires_at=expires_at, last_seen=now(), ip=ip, user_agent=(user_agent or "")[:300]))
    return sid


def _with_account(table_name: str):
    """``table_name`` rows joined to their account, the account's columns labelled ``account.*``
    (one statement: a request's credentials and its viewer in one read)."""
    def build():
        X, Acc = T[table_name], T["account"]
        return (sa.select(X, *(c.label(f"account.{c.name}") for c in Acc.c))
                .join(Acc, Acc.c.id == X.c.account_id).where(X.c.token_hash == sa.bindparam("h")))
    return statement(f"serve.{table_name}+account", build)


def _split_account(conn, table_name: str, token_hash: str) -> dict | None:
    got = dicts(conn, _with_account(table_name), {"h": token_hash})
    if not got:
        return None
    out: dict = {}
    acc: dict = {}
    for k, v in got[0].items():
        if k.startswith("account."):
            acc[k[8:]] = v
        else:
            out[k] = v
    out["account"] = acc
    return out


def get_session(archive: Archive, token_hash: str) -> dict | None:
    """The session with its account's row (``account``), or None."""
    with archive.engine.connect() as conn:
        return _split_account(conn, "web_session", token_hash)


def set_session_expiry(archive: Archive, session_id: int, expires_at: dt.datetime) -> None:
    S = T["web_session"]
    with unkept_write(archive.engine) as conn:
        conn.execute(sa.update(S).where(S.c.id == session_id).values(expires_at=expires_at))


def delete_session(archive: Archive, token_hash: str) -> bool:
    S = T["web_session"]
    with unkept_write(archive.engine) as conn:
        return conn.execute(sa.delete(S).where(S.c.token_hash == token_hash)).rowcount > 0


def delete_sessions_of(archive: Archive, account_id: int) -> int:
    S = T["web_session"]
    with writing(archive.engine) as conn:
        return conn.execute(sa.delete(S).where(S.c.account_id == account_id)).rowcount


def purge_sessions(archive: Archive, before: dt.datetime | None = None) -> int:
    S = T["web_session"]
    with unkept_write(archive.engine) as conn:
        return conn.execute(sa.delete(S).where(S.c.expires_at < (before or now()))).rowcount


# =========================================================================== API tokens
def create_token(archive: Archive, *, account_id: int, name: str, token_hash: str, prefix: str,
                 expires_at: dt.datetime | None) -> int:
    with writing(archive.engine) as conn:
        tid = archive._take_ids(conn, "api_token", 1)
        conn.execute(sa.insert(T["api_token"]).values(
            id=tid, account_id=account_id, name=name, token_hash=token_hash, prefix=prefix, created_at=now(),
            expires_at=expires_at))
    return tid


def get_token(archive: Archive, token_hash: str) -> dict | None:
    """The API token with its account's row (``account``), or None."""
    with archive.engine.connect() as conn:
        return _split_account(conn, "api_token", token_hash)


def touch_token(archive: Archive, token_id: int) -> None:
    K = T["api_token"]
    with unkept_write(archive.engine) as conn:
        conn.execute(sa.update(K).where(K.c.id == token_id).values(last_used_at=now()))


def list_tokens(archive: Archive, *, account_id: int | None = None) -> list[dict]:
    K, Acc = T["api_token"], T["account"]
    q = (sa.select(K.c.id, K.c.name, K.c.prefix, K.c.created_at, K.c.expires_at, K.c.last_used_at,
                   K.c.revoked_at, Acc.c.username).join(Acc, Acc.c.id == K.c.account_id).order_by(K.c.id))
    if account_id is not None:
        q = q.where(K.c.account_id == account_id)
    with archive.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def revoke_token(archive: Archive, token_id: int, *, account_id: int | None = None) -> bool:
    K = T["api_token"]
    q = sa.update(K).where(K.c.id == token_id, K.c.revoked_at.is_(None))
    if account_id is not None:
        q = q.where(K.c.account_id == account_id)
    with writing(archive.engine) as conn:
        return conn.execute(q.values(revoked_at=now())).rowcount == 1


# =========================================================================== login attempts
def record_login_attempt(archive: Archive, *, username: str | None, ip: str | None, ok: bool,
                         at: dt.datetime | None = None) -> int:
    with unkept_write(archive.engine) as conn:
        lid = archive._take_ids(conn, "login_attempt", 1)
        conn.execute(sa.insert(T["login_attempt"]).values(id=lid, username=username, ip=ip, at=at or now(), ok=ok))
    return lid


def failed_logins(archive: Archive, *, since: dt.datetime, username: str | None = None,
                  ip: str | None = None) -> int:
    """Failed attempts since ``since`` for a username (or an address), not counting those before
    that username's (address's) last successful sign-in."""
    L = T["login_attempt"]
    col, val = (L.c.username, username) if username is not None else (L.c.ip, ip)
    with archive.engine.connect() as conn:
        last_ok = conn.execute(sa.select(sa.func.max(L.c.at)).where(col == val, L.c.ok.is_(True),
                                                                     L.c.at >= since)).scalar()
        q = sa.select(sa.func.count()).select_from(L).where(col == val, L.c.ok.is_(False), L.c.at >= since)
        if last_ok is not None:
            q = q.where(L.c.at > last_ok)
        return conn.execute(q).scalar_one()


# =========================================================================== reads for views
def _stmt(name: str, dialect: str):
    """The id-list look-ups of the view reads, each built once per dialect (see `in_ids`)."""
    def build():
        Pa, C, H, O, Ct = T["party"], T["case"], T["hearing"], T["offence"], T["court"]
        if name == "parties":
            return sa.select(Pa).where(in_ids(Pa.c.id, dialect)).order_by(Pa.c.id)
        if name == "parties_of_hearings":
            return sa.select(Pa).where(in_ids(Pa.c.hearing_id, dialect)).order_by(Pa.c.id)
        if name == "hearings":
            return _hearing_select().where(in_ids(H.c.id, dialect))
        if name == "offences_of_parties":
            return sa.select(O).where(in_ids(O.c.party_id, dialect)).order_by(O.c.party_id, O.c.seq, O.c.id)
        if name == "cases":
            return sa.select(C).where(in_ids(C.c.id, dialect)).order_by(C.c.id)
        if name == "court_names":
            return sa.select(Ct.c.id, Ct.c.name).where(in_ids(Ct.c.id, dialect))
        # single look-ups of the pages (``:name`` parameters)
        P, PM, N, NM, Pe = T["publication"], T["person_mention"], T["network"], T["network_member"], T["person"]
        if name == "case":
            return sa.select(C).where(C.c.id == sa.bindparam("id"))
        if name == "case_by_ref":
            return (sa.select(C.c.id).where(sa.or_(C.c.urn == sa.bindparam("key"), _case_number_key() == sa.bindparam("key")))
                    .order_by(C.c.id).limit(1))
        if name in ("hearings_of_case", "hearings_of_case_current"):
            q = _hearing_select().where(H.c.case_id == sa.bindparam("id"))
            if name == "hearings_of_case_current":
                q = q.where(P.c.superseded_by.is_(None))
            return q.order_by(H.c.sitting_date, H.c.sitting_time, H.c.id)
        if name == "court_by_id":
            return sa.select(Ct).where(Ct.c.id == sa.bindparam("id")).limit(1)
        if name == "court_by_ref":
            return sa.select(Ct).where(sa.or_(Ct.c.slug == sa.bindparam("ref"), Ct.c.name == sa.bindparam("ref"))).limit(1)
        if name == "publications_of_day":
            return (sa.select(P).where(P.c.court_id == sa.bindparam("court"), P.c.content_date == sa.bindparam("day"))
                    .order_by(P.c.superseded_by.is_not(None), P.c.list_type, P.c.id))
        if name == "hearings_of_publication":
            return _hearing_select().where(H.c.publication_id == sa.bindparam("id")).order_by(H.c.id)
        if name == "person":
            return sa.select(Pe).where(Pe.c.id == sa.bindparam("id"))
        if name == "party_ids_of_persons":
            return (sa.select(PM.c.person_id, PM.c.party_id)
                    .where(in_ids(PM.c.person_id, dialect), PM.c.party_id.is_not(None)).order_by(PM.c.party_id))
        if name == "networks_of_persons":
            return (sa.select(NM.c.person_id, NM.c.network_id).join(N, N.c.id == NM.c.network_id)
                    .where(in_ids(NM.c.person_id, dialect), N.c.retired_run_id.is_(None))
                    .order_by(N.c.kind, NM.c.network_id))
        if name == "cases_of_person":
            return (sa.select(Pa.c.case_id).distinct().join(PM, PM.c.party_id == Pa.c.id)
                    .where(PM.c.person_id == sa.bindparam("person"), Pa.c.case_id.is_not(None)))
        if name == "defendants_of_cases":
            return (sa.select(PM.c.person_id, Pa.c.case_id).join(Pa, Pa.c.id == PM.c.party_id)
                    .where(in_ids(Pa.c.case_id, dialect), Pa.c.role == "DEFENDANT",
                           PM.c.person_id != sa.bindparam("person")))
        raise KeyError(name)
    return statement(f"serve.{name}.{dialect}", build)


def _case_number_key():
    """case.case_number as searches read it (no spaces, upper case): the expression its index is on
    (migration 0017).  A case number is stored as listed: "t 2019 0001" is found as T20190001."""
    return sa.literal_column(case_number_key_sql('"case".case_number'))


def _by_ids(conn, name: str, ids: Iterable, **extra) -> list[dict]:
    """Rows of look-up ``name`` for these ids (in chunks), as plain dicts updated with ``extra``."""
    out: list[dict] = []
    for chunk in _chunks(sorted(set(ids))):
        out += dicts(conn, _stmt(name, conn.dialect.name), {"ids": chunk}, **extra)
    return out


def _court_names(conn, ids: Iterable[int | None]) -> dict[int, str]:
    return {r["id"]: r["name"] for r in _by_ids(conn, "court_names", (i for i in ids if i is not None))}


def _offences_of(conn, party_ids: Iterable[int]) -> dict[int, list[dict]]:
    """Each party's offences (tagged), in charge order."""
    out: dict[int, list[dict]] = {}
    for o in _by_ids(conn, "offences_of_parties", party_ids, _entity="offence"):
        out.setdefault(o["party_id"], []).append(o)
    return out


def _nest(conn, hearings: list[dict]) -> None:
    """Attach each hearing's parties and each party's offences."""
    parties: dict[int, list[dict]] = {}
    for p in _by_ids(conn, "parties_of_hearings", (h["id"] for h in hearings), _entity="party"):
        parties.setdefault(p["hearing_id"], []).append(p)
    offences = _offences_of(conn, (p["id"] for ps in parties.values() for p in ps))
    for ps in parties.values():
        for p in ps:
            p["offences"] = offences.get(p["id"], [])
    for h in hearings:
        h["parties"] = parties.get(h["id"], [])


def _hearing_select():
    H, P = T["hearing"], T["publication"]
    return (sa.select(H, P.c.list_type, P.c.sensitivity, P.c.superseded_by, P.c.content_date)
            .join(P, P.c.id == H.c.publication_id))


def find_case(archive: Archive, ref: str) -> int | None:
    """A case id by URN, case number or id."""
    import re

    ref = (ref or "").strip()
    if not ref:
        return None
    key = re.sub(r"\s+", "", ref).upper()
    with archive.engine.connect() as conn:
        got = dicts(conn, _stmt("case_by_ref", conn.dialect.name), {"key": key})
        if not got and ref.isdigit() and len(ref) < 18:
            got = dicts(conn, _stmt("case", conn.dialect.name), {"id": int(ref)})
    return got[0]["id"] if got else None


#: a case named by its id as links write it (`views.case_path`): ``id:123`` -- a form no case number
#: has, where a bare number may be one (CaTH case numbers are often bare digits)
CASE_ID_REF = "id:"


def find_cases(archive: Archive, ref: str) -> list[int]:
    """Every case ``ref`` may name, as `find_case` reads it: ``id:N``, the case of that id alone;
    else the case of that URN; else those of that case number (a Crown Court numbers its cases
    itself: T20190001 at three courts is three cases); else, a number, the case of that id.  Ids
    in order."""
    import re

    ref = (ref or "").strip()
    if not ref:
        return []
    C = T["case"]
    if ref[:len(CASE_ID_REF)].lower() == CASE_ID_REF:
        if (i := as_id(ref[len(CASE_ID_REF):])) is None:
            return []
        with archive.engine.connect() as conn:
            return list(conn.execute(sa.select(C.c.id).where(C.c.id == i)).scalars())
    key = re.sub(r"\s+", "", ref).upper()
    with archive.engine.connect() as conn:
        for cond in (C.c.urn == key, _case_number_key() == key):
            ids = list(conn.execute(sa.select(C.c.id).where(cond).order_by(C.c.id).limit(50)).scalars())
            if ids:
                return ids
    cid = find_case(archive, ref)
    return [cid] if cid is not None else []


def case_tree(archive: Archive, case_id: int, *, current_only: bool = False) -> dict | None:
    """A case with every hearing of it (date order; superseded list versions marked), each with its
    parties and their offences -- tagged records for the gate."""
    with archive.engine.connect() as conn:
        d = conn.dialect.name
        got = dicts(conn, _stmt("case", d), {"id": case_id})
        if not got:
            return None
        c = got[0]
        hearings = dicts(conn, _stmt("hearings_of_case_current" if current_only else "hearings_of_case", d),
                         {"id": case_id}, _entity="hearing")
        names = _court_names(conn, [h["court_id"] for h in hearings] + [c["first_court_id"]])
        for h in hearings:
            h["court"] = names.get(h["court_id"]) or h.get("court_name")
        _nest(conn, hearings)
    return _tag(c, "case", court=names.get(c["first_court_id"]), hearings=hearings)


def cases_for_parties(archive: Archive, party_ids: Sequence[int]) -> list[dict]:
    """The records of some party mentions (name search hits, its export, a person's page): one
    case tree per case holding only the hearings and parties asked for, then each hearing of no
    case (no URN, case number or case name: an SJP public list names a defendant and an offence,
    no case) as a hearing record of its own -- its parties asked for, their offences -- so a name
    listed only on such a list is not dropped.  One statement per table for the whole page."""
    pids = sorted({int(p) for p in party_ids})
    if not pids:
        return []
    with archive.engine.connect() as conn:
        parties = _by_ids(conn, "parties", pids, _entity="party")
        hearings = _by_ids(conn, "hearings", (p["hearing_id"] for p in parties), _entity="hearing")
        names = _court_names(conn, (h["court_id"] for h in hearings))
        offences = _offences_of(conn, pids)
        cases = {c["id"]: c for c in _by_ids(conn, "cases", (h["case_id"] for h in hearings if h["case_id"] is not None),
                                               _entity="case")}
    for c in cases.values():
        c["hearings"] = []
    by_hearing: dict[int, list[dict]] = {}
    for p in parties:
        p["offences"] = offences.get(p["id"], [])
        by_hearing.setdefault(p["hearing_id"], []).append(p)
    caseless = []
    for h in sorted(hearings, key=lambda h: (h["sitting_date"] or dt.date.min, h["id"])):
        h["court"] = names.get(h["court_id"]) or h.get("court_name")
        h["parties"] = by_hearing.get(h["id"], [])
        if h["case_id"] in cases:
            cases[h["case_id"]]["hearings"].append(h)
        elif h["case_id"] is None:
            caseless.append(h)
    return list(cases.values()) + caseless


def cases_brief(archive: Archive, case_ids: Sequence[int], *, hearings: dict[int, int | None] | None = None) -> list[dict]:
    """Cases with their latest current hearing (court, date) -- for case search results; or, for a
    case in ``hearings`` (case id -> hearing id: the latest the viewer may see, as the search's
    disclosure check chose it), that hearing."""
    chosen = {c: h for c, h in (hearings or {}).items() if h is not None}
    C, H, P = T["case"], T["hearing"], T["publication"]
    ids = [int(i) for i in dict.fromkeys(case_ids)]
    out: dict[int, dict] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(ids):
            for r in conn.execute(sa.select(C).where(C.c.id.in_(chunk))):
                out[r.id] = _tag(r, "case", hearings=[])
            last: dict[int, dict] = {}
            for r in conn.execute(_hearing_select().where(H.c.case_id.in_(chunk), P.c.superseded_by.is_(None))
                                  .order_by(H.c.sitting_date, H.c.id)):
                if chosen.get(r.case_id, r.id) == r.id:
                    last[r.case_id] = _tag(r, "hearing")
            names = _court_names(conn, [h["court_id"] for h in last.values()])
            for cid, h in last.items():
                h["court"] = names.get(h["court_id"]) or h.get("court_name")
                _nest(conn, [h])
                out[cid]["hearings"] = [h]
    return [out[i] for i in ids if i in out]


def court_counts(archive: Archive, conn) -> dict[int, int]:
    """Hearing entries on current lists, per court.

    Counting them is a pass over every hearing (1M entries: ~0.33 s; the courts API, the courts
    page and the map asked for it on every request), so the counts are kept on the archive object
    with the number of publications they were counted at.  Publications are never deleted and a
    list is superseded only in the transaction that writes its later version, so the counts can
    change only when that number does.  (Not the newest publication id: ids are handed out in
    blocks, so a writer can commit a lower id after another's higher one.)"""
    H, P = T["hearing"], T["publication"]
    n = conn.execute(statement("serve.publications", lambda: sa.select(sa.func.count()).select_from(P))).scalar()
    kept = getattr(archive, "_court_counts", None)
    if kept is not None and kept[0] == n:
        return kept[1]
    counts = dict(conn.execute(sa.select(H.c.court_id, sa.func.count())
                               .where(H.c.publication_id.in_(sa.select(P.c.id).where(P.c.superseded_by.is_(None))))
                               .group_by(H.c.court_id)).all())
    archive._court_counts = (n, counts)
    return counts


def courts(archive: Archive, *, listed_only: bool = True) -> list[dict]:
    """Courts (tagged) with ``count``: hearing entries on current lists; listed_only: those with any."""
    Ct = T["court"]
    with archive.engine.connect() as conn:
        counts = court_counts(archive, conn)
        q = sa.select(Ct.c.id, Ct.c.name, Ct.c.slug, Ct.c.town, Ct.c.postcode, Ct.c.lat, Ct.c.lon,
                      Ct.c.court_types, Ct.c.region, Ct.c.police_force_area).order_by(Ct.c.name)
        rows = [_tag(r, "court", count=counts.get(r.id, 0)) for r in conn.execute(q)]
    return [r for r in rows if r["count"] or not listed_only]


def court(archive: Archive, ref: str | int) -> dict | None:
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        if (i := as_id(ref)) is None:
            return None
        name, params = "court_by_id", {"id": i}
    else:
        name, params = "court_by_ref", {"ref": ref}
    with archive.engine.connect() as conn:
        got = dicts(conn, _stmt(name, conn.dialect.name), params, _entity="court")
    return got[0] if got else None


def court_dates(archive: Archive, court_id: int, *, limit: int = 400) -> list[dict]:
    """Days with lists at a court (newest first): date and number of publications."""
    P = T["publication"]
    with archive.engine.connect() as conn:
        rows = conn.execute(sa.select(P.c.content_date, sa.func.count()).where(P.c.court_id == court_id,
                                                                               P.c.content_date.is_not(None))
                            .group_by(P.c.content_date).order_by(P.c.content_date.desc()).limit(limit)).all()
    return [{"date": d, "publications": n} for d, n in rows]


def day_lists(archive: Archive, court_id: int, day: dt.date) -> list[dict]:
    """The publications of a court for a day, as published: each with its hearings in list order
    (the order the parser read them: ids ascend in list order), parties and offences.  Current
    versions first, superseded versions after (provenance)."""
    with archive.engine.connect() as conn:
        d = conn.dialect.name
        pubs = dicts(conn, _stmt("publications_of_day", d), {"court": court_id, "day": day}, _entity="publication")
        for p in pubs:
            hs = dicts(conn, _stmt("hearings_of_publication", d), {"id": p["id"]}, _entity="hearing")
            names = _court_names(conn, [h["court_id"] for h in hs])
            for h in hs:
                h["court"] = names.get(h["court_id"]) or h.get("court_name")
            _nest(conn, hs)
            p["hearings"] = hs
    return pubs


# --------------------------------------------------------------------------- persons and networks
def live_person(archive: Archive, person_id: int) -> dict | None:
    """The person row; a merged person resolves to the person it was merged into."""
    with archive.engine.connect() as conn:
        seen = set()
        while person_id not in seen:
            seen.add(person_id)
            got = dicts(conn, _stmt("person", conn.dialect.name), {"id": person_id})
            if not got:
                return None
            r = got[0]
            if r["retired_run_id"] is not None and r["merged_into"] is not None:
                person_id = r["merged_into"]
                continue
            return r
    return None


def person_party_ids(archive: Archive, person_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    with archive.engine.connect() as conn:
        for r in _by_ids(conn, "party_ids_of_persons", person_ids):
            out.setdefault(r["person_id"], []).append(r["party_id"])
    return out


def person_cases(archive: Archive, person_id: int) -> list[dict]:
    """Case trees of a defendant person: every case they are listed in, with their hearings and
    only their own party mentions (co-defendants are reached through linked people); then each
    hearing of no case they are listed in, as a hearing record (`cases_for_parties`)."""
    pids = person_party_ids(archive, [person_id]).get(person_id, [])
    return cases_for_parties(archive, pids)


def networks_of(archive: Archive, person_ids: Sequence[int]) -> dict[int, list[int]]:
    """person -> live networks it is a member of (components and communities)."""
    out: dict[int, list[int]] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(person_ids))):
            for r in dicts(conn, _stmt("networks_of_persons", conn.dialect.name), {"ids": chunk}):
                out.setdefault(r["person_id"], []).append(r["network_id"])
    return out


def codefendants(archive: Archive, person_id: int) -> dict[int, list[int]]:
    """Other defendant persons listed in the same cases: {person_id: [shared case ids]}."""
    with archive.engine.connect() as conn:
        d = conn.dialect.name
        cases = [r["case_id"] for r in dicts(conn, _stmt("cases_of_person", d), {"person": person_id})]
        out: dict[int, set[int]] = {}
        for chunk in _chunks(cases):
            for r in dicts(conn, _stmt("defendants_of_cases", d), {"ids": chunk, "person": person_id}):
                out.setdefault(r["person_id"], set()).add(r["case_id"])
    return {p: sorted(c) for p, c in out.items()}


def representative_parties(archive: Archive, person_ids: Sequence[int]) -> dict[int, dict]:
    """Each person's latest party mention (tagged party record, without offences)."""
    PM, Pa, H = T["person_mention"], T["party"], T["hearing"]
    out: dict[int, dict] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(person_ids))):
            rows = conn.execute(sa.select(Pa, PM.c.person_id.label("_person"), H.c.sitting_date.label("_d"))
                                .join(PM, PM.c.party_id == Pa.c.id).join(H, H.c.id == Pa.c.hearing_id)
                                .where(PM.c.person_id.in_(chunk)).order_by(H.c.sitting_date, Pa.c.id))
            for r in rows:
                d = dict(r._mapping)
                person = d.pop("_person")
                d.pop("_d")
                d["_entity"] = "party"
                d["person_id"] = person
                out[person] = d          # the latest wins
    return out


def network(archive: Archive, network_id: int) -> dict | None:
    """A network row, its member persons and its edges: persons listed as co-defendants in one case
    (``co-defendants``), and persons of the network linked through a shared complainant person
    (``shared complainant``, from the pseudonymised complainant links)."""
    N, NM, PM, Pa, O, Co = (T[n] for n in ("network", "network_member", "person_mention", "party", "offence",
                                          "complainant"))
    with archive.engine.connect() as conn:
        r = conn.execute(sa.select(N).where(N.c.id == network_id)).first()
        if r is None:
            return None
        net = dict(r._mapping)
        members = [m[0] for m in conn.execute(sa.select(NM.c.person_id).where(NM.c.network_id == network_id)
                                              .order_by(NM.c.person_id))]
        case_people: dict[int, set[int]] = {}
        for chunk in _chunks(members):
            for p, c in conn.execute(sa.select(PM.c.person_id, Pa.c.case_id).join(Pa, Pa.c.id == PM.c.party_id)
                                     .where(PM.c.person_id.in_(chunk), Pa.c.case_id.is_not(None))):
                case_people.setdefault(c, set()).add(p)
        victim_people: dict[int, set[int]] = {}
        for chunk in _chunks(members):
            VM = PM.alias("vm")
            q = (sa.select(PM.c.person_id, VM.c.person_id)
                 .select_from(PM.join(Pa, Pa.c.id == PM.c.party_id).join(O, O.c.party_id == Pa.c.id)
                              .join(Co, Co.c.offence_id == O.c.id).join(VM, VM.c.complainant_id == Co.c.id))
                 .where(PM.c.person_id.in_(chunk)))
            for p, v in conn.execute(q):
                victim_people.setdefault(v, set()).add(p)
        subs = [dict(x._mapping) for x in conn.execute(sa.select(N.c.id, N.c.kind, N.c.size)
                                                       .where(N.c.parent_id == network_id, N.c.retired_run_id.is_(None))
                                                       .order_by(N.c.id))]
    edges: dict[tuple[int, int], str] = {}
    for group, kind in ((case_people, "co-defendants"), (victim_people, "shared complainant")):
        for people in group.values():
            ps = sorted(people)
            for i, a in enumerate(ps):
                for b in ps[i + 1:]:
                    edges.setdefault((a, b), kind)
    net["members"] = members
    net["edges"] = [(a, b, k) for (a, b), k in sorted(edges.items())]
    net["case_ids"] = sorted(c for c, ps in case_people.items())
    net["communities"] = subs
    return net


def networks(archive: Archive, *, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    N = T["network"]
    with archive.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(N).where(N.c.retired_run_id.is_(None),
                                                                            N.c.kind == "component")).scalar_one()
        rows = [dict(r._mapping) for r in conn.execute(
            sa.select(N.c.id, N.c.kind, N.c.size, N.c.cases, N.c.complainants)
            .where(N.c.retired_run_id.is_(None), N.c.kind == "component")
            .order_by(N.c.size.desc(), N.c.id).limit(limit).offset(offset))]
    return rows, total


def sample_ids(archive: Archive, n: int = 20) -> dict[str, list]:
    """Some real ids of each kind (tests, benchmarks, the OpenAPI examples)."""
    C, H, PM, N = T["case"], T["hearing"], T["person_mention"], T["network"]
    with archive.engine.connect() as conn:
        return {
            "case_urns": [r[0] for r in conn.execute(sa.select(C.c.urn).where(C.c.urn.is_not(None))
                                                     .order_by(C.c.id).limit(n))],
            "persons": [r[0] for r in conn.execute(sa.select(PM.c.person_id).distinct()
                                                   .where(PM.c.party_id.is_not(None)).limit(n))],
            "networks": [r[0] for r in conn.execute(sa.select(N.c.id).where(N.c.retired_run_id.is_(None))
                                                    .order_by(N.c.size.desc()).limit(n))],
            "court_days": [(r[0], r[1]) for r in conn.execute(
                sa.select(H.c.court_id, H.c.sitting_date).where(H.c.court_id.is_not(None))
                .group_by(H.c.court_id, H.c.sitting_date).limit(n))],
        }
