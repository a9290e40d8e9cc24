"""The result types of the agent's use cases: what the services return, what the backend
interface (`paylink_tui.backend`) hands to the UI and the commands, and what the team-mode
API sends as JSON. Pure data, no I/O: the remote client imports this without SQLAlchemy.

Money is Decimal, instants are aware UTC datetimes, local days are dates.

Here: the pending list and the links. By subject, re-exported from here (import them from
this module): results_history.py (Historial, notifications, the review queue),
results_import.py (the import's report), results_team.py (identity and users, events, the
review's decisions, reconciliation), batch.py (many links at once).
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
from paylink_tui.domain.results_history import (  # noqa: F401 - re-exported
    AttemptRow,
    EmailRow,
    LinkDetail,
    LinkFlag,
    LinkRow,
    NotificationRow,
    PaidEvent,
    Received,
    ReminderRow,
    ReviewItem,
    Summary,
    TimelineEvent,
)
from paylink_tui.domain.results_import import (  # noqa: F401 - re-exported
    ImportReport,
    RefusedChange,
    RowError,
)
from paylink_tui.domain.results_team import (  # noqa: F401 - re-exported
    ALL_CODES,
    ROLE_ADMIN,
    ROLE_AGENT,
    ROLE_SUPERVISOR,
    ROLES,
    Event,
    EventBatch,
    Identity,
    ReconcileFound,
    ReconcileReport,
    ReviewOutcome,
    UserRow,
)
from paylink_tui.domain.text import full_name, printable  # noqa: F401 - printable: re-exported

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
