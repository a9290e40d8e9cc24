"""Reconciliation: ask MIT's transaction query about the links whose payment may never have
been notified (our server down, a broken proxy, MIT's post lost), and feed what it lists
through the same store-then-apply path as a notification.

- Which links: every one that can still receive a payment and has none — active,
  unconfirmed, expired but within the grace day, cancelled (MIT still takes it until it
  expires) — asked about each day since it was generated, through its last valid day.
  With a day (`--fecha`): the links that could have been paid that day, that day only.
- `serve` reconciles on its own (`reconcile_due`): links whose last valid day is today or
  yesterday, and unconfirmed links, each at most once per interval (claimed in the database
  through `reconciled_at`, so several processes share the work), its calls spread out.
- What MIT lists is stored like a notification: identity (operation number = folio,
  without leading zeros, and reference), the same rules, the same review queue. One
  already stored changes nothing — unless it is an approval waiting for MIT's
  confirmation, which this answer confirms. Only sales are fed (not refunds, cancellations
  or legacy automatic charges).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, or_, select, update

from paylink_tui.domain.dates import local_date, utc
from paylink_tui.domain.money import CENT
from paylink_tui.domain.results import ReconcileFound as Found
from paylink_tui.domain.results import ReconcileReport
from paylink_tui.domain.status import LinkState, NotificationStatus
from paylink_tui.domain.text import clean_text
from paylink_tui.gateway.base import Transaction
from paylink_tui.gateway.errors import GatewayError, GatewayNotConfigured
from paylink_tui.gateway.mit_query import same_operation
from paylink_tui.services.access import link_scope, scoped
from paylink_tui.services.context import AppContext
from paylink_tui.services.notifications.apply import _apply_in
from paylink_tui.services.notifications.common import _N, _PL, _conn, _deliver, _write
from paylink_tui.services.notifications.confirm import (
    CONFIRMING,
    SALE,
    can_confirm,
    confirm_in,
    match,
    registered_at,
)
from paylink_tui.services.notifications.receive import _insert, safe_mask, scrub_raw_xml
from paylink_tui.store.db import is_sqlite

log = logging.getLogger(__name__)

SOURCE = "reconcile"
# A link whose query failed is due again after this long, not a whole interval later.
RETRY_AFTER = timedelta(minutes=5)
OPEN_STATES = (LinkState.ACTIVE.value, LinkState.UNCONFIRMED.value, LinkState.CANCELLED.value)


@dataclass(frozen=True)
class Ask:
    """One link to ask MIT about, and the local days to ask."""

    link_id: int
    reference: str
    days: tuple[date, ...]


def days_to_ask(link: Any, tz: str, today: date, only: date | None = None) -> tuple[date, ...]:
    """The local days MIT may have taken a payment for `link`: from the day it was generated
    through its last valid day (and not after today); just `only` when given."""
    first = local_date(link.created_at, tz)
    last = min(link.last_valid_day, today)
    if only is not None:
        return (only,) if first <= only <= link.last_valid_day else ()
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def _open(now: datetime) -> Any:
    """Links that can still receive a payment we would not know of: not paid, and not past
    the grace day (local 00:00 of D+5)."""
    return and_(_PL.c.state.in_(OPEN_STATES), _PL.c.hidden_until > now)


def _select(ctx: AppContext, where: Any) -> list[Any]:
    query = (select(_PL.c.id, _PL.c.reference, _PL.c.created_at, _PL.c.last_valid_day)
             .where(where).order_by(_PL.c.created_at, _PL.c.id))
    query = scoped(query, link_scope(ctx, _PL))  # an agent reconciles their portfolio's
    with ctx.engine.connect() as conn:
        return list(conn.execute(query))


def _asks(ctx: AppContext, links: list[Any], today: date, only: date | None) -> list[Ask]:
    asks = [Ask(x.id, x.reference, days_to_ask(x, ctx.tz, today, only)) for x in links]
    return [a for a in asks if a.days]


def _require_query(ctx: AppContext) -> None:
    if not can_confirm(ctx):
        raise GatewayNotConfigured(["PAYLINK_MIT_QUERY_URL"])


def reconcile(ctx: AppContext, *, day: date | None = None, pace: float = 0.0
              ) -> ReconcileReport:
    """`paylink-tui reconcile [--fecha]`: every link that can still receive a payment and
    has none (or, with `day`, every unpaid link that could have been paid that day). Raises
    GatewayNotConfigured without a query URL; MIT's failures are counted in the report."""
    _require_query(ctx)
    now = utc(ctx.now())
    today = local_date(now, ctx.tz)
    if day is None:
        links = _select(ctx, _open(now))
    else:
        links = _select(ctx, _PL.c.state.in_(OPEN_STATES))
    return ask(ctx, _asks(ctx, links, today, day), pace=pace)


def _due_links(now: datetime, today: date, interval: timedelta) -> Any:
    return and_(
        _open(now),
        or_(_PL.c.last_valid_day.in_([today, today - timedelta(days=1)]),
            _PL.c.state == LinkState.UNCONFIRMED.value),
        or_(_PL.c.reconciled_at.is_(None), _PL.c.reconciled_at <= now - interval),
    )


def claim_due(ctx: AppContext, *, interval: timedelta, limit: int = 500) -> list[Ask]:
    """serve's own round: the links about to lapse (last valid day today or yesterday) and
    the unconfirmed ones, each claimed for `interval` (its `reconciled_at`) so that no other
    process asks about it meanwhile."""
    if not can_confirm(ctx):
        return []
    now = utc(ctx.now())
    today = local_date(now, ctx.tz)
    due = _due_links(now, today, interval)
    with ctx.engine.connect() as conn:  # a cheap look first: no write lock when none is due
        if conn.execute(select(_PL.c.id).where(due).limit(1)).first() is None:
            return []
    query = (select(_PL.c.id, _PL.c.reference, _PL.c.created_at, _PL.c.last_valid_day)
             .where(due).order_by(_PL.c.last_valid_day, _PL.c.id).limit(limit))
    if not is_sqlite(ctx.engine):
        query = query.with_for_update(skip_locked=True)
    with _write(ctx) as session:
        links = list(_conn(session).execute(query))
        if links:
            _conn(session).execute(update(_PL).where(_PL.c.id.in_([x.id for x in links]))
                                   .values(reconciled_at=now))
    return _asks(ctx, links, today, None)


def retry_at(ctx: AppContext, interval: timedelta) -> datetime:
    """The `reconciled_at` that makes a link whose query failed due again RETRY_AFTER from
    now, instead of a whole interval later."""
    return utc(ctx.now()) - interval + RETRY_AFTER


def reconcile_due(ctx: AppContext, *, interval: timedelta, pace: float = 0.0,
                  limit: int = 500) -> ReconcileReport:
    """One round of serve's reconciliation at once (web/loops.py spreads it out itself)."""
    asks = claim_due(ctx, interval=interval, limit=limit)
    return ask(ctx, asks, pace=pace, retry=retry_at(ctx, interval))


def ask(ctx: AppContext, asks: list[Ask], *, pace: float = 0.0,
        retry: datetime | None = None) -> ReconcileReport:
    """Ask MIT about each link on each of its days (`pace` seconds between two queries) and
    feed what it lists. A link whose query failed gets `reconciled_at = retry` when given."""
    report = ReconcileReport(links=len(asks))
    gateway = ctx.get_gateway()
    seen: set[tuple[str, str]] = set()
    email_ids: list[int] = []
    failed_links: list[int] = []
    for item in asks:
        listed: list[Transaction] = []
        failed = False
        for day in item.days:
            if pace and report.queries:
                time.sleep(pace)
            report.queries += 1
            try:
                listed += gateway.query(item.reference, day)
            except GatewayError as exc:
                report.failed += 1
                failed = True
                if exc.message not in report.errors:
                    report.errors.append(exc.message)
                log.warning("reconcile %r %s: MIT could not be asked (%s)", item.reference, day,
                            getattr(exc, "kind", type(exc).__name__))
        if failed:
            failed_links.append(item.link_id)
        fresh = []
        for t in listed:
            key = (t.reference, t.operation)
            if key in seen:
                continue
            seen.add(key)
            if t.automatic or t.operation_type.upper() not in SALE or not t.operation:
                report.ignored += 1
                continue
            fresh.append(t)
        if fresh:
            found, ids = feed(ctx, fresh)
            report.found += found
            email_ids += ids
    if failed_links and retry is not None:
        with _write(ctx) as session:
            _conn(session).execute(update(_PL).where(_PL.c.id.in_(failed_links))
                                   .values(reconciled_at=retry))
    _deliver(ctx, tuple(email_ids))
    return report


# -- feeding what MIT lists ----------------------------------------------------------------------


def _text(value: str, size: int) -> str | None:
    """Cleaned as a notification's fields are (no controls, line breaks or bidi marks)."""
    value = clean_text(value)
    return value[:size] if value else None


def transaction_values(ctx: AppContext, t: Transaction, now: datetime) -> dict[str, Any]:
    """A listed transaction as a notification row (the same columns, the same identity)."""
    amount = t.amount
    if amount is not None and (abs(amount) >= Decimal("1e10") or amount != amount.quantize(CENT)):
        amount = None  # does not fit Numeric(12,2): kept in raw_xml, reviewed
    card = "/".join(x for x in (t.instrument.upper(), t.card_brand) if x)
    return {
        "folio": _text(t.operation, 40),
        "reference": _text(t.reference, 100),
        "identity_key": None,  # MIT's operation number and our reference identify it
        "response": _text(t.response, 20),
        "amount": amount,
        "authorization": _text(t.auth, 20),
        "cd_error": _text(t.bank_code, 20),
        "nb_error": _text(t.bank_message, 2000),
        "taken_at": registered_at(t, ctx.tz),
        "card_type": _text(card, 100),
        "card_mask": safe_mask("", t.card_last4),
        "email": None,
        "raw_xml": scrub_raw_xml(t.raw_xml),
        "received_at": now,
        "status": NotificationStatus.REVIEW.value,
        "review_reason": None,
        "source": SOURCE,
        "confirmed_at": now,  # MIT's own list: nothing to confirm
    }


def _stored(session: Any, ctx: AppContext, reference: str, operation: str) -> Any:
    """The notification already stored for this payment: same reference, and the same
    operation number however its zeros were written."""
    query = select(_N.c.id, _N.c.folio, _N.c.status).where(_N.c.reference == reference)
    if not is_sqlite(ctx.engine):
        query = query.with_for_update()
    for row in _conn(session).execute(query):
        if same_operation(row.folio, operation):
            return row
    return None


def feed(ctx: AppContext, found: list[Transaction]) -> tuple[list[Found], list[int]]:
    """Store and apply what MIT listed, each in a transaction of its own (one bad item
    costs nothing to the others). (what became of each, confirmation emails to send)."""
    out: list[Found] = []
    email_ids: list[int] = []
    for t in sorted(found, key=lambda x: (x.reference, x.operation)):
        now = ctx.now()
        try:
            with _write(ctx) as session:
                item, ids = _feed_one(session, ctx, t, now)
        except Exception:
            log.exception("reconcile: transaction %r of %r could not be stored", t.operation,
                          t.reference)
            continue
        log.info("reconcile: %r of %r (%r): %s%s%s", t.operation, t.reference, t.response,
                 item.status, f" ({item.reason})" if item.reason else "",
                 ", already stored" if item.duplicate else "")
        out.append(item)
        email_ids += ids
    return out, email_ids


def _feed_one(session: Any, ctx: AppContext, t: Transaction,
              now: datetime) -> tuple[Found, tuple[int, ...]]:
    def found(status: str, reason: str | None, duplicate: bool, confirmed: bool = False) -> Found:
        return Found(t.reference, t.operation, t.response, t.amount, status, reason, duplicate,
                     confirmed)

    existing = _stored(session, ctx, t.reference, t.operation)
    if existing is not None:
        if existing.status == CONFIRMING:
            n = session.execute(select(_N).where(_N.c.id == existing.id)).mappings().one()
            verdict, _ = match(SimpleNamespace(**n), [t])
            if verdict == "confirmed":
                done = confirm_in(session, ctx, existing.id, t, now)
                if done is not None:
                    return found(done[0], done[1], True, confirmed=True), done[2]
        row = session.execute(select(_N.c.status, _N.c.review_reason)
                              .where(_N.c.id == existing.id)).one()
        return found(row.status, row.review_reason, True), ()
    values = transaction_values(ctx, t, now)
    notification_id, duplicate = _insert(session, ctx, values)
    if duplicate:  # stored meanwhile by a notification in another process
        row = session.execute(select(_N.c.status, _N.c.review_reason)
                              .where(_N.c.id == notification_id)).one()
        return found(row.status, row.review_reason, True), ()
    fresh = SimpleNamespace(id=notification_id, link_id=None, note=None, **values)
    status, reason, ids = _apply_in(session, ctx, notification_id, now, fresh)
    return found(status, reason, False), ids
