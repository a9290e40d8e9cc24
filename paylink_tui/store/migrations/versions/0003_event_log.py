"""event log for the live view

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

One row per thing an agent should hear about (a payment approved or denied, a review added,
a link changed), written in the same transaction as the change (services/events.py).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import paylink_tui.store.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', paylink_tui.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('policy_number', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('agent', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('data', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['link_id'], ['payment_link.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_link_id'), ['link_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_link_id'))
    op.drop_table('event')
