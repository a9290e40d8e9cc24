"""Steps 2 and 3 of a link: the call to MIT, outside any transaction, and its outcome.

Split out of services/links.py, whose docstring tells why a link is made in three steps
and what happens when MIT fails. A success confirms the link (active, MIT's URL, its email
queued in the same transaction, then delivered); a definite failure releases the claim and
restores its receipts; an unknown outcome marks the link unconfirmed. The claim it works
on comes from services/link_claim.py.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlmodel import Session

from paylink_tui.domain.dates import local_date, utc
from paylink_tui.domain.errors import LinkStateError, OutcomeUnknown
from paylink_tui.domain.money import format_money
from paylink_tui.domain.results import GeneratedLink
from paylink_tui.domain.status import EmailStatus, LinkState
from paylink_tui.gateway.base import LinkRequest, PaymentGateway
from paylink_tui.gateway.errors import GatewayError, GatewayUnavailable
from paylink_tui.mail.errors import MailError
from paylink_tui.services import audit, events
from paylink_tui.services.context import AppContext
from paylink_tui.services.link_checks import _failure, _lock_link_by_id, _lock_receipts_of
from paylink_tui.services.link_claim import _Claim
from paylink_tui.store.db import write_session
from paylink_tui.store.models import EmailMessage, LinkReceipt, PaymentLink, Receipt

log = logging.getLogger(__name__)

MAX_EXTRA_VALUE = 50  # MIT's limit for a datos_adicionales value
MAX_MIT_EMAIL = 50  # MIT's limit for mail_cliente (it only pre-fills the payment form)


# -- steps 2 and 3: the call and its outcome --------------------------------------------------


def _extra(claim: _Claim) -> tuple[tuple[str, str], ...]:
    receipts = ", ".join(claim.receipt_numbers)
    if len(receipts) > MAX_EXTRA_VALUE:
        receipts = receipts[: MAX_EXTRA_VALUE - 1].rstrip(", ") + "…"
    return (("Póliza", claim.policy_number[:MAX_EXTRA_VALUE]), ("Recibos", receipts))


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
