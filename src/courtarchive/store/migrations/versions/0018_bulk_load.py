"""store: bulk_load, what a bulk load took off the bulk tables to put back when it ends

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 06:00:00

Why: `courtarchive ingest --bulk` (a first load, a backfill of years of lists) drops the bulk
tables' secondary indexes and, on PostgreSQL, their foreign keys, writes, then builds the indexes
once and checks each foreign key once, set-wise (`store.bulk`).  What it dropped is recorded, as the
database defined it, in the transaction that drops it, so that a load killed midway leaves a record
from which the next ingest or `init` restores the schema.  Downgrade: the table goes (a bulk load's
rows left in it would be lost: restore first, `courtarchive ingest` with no files does).
"""
import sqlalchemy as sa
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulk_load",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("ddl", sa.Text, nullable=False),
        sa.Column("dropped_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_bulk_load"),
    )


def downgrade() -> None:
    op.drop_table("bulk_load")
