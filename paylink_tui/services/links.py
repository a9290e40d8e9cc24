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

Where the code is
-----------------
This module holds the public use cases. Step 1, the claim, and the references are in
services/link_claim.py; steps 2 and 3, the call and its outcome, in services/link_call.py;
the checks, locks and words they share in services/link_checks.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from paylink_tui.domain.address import check_email, refused_email_message
from paylink_tui.domain.dates import long_date, utc
from paylink_tui.domain.errors import (
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
from paylink_tui.domain.results import EmailResult, GeneratedLink
from paylink_tui.domain.status import EmailStatus, LinkState
from paylink_tui.mail.errors import MailError
from paylink_tui.services import audit, events
from paylink_tui.services.access import may_touch_link_of
from paylink_tui.services.context import AppContext
from paylink_tui.services.link_call import (
    _call_and_confirm,
    _deliver,
    _queue_link_email,
    _record_failed_send,
    _restore_hidden,
)
from paylink_tui.services.link_checks import (
    _cannot,
    _check_retryable,
    _clean_numbers,
    _gateway,
    _is_stale,
    _lock_link,
    _refuse_a_second_charge,
    stale_after,
)
from paylink_tui.services.link_claim import (
    LIVE_STATES,
    _check_one_policy_and_currency,
    _check_pending,
    _claim,
    _reclaim,
    check_gateway,
    make_reference,
)
from paylink_tui.store.db import write_session
from paylink_tui.store.models import EmailMessage, PaymentLink, Receipt

# What other code and the tests import from here: the use cases, their errors, and what the
# other use cases on links share (the checks, the locks, the references).
__all__ = [
    "LIVE_STATES",
    "AlreadyLinked",
    "Forbidden",
    "GatewayFailure",
    "GatewayNotConfiguredError",
    "InvalidEmail",
    "LinkError",
    "LinkNotFound",
    "LinkStateError",
    "MixedReceipts",
    "NotPending",
    "OutcomeUnknown",
    "ReceiptNotFound",
    "cancel_link",
    "check_email",
    "check_gateway",
    "check_one_policy_and_currency",
    "check_pending",
    "generate_link",
    "lock_link",
    "make_reference",
    "refuse_a_second_charge",
    "refused_email_message",
    "resend_link_email",
    "retry_link",
    "stale_after",
]


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


def _link_event(session: Session, link: PaymentLink, receipts: list[Receipt], now: datetime,
                change: str, *, by: str) -> None:
    events.record(session, at=now, kind=events.LINK_CHANGED, link_id=link.id,
                  reference=link.reference,
                  policy_number=receipts[0].policy_number if receipts else None,
                  agent=link.agent, data={"change": change, "by": by})


# Shared with the other use cases on links: the same checks for a link's preview
# (services/link_advice.py); the same locks and the same "never a second charge" rule for a
# reminder (services/reminders.py).
check_pending = _check_pending
check_one_policy_and_currency = _check_one_policy_and_currency
lock_link = _lock_link
refuse_a_second_charge = _refuse_a_second_charge
