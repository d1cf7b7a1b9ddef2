"""store: link_run.status names interrupted runs too (documentation only)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 22:30:00

Why: a link run now holds a lock on its archive for its whole length (`store.linkage.one_run`): a
second one refuses at once, and the next run marks ``interrupted`` a run left ``running`` by a
process that died.  The column's comment, which PostgreSQL keeps, says so.  SQLite keeps no
column comments: nothing to do there.
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def _comment(text: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("link_run", "status", existing_type=sa.Text(), existing_nullable=False, comment=text)


def upgrade() -> None:
    _comment("running | done | failed | interrupted (its process died: marked by the next run)")


def downgrade() -> None:
    _comment("running | done | failed")
