"""The email outbox: messages are queued in the caller's transaction, then delivered.

Delivery is at least once:
1. claim due rows in a short transaction (`claimed_until` = now + a lease), so two
   processes never send the same row at the same time; a crashed process's lease expires;
2. send each claimed message over SMTP, outside any transaction. Just before each send the
   message's claim is renewed with a compare-and-set on `claimed_until` (the value this
   process wrote): a slow server can make a batch outlive its lease, and a message whose
   lease lapsed may have been claimed by another process meanwhile; then it is skipped;
3. record the outcome in another short transaction, again only while `claimed_until` is
   still ours: `sent`, or `failed` with the Spanish error, one more attempt and the next
   try after a backoff.
A process killed between 2 and 3 leaves the row claimed; when the lease expires it is sent
again with the same Message-ID (fixed when queued), so mail clients see one message.

Queueing (what each kind of message says, to whom, every header checked) is in
services/outbox_queue.py; this module delivers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage as MimeMessage
from typing import Any

from sqlalchemy import and_, bindparam, false, or_, update
from sqlmodel import select

from paylink_tui.domain.dates import utc
from paylink_tui.domain.labels import EMAIL
from paylink_tui.domain.status import EmailStatus, LinkState
from paylink_tui.mail.errors import MailError, SendError
from paylink_tui.mail.message import build_message, validate_address
from paylink_tui.mail.render import RenderedEmail
from paylink_tui.services.context import AppContext
from paylink_tui.services.outbox_queue import (
    KIND_CONFIRMATION,
    KIND_LINK,
    KIND_REMINDER,
    confirmation_row,
    queue_confirmation,
    queue_confirmation_email,
    queue_email,
    queue_link_email,
    queue_reminder_email,
    render_confirmation,
)
from paylink_tui.store.db import is_sqlite, read_session, write_session
from paylink_tui.store.models import EmailMessage, PaymentLink

log = logging.getLogger(__name__)

# Seconds to wait after the 1st, 2nd, ... failure; hourly after the last.
BACKOFF = (30, 60, 120, 300, 600, 1800)
BACKOFF_MAX = 3600
# Seconds between the writes that record sent messages during a delivery round.
MARK_SENT_EVERY = 0.5

__all__ = [
    "BACKOFF",
    "DeliveryReport",
    "KIND_CONFIRMATION",
    "KIND_LINK",
    "KIND_REMINDER",
    "RenderedEmail",
    "backoff_delay",
    "confirmation_row",  # services/notifications/email.py
    "deliver_due",
    "email_status_label",
    "mime_message",
    "queue_confirmation",
    "queue_confirmation_email",
    "queue_email",
    "queue_link_email",
    "queue_reminder_email",
    "render_confirmation",  # services/notifications/email.py
    "resend",
    "validate_address",  # for services that take an address from the agent
]


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # Spanish, one per failed message


def email_status_label(status: str) -> str:
    """"En cola", "Enviado" or "Error de envío (reintentando)"."""
    try:
        return EMAIL[EmailStatus(status)]
    except ValueError:
        return status


def backoff_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure (1-based): 30 s, 1 min, 2 min, ... then hourly."""
    if attempts < 1:
        return timedelta(0)
    if attempts <= len(BACKOFF):
        return timedelta(seconds=BACKOFF[attempts - 1])
    return timedelta(seconds=BACKOFF_MAX)


def mime_message(row: EmailMessage) -> MimeMessage:
    """The MIME message for an outbox row (same bytes for every attempt)."""
    return build_message(
        to=row.to_addr,
        from_addr=row.from_addr,
        from_name=row.from_name,
        reply_to=row.reply_to,
        subject=row.subject,
        text=row.body_text,
        html=row.body_html,
        message_id=row.message_id,
        date=row.created_at,
    )


# --- delivery ---------------------------------------------------------------------------


def _lease(ctx: AppContext) -> timedelta:
    """How long a claim lasts: longer than any one send can take, short enough to recover."""
    timeout = float(getattr(ctx.settings, "smtp_timeout", 20.0) or 20.0)
    return timedelta(seconds=max(120.0, timeout * 6))


def _claim(ctx: AppContext, ids: list[int] | None, limit: int,
           now: datetime) -> tuple[list[int], datetime]:
    """Claim due rows: their ids and the `claimed_until` written (the claim's token)."""
    # A link email is only worth sending while its link can be paid: cancelling stops
    # resends, and retries end when the link is paid or expires. A reminder, the same, and
    # not once the agent marked the link "sin recordatorios" or after its `send_before`.
    payable_links = select(PaymentLink.id).where(
        PaymentLink.state == LinkState.ACTIVE.value,  # type: ignore[arg-type]
        PaymentLink.expires_at > now,  # type: ignore[arg-type,operator]
    )
    remindable_links = payable_links.where(PaymentLink.no_reminders == false())  # type: ignore[arg-type]
    due = (
        (EmailMessage.status.in_([EmailStatus.QUEUED.value, EmailStatus.FAILED.value]))  # type: ignore[attr-defined]
        & (EmailMessage.next_attempt_at <= now)  # type: ignore[operator]
        & or_(EmailMessage.claimed_until.is_(None), EmailMessage.claimed_until <= now)  # type: ignore[union-attr,operator]
        & _before_deadline(now)
        & or_(
            EmailMessage.kind.notin_([KIND_LINK, KIND_REMINDER]),  # type: ignore[attr-defined]
            EmailMessage.link_id.is_(None),  # type: ignore[union-attr]
            and_(EmailMessage.kind == KIND_LINK,  # type: ignore[arg-type]
                 EmailMessage.link_id.in_(payable_links)),  # type: ignore[union-attr]
            and_(EmailMessage.kind == KIND_REMINDER,  # type: ignore[arg-type]
                 EmailMessage.link_id.in_(remindable_links)),  # type: ignore[union-attr]
        )
    )
    with write_session(ctx.engine) as session:
        query = select(EmailMessage.id).where(due)
        if ids is not None:
            query = query.where(EmailMessage.id.in_(ids))  # type: ignore[union-attr]
        query = query.order_by(EmailMessage.next_attempt_at, EmailMessage.id).limit(limit)  # type: ignore[arg-type]
        if not is_sqlite(ctx.engine):
            # SQLite serialises writers (BEGIN IMMEDIATE); PostgreSQL locks the chosen rows
            # and lets a concurrent claimer skip them.
            query = query.with_for_update(skip_locked=True)
        claimed = [i for i in session.exec(query).all() if i is not None]
        until = now + _lease(ctx)
        if claimed:
            session.exec(  # type: ignore[call-overload]
                update(EmailMessage)
                .where(EmailMessage.id.in_(claimed))  # type: ignore[union-attr]
                .where(due)
                .values(claimed_until=until)
            )
    return claimed, until


def _before_deadline(now: datetime):  # type: ignore[no-untyped-def]
    """The message has no deadline, or it has not passed (a reminder: 22:00 of its day)."""
    return or_(EmailMessage.send_before.is_(None), EmailMessage.send_before > now)  # type: ignore[union-attr,operator]


def _renew(ctx: AppContext, email_id: int, token: datetime) -> datetime | None:
    """Extend one message's claim just before sending it, only if it is still ours (its
    `claimed_until` is the value we wrote), still unsent and before its deadline. The new
    token, or None."""
    table = EmailMessage.__table__  # type: ignore[attr-defined]
    now = utc(ctx.now())
    until = now + _lease(ctx)
    with write_session(ctx.engine) as session:
        renewed = session.connection().execute(
            update(table)
            .where(table.c.id == email_id, table.c.claimed_until == token,
                   table.c.status.in_([EmailStatus.QUEUED.value, EmailStatus.FAILED.value]),
                   _before_deadline(now))
            .values(claimed_until=until)
        ).rowcount
    if renewed != 1:
        log.warning("email %s: claim lost (lease expired, taken by another process) or past "
                    "its deadline; not sent by this one", email_id)
        return None
    return until


def _mark_sent(ctx: AppContext, sent: list[tuple[int, datetime]]) -> None:
    """Record several messages as sent in one short transaction: each (id, token) only
    while its claim is still the one this process renewed before sending it."""
    if not sent:
        return
    table = EmailMessage.__table__  # type: ignore[attr-defined]
    with write_session(ctx.engine) as session:
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("b_id"),
                   table.c.claimed_until == bindparam("b_token"))
            .values(status=EmailStatus.SENT.value, sent_at=utc(ctx.now()),
                    attempts=table.c.attempts + 1, last_error=None, claimed_until=None),
            [{"b_id": email_id, "b_token": token} for email_id, token in sent],
        )


def _mark_failed(ctx: AppContext, email_id: int, error: str, permanent: bool,
                 token: datetime) -> None:
    with write_session(ctx.engine) as session:
        row = session.exec(
            select(EmailMessage).where(EmailMessage.id == email_id).with_for_update()
        ).first()
        if row is None or row.status == EmailStatus.SENT.value:
            return
        if row.claimed_until is None or utc(row.claimed_until) != utc(token):
            log.warning("email %s: claim lost; failure not recorded by this process", email_id)
            return
        row.attempts += 1
        # A refused recipient will not be accepted in a few seconds: wait the longest.
        delay = timedelta(seconds=BACKOFF_MAX) if permanent else backoff_delay(row.attempts)
        row.status = EmailStatus.FAILED.value
        row.last_error = error
        row.next_attempt_at = utc(ctx.now()) + delay
        row.claimed_until = None
        session.add(row)


def deliver_due(ctx: AppContext, *, ids: list[int] | None = None, limit: int = 50) -> DeliveryReport:
    """Send the queued or failed messages that are due (only `ids` when given)."""
    report = DeliveryReport()
    claimed, token = _claim(ctx, ids, limit, utc(ctx.now()))
    if not claimed:
        return report
    table = EmailMessage.__table__  # type: ignore[attr-defined]
    with ctx.engine.connect() as conn:  # all claimed rows in one read
        rows = {row.id: row for row in conn.execute(select(table).where(table.c.id.in_(claimed)))}
    transport = ctx.get_mail_transport()
    # Outcomes are recorded a few at a time (one write transaction, not one per message):
    # a process killed meanwhile sends those few again, with the same Message-ID, when
    # their claim expires; a successful round records everything before returning.
    sent: list[tuple[int, datetime]] = []
    last_mark = time.monotonic()
    try:
        for email_id in claimed:
            row = rows.get(email_id)
            if row is None:
                continue
            mine = _renew(ctx, email_id, token)
            if mine is None:
                continue
            if _send_one(ctx, transport, row, report, mine):
                sent.append((email_id, mine))
            if time.monotonic() - last_mark >= MARK_SENT_EVERY:
                _mark_sent(ctx, sent)
                sent, last_mark = [], time.monotonic()
    finally:
        _mark_sent(ctx, sent)
    return report


def _send_one(ctx: AppContext, transport: Any, row: Any, report: DeliveryReport,
              token: datetime) -> bool:
    """Send one claimed row; a failure is recorded at once (and counted). True when sent."""
    email_id = row.id
    try:
        transport.send(mime_message(row))
    except MailError as exc:
        permanent = bool(getattr(exc, "permanent", not isinstance(exc, SendError)))
        log.warning("email %s to %s not sent: %s", email_id, row.to_addr, exc.message)
        _mark_failed(ctx, email_id, exc.message, permanent, token)
        report.failed += 1
        report.errors.append(f"Correo a {row.to_addr}: {exc.message}")
        return False
    except Exception as exc:  # a bug must not leave the row claimed for the whole lease
        log.exception("email %s: unexpected error while sending", email_id)
        message = f"Error inesperado al enviar el correo ({exc.__class__.__name__})."
        _mark_failed(ctx, email_id, message, False, token)
        report.failed += 1
        report.errors.append(f"Correo a {row.to_addr}: {message}")
        return False
    report.sent += 1
    return True


def resend(ctx: AppContext, email_id: int, *, to: str | None = None) -> EmailMessage:
    """Send a message again now and return its (new or same) outbox row, after the attempt.

    To another address, or when the original was already sent: a NEW row with the same
    content and a new Message-ID (a client would hide a second copy with the same id).
    Otherwise (still queued or failing): the same row is made due now.
    """
    now = utc(ctx.now())
    new_to = validate_address(to, "to") if to else None
    with write_session(ctx.engine) as session:
        original = session.get(EmailMessage, email_id)
        if original is None:
            raise MailError(f"No existe el correo número {email_id}.")
        if new_to is not None and new_to.casefold() == original.to_addr.casefold():
            new_to = None  # the same mailbox: not "another address"
        if new_to is None and original.status != EmailStatus.SENT.value:
            original.next_attempt_at = now
            session.add(original)
            target_id = original.id
        else:
            copy = queue_email(
                session,
                kind=original.kind,
                to=new_to or original.to_addr,
                from_addr=original.from_addr,
                from_name=original.from_name,
                reply_to=original.reply_to,
                rendered=RenderedEmail(
                    subject=original.subject, text=original.body_text, html=original.body_html
                ),
                now=now,
                link_id=original.link_id,
            )
            target_id = copy.id
    assert target_id is not None
    deliver_due(ctx, ids=[target_id], limit=1)
    with read_session(ctx.engine) as session:
        row = session.get(EmailMessage, target_id)
    assert row is not None
    return row
