"""A Crown court code several courts of the reference table share, written through the store
directly (``Archive.write``: the Python API -- file and mail intake both parse through the
pipeline's ``parse_file``, which runs ``settle_court_codes`` first).  The store's resolver read such a code as the first court of the table
holding it: a list naming the other court was filed at the wrong court.  Now a shared code names
none of them and the list goes by its court name (or postcode), as one without a code.

``archive``: conftest's, on SQLite and, with COURTARCHIVE_TEST_PG, on PostgreSQL.  Synthetic data
only (placeholder names)."""

from __future__ import annotations

import datetime as dt

from courtarchive.model import Hearing, ParsedList, Party, PublicationMeta

PRESTON_COMBINED, PRESTON_SESSIONS = 1479408, 1479799    # Crown Court code 448, both in Preston (courts.csv)
BIRMINGHAM = 1479531                                      # Crown Court code 404, its only court


def _crown_list(code: str, name: str, urn: str) -> ParsedList:
    """A Crown daily list whose court (the list's and its sitting's) is given as ``code`` and ``name``."""
    day = dt.date(2024, 3, 4)
    p = ParsedList(meta=PublicationMeta(list_type="CROWN_DAILY_LIST", sensitivity="PUBLIC", court_name=name,
                                        court_code=code, content_date=day, version="1.0",
                                        published_at=dt.datetime(2024, 3, 3, 18, 0)))
    p.hearings.append(Hearing(json_path="$.h[0]", court_name=name, court_code=code, sitting_date=day,
                              sitting_time="10:00", room="1", hearing_type="Trial", case_urn=urn))
    p.parties.append(Party(json_path="$.h[0].p[0]", hearing_ref=0, role="DEFENDANT",
                           forenames="Alex", surname="PLACEHOLDER"))
    return p


def _stored_at(archive, publication_id: int) -> tuple[set, set]:
    """The FaCT ids (None: a court first seen in a list) of a publication's court and its hearings' courts."""
    rows = {name: archive.to_arrow(name).to_pylist() for name in ("court", "publication", "hearing")}
    fact = {c["id"]: c["fact_court_id"] for c in rows["court"]}
    return ({fact[p["court_id"]] for p in rows["publication"] if p["id"] == publication_id},
            {fact[h["court_id"]] for h in rows["hearing"] if h["publication_id"] == publication_id})


def test_a_shared_crown_code_written_directly_is_the_court_the_list_names(archive):
    """Both Preston lists are written, so whichever court the table holds first, the old resolver
    filed one of them at the other court."""
    for n, (code, name, meant) in enumerate((
            ("448", "Preston Crown Court and Family Court (Sessions House)", PRESTON_SESSIONS),
            ("448", "Preston Combined Court Centre", PRESTON_COMBINED),
            ("404", "Placeholder Crown Court", BIRMINGHAM))):     # a code of one court: still that court
        w = archive.write(_crown_list(code, name, f"T2024{n:04d}"), content_hash=f"shared-{n}")
        assert w.status == "accepted"
        assert _stored_at(archive, w.publication_id) == ({meant}, {meant}), name


def test_a_shared_crown_code_with_no_court_of_its_name_is_not_the_first_court(archive):
    """Nothing tells which of the courts sharing the code is meant: the list's court is kept as a
    court first seen in a list (the store's way with a court it does not know), not the first of them."""
    w = archive.write(_crown_list("448", "Placeholder Crown Court", "T20249999"), content_hash="shared-unknown")
    assert w.status == "accepted"
    assert _stored_at(archive, w.publication_id) == ({None}, {None})
    [court] = [c for c in archive.to_arrow("court").to_pylist() if c["name"] == "Placeholder Crown Court"]
    assert court["source"] == "list" and court["crown_court_code"] == "448"
