"""batch_run: a batch of links under way on the agency's server, so that it can be stopped

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Stopping a batch over the server used to close the connection that carried its progress: the
links under way finished on the server, but the agent was told they had not been tried. The
agent now asks the server to stop (`POST /api/v1/lotes/{batch_id}/detencion`) and keeps
reading the progress until the batch's own outcome. The request may reach another `serve`
worker than the one running the batch, so the stop is a row, not a flag in memory: the worker
reads it before it starts each link (services/batch_runs.py).
"""
import sqlalchemy as sa
from alembic import op

import paylink_tui.store.types


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _utc(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, paylink_tui.store.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'batch_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_name', sa.String(length=100), nullable=False),
        _utc('started_at'),
        _utc('stop_requested_at', nullable=True),
        _utc('finished_at', nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('batch_run')
