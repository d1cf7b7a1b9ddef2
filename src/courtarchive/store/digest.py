"""Store side of the daily beat digest (``courtarchive.serve.digest``): beats, and what the ranking
reads about one day's listings -- hearings of current lists at a set of courts, their offences and
defendants, the cases' other listings, the linked persons' earlier cases and their networks.

Beats hold no personal data (courts, towns, force areas, offence groups, a centre).  Beat
subscriptions are ordinary ``subscription`` rows of kind ``beat`` (store side: `store.alerts`); the
last day mailed is kept in their ``params`` (``last_sent_date``).
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .alerts import _chunks, _rows, now
from .archive import Archive
from .engine import writing
from .tables import TABLES as T


class BeatExists(ValueError):
    pass


# =========================================================================== beats
def add_beat(archive: Archive, row: dict) -> dict:
    B = T["beat"]
    try:
        with writing(archive.engine) as conn:
            if conn.execute(sa.select(B.c.id).where(B.c.name == row["name"])).first() is not None:
                raise BeatExists(f"a beat named {row['name']!r} exists already")
            bid = archive._take_ids(conn, "beat", 1)
            conn.execute(sa.insert(B).values(id=bid, created_at=row.pop("created_at", None) or now(), **row))
            return _rows(conn, sa.select(B).where(B.c.id == bid))[0]
    except IntegrityError as e:
        raise BeatExists(f"a beat named {row['name']!r} exists already") from e


def beats(archive: Archive) -> list[dict]:
    B = T["beat"]
    with archive.engine.connect() as conn:
        return _rows(conn, sa.select(B).order_by(B.c.name))


def get_beat(archive: Archive, name_or_id: str | int) -> dict | None:
    """A beat by exact name, else by name ignoring case, else by id."""
    B = T["beat"]
    ref = str(name_or_id).strip()
    with archive.engine.connect() as conn:
        r = _rows(conn, sa.select(B).where(B.c.name == ref))
        if not r:
            r = _rows(conn, sa.select(B).where(sa.func.lower(B.c.name) == ref.lower()).order_by(B.c.id).limit(1))
        if not r and ref.isdigit() and len(ref) < 18:
            r = _rows(conn, sa.select(B).where(B.c.id == int(ref)))
    return r[0] if r else None


def remove_beat(archive: Archive, beat_id: int) -> int:
    """Delete a beat and switch off its subscriptions (their unsent nothing: digests are built when
    sent).  Returns the number of subscriptions switched off."""
    B, S = T["beat"], T["subscription"]
    with writing(archive.engine) as conn:
        rows = _rows(conn, sa.select(S.c.id, S.c.params).where(S.c.kind == "beat", S.c.active.is_(True)))
        off = [r["id"] for r in rows if int((r["params"] or {}).get("beat_id") or 0) == int(beat_id)]
        if off:
            conn.execute(sa.update(S).where(S.c.id.in_(off)).values(active=False))
        conn.execute(sa.delete(B).where(B.c.id == beat_id))
    return len(off)


def beat_subscriptions(archive: Archive, *, beat_id: int | None = None) -> list[dict]:
    """Active subscriptions of kind ``beat`` (optionally of one beat)."""
    S = T["subscription"]
    with archive.engine.connect() as conn:
        rows = _rows(conn, sa.select(S).where(S.c.kind == "beat", S.c.active.is_(True)).order_by(S.c.id))
    if beat_id is not None:
        rows = [r for r in rows if int((r["params"] or {}).get("beat_id") or 0) == int(beat_id)]
    return rows


def mark_beat_sent(archive: Archive, subscription_ids: Sequence[int], day: dt.date, at: dt.datetime) -> None:
    """Remember that the digest of ``day`` went to these beat subscriptions."""
    S = T["subscription"]
    with writing(archive.engine) as conn:
        for r in _rows(conn, sa.select(S.c.id, S.c.params).where(S.c.id.in_(list(subscription_ids)))):
            params = dict(r["params"] or {})
            params["last_sent_date"] = day.isoformat()
            conn.execute(sa.update(S).where(S.c.id == r["id"]).values(params=params, last_run_at=at))


# =========================================================================== courts
def courts(archive: Archive) -> list[dict]:
    """Every court with where it is: id, name, town, police force area, lat, lon, types."""
    Ct = T["court"]
    with archive.engine.connect() as conn:
        return _rows(conn, sa.select(Ct.c.id, Ct.c.name, Ct.c.slug, Ct.c.town, Ct.c.police_force_area, Ct.c.lat,
                                     Ct.c.lon, Ct.c.court_types).order_by(Ct.c.name))


# =========================================================================== one day's listings
def day_hearings(archive: Archive, day: dt.date, court_ids: Iterable[int]) -> list[dict]:
    """Hearings of current lists sitting on ``day`` at these courts (with a case)."""
    H, P = T["hearing"], T["publication"]
    cols = [H.c.id, H.c.case_id, H.c.court_id, H.c.sitting_date, H.c.hearing_type, H.c.originating_court,
            H.c.linked_case_numbers, H.c.reporting_restriction, P.c.list_type]
    out: list[dict] = []
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(court_ids))):
            out += _rows(conn, sa.select(*cols).join(P, P.c.id == H.c.publication_id)
                         .where(H.c.sitting_date == day, H.c.court_id.in_(chunk), H.c.case_id.is_not(None),
                                P.c.superseded_by.is_(None)).order_by(H.c.id))
    return out


def hearing_offences(archive: Archive, hearing_ids: Iterable[int]) -> list[dict]:
    """Per offence of these hearings, in listing order (offence id): hearing, party and code."""
    O = T["offence"]
    out: list[dict] = []
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(hearing_ids))):
            out += _rows(conn, sa.select(O.c.hearing_id, O.c.party_id, O.c.code).where(O.c.hearing_id.in_(chunk))
                         .order_by(O.c.id))
    return out


def hearing_defendants(archive: Archive, hearing_ids: Iterable[int]) -> list[dict]:
    """The defendant party rows of these hearings: id, hearing_id, case_id."""
    Pa = T["party"]
    out: list[dict] = []
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(hearing_ids))):
            out += _rows(conn, sa.select(Pa.c.id, Pa.c.hearing_id, Pa.c.case_id)
                         .where(Pa.c.hearing_id.in_(chunk), Pa.c.role == "DEFENDANT"))
    return out


def case_history(archive: Archive, case_ids: Iterable[int]) -> list[dict]:
    """Every listing of these cases on a current list: id, case, court, date, hearing and list type."""
    H, P = T["hearing"], T["publication"]
    out: list[dict] = []
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(case_ids))):
            out += _rows(conn, sa.select(H.c.id, H.c.case_id, H.c.court_id, H.c.sitting_date, H.c.hearing_type,
                                         P.c.list_type)
                         .join(P, P.c.id == H.c.publication_id)
                         .where(H.c.case_id.in_(chunk), P.c.superseded_by.is_(None)))
    return out


def earlier_cases(archive: Archive, person_ids: Iterable[int], before: dt.date) -> dict[int, dict[int, list[int]]]:
    """person -> {case: the person's party ids in it} for the cases any of its defendant mentions
    was listed in before ``before``."""
    PM, Pa, H = T["person_mention"], T["party"], T["hearing"]
    out: dict[int, dict[int, list[int]]] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(person_ids))):
            q = (sa.select(PM.c.person_id, Pa.c.case_id, Pa.c.id)
                 .join(Pa, Pa.c.id == PM.c.party_id).join(H, H.c.id == Pa.c.hearing_id)
                 .where(PM.c.person_id.in_(chunk), Pa.c.case_id.is_not(None), H.c.sitting_date < before))
            for r in conn.execute(q):
                out.setdefault(r.person_id, {}).setdefault(r.case_id, []).append(r.id)
    return out


def live_networks(archive: Archive, person_ids: Iterable[int]) -> dict[int, list[dict]]:
    """person -> live network components it belongs to: [{id, size, cases}]."""
    N, NM = T["network"], T["network_member"]
    out: dict[int, list[dict]] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(person_ids))):
            q = (sa.select(NM.c.person_id, N.c.id, N.c.size, N.c.cases).join(N, N.c.id == NM.c.network_id)
                 .where(NM.c.person_id.in_(chunk), N.c.retired_run_id.is_(None), N.c.kind == "component"))
            for r in conn.execute(q):
                out.setdefault(r.person_id, []).append({"id": r.id, "size": r.size, "cases": r.cases})
    return out
