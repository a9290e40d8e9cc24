"""An import's policies and clients (services/importing.py has the rules): new policies and
their holders inserted in bulk, a newer file's name, email, phone and agent code applied to
the existing ones, and the receipts' search text refreshed when a holder's name changes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection

from paylink_tui.domain.results import ImportReport
from paylink_tui.domain.text import full_name, search_text
from paylink_tui.importer.reader import ReceiptRow
from paylink_tui.store.bulk import executemany
from paylink_tui.store.models import (
    Client,
    Policy,
    Receipt,
)

CHUNK = 1000
T = TypeVar("T")


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
