"""digest: beats (areas plus offence groups) for the daily beat digest

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 00:05:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('beat',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.Text(), nullable=False, comment="the beat's name (unique, as typed)"),
    sa.Column('owner_account_id', sa.BigInteger(), nullable=True,
              comment='the account that created it (null: made from the command line without an account)'),
    sa.Column('courts', sa.JSON(), nullable=True, comment='court ids (store court.id) in the beat'),
    sa.Column('towns', sa.JSON(), nullable=True, comment='court towns in the beat (as in the court reference)'),
    sa.Column('police_force_areas', sa.JSON(), nullable=True, comment='police force areas whose courts are in the beat'),
    sa.Column('centre', sa.Text(), nullable=True, comment='the newsroom: a town of the reference, or lat,lon'),
    sa.Column('centre_lat', sa.Float(), nullable=True, comment='latitude of the centre'),
    sa.Column('centre_lon', sa.Float(), nullable=True, comment='longitude of the centre'),
    sa.Column('radius_km', sa.Float(), nullable=True, comment='courts within this distance of the centre are in the beat'),
    sa.Column('offence_groups', sa.JSON(), nullable=True,
              comment='offence groups (data/offences.csv); empty: every group'),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=True, comment='user name that created it'),
    sa.ForeignKeyConstraint(['owner_account_id'], ['account.id'], name=op.f('fk_beat_owner_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beat')),
    sa.UniqueConstraint('name', name=op.f('uq_beat_name')),
    comment='A news beat: an area (courts, towns, police force areas, a radius around a newsroom) plus offence '
            'groups; the daily digest ranks the day\'s listed cases of the beat.  Beats are shared by every '
            'account of the archive (the owner, when set, and admins may remove one).'
    )
    with op.batch_alter_table('beat', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_beat_owner_account_id'), ['owner_account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('beat', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_beat_owner_account_id'))
    op.drop_table('beat')
