"""What the agent should know about a link besides its URL (domain.md, "Collecting more"):

- older pending receipts of the same policy and currency that it leaves out (the insurer
  applies premiums in order: domain/oldest.py);
- whether it could still be paid after the policy lapses (domain/lapse.py);
- the WhatsApp address, when the holder's phone is a valid Mexican phone (domain/whatsapp.py).

`link_preview` answers before anything is made (the link dialog's warnings and its "include
them" key); `advise` completes what `generate_link` returns (the `link` command prints it).
Both only read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from paylink_tui.domain.errors import LinkError, MixedReceipts, NotPending, ReceiptNotFound
from paylink_tui.domain.lapse import lapse_warning
from paylink_tui.domain.money import format_money
from paylink_tui.domain.oldest import older_left_out, older_warning
from paylink_tui.domain.results import GeneratedLink, LinkPreview, PendingRow
from paylink_tui.domain.status import ReceiptStatus
from paylink_tui.domain.text import full_name
from paylink_tui.domain.validity import link_window
from paylink_tui.domain.whatsapp import link_whatsapp_url, whatsapp_number
from paylink_tui.services.access import policy_scope, receipt_scope, scoped
from paylink_tui.services.context import AppContext
from paylink_tui.services.receipts import row_of
from paylink_tui.store.db import read_session
from paylink_tui.store.models import Client, LinkReceipt, PaymentLink, Policy, Receipt


def live_receipt_ids(session: Session, receipt_ids: list[int], now: datetime) -> set[int]:
    """Which of these receipts a live link (not expired, not paid, not cancelled) covers."""
    from paylink_tui.services.links import LIVE_STATES

    if not receipt_ids:
        return set()
    return set(session.scalars(
        select(LinkReceipt.receipt_id)
        .join(PaymentLink, PaymentLink.id == LinkReceipt.link_id)  # type: ignore[arg-type]
        .where(LinkReceipt.receipt_id.in_(receipt_ids),  # type: ignore[attr-defined]
               PaymentLink.state.in_(LIVE_STATES),  # type: ignore[attr-defined]
               PaymentLink.expires_at > now)  # type: ignore[arg-type,operator]
    ))


def _pending_of_policy(session: Session, policy_id: int) -> list[Receipt]:
    return list(session.scalars(
        select(Receipt).where(Receipt.policy_id == policy_id,  # type: ignore[arg-type]
                              Receipt.status == ReceiptStatus.PENDING.value)  # type: ignore[arg-type]
        .order_by(Receipt.due_date, Receipt.number)  # type: ignore[arg-type]
    ))


def _linkable(session: Session, ctx: AppContext, policy: Policy, client: Client,
              currency: str, now: datetime) -> list[PendingRow]:
    """The policy's pending receipts in `currency` that a link could take now (no live link
    covers them): the same rule as the claim's (services/link_claim.py)."""
    pending = [r for r in _pending_of_policy(session, policy.id or 0) if r.currency == currency]
    live = live_receipt_ids(session, [r.id for r in pending if r.id is not None], now)
    return [row_of(ctx, r, policy, client) for r in pending if r.id not in live]


def _policy_and_client(session: Session, rec: Receipt) -> tuple[Policy, Client]:
    policy = session.get(Policy, rec.policy_id)
    client = session.get(Client, policy.client_id) if policy else None
    assert policy is not None and client is not None
    return policy, client


def _chosen(session: Session, ctx: AppContext, numbers: tuple[str, ...],
            policy_number: str | None, now: datetime) -> list[Receipt]:
    """The receipts a link would take, with the errors `generate_link` would raise for them
    (missing, not pending, several policies or currencies)."""
    from paylink_tui.services.links import check_one_policy_and_currency, check_pending

    if numbers:
        # Outside the portfolio (team mode) is "does not exist": the scope is in the query.
        found = {r.number: r for r in session.scalars(scoped(
            select(Receipt).where(Receipt.number.in_(numbers)),  # type: ignore[attr-defined]
            receipt_scope(ctx)))}
        missing = [n for n in numbers if n not in found]
        if missing:
            raise ReceiptNotFound(("No existe el recibo " if len(missing) == 1
                                   else "No existen los recibos ") + ", ".join(missing) + ".")
        chosen = [found[n] for n in numbers]
        others = [r.number for r in chosen if policy_number and r.policy_number != policy_number]
        if others:
            raise MixedReceipts(f"Los recibos {', '.join(others)} no son de la póliza {policy_number}.")
        check_pending(chosen)
        check_one_policy_and_currency(chosen, None)
        return chosen
    assert policy_number is not None
    policy = session.scalars(scoped(
        select(Policy).where(Policy.number == policy_number),  # type: ignore[arg-type]
        policy_scope(ctx))).first()
    if policy is None:
        raise ReceiptNotFound(f"No existe la póliza {policy_number}.")
    pending = _pending_of_policy(session, policy.id or 0)
    if not pending:
        raise NotPending(f"La póliza {policy_number} no tiene recibos pendientes de pago.")
    live = live_receipt_ids(session, [r.id for r in pending if r.id is not None], now)
    chosen = [r for r in pending if r.id not in live] or pending
    check_one_policy_and_currency(chosen, policy_number)
    return chosen


def link_preview(ctx: AppContext, *, receipt_numbers: Sequence[str] = (),
                 policy_number: str | None = None) -> LinkPreview:
    """What a link for these receipts (or the policy's pending receipts) would be if made
    now, with its warnings. Raises the LinkError `generate_link` would raise for the same
    choice (except "already linked", which only the claim can tell for sure)."""
    numbers = tuple(dict.fromkeys(n.strip() for n in receipt_numbers if n and n.strip()))
    policy_number = (policy_number or "").strip() or None
    if not numbers and policy_number is None:
        raise LinkError("Indique los recibos o la póliza para la liga.")
    now = ctx.now()
    with read_session(ctx.engine) as session:
        chosen = _chosen(session, ctx, numbers, policy_number, now)
        policy, client = _policy_and_client(session, chosen[0])
        rows = sorted((row_of(ctx, r, policy, client) for r in chosen),
                      key=lambda r: (r.due_date, r.receipt))
        candidates = _linkable(session, ctx, policy, client, rows[0].currency, now)
    window = link_window(now, ctx.tz)
    older = older_left_out((r.due_date for r in rows), candidates, (r.receipt for r in rows))
    first = rows[0]  # the earliest due: the first to lapse
    assert first.lapses_at is not None
    return LinkPreview(
        policy=policy.number, holder=first.holder, email=client.email, receipts=tuple(rows),
        amount=sum((r.amount for r in rows), Decimal("0.00")), currency=first.currency,
        valid_through=window.last_valid_day, expires_at=window.expires_at,
        lapses_at=first.lapses_at,
        lapse_warning=lapse_warning(lapses_at=first.lapses_at, receipt=first.receipt,
                                    valid_through=window.last_valid_day,
                                    expires_at=window.expires_at, now=now, tz=ctx.tz),
        older_pending=tuple(older), older_warning=older_warning(policy.number, older),
        whatsapp=whatsapp_number(client.phone) is not None,
    )


def advise(ctx: AppContext, link: GeneratedLink) -> GeneratedLink:
    """`link` (just made) with the holder, the older receipts it left out, its lapse warning
    and its WhatsApp address."""
    now = ctx.now()
    with read_session(ctx.engine) as session:
        policy = session.scalars(select(Policy).where(Policy.number == link.policy_number)).first()  # type: ignore[arg-type]
        if policy is None:  # pragma: no cover - the link was just made for it
            return link
        client = session.get(Client, policy.client_id)
        assert client is not None
        linked = [row_of(ctx, r, policy, client) for r in session.scalars(
            select(Receipt).where(Receipt.number.in_(link.receipt_numbers)))]  # type: ignore[attr-defined]
        candidates = _linkable(session, ctx, policy, client, link.currency, now)
    holder = full_name(client.first_name, client.last_name, client.second_last_name)
    older = older_left_out((r.due_date for r in linked), candidates, link.receipt_numbers)
    first = min(linked, key=lambda r: (r.due_date, r.receipt)) if linked else None
    warning = None
    if first is not None and first.lapses_at is not None:
        warning = lapse_warning(lapses_at=first.lapses_at, receipt=first.receipt,
                                valid_through=link.valid_through, expires_at=link.expires_at,
                                now=now, tz=ctx.tz)
    return dataclasses.replace(
        link, holder=holder, older_pending=tuple(older),
        older_warning=older_warning(policy.number, older),
        lapses_at=first.lapses_at if first is not None else None, lapse_warning=warning,
        whatsapp_url=link_whatsapp_url(
            phone=client.phone, holder=holder, policy=policy.number,
            amount_text=format_money(link.amount, link.currency), url=link.url,
            valid_through=link.valid_through),
    )
