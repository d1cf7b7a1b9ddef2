"""alerts: alert_match.seen_at - in-app notifications (tracking) know what the follower has seen

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 23:58:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert_match') as b:
        b.add_column(sa.Column('seen_at', sa.DateTime(), nullable=True,
                                comment='when the follower saw it in the app (None: unread)'))


def downgrade() -> None:
    with op.batch_alter_table('alert_match') as b:
        b.drop_column('seen_at')
