"""case: an index on the case number as a search reads it (no spaces or line breaks, upper case)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 04:15:00

Why: case numbers are stored as listed, and some lists write them with spaces or in lower case
("t 2019 0001"), while every search normalises what it is asked ("T20190001"): such a case was
never found by its number.  Comparing the normalised stored value needs an index on that value,
or each look-up reads the whole case table.  URNs need none: they are stored normalised.

The expression is `store.util.case_number_key_sql` (kept here as written: a migration does not
change when the code does); the look-ups use the same expression, so both engines use the index
for equality and for the prefix ranges of the case search.  Downgrade: the index goes.
"""
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# (the characters removed are a space, a tab, a line feed and a carriage return, written as such)
_KEY = "upper(replace(replace(replace(replace(case_number, ' ', ''), '\t', ''), '\n', ''), '\r', ''))"


def upgrade() -> None:
    op.execute(f'CREATE INDEX ix_case_case_number_key ON "case" ({_KEY})')


def downgrade() -> None:
    op.execute("DROP INDEX ix_case_case_number_key")
