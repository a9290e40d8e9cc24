"""money in whole cents on SQLite

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

SQLite has no decimal type: until 0001 a money column held the amount as a binary float (a
REAL, or an INTEGER when the amount was whole). From here on it holds whole cents in an
INTEGER (store/types.py, Money). Each amount is rounded to its nearest cent, which is the
exact amount that was written: every amount had two decimals, and a float of twelve digits
is far closer than half a cent to it. NULLs stay NULL. The columns' declared type is left
as it is: on SQLite NUMERIC and INTEGER affinity store an integer the same way.

PostgreSQL keeps NUMERIC(12, 2): nothing to do there.
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Every money column as of this revision. Spelled out, not read from the models: a
# migration must do the same thing whatever the models say later.
MONEY_COLUMNS = (
    ("receipt", "amount"),
    ("payment_link", "amount"),
    ("link_receipt", "amount"),
    ("notification", "amount"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, column in MONEY_COLUMNS:
        op.execute(
            f"UPDATE {table} SET {column} = CAST(ROUND({column} * 100) AS INTEGER) "
            f"WHERE {column} IS NOT NULL"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, column in MONEY_COLUMNS:
        op.execute(f"UPDATE {table} SET {column} = {column} / 100.0 WHERE {column} IS NOT NULL")
