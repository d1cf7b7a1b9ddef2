"""store: retention_run.kind names the rectification runs too (documentation only)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 04:40:00

Why: a rectification's derived-store hooks now run under a run of their own (kind ``rectify``), so
that the next expiry retries the ones that failed or did not finish; the column's comment, which
PostgreSQL keeps, says so.  SQLite keeps no column comments: nothing to do there.
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def _comment(text: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("retention_run", "kind", existing_type=sa.Text(), existing_nullable=False, comment=text)


def upgrade() -> None:
    _comment("expire | erase | rectify")


def downgrade() -> None:
    _comment("expire | erase")
