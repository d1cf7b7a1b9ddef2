"""`store.util.dicts`: on SQLite a statement built once (`store.util.statement`) runs straight on the
driver's cursor -- same rows, same Python types (dates, booleans, JSON) as through SQLAlchemy, inside
the connection's transaction; on PostgreSQL it goes through SQLAlchemy as before."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from courtarchive.store import util
from courtarchive.store.tables import TABLES as T

from test_store import doc


def _stmt(name: str, dialect: str):
    H, P = T["hearing"], T["publication"]
    return util.statement(f"test.fastread.{name}.{dialect}", lambda: (
        sa.select(H.c.id, H.c.sitting_date, H.c.reporting_restriction, H.c.case_name, P.c.ingested_at,
                  P.c.sensitivity)
        .join(P, P.c.id == H.c.publication_id)
        .where(util.in_ids(H.c.id, dialect) & (H.c.court_name != sa.bindparam("not_court")))
        .order_by(H.c.id)))


def test_registered_statement_same_rows_both_ways(archive):
    archive.write(doc(n_hearings=3), content_hash="fast-1")
    with archive.engine.connect() as c:
        ids = [r[0] for r in c.execute(sa.select(T["hearing"].c.id).order_by(T["hearing"].c.id))]
        stmt = _stmt("rows", c.dialect.name)
        params = {"ids": ids, "not_court": "nowhere"}
        slow = [dict(r._mapping) for r in c.execute(stmt, params)]
        first = util.dicts(c, stmt, params, tag="x")
        again = util.dicts(c, stmt, params, tag="x")
        fewer = util.dicts(c, stmt, {"ids": ids[:1], "not_court": "nowhere"})
    assert len(slow) == 3
    assert first == again == [{**r, "tag": "x"} for r in slow]
    assert fewer == slow[:1]
    r = again[0]
    assert isinstance(r["sitting_date"], dt.date) and not isinstance(r["sitting_date"], dt.datetime)
    assert isinstance(r["ingested_at"], dt.datetime)
    assert all(isinstance(k, str) and type(k) is str for k in r)
    # SQLite keeps a plan for it (the driver's cursor from the second run on); PostgreSQL none
    assert bool(util._PLANS.get(id(stmt))) is (archive.sqlite is True)


def test_fast_reads_keep_one_snapshot_per_transaction(archive):
    """A fast read opens the connection's transaction as SQLAlchemy's autobegin would: a list written
    by another connection meanwhile is not seen until that transaction ends (SQLite, where the fast
    way runs; PostgreSQL reads at READ COMMITTED, each statement seeing what is committed)."""
    if not archive.sqlite:
        pytest.skip("SQLite's fast reads only: PostgreSQL reads at READ COMMITTED")
    archive.write(doc(n_hearings=1), content_hash="snap-1")
    H = T["hearing"]
    with archive.engine.connect() as c:
        dialect = c.dialect.name
        stmt = util.statement(f"test.fastread.all.{dialect}", lambda: sa.select(H.c.id).order_by(H.c.id))
        util.dicts(c, stmt)                         # (plans it)
    with archive.engine.connect() as c:
        before = util.dicts(c, stmt)
        assert c.in_transaction()
        archive.write(doc(court="Basingstoke Magistrates' Court", n_hearings=2), content_hash="snap-2")
        assert util.dicts(c, stmt) == before
    with archive.engine.connect() as c:
        assert len(util.dicts(c, stmt)) == len(before) + 2


def test_statements_not_held_are_not_planned(archive):
    """Only statements of `statement` (kept for the life of the process) are planned: an ad-hoc
    statement's id could be another's after it is freed."""
    archive.write(doc(n_hearings=1), content_hash="adhoc-1")
    H = T["hearing"]
    with archive.engine.connect() as c:
        stmt = sa.select(H.c.id, H.c.sitting_date)
        got = util.dicts(c, stmt)
        assert got and id(stmt) not in util._PLANS
        text = util.statement(f"test.fastread.text.{c.dialect.name}", lambda: sa.text("SELECT 1 AS one"))
        assert util.dicts(c, text) == [{"one": 1}]
        assert not util._PLANS.get(id(text))
