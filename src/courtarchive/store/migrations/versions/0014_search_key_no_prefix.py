"""search: the name-keys index loses 0011's 3-character prefix index, which nothing reads since
0013 (issue 8)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 09:00:00

Why: 0011 gave ``fts_search_key_keys`` ``prefix='3'`` for the two-edit look-up's first-letters
query (``"ebr" *``).  Since 0013 the first letters are keys of their own (``h`` + two letters)
and the engine asks only for exact keys (`store.search.relaxed_candidates`), so the prefix index
is written on every index build and never read: ~10 MB and ~5 s of rebuild at 1M people.

SQLite: ``fts_search_key_keys`` is dropped, made again without ``prefix``, and rebuilt from its
content table (``search_key``, untouched).  PostgreSQL: nothing.  Downgrade: the prefix index
again (what 0011 made).
"""
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_OPTIONS = "name_keys, content='search_key', content_rowid='id', tokenize='unicode61', detail=none"


def _recreate(prefix: str) -> None:
    op.execute("DROP TABLE IF EXISTS fts_search_key_keys")
    op.execute(f"CREATE VIRTUAL TABLE fts_search_key_keys USING fts5({_OPTIONS}{prefix})")
    op.execute("INSERT INTO fts_search_key_keys(fts_search_key_keys) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate("")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate(", prefix='3'")
