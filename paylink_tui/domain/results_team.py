"""The result types of who is signed in (team mode: identity, roles, users), of what happened
(events for the live view), of the review's decisions and of the reconciliation with MIT.
Re-exported by domain/results.py, which says what they are for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from paylink_tui.domain.promotions import InstallmentPlan

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
