"""The local backend: the use cases in this process, on this machine's database, gateway and
mail server (the one-agent mode and the demo). Each method is one service call; the agent
is the context's (PAYLINK_AGENT), who may do everything."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from paylink_tui.domain.errors import BackendUnavailable
from paylink_tui.domain.promotions import InstallmentPlan, applicable_plans
from paylink_tui.domain.results import (
    ALL_CODES,
    ROLE_ADMIN,
    SORT_POLICY,
    BatchOutcome,
    BatchPlan,
    BatchProgress,
    EmailResult,
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
from paylink_tui.services.context import AppContext

F = TypeVar("F", bound=Callable[..., Any])

_DB_TROUBLE = ("La base de datos no pudo completar la operación ({reason}). Nada quedó a "
               "medias: vuelva a intentarlo en un momento.")


def _database_trouble(exc: BaseException) -> BackendUnavailable:
    import logging

    from paylink_tui.backend.factory import database_reason

    logging.getLogger("paylink_tui").error("database error", exc_info=exc)
    return BackendUnavailable(_DB_TROUBLE.format(reason=database_reason(exc)))


def _translated(method: F) -> F:
    """A database that fails mid-call becomes one Spanish AgentError, not a traceback."""
    from sqlalchemy.exc import DBAPIError

    if inspect.isgeneratorfunction(method) or method.__name__ == "iter_pending":
        @functools.wraps(method)
        def gen(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(*args, **kwargs)
            except DBAPIError as exc:
                raise _database_trouble(exc) from None
        return gen  # type: ignore[return-value]

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except DBAPIError as exc:
            raise _database_trouble(exc) from None
    return call  # type: ignore[return-value]


def _all_translated(cls: type) -> type:
    for name, member in list(vars(cls).items()):
        if callable(member) and not name.startswith("_") and name not in ("close", "now"):
            setattr(cls, name, _translated(member))
    return cls


@_all_translated
class LocalBackend:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    # -- who and when --------------------------------------------------------------------
    def identity(self) -> Identity:
        if self.ctx.principal is not None:  # team mode: the signed-in user
            return self.ctx.principal
        s = self.ctx.settings
        return Identity(user=self.ctx.agent, role=ROLE_ADMIN, codes=(ALL_CODES,), server=None,
                        timezone=s.timezone, company=s.company, promotions=s.promotion_plans,
                        reminder_days=s.reminder_offsets, reminder_hour=s.reminder_hour)

    def now(self) -> datetime:
        return self.ctx.now()

    # -- the pending list ----------------------------------------------------------------
    def pending_page(self, *, search: str = "", after: SortKey | None = None,
                     before: SortKey | None = None, last: bool = False,
                     limit: int = 100, sort: str = SORT_POLICY) -> PendingPage:
        from paylink_tui.services import receipts

        return receipts.pending_page(self.ctx, search=search, after=after, before=before,
                                     last=last, limit=limit, sort=sort)

    def pending_totals(self, *, search: str = "") -> PendingTotals:
        from paylink_tui.services import receipts

        return receipts.pending_totals(self.ctx, search=search)

    def receipt_detail(self, receipt_id: int) -> ReceiptDetail | None:
        from paylink_tui.services import receipts

        return receipts.receipt_detail(self.ctx, receipt_id)

    def iter_pending(self, *, search: str = "",
                     sort: str = SORT_POLICY) -> Iterator[PendingRow]:
        from paylink_tui.services import receipts

        yield from receipts.iter_pending(self.ctx, search=search, sort=sort)

    def off_list(self, *, search: str, limit: int = 5) -> list[OffListReceipt]:
        from paylink_tui.services import receipts

        return receipts.off_list(self.ctx, search=search, limit=limit)

    # -- links ---------------------------------------------------------------------------
    def link_plans(self, amount: Decimal, currency: str) -> tuple[InstallmentPlan, ...]:
        return applicable_plans(amount, currency, self.ctx.settings.promotion_plans)

    def generate_link(self, *, receipt_numbers: Sequence[str] = (),
                      policy_number: str | None = None, email: str,
                      plans: Sequence[int] | None = None) -> GeneratedLink:
        from paylink_tui.services import links

        return links.generate_link(self.ctx, receipt_numbers=receipt_numbers,
                                   policy_number=policy_number, email=email,
                                   agent=self.ctx.agent, plans=plans)

    def link_preview(self, *, receipt_numbers: Sequence[str] = (),
                     policy_number: str | None = None) -> LinkPreview:
        from paylink_tui.services import link_advice

        return link_advice.link_preview(self.ctx, receipt_numbers=receipt_numbers,
                                        policy_number=policy_number)

    def retry_link(self, reference: str, *, email: str | None = None) -> GeneratedLink:
        from paylink_tui.services import links

        return links.retry_link(self.ctx, reference, agent=self.ctx.agent, email=email)

    def cancel_link(self, reference: str) -> None:
        from paylink_tui.services import links

        links.cancel_link(self.ctx, reference, agent=self.ctx.agent)

    def resend_link_email(self, reference: str, *, to: str | None = None) -> EmailResult:
        from paylink_tui.services import links

        return links.resend_link_email(self.ctx, reference, to=to, agent=self.ctx.agent)

    def set_link_reminders(self, reference: str, *, enabled: bool) -> None:
        from paylink_tui.services import reminders

        reminders.set_reminders(self.ctx, reference, enabled=enabled, agent=self.ctx.agent)

    # -- many links at once ----------------------------------------------------------------
    def batch_preview(self, *, receipt_numbers: Sequence[str] = (),
                      search: str | None = None) -> BatchPlan:
        from paylink_tui.services import batch

        return batch.batch_preview(self.ctx, receipt_numbers=receipt_numbers, search=search)

    def run_batch(self, plan: BatchPlan, *,
                  on_progress: Callable[[BatchProgress], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> BatchOutcome:
        from paylink_tui.services import batch

        return batch.run_batch(self.ctx, plan, agent=self.ctx.agent, on_progress=on_progress,
                               should_stop=should_stop)

    def stop_batch(self, batch_id: int) -> bool | None:
        from paylink_tui.services import batch_runs

        return True if batch_runs.request_stop(self.ctx, batch_id) else None

    # -- history -------------------------------------------------------------------------
    def list_links(self, *, status: str | None = None, mine: bool = False,
                   limit: int | None = 500, search: str = "") -> list[LinkRow]:
        from paylink_tui.services import history

        return history.list_links(self.ctx, status=status, mine=mine, limit=limit,
                                  search=search)

    def link_detail(self, reference: str) -> LinkDetail | None:
        from paylink_tui.services import history

        return history.link_detail(self.ctx, reference)

    def summary(self) -> Summary:
        from paylink_tui.services import history

        return history.summary(self.ctx)

    # -- review --------------------------------------------------------------------------
    def list_review(self) -> list[ReviewItem]:
        from paylink_tui.services import notifications

        return notifications.list_review(self.ctx)

    def apply_review(self, notification_id: int, *, reference: str,
                     accept_differences: bool = False) -> ReviewOutcome:
        from paylink_tui.services import notifications

        got = notifications.apply_review(self.ctx, notification_id, reference=reference,
                                         agent=self.ctx.agent,
                                         accept_differences=accept_differences)
        return ReviewOutcome(notification_id, got.status,
                             notifications.applied_message(notification_id, reference,
                                                           got.status, got.email_problem),
                             email_problem=got.email_problem)

    def dismiss_review(self, notification_id: int, *, note: str) -> ReviewOutcome:
        from paylink_tui.domain.status import NotificationStatus
        from paylink_tui.services import notifications

        notifications.dismiss_review(self.ctx, notification_id, note=note, agent=self.ctx.agent)
        return ReviewOutcome(notification_id, NotificationStatus.RESOLVED.value,
                             f"Notificación {notification_id} marcada como resuelta.")

    # -- reconciliation with MIT ------------------------------------------------------------
    def reconcile(self, *, day: date | None = None) -> ReconcileReport:
        from paylink_tui.domain.errors import ReconcileError
        from paylink_tui.gateway.errors import GatewayError
        from paylink_tui.services.reconcile import reconcile

        try:
            return reconcile(self.ctx, day=day)
        except GatewayError as exc:
            raise ReconcileError(
                exc.message + " La conciliación necesita la consulta de transacciones de MIT."
            ) from None

    # -- import --------------------------------------------------------------------------
    def import_file(self, path: Path, *, full: bool = False, yes: bool = False,
                    on_progress: Callable[[str, int], None] | None = None) -> ImportReport:
        from paylink_tui.importer.reader import read_receipts
        from paylink_tui.services.access import require_role
        from paylink_tui.services.importing import apply_read_result

        require_role(self.ctx, ROLE_ADMIN)  # team mode: imports are the administrador's
        progress = on_progress or (lambda stage, rows: None)
        result = read_receipts(path, on_progress=lambda rows: progress("reading", rows))
        progress("saving", result.total_rows)
        return apply_read_result(self.ctx.engine, result, filename=Path(path).name, full=full,
                                 yes=yes, agent=self.ctx.agent, now=self.ctx.now())

    # -- live ----------------------------------------------------------------------------
    def events(self, cursor: str | None = None) -> EventBatch:
        from paylink_tui.services import events

        found, after = events.read(self.ctx, cursor)
        return EventBatch(found, after)

    def deliver_outbox(self) -> None:
        import logging

        from paylink_tui.services import reminders
        from paylink_tui.services.notifications import confirm_due
        from paylink_tui.services.outbox import deliver_due

        log = logging.getLogger("paylink_tui")
        try:
            reminders.send_due(self.ctx)  # the TUI sends them when no `serve` runs
        except Exception:  # the outbox below still goes; the next round tries again
            log.exception("reminder round failed")
        try:
            deliver_due(self.ctx)
        finally:
            # With MIT's query configured: the approvals waiting for MIT's confirmation,
            # where no `serve` asks about them (one-agent mode). Never fails the round.
            try:
                confirm_due(self.ctx)
            except Exception:
                log.exception("asking MIT about waiting approvals failed; they wait")

    def close(self) -> None:
        gateway = self.ctx.gateway
        if gateway is not None:
            gateway.close()
        self.ctx.engine.dispose()
