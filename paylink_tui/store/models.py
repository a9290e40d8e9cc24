"""The tables. Money is an exact Decimal (store/types.py: cents on SQLite); instants are aware UTC.

Receipts carry a few denormalised columns so that the pending list (the hot path, at
1,000,000 rows) is one indexed scan of one table:
- `policy_number`: the sort key (policy, due date, receipt);
- `search_text`: `domain.text.search_text(policy number, receipt number, holder's name)`,
  indexed by word prefixes: FTS5 on SQLite, the receipt_word table on PostgreSQL
  (migration 0009, kept by triggers);
- `hidden_until`: the latest link's hidden-until instant (local 00:00 of D+5), cleared
  when that link is cancelled. Whoever writes receipts keeps these three up to date.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Column, Index, Integer, Text, UniqueConstraint, false, true
from sqlmodel import Field, SQLModel

from paylink_tui.store.types import Money, UTCDateTime


def _utc_col(nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Client(SQLModel, table=True):
    """A policy's holder ("contratante"). One row per policy: never merged by name."""

    __tablename__ = "client"
    id: int | None = Field(default=None, primary_key=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    second_last_name: str = Field(default="", max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)


class Policy(SQLModel, table=True):
    __tablename__ = "policy"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=40, unique=True)
    ramo: str = Field(default="", max_length=40)
    client_id: int = Field(foreign_key="client.id", index=True)
    # The insurer's agent code ("clave de agente", the import's `agente`); None: no agent
    # (seen by supervisors only in team mode).
    agent_code: str | None = Field(default=None, max_length=40, index=True)


class Receipt(SQLModel, table=True):
    __tablename__ = "receipt"
    __table_args__ = (
        # On PostgreSQL it carries what the list's filters read (migration 0009), so a common
        # search word is checked on index entries while the list's order is walked.
        Index("ix_receipt_pending_order", "status", "policy_number", "due_date", "number",
              postgresql_include=["hidden_until", "search_text", "agent_code", "id"]),
        # The list sorted by lapse (due date + the grace days: the same order as the due date).
        # It carries what the list's filters read (hidden_until, search_text): walking it in
        # due-date order jumps across the table, which is laid out by policy, and reading
        # each row to filter it took twice the time of the default order (bench/pending.py).
        Index("ix_receipt_lapse_order", "status", "due_date", "policy_number", "number",
              "hidden_until", "search_text"),
        # Covers the per-currency totals, so they never read the wide rows.
        Index("ix_receipt_totals", "status", "currency", "hidden_until", "amount"),
        # A policy's pending receipts, oldest first (detail, link dialog, generating a link):
        # with (policy_id) alone SQLite walked ix_receipt_lapse_order instead (migration 0010).
        Index("ix_receipt_policy_pending", "policy_id", "status", "due_date", "number"),
        # An agent's pending list (team mode): the default order within the portfolio's codes.
        Index("ix_receipt_agent_pending", "status", "agent_code", "policy_number", "due_date",
              "number"),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=40, unique=True)
    policy_id: int = Field(foreign_key="policy.id")
    policy_number: str = Field(max_length=40)
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(max_length=3)
    due_date: date
    status: str = Field(default="pending", max_length=20)
    hidden_until: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The policy's agent code, copied so that the portfolio rule filters this table alone.
    agent_code: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(sa_column=_utc_col())
    updated_at: datetime = Field(sa_column=_utc_col())


class PaymentLink(SQLModel, table=True):
    __tablename__ = "payment_link"
    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=40, unique=True)
    url: str | None = Field(default=None, max_length=500)
    mit_link_id: str | None = Field(default=None, max_length=100)
    policy_id: int = Field(foreign_key="policy.id", index=True)
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(max_length=3)
    email: str = Field(max_length=254)
    agent: str = Field(max_length=100, index=True)
    state: str = Field(default="creating", max_length=20, index=True)
    created_at: datetime = Field(sa_column=_utc_col(index=True))
    last_valid_day: date  # local D+3, MIT's fh_vigencia
    expires_at: datetime = Field(sa_column=_utc_col())  # local 00:00 of D+4
    hidden_until: datetime = Field(sa_column=_utc_col())  # local 00:00 of D+5
    # MIT's promociones as sent: "C" (single payment) or e.g. "C,3,6" (meses sin intereses).
    # NULL for links made before it was stored: they were all sent "C".
    promotions: str | None = Field(default=None, max_length=40)
    # Set when paid:
    paid_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    authorization: str | None = Field(default=None, max_length=20)
    folio: str | None = Field(default=None, max_length=40)
    card_type: str | None = Field(default=None, max_length=100)
    card_mask: str | None = Field(default=None, max_length=30)
    # What MIT charged: the link's amount, unless a person applied a different one by hand.
    paid_amount: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    # The plan the client paid with: the months of meses sin intereses, NULL for one payment.
    installment_months: int | None = Field(default=None)
    # Set when cancelled (ours alone: MIT still takes a payment until it expires):
    cancelled_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    cancelled_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = Field(sa_column=_utc_col())
    # When `serve` last asked MIT's transaction query about it (services/reconcile.py).
    reconciled_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    # Marked "sin recordatorios" by the agent: no reminder email for it.
    no_reminders: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))


class LinkReceipt(SQLModel, table=True):
    __tablename__ = "link_receipt"
    link_id: int = Field(foreign_key="payment_link.id", primary_key=True)
    receipt_id: int = Field(foreign_key="receipt.id", primary_key=True, index=True)
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))  # as linked


class Notification(SQLModel, table=True):
    """A payment result from MIT, stored as received, then applied or kept for review."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("folio", "reference", name="uq_notification_folio_reference"),)
    id: int | None = Field(default=None, primary_key=True)
    folio: str | None = Field(default=None, max_length=40)
    reference: str | None = Field(default=None, max_length=100, index=True)
    response: str | None = Field(default=None, max_length=20)
    amount: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    authorization: str | None = Field(default=None, max_length=20)
    cd_error: str | None = Field(default=None, max_length=20)
    nb_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    taken_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    card_type: str | None = Field(default=None, max_length=100)
    card_mask: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=254)
    raw_xml: str = Field(sa_column=Column(Text, nullable=False))
    # NULL when folio and reference identify it; else "folio:…" or "sha256:<decrypted body>".
    identity_key: str | None = Field(default=None, max_length=80, index=True, unique=True)
    promotion: str | None = Field(default=None, max_length=40)  # MIT's promocion: C, 3, 6…
    received_at: datetime = Field(sa_column=_utc_col(index=True))
    status: str = Field(default="review", max_length=20, index=True)
    review_reason: str | None = Field(default=None, max_length=40)
    link_id: int | None = Field(default=None, foreign_key="payment_link.id", index=True)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    resolved_by: str | None = Field(default=None, max_length=100)
    resolved_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    # Where it came from: None for MIT's notification, "reconcile" for MIT's query.
    source: str | None = Field(default=None, max_length=20)
    # Confirming an approval with MIT's transaction query (services/notifications/confirm.py):
    # when it was listed, how often MIT answered without it, when to ask next, who is asking.
    confirmed_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    confirm_attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False,
                                                                server_default="0"))
    confirm_next_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    confirm_claimed_until: datetime | None = Field(default=None,
                                                   sa_column=_utc_col(nullable=True))
    confirm_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class PaymentAttempt(SQLModel, table=True):
    """One per notification that concerns a link: Aprobado, Rechazado or Error."""

    __tablename__ = "payment_attempt"
    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="payment_link.id", index=True)
    notification_id: int = Field(foreign_key="notification.id", unique=True)
    result: str = Field(max_length=20)
    cd_response: str | None = Field(default=None, max_length=100)
    cd_error: str | None = Field(default=None, max_length=20)
    nb_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    authorization: str | None = Field(default=None, max_length=20)
    taken_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    created_at: datetime = Field(sa_column=_utc_col())


class EmailMessage(SQLModel, table=True):
    """The outbox. Rendered when queued (in the same transaction as what it announces)."""

    __tablename__ = "email_message"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # "link" | "confirmation"
    link_id: int | None = Field(default=None, foreign_key="payment_link.id", index=True)
    to_addr: str = Field(max_length=254)
    from_addr: str = Field(max_length=254)
    from_name: str | None = Field(default=None, max_length=100)
    reply_to: str | None = Field(default=None, max_length=254)
    subject: str = Field(max_length=300)
    message_id: str = Field(max_length=300, unique=True)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="queued", max_length=20, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_attempt_at: datetime = Field(sa_column=_utc_col(index=True))
    claimed_until: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    created_at: datetime = Field(sa_column=_utc_col())
    # Not sent after this instant (a reminder: 22:00 local of its day); NULL: no deadline.
    send_before: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))


class Reminder(SQLModel, table=True):
    """One reminder of an unpaid link: at most one per link and local day (the unique key is
    the claim that keeps several `serve` workers and the TUI from sending it twice)."""

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("link_id", "day", name="uq_reminder_link_day"),)
    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="payment_link.id")
    day: date  # the local day it is for
    to_addr: str = Field(max_length=254)
    email_id: int | None = Field(default=None, foreign_key="email_message.id")
    created_at: datetime = Field(sa_column=_utc_col())


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_utc_col(index=True))
    agent: str = Field(max_length=100)
    action: str = Field(max_length=40)
    subject: str = Field(max_length=200)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ImportBatch(SQLModel, table=True):
    __tablename__ = "import_batch"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_utc_col())
    agent: str = Field(max_length=100)
    filename: str = Field(max_length=500)
    full: bool = False
    rows: int = 0
    added: int = 0
    updated: int = 0
    rejected: int = 0
    settled: int = 0


class Event(SQLModel, table=True):
    """What happened, for the agents' live view (the TUI's toasts, the API's event stream).

    Written by the use case in the same transaction as what it records, so an event exists
    exactly when its change was committed; ids become visible in id order
    (services/events.py), so a reader's cursor is the last id it read."""

    __tablename__ = "event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_utc_col())
    kind: str = Field(max_length=30)
    link_id: int | None = Field(default=None, foreign_key="payment_link.id", index=True)
    reference: str | None = Field(default=None, max_length=100)
    policy_number: str | None = Field(default=None, max_length=40)
    agent: str | None = Field(default=None, max_length=100)  # the link's agent
    data: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON


class User(SQLModel, table=True):
    """Who may sign in to the agency's server (team mode). `codes`: comma-separated agent
    codes, or "*"; `password_hash`: Argon2id (services/users.py)."""

    __tablename__ = "app_user"
    __table_args__ = (UniqueConstraint("name", name="uq_app_user_name"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=20)
    codes: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    password_hash: str = Field(sa_column=Column(Text, nullable=False))
    must_change_password: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true()))
    disabled: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    created_at: datetime = Field(sa_column=_utc_col())
    password_changed_at: datetime | None = Field(default=None,
                                                 sa_column=_utc_col(nullable=True))


class UserSession(SQLModel, table=True):
    """A signed-in session: the bearer token's SHA-256 (hex), never the token."""

    __tablename__ = "user_session"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_user_session_token_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(sa_column=_utc_col())
    last_seen_at: datetime = Field(sa_column=_utc_col())  # idle expiry: this + 12 h
    expires_at: datetime = Field(sa_column=_utc_col())  # absolute: created_at + 7 d


class BatchRun(SQLModel, table=True):
    """A batch of links under way on the agency's server (team mode): the handle by which its
    agent asks it to stop from any `serve` worker (services/batch_runs.py)."""

    __tablename__ = "batch_run"
    id: int | None = Field(default=None, primary_key=True)
    user_name: str = Field(max_length=100)  # who started it: only they may stop it
    started_at: datetime = Field(sa_column=_utc_col())
    stop_requested_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=_utc_col(nullable=True))
