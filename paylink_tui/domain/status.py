"""One set of statuses per thing (domain.md). Stored values are English; labels are es-MX."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from paylink_tui.domain.dates import utc


class ReceiptStatus(str, Enum):
    PENDING = "pending"
    WITH_LINK = "with_link"  # derived: pending but hidden by a link until D+5
    PAID = "paid"
    SETTLED_ELSEWHERE = "settled_elsewhere"


class LinkState(str, Enum):
    """What is stored for a link. `expired` is never stored: it follows from the time."""

    CREATING = "creating"  # reserved locally, MIT call in flight
    UNCONFIRMED = "unconfirmed"  # MIT call timed out: outcome unknown, retry same reference
    ACTIVE = "active"
    PAID = "paid"
    CANCELLED = "cancelled"


class LinkStatus(str, Enum):
    """What the agent sees for a link."""

    PENDING_CONFIRMATION = "unconfirmed"
    # An approval for it arrived and waits for MIT's transaction query to list it.
    PAYMENT_CONFIRMING = "confirming"
    ACTIVE = "active"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class EmailStatus(str, Enum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # failed at least once, still being retried


class ReminderStatus(str, Enum):
    """A reminder email's delivery, as the agent's proof of contact."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # refused at least once, retried until 22:00 of its day
    NOT_SENT = "not_sent"  # its day ended (or the link closed) before it could be delivered


class AttemptResult(str, Enum):
    APPROVED = "approved"
    DENIED = "denied"
    ERROR = "error"


class NotificationStatus(str, Enum):
    APPLIED = "applied"
    REVIEW = "review"
    RESOLVED = "resolved"
    # An approval stored and not applied: it counts once MIT's query lists it.
    CONFIRMING = "confirming"


class ReviewReason(str, Enum):
    UNKNOWN_REFERENCE = "unknown_reference"
    AMOUNT_MISMATCH = "amount_mismatch"
    SECOND_APPROVAL = "second_approval"
    LATE_PAYMENT = "late_payment"
    CANCELLED_LINK = "cancelled_link"
    NEWER_LINK = "newer_link"
    MISSING_FIELDS = "missing_fields"
    NOT_CONFIRMED = "not_confirmed"  # MIT's query does not list it as notified
    TAKEN_BEFORE_LINK = "taken_before_link"  # MIT's time is before the link existed


def link_status(state: str, expires_at: datetime, now: datetime,
                confirming: bool = False) -> LinkStatus:
    """The status the agent sees, derived from the stored state and the clock; `confirming`:
    an approval for the link waits for MIT's confirmation."""
    st = LinkState(state)
    if st is LinkState.PAID:
        return LinkStatus.PAID
    if confirming:
        return LinkStatus.PAYMENT_CONFIRMING
    if st is LinkState.CANCELLED:
        return LinkStatus.CANCELLED
    if utc(now) >= utc(expires_at):
        return LinkStatus.EXPIRED
    if st in (LinkState.CREATING, LinkState.UNCONFIRMED):
        return LinkStatus.PENDING_CONFIRMATION
    return LinkStatus.ACTIVE


def receipt_status(stored: str, hidden_until: datetime | None, now: datetime) -> ReceiptStatus:
    st = ReceiptStatus(stored)
    if st is ReceiptStatus.PENDING and hidden_until is not None and utc(now) < utc(hidden_until):
        return ReceiptStatus.WITH_LINK
    return st
