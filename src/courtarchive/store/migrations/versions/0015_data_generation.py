"""store: the archive's data generation, which every committed change moves on (issue 8)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 00:20:00

Why: the disclosure gate reads the facts of every case a page shows (all the hearings, parties,
offences and orders of all their lists: ~760 rows for a busy court's day list, ~45 % of its CPU)
on every request, although they change only when something is written.  A server may keep them
between requests if it can tell cheaply that nothing has changed: ``id_sequence`` gets a row
``data_generation`` that every committed transaction that changed a row moves on, in the same
transaction (`store.engine`), and a reader reads it before what it keeps.

The row starts at a random number, not at 1: a copy kept by a process for one archive must never
be taken as current for another archive -- or the same one made again -- that happens to reach the
same count.  Downgrade: the row goes (readers then keep nothing).
"""
import secrets

from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM id_sequence WHERE name = 'data_generation'")
    op.execute(f"INSERT INTO id_sequence (name, next_id) VALUES ('data_generation', {secrets.randbits(52)})")


def downgrade() -> None:
    op.execute("DELETE FROM id_sequence WHERE name = 'data_generation'")
