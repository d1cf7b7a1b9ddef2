"""Small helpers the store's modules share: the clock, id chunks for IN (...) lists, rows as dicts."""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Iterator

#: ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits
CHUNK = 500


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
