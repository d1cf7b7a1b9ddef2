"""search: a covering index for a name's mentions - the engine reads them from the index alone
(issue 8)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 11:40:00

Why: a search ranks distinct names, then reads the mentions of those that scored (ids, date,
court, offence groups, filtered by court/date/offence group/role).  Through the b-tree on
``search_name.name_norm`` alone each mention cost a look-up in the table (rows of one name lie
anywhere in it): 2,000 mentions took 7-9 ms at 1M people on this box, 4.5-5.5 ms from an index
holding every column read (bench/RESULTS.md, session 7).  The new index starts with name_norm, so
the single-column index goes.  About +70 MB at 1M people.
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

COLS = ['name_norm', 'person_id', 'party_id', 'sitting_date', 'court_id', 'case_id', 'hearing_id',
        'offence_groups', 'role']


def upgrade() -> None:
    with op.batch_alter_table('search_name', schema=None) as batch_op:
        batch_op.create_index('ix_search_name_name_norm_9cols', COLS, unique=False)
        batch_op.drop_index('ix_search_name_name_norm')


def downgrade() -> None:
    with op.batch_alter_table('search_name', schema=None) as batch_op:
        batch_op.create_index('ix_search_name_name_norm', ['name_norm'], unique=False)
        batch_op.drop_index('ix_search_name_name_norm_9cols')
