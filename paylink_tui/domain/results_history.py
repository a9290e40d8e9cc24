"""The result types of the history (Historial: the links, their attempts, emails,
reminders and timeline) and of MIT's notifications and the review queue. Re-exported by
domain/results.py, which says what they are for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

# -- history -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptRow:
    result: str  # approved | denied | error
    cd_error: str | None
    nb_error: str | None
    authorization: str | None
    taken_at: datetime | None
    created_at: datetime
    installment_months: int | None = None  # the plan the payer chose; None: one payment


@dataclass(frozen=True)
class LinkFlag:
    """Why a link is flagged for review: a payment for an OLDER link with some of the same
    receipts is kept "por revisar" (domain.md: a late payment for an older link is applied and
    the newer link is flagged). Derived, not stored: it lasts while that review is unresolved."""

    notification_id: int
    older_reference: str
    applied: bool  # the payment was applied to the older link: the receipts are paid
    received_at: datetime


@dataclass(frozen=True)
class ReminderRow:
    """One reminder email for a link: the agent's proof of contact."""

    day: date  # the local day it was for
    to: str
    status: str  # domain.status.ReminderStatus value
    sent_at: datetime | None  # when the mail server accepted it
    queued_at: datetime
    error: str | None  # the last delivery error, Spanish


@dataclass(frozen=True)
class LinkRow:
    link_id: int
    reference: str
    url: str | None
    policy: str
    receipts: list[str]
    holder: str
    email: str
    amount: Decimal
    currency: str
    agent: str
    created_at: datetime
    valid_through: date
    status: str  # LinkStatus value
    email_status: str | None  # status of the newest link email
    last_attempt: AttemptRow | None
    authorization: str | None
    paid_at: datetime | None
    folio: str | None
    card_type: str | None
    card_mask: str | None
    cancelled_at: datetime | None
    review_count: int  # unresolved reviews of its own payments
    flags: tuple[LinkFlag, ...] = ()  # reviews of older links' payments for its receipts
    paid_amount: Decimal | None = None  # what MIT charged (set when paid)
    open_at_mit: bool = False  # MIT can still take a payment for it (cancelled or not)
    installment_plans: tuple[int, ...] = ()  # meses sin intereses it offers (months)
    installment_months: int | None = None  # the plan it was paid with; None: one payment
    reminders: tuple[ReminderRow, ...] = ()  # oldest first
    reminders_off: bool = False  # marked "sin recordatorios"

    @property
    def needs_review(self) -> bool:
        """Something about this link is "por revisar": its own payment, or a flag."""
        return bool(self.review_count or self.flags)


@dataclass(frozen=True)
class EmailRow:
    id: int
    kind: str
    to: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    text: str


@dataclass(frozen=True)
class NotificationRow:
    id: int
    folio: str | None
    reference: str | None
    response: str | None
    amount: Decimal | None
    authorization: str | None
    taken_at: datetime | None
    received_at: datetime
    status: str
    review_reason: str | None
    note: str | None
    confirm_error: str | None = None  # why MIT could not be asked yet (while confirming)
    promotion: str | None = None  # MIT's promocion as sent: C, or the months


@dataclass(frozen=True)
class LinkDetail:
    link: LinkRow
    receipts: list[tuple[str, Decimal, str, date]]  # number, amount, currency, due date
    emails: list[EmailRow]
    attempts: list[AttemptRow]
    notifications: list[NotificationRow]
    timeline: list[TimelineEvent]
    whatsapp_url: str | None = None  # https://wa.me/52…?text=… while the link can be paid
    # The address it was generated for: link.email is where it goes now (a resend to a
    # corrected address changes that, never this).
    generated_for: str | None = None


@dataclass(frozen=True)
class Summary:
    sent_today: int
    sent_week: int
    paid_share: float | None
    collected: dict[str, Decimal] = field(default_factory=dict)
    daily_sent: list[int] = field(default_factory=list)  # last 14 local days, oldest first


@dataclass(frozen=True)
class PaidEvent:
    reference: str
    policy: str
    authorization: str | None
    paid_at: datetime | None
    amount: Decimal
    currency: str


# -- notifications and review --------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    notification_id: int
    status: str  # NotificationStatus value
    reason: str | None  # ReviewReason value, or None
    duplicate: bool
    email_ids: tuple[int, ...] = ()  # confirmation emails queued (deliver after commit)
    pending: bool = False  # stored but not applied: answer 5xx so that MIT resends it
    # Applied, but the client's confirmation email could not be queued: why (Spanish).
    email_problem: str | None = None


@dataclass(frozen=True)
class ReviewItem:
    id: int
    received_at: datetime
    reference: str | None
    folio: str | None
    response: str | None
    amount: Decimal | None
    authorization: str | None
    taken_at: datetime | None
    reason: str | None  # ReviewReason value; None: stored but not applied yet
    reason_label: str
    applied: bool  # the payment is already applied (cancelled_link, newer_link)
    link_reference: str | None
    note: str | None
    currency: str | None = None  # the related link's; None when no link is known
