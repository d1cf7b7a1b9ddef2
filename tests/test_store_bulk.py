"""The store's group writer (`Writer.add` / `flush`: one executemany / COPY per table per group)
gives exactly what writing file after file gives, and a bad file in a group costs only itself."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
import sqlalchemy as sa

from courtarchive.model import Complainant, Hearing, Offence, ParsedList, Party, PublicationMeta
from courtarchive.store import Archive
from courtarchive.store.tables import TABLES

PG = os.environ.get("COURTARCHIVE_TEST_PG")


@pytest.fixture(params=["sqlite", "postgresql"])
def two_archives(request, tmp_path):
    """Two fresh archives on the same backend."""
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / n}" for n in ("a.db", "b.db")]
        schemas = []
    else:
        if not PG:
            pytest.skip("COURTARCHIVE_TEST_PG is not set: PostgreSQL store tests skipped")
        eng = sa.create_engine(PG)
        schemas = ["t_" + uuid.uuid4().hex[:12] for _ in range(2)]
        with eng.begin() as c:
            for s in schemas:
                c.exec_driver_sql(f"CREATE SCHEMA {s}")
        u = sa.make_url(PG)
        urls = [u.set(query={**u.query, "options": f"-csearch_path={s}"}).render_as_string(hide_password=False)
                for s in schemas]
    archives = [Archive.open(u) for u in urls]
    for a in archives:
        a.init()
    yield archives
    for a in archives:
        a.close()
    if schemas:
        with eng.begin() as c:
            for s in schemas:
                c.exec_driver_sql(f"DROP SCHEMA {s} CASCADE")
        eng.dispose()


def lst(n: int, *, court="Preston Magistrates' Court", day=1, version="1", published_hour=18,
        urns=("U1", "U2"), case_numbers=(None, "CN2"), court_code=None, list_type="MAGISTRATES_STANDARD_LIST",
        hearing_court=None) -> ParsedList:
    """A small list: one hearing per URN (a URN of None keys the case on case number + defendant)."""
    date = dt.date(2024, 3, day)
    p = ParsedList(meta=PublicationMeta(
        list_type=list_type, sensitivity="PUBLIC", court_name=court, court_code=court_code, content_date=date,
        version=version, published_at=dt.datetime(2024, 3, day, published_hour, n % 60),
        source_name=f"list-{n}.json"))
    for i, (urn, cn) in enumerate(zip(urns, case_numbers)):
        p.hearings.append(Hearing(json_path=f"$.h[{i}]", court_name=hearing_court, sitting_date=date,
                                  sitting_time="10:00", case_urn=urn, case_number=cn,
                                  reporting_restriction=bool(i % 2)))
        p.parties.append(Party(json_path=f"$.h[{i}].p[0]", hearing_ref=i, role="DEFENDANT", forenames="Ann",
                               surname=f"DOE{n % 3}", date_of_birth=dt.date(1990, 1, 2), age=34))
        p.parties.append(Party(json_path=f"$.h[{i}].p[1]", hearing_ref=i, role="PROSECUTING_AUTHORITY",
                               organisation_name="CPS"))
        p.offences.append(Offence(json_path=f"$.h[{i}].p[0].o[0]", party_ref=2 * i, seq=1, code="TH68001",
                                  title="Theft", wording="stole [complainant:0a1b2c3d]",
                                  offence_date=dt.date(2023, 5, 6)))
        p.complainants.append(Complainant(json_path=f"$.h[{i}].p[0].o[0].offenceWording", offence_ref=i,
                                          hearing_ref=i, kind="named", token="ab" * 32, key_id="k1",
                                          bloom=bytes([n % 256, 7])))
    return p


def corpus() -> list[tuple[ParsedList, str]]:
    """Lists exercising what the writer resolves in memory: new and known cases, case numbers
    filled in later, the same content twice, versions of one list (in one group and across
    groups, arriving late too), a court unknown to the reference table, a list naming no court."""
    docs = []
    for n in range(40):
        day = 1 + n % 4
        kw: dict = {}
        if n % 5 == 0:
            kw["version"], kw["published_hour"] = "2", 20          # a later version of a list
        if n % 7 == 0:
            kw["version"], kw["published_hour"] = "0", 6           # an earlier version, late
        if n % 6 == 1:
            kw["court"] = "Atlantis Magistrates' Court"            # not in the reference table
        if n % 11 == 3:
            kw["court"] = None                                     # no court named at all
        if n % 9 == 4:
            kw["hearing_court"] = "Lancaster Magistrates' Court"   # an entry at another court
        urns = (f"U{n % 13}", None if n % 4 == 0 else f"U{(n * 7) % 17}")
        case_numbers = (None if n < 20 else f"CN{n % 13}", f"CN{n}")
        docs.append((lst(n, day=day, urns=urns, case_numbers=case_numbers, **kw), f"h{n}"))
    docs.insert(10, docs[3])            # the same file twice, in one group
    docs.append(docs[0])                # and in a later group
    return docs


def dump(a: Archive) -> dict[str, list]:
    out = {}
    with a.engine.connect() as c:
        for name in ("court", "publication", "case", "hearing", "party", "offence", "complainant", "quarantine"):
            t = TABLES[name]
            cols = [col for col in t.c if col.name not in ("ingested_at", "rejected_at")]
            out[name] = [tuple(r) for r in c.execute(sa.select(*cols).order_by(t.c.id))]
    return out


def test_group_write_equals_file_by_file(two_archives):
    one, grouped = two_archives
    docs = corpus()
    with one.writer() as w:
        singles = [w.write(p, content_hash=h) for p, h in docs]
    got = []
    with grouped.writer(max_files=7) as w:
        for k, (p, h) in enumerate(docs):
            got += w.add(p, content_hash=h, tag=k)
        got += w.flush()
    assert [k for k, _ in got] == list(range(len(docs)))
    assert [(r.status, r.publication_id, r.hearings, r.parties, r.offences, r.complainants, r.superseded)
            for _, r in got] == \
           [(r.status, r.publication_id, r.hearings, r.parties, r.offences, r.complainants, r.superseded)
            for r in singles]
    assert any(r.superseded for r in singles) and sum(r.status == "duplicate" for r in singles) == 2
    a, b = dump(one), dump(grouped)
    assert a == b
    assert one.stats() == grouped.stats()
    assert grouped.stats()["publications_superseded"] > 0


def test_bad_file_in_a_group_costs_only_itself(two_archives):
    a, _ = two_archives
    docs = [(lst(n, day=1 + n, urns=(f"V{n}", f"W{n}")), f"g{n}") for n in range(12)]
    bad_ref = lst(100, urns=("X1", "X2"))
    bad_ref.offences[1].party_ref = 999                    # fails while the rows are built
    bad_db = lst(101, urns=("Y1", "Y2"))
    bad_db.parties[3].role = None                          # fails in the database (NOT NULL)
    docs[4], docs[9] = (bad_ref, "bad-ref"), (bad_db, "bad-db")
    out = []
    with a.writer(max_files=6) as w:
        for k, (p, h) in enumerate(docs):
            out += w.add(p, content_hash=h, tag=k)
        out += w.flush()
        failed = {k for k, r in out if isinstance(r, Exception)}
        assert failed == {4, 9}
        # the writer goes on: later groups reuse no id and see the cases written before
        more = [(lst(200 + n, day=20 + n, urns=(f"V{n}", f"Z{n}")), f"m{n}") for n in range(5)]
        for p, h in more:
            out += w.add(p, content_hash=h)
        out += w.flush()
    assert sum(not isinstance(r, Exception) for _, r in out) == 15
    st = a.stats()
    assert st["publications"] == 15 and st["hearings"] == 30
    with a.engine.connect() as c:
        P, Pa, C = TABLES["publication"], TABLES["party"], TABLES["case"]
        hashes = set(c.execute(sa.select(P.c.content_hash)).scalars())
        assert not hashes & {"bad-ref", "bad-db"}
        # nothing of the bad files: no case of theirs, no row pointing at a missing publication
        keys = set(c.execute(sa.select(C.c.case_key)).scalars())
        assert not keys & {"urn:X1", "urn:X2", "urn:Y1", "urn:Y2"}
        orphans = c.execute(sa.select(sa.func.count()).select_from(Pa)
                            .where(Pa.c.publication_id.not_in(sa.select(P.c.id)))).scalar_one()
        assert orphans == 0
        # cases of an earlier group are found again, not created twice
        good = [n for n in range(12) if n not in (4, 9)]
        want = ({f"urn:V{n}" for n in good} | {f"urn:W{n}" for n in good}
                | {f"urn:V{n}" for n in range(5)} | {f"urn:Z{n}" for n in range(5)})
        assert keys == want
        assert c.execute(sa.select(sa.func.count()).select_from(C)).scalar_one() == len(want)


def test_unflushed_failure_is_not_silent(two_archives):
    a, _ = two_archives
    bad = lst(1)
    bad.parties[0].role = None
    from courtarchive.store import StoreError

    with pytest.raises(StoreError, match="could not be stored"):
        with a.writer() as w:
            w.add(lst(2), content_hash="ok")
            w.add(bad, content_hash="bad")
    assert a.stats()["publications"] == 1


def test_arrow_reader_returns_rows_in_order(archive):
    """`store.linkage._arrow(order=...)`: sorted on the server (PostgreSQL) or here (SQLite, where
    the query runs unordered); a wrong order column is refused."""
    import pyarrow as pa

    from courtarchive.store.linkage import _arrow

    v = sa.union_all(*(sa.select(sa.literal(i, sa.Integer).label("id"), sa.literal(x, sa.String).label("x"))
                       for i, x in ((3, "c"), (1, "a"), (2, "b")))).subquery("v")
    t = _arrow(archive, sa.select(v.c.id, v.c.x), [("id", pa.int64()), ("x", pa.string())], order=v.c.id)
    assert t.column("id").to_pylist() == [1, 2, 3] and t.column("x").to_pylist() == ["a", "b", "c"]
    with pytest.raises(ValueError, match="first"):
        _arrow(archive, sa.select(v.c.x, v.c.id), [("x", pa.string()), ("id", pa.int64())], order=v.c.id)


def test_sorted_by_sorts_only_when_needed():
    import pyarrow as pa

    from courtarchive.store.archive import sorted_by

    t = pa.table({"id": [3, 1, 2], "x": ["c", "a", "b"]})
    assert sorted_by(t, "id").to_pydict() == {"id": [1, 2, 3], "x": ["a", "b", "c"]}
    s = pa.table({"id": [1, 2, 5]})
    assert sorted_by(s, "id") is s
