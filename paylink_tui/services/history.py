"""Every link sent and what became of it: the status screen and `paylink-tui history`.

A link's history (its timeline) is built by services/timeline.py."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, or_, select

from paylink_tui.domain.dates import local_date, to_local, utc
from paylink_tui.domain.promotions import installment_months, offered_months
from paylink_tui.domain.results import (  # noqa: F401 - re-exported
    ROLE_SUPERVISOR,
    AttemptRow,
    EmailRow,
    LinkDetail,
    LinkFlag,
    LinkRow,
    NotificationRow,
    Summary,
    TimelineEvent,
)
from paylink_tui.domain.status import (
    LinkState,
    LinkStatus,
    NotificationStatus,
    ReviewReason,
    link_status,
)
from paylink_tui.domain.text import full_name
from paylink_tui.services.access import link_scope, require_role, scoped
from paylink_tui.services.context import AppContext
from paylink_tui.services.timeline import (
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

VISIBLE_STATES = (LinkState.ACTIVE.value, LinkState.PAID.value, LinkState.CANCELLED.value,
                  LinkState.UNCONFIRMED.value, LinkState.CREATING.value)


def list_links(ctx: AppContext, *, status: str | None = None, mine: bool = False,
               limit: int | None = 500, references: list[str] | None = None,
               search: str = "") -> list[LinkRow]:
    """Links, newest first. `status` filters by the status the agent sees; `search` by the
    pending list's rule (services/search.py) over the policy, the receipts and the holder of
    the link's receipts, and over its reference (whole, or any of its parts)."""
    now = ctx.now()
    lk = PaymentLink.__table__.c
    q = select(PaymentLink).order_by(lk.created_at.desc(), lk.id.desc())
    q = q.where(*_search_filters(ctx, search))
    q = scoped(q, link_scope(ctx))  # the portfolio rule (team mode), in the query
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
    elif status == LinkStatus.PAYMENT_CONFIRMING.value:
        q = q.where(lk.state != LinkState.PAID.value, lk.reference.in_(_confirming_refs()))
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


def _search_filters(ctx: AppContext, search: str) -> list:  # type: ignore[type-arg]
    from paylink_tui.services.search import like_filters, starts_with, terms

    lk = PaymentLink.__table__.c
    lr = LinkReceipt.__table__.c
    r = Receipt.__table__.c
    reference = func.lower(lk.reference)
    reference_words = func.replace(reference, "-", " ")
    out = []
    for term in terms(ctx, search):
        on_receipts = (
            select(lr.link_id).join(Receipt.__table__, r.id == lr.receipt_id)
            .where(lr.link_id == lk.id, *like_filters(r.search_text, [term])).exists()
        )
        out.append(or_(on_receipts, *like_filters(reference_words, [term]),
                       *(starts_with(reference, w) for w in term)))
    return out


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
    attempts: dict[int, AttemptRow] = {}
    for link_id, attempt in _attempts(session, ids):
        attempts[link_id] = attempt  # the newest wins
    n = Notification.__table__.c
    reviews: dict[int, int] = dict(
        session.execute(
            select(n.link_id, func.count()).where(n.link_id.in_(ids), n.status == "review")
            .group_by(n.link_id)
        ).all()
    )
    flags = _flags(session, ids)
    confirming = set(session.execute(
        _confirming_refs().where(n.reference.in_([lk.reference for lk in links]))).scalars())
    from paylink_tui.services.reminders import reminders_for

    reminders = reminders_for(session, links, now)
    out = []
    for lk in links:
        policy, holder = policies.get(lk.policy_id, ("", ""))
        out.append(LinkRow(
            link_id=lk.id, reference=lk.reference, url=lk.url, policy=policy,
            receipts=receipts.get(lk.id, []), holder=holder, email=lk.email, amount=lk.amount,
            currency=lk.currency, agent=lk.agent, created_at=lk.created_at,
            valid_through=lk.last_valid_day,
            status=link_status(lk.state, lk.expires_at, now,
                               confirming=lk.reference in confirming).value,
            email_status=email_status.get(lk.id), last_attempt=attempts.get(lk.id),
            authorization=lk.authorization, paid_at=lk.paid_at, folio=lk.folio,
            card_type=lk.card_type, card_mask=lk.card_mask, cancelled_at=lk.cancelled_at,
            review_count=reviews.get(lk.id, 0), paid_amount=lk.paid_amount,
            flags=tuple(flags.get(lk.id, ())),
            open_at_mit=lk.state != LinkState.PAID.value and utc(now) < utc(lk.expires_at),
            installment_plans=offered_months(lk.promotions),
            installment_months=lk.installment_months,
            reminders=tuple(reminders.get(lk.id, ())), reminders_off=bool(lk.no_reminders),
        ))
    return out


def _confirming_refs():  # type: ignore[no-untyped-def]
    """References with an approval waiting for MIT's confirmation."""
    n = Notification.__table__.c
    return select(n.reference).where(n.status == NotificationStatus.CONFIRMING.value).distinct()


def _attempts(session, ids: list[int]) -> list[tuple[int, AttemptRow]]:  # type: ignore[no-untyped-def]
    """(link id, attempt) for the links `ids`, oldest first, with the plan each payer chose
    (the notification's promocion)."""
    a = PaymentAttempt.__table__.c
    n = Notification.__table__.c
    rows = session.execute(
        select(a.link_id, a.result, a.cd_error, a.nb_error, a.authorization, a.taken_at,
               a.created_at, n.promotion)
        .outerjoin(Notification.__table__, n.id == a.notification_id)
        .where(a.link_id.in_(ids)).order_by(a.created_at, a.id)
    )
    return [(link_id, AttemptRow(*rest, installment_months=installment_months(promotion)))
            for link_id, *rest, promotion in rows]


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
        link = session.scalars(scoped(
            select(PaymentLink).where(PaymentLink.__table__.c.reference == reference),
            link_scope(ctx))
        ).first()
        if link is None:  # unknown, or outside the portfolio: the same answer
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
        attempts = [attempt for _, attempt in _attempts(session, [link.id])]
        n = Notification.__table__.c
        notifications = [
            _notification_row(x)
            for x in session.scalars(
                select(Notification)
                .where((n.link_id == link.id) | (n.reference == link.reference))
                .order_by(n.received_at, n.id)
            )
        ]
        phone = session.scalar(
            select(Client.__table__.c.phone)
            .join(Policy.__table__, Policy.__table__.c.client_id == Client.__table__.c.id)
            .where(Policy.__table__.c.id == link.policy_id))
        trail = audit_trail(session, link)
    generated_for = generated_address(trail, emails, row.email)
    return LinkDetail(
        link=row, receipts=receipts, emails=emails, attempts=attempts,
        notifications=notifications,
        timeline=build_timeline(row, emails, notifications, trail, generated_for),
        generated_for=generated_for,
        whatsapp_url=_whatsapp(row, phone),
    )


def _whatsapp(row: LinkRow, phone: str | None) -> str | None:
    """The WhatsApp address of a link the client can still pay (active), else None."""
    from paylink_tui.domain.money import format_money
    from paylink_tui.domain.whatsapp import link_whatsapp_url

    if row.status != LinkStatus.ACTIVE.value:
        return None
    return link_whatsapp_url(phone=phone, holder=row.holder, policy=row.policy,
                             amount_text=format_money(row.amount, row.currency), url=row.url,
                             valid_through=row.valid_through)


def _notification_row(x: Notification) -> NotificationRow:
    return NotificationRow(
        id=x.id or 0, folio=x.folio, reference=x.reference, response=x.response, amount=x.amount,
        authorization=x.authorization, taken_at=x.taken_at, received_at=x.received_at,
        status=x.status, review_reason=x.review_reason, note=x.note, promotion=x.promotion,
        confirm_error=x.confirm_error,
    )


def list_review_rows(ctx: AppContext) -> list[NotificationRow]:
    """Notifications kept for review ("Por revisar"), oldest first: a supervisor's."""
    require_role(ctx, ROLE_SUPERVISOR)
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
    scope = link_scope(ctx)
    with read_session(ctx.engine) as session:
        for created_at, in session.execute(
            scoped(select(lk.created_at).where(lk.created_at >= since,
                                               lk.state.in_(VISIBLE_STATES)), scope)
        ):
            d = local_date(created_at, ctx.tz)
            if start <= d <= today:
                counts[(d - start).days] += 1
            if week_start <= d <= today:
                sent_week += 1
        total, paid = session.execute(scoped(
            select(func.count(), func.count().filter(lk.state == LinkState.PAID.value))
            .where(lk.state.in_(VISIBLE_STATES)), scope)
        ).one()
        collected = {
            cur: (Decimal(cents) / 100).quantize(Decimal("0.01"))
            for cur, cents in session.execute(scoped(
                select(lk.currency, sum_in_cents(func.coalesce(lk.paid_amount, lk.amount)))
                .where(lk.state == LinkState.PAID.value), scope)
                .group_by(lk.currency).order_by(lk.currency)
            )
        }
    return Summary(
        sent_today=counts[-1], sent_week=sent_week,
        paid_share=(paid / total) if total else None, collected=collected, daily_sent=counts,
    )
