"""CONFIRM an approval with MIT before it counts.

MIT's notifications are encrypted with the merchant's key and carry no MAC: whoever holds the
key (or breaks the receiver) can write one. So when MIT's transaction query is configured
(PAYLINK_MIT_QUERY_URL), an approved notification is stored "confirming" and applied only
once MIT's query lists a transaction with the same reference, the same operation number
(the folio; compared without leading zeros), the same amount, approved, as a sale:
- listed and matching: applied as it would have been on arrival (notifications/apply.py);
- listed but different (another amount, denied, not a sale): kept for review at once, loudly;
- not listed: asked again after 30 s, 1, 2, 5 and 10 minutes (MIT may take a moment to list
  it); still not listed after that: kept for review, loudly ("MIT no confirma este pago");
- MIT cannot be asked (down, timeout, garbage, a SOAP fault): asked again a minute later, for
  as long as it takes. Never lost, never applied unconfirmed.

Any number of processes may run `confirm_due`: a notification is claimed with a lease
(`confirm_claimed_until`, like the outbox), and every outcome is written only while that
claim is still ours and the row still "confirming" (row lock on PostgreSQL, the write lock
on SQLite), so one approval is applied once.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import or_, select, update

from paylink_tui.domain.dates import local_date, local_datetime_text, parse_local_datetime, utc
from paylink_tui.domain.money import format_money
from paylink_tui.domain.status import NotificationStatus, ReviewReason
from paylink_tui.gateway.base import Transaction
from paylink_tui.gateway.errors import GatewayError
from paylink_tui.gateway.mit_query import same_operation
from paylink_tui.services import events
from paylink_tui.services.context import AppContext
from paylink_tui.services.notifications.apply import _apply_in
from paylink_tui.services.notifications.common import (
    _N,
    _PL,
    _PO,
    MIT_AGENT,
    _audit,
    _conn,
    _deliver,
    _tell_later,
    _write,
)
from paylink_tui.store.db import is_sqlite

log = logging.getLogger(__name__)

# Seconds to wait after MIT's 1st, 2nd... answer that does not list the approval; after the
# last, it goes to review. About 18 minutes in all.
NOT_LISTED_DELAYS = (30, 60, 120, 300, 600)
NOT_LISTED_LIMIT = len(NOT_LISTED_DELAYS) + 1
# MIT could not be asked: again after this long, for as long as it takes.
UNREACHABLE_DELAY = timedelta(seconds=60)
CONFIRMING = NotificationStatus.CONFIRMING.value
SALE = ("VENTA", "")


@dataclass
class ConfirmReport:
    applied: int = 0  # confirmed by MIT and applied (or kept for review by the usual rules)
    not_confirmed: int = 0  # sent to review: MIT does not list it as notified
    waiting: int = 0  # not listed yet: asked again later
    unreachable: int = 0  # MIT could not be asked: asked again later
    errors: list[str] = field(default_factory=list)  # Spanish, one per failed query
    email_ids: list[int] = field(default_factory=list)


def can_confirm(ctx: AppContext) -> bool:
    """Whether approvals wait for MIT's query: the gateway has a query URL."""
    try:
        return bool(getattr(ctx.get_gateway(), "can_query", False))
    except GatewayError:
        return False


def held_values(ctx: AppContext, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A notification's row values, stored "confirming" when it is an approval MIT must
    confirm first. One that lacks what must be compared (reference, folio, amount) is left
    to the usual rules, which keep it for review (missing fields)."""
    if (values.get("response") != "approved" or not values.get("reference")
            or not values.get("folio") or values.get("amount") is None
            or values.get("source") == "reconcile" or not can_confirm(ctx)):
        return values
    return {**values, "status": CONFIRMING, "review_reason": None, "confirm_next_at": now,
            "confirm_attempts": 0}


def _link_of(session: Any, reference: str | None) -> Any:
    """The link a notification names (id, reference, agent, policy number), or None."""
    row = _conn(session).execute(
        select(_PL.c.id, _PL.c.reference, _PL.c.agent, _PO.c.number.label("policy_number"))
        .select_from(_PL.outerjoin(_PO, _PO.c.id == _PL.c.policy_id))
        .where(_PL.c.reference == reference)).first()
    return row


def held(session: Any, ctx: AppContext, notification_id: int, values: dict[str, Any],
         now: datetime) -> None:
    """Just stored: when it is held for MIT's confirmation, the agents hear that a payment
    arrived (not that it was approved: it counts only once MIT lists it)."""
    if values.get("status") != CONFIRMING:
        return
    link = _link_of(session, values.get("reference"))
    _tell_later(session, events.row(
        kind=events.PAYMENT_RECEIVED, at=now, link_id=getattr(link, "id", None),
        reference=values.get("reference"), policy_number=getattr(link, "policy_number", None),
        agent=getattr(link, "agent", None),
        data={"notification_id": notification_id, "amount": values.get("amount"),
              "folio": values.get("folio")}))


def query_day(n: Any, tz: str) -> date:
    """The local day MIT lists the transaction under: when it says it took the payment."""
    return local_date(n.taken_at or n.received_at, tz)


def match(n: Any, found: list[Transaction]) -> tuple[str, Transaction | None]:
    """("confirmed" | "differs" | "missing", the transaction MIT lists with that folio)."""
    same = [t for t in found
            if t.reference == n.reference and same_operation(t.operation, n.folio)]
    for t in same:
        if (t.approved and t.amount is not None and t.amount == n.amount
                and t.operation_type.upper() in SALE):
            return "confirmed", t
    return ("differs", same[0]) if same else ("missing", None)


# -- claiming ---------------------------------------------------------------------------------


def _lease(ctx: AppContext) -> timedelta:
    return timedelta(seconds=max(120.0, 4 * float(ctx.settings.mit_timeout)))


def _due(now: datetime) -> Any:
    return ((_N.c.status == CONFIRMING) & (_N.c.confirm_next_at <= now)
            & or_(_N.c.confirm_claimed_until.is_(None), _N.c.confirm_claimed_until <= now))


def _claim(ctx: AppContext, now: datetime, limit: int,
           ids: list[int] | None) -> tuple[list[SimpleNamespace], datetime]:
    due = _due(now)
    if ids is not None:
        due = due & _N.c.id.in_(ids)
    with ctx.engine.connect() as conn:  # a cheap look first: no write lock when none is due
        if conn.execute(select(_N.c.id).where(due).limit(1)).first() is None:
            return [], now
    # Unique per claim (a fixed clock in tests, two processes in the same microsecond).
    token = now + _lease(ctx) + timedelta(microseconds=secrets.randbelow(1_000_000))
    query = select(_N).where(due).order_by(_N.c.confirm_next_at, _N.c.id).limit(limit)
    if not is_sqlite(ctx.engine):
        query = query.with_for_update(skip_locked=True)
    with _write(ctx) as session:
        conn = _conn(session)
        rows = [SimpleNamespace(**r) for r in conn.execute(query).mappings()]
        if rows:
            conn.execute(update(_N).where(_N.c.id.in_([r.id for r in rows]), due)
                         .values(confirm_claimed_until=token))
    return rows, token


def _locked(session: Any, ctx: AppContext, notification_id: int) -> SimpleNamespace | None:
    query = select(_N).where(_N.c.id == notification_id)
    if not is_sqlite(ctx.engine):
        query = query.with_for_update()
    row = _conn(session).execute(query).mappings().first()
    return SimpleNamespace(**row) if row is not None else None


# -- the outcomes -----------------------------------------------------------------------------


def confirm_in(session: Any, ctx: AppContext, notification_id: int, t: Transaction,
               now: datetime, token: datetime | None = None
               ) -> tuple[str, str | None, tuple[int, ...]] | None:
    """MIT lists `t` for this "confirming" notification: apply it in the caller's
    transaction. None when it is no longer ours to apply (applied already, or claimed by
    someone else while `token` is ours)."""
    n = _locked(session, ctx, notification_id)
    if n is None or n.status != CONFIRMING or not _still_ours(n, token):
        return None
    # What MIT lists fills what the notification lacked (never overrides it).
    taken_at = n.taken_at or registered_at(t, ctx.tz)
    authorization = n.authorization or t.auth or None
    fresh = {"status": NotificationStatus.REVIEW.value, "review_reason": None,
             "confirmed_at": now, "confirm_claimed_until": None, "confirm_error": None,
             "taken_at": taken_at, "authorization": authorization}
    _conn(session).execute(update(_N).where(_N.c.id == notification_id).values(**fresh))
    for name, value in fresh.items():
        setattr(n, name, value)
    _audit(session, ctx, at=now, agent=MIT_AGENT, action="payment_confirmed",
           subject=f"notificación {n.id} ref {n.reference}",
           detail=f"MIT lista la operación {t.operation} por {t.amount}, aprobada")
    return _apply_in(session, ctx, notification_id, now, n)


def registered_at(t: Transaction, tz: str) -> datetime | None:
    """MIT's `fh_registro` (dd/mm/yyyy HH:MM, insurer-local) as a UTC instant."""
    try:
        return parse_local_datetime(t.registered, "%d/%m/%Y %H:%M", tz)
    except ValueError:
        return None


def _still_ours(n: Any, token: datetime | None) -> bool:
    if token is None:
        return True
    return n.confirm_claimed_until is not None and utc(n.confirm_claimed_until) == utc(token)


def _not_confirmed(session: Any, ctx: AppContext, n: Any, now: datetime, note: str) -> None:
    # %r: the folio and reference are the notification's word, not yet MIT's (no forged
    # line breaks in the log).
    log.error("APPROVAL NOT CONFIRMED BY MIT: notification %s (folio %r, ref %r, amount %s) "
              "kept for review and NOT applied; it may be forged", n.id, n.folio, n.reference,
              n.amount)
    link = _link_of(session, n.reference)
    _conn(session).execute(update(_N).where(_N.c.id == n.id).values(
        status=NotificationStatus.REVIEW.value, review_reason=ReviewReason.NOT_CONFIRMED.value,
        note=note, confirm_claimed_until=None, confirm_next_at=None,
        link_id=getattr(link, "id", None)))
    _audit(session, ctx, at=now, agent=MIT_AGENT, action="payment_not_confirmed",
           subject=f"notificación {n.id} ref {n.reference}", detail=note[:500])
    _tell_later(session, events.row(
        kind=events.REVIEW_ADDED, at=now, link_id=getattr(link, "id", None),
        reference=n.reference, policy_number=getattr(link, "policy_number", None),
        agent=getattr(link, "agent", None),
        data={"reason": ReviewReason.NOT_CONFIRMED.value, "notification_id": n.id,
              "response": n.response}))


def _differs_note(ctx: AppContext, n: Any, t: Transaction) -> str:
    what = "aprobada" if t.approved else ("rechazada" if t.response == "denied"
                                          else f"«{t.response or 'sin respuesta'}»")
    currency = t.currency or "MXN"
    amount = format_money(t.amount, currency) if t.amount is not None else "sin monto"
    told = format_money(n.amount, currency) if n.amount is not None else "sin monto"
    kind = f", {t.operation_type}" if t.operation_type.upper() not in SALE else ""
    return (f"MIT registra la operación {n.folio} por {amount}, {what}{kind}; la notificación "
            f"decía {told}, aprobada. No se aplicó: podría ser una notificación falsificada; "
            "verifíquela en el portal de MIT.")


def _missing_note(n: Any, attempts: int, first: datetime, tz: str) -> str:
    return (f"MIT no lista la operación {n.folio} de la referencia {n.reference} tras "
            f"{attempts} consultas (desde el {local_datetime_text(first, tz)}). No se aplicó: "
            "podría ser una notificación falsificada; verifíquela en el portal de MIT.")


def _settle(ctx: AppContext, n: Any, token: datetime, verdict: str, t: Transaction | None,
            report: ConfirmReport) -> None:
    now = ctx.now()
    with _write(ctx) as session:
        if verdict == "confirmed":
            assert t is not None  # noqa: S101
            done = confirm_in(session, ctx, n.id, t, now, token)
            if done is not None:
                report.applied += 1
                report.email_ids.extend(done[2])
            return
        row = _locked(session, ctx, n.id)
        if row is None or row.status != CONFIRMING or not _still_ours(row, token):
            return
        if verdict == "differs":
            assert t is not None  # noqa: S101
            _not_confirmed(session, ctx, row, now, _differs_note(ctx, row, t))
            report.not_confirmed += 1
            return
        attempts = row.confirm_attempts + 1
        if attempts >= NOT_LISTED_LIMIT:
            _not_confirmed(session, ctx, row, now,
                           _missing_note(row, attempts, row.received_at, ctx.tz))
            report.not_confirmed += 1
            return
        delay = timedelta(seconds=NOT_LISTED_DELAYS[attempts - 1])
        log.warning("notification %s (folio %r, ref %r): not listed by MIT yet (%d of %d); "
                    "asking again in %s", row.id, row.folio, row.reference, attempts,
                    NOT_LISTED_LIMIT, delay)
        _conn(session).execute(update(_N).where(_N.c.id == row.id).values(
            confirm_attempts=attempts, confirm_next_at=now + delay, confirm_claimed_until=None,
            confirm_error=None))
        report.waiting += 1


def _unreachable(ctx: AppContext, n: Any, token: datetime, exc: GatewayError,
                 report: ConfirmReport) -> None:
    now = ctx.now()
    report.unreachable += 1
    report.errors.append(exc.message)
    with _write(ctx) as session:
        _conn(session).execute(
            update(_N).where(_N.c.id == n.id, _N.c.status == CONFIRMING,
                             _N.c.confirm_claimed_until == token)
            .values(confirm_next_at=now + UNREACHABLE_DELAY, confirm_claimed_until=None,
                    confirm_error=exc.message))


def confirm_due(ctx: AppContext, *, limit: int = 20, ids: list[int] | None = None,
                deliver: bool = True) -> ConfirmReport:
    """Ask MIT about the approvals whose turn it is (only `ids` when given) and settle each.
    Never raises for MIT's failures: they are counted, logged and retried later."""
    report = ConfirmReport()
    if not can_confirm(ctx):
        return report
    claimed, token = _claim(ctx, utc(ctx.now()), limit, ids)
    gateway = ctx.get_gateway()
    for n in claimed:
        try:
            found = gateway.query(n.reference, query_day(n, ctx.tz))
        except GatewayError as exc:
            log.warning("notification %s (ref %r): MIT could not be asked (%s); again in %s",
                        n.id, n.reference, getattr(exc, "kind", type(exc).__name__),
                        UNREACHABLE_DELAY)
            _unreachable(ctx, n, token, exc, report)
            continue
        verdict, t = match(n, found)
        _settle(ctx, n, token, verdict, t, report)
    if deliver:
        _deliver(ctx, tuple(report.email_ids))
    return report
