"""payment_link: the meses-sin-intereses plans it offers, and the one its payment used

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

`promotions` is MIT's `promociones` as the link request sent it: `C` (single payment) or
e.g. `C,3,6`; NULL for links made before, which were all sent `C`. `installment_months` is
the plan the client paid with (the approved notification's `promocion`): the months, NULL for
a single payment. Links paid before this revision get it from the notification that paid them
(notification.promotion, stored since 0004), so history shows how they were paid.
"""
import re

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_MONTHS = re.compile(r"\d{1,2}")


# Plain ALTER TABLE on both engines (SQLite 3.35+ drops columns too): a batch copy of
# payment_link would DROP the table that link_receipt, notification and the rest reference,
# which SQLite's foreign keys refuse once they hold rows.


def upgrade() -> None:
    op.add_column('payment_link', sa.Column('promotions', sa.String(length=40), nullable=True))
    op.add_column('payment_link', sa.Column('installment_months', sa.Integer(), nullable=True))
    # The notification that paid each link: its folio is the link's.
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT l.id, n.promotion FROM payment_link l JOIN notification n "
        "ON n.link_id = l.id AND n.folio = l.folio "
        "WHERE l.state = 'paid' AND n.response = 'approved' AND n.promotion IS NOT NULL"
    )).all()
    months = [{"lid": lid, "m": int(p.strip())} for lid, p in rows
              if _MONTHS.fullmatch((p or "").strip()) and int(p.strip()) >= 1]
    if months:
        conn.execute(sa.text("UPDATE payment_link SET installment_months = :m WHERE id = :lid"),
                     months)


def downgrade() -> None:
    op.drop_column('payment_link', 'installment_months')
    op.drop_column('payment_link', 'promotions')
