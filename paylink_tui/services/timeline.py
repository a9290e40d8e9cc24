"""A link's history: what happened to it, oldest first, for its detail screen.

Built from facts that are only ever appended: the audit trail (services/audit.py; the
address a link was generated for, every resend and the address it went to, every send that
failed), the outbox rows, MIT's notifications. A resend to a corrected address changes where
the link goes next (`PaymentLink.email`), never what its history says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from paylink_tui.domain.promotions import installment_months, months_text
from paylink_tui.domain.results import TimelineEvent
from paylink_tui.store.models import AuditEvent, PaymentLink

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.domain.results import EmailRow, LinkRow, NotificationRow

_EMAIL_KIND = {"link": "Correo de la liga", "reminder": "Recordatorio",
               "confirmation": "Correo de confirmación"}


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    agent: str
    action: str
    detail: str | None


# What the audit trail adds to a link's history (services/links.py writes them).
_TRAIL_ACTIONS = ("link_generated", "link_email_resent", "link_email_failed")
# Those events happen between the claim and a little after the link expires (resends stop
# then): the bound lets the query use the index on `at` instead of reading the whole trail.
_TRAIL_AFTER_EXPIRY = timedelta(days=1)
_GENERATED_FOR = re.compile(r" a ([^\s;]+); recibos ")


def audit_trail(session, link: PaymentLink) -> list[AuditRow]:  # type: ignore[no-untyped-def]
    au = AuditEvent.__table__.c
    return [
        AuditRow(at, agent, action, detail)
        for at, agent, action, detail in session.execute(
            select(au.at, au.agent, au.action, au.detail)
            .where(au.subject == link.reference, au.action.in_(_TRAIL_ACTIONS),
                   au.at >= link.created_at, au.at <= link.expires_at + _TRAIL_AFTER_EXPIRY)
            .order_by(au.at, au.id)
        )
    ]


def generated_address(trail: list[AuditRow], emails: list[EmailRow], current: str) -> str:
    """The address in the link_generated entry (link_call._activate writes "… a ADDRESS; recibos
    …"); for a link older than that entry, its first link email's, else where it goes now."""
    for event in trail:
        if event.action == "link_generated":
            found = _GENERATED_FOR.search(event.detail or "")
            if found:
                return found.group(1)
    first = next((m for m in emails if m.kind == "link"), None)
    return first.to if first is not None else current


def build_timeline(link: LinkRow, emails: list[EmailRow], notes: list[NotificationRow],
                   trail: list[AuditRow] | None = None,
                   generated_for: str | None = None) -> list[TimelineEvent]:
    """What happened to the link, oldest first. Only appended facts: the address it was
    generated for, each resend (with the address it went to), each send that failed."""
    from paylink_tui.domain import labels
    from paylink_tui.domain.money import format_money
    from paylink_tui.domain.status import AttemptResult, EmailStatus

    events = [TimelineEvent(
        link.created_at, f"Liga generada por {link.agent} para {generated_for or link.email}")]
    for event in trail or ():
        if event.action == "link_email_resent":
            where = f", {event.detail}" if event.detail else ""
            events.append(TimelineEvent(
                event.at, f"Reenvío del correo de la liga, por {event.agent}{where}"))
        elif event.action == "link_email_failed":
            events.append(TimelineEvent(
                event.at, f"No se pudo enviar el correo de la liga {event.detail or ''}".rstrip()))
    for m in emails:
        what = _EMAIL_KIND.get(m.kind, "Correo")
        events.append(TimelineEvent(m.created_at, f"{what} en cola para {m.to}"))
        if m.sent_at:
            events.append(TimelineEvent(m.sent_at, f"{what} enviado a {m.to}"))
        elif m.status == EmailStatus.FAILED.value:
            why = f": {m.last_error}" if m.last_error else ""
            events.append(TimelineEvent(
                m.created_at,
                f"{what} a {m.to}: {labels.EMAIL[EmailStatus.FAILED]} ({m.attempts} intentos){why}"))
    for x in notes:
        result = labels.ATTEMPT.get(AttemptResult(x.response), x.response or "?") \
            if x.response in {r.value for r in AttemptResult} else (x.response or "?")
        amount = format_money(x.amount, link.currency) if x.amount is not None else "sin monto"
        text = f"Notificación de MIT: {result}, {amount}, folio {x.folio or '—'}"
        months = installment_months(x.promotion)
        if months:
            text += f", {months_text(months)}"
        if x.authorization:
            text += f", autorización {x.authorization}"
        text += f" — {labels.notification_label(x.status, x.response)}"
        if x.review_reason:
            from paylink_tui.domain.status import ReviewReason

            text += f": {labels.REVIEW_REASON[ReviewReason(x.review_reason)]}"
        events.append(TimelineEvent(x.received_at, text))
    if link.cancelled_at:
        events.append(TimelineEvent(
            link.cancelled_at, "Liga cancelada (MIT aún puede cobrarla hasta su vigencia)"))
    for flag in link.flags:
        why = "sus recibos se pagaron con" if flag.applied else "hay un pago por revisar de"
        events.append(TimelineEvent(
            flag.received_at, f"Marcada para revisión: {why} la liga anterior {flag.older_reference}"))
    events.sort(key=lambda ev: ev.at)
    return events
