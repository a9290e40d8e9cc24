"""notification: identity of a folio-less notification, and the plan the client chose

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

A notification is identified by MIT's folio with its reference (uq_notification_folio_
reference). An error notification may come with an empty folio, or without a reference: NULL
is never equal to NULL in a unique constraint, so each retry of it was stored again.
`identity_key` identifies those instead ("folio:…" when only the reference is missing, else
"sha256:" and the hash of the decrypted body) and is NULL for the others; its unique index
makes a retry a duplicate. `promotion` is MIT's `promocion`: `C` or the months the client
chose. Rows stored before keep NULL in both.
"""
import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_key', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('promotion', sa.String(length=40), nullable=True))
        batch_op.create_index('ix_notification_identity_key', ['identity_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_identity_key')
        batch_op.drop_column('promotion')
        batch_op.drop_column('identity_key')
