"""The result types of the agent's use cases: what the services return, what the backend
interface (`paylink_tui.backend`) hands to the UI and the commands, and what the team-mode
API sends as JSON. Pure data, no I/O: the remote client imports this without SQLAlchemy.

Money is Decimal, instants are aware UTC datetimes, local days are dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from paylink_tui.domain.batch import (  # noqa: F401 - re-exported: the batch's result types
    BatchLink,
    BatchOutcome,
    BatchPlan,
    BatchProgress,
    BatchResult,
    BatchSkip,
)
from paylink_tui.domain.money import format_money
from paylink_tui.domain.promotions import InstallmentPlan
from paylink_tui.domain.text import UNSAFE_RE, full_name

# The pending list's orders (`pending --sort policy|lapse`). A receipt lapses at 12:00 of its
# due date + the grace days, the same G for all: ordering by lapse IS ordering by due date.
SORT_POLICY = "policy"
SORT_LAPSE = "lapse"
SORTS = (SORT_POLICY, SORT_LAPSE)
PolicyKey = tuple[str, date, str]  # (policy, due date, receipt)
LapseKey = tuple[date, str, str]  # (due date, policy, receipt): most urgent first
SortKey = PolicyKey | LapseKey


def key_just_before(key: SortKey) -> SortKey:
    """A key that sorts just before `key` in its own order, so that a page read `after=` it
    starts with the row of `key` itself (its receipt number is cut by one character)."""
    first, second, receipt = key
    return (first, second, receipt[:-1] if receipt else receipt)  # type: ignore[return-value]


def printable(value: str, limit: int = 60) -> str:
    """Escape control characters (\\n, \\x1b, …) and bidirectional overrides (U+202E) so a
    bad value can drive neither the terminal nor the order in which it is read."""
    text = "".join(
        (ch.encode("unicode_escape").decode("ascii") if UNSAFE_RE.match(ch) else ch)
        for ch in value
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the pending list -------------------------------------------------------------------


@dataclass(frozen=True)
class PendingRow:
    receipt_id: int
    receipt: str
    policy: str
    ramo: str
    first_name: str
    last_name: str
    second_last_name: str
    email: str | None
    phone: str | None
    amount: Decimal
    currency: str
    due_date: date
    # The UTC instant the policy's coverage ceases if this receipt stays unpaid (local 12:00
    # of due date + PAYLINK_GRACE_DAYS; domain/lapse.py turns it into words).
    lapses_at: datetime | None = None

    @property
    def holder(self) -> str:
        return full_name(self.first_name, self.last_name, self.second_last_name)

    @property
    def key(self) -> PolicyKey:
        return (self.policy, self.due_date, self.receipt)

    def sort_key(self, sort: str = SORT_POLICY) -> SortKey:
        """This row's key in the order `sort` (SORT_POLICY or SORT_LAPSE)."""
        if sort == SORT_LAPSE:
            return (self.due_date, self.policy, self.receipt)
        return self.key

    def is_overdue(self, today: date) -> bool:
        return self.due_date < today


@dataclass(frozen=True)
class PendingPage:
    rows: list[PendingRow]
    has_more: bool  # more rows beyond this page in the direction it was read
    sort: str = SORT_POLICY  # the order of the rows and of the keys below

    @property
    def first_key(self) -> SortKey | None:
        return self.rows[0].sort_key(self.sort) if self.rows else None

    @property
    def last_key(self) -> SortKey | None:
        return self.rows[-1].sort_key(self.sort) if self.rows else None


@dataclass(frozen=True)
class PendingTotals:
    count: int
    amounts: dict[str, Decimal] = field(default_factory=dict)  # currency -> sum


@dataclass(frozen=True)
class OffListReceipt:
    """A receipt that a search finds but the pending list does not show, and why: it has a
    live link (back on the list on `reappears_on` if unpaid), it was paid, or settled
    elsewhere."""

    receipt: str
    policy: str
    holder: str
    status: str  # ReceiptStatus value: with_link | paid | settled_elsewhere
    link_reference: str | None  # the newest link with this receipt
    link_status: str | None  # its LinkStatus value
    valid_through: date | None  # the link's last day at MIT
    reappears_on: date | None  # with_link: the day it is pending again if still unpaid
    paid_at: datetime | None = None


@dataclass(frozen=True)
class LinkSummary:
    reference: str
    url: str | None
    email: str
    agent: str
    amount: Decimal
    currency: str
    created_at: datetime
    last_valid_day: date
    status: str  # domain.status.LinkStatus value
    receipts: list[str]


@dataclass(frozen=True)
class ReceiptDetail:
    receipt: PendingRow
    status: str  # ReceiptStatus value, derived with the clock
    policy_receipts: list[PendingRow]  # other pending receipts of the same policy
    emails: list[str]  # on file first, then addresses used for earlier links
    links: list[LinkSummary]  # earlier links for these receipts, newest first


# -- links ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedLink:
    link_id: int
    reference: str
    url: str
    email: str
    amount: Decimal
    currency: str
    policy_number: str
    receipt_numbers: tuple[str, ...]
    valid_through: date  # local D+3, the last day the client can pay
    reappears_on: date  # local D+5, when unpaid receipts are pending again
    expires_at: datetime  # UTC instant of local 00:00 of D+4
    email_status: str  # 'sent' | 'queued' | 'failed'
    email_error: str | None
    # False when the email could not even be put in the outbox (a broken template, say):
    # nothing retries it, the agent must resend it once the cause is fixed.
    email_queued: bool = True
    installment_plans: tuple[int, ...] = ()  # meses sin intereses offered besides one payment
    holder: str = ""
    # Older pending receipts of the same policy and currency that the link left out (the
    # insurer applies premiums in order), and the warning that names them.
    older_pending: tuple[PendingRow, ...] = ()
    older_warning: str | None = None
    # The earliest lapse instant of its receipts; the warning when the link can still be
    # paid after it (a payment then does not by itself restore the coverage).
    lapses_at: datetime | None = None
    lapse_warning: str | None = None
    whatsapp_url: str | None = None  # https://wa.me/52…?text=… when the phone is valid

    @property
    def amount_text(self) -> str:
        return format_money(self.amount, self.currency)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the agent should read before sending it on (Spanish)."""
        return tuple(w for w in (self.older_warning, self.lapse_warning) if w)


@dataclass(frozen=True)
class LinkPreview:
    """What a link for these receipts (or this policy) would be, before it is made: what the
    link dialog shows, with its warnings. Nothing is reserved."""

    policy: str
    holder: str
    email: str | None  # the address on file
    receipts: tuple[PendingRow, ...]  # what it would cover, oldest first
    amount: Decimal
    currency: str
    valid_through: date  # D+3 if generated now
    expires_at: datetime
    lapses_at: datetime | None
    lapse_warning: str | None
    older_pending: tuple[PendingRow, ...]  # left out: offer to include them
    older_warning: str | None
    whatsapp: bool  # the holder's phone is a valid Mexican phone

    @property
    def amount_text(self) -> str:
        return format_money(self.amount, self.currency)

    @property
    def with_older(self) -> tuple[str, ...]:
        """The receipt numbers of the link with the older ones included (the dialog's key)."""
        rows = sorted((*self.older_pending, *self.receipts), key=lambda r: (r.due_date, r.receipt))
        return tuple(r.receipt for r in rows)


@dataclass(frozen=True)
class EmailResult:
    reference: str
    to: str
    email_status: str
    email_error: str | None
    email_queued: bool = True  # as in GeneratedLink


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


# -- import ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str | None
    value: str
    reason: str

    @property
    def shown_value(self) -> str:
        """The value made safe to print: control characters escaped, long text cut."""
        return printable(self.value)

    def __str__(self) -> str:
        where = f"línea {self.line}"
        if self.column:
            where += f", columna {self.column}"
        if self.column and self.value != "":
            where += f", valor «{self.shown_value}»"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class RefusedChange:
    """An amount/currency change not applied because a link already carries the old one."""

    line: int
    receipt: str
    old_amount: Decimal
    old_currency: str
    new_amount: Decimal
    new_currency: str
    reason: str

    def __str__(self) -> str:
        return (f"línea {self.line}, recibo {self.receipt}: el monto no se cambió de "
                f"{self.old_amount} {self.old_currency} a {self.new_amount} {self.new_currency} "
                f"porque {self.reason}")


@dataclass
class ImportReport:
    filename: str
    total_rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    refused_changes: list[RefusedChange] = field(default_factory=list)
    # Rows imported whose phone is no valid Mexican phone: kept as written, no WhatsApp.
    phone_warnings: list[RowError] = field(default_factory=list)
    policies_added: int = 0
    clients_updated: int = 0
    full: bool = False
    settled_elsewhere: int = 0
    # --full outcomes that settled nothing, and why:
    settle_blocked_by_errors: bool = False
    needs_confirmation: bool = False  # would settle more than 10%: nothing was written
    would_settle: int = 0
    pending_total: int = 0
    kept_with_live_link: int = 0
    # Policies whose agent code (column `agente`) changed: moved to another portfolio.
    agents_changed: int = 0

    @property
    def rejected(self) -> int:
        return len({e.line for e in self.errors})

    @property
    def written(self) -> bool:
        return not self.needs_confirmation

    @property
    def exit_code(self) -> int:
        """0: all rows accepted; 1: some rejected or not fully applied; 2: nothing imported."""
        if self.needs_confirmation:
            return 2
        if self.errors or self.refused_changes:
            return 1
        return 0


# -- who, and what happened ----------------------------------------------------------------


ROLE_AGENT = "agente"
ROLE_SUPERVISOR = "supervisor"
ROLE_ADMIN = "administrador"
ALL_CODES = "*"


@dataclass(frozen=True)
class Identity:
    """Who the backend acts for, and where."""

    user: str
    role: str  # agente | supervisor | administrador
    codes: tuple[str, ...] = (ALL_CODES,)  # agent codes ("claves de agente"), or "*"
    server: str | None = None  # the agency server's URL in team mode; None: this machine
    timezone: str = "America/Mexico_City"
    company: str = "AXA"
    # The meses-sin-intereses plans of the MIT contract, for `Backend.link_plans` (no call).
    promotions: tuple[InstallmentPlan, ...] = ()
    # When unpaid links get a reminder (PAYLINK_REMINDER_DAYS: days after the link's day;
    # empty: none) and from which local hour: the link's detail says when the next one is due.
    reminder_days: tuple[int, ...] = ()
    reminder_hour: int = 9

    @property
    def is_supervisor(self) -> bool:
        return self.role in (ROLE_SUPERVISOR, ROLE_ADMIN)


ROLES = (ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)


@dataclass(frozen=True)
class UserRow:
    """A user of the agency's server, as `users list` shows it (never the password)."""

    name: str
    role: str
    codes: tuple[str, ...]
    disabled: bool
    must_change_password: bool
    created_at: datetime


@dataclass(frozen=True)
class Event:
    """Something that happened to the user's links, for the live toast and refreshes.

    kind: `payment_approved` | `payment_denied` | `payment_error` | `payment_received`
    (approved, waiting for MIT's confirmation) | `review_added` | `review_resolved` |
    `link_changed` (generated, cancelled, resent, retried) | `import_done`.
    """

    id: str  # opaque, increasing: the cursor to ask for what came after it
    kind: str
    at: datetime
    reference: str | None = None
    policy: str | None = None
    data: dict[str, str] = field(default_factory=dict)  # kind-specific, all text


@dataclass(frozen=True)
class EventBatch:
    events: list[Event]
    cursor: str  # give it back to `events` to get what came after


@dataclass(frozen=True)
class ReviewOutcome:
    notification_id: int
    status: str  # NotificationStatus value after the action
    message: str  # what the agent is told (Spanish)
    # Applied, but the client's confirmation email could not be sent: why (Spanish).
    email_problem: str | None = None


# -- reconciliation with MIT --------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileFound:
    """One transaction MIT's query listed, and what became of it."""

    reference: str
    operation: str  # MIT's operation number, without leading zeros (the folio)
    response: str
    amount: Decimal | None
    status: str  # NotificationStatus value
    reason: str | None  # ReviewReason value
    duplicate: bool  # stored already: nothing changed (unless it confirmed a waiting one)
    confirmed_waiting: bool = False  # it was the approval waiting for MIT's confirmation


@dataclass
class ReconcileReport:
    links: int = 0
    queries: int = 0
    failed: int = 0  # queries MIT did not answer
    found: list[ReconcileFound] = field(default_factory=list)
    ignored: int = 0  # listed but not sales (refunds, cancellations, automatic charges)
    errors: list[str] = field(default_factory=list)  # Spanish, distinct

    @property
    def answered(self) -> bool:
        return self.failed == 0
