"""`GET /api/v1/eventos`: the signed-in user's events as Server-Sent Events (sse-starlette).

- Each event is `id: <cursor>`, `event: <kind>`, `data: <the Event as JSON>`; the first
  message, `event: ready`, carries the cursor the stream starts from, so a client that
  reconnects with `Last-Event-ID` (EventSource does it by itself) misses nothing and
  repeats nothing. Without Last-Event-ID the stream starts at "now".
- The portfolio rule is in the query (`access.event_scope`): an agent's stream never reads
  another agent's events.
- Several `serve` processes or workers share the event table: each process runs one
  `EventHub`, which polls the table's highest id every POLL_INTERVAL seconds (one indexed
  `max(id)`) and wakes its streams when it moved; each stream then reads its own events.
  Why polling and not PostgreSQL LISTEN/NOTIFY: it works the same on SQLite; events.py
  already makes ids visible in id order, so "after the last id" is exact whoever wrote the
  row (the TUI of a one-agent install, `import` on the server, another worker); and NOTIFY
  would need a dedicated connection per process held outside the pool and a path for its
  loss, to save at most POLL_INTERVAL of latency on a toast.
- A comment line every PING seconds keeps proxies from closing an idle stream; every
  SESSION_CHECK seconds the session is looked at again (without sliding its idle expiry: a
  stream is no activity of the agent) and the stream ends with `event: session_ended` when
  it was closed, expired, or its user disabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from paylink_tui.backend.api_errors import InvalidRequest
from paylink_tui.backend.codec import to_json
from paylink_tui.backend.routes import MAX_BODY
from paylink_tui.domain.errors import AgentError
from paylink_tui.services.context import AppContext
from paylink_tui.web.api.auth import bearer_token, identify, no_body
from paylink_tui.web.api.body import read_body
from paylink_tui.web.api.responses import error_response, not_signed_in

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.web.api import ApiState

log = logging.getLogger("paylink_tui.web.api")

POLL_INTERVAL = 0.5
PING = 15.0
SESSION_CHECK = 30.0
READ_LIMIT = 200


class EventHub:
    """One per process: wakes the streams when the event table has something new."""

    def __init__(self, ctx: AppContext, interval: float = POLL_INTERVAL) -> None:
        self.ctx = ctx
        self.interval = interval
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._last: str | None = None
        self._failing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closing = False

    def changed(self) -> asyncio.Event:
        """An asyncio.Event set the next time the table moves (take it BEFORE reading)."""
        if self._changed is None:
            self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self._changed

    def end_streams(self) -> None:
        """The server is stopping (from any thread): every stream ends now, cleanly, rather
        than being cancelled when the graceful shutdown runs out (a traceback per agent
        connected). Under `serve` uvicorn's signal does the same through sse-starlette; a
        server stopped from its own process (the demo, tests) has no signal."""
        self.closing = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._moved)
            except RuntimeError:  # the loop stopped meanwhile: nothing waits on it
                pass

    def _moved(self) -> None:
        old, self._changed = self._changed, asyncio.Event()
        if old is not None:
            old.set()

    async def _run(self) -> None:
        from paylink_tui.services import events

        while True:
            try:
                cursor = await run_in_threadpool(events.current_cursor, self.ctx)
                if self._failing:
                    log.info("event log readable again")
                self._failing = False
                if cursor != self._last:
                    self._last = cursor
                    self._moved()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database may be down a while
                if not self._failing:
                    log.warning("event log unreadable (%s); streams wait", type(exc).__name__)
                self._failing = True
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


def _cursor_of(request: Request) -> str | None:
    raw = request.headers.get("last-event-id")
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidRequest("Last-Event-ID no válido: se esperaba el número del último "
                             "evento recibido.", field="Last-Event-ID")
    return raw


async def events_stream(request: Request) -> Response:
    state: ApiState = request.app.state.api
    identity = await identify(state, request)
    if identity is None:
        return not_signed_in()
    token = bearer_token(request)
    assert token is not None
    try:
        no_body(await read_body(request, MAX_BODY))
        cursor = _cursor_of(request)
    except AgentError as exc:
        return error_response(exc)
    ctx = state.ctx.for_principal(identity)
    return EventSourceResponse(_events(state, ctx, token, cursor), ping=PING,
                               headers={"Cache-Control": "no-store",
                                        "X-Accel-Buffering": "no"})


async def _events(state: ApiState, ctx: AppContext, token: str,
                  cursor: str | None) -> AsyncIterator[ServerSentEvent]:
    from paylink_tui.services import access, events, sessions

    where = access.event_scope(ctx)
    if cursor is None:
        cursor = await run_in_threadpool(events.current_cursor, ctx)
    yield ServerSentEvent(data="{}", event="ready", id=cursor)
    checked = time.monotonic()
    while not state.hub.closing:
        changed = state.hub.changed()
        found, cursor = await run_in_threadpool(
            lambda c=cursor: events.read(ctx, c, limit=READ_LIMIT, where=where))
        for event in found:
            yield ServerSentEvent(data=json.dumps(to_json(event), ensure_ascii=False),
                                  event=event.kind, id=event.id)
        if len(found) >= READ_LIMIT:
            continue  # more are waiting right now
        if time.monotonic() - checked >= state.session_check:
            checked = time.monotonic()
            alive = await run_in_threadpool(sessions.session_expiry, state.ctx, token)
            if alive is None:
                yield ServerSentEvent(data="{}", event="session_ended")
                return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=state.session_check)


