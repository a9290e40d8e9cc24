"""Queueing in the email outbox: each kind of message (the link, its reminder, the payment
confirmation), who it goes to and from, rendered and every header checked, added to the
outbox in the caller's transaction.

Split out of services/outbox.py, whose docstring tells how the outbox delivers (claim, send,
record, at least once); outbox.py re-exports the public names here, so callers keep
importing them from there. This module imports nothing of outbox.py.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import make_msgid
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, insert
from sqlmodel import Session, select

from paylink_tui.domain.dates import utc
from paylink_tui.domain.promotions import offered_months
from paylink_tui.domain.status import EmailStatus
from paylink_tui.domain.text import full_name
from paylink_tui.mail.errors import MailError
from paylink_tui.mail.message import check_header, new_message_id, validate_address
from paylink_tui.mail.render import (
    ReceiptLine,
    RenderedEmail,
    render_confirmation_email,
    render_link_email,
    render_reminder_email,
)
from paylink_tui.services.context import AppContext
from paylink_tui.store.models import Client, EmailMessage, LinkReceipt, PaymentLink, Policy, Receipt

KIND_LINK = "link"
KIND_REMINDER = "reminder"  # services/reminders.py
KIND_CONFIRMATION = "confirmation"


# --- queueing ---------------------------------------------------------------------------


def queue_email(
    session: Session,
    *,
    kind: str,
    to: str,
    from_addr: str,
    from_name: str | None,
    reply_to: str | None,
    rendered: RenderedEmail,
    now: datetime,
    link_id: int | None = None,
    send_before: datetime | None = None,
) -> EmailMessage:
    """Add a message to the outbox in the caller's transaction (flushed, so it has an id).
    `send_before`: the instant after which it must not go out any more (a reminder's day).

    Raises InvalidAddress / HeaderInjection before anything is written. The MIME message
    itself is built only when sending: every header that goes into it is checked here.
    """
    row = EmailMessage(**_email_values(
        kind=kind, to=to, from_addr=from_addr, from_name=from_name, reply_to=reply_to,
        rendered=rendered, now=now, link_id=link_id, send_before=send_before))
    session.add(row)
    session.flush()
    return row


def _email_values(*, kind: str, to: str, from_addr: str, from_name: str | None,
                  reply_to: str | None, rendered: RenderedEmail, now: datetime,
                  link_id: int | None, send_before: datetime | None = None) -> dict[str, object]:
    """The outbox row's columns, every header checked (InvalidAddress / HeaderInjection)."""
    to = _valid_address(to, "to")
    from_addr = _valid_address(from_addr, "from")
    reply_to = _valid_address(reply_to, "reply_to") if reply_to else None
    check_header(from_name, "from_name")
    check_header(rendered.subject, "subject")
    now = utc(now)
    return {
        "kind": kind,
        "link_id": link_id,
        "to_addr": to,
        "from_addr": from_addr,
        "from_name": from_name or None,
        "reply_to": reply_to,
        "subject": rendered.subject,
        "message_id": _new_message_id(from_addr),
        "body_text": rendered.text,
        "body_html": rendered.html,
        "status": EmailStatus.QUEUED.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "last_error": None,
        "claimed_until": None,
        "sent_at": None,
        "send_before": utc(send_before) if send_before is not None else None,
    }


def _link_parts(session: Session, link: PaymentLink) -> tuple[Policy, Client, list[ReceiptLine]]:
    policy = session.get(Policy, link.policy_id)
    if policy is None:
        raise MailError(f"La liga {link.reference} no tiene póliza.")
    client = session.get(Client, policy.client_id)
    if client is None:
        raise MailError(f"La póliza {policy.number} no tiene contratante.")
    rows = session.exec(
        select(Receipt, LinkReceipt.amount)
        .join(LinkReceipt, LinkReceipt.receipt_id == Receipt.id)  # type: ignore[arg-type]
        .where(LinkReceipt.link_id == link.id)
        .order_by(Receipt.due_date, Receipt.number)  # type: ignore[arg-type]
    ).all()
    lines = [
        ReceiptLine(number=r.number, amount=amount, currency=r.currency, due_date=r.due_date)
        for r, amount in rows
    ]
    return policy, client, lines


# Validating an address is pure and costs more than a dict lookup: the senders come from
# the settings and clients pay more than once, so results (not errors) are remembered.
_valid_address = lru_cache(maxsize=4096)(validate_address)


@lru_cache(maxsize=16)
def _message_id_domain(from_addr: str) -> str:
    return new_message_id(from_addr).rsplit("@", 1)[1].rstrip(">")


def _new_message_id(from_addr: str) -> str:
    """new_message_id, with the sender's domain worked out once per sender."""
    return make_msgid(domain=_message_id_domain(from_addr))


@lru_cache(maxsize=1)
def _holder_query() -> Any:
    pol = Policy.__table__  # type: ignore[attr-defined]
    cli = Client.__table__  # type: ignore[attr-defined]
    return (select(pol.c.number, cli.c.first_name, cli.c.last_name, cli.c.second_last_name)
            .select_from(pol.outerjoin(cli, cli.c.id == pol.c.client_id))
            .where(pol.c.id == bindparam("policy_id")))


def _holder(session: Session, link: PaymentLink) -> tuple[str, str]:
    """(policy number, holder's full name) in one query: the confirmation lists no receipts."""
    row = session.connection().execute(_holder_query(), {"policy_id": link.policy_id}).first()
    if row is None:
        raise MailError(f"La liga {link.reference} no tiene póliza.")
    if row.first_name is None:
        raise MailError(f"La póliza {row.number} no tiene contratante.")
    return row.number, full_name(row.first_name, row.last_name, row.second_last_name)


def _link_values(session: Session, ctx: AppContext, link: PaymentLink) -> dict[str, Any]:
    """What the link email and its reminder are rendered from."""
    s = ctx.settings
    policy, client, lines = _link_parts(session, link)
    return {
        "holder_name": full_name(client.first_name, client.last_name, client.second_last_name),
        "policy_number": policy.number, "receipts": lines, "amount": link.amount,
        "currency": link.currency, "url": link.url, "reference": link.reference,
        "last_valid_day": link.last_valid_day, "agent_name": link.agent,
        "agent_email": s.agent_email, "company": s.company, "templates_dir": s.templates_dir,
        "installment_plans": offered_months(link.promotions),
    }


def _queue_to_holder(session: Session, ctx: AppContext, link: PaymentLink, kind: str,
                     rendered: RenderedEmail, now: datetime,
                     send_before: datetime | None = None) -> EmailMessage:
    """A message about `link` to its address, from the link's sender (Reply-To the agent)."""
    s = ctx.settings
    return queue_email(
        session, kind=kind, to=link.email, from_addr=s.link_sender, from_name=s.company,
        reply_to=s.agent_email or None, rendered=rendered, now=now, link_id=link.id,
        send_before=send_before,
    )


def queue_link_email(session: Session, ctx: AppContext, link: PaymentLink, now: datetime) -> EmailMessage:
    """Queue the email that carries `link` (which must have its URL) to `link.email`."""
    if not link.url:
        raise MailError(f"La liga {link.reference} aún no tiene dirección (URL); no se puede enviar.")
    rendered = render_link_email(**_link_values(session, ctx, link))
    return _queue_to_holder(session, ctx, link, KIND_LINK, rendered, now)


def queue_reminder_email(session: Session, ctx: AppContext, link: PaymentLink, now: datetime,
                         *, today: Any, send_before: datetime) -> EmailMessage:
    """Queue the reminder of an unpaid `link` for the local day `today`, from the link's
    sender to its address; not sent after `send_before` (services/reminders.py)."""
    if not link.url:
        raise MailError(f"La liga {link.reference} no tiene dirección (URL); no hay qué recordar.")
    rendered = render_reminder_email(today=today, **_link_values(session, ctx, link))
    return _queue_to_holder(session, ctx, link, KIND_REMINDER, rendered, now, send_before)


def queue_confirmation_email(
    session: Session, ctx: AppContext, link: PaymentLink, now: datetime
) -> EmailMessage:
    """Queue the payment confirmation for a paid `link` (paid_at and authorization set)."""
    row = EmailMessage(**_confirmation_values(session, ctx, link, now))
    session.add(row)
    session.flush()
    return row


def queue_confirmation(session: Session, ctx: AppContext, link: Any, now: datetime,
                       holder: tuple[str, str] | None = None) -> int:
    """queue_confirmation_email for the notification hot path: the row inserted with Core
    (no ORM object to track), its id returned. `link` needs the columns of a paid link;
    `holder` (policy number, holder's full name) when the caller read them already."""
    table = EmailMessage.__table__  # type: ignore[attr-defined]
    values = _confirmation_values(session, ctx, link, now, holder)
    return int(session.connection().execute(
        insert(table).returning(table.c.id), values).scalar_one())


def _confirmation_values(session: Session, ctx: AppContext, link: Any, now: datetime,
                         holder: tuple[str, str] | None = None) -> dict[str, object]:
    return confirmation_row(ctx, link, now, render_confirmation(session, ctx, link, holder))


def render_confirmation(session: Session, ctx: AppContext, link: Any,
                        holder: tuple[str, str] | None = None) -> RenderedEmail:
    """The confirmation of a paid `link` (MailError when it cannot be written)."""
    if link.paid_at is None or not link.authorization:
        raise MailError(f"La liga {link.reference} no tiene un pago aprobado que confirmar.")
    s = ctx.settings
    policy_number, holder_name = holder or _holder(session, link)
    return render_confirmation_email(
        holder_name=holder_name,
        policy_number=policy_number,
        company=s.company,
        reference=link.reference,
        paid_at=link.paid_at,
        tz=ctx.tz,
        authorization=link.authorization,
        folio=link.folio,
        # What MIT charged (a person may have applied a different amount by hand).
        amount=getattr(link, "paid_amount", None) or link.amount,
        currency=link.currency,
        card_mask=link.card_mask,
        card_type=link.card_type,
        installment_months=getattr(link, "installment_months", None),
        templates_dir=s.templates_dir,
    )


def confirmation_row(ctx: AppContext, link: Any, now: datetime,
                     rendered: RenderedEmail) -> dict[str, object]:
    """Its outbox row, every address and header checked (InvalidAddress, HeaderInjection)."""
    s = ctx.settings
    return _email_values(
        kind=KIND_CONFIRMATION,
        to=link.email,
        from_addr=s.notice_sender,
        from_name=s.company,
        reply_to=s.agent_email or None,
        rendered=rendered,
        now=now,
        link_id=link.id,
    )
