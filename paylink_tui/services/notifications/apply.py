"""Step 2, APPLY a stored notification: decide what it means for its link and write the
effects (link and receipts paid, the payment attempt, the confirmation queued, the audit
trail), or keep it for review with a `ReviewReason`. Nothing is applied silently.
"""

from __future__ import annotations

import logging
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session

from paylink_tui.domain.dates import local_datetime_text, long_date
from paylink_tui.domain.labels import REVIEW_REASON
from paylink_tui.domain.money import format_money
from paylink_tui.domain.promotions import installment_months
from paylink_tui.domain.status import (
    AttemptResult,
    LinkState,
    NotificationStatus,
    ReviewReason,
)
from paylink_tui.domain.text import full_name
from paylink_tui.domain.validity import taken_before, taken_in_time
from paylink_tui.gateway.mit_query import same_operation
from paylink_tui.services import events
from paylink_tui.services.context import AppContext
from paylink_tui.services.notifications.common import (
    MIT_AGENT,
    RESPONSES,
    _audit,
    _conn,
    _later,
    _sql,
    _tell_later,
    _write,
)
from paylink_tui.services.notifications.email import queue_confirmation
from paylink_tui.store.models import Notification

log = logging.getLogger(__name__)


def _missing_fields(n: Notification) -> list[str]:
    missing = []
    if not n.reference:
        missing.append("reference")
    if n.response not in RESPONSES:
        missing.append("response")
    if n.response == "approved":
        # A denial or an error is recorded in the link's history without MIT's folio (an
        # error notification may have none); a payment is never applied without it.
        if not n.folio:
            missing.append("foliocpagos")
        if n.amount is None:
            missing.append("amount")
        if not n.authorization:
            missing.append("auth")
        if n.taken_at is None:
            missing.append("date/time")
    return missing


def _lock_link(session: Session, ctx: AppContext, reference: str | None) -> Any:
    """The link (a plain record of its columns), locked for this transaction, or None."""
    row = _conn(session).execute(_sql(ctx).link, {"ref": reference}).mappings().first()
    return SimpleNamespace(**row) if row is not None else None


def _newer_links(session: Session, ctx: AppContext, link: Any, now: datetime) -> list[str]:
    """References of links created after `link` for any of its receipts that can still be
    paid at MIT (live, or cancelled but not yet expired)."""
    params = {"lid": link.id, "created": link.created_at, "now": now}
    return list(_conn(session).execute(_sql(ctx).newer, params).scalars())


def _attempt(session: Session, ctx: AppContext, n: Any, link: Any, now: datetime) -> None:
    result = n.response if n.response in RESPONSES else AttemptResult.ERROR.value
    _later(session, _sql(ctx).attempt, {
        "link_id": link.id, "notification_id": n.id, "result": result,
        "cd_response": None, "cd_error": n.cd_error, "nb_error": n.nb_error,
        "authorization": n.authorization, "taken_at": n.taken_at, "created_at": now,
    })


def _mark_paid(session: Session, ctx: AppContext, n: Any, link: Any,
               now: datetime) -> tuple[list[int], str | None]:
    """The link and its receipts paid (recording what MIT charged), the attempt recorded,
    the confirmation queued: (emails to deliver, why the confirmation could not be queued).
    The email never holds the payment back (notifications/email.py)."""

    paid = {
        "state": LinkState.PAID.value,
        "authorization": n.authorization,
        "folio": n.folio,
        "paid_at": n.taken_at or now,
        "paid_amount": n.amount if n.amount is not None else link.amount,
        "card_type": n.card_type,
        "card_mask": n.card_mask,
        "installment_months": installment_months(getattr(n, "promotion", None)),
        "updated_at": now,
    }
    sql = _sql(ctx)
    conn = _conn(session)
    conn.execute(sql.pay_link, {"lid": link.id, **paid})
    for name, value in paid.items():  # the confirmation is rendered from the paid link
        setattr(link, name, value)
    conn.execute(sql.pay_receipts, {"lid": link.id, "now": now})
    _attempt(session, ctx, n, link, now)
    holder = None  # read with the link; without policy or client, the outbox says why
    if getattr(link, "holder_first", None) is not None:
        holder = (link.policy_number,
                  full_name(link.holder_first, link.holder_last, link.holder_second))
    if ctx.settings.mit_notify_payer:
        return [], None  # MIT sends the client its own confirmation: we don't send a second
    email_id, problem = queue_confirmation(session, ctx, link, now, holder=holder)
    if problem is not None:
        log.warning("payment %s applied to link %s; its confirmation email was NOT queued: %s",
                    n.folio, link.reference, problem)
        _audit(session, ctx, at=now, agent=MIT_AGENT, action="confirmation_failed",
               subject=f"liga {link.reference}", detail=problem[:500])
    return ([email_id] if email_id is not None else []), problem


def email_problem_note(problem: str | None) -> str | None:
    """What the notification's note says when the confirmation could not be sent."""
    if problem is None:
        return None
    return (f"El correo de confirmación al cliente no se pudo enviar: {problem} El pago sí "
            "quedó aplicado; avísele por otro medio.")


def _joined(*notes: str | None) -> str | None:
    text = " ".join(n for n in notes if n)
    return text or None


def _decide(session: Session, ctx: AppContext, n: Notification,
            now: datetime) -> tuple[str, str | None, list[int], str | None]:
    """(status, reason, email ids, note) for a stored notification; writes the effects."""
    missing = _missing_fields(n)
    if missing:
        return _review(ReviewReason.MISSING_FIELDS, "Faltan: " + ", ".join(missing))
    link = _lock_link(session, ctx, n.reference)
    if link is None:
        return _review(ReviewReason.UNKNOWN_REFERENCE)
    n.link_id = link.id
    n.event_link = link  # for the events `_tell` writes
    if n.response != "approved":
        # The client may retry with another card: the link stays as it is.
        _attempt(session, ctx, n, link, now)
        return NotificationStatus.APPLIED.value, None, [], None
    if link.state == LinkState.PAID.value and same_operation(link.folio, n.folio):
        # The payment already applied, told again (its folio written with leading zeros, as
        # MIT's query lists it): nothing changes.
        return (NotificationStatus.APPLIED.value, None, [],
                f"Es el mismo pago ya aplicado a la liga (folio {link.folio}); no cambió nada.")
    if link.state == LinkState.PAID.value:
        log.warning(
            "SECOND APPROVAL for link %s: folio %s after folio %s (possible double charge)",
            link.reference, n.folio, link.folio,
        )
        return _review(
            ReviewReason.SECOND_APPROVAL,
            f"La liga ya estaba pagada con el folio {link.folio} (autorización "
            f"{link.authorization}). Posible doble cargo al cliente.",
        )
    paid = list(_conn(session).execute(_sql(ctx).paid_receipts, {"lid": link.id}).scalars())
    if paid:
        # Checked before the amount: a second charge is the louder finding.
        log.warning(
            "SECOND APPROVAL for link %s: folio %s, its receipts %s were already paid "
            "through another link (possible double charge)",
            link.reference, n.folio, ", ".join(paid),
        )
        return _review(
            ReviewReason.SECOND_APPROVAL,
            f"Los recibos {', '.join(paid)} ya estaban pagados con otra liga. "
            "Posible doble cargo al cliente.",
        )
    if n.amount != link.amount:
        return _review(
            ReviewReason.AMOUNT_MISMATCH,
            f"MIT cobró {format_money(n.amount, link.currency)}; la liga es por "  # type: ignore[arg-type]
            f"{format_money(link.amount, link.currency)}.",
        )
    assert n.taken_at is not None  # noqa: S101 - checked by _missing_fields
    if taken_before(n.taken_at, link.created_at):
        return _review(ReviewReason.TAKEN_BEFORE_LINK, time_difference(ctx, n, link))
    if not taken_in_time(n.taken_at, link.expires_at):
        return _review(ReviewReason.LATE_PAYMENT)
    cancelled = link.state == LinkState.CANCELLED.value
    newer = _newer_links(session, ctx, link, now) if link.has_newer else []
    email_ids, problem = _mark_paid(session, ctx, n, link, now)
    n.email_problem = problem  # told with the payment (`_tell`)
    mail_note = email_problem_note(problem)
    refs = ", ".join(newer)
    if newer:  # flagged whether or not this link was cancelled
        log.warning("payment %s applied to link %s, whose receipts have a newer link %s",
                    n.folio, link.reference, refs)
        for other in newer:
            _audit(session, ctx, at=now, agent=MIT_AGENT, action="link_flagged",
                   subject=f"liga {other}",
                   detail=f"los recibos se pagaron con la liga anterior {link.reference}")
    if cancelled:
        log.warning("payment %s applied to cancelled link %s: flagged", n.folio, link.reference)
        note = "La liga había sido cancelada por nosotros; el pago se aplicó."
        if newer:
            note += f" Sus recibos ya tenían la liga más reciente {refs}: revísela."
        return (NotificationStatus.REVIEW.value, ReviewReason.CANCELLED_LINK.value, email_ids,
                _joined(note, mail_note))
    if newer:
        return (NotificationStatus.REVIEW.value, ReviewReason.NEWER_LINK.value, email_ids,
                _joined(f"Pago aplicado a la liga {link.reference}; sus recibos ya tenían la "
                        f"liga más reciente {refs}, que sigue pudiéndose pagar en MIT: "
                        "revísela.", mail_note))
    return NotificationStatus.APPLIED.value, None, email_ids, mail_note


def time_difference(ctx: AppContext, n: Any, link: Any) -> str:
    """The payment's time against the link's life, in the agent's words."""
    taken = local_datetime_text(n.taken_at, ctx.tz)
    if taken_before(n.taken_at, link.created_at):
        return (f"MIT tomó el pago el {taken}, antes de que existiera la liga (creada el "
                f"{local_datetime_text(link.created_at, ctx.tz)}).")
    return (f"MIT tomó el pago el {taken}, después de que la liga venciera (vigente hasta "
            f"el {long_date(link.last_valid_day)}).")


def _review(reason: ReviewReason, note: str | None = None
            ) -> tuple[str, str | None, list[int], str | None]:
    return NotificationStatus.REVIEW.value, reason.value, [], note


def _is_pending_apply(n: Any) -> bool:
    return n.status == NotificationStatus.REVIEW.value and n.review_reason is None


def _apply_in(session: Session, ctx: AppContext, notification_id: int, now: datetime,
              n: Any = None) -> tuple[str, str | None, tuple[int, ...]]:
    """Apply a stored notification. `n`: its values when this transaction just inserted it
    (no need to read it back); otherwise it is read (and locked on PostgreSQL)."""
    conn = _conn(session)
    sql = _sql(ctx)
    if n is None:
        # A detached copy: _decide reads and annotates it; the row is written once, below.
        n = SimpleNamespace(**conn.execute(sql.notification, {"nid": notification_id})
                            .mappings().one())
    if not _is_pending_apply(n):  # applied already (by us earlier or by another worker)
        return n.status, n.review_reason, ()
    status, reason, email_ids, note = _decide(session, ctx, n, now)
    conn.execute(sql.settle, {"nid": notification_id, "status": status,
                              "review_reason": reason, "note": note, "link_id": n.link_id})
    action = "payment_applied" if status == NotificationStatus.APPLIED.value else "payment_review"
    detail = f"folio {n.folio}, {n.response}"
    if reason:
        detail += f", {REVIEW_REASON[ReviewReason(reason)]}"
    _audit(session, ctx, at=now, agent=MIT_AGENT, action=action,
           subject=f"notificación {n.id} ref {n.reference}", detail=detail)
    _tell(session, ctx, n, getattr(n, "event_link", None), status, reason, now)
    return status, reason, tuple(email_ids)


_APPLIED_WITH_REVIEW = (ReviewReason.NEWER_LINK.value, ReviewReason.CANCELLED_LINK.value)


def _tell(session: Session, ctx: AppContext, n: Any, link: Any, status: str, reason: str | None,
          now: datetime) -> None:
    """The events the agents hear about this notification (services/events.py)."""
    base = {"at": now, "link_id": getattr(link, "id", None),
            "reference": getattr(link, "reference", None) or n.reference,
            "policy_number": getattr(link, "policy_number", None),
            "agent": getattr(link, "agent", None)}
    applied = status == NotificationStatus.APPLIED.value or reason in _APPLIED_WITH_REVIEW
    if n.response == "approved" and applied:
        _tell_later(session, events.row(kind=events.PAYMENT_APPROVED, **base, data={
            "authorization": n.authorization, "amount": n.amount, "folio": n.folio,
            "installment_months": installment_months(getattr(n, "promotion", None)),
            "email_problem": getattr(n, "email_problem", None)}))
    elif n.response in ("denied", "error") and link is not None:
        kind = events.PAYMENT_DENIED if n.response == "denied" else events.PAYMENT_ERROR
        _tell_later(session, events.row(kind=kind, **base, data={
            "cd_error": n.cd_error, "nb_error": n.nb_error, "folio": n.folio}))
    if status == NotificationStatus.REVIEW.value and reason is not None:
        _tell_later(session, events.row(kind=events.REVIEW_ADDED, **base, data={
            "reason": reason, "notification_id": n.id, "response": n.response}))


def _apply(ctx: AppContext, notification_id: int) -> tuple[str, str | None, tuple[int, ...]]:
    with _write(ctx) as session:
        return _apply_in(session, ctx, notification_id, ctx.now())
