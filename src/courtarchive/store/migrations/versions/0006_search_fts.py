"""search index: FTS5 (SQLite) / pg_trgm (PostgreSQL) over search_name

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 18:30:00

Engine-specific objects the model cannot declare; every one is named ``fts_...`` so that the
model comparison (`store.migrate.include_name`) ignores it.

SQLite
    ``fts_search_name``  FTS5, ``tokenize='trigram'`` over ``search_name.name_norm``: substring
                         and partial-name matches (``"smi"``, ``"ohnso"``), the index MEASURED.md
                         timed at p95 1.9 ms for 1M names.
    ``fts_search_keys``  FTS5, ``tokenize='unicode61'``, ``detail=none`` over ``search_name.name_keys``:
                         exact look-up of the variant keys (edit-1 deletion keys, nickname canonical
                         forms, phonetic codes; see serve.search).  A trigram index over the keys
                         would cost ~10x the postings and answer nothing a key look-up does not.
    Both are *external content* tables (``content='search_name'``, ``content_rowid='id'``): the
    names are stored once, in search_name, not a second time inside FTS.  They are kept in step
    by `store.search`, the only writer of search_name, in the same transaction as each change
    (bulk ``INSERT INTO fts SELECT ... FROM search_name`` after an insert, the FTS ``'delete'``
    command with the stored values before a delete).  Not triggers: FTS5 flushes its pending
    terms at every statement savepoint, so a per-row trigger under executemany wrote a segment
    per row - measured 750 us/row against 30-70 us/row for the set-based statements.  Not a
    contentless table: SQLite 3.40 (the one here) cannot delete from one without re-supplying
    the text, and a regular content table would store every name twice.  Deleted postings stay in
    the FTS b-tree segments until merged: the governance hook runs ``'optimize'`` after removing
    expired or erased parties so no fragment of their names survives (the expiry job then
    VACUUMs).  ``INSERT INTO fts(fts) VALUES ('rebuild')`` re-derives either index from
    search_name at any time.

PostgreSQL
    ``pg_trgm`` is created in schema ``public`` (tolerating a concurrent creation) and is never
    dropped here (other schemas/databases may use it); its operator class is referenced
    schema-qualified so nothing depends on search_path.  ``fts_search_name_trgm``: GIN
    (name_norm public.gin_trgm_ops) for ``OPERATOR(public.%)`` similarity and LIKE substrings;
    ``fts_search_name_keys``: GIN over ``string_to_array(name_keys, ' ')`` for key overlap (&&).
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

FTS_TABLES = ("fts_search_name", "fts_search_keys")

def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # `init --reset` drops the model's tables but not these: start clean
        for t in FTS_TABLES:
            op.execute(f"DROP TABLE IF EXISTS {t}")
        op.execute("CREATE VIRTUAL TABLE fts_search_name USING fts5(name_norm, content='search_name', "
                   "content_rowid='id', tokenize='trigram')")
        op.execute("CREATE VIRTUAL TABLE fts_search_keys USING fts5(name_keys, content='search_name', "
                   "content_rowid='id', tokenize='unicode61', detail=none)")
        for t in FTS_TABLES:                       # rows already in search_name (none on a new archive)
            op.execute(f"INSERT INTO {t}({t}) VALUES ('rebuild')")
    elif bind.dialect.name == "postgresql":
        have = bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first()
        if not have:
            sp = bind.begin_nested()               # another session may create it at the same moment
            try:
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
                sp.commit()
            except sa.exc.DBAPIError:
                sp.rollback()
                if not bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first():
                    raise
        op.execute("CREATE INDEX fts_search_name_trgm ON search_name USING gin (name_norm public.gin_trgm_ops)")
        op.execute("CREATE INDEX fts_search_name_keys ON search_name USING gin ((string_to_array(name_keys, ' ')))")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for t in FTS_TABLES:
            op.execute(f"DROP TABLE IF EXISTS {t}")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS fts_search_name_keys")
        op.execute("DROP INDEX IF EXISTS fts_search_name_trgm")
        # pg_trgm stays: it lives in schema public and may serve other schemas or databases
