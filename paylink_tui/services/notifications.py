"""Payment notifications from MIT: receive them exactly once, apply them or keep them for review.

Two steps, on purpose:
1. STORE the notification as received (`INSERT … ON CONFLICT DO NOTHING` on MIT's
   (folio, reference)): the same notification again is recognised as a duplicate.
2. APPLY it: the link paid, its receipts paid, the payment attempt, the confirmation email
   queued, the audit trail.
Usually both happen in one transaction. If applying fails, that transaction rolls back and
the notification is stored alone in a transaction of its own, so it is never lost: it stays
"por revisar" and MIT's next retry (a duplicate) finishes applying it. Only when it cannot be
stored at all does the caller answer MIT with an error.

Nothing is applied silently and nothing is dropped: whatever does not match a link exactly
is kept with a `ReviewReason`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from paylink_tui.domain.dates import parse_mit_datetime
from paylink_tui.domain.errors import ReviewError
from paylink_tui.domain.labels import REVIEW_REASON
from paylink_tui.domain.money import CENT, format_money
from paylink_tui.domain.promotions import installment_months
from paylink_tui.domain.results import Received, ReviewItem
from paylink_tui.domain.status import (
    AttemptResult,
    LinkState,
    NotificationStatus,
    ReceiptStatus,
    ReviewReason,
)
from paylink_tui.domain.text import clean_text, full_name, loggable
from paylink_tui.domain.validity import taken_in_time
from paylink_tui.gateway.base import Notification as MitNotification
from paylink_tui.gateway.errors import NotificationRejected
from paylink_tui.gateway.messages import MAX_XML_CHARS, NOTIFICATION_FIELDS, parse_xml
from paylink_tui.services import audit, events
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import is_sqlite, read_session, write_session
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

# Who the audit trail names for what MIT did on its own.
MIT_AGENT = "MIT"
RESPONSES = {"approved", "denied", "error"}

# A notification that is not ours: re-exported under the service's own name.
Rejected = NotificationRejected

__all__ = [
    "Prepared",
    "Received",
    "Rejected",
    "ReviewError",
    "ReviewItem",
    "apply_review",
    "dismiss_review",
    "list_review",
    "prepare",
    "receive_many",
    "receive_notification",
]

# The hot path speaks SQLAlchemy Core on the session's connection: a payment touches about
# ten rows, and ORM objects (identity map, flush, refresh) cost more CPU than the SQL.
_N = Notification.__table__  # type: ignore[attr-defined]
_PL = PaymentLink.__table__  # type: ignore[attr-defined]
_LR = LinkReceipt.__table__  # type: ignore[attr-defined]
_RC = Receipt.__table__  # type: ignore[attr-defined]
_PA = PaymentAttempt.__table__  # type: ignore[attr-defined]
_AU = AuditEvent.__table__  # type: ignore[attr-defined]
_PO = Policy.__table__  # type: ignore[attr-defined]
_CL = Client.__table__  # type: ignore[attr-defined]


# -- step 0: parse ------------------------------------------------------------------------


def parse(ctx: AppContext, str_response: str) -> MitNotification:
    """Decrypt and read with the configured gateway's key; Rejected when it is not ours."""
    return ctx.get_gateway().parse_notification(str_response)


@dataclass(frozen=True)
class Prepared:
    """A notification decrypted, read and turned into the row it will be stored as: the work
    `serve` does per request, outside the single writer (issue 11 §2)."""

    values: dict[str, Any]


def prepare(ctx: AppContext, str_response: str) -> Prepared:
    """strResponse -> the row to store. Rejected when it is not ours."""
    return Prepared(_row_values(ctx, parse(ctx, str_response), ctx.now()))


# -- step 1: store --------------------------------------------------------------------------

_DIGITS = re.compile(r"\d")


def _clip(value: str | None, size: int) -> str | None:
    """A field as stored: cleaned like imported text (control characters, line breaks and
    bidirectional overrides can't reach a log line or a screen), then cut to the column."""
    value = clean_text(value)
    return value[:size] if value else None


def safe_mask(cc_mask: str, cc_number: str) -> str | None:
    """MIT's mask (first 6 + XXXXXX + last 4); anything showing more digits is re-masked so
    that no full card number is ever stored."""
    mask = clean_text(cc_mask)
    if mask and len(_DIGITS.findall(mask)) <= 10:
        return mask[:30]
    digits = "".join(_DIGITS.findall(mask or cc_number))
    if not digits:
        return None
    return ("XXXXXX" + digits[-4:])[:30]


# What of MIT's XML is kept (docs: the notification's elements, `promocion`, the request's
# own `datos_adicionales`). Anything else goes: a card token (`number_tkn`), the card's expiry
# (`cc_expmonth`, `cc_expyear`), fields MIT may add tomorrow.
_KEPT_ELEMENTS = (*NOTIFICATION_FIELDS, "promocion", "datos_adicionales")
_CARD_RUN = re.compile(r"\d[\d\s-]{11,}\d")
_UNKEPT = re.compile(r"<(number_tkn|cc_exp\w*|emv_\w*|token\w*)\b[^>]*>.*?</\1\s*>", re.S | re.I)


def scrub_raw_xml(xml: str) -> str:
    """The raw XML as stored: the elements MIT documents, card fields reduced to what MIT is
    supposed to send, nothing else. Parsed (defusedxml, depth-capped) and rebuilt, so CDATA,
    attributes or odd whitespace can't carry a full number past the scrub. Never raises."""
    import xml.etree.ElementTree as ET  # noqa: N817, S405 - builds only; parse_xml parses

    try:
        parsed = parse_xml(xml, lenient=True)
        root = ET.Element(parsed.tag)
        for el in parsed:
            if el.tag not in _KEPT_ELEMENTS:
                continue
            el.tail = None
            if el.tag == "cc_number":
                el.text = "".join(_DIGITS.findall(el.text or ""))[-4:]
                el.attrib.clear()
                el[:] = []
            elif el.tag == "cc_mask":
                el.text = safe_mask("".join(el.itertext()), "") or ""
                el.attrib.clear()
                el[:] = []
            root.append(el)
        return ET.tostring(root, encoding="unicode")
    except Exception:  # noqa: BLE001 - parse_notification read it; keep what is safe to keep
        log.warning("notification XML could not be rebuilt for storage; kept with card-like "
                    "digits and unknown card fields removed", exc_info=True)
        return _CARD_RUN.sub("XXXXXX", _UNKEPT.sub("", xml))[:MAX_XML_CHARS]


def _identity_key(n: MitNotification, folio: str | None, reference: str | None) -> str | None:
    """None when MIT's folio and our reference identify the notification (the unique
    constraint on both); otherwise what identifies it when MIT sends it again: the folio
    alone, or a hash of the decrypted body (docs: an error notification may have no folio)."""
    if folio and reference:
        return None
    if folio:
        return f"folio:{folio}"
    return "sha256:" + hashlib.sha256(n.raw_xml.strip().encode("utf-8")).hexdigest()


def _taken_at(n: MitNotification, tz: str) -> datetime | None:
    if not n.date or not n.time:
        return None
    try:
        return parse_mit_datetime(n.date, n.time, tz)
    except ValueError:
        return None


def _row_values(ctx: AppContext, n: MitNotification, now: datetime) -> dict[str, Any]:
    amount = n.amount
    if amount is not None and (abs(amount) >= Decimal("1e10") or amount != amount.quantize(CENT)):
        # Does not fit Numeric(12,2): kept in raw_xml, reviewed as a missing amount.
        amount = None
    folio = _clip(n.folio, 40)
    reference = _clip(n.reference, 100)
    return {
        "folio": folio,
        "reference": reference,
        "identity_key": _identity_key(n, folio, reference),
        "response": _clip(n.response, 20),
        "amount": amount,
        "authorization": _clip(n.auth, 20),
        "cd_error": _clip(n.cd_error, 20),
        "nb_error": _clip(n.nb_error, 2000),
        "taken_at": _taken_at(n, ctx.tz),
        "card_type": _clip(n.cc_type, 100),
        "card_mask": safe_mask(n.cc_mask, n.cc_number),
        "email": _clip(n.email, 254),
        "promotion": _clip(n.promocion, 40),
        "raw_xml": scrub_raw_xml(n.raw_xml),
        "received_at": now,
        # Stored "por revisar" with no reason yet: until the apply step finishes, a person
        # sees it. The apply step replaces status and reason.
        "status": NotificationStatus.REVIEW.value,
        "review_reason": None,
    }


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
        # notification is identified by one or the other (_identity_key).
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


def _later(session: Session, stmt: Any, row: dict[str, Any]) -> None:
    """Insert `row` with `stmt` before this transaction commits (batched with others):
    for rows nothing reads back within the transaction (attempts, audit events)."""
    session.info.setdefault(_PENDING, {}).setdefault(stmt, []).append(row)


def _sql(ctx: AppContext) -> SimpleNamespace:
    return _statements(is_sqlite(ctx.engine))


def _conn(session: Session) -> Connection:
    return session.connection()


def _insert(session: Session, ctx: AppContext, values: dict[str, Any]) -> tuple[int, bool]:
    """Insert once per (folio, reference) in `session`; (id, duplicate). ON CONFLICT DO
    NOTHING settles the race between two workers without an IntegrityError."""
    sql = _sql(ctx)
    conn = _conn(session)
    new_id = conn.execute(sql.insert, values).scalar()
    if new_id is not None:
        return int(new_id), False
    if values.get("identity_key"):
        existing = conn.execute(sql.existing_by_key, {"k": values["identity_key"]}).scalar_one()
    else:
        existing = conn.execute(
            sql.existing, {"f": values["folio"], "r": values["reference"]}
        ).scalar_one()
    return int(existing), True


def _store(ctx: AppContext, values: dict[str, Any]) -> tuple[int, bool]:
    """Store only, in a transaction of its own."""
    with _write(ctx) as session:
        return _insert(session, ctx, values)


# -- step 2: apply ----------------------------------------------------------------------------


def _missing_fields(n: Notification) -> list[str]:
    missing = []
    if not n.reference:
        missing.append("reference")
    if n.response not in RESPONSES:
        missing.append("response")
    if n.response == "approved":
        # A denial or an error is recorded in the link's history without MIT's folio (an
        # error notification may have none); a payment is never applied without it.
        if not n.folio:
            missing.append("foliocpagos")
        if n.amount is None:
            missing.append("amount")
        if not n.authorization:
            missing.append("auth")
        if n.taken_at is None:
            missing.append("date/time")
    return missing


def _lock_link(session: Session, ctx: AppContext, reference: str | None) -> Any:
    """The link (a plain record of its columns), locked for this transaction, or None."""
    row = _conn(session).execute(_sql(ctx).link, {"ref": reference}).mappings().first()
    return SimpleNamespace(**row) if row is not None else None


def _newer_links(session: Session, ctx: AppContext, link: Any, now: datetime) -> list[str]:
    """References of links created after `link` for any of its receipts that can still be
    paid at MIT (live, or cancelled but not yet expired)."""
    params = {"lid": link.id, "created": link.created_at, "now": now}
    return list(_conn(session).execute(_sql(ctx).newer, params).scalars())


def _attempt(session: Session, ctx: AppContext, n: Any, link: Any, now: datetime) -> None:
    result = n.response if n.response in RESPONSES else AttemptResult.ERROR.value
    _later(session, _sql(ctx).attempt, {
        "link_id": link.id, "notification_id": n.id, "result": result,
        "cd_response": None, "cd_error": n.cd_error, "nb_error": n.nb_error,
        "authorization": n.authorization, "taken_at": n.taken_at, "created_at": now,
    })


def _audit(session: Session, ctx: AppContext, *, at: datetime, agent: str, action: str,
           subject: str, detail: str | None = None) -> None:
    """audit.record's row, written with Core like the rest of the hot path."""
    _later(session, _sql(ctx).audit, {
        "at": at, "agent": agent, "action": action, "subject": subject, "detail": detail,
    })


def _mark_paid(session: Session, ctx: AppContext, n: Any, link: Any,
               now: datetime) -> list[int]:
    """The link and its receipts paid, the attempt recorded, the confirmation queued."""
    from paylink_tui.services import outbox

    paid = {
        "state": LinkState.PAID.value,
        "authorization": n.authorization,
        "folio": n.folio,
        "paid_at": n.taken_at or now,
        "card_type": n.card_type,
        "card_mask": n.card_mask,
        "installment_months": installment_months(getattr(n, "promotion", None)),
        "updated_at": now,
    }
    sql = _sql(ctx)
    conn = _conn(session)
    conn.execute(sql.pay_link, {"lid": link.id, **paid})
    for name, value in paid.items():  # the confirmation is rendered from the paid link
        setattr(link, name, value)
    conn.execute(sql.pay_receipts, {"lid": link.id, "now": now})
    _attempt(session, ctx, n, link, now)
    holder = None  # read with the link; without policy or client, the outbox says why
    if getattr(link, "holder_first", None) is not None:
        holder = (link.policy_number,
                  full_name(link.holder_first, link.holder_last, link.holder_second))
    if ctx.settings.mit_notify_payer:
        return []  # MIT sends the client its own confirmation: we don't send a second one
    return [outbox.queue_confirmation(session, ctx, link, now, holder=holder)]


def _decide(session: Session, ctx: AppContext, n: Notification,
            now: datetime) -> tuple[str, str | None, list[int], str | None]:
    """(status, reason, email ids, note) for a stored notification; writes the effects."""
    missing = _missing_fields(n)
    if missing:
        return _review(ReviewReason.MISSING_FIELDS, "Faltan: " + ", ".join(missing))
    link = _lock_link(session, ctx, n.reference)
    if link is None:
        return _review(ReviewReason.UNKNOWN_REFERENCE)
    n.link_id = link.id
    n.event_link = link  # for the events `_tell` writes
    if n.response != "approved":
        # The client may retry with another card: the link stays as it is.
        _attempt(session, ctx, n, link, now)
        return NotificationStatus.APPLIED.value, None, [], None
    if link.state == LinkState.PAID.value:
        log.warning(
            "SECOND APPROVAL for link %s: folio %s after folio %s (possible double charge)",
            link.reference, n.folio, link.folio,
        )
        return _review(
            ReviewReason.SECOND_APPROVAL,
            f"La liga ya estaba pagada con el folio {link.folio} (autorización "
            f"{link.authorization}). Posible doble cargo al cliente.",
        )
    paid = list(_conn(session).execute(_sql(ctx).paid_receipts, {"lid": link.id}).scalars())
    if paid:
        # Checked before the amount: a second charge is the louder finding.
        log.warning(
            "SECOND APPROVAL for link %s: folio %s, its receipts %s were already paid "
            "through another link (possible double charge)",
            link.reference, n.folio, ", ".join(paid),
        )
        return _review(
            ReviewReason.SECOND_APPROVAL,
            f"Los recibos {', '.join(paid)} ya estaban pagados con otra liga. "
            "Posible doble cargo al cliente.",
        )
    if n.amount != link.amount:
        return _review(
            ReviewReason.AMOUNT_MISMATCH,
            f"MIT cobró {format_money(n.amount, link.currency)}; la liga es por "  # type: ignore[arg-type]
            f"{format_money(link.amount, link.currency)}.",
        )
    assert n.taken_at is not None  # noqa: S101 - checked by _missing_fields
    if not taken_in_time(n.taken_at, link.expires_at):
        return _review(ReviewReason.LATE_PAYMENT)
    cancelled = link.state == LinkState.CANCELLED.value
    newer = _newer_links(session, ctx, link, now) if link.has_newer else []
    email_ids = _mark_paid(session, ctx, n, link, now)
    refs = ", ".join(newer)
    if newer:  # flagged whether or not this link was cancelled
        log.warning("payment %s applied to link %s, whose receipts have a newer link %s",
                    n.folio, link.reference, refs)
        for other in newer:
            _audit(session, ctx, at=now, agent=MIT_AGENT, action="link_flagged",
                   subject=f"liga {other}",
                   detail=f"los recibos se pagaron con la liga anterior {link.reference}")
    if cancelled:
        log.warning("payment %s applied to cancelled link %s: flagged", n.folio, link.reference)
        note = "La liga había sido cancelada por nosotros; el pago se aplicó."
        if newer:
            note += f" Sus recibos ya tenían la liga más reciente {refs}: revísela."
        return (NotificationStatus.REVIEW.value, ReviewReason.CANCELLED_LINK.value, email_ids,
                note)
    if newer:
        return (NotificationStatus.REVIEW.value, ReviewReason.NEWER_LINK.value, email_ids,
                f"Pago aplicado a la liga {link.reference}; sus recibos ya tenían la liga más "
                f"reciente {refs}, que sigue pudiéndose pagar en MIT: revísela.")
    return NotificationStatus.APPLIED.value, None, email_ids, None


def _review(reason: ReviewReason, note: str | None = None
            ) -> tuple[str, str | None, list[int], str | None]:
    return NotificationStatus.REVIEW.value, reason.value, [], note


def _is_pending_apply(n: Any) -> bool:
    return n.status == NotificationStatus.REVIEW.value and n.review_reason is None


def _apply_in(session: Session, ctx: AppContext, notification_id: int, now: datetime,
              n: Any = None) -> tuple[str, str | None, tuple[int, ...]]:
    """Apply a stored notification. `n`: its values when this transaction just inserted it
    (no need to read it back); otherwise it is read (and locked on PostgreSQL)."""
    conn = _conn(session)
    sql = _sql(ctx)
    if n is None:
        # A detached copy: _decide reads and annotates it; the row is written once, below.
        n = SimpleNamespace(**conn.execute(sql.notification, {"nid": notification_id})
                            .mappings().one())
    if not _is_pending_apply(n):  # applied already (by us earlier or by another worker)
        return n.status, n.review_reason, ()
    status, reason, email_ids, note = _decide(session, ctx, n, now)
    conn.execute(sql.settle, {"nid": notification_id, "status": status,
                              "review_reason": reason, "note": note, "link_id": n.link_id})
    action = "payment_applied" if status == NotificationStatus.APPLIED.value else "payment_review"
    detail = f"folio {n.folio}, {n.response}"
    if reason:
        detail += f", {REVIEW_REASON[ReviewReason(reason)]}"
    _audit(session, ctx, at=now, agent=MIT_AGENT, action=action,
           subject=f"notificación {n.id} ref {n.reference}", detail=detail)
    _tell(session, ctx, n, getattr(n, "event_link", None), status, reason, now)
    return status, reason, tuple(email_ids)


_APPLIED_WITH_REVIEW = (ReviewReason.NEWER_LINK.value, ReviewReason.CANCELLED_LINK.value)


def _tell(session: Session, ctx: AppContext, n: Any, link: Any, status: str, reason: str | None,
          now: datetime) -> None:
    """The events the agents hear about this notification (services/events.py)."""
    base = {"at": now, "link_id": getattr(link, "id", None),
            "reference": getattr(link, "reference", None) or n.reference,
            "policy_number": getattr(link, "policy_number", None),
            "agent": getattr(link, "agent", None)}
    tell = session.info.setdefault(_EVENTS, []).append
    applied = status == NotificationStatus.APPLIED.value or reason in _APPLIED_WITH_REVIEW
    if n.response == "approved" and applied:
        tell(events.row(kind=events.PAYMENT_APPROVED, **base, data={
            "authorization": n.authorization, "amount": n.amount, "folio": n.folio,
            "installment_months": installment_months(getattr(n, "promotion", None))}))
    elif n.response in ("denied", "error") and link is not None:
        kind = events.PAYMENT_DENIED if n.response == "denied" else events.PAYMENT_ERROR
        tell(events.row(kind=kind, **base, data={
            "cd_error": n.cd_error, "nb_error": n.nb_error, "folio": n.folio}))
    if status == NotificationStatus.REVIEW.value and reason is not None:
        tell(events.row(kind=events.REVIEW_ADDED, **base, data={
            "reason": reason, "notification_id": n.id, "response": n.response}))


def _receive_in(session: Session, ctx: AppContext, values: dict[str, Any],
                now: datetime) -> tuple[int, bool, str, str | None, tuple[int, ...]]:
    """Store and apply in the caller's transaction: (id, duplicate, status, reason, emails)."""
    notification_id, duplicate = _insert(session, ctx, values)
    fresh = None if duplicate else SimpleNamespace(
        id=notification_id, link_id=None, note=None, **values)
    status, reason, email_ids = _apply_in(session, ctx, notification_id, now, fresh)
    return notification_id, duplicate, status, reason, email_ids


def _apply(ctx: AppContext, notification_id: int) -> tuple[str, str | None, tuple[int, ...]]:
    with _write(ctx) as session:
        return _apply_in(session, ctx, notification_id, ctx.now())


def _deliver(ctx: AppContext, email_ids: tuple[int, ...]) -> None:
    """Send the confirmation now; a failure stays in the outbox, retried by `serve`."""
    if not email_ids:
        return
    from paylink_tui.services import outbox

    try:
        outbox.deliver_due(ctx, ids=list(email_ids))
    except Exception:
        log.exception("confirmation email delivery failed; it stays queued")


def receive_notification(ctx: AppContext, str_response: str, *, deliver: bool = True) -> Received:
    """MIT's strResponse -> stored exactly once -> applied or kept for review.

    Raises Rejected (nothing stored) for a body that is not ours. Raises only database errors
    if it could not be stored (the caller answers 5xx so that MIT retries). With
    `deliver=False` the caller delivers `Received.email_ids` itself (after answering MIT).
    """
    now = ctx.now()
    values = _row_values(ctx, parse(ctx, str_response), now)
    received = _receive_values(ctx, values, now)
    if deliver:
        _deliver(ctx, received.email_ids)
    return received


def _receive_values(ctx: AppContext, values: dict[str, Any], now: datetime) -> Received:
    """One parsed notification in a transaction of its own, with the store-alone fallback."""
    try:
        # The usual path: stored and applied in one transaction (one commit).
        with _write(ctx) as session:
            notification_id, duplicate, status, reason, email_ids = _receive_in(
                session, ctx, values, now)
    except Exception:
        # Applying failed and rolled everything back: store it on its own so it is never
        # lost (this raises if even that fails: the caller answers 5xx and MIT retries).
        log.exception("notification (folio %s, ref %s) could not be applied; storing it alone",
                      loggable(values["folio"]), loggable(values["reference"]))
        notification_id, duplicate = _store(ctx, values)
        try:
            status, reason, email_ids = _apply(ctx, notification_id)
        except Exception:
            # Stored, not applied: it stays "por revisar" and MIT's retry tries again.
            log.exception("notification %s stored but could not be applied", notification_id)
            return Received(notification_id, NotificationStatus.REVIEW.value, None, duplicate,
                            pending=True)
    return _received(values, notification_id, duplicate, status, reason, email_ids)


def _received(values: dict[str, Any], notification_id: int, duplicate: bool, status: str,
              reason: str | None, email_ids: tuple[int, ...]) -> Received:
    """The outcome, logged once it is committed."""
    folio, reference = loggable(values["folio"]), loggable(values["reference"])
    if duplicate:
        log.info("notification %s (folio %s, ref %s): duplicate, nothing changed",
                 notification_id, folio, reference)
    else:
        log.info("notification %s (folio %s, ref %s, %s): %s%s", notification_id,
                 folio, reference, loggable(values["response"]), status,
                 f" ({reason})" if reason else "")
    return Received(notification_id, status, reason, duplicate, email_ids)


def receive_many(ctx: AppContext, items: Sequence[str | Prepared]) -> list[Received | Exception]:
    """Several notifications (MIT's strResponse each, or already `prepare`d) stored and
    applied in ONE transaction: one commit, hence one disk sync, for the lot. Same result per
    item as `receive_notification(..., deliver=False)`, in order: a `Received`, or the
    exception it would have raised (Rejected, or any error when it could not be stored).

    Each item fails on its own: an exception while reading one is that one's result; if
    anything fails inside the shared transaction, it rolls back as a whole and each
    notification is received on its own (with its own store-alone fallback): one bad
    notification never costs the others.
    """
    now = ctx.now()
    results: list[Received | Exception | None] = [None] * len(items)
    parsed: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(items):
        try:
            values = item.values if isinstance(item, Prepared) else prepare(ctx, item).values
        except Rejected as exc:
            results[i] = exc
        except Exception as exc:  # noqa: BLE001 - this item's answer; the others go on
            log.exception("a notification could not be read; MIT will retry it")
            results[i] = exc
        else:
            parsed.append((i, values))
    # One order for every process (by reference, then folio), so that two PostgreSQL
    # writers lock links and unique keys in the same order instead of deadlocking.
    parsed.sort(key=lambda item: (item[1]["reference"] or "", item[1]["folio"] or "",
                                  item[1].get("identity_key") or ""))
    if parsed:
        try:
            with _write(ctx) as session:
                done = [(i, values, _receive_in(session, ctx, values, now))
                        for i, values in parsed]
        except Exception:
            log.exception("a batch of %d notifications could not be applied together; "
                          "receiving them one by one", len(parsed))
            for i, values in parsed:
                try:
                    results[i] = _receive_values(ctx, values, now)
                except Exception as exc:
                    log.exception("notification (folio %s, ref %s) could NOT be stored",
                                  loggable(values["folio"]), loggable(values["reference"]))
                    results[i] = exc
        else:
            for i, values, outcome in done:
                results[i] = _received(values, *outcome)
    return [r for r in results if r is not None]


# -- review -------------------------------------------------------------------------------------


def list_review(ctx: AppContext) -> list[ReviewItem]:
    """Notifications kept for review, oldest first."""
    with read_session(ctx.engine) as session:
        rows = session.execute(
            select(Notification, PaymentLink.reference, PaymentAttempt.id, PaymentLink.currency)
            .outerjoin(PaymentLink, PaymentLink.id == Notification.link_id)
            .outerjoin(PaymentAttempt, PaymentAttempt.notification_id == Notification.id)
            .where(Notification.status == NotificationStatus.REVIEW.value)
            .order_by(Notification.received_at, Notification.id)
        ).all()
    items = []
    for n, link_ref, attempt_id, currency in rows:
        reason = n.review_reason
        label = REVIEW_REASON[ReviewReason(reason)] if reason else "Recibida, aún sin aplicar"
        items.append(ReviewItem(
            id=n.id, received_at=n.received_at, reference=n.reference, folio=n.folio,
            response=n.response, amount=n.amount, authorization=n.authorization,
            taken_at=n.taken_at, reason=reason, reason_label=label,
            applied=attempt_id is not None, link_reference=link_ref, note=n.note,
            currency=currency,
        ))
    return items


def _review_row(session: Session, ctx: AppContext, notification_id: int) -> Notification:
    stmt = select(Notification).where(Notification.id == notification_id)
    if not is_sqlite(ctx.engine):
        stmt = stmt.with_for_update()
    n = session.execute(stmt).scalars().first()
    if n is None:
        raise ReviewError(f"No existe la notificación {notification_id}.")
    if n.status != NotificationStatus.REVIEW.value:
        raise ReviewError(f"La notificación {notification_id} no está por revisar (ya se resolvió).")
    return n


def apply_review(ctx: AppContext, notification_id: int, *, reference: str, agent: str) -> Received:
    """A person checked it: apply the notification to the link `reference` (audited)."""
    now = ctx.now()
    email_ids: list[int] = []
    with _write(ctx) as session:
        n = _review_row(session, ctx, notification_id)
        already = session.execute(
            select(PaymentAttempt.id).where(PaymentAttempt.notification_id == n.id)
        ).first()
        if already is not None:
            raise ReviewError(
                f"La notificación {notification_id} ya se aplicó a su liga; si ya la revisó, "
                "márquela como resuelta con una nota."
            )
        link = _lock_link(session, ctx, reference.strip())
        if link is None:
            raise ReviewError(f"No existe una liga con la referencia {reference}.")
        if n.response == "approved":
            if link.state == LinkState.PAID.value:
                raise ReviewError(
                    f"La liga {link.reference} ya está pagada (folio {link.folio}); no se puede "
                    "aplicar otro pago. Márquela como resuelta con una nota."
                )
            if not n.folio or not n.authorization:
                raise ReviewError(
                    "La notificación no trae folio o autorización de MIT; no se puede aplicar "
                    "como pago. Márquela como resuelta con una nota."
                )
            newer = _newer_links(session, ctx, link, now)
            email_ids = _mark_paid(session, ctx, n, link, now)
        else:
            newer = []
            _attempt(session, ctx, n, link, now)
        n.link_id = link.id
        session.add(n)
        audit.record(session, at=now, agent=agent, action="review_applied",
                     subject=f"notificación {n.id}", detail=f"aplicada a la liga {link.reference}")
        if newer:
            # As when such a payment is applied on arrival (_decide): the receipts are paid
            # now, and a newer link for them can still be paid at MIT. It stays for review,
            # and that newer link stays flagged, until someone resolves it with a note.
            refs = ", ".join(newer)
            for other in newer:
                audit.record(session, at=now, agent=agent, action="link_flagged",
                             subject=f"liga {other}",
                             detail=f"los recibos se pagaron con la liga anterior {link.reference}")
            n.review_reason = ReviewReason.NEWER_LINK.value
            n.note = (f"Aplicada a la liga {link.reference} tras revisión; sus recibos ya tenían "
                      f"la liga más reciente {refs}, que sigue pudiéndose pagar en MIT: revísela.")
        else:
            n.status = NotificationStatus.RESOLVED.value
            n.resolved_by = agent
            n.resolved_at = now
            n.note = f"Aplicada a la liga {link.reference} tras revisión."
        policy_number = session.scalar(select(Policy.number).where(Policy.id == link.policy_id))
        tell = {"at": now, "link_id": link.id, "reference": link.reference,
                "policy_number": policy_number, "agent": link.agent}
        if n.response == "approved":
            events.record(session, kind=events.PAYMENT_APPROVED, **tell, data={
                "authorization": n.authorization, "amount": n.amount, "folio": n.folio,
                "installment_months": installment_months(n.promotion)})
        events.record(session, kind=events.REVIEW_RESOLVED, **tell,
                      data={"notification_id": n.id, "by": agent})
    _deliver(ctx, tuple(email_ids))
    return Received(notification_id, n.status, n.review_reason, False, tuple(email_ids))


def applied_message(notification_id: int, reference: str, status: str) -> str:
    """What the agent is told once `apply_review` has run (screen and command line alike)."""
    done = f"Notificación {notification_id} aplicada a la liga {reference.strip()}."
    if status == NotificationStatus.REVIEW.value:
        return (done + " Sigue por revisar: los recibos tienen una liga más reciente que "
                "el cliente aún puede pagar en MIT (vea la nota).")
    return done


def dismiss_review(ctx: AppContext, notification_id: int, *, note: str, agent: str) -> None:
    """Resolved without (further) applying it, with the reviewer's note (audited)."""
    note = (note or "").strip()
    if not note:
        raise ReviewError("Escriba una nota que explique por qué se resuelve sin aplicar.")
    now = ctx.now()
    with _write(ctx) as session:
        n = _review_row(session, ctx, notification_id)
        n.status = NotificationStatus.RESOLVED.value
        n.note = note[:2000]
        n.resolved_by = agent
        n.resolved_at = now
        session.add(n)
        audit.record(session, at=now, agent=agent, action="review_dismissed",
                     subject=f"notificación {n.id}", detail=note[:500])
        events.record(session, at=now, kind=events.REVIEW_RESOLVED, link_id=n.link_id,
                      reference=n.reference, data={"notification_id": n.id, "by": agent})
