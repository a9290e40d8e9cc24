"""The event log: what the agents should hear about, in the order it was committed.

`record` adds an event inside the caller's transaction (so it exists exactly when the change
does); `read` returns the events after a cursor. The cursor must never skip an event that
commits late: on SQLite writers are serialised, so the row id is the commit order. On
PostgreSQL ids are handed out before commit, so a later id can become visible first. There
each event carries its transaction's id (`xid`) and is read in (xid, id) order, and only the
events of transactions older than the oldest one still running (the snapshot's `xmin`):
all of those have committed or rolled back, and every transaction that commits later has an
xid at or above that xmin, so it lands after the cursor. A long write transaction (a big
import) delays the events behind it until it ends.

Cursors are opaque text: `"<id>"` on SQLite, `"<xid>.<id>"` on PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, literal_column, or_, select, text
from sqlalchemy.engine import Connection

from paylink_tui.domain.results import Event as EventRecord
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import is_sqlite
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
_XID = literal_column("pg_current_xact_id()::text::bigint")
_XMIN = text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
_FAR = 2**31 - 1  # past any id of the integer primary key


def statement(sqlite_engine: bool) -> Any:
    """The INSERT for event rows: on PostgreSQL it stamps the writing transaction's id."""
    stmt = insert(_EV)
    return stmt if sqlite_engine else stmt.values(xid=_XID)


def row(*, at: datetime, kind: str, link_id: int | None = None, reference: str | None = None,
        policy_number: str | None = None, agent: str | None = None,
        data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values of one event row (for `statement`, alone or in an executemany)."""
    clean = {k: "" if v is None else str(v) for k, v in (data or {}).items()}
    return {"at": at, "kind": kind, "link_id": link_id, "reference": reference,
            "policy_number": policy_number, "agent": agent,
            "data": json.dumps(clean, ensure_ascii=False) if clean else None}


def record(session: Any, **values: Any) -> None:
    """Add one event in the session's transaction (see `row` for the values)."""
    conn: Connection = session.connection()
    conn.execute(statement(is_sqlite(conn.engine)), [row(**values)])


def _parse(cursor: str | None) -> tuple[int, int] | None:
    if not cursor:
        return None
    try:
        if "." in cursor:
            xid, _, ident = cursor.partition(".")
            return int(xid), int(ident)
        return 0, int(cursor)
    except ValueError:
        return None


def current_cursor(ctx: AppContext) -> str:
    """A cursor after everything committed so far."""
    with ctx.engine.connect() as conn:
        if is_sqlite(ctx.engine):
            return str(conn.execute(select(func.coalesce(func.max(_EV.c.id), 0))).scalar_one())
        xmin = int(conn.execute(select(_XMIN)).scalar_one())
        return f"{xmin - 1}.{_FAR}"


def read(ctx: AppContext, cursor: str | None, *, limit: int = 200,
         where: Any = None) -> tuple[list[EventRecord], str]:
    """Events after `cursor` (oldest first) and the cursor after them. An unreadable or
    missing cursor starts from now (nothing is replayed). `where`: an extra filter (the
    portfolio rule in team mode)."""
    position = _parse(cursor)
    if position is None:
        return [], current_cursor(ctx)
    c = _EV.c
    sqlite_engine = is_sqlite(ctx.engine)
    q = select(_EV)
    if sqlite_engine:
        q = q.where(c.id > position[1]).order_by(c.id)
    else:
        xid, ident = position
        q = (q.where(or_(c.xid > xid, and_(c.xid == xid, c.id > ident)),
                     c.xid < _XMIN)
             .order_by(c.xid, c.id))
    if where is not None:
        q = q.where(where)
    q = q.limit(limit)
    with ctx.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    if not rows:
        return [], cursor or ""
    events = [_event(r, sqlite_engine) for r in rows]
    return events, events[-1].id


def _event(r: Any, sqlite_engine: bool) -> EventRecord:
    ident = str(r["id"]) if sqlite_engine else f"{r['xid']}.{r['id']}"
    return EventRecord(id=ident, kind=r["kind"], at=r["at"], reference=r["reference"],
                       policy=r["policy_number"], data=json.loads(r["data"]) if r["data"] else {})


__all__ = ["IMPORT_DONE", "LINK_CHANGED", "PAYMENT_APPROVED", "PAYMENT_DENIED", "PAYMENT_ERROR",
           "PAYMENT_RECEIVED", "REVIEW_ADDED", "REVIEW_RESOLVED", "current_cursor", "read",
           "record", "row", "statement"]
