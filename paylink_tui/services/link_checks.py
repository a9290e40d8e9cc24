"""Checks, locks and words that the link use cases, the claim and the call share.

Split out of services/links.py (whose docstring tells the three steps of a link): what is
asked of a link before anything is claimed or changed (the gateway can be used, a stale
claim, a state that may be retried, never a second charge), the locks on a link and its
receipts (always receipts first, by id, then the link: the claim's order, so no deadlock),
and the Spanish words of the errors. It imports nothing of the other link modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from paylink_tui.domain.dates import long_date, utc
from paylink_tui.domain.errors import (
    GatewayFailure,
    GatewayNotConfiguredError,
    LinkNotFound,
    LinkStateError,
)
from paylink_tui.domain.status import LinkState, NotificationStatus, ReceiptStatus
from paylink_tui.gateway.base import PaymentGateway
from paylink_tui.gateway.errors import GatewayError, GatewayNotConfigured
from paylink_tui.services.access import link_scope, scoped
from paylink_tui.services.context import AppContext
from paylink_tui.store.models import LinkReceipt, Notification, PaymentLink, Receipt

MIN_STALE = timedelta(minutes=2)


# -- checks ----------------------------------------------------------------------------------


def _clean_numbers(numbers: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for n in numbers:
        n = (n or "").strip()
        if n:
            seen.setdefault(n, None)
    return tuple(seen)


def _gateway(ctx: AppContext) -> PaymentGateway:
    """The gateway is checked before anything is claimed."""
    try:
        return ctx.get_gateway()
    except GatewayNotConfigured as exc:
        raise GatewayNotConfiguredError(exc.missing) from None
    except GatewayError as exc:  # a setting present but unusable
        raise _failure(exc) from None


def _failure(error: GatewayError, *, still_unconfirmed: str | None = None) -> GatewayFailure:
    return GatewayFailure(error.message, retryable=error.retryable,
                          still_unconfirmed=still_unconfirmed)


def stale_after(ctx: AppContext) -> timedelta:
    """How old a 'creating' claim must be before its process is taken for dead."""
    return max(MIN_STALE, timedelta(seconds=2 * float(ctx.settings.mit_timeout) + 30))


def _is_stale(ctx: AppContext, link: PaymentLink, now: datetime) -> bool:
    return utc(now) - utc(link.updated_at) >= stale_after(ctx)


def _is_retryable_state(ctx: AppContext, link: PaymentLink, now: datetime) -> bool:
    return link.state == LinkState.UNCONFIRMED.value or (
        link.state == LinkState.CREATING.value and _is_stale(ctx, link, now)
    )


def _check_retryable(ctx: AppContext, link: PaymentLink, now: datetime) -> None:
    if link.state == LinkState.CREATING.value and not _is_stale(ctx, link, now):
        raise LinkStateError(
            f"La liga {link.reference} se está generando en este momento; espere unos "
            "segundos y consulte su estado."
        )
    if not _is_retryable_state(ctx, link, now):
        raise LinkStateError(_cannot("reintentar", link))
    if utc(now) >= utc(link.expires_at):
        raise LinkStateError(
            f"La liga {link.reference} sin confirmar ya venció "
            f"({long_date(link.last_valid_day)}); no tiene caso reintentarla."
        )


def _refuse_a_second_charge(session: Session, link: PaymentLink, receipts: list[Receipt]) -> None:
    """An active link whose receipts were paid some other way must not reach the client
    again: they could pay twice (a late payment of an older, cancelled link, say)."""
    settled = [r.number for r in receipts
               if r.status in (ReceiptStatus.PAID.value, ReceiptStatus.SETTLED_ELSEWHERE.value)]
    if settled:
        raise LinkStateError(
            f"No se reenvía la liga {link.reference}: {_join(settled)} ya "
            f"{'está pagado' if len(settled) == 1 else 'están pagados'}. Cancele esta liga."
        )
    other_links = select(LinkReceipt.link_id).where(
        LinkReceipt.receipt_id.in_([r.id for r in receipts]))  # type: ignore[attr-defined]
    waiting = session.scalars(
        select(PaymentLink.reference)
        .join(Notification, Notification.link_id == PaymentLink.id)  # type: ignore[arg-type]
        .where(Notification.status == NotificationStatus.REVIEW.value,
               Notification.link_id.in_(other_links))  # type: ignore[union-attr]
    ).first()
    if waiting is not None:
        raise LinkStateError(
            f"No se reenvía la liga {link.reference}: hay un pago por revisar de la liga "
            f"{waiting} para los mismos recibos. Resuélvalo en «Por revisar» (v) antes."
        )


def _cannot(verb: str, link: PaymentLink) -> str:
    why = {
        LinkState.PAID.value: "ya está pagada",
        LinkState.CANCELLED.value: "ya está cancelada",
        LinkState.CREATING.value: "se está generando en este momento",
        LinkState.UNCONFIRMED.value: "no está confirmada por MIT (reinténtela primero)",
        LinkState.ACTIVE.value: "ya está activa",
    }.get(link.state, f"está en estado {link.state}")
    return f"No se puede {verb} la liga {link.reference}: {why}."


# -- locking helpers -------------------------------------------------------------------------


def _lock_receipts_of(session: Session, link_id: int) -> list[Receipt]:
    """Receipts first, by id: the same lock order as a claim, so no deadlock."""
    ids = select(LinkReceipt.receipt_id).where(LinkReceipt.link_id == link_id)
    stmt = (
        select(Receipt).where(Receipt.id.in_(ids)).order_by(Receipt.id)
        .with_for_update().execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def _lock_link_by_id(session: Session, link_id: int) -> PaymentLink | None:
    stmt = (
        select(PaymentLink).where(PaymentLink.id == link_id)
        .with_for_update().execution_options(populate_existing=True)
    )
    return session.scalars(stmt).first()


def _lock_link(session: Session, reference: str,
               ctx: AppContext | None = None) -> tuple[PaymentLink, list[Receipt]]:
    """The link and its receipts, locked. With `ctx`, a link outside its principal's
    portfolio (team mode) is "does not exist", decided in the query."""
    ref = (reference or "").strip()
    link_id = session.scalars(scoped(
        select(PaymentLink.id).where(PaymentLink.reference == ref),
        link_scope(ctx) if ctx is not None else None)
    ).first()
    if link_id is None:
        raise LinkNotFound(f"No existe una liga con la referencia {ref or '(vacía)'}.")
    receipts = _lock_receipts_of(session, link_id)
    link = _lock_link_by_id(session, link_id)
    if link is None:  # pragma: no cover - deleted in between
        raise LinkNotFound(f"No existe una liga con la referencia {ref}.")
    return link, sorted(receipts, key=lambda r: (r.due_date, r.number))


# -- words -------------------------------------------------------------------------------------


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " y " + items[-1]


def _receipts_word(numbers: Sequence[str]) -> str:
    return f"El recibo {numbers[0]}" if len(numbers) == 1 else f"Los recibos {_join(numbers)}"


def _es_son(numbers: Sequence[str]) -> str:
    return "es" if len(numbers) == 1 else "son"
