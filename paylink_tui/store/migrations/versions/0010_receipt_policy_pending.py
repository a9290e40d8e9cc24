"""a policy's pending receipts from one index: (policy_id, status, due_date, number)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

`ix_receipt_policy_pending` replaces `ix_receipt_policy_id (policy_id)`. The receipt's
detail, the link dialog's "older receipts left out" and generating a link read "the other
pending receipts of this policy, oldest first". With only (policy_id) to go by, SQLite's
planner (no ANALYZE statistics: nobody runs it on an agent's file) preferred
`ix_receipt_lapse_order (status, due_date, …)`, whose first column matches `status =
'pending'` and whose second gives the order: it walked every pending receipt of the book, 4 to
23 s at 1,000,000 receipts, on each row the cursor rested on, and the search keystrokes
waited behind it (bench/tui_first_rows.py). Two equality columns and the order in one index
win on every engine, with or without statistics; policy_id leads, so the foreign key's
lookups keep an index. On PostgreSQL CONCURRENTLY is not used: the migration runs in one
transaction, as every other.
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_receipt_policy_pending', 'receipt',
                    ['policy_id', 'status', 'due_date', 'number'], unique=False)
    op.drop_index('ix_receipt_policy_id', table_name='receipt')


def downgrade() -> None:
    op.create_index('ix_receipt_policy_id', 'receipt', ['policy_id'], unique=False)
    op.drop_index('ix_receipt_policy_pending', table_name='receipt')
