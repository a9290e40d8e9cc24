"""Step 1 of a link, the claim: one write transaction that locks and checks the receipts
and inserts the link in state 'creating' (or takes an unconfirmed one back), and the
references it gets.

Split out of services/links.py, whose docstring tells why a link is made in three steps;
the call to MIT and its outcome (steps 2 and 3) are in services/link_call.py. What a claim
hands to the call is a `_Claim`.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from paylink_tui.domain.dates import local_datetime_text, long_date, utc
from paylink_tui.domain.errors import (
    AlreadyLinked,
    LinkError,
    MixedReceipts,
    NotPending,
    ReceiptNotFound,
)
from paylink_tui.domain.promotions import choose_plans, promociones, read_promociones
from paylink_tui.domain.status import LinkState, ReceiptStatus
from paylink_tui.domain.text import fold
from paylink_tui.domain.validity import link_window
from paylink_tui.services.access import policy_scope, receipt_scope, scoped
from paylink_tui.services.context import AppContext
from paylink_tui.services.link_checks import _es_son, _gateway, _is_retryable_state, _join, _receipts_word
from paylink_tui.store.db import write_session
from paylink_tui.store.models import LinkReceipt, PaymentLink, Policy, Receipt

log = logging.getLogger(__name__)

# Links whose receipts may not get another link while they are not expired.
LIVE_STATES = (LinkState.CREATING.value, LinkState.UNCONFIRMED.value, LinkState.ACTIVE.value)
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
