"""approvals confirmed with MIT's transaction query; reconciliation; the amount MIT charged

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

- notification: `source` (None: MIT's notification; "reconcile": found by MIT's query),
  `confirmed_at`, `confirm_attempts`, `confirm_next_at`, `confirm_claimed_until`,
  `confirm_error` (an approval waits in status "confirming" until MIT's query lists it);
- payment_link: `paid_amount` (what MIT charged; existing paid links charged their amount,
  so it is filled from it), `reconciled_at` (when serve last asked MIT about it).
Every column is added, none changed: ALTER TABLE ADD COLUMN on both engines, no table copy.
"""
from alembic import op
import sqlalchemy as sa

import paylink_tui.store.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _utc(name: str) -> sa.Column:
    return sa.Column(name, paylink_tui.store.types.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.add_column('notification', sa.Column('source', sa.String(length=20), nullable=True))
    op.add_column('notification', _utc('confirmed_at'))
    op.add_column('notification', sa.Column('confirm_attempts', sa.Integer(), nullable=False,
                                            server_default='0'))
    op.add_column('notification', _utc('confirm_next_at'))
    op.add_column('notification', _utc('confirm_claimed_until'))
    op.add_column('notification', sa.Column('confirm_error', sa.Text(), nullable=True))
    op.add_column('payment_link', sa.Column('paid_amount', sa.Numeric(precision=12, scale=2),
                                            nullable=True))
    op.add_column('payment_link', _utc('reconciled_at'))
    # Same representation as `amount` on both engines (cents on SQLite): a plain copy.
    op.execute("UPDATE payment_link SET paid_amount = amount WHERE state = 'paid'")


def downgrade() -> None:
    # ALTER TABLE DROP COLUMN (SQLite 3.35+): no table copy, which the foreign keys that point
    # at payment_link would refuse. Approvals still waiting for MIT go back to "por revisar,
    # not applied yet", which the older build shows and a person resolves.
    op.execute("UPDATE notification SET status = 'review', review_reason = NULL "
               "WHERE status = 'confirming'")
    for name in ('reconciled_at', 'paid_amount'):
        op.drop_column('payment_link', name)
    for name in ('confirm_error', 'confirm_claimed_until', 'confirm_next_at',
                 'confirm_attempts', 'confirmed_at', 'source'):
        op.drop_column('notification', name)
