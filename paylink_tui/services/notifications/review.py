""""Por revisar": the notifications kept for a person, and their resolution (applied to a
link by hand, or resolved with a note). Every resolution is audited with who did it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from paylink_tui.domain.errors import NeedsConfirmation
from paylink_tui.domain.labels import REVIEW_REASON
from paylink_tui.domain.money import format_money
from paylink_tui.domain.promotions import installment_months
from paylink_tui.domain.results import ROLE_SUPERVISOR, ReviewItem
from paylink_tui.domain.status import LinkState, NotificationStatus, ReviewReason
from paylink_tui.domain.validity import taken_before, taken_in_time
from paylink_tui.services import audit, events
from paylink_tui.services.access import require_role
from paylink_tui.services.context import AppContext
from paylink_tui.services.notifications.apply import (
    _attempt,
    _joined,
    _lock_link,
    _mark_paid,
    _newer_links,
    email_problem_note,
    time_difference,
)
from paylink_tui.services.notifications.common import Received, ReviewError, _deliver, _write
from paylink_tui.services.notifications.confirm import can_confirm
from paylink_tui.store.db import is_sqlite, read_session
from paylink_tui.store.models import Notification, PaymentAttempt, PaymentLink, Policy


def list_review(ctx: AppContext) -> list[ReviewItem]:
    """Notifications kept for review, oldest first (the review queue: a supervisor's)."""
    require_role(ctx, ROLE_SUPERVISOR)
    with read_session(ctx.engine) as session:
        rows = session.execute(
            select(Notification, PaymentLink.reference, PaymentAttempt.id, PaymentLink.currency)
            .outerjoin(PaymentLink, PaymentLink.id == Notification.link_id)
            .outerjoin(PaymentAttempt, PaymentAttempt.notification_id == Notification.id)
            .where(Notification.status == NotificationStatus.REVIEW.value)
            .order_by(Notification.received_at, Notification.id)
        ).all()
    items = []
    for n, link_ref, attempt_id, currency in rows:
        reason = n.review_reason
        label = REVIEW_REASON[ReviewReason(reason)] if reason else "Recibida, aún sin aplicar"
        items.append(ReviewItem(
            id=n.id, received_at=n.received_at, reference=n.reference, folio=n.folio,
            response=n.response, amount=n.amount, authorization=n.authorization,
            taken_at=n.taken_at, reason=reason, reason_label=label,
            applied=attempt_id is not None, link_reference=link_ref, note=n.note,
            currency=currency,
        ))
    return items


def _review_row(session: Session, ctx: AppContext, notification_id: int) -> Notification:
    stmt = select(Notification).where(Notification.id == notification_id)
    if not is_sqlite(ctx.engine):
        stmt = stmt.with_for_update()
    n = session.execute(stmt).scalars().first()
    if n is None:
        raise ReviewError(f"No existe la notificación {notification_id}.")
    if n.status != NotificationStatus.REVIEW.value:
        raise ReviewError(f"La notificación {notification_id} no está por revisar (ya se resolvió).")
    return n


def differences(ctx: AppContext, n: Any, link: Any) -> list[str]:
    """What a person must accept before an approval is applied to `link` by hand."""
    found = []
    if n.amount is None:
        found.append(f"MIT no informó cuánto cobró; la liga es por "
                     f"{format_money(link.amount, link.currency)} y se registrará ese monto.")
    elif n.amount != link.amount:
        charged = format_money(n.amount, link.currency)
        found.append(f"MIT cobró {charged} y la liga es por "
                     f"{format_money(link.amount, link.currency)}: se registrará y se le "
                     f"confirmará al cliente lo que MIT cobró, {charged}.")
    if n.taken_at is None:
        found.append("La notificación no dice cuándo tomó MIT el pago.")
    elif taken_before(n.taken_at, link.created_at) or not taken_in_time(n.taken_at,
                                                                        link.expires_at):
        found.append(time_difference(ctx, n, link))
    if n.confirmed_at is None and can_confirm(ctx):
        found.append("MIT no ha confirmado este pago en su consulta de transacciones: "
                     "verifíquelo en el portal de MIT antes de aplicarlo.")
    return found


def apply_review(ctx: AppContext, notification_id: int, *, reference: str, agent: str,
                 accept_differences: bool = False) -> Received:
    """A person checked it: apply the notification to the link `reference` (audited).

    An approval whose amount or time does not fit the link, or that MIT never confirmed,
    raises NeedsConfirmation unless `accept_differences` (what the person saw is audited);
    the amount recorded and confirmed to the client is the one MIT charged."""
    require_role(ctx, ROLE_SUPERVISOR)
    now = ctx.now()
    email_ids: list[int] = []
    problem: str | None = None
    with _write(ctx) as session:
        n = _review_row(session, ctx, notification_id)
        already = session.execute(
            select(PaymentAttempt.id).where(PaymentAttempt.notification_id == n.id)
        ).first()
        if already is not None:
            raise ReviewError(
                f"La notificación {notification_id} ya se aplicó a su liga; si ya la revisó, "
                "márquela como resuelta con una nota."
            )
        link = _lock_link(session, ctx, reference.strip())
        if link is None:
            raise ReviewError(f"No existe una liga con la referencia {reference}.")
        accepted: list[str] = []
        if n.response == "approved":
            if link.state == LinkState.PAID.value:
                raise ReviewError(
                    f"La liga {link.reference} ya está pagada (folio {link.folio}); no se puede "
                    "aplicar otro pago. Márquela como resuelta con una nota."
                )
            if not n.folio or not n.authorization:
                raise ReviewError(
                    "La notificación no trae folio o autorización de MIT; no se puede aplicar "
                    "como pago. Márquela como resuelta con una nota."
                )
            accepted = differences(ctx, n, link)
            if accepted and not accept_differences:
                raise NeedsConfirmation(notification_id, link.reference, accepted)
            newer = _newer_links(session, ctx, link, now)
            email_ids, problem = _mark_paid(session, ctx, n, link, now)
        else:
            newer = []
            _attempt(session, ctx, n, link, now)
        n.link_id = link.id
        session.add(n)
        detail = f"aplicada a la liga {link.reference}"
        if accepted:
            detail += "; aceptó: " + " ".join(accepted)
        audit.record(session, at=now, agent=agent, action="review_applied",
                     subject=f"notificación {n.id}", detail=detail[:2000])
        if newer:
            # As when such a payment is applied on arrival (_decide): the receipts are paid
            # now, and a newer link for them can still be paid at MIT. It stays for review,
            # and that newer link stays flagged, until someone resolves it with a note.
            refs = ", ".join(newer)
            for other in newer:
                audit.record(session, at=now, agent=agent, action="link_flagged",
                             subject=f"liga {other}",
                             detail=f"los recibos se pagaron con la liga anterior {link.reference}")
            n.review_reason = ReviewReason.NEWER_LINK.value
            n.note = (f"Aplicada a la liga {link.reference} tras revisión; sus recibos ya tenían "
                      f"la liga más reciente {refs}, que sigue pudiéndose pagar en MIT: revísela.")
        else:
            n.status = NotificationStatus.RESOLVED.value
            n.resolved_by = agent
            n.resolved_at = now
            n.note = f"Aplicada a la liga {link.reference} tras revisión."
        n.note = _joined(n.note, email_problem_note(problem))
        policy_number = session.scalar(select(Policy.number).where(Policy.id == link.policy_id))
        tell = {"at": now, "link_id": link.id, "reference": link.reference,
                "policy_number": policy_number, "agent": link.agent}
        if n.response == "approved":
            events.record(session, kind=events.PAYMENT_APPROVED, **tell, data={
                "authorization": n.authorization, "amount": n.amount, "folio": n.folio,
                "installment_months": installment_months(n.promotion),
                "email_problem": problem})
        events.record(session, kind=events.REVIEW_RESOLVED, **tell,
                      data={"notification_id": n.id, "by": agent})
    _deliver(ctx, tuple(email_ids))
    return Received(notification_id, n.status, n.review_reason, False, tuple(email_ids),
                    email_problem=problem)


def applied_message(notification_id: int, reference: str, status: str,
                    email_problem: str | None = None) -> str:
    """What the agent is told once `apply_review` has run (screen and command line alike)."""
    done = f"Notificación {notification_id} aplicada a la liga {reference.strip()}."
    if status == NotificationStatus.REVIEW.value:
        done += (" Sigue por revisar: los recibos tienen una liga más reciente que "
                 "el cliente aún puede pagar en MIT (vea la nota).")
    if email_problem:
        done += (f" El correo de confirmación al cliente no se pudo enviar: {email_problem} "
                 "Avísele por otro medio.")
    return done


def dismiss_review(ctx: AppContext, notification_id: int, *, note: str, agent: str) -> None:
    """Resolved without (further) applying it, with the reviewer's note (audited)."""
    require_role(ctx, ROLE_SUPERVISOR)
    note = (note or "").strip()
    if not note:
        raise ReviewError("Escriba una nota que explique por qué se resuelve sin aplicar.")
    now = ctx.now()
    with _write(ctx) as session:
        n = _review_row(session, ctx, notification_id)
        n.status = NotificationStatus.RESOLVED.value
        n.note = note[:2000]
        n.resolved_by = agent
        n.resolved_at = now
        session.add(n)
        audit.record(session, at=now, agent=agent, action="review_dismissed",
                     subject=f"notificación {n.id}", detail=note[:500])
        events.record(session, at=now, kind=events.REVIEW_RESOLVED, link_id=n.link_id,
                      reference=n.reference, data={"notification_id": n.id, "by": agent})
