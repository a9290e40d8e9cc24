"""An import's receipts (services/importing.py has the rules): new ones inserted in bulk with
the word indexes filled in one statement, changed ones updated unless a link fixed their
amount (reported), and `--full`'s receipts settled elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection

from paylink_tui.domain.results import ImportReport, RefusedChange
from paylink_tui.domain.status import LinkState, ReceiptStatus
from paylink_tui.importer.reader import ReadResult, ReceiptRow, RowError
from paylink_tui.services.import_policies import _chunks, _Holder
from paylink_tui.store.bulk import executemany
from paylink_tui.store.models import LinkReceipt, PaymentLink, Receipt

FULL_IMPORT_CONFIRM_SHARE = Decimal("0.10")
# Links whose client may still pay: a payment taken before expiry can arrive during the
# grace day, so a link counts as live until its receipts reappear (hidden_until).
LIVE_LINK_STATES = (LinkState.CREATING.value, LinkState.UNCONFIRMED.value,
                    LinkState.ACTIVE.value)


class ImportRefused(Exception):
    """Raised inside the transaction to roll it back when --full needs confirmation."""


# ---------------------------------------------------------------- receipts


def _load_receipts(conn: Connection, numbers: list[str]) -> dict[str, Any]:
    receipt_t = Receipt.__table__
    existing: dict[str, Any] = {}
    for chunk in _chunks(numbers):
        for rec in conn.execute(
            select(receipt_t.c.id, receipt_t.c.number, receipt_t.c.policy_id,
                   receipt_t.c.policy_number, receipt_t.c.amount, receipt_t.c.currency,
                   receipt_t.c.due_date, receipt_t.c.status, receipt_t.c.search_text)
            .where(receipt_t.c.number.in_(chunk))
        ):
            existing[rec.number] = rec
    return existing


def _keep_receipts_on_their_policy(
    rows: list[ReceiptRow], existing: dict[str, Any], report: ImportReport
) -> list[ReceiptRow]:
    """A known receipt never moves to another policy: such a row is rejected, untouched."""
    kept = []
    for row in rows:
        cur = existing.get(row.receipt)
        if cur is not None and cur.policy_number != row.policy:
            report.errors.append(RowError(
                row.line, "poliza", row.policy,
                f"el recibo {row.receipt} ya está registrado en la póliza {cur.policy_number}",
            ))
        else:
            kept.append(row)
    return kept


def _apply_receipts(
    conn: Connection, rows: list[tuple[ReceiptRow, _Holder]], existing: dict[str, Any],
    report: ImportReport, now: datetime,
) -> None:
    receipt_t = Receipt.__table__
    inserts: list[dict[str, Any]] = []
    changes: list[tuple[ReceiptRow, Any, str]] = []
    pending = ReceiptStatus.PENDING.value
    for row, holder in rows:
        search = holder.search_text(row.policy, row.receipt)
        cur = existing.get(row.receipt)
        if cur is None:
            inserts.append({
                "number": row.receipt, "policy_id": holder.policy_id,
                "policy_number": row.policy, "amount": row.amount, "currency": row.currency,
                "due_date": row.due_date, "status": pending,
                "search_text": search, "agent_code": holder.agent_code,
                "created_at": now, "updated_at": now,
            })
            continue
        changes.append((row, cur, search))

    with _fts_in_bulk(conn, len(inserts)):
        executemany(conn, insert(receipt_t), inserts)
    report.added = len(inserts)

    money_changed = [cur.id for row, cur, _ in changes
                     if cur.status != ReceiptStatus.SETTLED_ELSEWHERE.value
                     and (row.amount != cur.amount or row.currency != cur.currency)]
    locked = _receipts_under_link(conn, money_changed, now)

    updates: list[dict[str, Any]] = []
    for row, cur, search in changes:
        amount, currency, status = row.amount, row.currency, cur.status
        if cur.status == ReceiptStatus.PAID.value:
            # Ours says paid; the insurer's export lags. Nothing in the row changes that.
            if (amount, currency) != (cur.amount, cur.currency):
                report.refused_changes.append(_refusal(row, cur, "el recibo ya está pagado"))
            report.unchanged += 1
            continue
        if cur.id in locked:
            report.refused_changes.append(_refusal(row, cur, locked[cur.id]))
            amount, currency = cur.amount, cur.currency
        if cur.status == ReceiptStatus.SETTLED_ELSEWHERE.value:
            status = ReceiptStatus.PENDING.value  # the insurer lists it as pending again
        new = (amount, currency, row.due_date, status, search)
        old = (cur.amount, cur.currency, _as_date(cur.due_date), cur.status, cur.search_text)
        if new == old:
            report.unchanged += 1
            continue
        updates.append({"b_id": cur.id, "b_amount": amount, "b_currency": currency,
                        "b_due": row.due_date, "b_status": status, "b_search": search,
                        "b_now": now, "search_changed": search != cur.search_text})
    values = {"amount": bindparam("b_amount"), "currency": bindparam("b_currency"),
              "due_date": bindparam("b_due"), "status": bindparam("b_status"),
              "updated_at": bindparam("b_now")}
    # search_text is only SET where it changed: on SQLite setting it at all re-indexes the
    # row in FTS5 (the trigger is AFTER UPDATE OF search_text), which is the slow part.
    for with_search in (False, True):
        batch = [u for u in updates if u["search_changed"] is with_search]
        if not batch:
            continue
        extra = {"search_text": bindparam("b_search")} if with_search else {}
        stmt = update(receipt_t).where(receipt_t.c.id == bindparam("b_id")).values(
            **values, **extra)
        executemany(conn, stmt, batch)
    report.updated = len(updates)


FTS_INSERT_TRIGGER = "receipt_fts_ai"
FTS_BULK_MIN = 1000
WORDS_BULK_SETTING = "paylink.receipt_words_bulk"  # the name migration 0008's trigger reads


@contextmanager
def _fts_in_bulk(conn: Connection, count: int) -> Iterator[None]:
    """On SQLite, index many new receipts in FTS5 with one INSERT … SELECT.

    The store keeps receipt_fts up to date with a per-row trigger; for a large import that
    trigger is most of the time (about 5x slower than one bulk statement). Inside this
    transaction, which holds SQLite's write lock, the trigger is dropped, the rows inserted
    and indexed in one statement, and the trigger re-created from its own stored SQL. Any
    failure rolls all of it back, trigger included.
    """
    if conn.dialect.name == "postgresql" and count >= FTS_BULK_MIN:
        with _words_in_bulk(conn):
            yield
        return
    trigger_sql = None
    if conn.dialect.name == "sqlite" and count >= FTS_BULK_MIN:
        trigger_sql = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"),
            {"n": FTS_INSERT_TRIGGER},
        ).scalar()
    if not trigger_sql:
        yield
        return
    receipt_t = Receipt.__table__
    top = conn.execute(select(func.coalesce(func.max(receipt_t.c.id), 0))).scalar_one()
    conn.exec_driver_sql(f"DROP TRIGGER {FTS_INSERT_TRIGGER}")
    yield
    conn.execute(
        text("INSERT INTO receipt_fts(rowid, search_text) "
             "SELECT id, search_text FROM receipt WHERE id > :top ORDER BY id"),
        {"top": top},
    )
    conn.exec_driver_sql(trigger_sql)


@contextmanager
def _words_in_bulk(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, the same for receipt_word (migration 0008): its insert trigger stands
    aside for this transaction alone (a setting local to it, where dropping the trigger would
    lock every reader out of receipt), and the new rows' words go in with one statement.
    Ids come from the sequence, so every receipt inserted here has an id above `top`; a
    concurrent writer's rows above it were indexed by their own trigger (ON CONFLICT)."""
    receipt_t = Receipt.__table__
    top = conn.execute(select(func.coalesce(func.max(receipt_t.c.id), 0))).scalar_one()
    conn.execute(text("SELECT set_config(:name, 'on', true)"), {"name": WORDS_BULK_SETTING})
    yield
    conn.execute(text("SELECT set_config(:name, 'off', true)"), {"name": WORDS_BULK_SETTING})
    conn.execute(
        text("INSERT INTO receipt_word (word, receipt_id, agent_code) "
             "SELECT DISTINCT w, r.id, r.agent_code FROM receipt r, "
             "unnest(string_to_array(r.search_text, ' ')) AS w "
             "WHERE r.id > :top AND w <> '' ON CONFLICT DO NOTHING"),
        {"top": top},
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _refusal(row: ReceiptRow, cur: Any, reason: str) -> RefusedChange:
    return RefusedChange(row.line, row.receipt, cur.amount, cur.currency, row.amount,
                         row.currency, reason)


def _receipts_under_link(conn: Connection, receipt_ids: list[int], now: datetime) -> dict[int, str]:
    """Receipt id -> why its amount is fixed (a live or paid link carries it)."""
    if not receipt_ids:
        return {}
    receipt_t, lr, pl = Receipt.__table__, LinkReceipt.__table__, PaymentLink.__table__
    found: dict[int, str] = {}
    for chunk in _chunks(receipt_ids):
        if conn.dialect.name == "postgresql":
            # Hold the rows so a link cannot be generated on the old amount meanwhile.
            conn.execute(select(receipt_t.c.id).where(receipt_t.c.id.in_(chunk))
                         .with_for_update())
        stmt = (
            select(lr.c.receipt_id, pl.c.reference, pl.c.state, pl.c.hidden_until)
            .join(pl, pl.c.id == lr.c.link_id)
            .where(lr.c.receipt_id.in_(chunk))
        )
        for rid, reference, state, hidden_until in conn.execute(stmt):
            if state == LinkState.PAID.value:
                found[rid] = f"la liga {reference} ya se pagó"
            elif state in LIVE_LINK_STATES and hidden_until > now:
                found.setdefault(rid, f"tiene la liga activa {reference}")
    return found


# ---------------------------------------------------------------- --full


def _settle_missing(conn: Connection, result: ReadResult, report: ImportReport, *, yes: bool,
                    now: datetime) -> None:
    receipt_t, lr, pl = Receipt.__table__, LinkReceipt.__table__, PaymentLink.__table__
    if report.errors:
        # A rejected row's receipt may be exactly one that "went missing": settle nothing.
        report.settle_blocked_by_errors = True
        return
    pending = conn.execute(
        select(receipt_t.c.id, receipt_t.c.number)
        .where(receipt_t.c.status == ReceiptStatus.PENDING.value)
    ).all()
    # The 10% rule is measured against the receipts pending once the rows are applied.
    report.pending_total = len(pending)
    missing = [rid for rid, number in pending if number not in result.present_receipts]
    if not missing:
        return
    live: set[int] = set()
    for chunk in _chunks(missing):
        live.update(conn.execute(
            select(lr.c.receipt_id).join(pl, pl.c.id == lr.c.link_id)
            .where(lr.c.receipt_id.in_(chunk), pl.c.state.in_(LIVE_LINK_STATES),
                   pl.c.hidden_until > now)
        ).scalars())
    to_settle = [rid for rid in missing if rid not in live]
    report.kept_with_live_link = len(missing) - len(to_settle)
    report.would_settle = len(to_settle)
    if not to_settle:
        return
    if not yes and Decimal(len(to_settle)) > FULL_IMPORT_CONFIRM_SHARE * report.pending_total:
        report.needs_confirmation = True
        raise ImportRefused
    stmt = (update(receipt_t).where(receipt_t.c.id == bindparam("b_id"))
            .values(status=ReceiptStatus.SETTLED_ELSEWHERE.value, updated_at=bindparam("b_now")))
    executemany(conn, stmt, [{"b_id": rid, "b_now": now} for rid in to_settle])
    report.settled_elsewhere = len(to_settle)
