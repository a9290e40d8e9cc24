"""Reminder emails for links still unpaid (the rules: domain/reminders.py).

`send_due(ctx)` runs at least every minute in `serve` (web/reminders.py) and, in the one-agent
mode, in the open TUI's outbox round (backend/local.py): it finds the links whose reminder is
due now and, for each, in one transaction,
1. locks the link (and its receipts, in the claim's order) and checks again that it is active,
   not expired, not marked "sin recordatorios", that its link email was delivered, that none
   of its receipts was paid some other way and no payment of theirs waits for review (a
   client who paid must not be asked again);
2. inserts the `reminder` row for (link, local day): unique, so two `serve` workers, two
   processes or the TUI beside `serve` never make a second one the same day;
3. queues the reminder email in the outbox, due now, not sent after 22:00 local of that day
   (`send_before`), from the link's sender to the link's address.
Then the outbox delivers it: an SMTP failure is retried with the outbox's backoff until that
deadline, never sent twice (the outbox's claims), never for a link paid, cancelled or marked
meanwhile (the outbox's claim checks that too).

`set_reminders` is the agent's "sin recordatorios" switch; `reminders_for` reads them back
for the link's detail and `history --format json` (`reminders`): the proof of contact.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, false, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from paylink_tui.domain.dates import local_date, utc
from paylink_tui.domain.errors import LinkStateError
from paylink_tui.domain.reminders import in_contact_hours, reminder_last_valid_days, send_before
from paylink_tui.domain.results import ReminderRow
from paylink_tui.domain.status import EmailStatus, LinkState, NotificationStatus, ReminderStatus
from paylink_tui.mail.errors import MailError
from paylink_tui.services import audit, events
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import read_session, write_session
from paylink_tui.store.models import EmailMessage, Notification, PaymentLink, Reminder

log = logging.getLogger(__name__)

ROUND_LIMIT = 500  # links looked at per round; the next round (a minute later) takes the rest


def send_due(ctx: AppContext) -> list[int]:
    """Queue every reminder due now and deliver them; the outbox ids queued."""
    from paylink_tui.services import outbox

    ids = queue_due(ctx)
    if ids:
        outbox.deliver_due(ctx, ids=ids, limit=len(ids))
    return ids


def queue_due(ctx: AppContext) -> list[int]:
    """Queue the reminders due now (none outside the contact hours); the outbox ids."""
    settings = ctx.settings
    offsets = settings.reminder_offsets
    now = utc(ctx.now())
    if not offsets or not in_contact_hours(now, ctx.tz, settings.reminder_hour):
        return []
    today = local_date(now, ctx.tz)
    queued: list[int] = []
    for link_id in _candidates(ctx, today, reminder_last_valid_days(today, offsets), now):
        try:
            email_id = _queue_one(ctx, link_id, today, now)
        except IntegrityError:  # another worker's reminder for today committed first
            continue
        except MailError as exc:  # an operator's broken template: the link stays as it is
            log.warning("link %s: reminder not queued: %s", link_id, exc.message)
            continue
        if email_id is not None:
            queued.append(email_id)
    return queued


def _delivered_link_email(link_id):  # type: ignore[no-untyped-def]
    return exists().where(EmailMessage.link_id == link_id,  # type: ignore[arg-type]
                          EmailMessage.kind == "link",  # type: ignore[arg-type]
                          EmailMessage.status == EmailStatus.SENT.value)  # type: ignore[arg-type]


def _payment_waiting(reference: Any) -> Any:
    """An approval for the link waits for MIT's confirmation: the client has paid, and a
    reminder to pay would be wrong (services/notifications/confirm.py)."""
    n = Notification.__table__.c  # type: ignore[attr-defined]
    return exists().where(n.reference == reference,
                          n.status == NotificationStatus.CONFIRMING.value)


def _candidates(ctx: AppContext, today: date, last_days: list[date], now: datetime) -> list[int]:
    lk = PaymentLink.__table__.c  # type: ignore[attr-defined]
    rm = Reminder.__table__.c  # type: ignore[attr-defined]
    with read_session(ctx.engine) as session:
        return list(session.scalars(
            select(lk.id)
            .where(lk.state == LinkState.ACTIVE.value, lk.expires_at > now,
                   lk.no_reminders == false(), lk.url.is_not(None),
                   lk.last_valid_day.in_(last_days),
                   _delivered_link_email(lk.id), ~_payment_waiting(lk.reference),
                   ~exists().where(rm.link_id == lk.id, rm.day == today))
            .order_by(lk.id).limit(ROUND_LIMIT)
        ))


def _queue_one(ctx: AppContext, link_id: int, today: date, now: datetime) -> int | None:
    """One link's reminder for `today`, checked again under its locks; the outbox id, or
    None when it is not due after all (paid, cancelled, marked, already reminded...)."""
    from paylink_tui.services import links, outbox

    with write_session(ctx.engine) as session:
        reference = session.scalar(select(PaymentLink.reference).where(PaymentLink.id == link_id))  # type: ignore[arg-type]
        if reference is None:
            return None
        link, receipts = links.lock_link(session, reference)
        if (link.state != LinkState.ACTIVE.value or utc(link.expires_at) <= now
                or link.no_reminders or not link.url):
            return None
        if session.scalar(select(_delivered_link_email(link.id))) is not True:
            return None
        if session.scalar(select(_payment_waiting(link.reference))):
            return None  # the client paid; MIT is being asked to confirm it
        if session.scalar(select(Reminder.id).where(Reminder.link_id == link.id,  # type: ignore[arg-type]
                                                    Reminder.day == today)) is not None:  # type: ignore[arg-type]
            return None
        try:
            links.refuse_a_second_charge(session, link, receipts)
        except LinkStateError as exc:
            log.info("link %s: no reminder: %s", link.reference, exc.message)
            return None
        message = outbox.queue_reminder_email(
            session, ctx, link, now, today=today,
            send_before=send_before(today, ctx.tz, link.expires_at))
        session.add(Reminder(link_id=link.id, day=today, to_addr=link.email,
                             email_id=message.id, created_at=now))
        session.flush()
        audit.record(session, at=now, agent="paylink-tui", action="link_reminder_queued",
                     subject=link.reference, detail=f"a {link.email}")
        events.record(session, at=now, kind=events.LINK_CHANGED, link_id=link.id,
                      reference=link.reference,
                      policy_number=receipts[0].policy_number if receipts else None,
                      agent=link.agent, data={"change": "reminder", "by": "paylink-tui"})
        return message.id


def set_reminders(ctx: AppContext, reference: str, *, enabled: bool,
                  agent: str | None = None) -> None:
    """Mark a link "sin recordatorios" (`enabled=False`) or let it have them again. A
    reminder already queued is not sent once the link is marked."""
    from paylink_tui.services import links

    agent = agent or ctx.agent
    now = ctx.now()
    with write_session(ctx.engine) as session:
        link, receipts = links.lock_link(session, reference, ctx)  # in the portfolio
        closed = {LinkState.PAID.value: "ya está pagada",
                  LinkState.CANCELLED.value: "ya está cancelada"}.get(link.state)
        if closed is None and utc(now) >= utc(link.expires_at):
            closed = "ya venció"
        if closed is not None:
            raise LinkStateError(f"La liga {link.reference} {closed}: ya no recibe recordatorios.")
        if link.no_reminders == (not enabled):
            return
        link.no_reminders = not enabled
        link.updated_at = now
        session.add(link)
        change = "reminders_on" if enabled else "reminders_off"
        audit.record(session, at=now, agent=agent, action=f"link_{change}", subject=link.reference,
                     detail="con recordatorios" if enabled else "sin recordatorios")
        events.record(session, at=now, kind=events.LINK_CHANGED, link_id=link.id,
                      reference=link.reference,
                      policy_number=receipts[0].policy_number if receipts else None,
                      agent=link.agent, data={"change": change, "by": agent})


def reminders_for(session: Session, links: Sequence[PaymentLink],
                  now: datetime) -> dict[int, list[ReminderRow]]:
    """Each link's reminders, oldest first, with what became of each."""
    ids = [lk.id for lk in links if lk.id is not None]
    if not ids:
        return {}
    open_links = {lk.id for lk in links
                  if lk.state == LinkState.ACTIVE.value and utc(now) < utc(lk.expires_at)
                  and not lk.no_reminders}
    rm = Reminder.__table__  # type: ignore[attr-defined]
    em = EmailMessage.__table__  # type: ignore[attr-defined]
    out: dict[int, list[ReminderRow]] = defaultdict(list)
    for row in session.execute(
        select(rm.c.link_id, rm.c.day, rm.c.to_addr, rm.c.created_at, em.c.status, em.c.sent_at,
               em.c.last_error, em.c.send_before)
        .select_from(rm.outerjoin(em, em.c.id == rm.c.email_id))
        .where(rm.c.link_id.in_(ids)).order_by(rm.c.link_id, rm.c.day, rm.c.id)
    ):
        out[row.link_id].append(ReminderRow(
            day=row.day, to=row.to_addr,
            status=_status(row.status, row.send_before, row.link_id in open_links, now).value,
            sent_at=row.sent_at, queued_at=row.created_at, error=row.last_error))
    return out


def _status(email_status: str | None, deadline: datetime | None, link_open: bool,
            now: datetime) -> ReminderStatus:
    if email_status == EmailStatus.SENT.value:
        return ReminderStatus.SENT
    if (email_status is None or not link_open
            or (deadline is not None and utc(now) >= utc(deadline))):
        return ReminderStatus.NOT_SENT  # its day ended, or the link closed, first
    if email_status == EmailStatus.FAILED.value:
        return ReminderStatus.FAILED
    return ReminderStatus.QUEUED
