"""What the open TUI is told while it runs (the live toast): payments applied since a given
instant — with why their confirmation email could not be sent, if so — and approvals that
arrived and still wait for MIT's confirmation (they must not read as approved)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from paylink_tui.domain.status import LinkState, NotificationStatus
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import read_session
from paylink_tui.store.models import EmailMessage, Notification, PaymentLink, Policy


@dataclass(frozen=True)
class PaidEvent:
    reference: str
    policy: str
    authorization: str | None
    paid_at: datetime | None
    amount: Decimal
    currency: str
    # False: the approval arrived and waits for MIT's confirmation (not applied yet).
    confirmed: bool = True
    # Applied, but the client's confirmation email could not be sent: why (Spanish).
    email_problem: str | None = None


def latest_payments(ctx: AppContext, since: datetime) -> list[PaidEvent]:
    """For the live toast: links paid after `since` (by when they were recorded), with why
    their confirmation email could not be sent if so; and approvals received after `since`
    that still wait for MIT's confirmation (`confirmed=False`)."""
    lk = PaymentLink.__table__.c
    p = Policy.__table__.c
    n = Notification.__table__.c
    e = EmailMessage.__table__.c
    with read_session(ctx.engine) as session:
        paid = session.execute(
            select(lk.id, lk.reference, p.number, lk.authorization, lk.paid_at,
                   func.coalesce(lk.paid_amount, lk.amount), lk.currency)
            .join(Policy.__table__, p.id == lk.policy_id)
            .where(lk.state == LinkState.PAID.value, lk.updated_at > since)
            .order_by(lk.updated_at)
        ).all()
        problems: dict[int, str | None] = {}
        if paid and not ctx.settings.mit_notify_payer:
            for link_id, status, tries, error in session.execute(
                select(e.link_id, e.status, e.attempts, e.last_error)
                .where(e.link_id.in_([row[0] for row in paid]), e.kind == "confirmation")
                .order_by(e.id)
            ):
                # Refused before any attempt (outbox.try_queue_confirmation), not a server
                # that was down for a moment: the outbox retries those. The newest wins.
                problems[link_id] = error if status == "failed" and tries == 0 else None
        waiting = session.execute(
            select(n.reference, p.number, n.authorization, n.taken_at, n.amount, lk.currency)
            .join(PaymentLink.__table__, lk.reference == n.reference)
            .join(Policy.__table__, p.id == lk.policy_id)
            .where(n.status == NotificationStatus.CONFIRMING.value, n.received_at > since)
            .order_by(n.received_at)
        ).all()
    events = [PaidEvent(ref, pol, auth, at, Decimal(amount), cur, confirmed=False)
              for ref, pol, auth, at, amount, cur in waiting]
    for link_id, ref, pol, auth, paid_at, amount, cur in paid:
        problem = problems.get(link_id, "no se pudo preparar el mensaje (vea el registro)."
                               if not ctx.settings.mit_notify_payer else None)
        events.append(PaidEvent(ref, pol, auth, paid_at, Decimal(amount), cur,
                                email_problem=problem))
    return events
