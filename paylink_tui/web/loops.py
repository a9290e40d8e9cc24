"""The receiver's background work with MIT, beside the outbox loop (web/app.py):

- `confirm_loop`: asks MIT's transaction query about the approvals waiting to be confirmed
  (services/notifications/confirm.py) at once when one arrives (`kick`) and every few
  seconds for the ones whose next turn came;
- `reconcile_loop`: every PAYLINK_RECONCILE_MINUTES, asks MIT about the links whose payment
  may never have been notified (services/reconcile.py), its calls spread over part of the
  interval.
MIT down or answering garbage is logged and retried later; neither loop ever stops `serve`.
Several workers or processes may run them: the database decides who asks about what.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from paylink_tui.services.context import AppContext

log = logging.getLogger(__name__)

CONFIRM_BATCH = 20
# Seconds between two reconciliation queries at most, and the share of the interval the
# calls of one round may be spread over.
MAX_PACE = 2.0
SPREAD = 0.5


async def confirm_loop(ctx: AppContext, interval: float, kick: asyncio.Event) -> None:
    from paylink_tui.services.notifications import confirm_due

    while True:
        handled = 0
        try:
            report = await run_in_threadpool(confirm_due, ctx, limit=CONFIRM_BATCH)
            handled = report.applied + report.not_confirmed + report.waiting + report.unreachable
            if report.unreachable:
                log.warning("MIT's transaction query could not be asked for %d approval(s); "
                            "they wait and are asked again", report.unreachable)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("confirmation round failed; the approvals wait and are asked again")
        if handled >= CONFIRM_BATCH:
            continue  # more may be due right now
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(kick.wait(), timeout=interval)
        kick.clear()


async def reconcile_loop(ctx: AppContext, minutes: float, first_delay: float = 60.0,
                         every: float = 300.0) -> None:
    """Every `every` seconds, claim the links due (each at most once per `minutes`) and ask
    about them one at a time, paced so that a round's calls spread over half the interval.
    The pauses are on the event loop: stopping serve never waits for a round to end."""
    from paylink_tui.services import reconcile

    interval = timedelta(minutes=minutes)
    await asyncio.sleep(first_delay)
    while True:
        try:
            asks = await run_in_threadpool(lambda: reconcile.claim_due(ctx, interval=interval))
            queries = sum(len(a.days) for a in asks)
            pace = min(MAX_PACE, interval.total_seconds() * SPREAD / queries) if queries else 0
            found = failed = 0
            for item in asks:
                retry = reconcile.retry_at(ctx, interval)
                report = await run_in_threadpool(
                    lambda item=item, retry=retry: reconcile.ask(ctx, [item], retry=retry))
                found += len(report.found)
                failed += report.failed
                await asyncio.sleep(pace * len(item.days))
            if asks:
                log.info("reconciliation: %d link(s), %d quer(ies), %d found, %d failed "
                         "(asked again later)", len(asks), queries, found, failed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reconciliation round failed; it runs again later")
        await asyncio.sleep(every)


def start(app: Any, ctx: AppContext, confirm_interval: float,
          reconcile_minutes: float | None) -> list[asyncio.Task[None]]:
    """The loops for this app, when MIT's query is configured (`app.state.confirm_now` wakes
    the confirmation loop). `reconcile_minutes` None: PAYLINK_RECONCILE_MINUTES."""
    from paylink_tui.services.notifications import can_confirm

    if not can_confirm(ctx):
        return []
    tasks = []
    if confirm_interval > 0:
        kick = asyncio.Event()
        app.state.confirm_now = kick
        tasks.append(asyncio.create_task(confirm_loop(ctx, confirm_interval, kick)))
    minutes = ctx.settings.reconcile_minutes if reconcile_minutes is None else reconcile_minutes
    if minutes > 0:
        tasks.append(asyncio.create_task(reconcile_loop(ctx, minutes)))
    return tasks


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
