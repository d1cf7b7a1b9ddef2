"""search: trigram and first-letters keys in the name-keys index; search_name no longer stores
keys (issue 8)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 12:00:00

Why: the two-edit look-up (a word with two typos: "Sehpward") asks for names holding a key of one
query word AND a trigram (or the first two letters) of the other.  The trigrams were in the
substring index (``fts_search_key_name``), so SQLite evaluated an INTERSECT of two FTS5 results,
reading the whole posting list of common trigrams ("ard": 36k names at 1M people): 40-50 ms per
query.  With the trigrams as keys (``t`` + three letters of each word) in ``fts_search_key_keys``
it is one FTS5 query whose AND steps through the lists together: 3-4 ms, the same names
(bench/RESULTS.md, session 7).  The first letters become keys too (``h`` + the first two letters
of each ``e`` key: what SQLite's prefix query ``"e<2 letters>" *`` matched), so PostgreSQL answers
the same look-up from its GIN index (a bitmap AND) with the same names, instead of a LIKE filter
over every name holding the first word's keys.

``search_name.name_keys`` (every mention's keys again, ~170 bytes a row) was written but never
read - the engine reads ``search_key`` - so it goes; with the trigram keys ``search_key`` grows
by ~90 bytes a name: at 1M people -170 MB + 57 MB.

Upgrade: every ``search_key.name_keys`` is recomputed by the engine's own key function (in
batches), then (SQLite) the key index is rebuilt from it; PostgreSQL's GIN index follows the
UPDATE.  Downgrade: the trigram keys are taken out again and ``search_name.name_keys`` is filled
from ``search_key``.
"""
import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BATCH = 20_000


def _rekey(transform) -> None:
    """search_key.name_keys := transform(name_norm, name_keys), in batches of ids."""
    bind = op.get_bind()
    ph = "?" if bind.dialect.name == "sqlite" else "%s"
    last = 0
    while True:
        rows = bind.exec_driver_sql(f"SELECT id, name_norm, name_keys FROM search_key WHERE id > {ph} ORDER BY id "
                                    f"LIMIT {BATCH}", (last,)).fetchall()
        if not rows:
            break
        bind.exec_driver_sql(f"UPDATE search_key SET name_keys = {ph} WHERE id = {ph}",
                             [(transform(n, k), i) for i, n, k in rows])
        last = rows[-1][0]
    if bind.dialect.name == "sqlite":
        op.execute("INSERT INTO fts_search_key_keys(fts_search_key_keys) VALUES ('rebuild')")
    elif last:      # not on a fresh archive: statistics saying "empty" would outlive its growth
        op.execute("ANALYZE search_key")


def upgrade() -> None:
    from courtarchive.serve.search import _name_keys

    _rekey(lambda name, _keys: _name_keys(name))
    with op.batch_alter_table('search_name', schema=None) as batch_op:
        batch_op.drop_column('name_keys')


def downgrade() -> None:
    from courtarchive.store.search import HEAD_KEY, TRIGRAM_KEY

    _rekey(lambda _name, keys: " ".join(k for k in (keys or "").split()
                                        if not k.startswith((TRIGRAM_KEY, HEAD_KEY))) or None)
    with op.batch_alter_table('search_name', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_keys', sa.Text(), nullable=True,
                                      comment='variant keys (nicknames, phonetic) separated by spaces'))
    op.execute("UPDATE search_name SET name_keys = (SELECT k.name_keys FROM search_key k "
               "WHERE k.name_norm = search_name.name_norm)")
