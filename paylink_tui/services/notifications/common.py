"""What the steps of a notification share: the hot path's statements, the write transaction
that batches its inserts and events (re-exported: the outcome type and the review error).

The hot path speaks SQLAlchemy Core on the session's connection: a payment touches about
ten rows, and ORM objects (identity map, flush, refresh) cost more CPU than the SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from paylink_tui.domain.errors import ReviewError
from paylink_tui.domain.results import Received
from paylink_tui.domain.status import LinkState, ReceiptStatus
from paylink_tui.services import events
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import is_sqlite, write_session
from paylink_tui.store.models import (
    AuditEvent,
    Client,
    LinkReceipt,
    Notification,
    PaymentAttempt,
    PaymentLink,
    Policy,
    Receipt,
)

log = logging.getLogger(__name__)

__all__ = ["MIT_AGENT", "RESPONSES", "Received", "ReviewError"]

# Who the audit trail names for what MIT did on its own.
MIT_AGENT = "MIT"
RESPONSES = {"approved", "denied", "error"}

_N = Notification.__table__  # type: ignore[attr-defined]
_PL = PaymentLink.__table__  # type: ignore[attr-defined]
_LR = LinkReceipt.__table__  # type: ignore[attr-defined]
_RC = Receipt.__table__  # type: ignore[attr-defined]
_PA = PaymentAttempt.__table__  # type: ignore[attr-defined]
_AU = AuditEvent.__table__  # type: ignore[attr-defined]
_PO = Policy.__table__  # type: ignore[attr-defined]
_CL = Client.__table__  # type: ignore[attr-defined]


_PENDING = "paylink_pending_inserts"
_EVENTS = "paylink_pending_events"


@lru_cache(maxsize=2)
def _statements(sqlite_engine: bool) -> SimpleNamespace:
    """The hot path's statements, built once per dialect (SQLAlchemy then reuses their
    compiled form): row locks on PostgreSQL, where SQLite's BEGIN IMMEDIATE serialises."""
    dialect_insert = sqlite.insert if sqlite_engine else postgresql.insert
    mine = _LR.alias("mine")
    their = _LR.alias("their")
    other = _PL.alias("other")
    # Whether any receipt of the link has a newer live link: usually not, and then the
    # list of their references is not queried at all.
    has_newer = (
        select(other.c.id)
        .select_from(mine.join(their, their.c.receipt_id == mine.c.receipt_id)
                     .join(other, other.c.id == their.c.link_id))
        .where(mine.c.link_id == _PL.c.id, other.c.id != _PL.c.id,
               other.c.created_at > _PL.c.created_at)  # cancelled too: see `newer`
        .exists()
    )
    # The link with what its confirmation needs (policy number, holder), in one query.
    link = (
        select(_PL, has_newer.label("has_newer"), _PO.c.number.label("policy_number"),
               _CL.c.first_name.label("holder_first"), _CL.c.last_name.label("holder_last"),
               _CL.c.second_last_name.label("holder_second"))
        .select_from(_PL.outerjoin(_PO, _PO.c.id == _PL.c.policy_id)
                     .outerjoin(_CL, _CL.c.id == _PO.c.client_id))
        .where(_PL.c.reference == bindparam("ref"))
    )
    notification = select(_N).where(_N.c.id == bindparam("nid"))
    if not sqlite_engine:
        link = link.with_for_update(of=_PL)
        notification = notification.with_for_update()
    return SimpleNamespace(
        # No conflict target: (folio, reference) and identity_key are both unique, and a
        # notification is identified by one or the other (receive._identity_key).
        insert=dialect_insert(_N).on_conflict_do_nothing().returning(_N.c.id),
        existing=select(_N.c.id).where(_N.c.folio == bindparam("f"),
                                       _N.c.reference == bindparam("r")),
        existing_by_key=select(_N.c.id).where(_N.c.identity_key == bindparam("k")),
        notification=notification,
        link=link,
        newer=(select(_PL.c.reference)
               .select_from(_PL.join(_LR, _LR.c.link_id == _PL.c.id)
                            .join(mine, mine.c.receipt_id == _LR.c.receipt_id))
               .where(mine.c.link_id == bindparam("lid"),
                      _PL.c.id != bindparam("lid"),
                      _PL.c.created_at > bindparam("created"),
                      # A link we cancelled can still be paid at MIT until it expires.
                      or_(_PL.c.state != LinkState.CANCELLED.value,
                          _PL.c.expires_at > bindparam("now")))
               .distinct()
               .order_by(_PL.c.reference)),
        # Receipts of the link already paid (through another link): a second charge.
        paid_receipts=(select(_RC.c.number)
                       .select_from(_RC.join(_LR, _LR.c.receipt_id == _RC.c.id))
                       .where(_LR.c.link_id == bindparam("lid"),
                              _RC.c.status == ReceiptStatus.PAID.value)
                       .order_by(_RC.c.number)),
        pay_link=update(_PL).where(_PL.c.id == bindparam("lid")),
        pay_receipts=(update(_RC)
                      .where(_RC.c.id.in_(select(_LR.c.receipt_id)
                                          .where(_LR.c.link_id == bindparam("lid"))))
                      .values(status=ReceiptStatus.PAID.value, updated_at=bindparam("now"))),
        attempt=insert(_PA),
        audit=insert(_AU),
        settle=update(_N).where(_N.c.id == bindparam("nid")),
    )


@contextmanager
def _write(ctx: AppContext) -> Iterator[Session]:
    """write_session, plus the rows the hot path collected to insert together at the end."""
    with write_session(ctx.engine) as session:
        yield session
        pending = session.info.pop(_PENDING, None)
        if pending:
            conn = _conn(session)
            for stmt, rows in pending.items():
                conn.execute(stmt, rows)  # one executemany per table
        # Last, right before the commit: the event log's lock is held for no longer.
        events.insert_rows(_conn(session), session.info.pop(_EVENTS, []))


def _tell_later(session: Session, row: dict[str, Any]) -> None:
    """An event (services/events.py `row`) written with the others, last (see `_write`)."""
    session.info.setdefault(_EVENTS, []).append(row)


def _later(session: Session, stmt: Any, row: dict[str, Any]) -> None:
    """Insert `row` with `stmt` before this transaction commits (batched with others):
    for rows nothing reads back within the transaction (attempts, audit events)."""
    session.info.setdefault(_PENDING, {}).setdefault(stmt, []).append(row)


def _sql(ctx: AppContext) -> SimpleNamespace:
    return _statements(is_sqlite(ctx.engine))


def _conn(session: Session) -> Connection:
    return session.connection()


def _audit(session: Session, ctx: AppContext, *, at: datetime, agent: str, action: str,
           subject: str, detail: str | None = None) -> None:
    """audit.record's row, written with Core like the rest of the hot path."""
    _later(session, _sql(ctx).audit, {
        "at": at, "agent": agent, "action": action, "subject": subject, "detail": detail,
    })


def _deliver(ctx: AppContext, email_ids: tuple[int, ...]) -> None:
    """Send the confirmation now; a failure stays in the outbox, retried by `serve`."""
    if not email_ids:
        return
    from paylink_tui.services import outbox

    try:
        outbox.deliver_due(ctx, ids=list(email_ids))
    except Exception:
        log.exception("confirmation email delivery failed; it stays queued")
