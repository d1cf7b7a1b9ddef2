"""search: one index row per distinct name (search_key) - the engine looks names up and ranks
them once, then expands to their mentions (issue 8)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 00:10:00

Why: the variant keys of a common name had one posting per *mention* (every "John Smith" under
``esmith``, ``esmth``, ``esmih`` ...), so a fuzzy query read and ranked thousands of rows that
share a handful of names.  ``search_key`` holds each distinct ``name_norm`` once with its keys; the
engine indexes move onto it and ``search_name.name_norm`` gets a b-tree index for the expansion.

SQLite
    ``fts_search_key_keys``  FTS5 ``detail=none`` over ``search_key.name_keys`` (was
                             ``fts_search_keys`` over every mention),
    ``fts_search_key_name``  FTS5 ``trigram`` over ``search_key.name_norm`` (was ``fts_search_name``),
    both external content (``content='search_key'``), kept in step by `store.search`.
PostgreSQL
    ``fts_search_key_keys`` GIN over ``string_to_array(name_keys, ' ')`` and ``fts_search_key_trgm``
    GIN (name_norm public.gin_trgm_ops) on search_key; the two per-mention GIN indexes go.

Existing archives: search_key is filled from search_name here (ids from 1, id_sequence set).
"""
import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD_FTS = ("fts_search_name", "fts_search_keys")
NEW_FTS = ("fts_search_key_keys", "fts_search_key_name")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('search_key',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name_norm', sa.Text(), nullable=False, comment='normalised full name'),
    sa.Column('name_keys', sa.Text(), nullable=True, comment='variant keys of its words separated by spaces'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_key')),
    sa.UniqueConstraint('name_norm', name=op.f('uq_search_key_name_norm')),
    comment='Name search index, one row per distinct normalised name of search_name (many mentions share a name): '
            'the engine looks names up and ranks them here, once, then expands to their mentions.  Derived; a name '
            'leaves when its last mention does.'
    )
    with op.batch_alter_table('search_name', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_name_name_norm'), ['name_norm'], unique=False)
    op.execute("INSERT INTO search_key (id, name_norm, name_keys) SELECT row_number() OVER (ORDER BY name_norm), "
               "name_norm, min(name_keys) FROM search_name GROUP BY name_norm")
    n = bind.exec_driver_sql("SELECT coalesce(max(id), 0) FROM search_key").scalar()
    if n:
        op.execute("DELETE FROM id_sequence WHERE name = 'search_key'")
        op.execute(f"INSERT INTO id_sequence (name, next_id) VALUES ('search_key', {int(n) + 1})")
    if bind.dialect.name == "sqlite":
        for t in OLD_FTS + NEW_FTS:
            op.execute(f"DROP TABLE IF EXISTS {t}")
        op.execute("CREATE VIRTUAL TABLE fts_search_key_keys USING fts5(name_keys, content='search_key', "
                   "content_rowid='id', tokenize='unicode61', detail=none)")
        op.execute("CREATE VIRTUAL TABLE fts_search_key_name USING fts5(name_norm, content='search_key', "
                   "content_rowid='id', tokenize='trigram')")
        for t in NEW_FTS:
            op.execute(f"INSERT INTO {t}({t}) VALUES ('rebuild')")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS fts_search_name_keys")
        op.execute("DROP INDEX IF EXISTS fts_search_name_trgm")
        op.execute("CREATE INDEX fts_search_key_trgm ON search_key USING gin (name_norm public.gin_trgm_ops)")
        op.execute("CREATE INDEX fts_search_key_keys ON search_key USING gin ((string_to_array(name_keys, ' ')))")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for t in NEW_FTS:
            op.execute(f"DROP TABLE IF EXISTS {t}")
        op.execute("CREATE VIRTUAL TABLE fts_search_name USING fts5(name_norm, content='search_name', "
                   "content_rowid='id', tokenize='trigram')")
        op.execute("CREATE VIRTUAL TABLE fts_search_keys USING fts5(name_keys, content='search_name', "
                   "content_rowid='id', tokenize='unicode61', detail=none)")
        for t in OLD_FTS:
            op.execute(f"INSERT INTO {t}({t}) VALUES ('rebuild')")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS fts_search_key_keys")
        op.execute("DROP INDEX IF EXISTS fts_search_key_trgm")
        op.execute("CREATE INDEX fts_search_name_trgm ON search_name USING gin (name_norm public.gin_trgm_ops)")
        op.execute("CREATE INDEX fts_search_name_keys ON search_name USING gin ((string_to_array(name_keys, ' ')))")
    with op.batch_alter_table('search_name', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_name_name_norm'))
    op.execute("DELETE FROM id_sequence WHERE name = 'search_key'")
    op.drop_table('search_key')
