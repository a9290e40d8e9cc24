"""team mode: users, sessions, agent codes (portfolios)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

- `app_user`: who may sign in to the agency's server (`user` is a reserved word on
  PostgreSQL): unique name, role (agente | supervisor | administrador), agent codes
  (comma-separated, or "*"), Argon2id hash, a one-time password flag, disabled.
- `user_session`: bearer tokens by their SHA-256 only (the token itself is never stored),
  with idle (`last_seen_at`) and absolute (`expires_at`) expiry.
- `policy.agent_code` (the import's optional `agente` column) and its copy
  `receipt.agent_code`, with `ix_receipt_agent_pending`: an agent's pending list is the
  default order's index scan with the portfolio's code in front.
Plain ALTER TABLE ADD COLUMN / CREATE INDEX: no batch copy (on SQLite a copy of `receipt`
would drop the word index's triggers).
"""
import sqlalchemy as sa
from alembic import op

import paylink_tui.store.types


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _utc(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, paylink_tui.store.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'app_user',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('codes', sa.Text(), nullable=False, server_default=''),
        sa.Column('password_hash', sa.Text(), nullable=False),
        sa.Column('must_change_password', sa.Boolean(), nullable=False,
                  server_default=sa.true()),
        sa.Column('disabled', sa.Boolean(), nullable=False, server_default=sa.false()),
        _utc('created_at'),
        _utc('password_changed_at', nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name', name='uq_app_user_name'),
    )
    op.create_table(
        'user_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        _utc('created_at'),
        _utc('last_seen_at'),
        _utc('expires_at'),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash', name='uq_user_session_token_hash'),
    )
    op.create_index('ix_user_session_user_id', 'user_session', ['user_id'], unique=False)
    op.add_column('policy', sa.Column('agent_code', sa.String(length=40), nullable=True))
    op.create_index('ix_policy_agent_code', 'policy', ['agent_code'], unique=False)
    op.add_column('receipt', sa.Column('agent_code', sa.String(length=40), nullable=True))
    op.create_index('ix_receipt_agent_pending', 'receipt',
                    ['status', 'agent_code', 'policy_number', 'due_date', 'number'],
                    unique=False)


def downgrade() -> None:
    # ALTER TABLE DROP COLUMN (SQLite 3.35+), no table copy (see the docstring).
    op.drop_index('ix_receipt_agent_pending', table_name='receipt')
    op.drop_column('receipt', 'agent_code')
    op.drop_index('ix_policy_agent_code', table_name='policy')
    op.drop_column('policy', 'agent_code')
    op.drop_index('ix_user_session_user_id', table_name='user_session')
    op.drop_table('user_session')
    op.drop_table('app_user')
