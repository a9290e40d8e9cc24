"""The first page of the pending list, read with the standard library's sqlite3 alone.

`paylink-tui` draws this page on the terminal before SQLAlchemy, pydantic-settings and
Textual have loaded (about a second and a half on these machines; see cli/first_frame.py).
It must be exactly what services.receipts.pending_page() returns for its first page:
a test compares the two on the same database, hidden, paid and settled receipts included.

It reads only: the file is opened read-only, and a database that does not exist yet or has
another schema version gives None (the normal start creates or upgrades it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from paylink_tui.domain.money import from_cents
from paylink_tui.domain.text import full_name
from paylink_tui.store.revision import HEAD_REVISION

# services.receipts: _base_query(now, [], None) ordered by the list's sort key.
FIRST_PAGE_SQL = """
SELECT receipt.number, receipt.policy_number, policy.ramo, client.first_name,
       client.last_name, client.second_last_name, receipt.amount, receipt.currency,
       receipt.due_date, client.email
FROM receipt JOIN policy ON policy.id = receipt.policy_id
             JOIN client ON client.id = policy.client_id
WHERE receipt.status = 'pending' AND (receipt.hidden_until IS NULL OR receipt.hidden_until <= ?)
ORDER BY receipt.policy_number, receipt.due_date, receipt.number
LIMIT ?
"""


@dataclass(frozen=True)
class FirstRow:
    receipt: str
    policy: str
    ramo: str
    holder: str
    amount: Decimal
    currency: str
    due_date: date
    email: str | None = None
    # The instant coverage ceases (team mode: the server's grace days, backend/first_page_remote.py);
    # None: computed from the due date and this machine's PAYLINK_GRACE_DAYS.
    lapses_at: datetime | None = None


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///PATH` URL; None for anything else (PostgreSQL, memory)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix):].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def first_page(path: Path, now: datetime, limit: int) -> list[FirstRow] | None:
    """The first `limit` pending rows at `now`, or None if this database can't be read so."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return None
    try:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if not version or version[0] != HEAD_REVISION:
            return None
        # Instants are stored as naive UTC text (store/types.py), compared as text.
        stamp = now.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        rows = conn.execute(FIRST_PAGE_SQL, (stamp, limit)).fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    try:
        return [_row(r) for r in rows]
    except ValueError:  # an amount that is not whole cents: the normal start will say so
        return None


def _row(values: tuple) -> FirstRow:  # type: ignore[type-arg]
    number, policy, ramo, first, last, second, amount, currency, due, email = values
    holder = full_name(first, last, second)
    # Whole cents on SQLite, read as store.types.Money reads them.
    return FirstRow(receipt=number, policy=policy, ramo=ramo or "", holder=holder,
                    amount=from_cents(amount), currency=currency,
                    due_date=date.fromisoformat(due), email=email)
