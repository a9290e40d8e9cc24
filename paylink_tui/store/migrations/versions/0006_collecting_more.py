"""collecting more: the lapse order, reminders, "sin recordatorios"

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

- `ix_receipt_lapse_order`: the pending list sorted by lapse (due date + the grace days,
  so by due date), paged from the index as the default order is; it carries what the list's
  filters read (hidden_until, search_text), so a search filters index entries, not rows.
- `payment_link.no_reminders`: the agent marked the link "sin recordatorios".
- `email_message.send_before`: a message not sent after that instant (a reminder goes out
  on its own day before 22:00 local, or not at all).
- `reminder`: one row per link and local day, unique: the claim that sends it once.

Plain ALTER TABLE / CREATE INDEX, no batch copy of the tables: on SQLite a copy of `receipt`
would drop the word index's triggers.
"""
import sqlalchemy as sa
from alembic import op

import paylink_tui.store.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_receipt_lapse_order', 'receipt',
                    ['status', 'due_date', 'policy_number', 'number', 'hidden_until',
                     'search_text'], unique=False)
    op.add_column('payment_link', sa.Column('no_reminders', sa.Boolean(), nullable=False,
                                            server_default=sa.false()))
    op.add_column('email_message', sa.Column(
        'send_before', paylink_tui.store.types.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        'reminder',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('link_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('to_addr', sa.String(length=254), nullable=False),
        sa.Column('email_id', sa.Integer(), nullable=True),
        sa.Column('created_at', paylink_tui.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['payment_link.id']),
        sa.ForeignKeyConstraint(['email_id'], ['email_message.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('link_id', 'day', name='uq_reminder_link_day'),
    )


def downgrade() -> None:
    op.drop_table('reminder')
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch copy: copying payment_link would
    # drop a table that link_receipt's rows reference, which SQLite's foreign keys refuse.
    op.drop_column('email_message', 'send_before')
    op.drop_column('payment_link', 'no_reminders')
    op.drop_index('ix_receipt_lapse_order', table_name='receipt')
