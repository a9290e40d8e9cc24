"""The pending list: receipts pending and not hidden by a link, sorted by policy (or by
lapse, most urgent first: `sort=SORT_LAPSE`).

Pages are keyset-paged on (policy number, due date, receipt number), never OFFSET, so the
millionth row costs what the first does. By lapse they are keyset-paged on (due date, policy
number, receipt number) with an index of their own (`ix_receipt_lapse_order`): every receipt
lapses at 12:00 of its due date plus the same grace days, so the lapse order is the due-date
order, and each row carries its `lapses_at` (domain/lapse.py).

Search is case- and accent-insensitive: each word typed must start a word of the policy
number, the receipt number or the holder's name ("pena" finds "Peña", "gomez" finds
"GÓMEZ", "au0100" and "0100" find policy AU01000187; the rule is services/search.py's).
How it stays fast at 1,000,000 receipts (see
bench/pending.py for the figures):
- a rare term (few matches): the word index (FTS5 on SQLite) gives the few candidate rows
  directly; they are filtered and sorted in memory;
- a common term (many matches): walking the sort index and filtering finds a page of
  matches after a few rows, so it is done that way.
The two are chosen by asking the word index for up to RARE_LIMIT candidates first (FTS5 on
SQLite). PostgreSQL has its own path, services/pending_pg.py: the receipt_word table
(migrations 0009, 0012) decides, and the ids of a page are found in the database, sorted
there for a rare term, walked in the order's index for a common one.
A trigram index on SQLite was measured too: 10-40 ms per rare term, against well under
1 ms for word prefixes, with the same answers for whole words.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import and_, func, or_, select, tuple_

from paylink_tui.domain.lapse import lapse_instant
from paylink_tui.domain.results import (  # noqa: F401 - re-exported
    SORT_LAPSE,
    SORT_POLICY,
    SORTS,
    LinkSummary,
    OffListReceipt,
    PendingPage,
    PendingRow,
    PendingTotals,
    ReceiptDetail,
    SortKey,
)
from paylink_tui.domain.status import LinkState, ReceiptStatus, link_status
from paylink_tui.services.access import receipt_scope, scoped
from paylink_tui.services.context import AppContext
from paylink_tui.services.search import (
    Term,
    candidates,
    matching_receipts,
    terms,
    word_filters,
)
from paylink_tui.store.db import is_sqlite, read_session
from paylink_tui.store.models import Client, LinkReceipt, PaymentLink, Policy, Receipt
from paylink_tui.store.types import sum_in_cents


def _pending_filter(now: datetime, *, use_index: bool = True):  # type: ignore[no-untyped-def]
    r = Receipt.__table__.c
    # With a few candidate ids the rowid look-up is the plan; lower() keeps SQLite from
    # scanning the status index instead.
    status = r.status if use_index else func.lower(r.status)
    return and_(
        status == ReceiptStatus.PENDING.value,
        or_(r.hidden_until.is_(None), r.hidden_until <= now),
    )


def _base_query(ctx: AppContext, now: datetime, words: list[Term],  # type: ignore[no-untyped-def]
                found: tuple[list[int], list[Term]] | None):
    r = Receipt.__table__.c
    p = Policy.__table__.c
    c = Client.__table__.c
    q = (
        select(
            r.id, r.number, r.policy_number, p.ramo, c.first_name, c.last_name,
            c.second_last_name, c.email, c.phone, r.amount, r.currency, r.due_date,
        )
        .select_from(Receipt.__table__.join(Policy.__table__, p.id == r.policy_id)
                     .join(Client.__table__, c.id == p.client_id))
        .where(_pending_filter(now, use_index=found is None))
    )
    q = scoped(q, receipt_scope(ctx))  # the portfolio rule (team mode): in the query
    if found is not None:
        # The word index matched these already (the same rule as the LIKE below), and the
        # totals count them from the same index: the two can never disagree. A word the
        # index was not asked about is checked here, by the same rule.
        ids, unchecked = found
        return q.where(r.id.in_(ids), *word_filters(unchecked))
    return q.where(*word_filters(words))


@lru_cache(maxsize=4096)
def _lapse(due_date: date, grace_days: int, tz: str) -> datetime:
    """A few hundred distinct due dates across a million receipts: each computed once."""
    return lapse_instant(due_date, grace_days, tz)


def lapses_at(ctx: AppContext, due_date: date) -> datetime:
    """When a receipt due on `due_date` lapses, with this context's grace days and zone."""
    return _lapse(due_date, ctx.settings.grace_days, ctx.tz)


def _row(values: Sequence, ctx: AppContext) -> PendingRow:  # type: ignore[type-arg]
    return PendingRow(
        receipt_id=values[0], receipt=values[1], policy=values[2], ramo=values[3] or "",
        first_name=values[4], last_name=values[5], second_last_name=values[6] or "",
        email=values[7], phone=values[8], amount=Decimal(values[9]), currency=values[10],
        due_date=values[11], lapses_at=lapses_at(ctx, values[11]),
    )


def row_of(ctx: AppContext, rec: Receipt, policy: Policy, client: Client) -> PendingRow:
    """A receipt read through the ORM, as the list shows it."""
    return PendingRow(
        receipt_id=rec.id or 0, receipt=rec.number, policy=rec.policy_number,
        ramo=policy.ramo, first_name=client.first_name, last_name=client.last_name,
        second_last_name=client.second_last_name, email=client.email, phone=client.phone,
        amount=Decimal(rec.amount), currency=rec.currency, due_date=rec.due_date,
        lapses_at=lapses_at(ctx, rec.due_date),
    )


def _sort_columns(sort: str):  # type: ignore[no-untyped-def]
    r = Receipt.__table__.c
    if sort == SORT_POLICY:
        return (r.policy_number, r.due_date, r.number)
    if sort == SORT_LAPSE:
        return (r.due_date, r.policy_number, r.number)
    raise ValueError(f"unknown sort {sort!r}; expected one of {SORTS}")


def pending_page(
    ctx: AppContext,
    *,
    search: str = "",
    after: SortKey | None = None,
    before: SortKey | None = None,
    last: bool = False,
    limit: int = 100,
    sort: str = SORT_POLICY,
) -> PendingPage:
    """One page of the pending list, in the order `sort` (SORT_POLICY or SORT_LAPSE).

    - neither `after` nor `before`: the first page (or the last, with `last=True`);
    - `after=key`: the page following that row; `before=key`: the page preceding it (keys
      of the same order: `PendingRow.sort_key(sort)`).
    Rows always come in list order.
    """
    columns = _sort_columns(sort)
    now = ctx.now()
    words = terms(ctx, search)
    backwards = before is not None or (last and after is None)
    if not is_sqlite(ctx.engine):
        from paylink_tui.services.pending_pg import pending_page_pg

        return pending_page_pg(ctx, now=now, words=words, columns=columns, after=after,
                               before=before, backwards=backwards, limit=limit, sort=sort)
    found = candidates(ctx, words) if words else None
    if found is not None and not found[0]:
        return PendingPage(rows=[], has_more=False, sort=sort)
    q = _base_query(ctx, now, words, found)
    if found is not None:
        return _page_in_memory(ctx, q, after=after, before=before, backwards=backwards,
                               limit=limit, sort=sort)
    q = _keyset(q, columns, after, before, backwards).limit(limit + 1)
    with ctx.engine.connect() as conn:
        rows = [_row(v, ctx) for v in conn.execute(q)]
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    return PendingPage(rows=rows, has_more=has_more, sort=sort)


def _keyset(q, columns, after: SortKey | None, before: SortKey | None,  # type: ignore[no-untyped-def]
            backwards: bool):
    if after is not None:
        q = q.where(tuple_(*columns) > tuple_(*after))
    if before is not None:
        q = q.where(tuple_(*columns) < tuple_(*before))
    if backwards:
        return q.order_by(*(col.desc() for col in columns))
    return q.order_by(*columns)


def _page_in_memory(ctx: AppContext, q, *, after: SortKey | None, before: SortKey | None,  # type: ignore[no-untyped-def]
                    backwards: bool, limit: int, sort: str) -> PendingPage:
    """A page out of a few candidate rows: sorted here, so the query needs no sort index."""
    with ctx.engine.connect() as conn:
        rows = sorted((_row(v, ctx) for v in conn.execute(q)), key=lambda row: row.sort_key(sort))
    if after is not None:
        rows = [row for row in rows if row.sort_key(sort) > after]
    if before is not None:
        rows = [row for row in rows if row.sort_key(sort) < before]
    if backwards:
        return PendingPage(rows=rows[-limit:], has_more=len(rows) > limit, sort=sort)
    return PendingPage(rows=rows[:limit], has_more=len(rows) > limit, sort=sort)


def iter_pending(ctx: AppContext, *, search: str = "", chunk: int = 1000,  # type: ignore[no-untyped-def]
                 sort: str = SORT_POLICY):
    """Every pending row in list order (for exports), page by page."""
    after: SortKey | None = None
    while True:
        page = pending_page(ctx, search=search, after=after, limit=chunk, sort=sort)
        yield from page.rows
        if not page.has_more:
            return
        after = page.last_key


def pending_totals(ctx: AppContext, *, search: str = "") -> PendingTotals:
    """How many receipts match and what they add up to, per currency."""
    now = ctx.now()
    words = terms(ctx, search)
    r = Receipt.__table__.c
    q = (
        select(r.currency, func.count(), sum_in_cents(r.amount))
        .where(_pending_filter(now))
        .group_by(r.currency)
        .order_by(r.currency)
    )
    q = scoped(q, receipt_scope(ctx))
    if words:
        # Every match, from the word index on SQLite (the same word-prefix rule): no row's
        # text is read.
        q = q.where(matching_receipts(ctx, words))
    count = 0
    amounts: dict[str, Decimal] = {}
    with ctx.engine.connect() as conn:
        for currency, n, total in conn.execute(q):
            count += n
            amounts[currency] = (Decimal(total or 0) / 100).quantize(Decimal("0.01"))
    return PendingTotals(count=count, amounts=amounts)


def off_list(ctx: AppContext, *, search: str, limit: int = 5) -> list[OffListReceipt]:
    """Receipts that `search` matches and the pending list leaves out (a live link hides
    them, they were paid or settled elsewhere): what to tell an agent whose search found no
    pending receipt. Newest link first."""
    from paylink_tui.domain.dates import local_date
    from paylink_tui.domain.status import receipt_status
    from paylink_tui.domain.text import full_name

    words = terms(ctx, search)
    if not words:
        return []
    now = ctx.now()
    r = Receipt.__table__.c
    p = Policy.__table__.c
    c = Client.__table__.c
    q = (
        select(r.id, r.number, r.policy_number, r.status, r.hidden_until, c.first_name,
               c.last_name, c.second_last_name)
        .select_from(Receipt.__table__.join(Policy.__table__, p.id == r.policy_id)
                     .join(Client.__table__, c.id == p.client_id))
        .where(~_pending_filter(now), matching_receipts(ctx, words))
        .order_by(r.policy_number, r.due_date, r.number)
        .limit(limit)
    )
    q = scoped(q, receipt_scope(ctx))
    lk = PaymentLink.__table__.c
    lr = LinkReceipt.__table__.c
    out: list[OffListReceipt] = []
    with read_session(ctx.engine) as session:
        for rid, number, policy, status, hidden_until, first, last, second in session.execute(q):
            link = session.execute(
                select(lk.reference, lk.state, lk.expires_at, lk.last_valid_day, lk.paid_at)
                .join(LinkReceipt.__table__, lr.link_id == lk.id)
                .where(lr.receipt_id == rid).order_by(lk.created_at.desc()).limit(1)
            ).first()
            seen = receipt_status(status, hidden_until, now).value
            out.append(OffListReceipt(
                receipt=number, policy=policy, holder=full_name(first, last, second), status=seen,
                link_reference=link[0] if link else None,
                link_status=link_status(link[1], link[2], now).value if link else None,
                valid_through=link[3] if link else None,
                reappears_on=(local_date(hidden_until, ctx.tz)
                              if seen == ReceiptStatus.WITH_LINK.value and hidden_until else None),
                paid_at=link[4] if link else None,
            ))
    return out


# --- detail -----------------------------------------------------------------------------


def receipt_detail(ctx: AppContext, receipt_id: int) -> ReceiptDetail | None:
    now = ctx.now()
    r = Receipt.__table__.c
    with read_session(ctx.engine) as session:
        rec = session.scalars(scoped(select(Receipt).where(r.id == receipt_id),
                                     receipt_scope(ctx))).first()
        if rec is None:  # unknown, or outside the portfolio: the same answer
            return None
        policy = session.get(Policy, rec.policy_id)
        client = session.get(Client, policy.client_id) if policy else None
        assert policy is not None and client is not None
        row = row_of(ctx, rec, policy, client)
        siblings_q = (
            select(Receipt)
            .where(r.policy_id == rec.policy_id, r.id != rec.id)
            .where(_pending_filter(now))
            .order_by(r.due_date, r.number)
        )
        siblings = [row_of(ctx, s, policy, client) for s in session.scalars(siblings_q).all()]
        links = links_for_policy(session, rec.policy_id, now)
        emails: list[str] = []
        for e in [client.email, *[lk.email for lk in links]]:
            if e and e not in emails:
                emails.append(e)
        from paylink_tui.domain.status import receipt_status

        return ReceiptDetail(
            receipt=row,
            status=receipt_status(rec.status, rec.hidden_until, now).value,
            policy_receipts=siblings,
            emails=emails,
            links=links,
        )


def links_for_policy(session, policy_id: int, now: datetime) -> list[LinkSummary]:  # type: ignore[no-untyped-def]
    lk = PaymentLink.__table__.c
    lr = LinkReceipt.__table__.c
    r = Receipt.__table__.c
    rows = session.scalars(
        select(PaymentLink).where(lk.policy_id == policy_id).order_by(lk.created_at.desc())
    ).all()
    out: list[LinkSummary] = []
    for link in rows:
        numbers = list(session.scalars(
            select(r.number).join(LinkReceipt.__table__, lr.receipt_id == r.id)
            .where(lr.link_id == link.id).order_by(r.number)
        ))
        out.append(LinkSummary(
            reference=link.reference, url=link.url, email=link.email, agent=link.agent,
            amount=link.amount, currency=link.currency, created_at=link.created_at,
            last_valid_day=link.last_valid_day,
            status=link_status(link.state, link.expires_at, now).value, receipts=numbers,
        ))
    return out


def active_states() -> tuple[str, ...]:
    return (LinkState.CREATING.value, LinkState.UNCONFIRMED.value, LinkState.ACTIVE.value)
