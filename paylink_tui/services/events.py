"""The event log: what the agents should hear about, in the order it was committed.

`record` adds an event inside the caller's transaction (so it exists exactly when the change
does); `read` returns the events after a cursor, which is the last id read. That cursor must
never skip an event that commits late, so ids must become visible in id order:
- SQLite serialises writers (BEGIN IMMEDIATE): the id order is the commit order;
- PostgreSQL hands ids out before commit, so two writers could commit out of order. Each
  transaction that writes events first takes one transaction-level advisory lock, held until
  it commits: event writers take their ids one after the other, each after the one before
  committed. Events are written as late as possible in their transaction (the notification
  path writes them right before the commit), so the lock is held for little more than the
  commit. The lock concerns only transactions that write events: nothing else on the server
  (another database, a long import's reads) can hold the log back.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection

from paylink_tui.domain.results import Event as EventRecord
from paylink_tui.services.context import AppContext
from paylink_tui.store.models import Event

PAYMENT_APPROVED = "payment_approved"
PAYMENT_DENIED = "payment_denied"
PAYMENT_ERROR = "payment_error"
PAYMENT_RECEIVED = "payment_received"  # approved by the notification, MIT to confirm
REVIEW_ADDED = "review_added"
REVIEW_RESOLVED = "review_resolved"
LINK_CHANGED = "link_changed"
IMPORT_DONE = "import_done"

_EV = Event.__table__  # type: ignore[attr-defined]
# pg_advisory_xact_lock's key for "writing to the event log" ("paylink" in ASCII).
EVENT_LOCK = 0x7061796C696E6B
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def row(*, at: datetime, kind: str, link_id: int | None = None, reference: str | None = None,
        policy_number: str | None = None, agent: str | None = None,
        data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values of one event row (for `insert_rows`)."""
    clean = {k: "" if v is None else str(v) for k, v in (data or {}).items()}
    return {"at": at, "kind": kind, "link_id": link_id, "reference": reference,
            "policy_number": policy_number, "agent": agent,
            "data": json.dumps(clean, ensure_ascii=False) if clean else None}


def insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write event rows in the connection's transaction, in the log's order (see above)."""
    if not rows:
        return
    if conn.engine.dialect.name != "sqlite":
        conn.execute(_LOCK, {"key": EVENT_LOCK})
    conn.execute(insert(_EV), rows)


def record(session: Any, **values: Any) -> None:
    """Add one event in the session's transaction (see `row` for the values)."""
    insert_rows(session.connection(), [row(**values)])


def current_cursor(ctx: AppContext) -> str:
    """A cursor after everything committed so far."""
    with ctx.engine.connect() as conn:
        return str(conn.execute(select(func.coalesce(func.max(_EV.c.id), 0))).scalar_one())


def read(ctx: AppContext, cursor: str | None, *, limit: int = 200,
         where: Any = None) -> tuple[list[EventRecord], str]:
    """Events after `cursor` (oldest first) and the cursor after them. A missing or
    unreadable cursor starts from now (nothing is replayed). `where`: an extra filter (the
    portfolio rule in team mode)."""
    try:
        after = int(cursor) if cursor else None
    except ValueError:
        after = None
    if after is None:
        return [], current_cursor(ctx)
    from paylink_tui.services.access import event_scope

    c = _EV.c
    scope = event_scope(ctx)  # the portfolio rule (team mode), in the query
    q = select(_EV).where(c.id > after)
    if where is not None:
        q = q.where(where)
    upto: int | None = None
    if scope is not None:
        # Events of other portfolios are skipped over, not re-read at every poll: the cursor
        # moves up to the last id visible when the read began (ids become visible in order).
        with ctx.engine.connect() as conn:
            upto = int(conn.execute(select(func.coalesce(func.max(c.id), 0))).scalar_one())
        q = q.where(scope, c.id <= upto)
    q = q.order_by(c.id).limit(limit)
    with ctx.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    if upto is not None and len(rows) < limit:
        upto = max(upto, after)
    else:
        upto = None
    if not rows:
        return [], str(upto if upto is not None else after)
    events = [EventRecord(id=str(r["id"]), kind=r["kind"], at=r["at"], reference=r["reference"],
                          policy=r["policy_number"],
                          data=json.loads(r["data"]) if r["data"] else {})
              for r in rows]
    return events, str(upto) if upto is not None else events[-1].id


__all__ = ["EVENT_LOCK", "IMPORT_DONE", "LINK_CHANGED", "PAYMENT_APPROVED", "PAYMENT_DENIED",
           "PAYMENT_ERROR", "PAYMENT_RECEIVED", "REVIEW_ADDED", "REVIEW_RESOLVED",
           "current_cursor", "insert_rows", "read", "record", "row"]
