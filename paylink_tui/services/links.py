"""Generating, retrying, cancelling and resending payment links (issue 4).

How one link is made, and why in three steps
--------------------------------------------
1. **Claim** (one write transaction). The receipts are locked (PostgreSQL: ``SELECT ... FOR
   UPDATE`` ordered by id; SQLite: ``BEGIN IMMEDIATE`` already serialises writers), checked
   (they exist, are pending, are of one policy and one currency, and no live link covers
   them), and the link is inserted in state ``creating`` with its reference, exact amount and
   validity window; the receipts get ``hidden_until`` at once. Two agents pressing the key in
   the same second serialise here: the second one finds the first one's claim and gets
   ``AlreadyLinked``. So there is ONE link and ONE call to MIT.
2. **Call MIT**, outside any transaction: a network call must never hold the SQLite write
   lock (every other writer would wait for MIT).
3. **Confirm** (one write transaction): state ``active``, MIT's URL, the link email queued
   in the outbox in the same transaction; then the email is delivered at once. An SMTP
   failure does not undo the link: the email stays in the outbox and is retried.

When MIT fails
--------------
- A definite failure (MIT refused, rejected fields, HTTP 4xx, connection refused before
  anything was sent, invalid configuration): the claim is deleted and the receipts'
  ``hidden_until`` restored. No link is stored, no email is queued.
- An unknown outcome (a read timeout, a broken connection, a 5xx, an answer we cannot read:
  the gateway marks these ``outcome_unknown``): MIT may have created the link. The claim is
  kept in state ``unconfirmed`` and its receipts stay hidden, so nobody makes a second link
  for them. Generating again for the same receipts (or ``retry_link``) sends the SAME
  reference again.

The reference is the idempotency key
------------------------------------
MIT identifies a link request by the merchant's reference, and the sandbox answers a repeat
of the same reference and amount with the same link. Re-sending the same reference is
therefore the only safe way to learn the outcome of a call that timed out: a new reference
could make a second, payable link for the same receipts (a possible double charge). For the
same reason a reference is never reused for another amount or other receipts.

A claim left in ``creating`` by a process that died mid-call is treated as ``unconfirmed``
once it is older than ``stale_after()`` (two minutes, or more with a long MIT timeout).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from paylink_tui.domain.address import check_email, refused_email_message  # noqa: F401 - re-exported
from paylink_tui.domain.dates import local_date, local_datetime_text, long_date, utc
from paylink_tui.domain.errors import (  # noqa: F401 - re-exported: the use cases' errors
    AlreadyLinked,
    Forbidden,
    GatewayFailure,
    GatewayNotConfiguredError,
    InvalidEmail,
    LinkError,
    LinkNotFound,
    LinkStateError,
    MixedReceipts,
    NotPending,
    OutcomeUnknown,
    ReceiptNotFound,
)
from paylink_tui.domain.money import format_money
from paylink_tui.domain.promotions import choose_plans, promociones, read_promociones
from paylink_tui.domain.results import EmailResult, GeneratedLink
from paylink_tui.domain.status import EmailStatus, LinkState, NotificationStatus, ReceiptStatus
from paylink_tui.domain.text import fold
from paylink_tui.domain.validity import link_window
from paylink_tui.gateway.base import LinkRequest, PaymentGateway
from paylink_tui.gateway.errors import GatewayError, GatewayNotConfigured, GatewayUnavailable
from paylink_tui.mail.errors import MailError
from paylink_tui.services import audit, events
from paylink_tui.services.access import (
    link_scope,
    may_touch_link_of,
    policy_scope,
    receipt_scope,
    scoped,
)
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import write_session
from paylink_tui.store.models import (
    EmailMessage,
    LinkReceipt,
    Notification,
    PaymentLink,
    Policy,
    Receipt,
)

log = logging.getLogger(__name__)

# Links whose receipts may not get another link while they are not expired.
LIVE_STATES = (LinkState.CREATING.value, LinkState.UNCONFIRMED.value, LinkState.ACTIVE.value)
MIN_STALE = timedelta(minutes=2)
MAX_EXTRA_VALUE = 50  # MIT's limit for a datos_adicionales value
MAX_MIT_EMAIL = 50  # MIT's limit for mail_cliente (it only pre-fills the payment form)
REFERENCE_MAX = 40
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(frozen=True)
class _Claim:
    """What the MIT call needs, read inside the claim transaction."""

    link_id: int
    reference: str
    amount: Decimal
    currency: str
    email: str
    policy_number: str
    receipt_numbers: tuple[str, ...]
    last_valid_day: date
    expires_at: datetime
    hidden_until: datetime
    retry: bool  # the reference was sent to MIT before, with an unknown outcome
    # The link's updated_at as this claim set it: the claim is still ours only while the
    # link is 'creating' with this value (a stale claim may be cancelled or re-claimed).
    token: datetime
    plans: tuple[int, ...] = ()  # meses sin intereses, as stored with the link


# -- public use cases ----------------------------------------------------------------------


def generate_link(
    ctx: AppContext,
    *,
    receipt_numbers: Sequence[str] = (),
    policy_number: str | None = None,
    email: str,
    agent: str | None = None,
    plans: Sequence[int] | None = None,
    deliver: bool = True,
) -> GeneratedLink:
    """Make one payment link for the receipts (or the policy's pending receipts), send it.

    `plans`: the meses sin intereses it offers besides the single payment; None: every plan
    enabled (PAYLINK_MIT_PROMOTIONS) that its amount reaches; empty: single payment only.
    A plan it cannot offer raises PlanRefused before MIT is called.

    Raises a LinkError subclass. When the same receipts have an unconfirmed link (MIT's
    answer was lost), this retries it with the same reference instead of making another
    (and the plans that first call sent). `deliver=False` leaves its email queued in the
    outbox for the caller to deliver (a batch delivers its emails together: services/batch.py).
    """
    agent = agent or ctx.agent
    address = check_email(email)
    numbers = _clean_numbers(receipt_numbers)
    policy = (policy_number or "").strip() or None
    if not numbers and policy is None:
        raise LinkError("Indique los recibos o la póliza para la liga.")
    gateway = _gateway(ctx)
    claim = _claim(ctx, numbers=numbers, policy_number=policy, email=address, agent=agent,
                   plans=None if plans is None else tuple(plans))
    return _call_and_confirm(ctx, gateway, claim, agent=agent, deliver=deliver)


def retry_link(ctx: AppContext, reference: str, *, agent: str | None = None,
               email: str | None = None) -> GeneratedLink:
    """Ask MIT again for an unconfirmed link, with the same reference and amount."""
    agent = agent or ctx.agent
    address = check_email(email) if email is not None else None
    gateway = _gateway(ctx)
    now = ctx.now()
    with write_session(ctx.engine) as session:
        link, receipts = _lock_link(session, reference, ctx)
        _check_retryable(ctx, link, now)
        claim = _reclaim(session, link, receipts, now, address)
    return _call_and_confirm(ctx, gateway, claim, agent=agent)


def cancel_link(ctx: AppContext, reference: str, *, agent: str) -> None:
    """Cancel a link on our side: no more resends, its receipts are pending again now
    (unless another, expired, link still hides them until its D+5).

    MIT has no way to cancel a link: the client can still pay it until its valid-until
    date, and such a payment is applied and flagged for review.
    """
    now = ctx.now()
    with write_session(ctx.engine) as session:
        link, receipts = _lock_link(session, reference, ctx)
        if not may_touch_link_of(ctx, link.agent):  # another agent's link: a supervisor's
            raise Forbidden(f"La liga {link.reference} la generó otro agente: solo un "
                            "supervisor puede cancelarla.")
        state = link.state
        stale = state == LinkState.CREATING.value and _is_stale(ctx, link, now)
        if state not in (LinkState.ACTIVE.value, LinkState.UNCONFIRMED.value) and not stale:
            raise LinkStateError(_cannot("cancelar", link))
        link.state = LinkState.CANCELLED.value
        link.cancelled_at = now
        link.cancelled_by = agent
        link.updated_at = now
        session.add(link)
        session.flush()
        _restore_hidden(session, receipts, exclude_link_id=link.id, now=now)
        audit.record(session, at=now, agent=agent, action="link_cancelled",
                     subject=link.reference, detail=f"estado anterior: {state}")
        _link_event(session, link, receipts, now, "cancelled", by=agent)


def resend_link_email(ctx: AppContext, reference: str, *, to: str | None = None,
                      agent: str | None = None) -> EmailResult:
    """Send the SAME link again, to its address or to a corrected one (which it keeps)."""
    from paylink_tui.services import outbox

    agent = agent or ctx.agent
    address = check_email(to) if to is not None else None
    now = ctx.now()
    with write_session(ctx.engine) as session:
        link, receipts = _lock_link(session, reference, ctx)
        if link.state != LinkState.ACTIVE.value or not link.url:
            raise LinkStateError(_cannot("reenviar", link))
        if utc(now) >= utc(link.expires_at):
            raise LinkStateError(
                f"La liga {link.reference} venció el {long_date(link.last_valid_day)}; "
                "no tiene caso reenviarla. Genere una nueva para sus recibos."
            )
        _refuse_a_second_charge(session, link, receipts)
        old = link.email
        if address is not None and address != old:
            # The corrected address becomes the link's: later resends go there too.
            link.email = address
            link.updated_at = now
            session.add(link)
        previous = session.scalars(
            select(EmailMessage.id)
            .where(EmailMessage.link_id == link.id, EmailMessage.kind == outbox.KIND_LINK)
            .order_by(EmailMessage.id.desc())  # type: ignore[union-attr]
        ).first()
        fresh_id: int | None = None
        queue_error: str | None = None
        if previous is None:  # its first email could not even be queued
            session.flush()
            fresh_id, queue_error = _queue_link_email(session, ctx, link, now)
        # Appended, never rewritten: the history keeps the address it was generated for
        # (link_generated) and every resend with the address it went to.
        detail = f"a {link.email}" + (f" (antes {old})" if link.email != old else "")
        audit.record(session, at=now, agent=agent, action="link_email_resent",
                     subject=link.reference, detail=detail)
        _link_event(session, link, receipts, now, "resent", by=agent)
        to_addr = link.email
    queued = True
    if fresh_id is not None:
        status, error = _deliver(ctx, fresh_id)
    elif previous is not None:
        try:
            row = outbox.resend(ctx, previous, to=to_addr)
        except MailError as exc:
            status, error, queued = "failed", exc.message, False
        else:
            status, error = row.status, row.last_error
    else:
        status, error, queued = "failed", queue_error or "No se pudo preparar el correo.", False
    if status != EmailStatus.SENT.value:
        _record_failed_send(ctx, reference, to_addr, error, queued=queued, agent=agent)
    return EmailResult(reference=reference, to=to_addr, email_status=status, email_error=error,
                       email_queued=queued)


def _record_failed_send(ctx: AppContext, reference: str, to: str, error: str | None, *,
                        queued: bool, agent: str) -> None:
    """A send the agent asked for (generating, resending) that did not go out leaves its
    own entry in the link's history: the outbox row's state changes when a retry succeeds,
    this does not."""
    outcome = "queda en cola y se reintenta" if queued else "no quedó en cola"
    with write_session(ctx.engine) as session:
        audit.record(session, at=ctx.now(), agent=agent, action="link_email_failed",
                     subject=reference,
                     detail=f"a {to}: {error or 'sin motivo del servidor'} ({outcome})")


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


# -- step 1: the claim -----------------------------------------------------------------------


def _claim(ctx: AppContext, *, numbers: tuple[str, ...], policy_number: str | None,
           email: str, agent: str, plans: tuple[int, ...] | None) -> _Claim:
    # A clash of the random part of the reference aborts the transaction: try again.
    for attempt in range(3):
        try:
            with write_session(ctx.engine) as session:
                return _claim_in(session, ctx, numbers, policy_number, email, agent, plans)
        except IntegrityError:
            if attempt == 2:
                raise
            log.warning("link claim hit a unique constraint; trying again")
    raise AssertionError("unreachable")  # pragma: no cover


def _claim_in(session: Session, ctx: AppContext, numbers: tuple[str, ...],
              policy_number: str | None, email: str, agent: str,
              plans: tuple[int, ...] | None) -> _Claim:
    now = ctx.now()
    if numbers:
        candidates = _locked_receipts_by_number(session, numbers, ctx)
        if policy_number is not None:
            others = [r.number for r in candidates if r.policy_number != policy_number]
            if others:
                raise MixedReceipts(
                    f"{_receipts_word(others)} no {_es_son(others)} de la póliza "
                    f"{policy_number}."
                )
        _check_pending(candidates)
        live = _live_links(session, [r.id for r in candidates], now)
    else:
        assert policy_number is not None
        pending = _pending_of_policy(session, policy_number, ctx)
        # The same rule as for receipt numbers: only a live link (not expired) blocks a
        # receipt. On the grace day (the link expired, its receipts hidden until D+5) they
        # can get a new link; a late payment for the old one then flags the new one.
        # When every receipt is blocked, the link that blocks them is the answer (or the
        # one to retry).
        live = _live_links(session, [r.id for r in pending], now)
        blocked = {rid for _link, ids in live.values() for rid in ids}
        free = [r for r in pending if r.id not in blocked]
        candidates = free or pending
        if free:
            live = {}
    if live:
        reuse = _reusable(ctx, live, candidates, now)
        if reuse is not None:
            return _reclaim(session, reuse, candidates, now, email)
        raise _already_linked(ctx, live, candidates)
    _check_one_policy_and_currency(candidates, None if numbers else policy_number)
    return _insert_link(session, ctx, candidates, now, email, agent, plans)


def _locked_receipts_by_number(session: Session, numbers: tuple[str, ...],
                               ctx: AppContext) -> list[Receipt]:
    # Outside the portfolio (team mode) is "does not exist": the scope is in the query.
    stmt = (
        scoped(select(Receipt).where(Receipt.number.in_(numbers)), receipt_scope(ctx))
        .order_by(Receipt.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    receipts = list(session.scalars(stmt))
    found = {r.number for r in receipts}
    missing = [n for n in numbers if n not in found]
    if missing:
        if len(missing) == 1:
            raise ReceiptNotFound(f"No existe el recibo {missing[0]}.")
        raise ReceiptNotFound(f"No existen los recibos {_join(missing)}.")
    order = {n: i for i, n in enumerate(numbers)}
    return sorted(receipts, key=lambda r: order[r.number])


def _pending_of_policy(session: Session, policy_number: str, ctx: AppContext) -> list[Receipt]:
    # All pending receipts are locked, hidden or not: a PostgreSQL row lock re-reads the row,
    # and filtering on hidden_until in SQL would make a concurrent loser see "nothing pending"
    # instead of the link it lost to.
    stmt = (
        scoped(select(Receipt).where(Receipt.policy_number == policy_number,
                                     Receipt.status == ReceiptStatus.PENDING.value),
               receipt_scope(ctx))
        .order_by(Receipt.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    receipts = list(session.scalars(stmt))
    if not receipts:
        exists = session.scalar(scoped(
            select(func.count()).select_from(Policy).where(Policy.number == policy_number),
            policy_scope(ctx)))
        if not exists:
            raise ReceiptNotFound(f"No existe la póliza {policy_number}.")
        raise NotPending(f"La póliza {policy_number} no tiene recibos pendientes de pago.")
    return sorted(receipts, key=lambda r: (r.due_date, r.number))


def _check_pending(receipts: list[Receipt]) -> None:
    for r in receipts:
        if r.status == ReceiptStatus.PAID.value:
            raise NotPending(f"El recibo {r.number} ya está pagado.")
        if r.status == ReceiptStatus.SETTLED_ELSEWHERE.value:
            raise NotPending(
                f"El recibo {r.number} fue liquidado fuera (ya no aparece como pendiente "
                "en la lista de la aseguradora)."
            )
        if r.status != ReceiptStatus.PENDING.value:
            raise NotPending(f"El recibo {r.number} no está pendiente de pago.")


def check_gateway(ctx: AppContext) -> None:
    """GatewayNotConfiguredError / GatewayFailure now, when the gateway cannot be used: what
    generate_link would raise before claiming anything (a batch checks once)."""
    _gateway(ctx)


def _check_one_policy_and_currency(receipts: list[Receipt], policy_number: str | None) -> None:
    policies = sorted({r.policy_number for r in receipts})
    if len(policies) > 1:
        raise MixedReceipts(
            f"Los recibos son de pólizas distintas ({_join(policies)}). Una liga cubre "
            "recibos de una sola póliza: genere una liga por póliza."
        )
    currencies = sorted({r.currency for r in receipts})
    if len(currencies) > 1:
        if policy_number is not None:
            raise MixedReceipts(
                f"La póliza {policy_number} tiene recibos pendientes en {_join(currencies)}. "
                "Una liga cubre una sola moneda: elija los recibos de la liga."
            )
        raise MixedReceipts(
            f"Los recibos están en monedas distintas ({_join(currencies)}). Una liga cubre "
            "una sola moneda: elija recibos de la misma moneda."
        )


def _live_links(session: Session, receipt_ids: list[int | None], now: datetime
                ) -> dict[int, tuple[PaymentLink, list[int]]]:
    """Links that still block these receipts: creating, unconfirmed or active, not expired."""
    if not receipt_ids:
        return {}
    stmt = (
        select(PaymentLink, LinkReceipt.receipt_id)
        .join(LinkReceipt, LinkReceipt.link_id == PaymentLink.id)
        .where(LinkReceipt.receipt_id.in_(receipt_ids),
               PaymentLink.state.in_(LIVE_STATES),
               PaymentLink.expires_at > now)
        .order_by(PaymentLink.id)
        .execution_options(populate_existing=True)
    )
    found: dict[int, tuple[PaymentLink, list[int]]] = {}
    for link, receipt_id in session.execute(stmt).all():
        found.setdefault(link.id, (link, []))[1].append(receipt_id)
    return found


def _reusable(ctx: AppContext, live: dict[int, tuple[PaymentLink, list[int]]],
              receipts: list[Receipt], now: datetime) -> PaymentLink | None:
    """The unconfirmed link to retry, when it covers exactly these receipts."""
    if len(live) != 1:
        return None
    link, _ = next(iter(live.values()))
    if not _is_retryable_state(ctx, link, now):
        return None
    session = Session.object_session(link)
    assert session is not None
    covered = set(session.scalars(
        select(LinkReceipt.receipt_id).where(LinkReceipt.link_id == link.id)
    ))
    if covered != {r.id for r in receipts}:
        return None
    return link


def _already_linked(ctx: AppContext, live: dict[int, tuple[PaymentLink, list[int]]],
                    receipts: list[Receipt]) -> AlreadyLinked:
    link, receipt_ids = next(iter(live.values()))
    by_id = {r.id: r.number for r in receipts}
    numbers = [by_id[i] for i in receipt_ids if i in by_id]
    who = (
        f"de {link.agent}, generada el {local_datetime_text(link.created_at, ctx.tz)}, "
        f"vence el {long_date(link.last_valid_day)}"
    )
    subject = f"El recibo {numbers[0]} ya tiene" if len(numbers) == 1 else (
        f"Los recibos {_join(numbers)} ya tienen"
    )
    if link.state == LinkState.ACTIVE.value:
        text = f"{subject} una liga activa ({who})."
    elif link.state == LinkState.CREATING.value:
        text = f"{subject} una liga activa ({who}); se está generando en este momento."
    else:
        text = (
            f"{subject} una liga activa sin confirmar por MIT ({who}, referencia "
            f"{link.reference}). Reinténtela con los mismos recibos o cancélela antes de "
            "generar otra."
        )
    return AlreadyLinked(text, reference=link.reference)


def _insert_link(session: Session, ctx: AppContext, receipts: list[Receipt], now: datetime,
                 email: str, agent: str, plans: tuple[int, ...] | None) -> _Claim:
    window = link_window(now, ctx.tz)
    policy_number = receipts[0].policy_number
    amount = sum((Decimal(r.amount) for r in receipts), Decimal("0.00"))
    months = choose_plans(plans, amount, receipts[0].currency, ctx.settings.promotion_plans)
    reference = _unused_reference(session, policy_number, window.generated_on)
    link = PaymentLink(
        reference=reference,
        policy_id=receipts[0].policy_id,
        amount=amount,
        currency=receipts[0].currency,
        email=email,
        agent=agent,
        state=LinkState.CREATING.value,
        created_at=now,
        last_valid_day=window.last_valid_day,
        expires_at=window.expires_at,
        hidden_until=window.hidden_until,
        promotions=promociones(months),
        updated_at=now,
    )
    session.add(link)
    session.flush()
    assert link.id is not None
    for r in receipts:
        session.add(LinkReceipt(link_id=link.id, receipt_id=r.id, amount=r.amount))
        r.hidden_until = window.hidden_until
        r.updated_at = now
        session.add(r)
    session.flush()
    return _claim_of(link, receipts, retry=False)


def _reclaim(session: Session, link: PaymentLink, receipts: list[Receipt], now: datetime,
             email: str | None) -> _Claim:
    """Take an unconfirmed link back into 'creating' for one more call with its reference."""
    link.state = LinkState.CREATING.value
    link.updated_at = now
    if email is not None:
        link.email = email
    session.add(link)
    # The link hides its receipts until its D+5 again, whatever changed them meanwhile.
    for r in receipts:
        if r.hidden_until is None or utc(r.hidden_until) < utc(link.hidden_until):
            r.hidden_until = link.hidden_until
            r.updated_at = now
            session.add(r)
    session.flush()
    return _claim_of(link, receipts, retry=True)


def _claim_of(link: PaymentLink, receipts: list[Receipt], *, retry: bool) -> _Claim:
    assert link.id is not None
    return _Claim(
        link_id=link.id,
        reference=link.reference,
        amount=Decimal(link.amount),
        currency=link.currency,
        email=link.email,
        policy_number=receipts[0].policy_number,
        receipt_numbers=tuple(r.number for r in receipts),
        last_valid_day=link.last_valid_day,
        expires_at=link.expires_at,
        hidden_until=link.hidden_until,
        retry=retry,
        token=utc(link.updated_at),
        plans=read_promociones(link.promotions),
    )


# -- references ------------------------------------------------------------------------------


def make_reference(policy_number: str, day: date) -> str:
    """`{POLICY}-{YYMMDD}-{4 random base32}`: unique enough, readable, the policy visible.

    Only letters, digits and dashes (what MIT accepts); at most 40 characters: a long
    policy number is cut, never the date or the random part.
    """
    policy = re.sub(r"[^A-Z0-9]+", "-", fold(policy_number).upper()).strip("-") or "POL"
    tail = f"-{day:%y%m%d}-{''.join(secrets.choice(_B32) for _ in range(4))}"
    policy = policy[: REFERENCE_MAX - len(tail)].rstrip("-") or "POL"
    return policy + tail


def _unused_reference(session: Session, policy_number: str, day: date) -> str:
    for _ in range(20):
        reference = make_reference(policy_number, day)
        taken = session.scalar(
            select(func.count()).select_from(PaymentLink)
            .where(PaymentLink.reference == reference)
        )
        if not taken:
            return reference
    raise LinkError("No se pudo elegir una referencia libre para la liga; intente de nuevo.")


def _extra(claim: _Claim) -> tuple[tuple[str, str], ...]:
    receipts = ", ".join(claim.receipt_numbers)
    if len(receipts) > MAX_EXTRA_VALUE:
        receipts = receipts[: MAX_EXTRA_VALUE - 1].rstrip(", ") + "…"
    return (("Póliza", claim.policy_number[:MAX_EXTRA_VALUE]), ("Recibos", receipts))


# -- steps 2 and 3: the call and its outcome --------------------------------------------------


def _call_and_confirm(ctx: AppContext, gateway: PaymentGateway, claim: _Claim, *,
                      agent: str, deliver: bool = True) -> GeneratedLink:
    request = LinkRequest(
        reference=claim.reference,
        amount=claim.amount,
        currency=claim.currency,
        valid_through=claim.last_valid_day,
        # MIT takes at most 50 characters; the address only pre-fills its payment form.
        email=claim.email if len(claim.email) <= MAX_MIT_EMAIL else None,
        extra=_extra(claim),
        plans=claim.plans,
    )
    try:
        created = gateway.create_link(request)
    except GatewayError as exc:
        if exc.outcome_unknown:
            _mark_unconfirmed(ctx, claim, exc.message, agent)
            raise OutcomeUnknown(_unknown_message(exc, claim.reference),
                                 reference=claim.reference) from exc
        if claim.retry:
            # The first call's outcome is still unknown: the link stays unconfirmed.
            _mark_unconfirmed(ctx, claim, exc.message, agent)
            raise _failure(exc, still_unconfirmed=claim.reference) from exc
        _release(ctx, claim, exc.message, agent)
        raise _failure(exc) from exc
    except BaseException as exc:
        # A bug or an interrupt mid-call: whether MIT got the request is unknown.
        _mark_unconfirmed(ctx, claim, f"error inesperado: {type(exc).__name__}", agent)
        raise
    message_id, queue_error = _confirm(ctx, claim, created.url, created.link_id, agent)
    if message_id is not None and not deliver:
        status, error = "queued", None
    elif message_id is not None:
        status, error = _deliver(ctx, message_id)
    else:
        status, error = "failed", queue_error
    if status != EmailStatus.SENT.value:
        _record_failed_send(ctx, claim.reference, claim.email, error,
                            queued=message_id is not None, agent=agent)
    window_reappears = local_date(claim.hidden_until, ctx.tz)
    made = GeneratedLink(
        link_id=claim.link_id,
        reference=claim.reference,
        url=created.url,
        email=claim.email,
        amount=claim.amount,
        currency=claim.currency,
        policy_number=claim.policy_number,
        receipt_numbers=claim.receipt_numbers,
        valid_through=claim.last_valid_day,
        reappears_on=window_reappears,
        expires_at=claim.expires_at,
        email_status=status,
        email_error=error,
        installment_plans=claim.plans,
        email_queued=message_id is not None,
    )
    from paylink_tui.services.link_advice import advise  # older receipts, lapse, WhatsApp

    try:
        return advise(ctx, made)
    except Exception:  # the link is made and sent: advice that fails must not hide that
        log.exception("link %s: could not gather its warnings", claim.reference)
        return made


def _unknown_message(exc: GatewayError, reference: str) -> str:
    if isinstance(exc, GatewayUnavailable):
        lead = "MIT no respondió a tiempo; no sabemos si la liga se creó."
    else:
        lead = exc.message.split(". ")[0].rstrip(".") + "; no sabemos si la liga se creó."
    return f"{lead} Reintente: se usará la misma referencia ({reference})."


def _confirm(ctx: AppContext, claim: _Claim, url: str, mit_link_id: str | None,
             agent: str) -> tuple[int | None, str | None]:
    """Step 3: the link is active and its email is in the outbox, in one transaction."""
    now = ctx.now()
    result: tuple[int | None, str | None] = (None, None)
    with write_session(ctx.engine) as session:
        link = _lock_link_by_id(session, claim.link_id)
        cancelled = link is None or link.state == LinkState.CANCELLED.value
        if cancelled:
            # Cancelled (as a stale claim) while MIT answered: keep MIT's URL (committed,
            # so the error below is raised outside the transaction), send nothing.
            if link is not None:
                link.url, link.mit_link_id, link.updated_at = url, mit_link_id, now
                session.add(link)
            audit.record(session, at=now, agent=agent, action="link_created_after_cancel",
                         subject=claim.reference, detail=url)
        else:
            assert link is not None
            result = _activate(session, ctx, link, claim, url, mit_link_id, agent, now)
    if cancelled:
        raise LinkStateError(
            f"MIT generó la liga {claim.reference}, pero fue cancelada mientras tanto; "
            "no se envió el correo."
        )
    return result


def _activate(session: Session, ctx: AppContext, link: PaymentLink, claim: _Claim, url: str,
              mit_link_id: str | None, agent: str,
              now: datetime) -> tuple[int | None, str | None]:
    """Step 3 inside the confirm transaction: active, MIT's URL, the email queued."""
    if link.state not in (LinkState.CREATING.value, LinkState.UNCONFIRMED.value):
        # Another call with the same reference (a stale claim retried) confirmed it
        # first, or it was even paid: MIT's link is the same one, so nothing changes
        # and no second email is queued. Its existing email is reported.
        log.info("link %s: already %s, confirmation skipped", claim.reference, link.state)
        existing = session.scalars(
            select(EmailMessage.id)
            .where(EmailMessage.link_id == link.id, EmailMessage.kind == "link")
            .order_by(EmailMessage.id.desc())  # type: ignore[union-attr]
        ).first()
        return existing, None if existing is not None else "No se pudo preparar el correo."
    # From 'creating' or 'unconfirmed', whoever's claim: the same reference is the same
    # link at MIT, so any successful answer confirms it.
    link.state = LinkState.ACTIVE.value
    link.url = url
    link.mit_link_id = mit_link_id
    link.last_error = None
    link.updated_at = now
    session.add(link)
    session.flush()
    message_id, queue_error = _queue_link_email(session, ctx, link, now)
    events.record(session, at=now, kind=events.LINK_CHANGED, link_id=link.id,
                  reference=link.reference, policy_number=claim.policy_number, agent=link.agent,
                  data={"change": "generated", "by": agent})
    audit.record(session, at=now, agent=agent, action="link_generated",
                 subject=claim.reference,
                 detail=f"{format_money(claim.amount, claim.currency)} a {claim.email}; "
                        f"recibos {', '.join(claim.receipt_numbers)}")
    return message_id, queue_error


def _queue_link_email(session: Session, ctx: AppContext, link: PaymentLink,
                      now: datetime) -> tuple[int | None, str | None]:
    """Queue the link's email in the caller's transaction. A message that cannot be built
    (an operator's broken template, say) must not undo a link MIT already made: the error
    is reported and the agent can resend once it is fixed."""
    from paylink_tui.services import outbox

    try:
        with session.begin_nested():
            message = outbox.queue_link_email(session, ctx, link, now)
    except MailError as exc:
        log.warning("link %s: email not queued: %s", link.reference, exc.message)
        return None, exc.message
    return message.id, None


def _mark_unconfirmed(ctx: AppContext, claim: _Claim, error: str, agent: str) -> None:
    now = ctx.now()
    with write_session(ctx.engine) as session:
        link = _lock_link_by_id(session, claim.link_id)
        if not _still_ours(link, claim):
            return
        assert link is not None
        link.state = LinkState.UNCONFIRMED.value
        link.last_error = error
        link.updated_at = now
        session.add(link)
        audit.record(session, at=now, agent=agent, action="link_unconfirmed",
                     subject=claim.reference, detail=error)
        events.record(session, at=now, kind=events.LINK_CHANGED, link_id=link.id,
                      reference=link.reference, policy_number=claim.policy_number,
                      agent=link.agent, data={"change": "unconfirmed", "by": agent})


def _release(ctx: AppContext, claim: _Claim, error: str, agent: str) -> None:
    """A definite failure: the claim goes, the receipts are as they were before it."""
    now = ctx.now()
    with write_session(ctx.engine) as session:
        receipts = _lock_receipts_of(session, claim.link_id)
        link = _lock_link_by_id(session, claim.link_id)
        if not _still_ours(link, claim):
            return
        session.execute(delete(LinkReceipt).where(LinkReceipt.link_id == claim.link_id))
        session.delete(link)
        session.flush()
        _restore_hidden(session, receipts, exclude_link_id=claim.link_id, now=now)
        audit.record(session, at=now, agent=agent, action="link_failed",
                     subject=claim.reference,
                     detail=f"recibos {', '.join(claim.receipt_numbers)}: {error}")


def _still_ours(link: PaymentLink | None, claim: _Claim) -> bool:
    """Whether the link (locked by the caller) is still in the claim's hands: 'creating'
    with the updated_at the claim set. A stale claim may have been cancelled by another
    agent, or re-claimed, confirmed or even paid through a retry meanwhile: then the
    outcome of this call changes nothing."""
    if (link is not None and link.state == LinkState.CREATING.value
            and utc(link.updated_at) == claim.token):
        return True
    log.warning("link %s: claim no longer ours (now %s); outcome not recorded",
                claim.reference, "deleted" if link is None else link.state)
    return False


def _restore_hidden(session: Session, receipts: list[Receipt], *, exclude_link_id: int | None,
                    now: datetime) -> None:
    """Recompute each receipt's hidden_until from its other links that are not cancelled.

    One rule for the grace day: every non-cancelled link hides its receipts until its D+5,
    expired or not (a late payment may still arrive for it); a past value hides nothing.
    After a failed claim this is what it was before; after a cancel, what the others hide.
    """
    for r in receipts:
        stmt = (
            select(func.max(PaymentLink.hidden_until))
            .join(LinkReceipt, LinkReceipt.link_id == PaymentLink.id)
            .where(LinkReceipt.receipt_id == r.id,
                   PaymentLink.id != exclude_link_id,
                   PaymentLink.state != LinkState.CANCELLED.value)
        )
        r.hidden_until = session.scalar(stmt)
        r.updated_at = now
        session.add(r)


def _link_event(session: Session, link: PaymentLink, receipts: list[Receipt], now: datetime,
                change: str, *, by: str) -> None:
    events.record(session, at=now, kind=events.LINK_CHANGED, link_id=link.id,
                  reference=link.reference,
                  policy_number=receipts[0].policy_number if receipts else None,
                  agent=link.agent, data={"change": change, "by": by})


def _deliver(ctx: AppContext, message_id: int) -> tuple[str, str | None]:
    """Deliver the email now; a failure leaves it in the outbox (retried later)."""
    from paylink_tui.services import outbox

    try:
        outbox.deliver_due(ctx, ids=[message_id])
    except Exception as exc:  # SMTP or anything else: the link stands, the email waits
        log.warning("email %s: delivery failed: %s", message_id, type(exc).__name__)
    with Session(ctx.engine) as session:
        message = session.get(EmailMessage, message_id)
        if message is None:  # pragma: no cover
            return "queued", None
        return message.status, message.last_error


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


# Shared with the other use cases on links: the same checks for a link's preview
# (services/link_advice.py); the same locks and the same "never a second charge" rule for a
# reminder (services/reminders.py).
check_pending = _check_pending
check_one_policy_and_currency = _check_one_policy_and_currency
lock_link = _lock_link
refuse_a_second_charge = _refuse_a_second_charge
