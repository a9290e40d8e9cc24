"""Import the insurer's pending receipts: an idempotent upsert, in one transaction.

- A receipt is identified by its number, a policy by its number; the client is the
  policy's holder (one client row per policy, never merged by name). A newer file updates
  the holder's name, email and phone, the receipts' amounts and due dates, and adds receipts.
- An amount (or currency) change for a receipt under a link that may still be paid (live or
  paid) is not applied: the link's amount was fixed when it was sent. It is reported.
- `full`: the file is the insurer's complete list. Pending receipts missing from it were
  settled elsewhere ("Liquidado fuera") — unless a row was rejected (its receipt number may be
  the "missing" one), and only with `yes` when it would settle more than 10% of them.
  Receipts under a live link are left alone: our own link may be what settled them.

Speed: 100,000 rows must import in seconds, so the work is done in bulk Core statements
(executemany in chunks, INSERT … RETURNING), never one ORM object per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from paylink_tui.domain.results import ImportReport, RefusedChange
from paylink_tui.domain.status import LinkState, ReceiptStatus
from paylink_tui.domain.text import full_name, search_text
from paylink_tui.importer.reader import ReadResult, ReceiptRow, RowError, read_receipts
from paylink_tui.services import events
from paylink_tui.store.bulk import executemany
from paylink_tui.store.db import is_sqlite, write_session
from paylink_tui.store.models import (
    AuditEvent,
    Client,
    ImportBatch,
    LinkReceipt,
    PaymentLink,
    Policy,
    Receipt,
)

CHUNK = 1000
FULL_IMPORT_CONFIRM_SHARE = Decimal("0.10")
# Links whose client may still pay: a payment taken before expiry can arrive during the
# grace day, so a link counts as live until its receipts reappear (hidden_until).
LIVE_LINK_STATES = (LinkState.CREATING.value, LinkState.UNCONFIRMED.value,
                    LinkState.ACTIVE.value)

ProgressCallback = Callable[[int], None]
T = TypeVar("T")


class ImportRefused(Exception):
    """Raised inside the transaction to roll it back when --full needs confirmation."""


def import_receipts(
    engine: Engine,
    path: str | Path,
    *,
    full: bool = False,
    yes: bool = False,
    agent: str,
    now: datetime,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Read the file and apply it. Raises importer.ImportFileError if it can't be read."""
    result = read_receipts(path, on_progress=on_progress)
    return apply_read_result(
        engine, result, filename=Path(path).name, full=full, yes=yes, agent=agent, now=now
    )


def import_file(ctx: Any, path: str | Path, *, full: bool = False, yes: bool = False,
                on_progress: ProgressCallback | None = None) -> ImportReport:
    """The use case on an AppContext (engine, agent, clock)."""
    from paylink_tui.domain.results import ROLE_ADMIN
    from paylink_tui.services.access import require_role

    require_role(ctx, ROLE_ADMIN)  # team mode: imports are the administrador's
    return import_receipts(ctx.engine, path, full=full, yes=yes, agent=ctx.agent,
                           now=ctx.now(), on_progress=on_progress)


def import_rows(engine: Engine, rows: Iterable[ReceiptRow], *, agent: str, now: datetime,
                filename: str = "demo") -> ImportReport:
    """Apply already-valid rows (the demo seed); same rules as a file import without --full."""
    result = ReadResult(rows=list(rows))
    result.total_rows = len(result.rows)
    result.present_receipts = {r.receipt for r in result.rows}
    return apply_read_result(engine, result, filename=filename, agent=agent, now=now)


def apply_read_result(
    engine: Engine,
    result: ReadResult,
    *,
    filename: str,
    full: bool = False,
    yes: bool = False,
    agent: str,
    now: datetime,
) -> ImportReport:
    report = ImportReport(filename=filename, total_rows=result.total_rows, full=full,
                          errors=list(result.errors),
                          phone_warnings=list(result.phone_warnings))
    try:
        with write_session(engine) as session:
            conn = session.connection()
            if not is_sqlite(engine):
                # One import at a time across the agency; SQLite's BEGIN IMMEDIATE does this.
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('paylink_import'))"))
            existing = _load_receipts(conn, [r.receipt for r in result.rows])
            valid = _keep_receipts_on_their_policy(result.rows, existing, report)
            rows = _apply_policies(conn, valid, report)
            _apply_receipts(conn, rows, existing, report, now)
            if full:
                _settle_missing(conn, result, report, yes=yes, now=now)
            conn.execute(insert(ImportBatch.__table__), [{
                "at": now, "agent": agent, "filename": filename[:500], "full": full,
                "rows": report.total_rows, "added": report.added, "updated": report.updated,
                "rejected": report.rejected, "settled": report.settled_elsewhere,
            }])
            conn.execute(insert(AuditEvent.__table__), [{
                "at": now, "agent": agent, "action": "import", "subject": filename[:200],
                "detail": json.dumps(_audit_detail(report), ensure_ascii=False),
            }])
            events.insert_rows(conn, [events.row(
                at=now, kind=events.IMPORT_DONE, agent=agent,
                data={"added": report.added, "updated": report.updated,
                      "settled": report.settled_elsewhere})])
        from paylink_tui.services.search import forget_prefixes

        forget_prefixes(engine)  # a new kind of policy number is found at once
    except ImportRefused:
        # Rolled back: nothing of this run was written.
        report.added = report.updated = report.unchanged = 0
        report.policies_added = report.clients_updated = report.agents_changed = 0
        report.refused_changes = []
    return report


def _audit_detail(report: ImportReport) -> dict[str, Any]:
    return {
        "rows": report.total_rows, "added": report.added, "updated": report.updated,
        "unchanged": report.unchanged, "rejected": report.rejected,
        "refused_amount_changes": len(report.refused_changes), "full": report.full,
        "settled_elsewhere": report.settled_elsewhere,
        "settle_blocked_by_errors": report.settle_blocked_by_errors,
    }


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _search_text(policy: str, receipt: str, first: str, last: str, second: str) -> str:
    # The store's definition (models.py): domain.text.search_text(policy, receipt, name).
    return f"{_fold(policy)} {_fold(receipt)} {_fold(full_name(first, last, second))}"


# ---------------------------------------------------------------- policies and clients


@dataclass
class _Holder:
    policy_id: int
    client_id: int
    first: str
    last: str
    second: str
    agent_code: str | None = None
    _prefix: str | None = None
    _suffix: str | None = None

    def search_text(self, policy: str, receipt: str) -> str:
        # search_text() works word by word, so the parts apart give the same text as the
        # store's search_text(policy, receipt, full name); policy and name are folded once
        # per policy, and a plain receipt number (the usual case) needs only lower().
        if self._prefix is None:
            self._prefix = _fold(policy)
            self._suffix = _fold(full_name(self.first, self.last, self.second))
        folded = (receipt.lower() if receipt.isascii() and receipt.isalnum()
                  else _fold(receipt))
        return f"{self._prefix} {folded} {self._suffix}"


def _fold(text: str) -> str:
    """domain.text.search_text of one part (it has its own fast path for ASCII)."""
    return search_text(text)


def _apply_policies(
    conn: Connection, rows: list[ReceiptRow], report: ImportReport
) -> list[tuple[ReceiptRow, _Holder]]:
    """Create missing policies (each with its own client), refresh holders; map each row."""
    client_t, policy_t = Client.__table__, Policy.__table__
    # Within a file the last row of a policy speaks for its holder.
    latest: dict[str, ReceiptRow] = {}
    codes: dict[str, str] = {}  # and the last agent code given for it (an empty cell: none)
    for row in rows:
        latest[row.policy] = row
        if row.agent_code:
            codes[row.policy] = row.agent_code
    numbers = list(latest)

    existing: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(numbers):
        stmt = (
            select(policy_t.c.id, policy_t.c.number, policy_t.c.ramo, policy_t.c.client_id,
                   policy_t.c.agent_code, client_t.c.first_name, client_t.c.last_name,
                   client_t.c.second_last_name, client_t.c.email, client_t.c.phone)
            .join(client_t, client_t.c.id == policy_t.c.client_id)
            .where(policy_t.c.number.in_(chunk))
        )
        for rec in conn.execute(stmt).mappings():
            existing[rec["number"]] = dict(rec)

    holders: dict[str, _Holder] = {}
    client_updates: list[dict[str, Any]] = []
    ramo_updates: list[dict[str, Any]] = []
    code_updates: list[dict[str, Any]] = []
    search_updates: list[dict[str, Any]] = []
    for number, cur in existing.items():
        row = latest[number]
        first, last = row.first_name, row.last_name
        second = row.second_last_name or ""
        # An empty email/phone in the file is not a statement that it changed: keep ours.
        email = row.email or cur["email"]
        phone = row.phone or cur["phone"]
        names_changed = (first, last, second) != (
            cur["first_name"], cur["last_name"], cur["second_last_name"])
        if names_changed or (email, phone) != (cur["email"], cur["phone"]):
            client_updates.append({"b_id": cur["client_id"], "b_first": first, "b_last": last,
                                   "b_second": second, "b_email": email, "b_phone": phone})
        if names_changed:
            search_updates.append({"b_policy_id": cur["id"], "b_number": number,
                                   "b_first": first, "b_last": last, "b_second": second})
        if row.ramo and row.ramo != cur["ramo"]:
            ramo_updates.append({"b_id": cur["id"], "b_ramo": row.ramo})
        # The agent code, like the email: an empty cell keeps ours; a new one moves the
        # policy, and every receipt of it, to that agent's portfolio.
        code = codes.get(number) or cur["agent_code"]
        if code != cur["agent_code"]:
            code_updates.append({"b_id": cur["id"], "b_code": code})
        holders[number] = _Holder(cur["id"], cur["client_id"], first, last, second, code)

    if client_updates:
        stmt = (update(client_t).where(client_t.c.id == bindparam("b_id"))
                .values(first_name=bindparam("b_first"), last_name=bindparam("b_last"),
                        second_last_name=bindparam("b_second"), email=bindparam("b_email"),
                        phone=bindparam("b_phone")))
        executemany(conn, stmt, client_updates)
        report.clients_updated = len(client_updates)
    if ramo_updates:
        stmt = update(policy_t).where(policy_t.c.id == bindparam("b_id")).values(
            ramo=bindparam("b_ramo"))
        executemany(conn, stmt, ramo_updates)
    if search_updates:
        _refresh_search_text(conn, search_updates)
    if code_updates:
        executemany(conn, update(policy_t).where(policy_t.c.id == bindparam("b_id")).values(
            agent_code=bindparam("b_code")), code_updates)
        receipt_t = Receipt.__table__
        executemany(conn, update(receipt_t).where(receipt_t.c.policy_id == bindparam("b_id"))
                    .values(agent_code=bindparam("b_code")), code_updates)
        report.agents_changed = len(code_updates)

    new_numbers = [n for n in numbers if n not in existing]
    if new_numbers:
        # Ids are reserved up front: INSERT … RETURNING in a guaranteed order falls back
        # to one statement per row on SQLite, which is far too slow at 100,000 rows.
        client_ids = _reserve_ids(conn, client_t, len(new_numbers))
        policy_ids = _reserve_ids(conn, policy_t, len(new_numbers))
        clients, policies = [], []
        for n, cid, pid in zip(new_numbers, client_ids, policy_ids, strict=True):
            r = latest[n]
            second = r.second_last_name or ""
            clients.append({"id": cid, "first_name": r.first_name, "last_name": r.last_name,
                            "second_last_name": second, "email": r.email, "phone": r.phone})
            policies.append({"id": pid, "number": n, "ramo": r.ramo or "", "client_id": cid,
                             "agent_code": codes.get(n)})
            holders[n] = _Holder(pid, cid, r.first_name, r.last_name, second, codes.get(n))
        executemany(conn, insert(client_t), clients)
        executemany(conn, insert(policy_t), policies)
    report.policies_added = len(new_numbers)
    return [(row, holders[row.policy]) for row in rows]


def _reserve_ids(conn: Connection, table: Any, count: int) -> list[int]:
    """`count` fresh primary keys for `table`, safe against concurrent writers.

    PostgreSQL: taken from the column's sequence, as any other insert would. SQLite: the
    import holds the database's write lock (BEGIN IMMEDIATE), so max(id) cannot move.
    """
    if conn.dialect.name == "postgresql":
        return list(conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) "
                 "FROM generate_series(1, :n)"),
            {"t": table.name, "n": count},
        ).scalars())
    top = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(top + 1, top + 1 + count))


def _refresh_search_text(conn: Connection, changes: list[dict[str, Any]]) -> None:
    """A renamed holder: every receipt of the policy, in the file or not, gets new search text."""
    receipt_t = Receipt.__table__
    by_policy = {c["b_policy_id"]: c for c in changes}
    updates = []
    for chunk in _chunks(list(by_policy)):
        for rid, number, policy_id in conn.execute(
            select(receipt_t.c.id, receipt_t.c.number, receipt_t.c.policy_id)
            .where(receipt_t.c.policy_id.in_(chunk))
        ):
            c = by_policy[policy_id]
            updates.append({"b_id": rid, "b_search": _search_text(
                c["b_number"], number, c["b_first"], c["b_last"], c["b_second"])})
    stmt = update(receipt_t).where(receipt_t.c.id == bindparam("b_id")).values(
        search_text=bindparam("b_search"))
    executemany(conn, stmt, updates)


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
