"""ingest: drop two secondary indexes that cost every bulk insert and serve no query

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 18:55:00

* ``ix_hearing_court_id``: the composite ``ix_hearing_court_id_sitting_date`` starts with court_id
  and answers every look-up by court (SQLite and PostgreSQL both use a leading-column prefix).
* ``ix_party_role``: four values or so, about half the rows DEFENDANT; no planner picks it for
  ``role = 'DEFENDANT'`` (a scan or the publication/case index is cheaper), yet every party row
  paid for it on insert.
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_hearing_court_id', table_name='hearing')
    op.drop_index('ix_party_role', table_name='party')


def downgrade() -> None:
    op.create_index('ix_party_role', 'party', ['role'], unique=False)
    op.create_index('ix_hearing_court_id', 'hearing', ['court_id'], unique=False)
