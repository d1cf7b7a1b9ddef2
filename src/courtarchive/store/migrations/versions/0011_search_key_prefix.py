"""search: a 3-character prefix index on the name keys (SQLite) - the two-edit look-up's
first-letters query (``"ebr" *``) reads one prefix posting list instead of every term (issue 8)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 09:20:00

Why: `store.search.relaxed_candidates` asks for names holding a key of one query word AND a word
beginning with the first two letters of the other (``"e" + two letters``, a prefix query).
Without a prefix index FTS5 answers a prefix query by merging the posting list of every term
with that prefix: 9-40 ms per query at 1M people on this box, the largest part of the two-typo
queries' tail.  With ``prefix='3'`` the same query took 2.7-9 ms (same rows); the index grew by
10 MB at 1M people (1,247 -> 1,258 MB) and the rebuild took 5 s.

SQLite: ``fts_search_key_keys`` is dropped and made again with ``prefix='3'``, then rebuilt from
its content table (``search_key``, untouched).  PostgreSQL: nothing (its first-letters test is a
LIKE on ``search_key.name_norm``).  An archive left at 0010 answers the same, only slower.
"""
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_OPTIONS = "name_keys, content='search_key', content_rowid='id', tokenize='unicode61', detail=none"


def _recreate(prefix: str) -> None:
    op.execute("DROP TABLE IF EXISTS fts_search_key_keys")
    op.execute(f"CREATE VIRTUAL TABLE fts_search_key_keys USING fts5({_OPTIONS}{prefix})")
    op.execute("INSERT INTO fts_search_key_keys(fts_search_key_keys) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate(", prefix='3'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate("")
