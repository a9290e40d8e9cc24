"""One writer for the notifications of this process (group commit), and the watch on the
database schema under it."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.concurrency import run_in_threadpool

from paylink_tui.services.context import AppContext

log = logging.getLogger(__name__)


class GroupWriter:
    """One writer for the notifications of this process (group commit).

    Each request hands its notification over (decrypted and read already, by the request
    itself: a hostile body costs that request, never the batch) and waits. While a batch is being stored and
    applied (one transaction, one commit, in a worker thread), the notifications that
    arrive meanwhile queue up and become the next batch. A request gets its answer only
    after the transaction holding its notification committed; if the batch fails as a
    whole, `receive_many` receives each notification on its own, so one bad notification
    never costs the others. Under light load a batch is a single notification: no waiting.
    """

    def __init__(self, ctx: AppContext, max_batch: int = 64) -> None:
        self.ctx = ctx
        self.max_batch = max_batch
        self.schema = SchemaWatch(ctx)
        self._pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None  # referenced, so it is not collected
        self._last_batch_end = 0.0

    def busy(self, quiet: float = 0.1) -> bool:
        """Notifications are being applied, or were less than `quiet` seconds ago."""
        return self._running or time.monotonic() - self._last_batch_end < quiet

    async def receive(self, item: Any) -> Any:
        """receive_notification(..., deliver=False) of a `notifications.Prepared` (or a
        strResponse), batched with concurrent calls."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if not self._running:
            self._running = True
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                try:
                    results = await run_in_threadpool(
                        self._receive_many, [value for value, _ in batch])
                except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the client went away
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._running = False
            self._last_batch_end = time.monotonic()

    def _receive_many(self, values: list[Any]) -> list[Any]:
        from paylink_tui.services import notifications

        self.schema.check()  # before anything is read or written
        return notifications.receive_many(self.ctx, values)


class SchemaChanged(Exception):
    """The database was upgraded by a newer paylink-tui while this one runs."""


class SchemaWatch:
    """Refuses to work on a database whose schema is no longer the one this build knows.

    A newer paylink-tui upgrades a SQLite file on its first start, and an upgrade may change
    what a column means (0002 stored money as cents): a `serve` of the older build, still
    running, would misread every amount. It checks the schema's version at most once every
    `every` seconds, a query of a few microseconds, and from the first mismatch answers 503
    (MIT retries later) until it is restarted with the new build."""

    def __init__(self, ctx: AppContext, every: float = 2.0) -> None:
        self.ctx = ctx
        self.every = every
        self._checked = float("-inf")
        self.changed_to: str | None = None

    def check(self) -> None:
        from paylink_tui.store.db import current_revision
        from paylink_tui.store.revision import HEAD_REVISION

        if self.changed_to is None and time.monotonic() - self._checked >= self.every:
            revision = current_revision(self.ctx.engine)
            self._checked = time.monotonic()
            if revision != HEAD_REVISION:
                self.changed_to = revision or "ninguna"
                log.error("the database schema is now %s, this build knows %s: restart "
                          "paylink-tui serve with the new version", self.changed_to, HEAD_REVISION)
        if self.changed_to is not None:
            raise SchemaChanged(self.changed_to)


SCHEMA_CHANGED = ("La base de datos fue actualizada por una versión más nueva de paylink-tui; "
                  "reinicie «paylink-tui serve» con esa versión. Notificación no guardada; "
                  "reintente.")
