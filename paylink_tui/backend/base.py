"""The one interface between the agent's surfaces (the TUI, the commands) and the use cases.

Two implementations (team-mode.md, "The boundary that makes it possible"):
- `LocalBackend` (backend/local.py): the services in-process, on this machine's database,
  MIT key and mail server: the one-agent mode and the demo;
- a remote backend: the same calls over the agency server's `/api/v1/` (team mode).
The UI cannot tell which one it has. Every method is one use case; who is asking is never a
parameter: it is the local agent here, the signed-in user on the server. Results are the
types of `domain.results`; failures the agent may read are `domain.errors.AgentError`s.

Calls block (database, network): the UI makes them in thread workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol, runtime_checkable

from paylink_tui.domain.promotions import InstallmentPlan
from paylink_tui.domain.results import (  # noqa: F401 - re-exported
    ALL_CODES,
    ROLE_ADMIN,
    ROLE_AGENT,
    ROLE_SUPERVISOR,
    SORT_POLICY,
    BatchOutcome,
    BatchPlan,
    BatchProgress,
    EmailResult,
    Event,
    EventBatch,
    GeneratedLink,
    Identity,
    ImportReport,
    LinkDetail,
    LinkPreview,
    LinkRow,
    OffListReceipt,
    PendingPage,
    PendingRow,
    PendingTotals,
    ReceiptDetail,
    ReconcileReport,
    ReviewItem,
    ReviewOutcome,
    SortKey,
    Summary,
)


@runtime_checkable
class Backend(Protocol):
    # -- who and when --------------------------------------------------------------------
    def identity(self) -> Identity: ...

    def now(self) -> datetime:
        """The clock the use cases run on (frozen in tests)."""
        ...

    # -- the pending list ----------------------------------------------------------------
    def pending_page(self, *, search: str = "", after: SortKey | None = None,
                     before: SortKey | None = None, last: bool = False,
                     limit: int = 100, sort: str = SORT_POLICY) -> PendingPage: ...

    def pending_totals(self, *, search: str = "") -> PendingTotals: ...

    def receipt_detail(self, receipt_id: int) -> ReceiptDetail | None: ...

    def iter_pending(self, *, search: str = "",
                     sort: str = SORT_POLICY) -> Iterator[PendingRow]: ...

    def off_list(self, *, search: str, limit: int = 5) -> list[OffListReceipt]:
        """Receipts `search` finds that the pending list leaves out (a live link hides them,
        paid, settled elsewhere), with the link and when they come back: what the agent is
        told when a search finds no pending receipt."""
        ...

    # -- links ---------------------------------------------------------------------------
    def link_plans(self, amount: Decimal, currency: str) -> tuple[InstallmentPlan, ...]:
        """The meses-sin-intereses plans a link of this amount can offer (the contract's,
        from `identity().promotions`): pure, never waits on the database or the network."""
        ...

    def generate_link(self, *, receipt_numbers: Sequence[str] = (),
                      policy_number: str | None = None, email: str,
                      plans: Sequence[int] | None = None) -> GeneratedLink:
        """`plans`: the months offered besides the single payment; None: every plan that
        applies; empty: single payment only. PlanRefused (before MIT) for one that can't."""
        ...

    def link_preview(self, *, receipt_numbers: Sequence[str] = (),
                     policy_number: str | None = None) -> LinkPreview:
        """What `generate_link` with the same choice would make now, and its warnings (older
        receipts left out, payable after the lapse, WhatsApp possible). Reserves nothing."""
        ...

    def retry_link(self, reference: str, *, email: str | None = None) -> GeneratedLink: ...

    def cancel_link(self, reference: str) -> None: ...

    def resend_link_email(self, reference: str, *, to: str | None = None) -> EmailResult: ...

    def set_link_reminders(self, reference: str, *, enabled: bool) -> None:
        """Mark the link "sin recordatorios" (`enabled=False`) or give it reminders again.
        LinkStateError for a link paid, cancelled or expired."""
        ...

    # -- many links at once ----------------------------------------------------------------
    def batch_preview(self, *, receipt_numbers: Sequence[str] = (),
                      search: str | None = None) -> BatchPlan:
        """The plan for the marked receipts, or for every pending receipt that matches
        `search`: one link per policy and currency, each to the email on file, and who is
        skipped and why. Reserves nothing. BatchTooLarge beyond 5,000 links."""
        ...

    def run_batch(self, plan: BatchPlan, *,
                  on_progress: Callable[[BatchProgress], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> BatchOutcome:
        """Make the plan's links (at most 4 MIT calls at a time; a failure does not stop the
        others). `should_stop()` is asked before each link starts; `on_progress` hears each
        outcome in the caller's thread. Running a plan again never makes a second link."""
        ...

    def stop_batch(self, batch_id: int) -> bool | None:
        """Ask a batch under way on the agency's server to start no further link (the ones
        under way finish; its outcome says which were not tried). The remote run_batch calls
        it when `should_stop()` turns true; None when the signed-in user has no such batch
        under way (another user's, a finished one, none)."""
        ...

    # -- history -------------------------------------------------------------------------
    def list_links(self, *, status: str | None = None, mine: bool = False,
                   limit: int | None = 500, search: str = "") -> list[LinkRow]:
        """Newest first. `search`: the pending list's rule over the links' policy, receipts
        and holder, and their reference."""
        ...

    def link_detail(self, reference: str) -> LinkDetail | None: ...

    def summary(self) -> Summary: ...

    # -- review --------------------------------------------------------------------------
    def list_review(self) -> list[ReviewItem]: ...

    def apply_review(self, notification_id: int, *, reference: str,
                     accept_differences: bool = False) -> ReviewOutcome:
        """Raises NeedsConfirmation (naming both sides) when the payment's amount or time does
        not fit the link, or MIT never confirmed it, unless `accept_differences`."""
        ...

    def dismiss_review(self, notification_id: int, *, note: str) -> ReviewOutcome: ...

    # -- reconciliation with MIT ------------------------------------------------------------
    def reconcile(self, *, day: date | None = None) -> ReconcileReport:
        """Ask MIT's transaction query about the links that can still receive a payment and
        have none (or, with `day`, those that could have been paid that day) and apply what
        it took. Raises an AgentError when MIT's query is not configured."""
        ...

    # -- import --------------------------------------------------------------------------
    def import_file(self, path: Path, *, full: bool = False, yes: bool = False,
                    on_progress: Callable[[str, int], None] | None = None) -> ImportReport:
        """Read and store the insurer's export. `on_progress(stage, rows)`: stage is
        `reading` or `saving`. Raises ImportFileError when nothing could be read."""
        ...

    # -- live ----------------------------------------------------------------------------
    def events(self, cursor: str | None = None) -> EventBatch:
        """What happened after `cursor` (None: nothing yet, only the current cursor)."""
        ...

    def deliver_outbox(self) -> None:
        """Send the reminders due now and retry the emails that wait (one-agent mode; the
        server does both in team mode). Safe beside a running `serve`: nothing goes twice."""
        ...

    def close(self) -> None: ...
