"""Small helpers the store's modules share: the clock, id chunks for IN (...) lists, rows as dicts."""

from __future__ import annotations

import datetime as dt
import operator
from typing import Any, Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

#: ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits
CHUNK = 500


#: the largest record id (signed 64-bit: SQLite INTEGER, PostgreSQL BIGINT).  A larger number cannot
#: be bound as a query parameter (SQLite: OverflowError), and is no record's id anyway
MAX_ID = 2**63 - 1


def as_id(v) -> int | None:
    """``v`` as a record id: an integer (numpy's too), or a string of ASCII digits (surrounding
    spaces ignored), from 1 to `MAX_ID`; anything else (too large, negative, zero, other digits, a
    float, not a number) is None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, str):
        s = v.strip()
        if not (s.isascii() and s.isdigit()) or len(s) > 19:
            return None
        v = int(s)
    try:
        v = operator.index(v)
    except TypeError:
        return None
    return v if 1 <= v <= MAX_ID else None


def case_number_key_sql(column: str = "case_number") -> str:
    """SQL for a case number as searches read one: without spaces, tabs or line breaks, upper case
    (what `serve.search.case_ref` makes of a query).  Case numbers are stored as listed ("t 2019
    0001"); the expression index ``ix_case_case_number_key`` (migration 0017) is on exactly this
    expression, so an equality or a range on it is an index look-up on either engine.  (String
    literals, not bound parameters: an index on an expression is matched only by that expression.)"""
    return f"upper(replace(replace(replace(replace({column}, ' ', ''), '\t', ''), '\n', ''), '\r', ''))"


def case_number_key(ref: str | None) -> str:
    """`case_number_key_sql` in Python: the case number ``ref`` as the index holds it."""
    return "".join(ch for ch in (ref or "") if ch not in " \t\n\r").upper()


def now() -> dt.datetime:
    """UTC now, naive (the store's DATETIME columns hold UTC without a zone)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def chunks(ids: Iterable, n: int = CHUNK) -> Iterator[list]:
    """``ids`` in lists of at most ``n``."""
    ids = list(ids)
    for i in range(0, len(ids), n):
        yield ids[i:i + n]


def rows(conn, q) -> list[dict]:
    """The result of ``q`` as a list of dicts keyed by column name."""
    return [dict(r._mapping) for r in conn.execute(q)]


_STATEMENTS: dict[str, Any] = {}
#: id(statement) -> its plan on SQLite (SQL text, bound names, bind and result processors), or None when
#: the statement does not qualify -- only statements held in `_STATEMENTS`, which are never freed,
#: so an id always names the same statement
_PLANS: dict[int, Any] = {}
_HELD: set[int] = set()


def statement(name: str, build: Callable[[], Any]):
    """The statement ``name``, built once by ``build()`` and reused: a hot read path then skips
    building (and coercing) a Core statement per call, and with an id list passed as one
    parameter (`in_ids`) SQLAlchemy's compiled cache is hit every time."""
    s = _STATEMENTS.get(name)
    if s is None:
        s = _STATEMENTS[name] = build()
        _HELD.add(id(s))
    return s


def dicts(conn, stmt, params: dict | None = None, **extra) -> list[dict]:
    """Rows of ``stmt`` as plain dicts (str keys, no per-row mapping objects), each updated with
    ``extra``.

    On SQLite a statement of `statement` runs straight on the driver's cursor, inside the
    connection's transaction (begun as SQLAlchemy would), with SQLAlchemy's own bind and result
    processors for its types (dates, booleans, JSON): SQLAlchemy's execution machinery costs ~25 µs
    a statement -- more than most of these indexed reads -- and a page or API answer runs 20-35 of
    them.  The first run of each statement goes both ways and the fast way is kept only if both
    give the same rows and keys."""
    sqlite = conn.dialect.name == "sqlite"
    plan = _PLANS.get(id(stmt), False) if sqlite else None
    if plan:
        return _fast(conn, plan, params or {}, extra)
    res = conn.execute(stmt, params or {})
    keys = [str(k) for k in res.keys()]
    # (all rows in one fetchall: iterating the result fetches them one by one through
    # SQLAlchemy's layers, ~1 µs a row more -- a day list's gate reads ~1,100 rows)
    rows = res.all()
    out = [{**dict(zip(keys, r)), **extra} for r in rows] if extra else [dict(zip(keys, r)) for r in rows]
    if plan is False and id(stmt) in _HELD:
        plan = _plan(conn.dialect, stmt, keys)
        if plan is not None and _fast(conn, plan, params or {}, extra) != out:
            plan = None
        _PLANS[id(stmt)] = plan
    return out


def _plan(dialect, stmt, keys: list[str]):
    """(SQL, [(bound name, default, processor)], keys, [(key, processor)]) for a SELECT
    whose result columns are its selected columns, else None."""
    if not isinstance(stmt, sa.Select):
        return None
    cols = list(stmt.selected_columns)
    if len(cols) != len(keys) or len(set(keys)) != len(keys):
        return None
    comp = stmt.compile(dialect=dialect)
    if comp.positiontup is None or comp.literal_execute_params or comp.post_compile_params:
        return None
    procs = [(k, p) for k, p in ((k, c.type.dialect_impl(dialect).result_processor(dialect, None))
                                 for k, c in zip(keys, cols)) if p is not None]
    return comp.string, driver_binds(dialect, comp), keys, procs


def driver_binds(dialect, comp) -> list[tuple[str, Any, Any]]:
    """A compiled statement's positional parameters as (bound name, default value, SQLAlchemy's bind
    processor for its type or None), for running its SQL on the driver's connection (`driver_args`)."""
    return [(bp.key, bp.value, bp.type.dialect_impl(dialect).bind_processor(dialect))
            for bp in (comp.binds[name] for name in comp.positiontup)]


def driver_args(binds, params: dict) -> list:
    """The driver's arguments for ``params`` (`driver_binds`): each value as SQLAlchemy would send it."""
    return [(proc(params.get(name, default)) if proc is not None else params.get(name, default))
            for name, default, proc in binds]


def _fast(conn, plan, params: dict, extra: dict) -> list[dict]:
    sql, binds, keys, procs = plan
    if not conn.in_transaction():
        conn.begin()                # (what SQLAlchemy's autobegin does: BEGIN, as the engine says)
    out = [dict(zip(keys, r))
           for r in conn.connection.dbapi_connection.execute(sql, driver_args(binds, params)).fetchall()]
    for k, p in procs:
        for d in out:
            d[k] = p(d[k])
    if extra:
        for d in out:
            d.update(extra)
    return out


def in_ids(col, dialect: str, name: str = "ids"):
    """``col`` is one of the list given as parameter ``name`` -- one parameter whatever the number
    of ids, so the SQL text never changes: ``col = ANY(:name)`` (an array) on PostgreSQL, where
    psycopg then prepares the statement after a few runs and the server stops planning it on every
    call (~0.5 ms a statement; an API answer runs a dozen); ``col IN (SELECT value FROM
    json_each(:name))`` (the list as JSON) on SQLite, which still probes the index on ``col`` once
    per id, and SQLAlchemy no longer renders an expanding ``IN (?, ?, ...)`` on every call (~7 % of
    a day list's CPU: 9.4 -> 8.3 ms).  Build the statement once per dialect (`statement` with the
    dialect in its name)."""
    if dialect == "postgresql":
        return col == sa.any_(sa.bindparam(name, type_=ARRAY(col.type)))
    ids = sa.func.json_each(sa.bindparam(name, type_=sa.JSON)).table_valued("value")
    return col.in_(sa.select(ids.c.value).scalar_subquery())
