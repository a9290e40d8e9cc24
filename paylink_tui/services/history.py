"""Every link sent and what became of it: the status screen and `paylink-tui history`.

A link's history (its timeline) is built by services/timeline.py."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, or_, select

from paylink_tui.domain.dates import local_date, to_local, utc
from paylink_tui.domain.status import (
    LinkState,
    LinkStatus,
    NotificationStatus,
    ReviewReason,
    link_status,
)
from paylink_tui.domain.text import full_name
from paylink_tui.services.context import AppContext
from paylink_tui.services.timeline import (
    TimelineEvent,
    audit_trail,
    build_timeline,
    generated_address,
)
from paylink_tui.store.db import read_session
from paylink_tui.store.models import (
    Client,
    EmailMessage,
    LinkReceipt,
    Notification,
    PaymentAttempt,
    PaymentLink,
    Policy,
    Receipt,
)
from paylink_tui.store.types import sum_in_cents


@dataclass(frozen=True)
class AttemptRow:
    result: str  # approved | denied | error
    cd_error: str | None
    nb_error: str | None
    authorization: str | None
    taken_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class LinkFlag:
    """Why a link is flagged for review: a payment for an OLDER link with some of the same
    receipts is kept "por revisar" (domain.md: a late payment for an older link is applied and
    the newer link is flagged). Derived, not stored: it lasts while that review is unresolved."""

    notification_id: int
    older_reference: str
    applied: bool  # the payment was applied to the older link: the receipts are paid
    received_at: datetime


@dataclass(frozen=True)
class LinkRow:
    link_id: int
    reference: str
    url: str | None
    policy: str
    receipts: list[str]
    holder: str
    email: str
    amount: Decimal
    currency: str
    agent: str
    created_at: datetime
    valid_through: date
    status: str  # LinkStatus value
    email_status: str | None  # status of the newest link email
    last_attempt: AttemptRow | None
    authorization: str | None
    paid_at: datetime | None
    folio: str | None
    card_type: str | None
    card_mask: str | None
    cancelled_at: datetime | None
    review_count: int  # unresolved reviews of its own payments
    flags: tuple[LinkFlag, ...] = ()  # reviews of older links' payments for its receipts
    open_at_mit: bool = False  # MIT can still take a payment for it (cancelled or not)

    @property
    def needs_review(self) -> bool:
        """Something about this link is "por revisar": its own payment, or a flag."""
        return bool(self.review_count or self.flags)


@dataclass(frozen=True)
class EmailRow:
    id: int
    kind: str
    to: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class NotificationRow:
    id: int
    folio: str | None
    reference: str | None
    response: str | None
    amount: Decimal | None
    authorization: str | None
    taken_at: datetime | None
    received_at: datetime
    status: str
    review_reason: str | None
    note: str | None


@dataclass(frozen=True)
class LinkDetail:
    link: LinkRow
    receipts: list[tuple[str, Decimal, str, date]]  # number, amount, currency, due date
    emails: list[EmailRow]
    attempts: list[AttemptRow]
    notifications: list[NotificationRow]
    timeline: list[TimelineEvent]
    # The address it was generated for: link.email is where it goes now (a resend to a
    # corrected address changes that, never this).
    generated_for: str | None = None


@dataclass(frozen=True)
class Summary:
    sent_today: int
    sent_week: int
    paid_share: float | None
    collected: dict[str, Decimal] = field(default_factory=dict)
    daily_sent: list[int] = field(default_factory=list)  # last 14 local days, oldest first


@dataclass(frozen=True)
class PaidEvent:
    reference: str
    policy: str
    authorization: str | None
    paid_at: datetime | None
    amount: Decimal
    currency: str


VISIBLE_STATES = (LinkState.ACTIVE.value, LinkState.PAID.value, LinkState.CANCELLED.value,
                  LinkState.UNCONFIRMED.value, LinkState.CREATING.value)


def list_links(ctx: AppContext, *, status: str | None = None, mine: bool = False,
               limit: int | None = 500, references: list[str] | None = None) -> list[LinkRow]:
    """Links, newest first. `status` filters by the status the agent sees."""
    now = ctx.now()
    lk = PaymentLink.__table__.c
    q = select(PaymentLink).order_by(lk.created_at.desc(), lk.id.desc())
    if mine:
        q = q.where(lk.agent == ctx.agent)
    if references is not None:
        q = q.where(lk.reference.in_(references))
    if status in (LinkStatus.PAID.value, LinkStatus.CANCELLED.value):
        q = q.where(lk.state == status)
    elif status == LinkStatus.EXPIRED.value:
        q = q.where(lk.state.notin_([LinkState.PAID.value, LinkState.CANCELLED.value]),
                    lk.expires_at <= now)
    elif status in (LinkStatus.ACTIVE.value, LinkStatus.PENDING_CONFIRMATION.value):
        q = q.where(lk.state.notin_([LinkState.PAID.value, LinkState.CANCELLED.value]),
                    lk.expires_at > now)
    if limit is not None and status is None:
        q = q.limit(limit)
    with read_session(ctx.engine) as session:
        links = list(session.scalars(q))
        rows = _rows(session, links, now)
    if status is not None:
        rows = [r for r in rows if r.status == status]
        if limit is not None:
            rows = rows[:limit]
    return rows


def _rows(session, links: list[PaymentLink], now: datetime) -> list[LinkRow]:  # type: ignore[no-untyped-def]
    if not links:
        return []
    ids = [lk.id for lk in links]
    r = Receipt.__table__.c
    lr = LinkReceipt.__table__.c
    receipts: dict[int, list[str]] = defaultdict(list)
    for link_id, number in session.execute(
        select(lr.link_id, r.number).join(Receipt.__table__, r.id == lr.receipt_id)
        .where(lr.link_id.in_(ids)).order_by(r.number)
    ):
        receipts[link_id].append(number)
    p = Policy.__table__.c
    c = Client.__table__.c
    policies: dict[int, tuple[str, str]] = {}
    for pid, number, first, last, second in session.execute(
        select(p.id, p.number, c.first_name, c.last_name, c.second_last_name)
        .join(Client.__table__, c.id == p.client_id)
        .where(p.id.in_({lk.policy_id for lk in links}))
    ):
        policies[pid] = (number, full_name(first, last, second))
    e = EmailMessage.__table__.c
    email_status: dict[int, str] = {}
    for link_id, st in session.execute(
        select(e.link_id, e.status).where(e.link_id.in_(ids), e.kind == "link").order_by(e.id)
    ):
        email_status[link_id] = st  # the newest wins
    a = PaymentAttempt.__table__.c
    attempts: dict[int, AttemptRow] = {}
    for row in session.execute(
        select(a.link_id, a.result, a.cd_error, a.nb_error, a.authorization, a.taken_at, a.created_at)
        .where(a.link_id.in_(ids)).order_by(a.created_at, a.id)
    ):
        attempts[row[0]] = AttemptRow(*row[1:])
    n = Notification.__table__.c
    reviews: dict[int, int] = dict(
        session.execute(
            select(n.link_id, func.count()).where(n.link_id.in_(ids), n.status == "review")
            .group_by(n.link_id)
        ).all()
    )
    flags = _flags(session, ids)
    out = []
    for lk in links:
        policy, holder = policies.get(lk.policy_id, ("", ""))
        out.append(LinkRow(
            link_id=lk.id, reference=lk.reference, url=lk.url, policy=policy,
            receipts=receipts.get(lk.id, []), holder=holder, email=lk.email, amount=lk.amount,
            currency=lk.currency, agent=lk.agent, created_at=lk.created_at,
            valid_through=lk.last_valid_day,
            status=link_status(lk.state, lk.expires_at, now).value,
            email_status=email_status.get(lk.id), last_attempt=attempts.get(lk.id),
            authorization=lk.authorization, paid_at=lk.paid_at, folio=lk.folio,
            card_type=lk.card_type, card_mask=lk.card_mask, cancelled_at=lk.cancelled_at,
            review_count=reviews.get(lk.id, 0),
            flags=tuple(flags.get(lk.id, ())),
            open_at_mit=lk.state != LinkState.PAID.value and utc(now) < utc(lk.expires_at),
        ))
    return out


# A review of one of these was applied to its link (the receipts are paid); the others wait.
_APPLIED_REASONS = (ReviewReason.NEWER_LINK.value, ReviewReason.CANCELLED_LINK.value)


def _flags(session, ids: list[int]) -> dict[int, list[LinkFlag]]:  # type: ignore[no-untyped-def]
    """For the links `ids`, the unresolved reviews of payments for older links that share a
    receipt with them: one query for the whole page. The same links that the payment flagged
    when it arrived (notifications._newer_links): created later than the paid link, and not a
    link we had cancelled that had already expired by then."""
    lr = LinkReceipt.__table__
    pl = PaymentLink.__table__
    n = Notification.__table__.c
    mine, their = lr.alias("mine"), lr.alias("their")
    this, older = pl.alias("this"), pl.alias("older")
    rows = session.execute(
        select(mine.c.link_id, n.id, older.c.reference, n.review_reason, n.received_at)
        .select_from(
            mine.join(this, this.c.id == mine.c.link_id)
            .join(their, and_(their.c.receipt_id == mine.c.receipt_id,
                              their.c.link_id != mine.c.link_id))
            .join(older, older.c.id == their.c.link_id)
            .join(Notification.__table__, n.link_id == older.c.id))
        .where(mine.c.link_id.in_(ids),
               n.status == NotificationStatus.REVIEW.value,
               older.c.created_at < this.c.created_at,
               or_(this.c.state != LinkState.CANCELLED.value,
                   this.c.expires_at > n.received_at))
        .distinct()
        .order_by(n.received_at, n.id)
    ).all()
    out: dict[int, list[LinkFlag]] = defaultdict(list)
    for link_id, nid, reference, reason, received_at in rows:
        out[link_id].append(LinkFlag(nid, reference, reason in _APPLIED_REASONS, received_at))
    return out


def link_detail(ctx: AppContext, reference: str) -> LinkDetail | None:
    now = ctx.now()
    with read_session(ctx.engine) as session:
        link = session.scalars(
            select(PaymentLink).where(PaymentLink.__table__.c.reference == reference)
        ).first()
        if link is None:
            return None
        row = _rows(session, [link], now)[0]
        r = Receipt.__table__.c
        lr = LinkReceipt.__table__.c
        receipts = [
            (num, Decimal(amount), cur, due)
            for num, amount, cur, due in session.execute(
                select(r.number, lr.amount, r.currency, r.due_date)
                .join(LinkReceipt.__table__, lr.receipt_id == r.id)
                .where(lr.link_id == link.id).order_by(r.number)
            )
        ]
        e = EmailMessage.__table__.c
        emails = [
            EmailRow(m.id, m.kind, m.to_addr, m.status, m.attempts, m.last_error, m.sent_at, m.created_at)
            for m in session.scalars(select(EmailMessage).where(e.link_id == link.id).order_by(e.id))
        ]
        a = PaymentAttempt.__table__.c
        attempts = [
            AttemptRow(x.result, x.cd_error, x.nb_error, x.authorization, x.taken_at, x.created_at)
            for x in session.scalars(
                select(PaymentAttempt).where(a.link_id == link.id).order_by(a.created_at, a.id)
            )
        ]
        n = Notification.__table__.c
        notifications = [
            _notification_row(x)
            for x in session.scalars(
                select(Notification)
                .where((n.link_id == link.id) | (n.reference == link.reference))
                .order_by(n.received_at, n.id)
            )
        ]
        trail = audit_trail(session, link)
    generated_for = generated_address(trail, emails, row.email)
    return LinkDetail(
        link=row, receipts=receipts, emails=emails, attempts=attempts,
        notifications=notifications,
        timeline=build_timeline(row, emails, notifications, trail, generated_for),
        generated_for=generated_for,
    )


def _notification_row(x: Notification) -> NotificationRow:
    return NotificationRow(
        id=x.id or 0, folio=x.folio, reference=x.reference, response=x.response, amount=x.amount,
        authorization=x.authorization, taken_at=x.taken_at, received_at=x.received_at,
        status=x.status, review_reason=x.review_reason, note=x.note,
    )


def list_review_rows(ctx: AppContext) -> list[NotificationRow]:
    """Notifications kept for review ("Por revisar"), oldest first."""
    n = Notification.__table__.c
    with read_session(ctx.engine) as session:
        return [
            _notification_row(x)
            for x in session.scalars(
                select(Notification).where(n.status == "review").order_by(n.received_at, n.id)
            )
        ]


def summary(ctx: AppContext) -> Summary:
    now = ctx.now()
    today = local_date(now, ctx.tz)
    start = today - timedelta(days=13)
    week_start = today - timedelta(days=today.weekday())
    lk = PaymentLink.__table__.c
    since = to_local(now, ctx.tz).start_of("day").subtract(days=13)
    counts = [0] * 14
    sent_week = 0
    with read_session(ctx.engine) as session:
        for created_at, in session.execute(
            select(lk.created_at).where(lk.created_at >= since, lk.state.in_(VISIBLE_STATES))
        ):
            d = local_date(created_at, ctx.tz)
            if start <= d <= today:
                counts[(d - start).days] += 1
            if week_start <= d <= today:
                sent_week += 1
        total, paid = session.execute(
            select(func.count(), func.count().filter(lk.state == LinkState.PAID.value))
            .where(lk.state.in_(VISIBLE_STATES))
        ).one()
        collected = {
            cur: (Decimal(cents) / 100).quantize(Decimal("0.01"))
            for cur, cents in session.execute(
                select(lk.currency, sum_in_cents(lk.amount)).where(lk.state == LinkState.PAID.value)
                .group_by(lk.currency).order_by(lk.currency)
            )
        }
    return Summary(
        sent_today=counts[-1], sent_week=sent_week,
        paid_share=(paid / total) if total else None, collected=collected, daily_sent=counts,
    )


def latest_payments(ctx: AppContext, since: datetime) -> list[PaidEvent]:
    """Links paid after `since` (by when they were recorded), for the live toast."""
    lk = PaymentLink.__table__.c
    p = Policy.__table__.c
    with read_session(ctx.engine) as session:
        return [
            PaidEvent(ref, pol, auth, paid_at, Decimal(amount), cur)
            for ref, pol, auth, paid_at, amount, cur in session.execute(
                select(lk.reference, p.number, lk.authorization, lk.paid_at, lk.amount, lk.currency)
                .join(Policy.__table__, p.id == lk.policy_id)
                .where(lk.state == LinkState.PAID.value, lk.updated_at > since)
                .order_by(lk.updated_at)
            )
        ]
