"""`serve`'s reminder loop: every REMINDER_INTERVAL seconds (at least once a minute) it sends
the reminders due now (services/reminders.py). Every worker runs it; the database's claim
(one `reminder` row per link and day) makes each go once, whichever worker finds it first."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.concurrency import run_in_threadpool

from paylink_tui.services.context import AppContext

log = logging.getLogger(__name__)

REMINDER_INTERVAL = 30.0


async def reminder_loop(ctx: AppContext, interval: float = REMINDER_INTERVAL) -> None:
    from paylink_tui.services import reminders

    while True:
        try:
            sent = await run_in_threadpool(reminders.send_due, ctx)
            if sent:
                log.info("%d reminder(s) queued and delivered", len(sent))
        except asyncio.CancelledError:
            raise
        except Exception:  # the next round tries again; nothing is lost (the outbox keeps them)
            log.exception("reminder round failed")
        await asyncio.sleep(interval)


def start(ctx: AppContext, interval: float | None, deliver_interval: float) -> asyncio.Task | None:
    """The loop as a task of the app's lifespan: every `interval` seconds, by default
    REMINDER_INTERVAL when the outbox loop runs too (0: none, as in tests)."""
    every = interval if interval is not None else (REMINDER_INTERVAL if deliver_interval > 0 else 0)
    if every <= 0:
        return None
    return asyncio.create_task(reminder_loop(ctx, every))


async def stop(task: asyncio.Task | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
